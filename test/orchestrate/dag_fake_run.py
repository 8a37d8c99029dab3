"""
Loads a rendered DAG file against fake_airflow (Airflow cannot be installed here) and prints, as
JSON, what it defines, with every templated field rendered by real Jinja2 the way Airflow renders
them (sandboxed, StrictUndefined, the DAG's user_defined_filters) for one trigger config and one
resolve_code XCom value. Each task's execute() is called too, to show what reaches private_environment.

usage: dag_fake_run.py DAG_FILE  (the scenario comes in FAKE_AIRFLOW_SCENARIO as JSON:
       {"params": {...}, "run_id": "...", "xcom": "<resolve_code's last output line>"})
"""

import importlib.util
import json
import os
import sys
from datetime import timedelta

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_airflow"))

from jinja2 import StrictUndefined  # noqa: E402
from jinja2.sandbox import SandboxedEnvironment  # noqa: E402

from airflow import _fake  # noqa: E402


class VariableAccessor:
    """Airflow's `var.value`: attribute access fails for a missing Variable, .get has a default."""

    def __getattr__(self, name):
        return _fake.Variable.get(name)

    def get(self, name, default=_fake.NOTSET):
        return _fake.Variable.get(name, default)


class TaskInstance:
    def __init__(self, xcom):
        self.xcom = xcom

    def xcom_pull(self, task_ids=None, key="return_value"):
        if task_ids != "resolve_code" or key != "return_value":
            raise KeyError(f"no XCom from {task_ids}/{key}")
        return self.xcom


def render(env, value, context):
    if isinstance(value, str):
        return env.from_string(value).render(**context)
    if isinstance(value, (list, tuple)):
        return [render(env, v, context) for v in value]
    if isinstance(value, dict):
        return {k: render(env, v, context) for k, v in value.items()}
    return value


def jsonable(value):
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is _fake.NOTSET:
        return None
    return value


def main(path):
    scenario = json.loads(os.environ["FAKE_AIRFLOW_SCENARIO"])
    spec = importlib.util.spec_from_file_location("dag_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parse_reads = list(_fake.VARIABLE_READS)
    (dag,) = _fake.DAGS
    env = SandboxedEnvironment(undefined=StrictUndefined)
    env.filters.update(dag.user_defined_filters)
    context = {
        "params": {**{n: p.default for n, p in dag.params.items()}, **scenario["params"]},
        "run_id": scenario["run_id"],
        "var": {"value": VariableAccessor()},
        "ti": TaskInstance(scenario["xcom"]),
    }
    tasks = []
    for task in dag.tasks:
        rendered = {field: render(env, getattr(task, field), context) for field in task.template_fields}
        task.execute(context)
        tasks.append(
            {
                "task_id": task.task_id,
                "operator": type(task).__name__,
                "upstream": sorted(task.upstream),
                "rendered": jsonable(rendered),
                "args": jsonable({k: v for k, v in task.args.items() if k not in task.template_fields}),
                "base": jsonable(task.base_args),
                "do_xcom_push": task.do_xcom_push,
                "private_environment": task.executed_with_private_environment,
            }
        )
    print(
        json.dumps(
            {
                "dag_id": dag.dag_id,
                "kwargs": jsonable({k: v for k, v in dag.kwargs.items() if k not in ("params", "user_defined_filters", "start_date", "default_args")}),
                "params": {n: {"default": jsonable(p.default), **p.schema} for n, p in dag.params.items()},
                "filters": sorted(dag.user_defined_filters),
                "variables_read_at_parse": parse_reads,
                "tasks": tasks,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
