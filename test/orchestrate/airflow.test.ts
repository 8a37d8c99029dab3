/**
 * The Airflow DAGs: `dags/` is exactly what `tdf airflow render` produces today (the DAG files and the
 * tft_common module they import); every rendered file compiles and, read with Python's `ast`, has the
 * definitions' task ids, commands, retries, timeouts and dependencies; and loaded against fake_airflow
 * with the DAG folder on sys.path as Airflow puts it (Airflow itself cannot be installed here: no
 * PyPI) with its templates rendered by real Jinja2, it runs the right image and command per task,
 * passes secrets only through private_environment, and works on both Airflow 2 and 3 import paths.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { main } from "../../src/cli/main.js";
import {
  commonFileName,
  dagFileName,
  planDags,
  renderCommon,
  renderDag,
  writeDags,
} from "../../src/orchestrate/airflow.js";
import {
  bootstrapArgs,
  findPipeline,
  type PipelineDefinition,
  pipelines,
  taskCommand,
} from "../../src/pipelines/definitions.js";
import { tasks } from "../../src/pipelines/tasks.js";
import { rejectsWith } from "../helpers/assertions.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const dagsDir = fileURLToPath(new URL("../../dags", import.meta.url));

/** The first Python that can import `modules` (the system one has yaml; pyenv's has jinja2 too). */
function python(...modules: string[]): string | undefined {
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    const probe = spawnSync(candidate, ["-c", `import ${["ast", ...modules].join(", ")}`], { stdio: "ignore" });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}
const astPython = python();
const jinjaPython = python("jinja2");
const skip = (found: string | undefined, what: string) => {
  if (found || process.env.CI) return false;
  process.stderr.write(`\n!!! SKIPPING: no Python 3 with ${what} here\n\n`);
  return `no Python 3 with ${what}`;
};

const edges = (p: PipelineDefinition) => p.tasks.flatMap((t) => t.upstream.map((up) => `${up} -> ${t.name}`)).sort();

test("dags/ holds exactly what `tdf airflow render` writes today (run it after changing a definition)", async () => {
  const plan = planDags(
    pipelines,
    tasks.map((t) => t.name),
  );
  const present = (await fsp.readdir(dagsDir).catch(() => [] as string[])).filter((f) => f.endsWith(".py")).sort();
  assert.deepEqual(present, [...plan.files.keys()].sort(), "`tdf airflow render --out dags` makes dags/ current");
  for (const [file, content] of plan.files) {
    assert.equal(await fsp.readFile(path.join(dagsDir, file), "utf8"), content, `dags/${file} is stale`);
  }
});

describe("rendered DAG files", () => {
  let tmp: string;
  let common: string;
  const files = new Map<PipelineDefinition, string>();
  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-dags-"));
    common = path.join(tmp, commonFileName);
    await fsp.writeFile(common, renderCommon());
    for (const p of pipelines) {
      const file = path.join(tmp, dagFileName(p));
      await fsp.writeFile(file, renderDag(p));
      files.set(p, file);
    }
  });
  after(() => fsp.rm(tmp, { recursive: true, force: true }));

  test("compile, and their syntax trees hold the definitions' tasks and dependencies", {
    skip: skip(astPython, "ast"),
  }, () => {
    const all = [common, ...files.values()];
    execFileSync(astPython as string, ["-m", "py_compile", ...all]);
    const read = JSON.parse(
      execFileSync(astPython as string, [path.join(here, "dag_ast.py"), ...all], { encoding: "utf8" }),
    ) as Record<string, { tasks: Record<string, unknown>[]; edges: string[]; operator: Record<string, string> }>;
    const operator = read[common]?.operator ?? {};
    assert.equal(operator.auto_remove, "'success'");
    assert.equal(operator.mount_tmp_dir, "False");
    assert.equal(operator.do_xcom_push, "xcom");
    assert.match(operator.mounts ?? "", /Mount\(target=CODE_CACHE_DIR, source=CODE_CACHE_VOLUME, type='volume'\)/);
    assert.equal(operator.environment, "dict(ENVIRONMENT)");
    assert.equal(operator.private_environment, undefined, "secrets are never given at parse time");
    assert.deepEqual(read[common]?.tasks, [], "the shared module defines no task");
    for (const [pipeline, file] of files) {
      const dag = read[file];
      assert.ok(dag);
      assert.deepEqual(dag.edges, edges(pipeline), `${pipeline.name}: dependencies`);
      assert.deepEqual(
        dag.tasks.map((t) => [t.task_id, t.retries, t.retry_delay_seconds, t.timeout_seconds]),
        pipeline.tasks.map((t) => [t.name, t.retries, t.retryDelaySeconds, t.timeoutSeconds]),
      );
      for (const t of dag.tasks) {
        const resolve = t.task_id === "resolve_code";
        assert.deepEqual(t.image, { name: resolve ? "RESOLVE_IMAGE" : "TASK_IMAGE" });
        assert.equal(t.xcom, resolve ? true : undefined, "only resolve_code pushes to XCom");
      }
      assert.deepEqual(dag.operator, {}, "DAG files create tasks only through the shared tdf_task");
    }
  });

  describe("loaded against fake_airflow, templates rendered with Jinja2", { skip: skip(jinjaPython, "jinja2") }, () => {
    const sha = "5".repeat(40);
    const resolved = JSON.stringify({ sha, depsHash: "6".repeat(64), imageTag: "deps-666666666666" });
    const secrets = {
      GARAGE_AIRFLOW_ACCESS_KEY_ID: "GKruntime0123",
      GARAGE_AIRFLOW_SECRET_ACCESS_KEY: "runtime-secret-value-0123456789",
      DATABASE_URL: "postgres://tdf:db-password-42@db:5432/forecasts",
    };
    const variables = {
      GARAGE_ENDPOINT: "http://garage:3900",
      DOCKER_REGISTRY_URL: "registry.example.com:5000",
      ALERT_EMAIL: "ops@example.com",
      MLFLOW_TRACKING_URI: "http://mlflow:5000",
      ...secrets,
    };
    interface Loaded {
      dag_id: string;
      params: Record<string, { default: string | null; pattern: string }>;
      variables_read_at_parse: string[];
      tasks: {
        task_id: string;
        upstream: string[];
        rendered: { image: string; command: string[]; environment: Record<string, string> };
        args: Record<string, unknown>;
        base: Record<string, unknown>;
        do_xcom_push: boolean;
        private_environment: Record<string, string>;
      }[];
    }
    const load = (file: string, extra: Record<string, string> = {}, airflow = "3"): Loaded => {
      const out = execFileSync(jinjaPython as string, [path.join(here, "dag_fake_run.py"), file], {
        encoding: "utf8",
        env: {
          PATH: process.env.PATH,
          PYTHONPATH: tmp, // the DAG folder, where tft_common is imported from
          FAKE_AIRFLOW_VERSION: airflow,
          FAKE_AIRFLOW_VARIABLES: JSON.stringify({ ...variables, ...extra }),
          FAKE_AIRFLOW_SCENARIO: JSON.stringify({
            params: { client_name: "acme" },
            run_id: "manual__2026-01-05T10:00:00.123+00:00",
            xcom: resolved,
          }),
        },
      });
      return JSON.parse(out) as Loaded;
    };

    test("each task runs the bootstrap with the resolved SHA on the image of its dependencies", () => {
      for (const [pipeline, file] of files) {
        for (const airflow of ["2", "3"]) {
          const dag = load(file, {}, airflow);
          assert.equal(dag.dag_id, `tft_${pipeline.name}`);
          assert.equal(dag.params.code_version?.default, "latest");
          assert.equal(dag.params.client_name?.default, null, "client_name must be given");
          assert.deepEqual(
            dag.tasks.map((t) => t.task_id),
            pipeline.tasks.map((t) => t.name),
          );
          for (const t of dag.tasks) {
            const definition = pipeline.tasks.find((d) => d.name === t.task_id);
            assert.ok(definition);
            assert.deepEqual(t.upstream, [...definition.upstream].sort());
            assert.equal(t.base.retries, definition.retries);
            assert.equal(t.base.execution_timeout, definition.timeoutSeconds);
            assert.deepEqual(t.base.email, ["ops@example.com"]);
            assert.equal(t.base.email_on_failure, true);
            assert.equal(t.args.auto_remove, "success");
            if (t.task_id === "resolve_code") {
              assert.equal(t.rendered.image, "registry.example.com:5000/tft-demand-forecasting-base:latest");
              assert.deepEqual(t.rendered.command, ["--code-version", "latest", "--resolve-only"]);
              assert.equal(t.do_xcom_push, true);
            } else {
              assert.equal(t.rendered.image, "registry.example.com:5000/tft-demand-forecasting-base:deps-666666666666");
              const runId = t.rendered.command.at(-1) as string;
              assert.match(runId, /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "a run id `tdf task` accepts");
              assert.equal(runId, "manual__2026-01-05T10-00-00.123-00-00");
              assert.deepEqual(t.rendered.command, bootstrapArgs(sha, taskCommand(t.task_id, "acme", runId)));
              assert.equal(t.do_xcom_push, false);
            }
            assert.equal(t.rendered.environment.GARAGE_ENDPOINT, "http://garage:3900");
            assert.equal(t.rendered.environment.TDF_CODE_CACHE_DIR, "/var/cache/tdf/code");
            assert.deepEqual(t.private_environment, secrets, "secrets reach the container privately");
            const shown = JSON.stringify(t.rendered);
            for (const value of Object.values(secrets)) assert.ok(!shown.includes(value), "no secret is rendered");
          }
          assert.deepEqual(dag.variables_read_at_parse, ["ALERT_EMAIL"], "no secret is read at parse time");
        }
      }
    });

    test("the IMAGE_TAG Variable pins every task's image (an image rollback)", () => {
      const dag = load(files.get(findPipeline("training")) as string, { IMAGE_TAG: "deps-0123456789ab" });
      assert.deepEqual(
        new Set(dag.tasks.map((t) => t.rendered.image)),
        new Set(["registry.example.com:5000/tft-demand-forecasting-base:deps-0123456789ab"]),
      );
    });

    test("a missing required Variable fails the task's rendering instead of running with a blank", () => {
      const file = files.get(findPipeline("inference")) as string;
      const result = spawnSync(jinjaPython as string, [path.join(here, "dag_fake_run.py"), file], {
        encoding: "utf8",
        env: {
          PATH: process.env.PATH,
          PYTHONPATH: tmp,
          FAKE_AIRFLOW_VARIABLES: JSON.stringify({ GARAGE_ENDPOINT: "http://garage:3900" }),
          FAKE_AIRFLOW_SCENARIO: JSON.stringify({ params: { client_name: "acme" }, run_id: "r", xcom: resolved }),
        },
      });
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, /Variable DOCKER_REGISTRY_URL does not exist/);
    });
  });
});

test("render refuses pipelines with unregistered tasks and removes their stale DAG files", async (t) => {
  const out = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-render-"));
  t.after(() => fsp.rm(out, { recursive: true, force: true }));
  await fsp.writeFile(path.join(out, "tft_training.py"), "# a DAG from before\n");
  const registered = ["resolve_code", "train_top_seller"];
  await assert.rejects(
    writeDags(out, planDags([findPipeline("training")], registered)),
    rejectsWith("DAG_RENDER_REFUSED", /^Not rendered: tft_training\.py \(training lacks train_long_tail, promote\)/),
  );
  assert.deepEqual(await fsp.readdir(out), [], "no DAG for tasks that do not exist");

  const all = findPipeline("training").tasks.map((task) => task.name);
  const written = await writeDags(out, planDags([findPipeline("training")], all));
  assert.deepEqual(written, [path.join(out, commonFileName), path.join(out, "tft_training.py")]);

  // The command agrees with the plan for the tasks registered today.
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = "";
  stderr.on("data", (c) => {
    err += c;
  });
  const code = await main(
    ["airflow", "render", "--out", out],
    {},
    { stdout, stderr, stdin: new PassThrough(), cwd: out },
  );
  const refused = planDags(
    pipelines,
    tasks.map((task) => task.name),
  ).refused;
  assert.equal(code, refused.length === 0 ? 0 : 1, err);
  for (const { pipeline } of refused)
    assert.match(err, new RegExp(`${dagFileName(pipeline)} \\(${pipeline.name} lacks`));
});
