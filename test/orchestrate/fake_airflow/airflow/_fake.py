"""The recording core of fake_airflow: DAGs, operators and dependencies as plain Python objects."""

import json
import os

NOTSET = object()
DAGS = []
_current = []
# Airflow Variables, from the test: {"NAME": "value"}.
VARIABLES = json.loads(os.environ.get("FAKE_AIRFLOW_VARIABLES", "{}"))
VARIABLE_READS = []


class Variable:
    @classmethod
    def get(cls, key, default=NOTSET, deserialize_json=False):
        VARIABLE_READS.append(key)
        if key in VARIABLES:
            return VARIABLES[key]
        if default is NOTSET:
            raise KeyError(f"Variable {key} does not exist")
        return default


class Param:
    def __init__(self, default=NOTSET, description=None, **schema):
        self.default = default
        self.description = description
        self.schema = schema


def _strict(name, given, allowed):
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise TypeError(f"{name} got unexpected keyword arguments {unknown}")


class DAG:
    _allowed = {
        "description", "doc_md", "schedule", "start_date", "end_date", "catchup", "default_args",
        "params", "user_defined_filters", "user_defined_macros", "tags", "max_active_runs",
        "max_active_tasks", "dagrun_timeout", "render_template_as_native_obj", "template_undefined",
    }

    def __init__(self, dag_id, **kwargs):
        _strict("DAG", kwargs, self._allowed)
        self.dag_id = dag_id
        self.kwargs = kwargs
        self.default_args = kwargs.get("default_args") or {}
        self.params = kwargs.get("params") or {}
        self.user_defined_filters = kwargs.get("user_defined_filters") or {}
        self.tasks = []
        if kwargs.get("schedule") is not None:
            missing = [n for n, p in self.params.items() if p.default is NOTSET]
            if missing:
                raise ValueError(f"DAG {dag_id} is scheduled but params {missing} have no default")
        DAGS.append(self)

    def __enter__(self):
        _current.append(self)
        return self

    def __exit__(self, *exc):
        _current.pop()
        return False


class BaseOperator:
    template_fields = ()
    _base_allowed = {
        "task_id", "owner", "email", "email_on_failure", "email_on_retry", "retries", "retry_delay",
        "retry_exponential_backoff", "max_retry_delay", "execution_timeout", "do_xcom_push", "pool",
        "queue", "priority_weight", "trigger_rule", "depends_on_past", "on_failure_callback",
    }

    def __init__(self, **kwargs):
        dag = _current[-1] if _current else None
        if dag is None:
            raise RuntimeError("operator created outside a DAG")
        merged = {**dag.default_args, **kwargs}
        _strict(type(self).__name__, merged, self._base_allowed | self._allowed)
        self.dag = dag
        self.task_id = merged["task_id"]
        self.base_args = {k: v for k, v in merged.items() if k in self._base_allowed}
        self.do_xcom_push = merged.get("do_xcom_push", True)
        self.upstream = []
        if any(t.task_id == self.task_id for t in dag.tasks):
            raise ValueError(f"duplicate task id {self.task_id}")
        dag.tasks.append(self)

    def _set(self, other, upstream_of_other):
        others = other if isinstance(other, (list, tuple)) else [other]
        for o in others:
            if upstream_of_other:
                o.upstream.append(self.task_id)
            else:
                self.upstream.append(o.task_id)
        return other

    def __rshift__(self, other):
        return self._set(other, True)

    def __lshift__(self, other):
        return self._set(other, False)

    def __rrshift__(self, other):
        # [a, b] >> self
        self._set(other, False)
        return self

    def __rlshift__(self, other):
        self._set(other, True)
        return self
