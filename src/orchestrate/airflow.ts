/**
 * Airflow DAG files rendered from the pipeline definitions (`tdf airflow render`), so the DAGs in
 * `dags/` cannot drift from what `tdf run` runs. Each `tft_<pipeline>.py` holds only its tasks and
 * dependencies; what they share (operator, images, configuration, DAG settings) is rendered once into
 * `tft_common.py`, which they import. Every task is a DockerOperator on the base image, whose
 * entrypoint is the bootstrap:
 *
 *   resolve_code   `--code-version {{ params.code_version }} --resolve-only` on the newest base image;
 *                  its last output line, {"sha","depsHash","imageTag"}, goes to XCom
 *   every other    `--code-version <sha> -- task <name> --client <client> --run-id <run>` on the image
 *                  built for that SHA's dependencies (`deps-<hash>`), or the IMAGE_TAG Variable's
 *
 * Configuration comes from Airflow Variables through templates; secrets are read from Variables when
 * the task runs and passed as `private_environment`, which Airflow neither renders nor shows.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../core/atomic-file.js";
import { defaultBuckets } from "../core/config.js";
import {
  bootstrapArgs,
  checkPipeline,
  missingTasks,
  type PipelineDefinition,
  type PipelineTask,
  resolveOnlyArgs,
  taskCommand,
} from "../pipelines/definitions.js";
import { OrchestrateError } from "./errors.js";

/** The DAG id and file of a pipeline: `tft_<name>`, `tft_<name>.py`. */
export const dagId = (pipeline: PipelineDefinition) => `tft_${pipeline.name}`;
export const dagFileName = (pipeline: PipelineDefinition) => `${dagId(pipeline)}.py`;

/** Where the code cache is mounted in every task container (a named volume shared on the host). */
export const containerCacheDir = "/var/cache/tdf/code";

/** Non-secret configuration: the container variable and its Variable default (undefined: required). */
const configuration: ReadonlyArray<readonly [string, string | undefined]> = [
  ["GARAGE_ENDPOINT", undefined],
  ["GARAGE_REGION", "garage"],
  ["GARAGE_CODE_BUCKET", defaultBuckets.code],
  ["GARAGE_TRAINING_DATA_BUCKET", defaultBuckets.trainingData],
  ["GARAGE_MODEL_BUCKET", defaultBuckets.model],
  ["GARAGE_DATA_PIPELINE_BUCKET", defaultBuckets.dataPipeline],
  ["GARAGE_MLFLOW_BUCKET", defaultBuckets.mlflow],
  ["MLFLOW_TRACKING_URI", ""],
  ["MLFLOW_S3_ENDPOINT_URL", ""],
  ["MLFLOW_TRACKING_USERNAME", ""],
  ["DOCKER_REGISTRY_URL", undefined],
  ["IMAGE_PREFIX", "tft-demand-forecasting"],
  ["TRAINING_MAX_EPOCHS", "5"],
  ["TRAINING_BATCH_SIZE", "10"],
  ["TRAINING_LEARNING_RATE", "0.01"],
  ["TRAINING_BATCHES_PER_EPOCH", ""],
  ["TDF_DUCKDB_MEMORY_MIB", "1024"],
  ["TDF_DUCKDB_THREADS", ""],
  ["TDF_VERIFY_KEY", ""],
  ["TDF_ALLOW_DEPS_MISMATCH", "0"],
  ["TDF_CODE_CACHE_MAX_MIB", "2048"],
  ["TDF_LOG_LEVEL", "info"],
  ["ENABLE_METRICS", "false"],
];

/** Secrets the tasks need at run time: never in a template, never in the DAG file. */
export const secretVariables = [
  "GARAGE_AIRFLOW_ACCESS_KEY_ID",
  "GARAGE_AIRFLOW_SECRET_ACCESS_KEY",
  "MLFLOW_TRACKING_PASSWORD",
  "MLFLOW_TRACKING_TOKEN",
  "DATABASE_URL",
] as const;

/** A Python string literal (JSON's escapes are Python's for these characters). */
const py = (text: string) => JSON.stringify(text);
const pyList = (items: readonly string[]) => `[${items.join(", ")}]`;

/** The shared module the DAG files import, and the names they take from it. */
export const commonModule = "tft_common";
export const commonFileName = `${commonModule}.py`;
const commonImports = [
  "CLIENT",
  "CODE_SHA",
  "CODE_VERSION",
  "RESOLVE_IMAGE",
  "RUN_ID",
  "TASK_IMAGE",
  "Param",
  "tdf_dag",
  "tdf_task",
] as const;

/** Names a task's variable must not take in a DAG file: Python's keywords, `dag` and the imports. */
const reservedNames = new Set([
  ..."False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield dag".split(
    " ",
  ),
  ...commonImports,
]);

function variableTemplate(name: string, fallback: string | undefined): string {
  return fallback === undefined
    ? `{{ var.value.${name} }}`
    : `{{ var.value.get('${name}', '${fallback.replaceAll("'", "\\'")}') }}`;
}

/** Stands for a Python name (a template imported from the shared module) among literal arguments. */
const name = (python: string) => `\0${python}`;
const pyArgs = (args: readonly string[]) => pyList(args.map((a) => (a.startsWith("\0") ? a.slice(1) : py(a))));

/** The bootstrap's arguments, built by the same functions the local runner uses. */
function commandOf(task: PipelineTask): string {
  if (task.name === "resolve_code") return pyArgs(resolveOnlyArgs(name("CODE_VERSION")));
  return pyArgs(bootstrapArgs(name("CODE_SHA"), taskCommand(task.name, name("CLIENT"), name("RUN_ID"))));
}

function operatorOf(task: PipelineTask): string {
  const resolve = task.name === "resolve_code";
  return [
    `    ${task.name} = tdf_task(`,
    `        ${py(task.name)},`,
    `        image=${resolve ? "RESOLVE_IMAGE" : "TASK_IMAGE"},`,
    `        command=${commandOf(task)},`,
    `        retries=${task.retries},`,
    `        retry_delay_seconds=${task.retryDelaySeconds},`,
    `        timeout_seconds=${task.timeoutSeconds},`,
    ...(resolve ? ["        xcom=True,"] : []),
    "    )",
  ].join("\n");
}

function dependencyOf(task: PipelineTask): string | undefined {
  if (task.upstream.length === 0) return undefined;
  const upstream = task.upstream.length === 1 ? (task.upstream[0] as string) : pyList(task.upstream);
  return `    ${upstream} >> ${task.name}`;
}

/** The DAG file of one pipeline: its tasks and dependencies, on the shared code of `tft_common.py`. */
export function renderDag(pipeline: PipelineDefinition): string {
  checkPipeline(pipeline);
  for (const t of pipeline.tasks) {
    if (reservedNames.has(t.name)) throw new Error(`task name "${t.name}" cannot be a Python name in a DAG file`);
  }
  const params = pipeline.params.map((p) => {
    const args = [
      ...(p.default === undefined ? [] : [py(p.default)]),
      'type="string"',
      `pattern=${py(p.pattern)}`,
      `description=${py(p.description)}`,
    ];
    return `        ${py(p.name)}: Param(${args.join(", ")}),`;
  });
  const dependencies = pipeline.tasks.map(dependencyOf).filter((line): line is string => line !== undefined);

  return `"""
${dagId(pipeline)}: ${pipeline.description}

Rendered by \`tdf airflow render\` from src/pipelines/definitions.ts: change the definitions and render
again; never edit this file. Trigger it with {"client_name": "acme", "code_version": "latest"}; the
deployment guide (docs/deployment.md) lists the Variables it reads. The operator, images and
configuration every pipeline shares are in ${commonFileName} beside it.
"""

from __future__ import annotations

from ${commonModule} import ${commonImports.join(", ")}

with tdf_dag(
    ${py(dagId(pipeline))},
    description=${py(pipeline.description)},
    doc_md=__doc__,
    params={
${params.join("\n")}
    },
) as dag:
${pipeline.tasks.map(operatorOf).join("\n")}

${dependencies.join("\n")}
`;
}

/**
 * The module every DAG file imports (Airflow puts the DAG folder on sys.path): valid Python for
 * Airflow 2.7+ and 3 with apache-airflow-providers-docker. Airflow parses it too, as it parses every
 * file of the folder that names Airflow and DAGs, and finds no DAG in it.
 */
export function renderCommon(): string {
  const environment = configuration.map(
    ([name, fallback]) => `    ${py(name)}: ${py(variableTemplate(name, fallback))},`,
  );
  return `"""
${commonModule}: what the tft_* DAG files share: the task operator, its images and commands' templates,
the configuration from Airflow Variables, and the DAG's settings.

Rendered by \`tdf airflow render\` from src/orchestrate/airflow.ts: never edit this file.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta

from airflow.providers.docker.operators.docker import DockerOperator
from docker.types import Mount

try:  # Airflow 3
    from airflow.sdk import DAG, Param, Variable
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.models import Variable
    from airflow.models.param import Param

# The Docker host that runs the task containers: settings of the Airflow workers' environment.
DOCKER_URL = os.environ.get("DOCKER_HOST", "unix://var/run/docker.sock")
DOCKER_NETWORK = os.environ.get("TDF_DOCKER_NETWORK", "bridge")
# An Airflow connection (type docker) with the registry's login, when the host is not logged in itself.
DOCKER_CONN_ID = os.environ.get("TDF_DOCKER_CONN_ID") or None
# A named volume on that host, shared by every task container: the bootstrap's code cache, so a code
# version is downloaded once per host, not once per task.
CODE_CACHE_VOLUME = os.environ.get("TDF_CODE_CACHE_VOLUME", "tdf-code-cache")
CODE_CACHE_DIR = ${py(containerCacheDir)}

# What resolve_code pushed to XCom is its last output line, a JSON string: parsed with fromjson.
RESOLVED = "(ti.xcom_pull(task_ids='resolve_code') | fromjson)"
CODE_VERSION = "{{ params.code_version }}"
CODE_SHA = "{{ " + RESOLVED + "['sha'] }}"
CLIENT = "{{ params.client_name }}"
RUN_ID = "{{ run_id | tdf_run_id }}"
IMAGE = ${py(`${variableTemplate("DOCKER_REGISTRY_URL", undefined)}/${variableTemplate("IMAGE_PREFIX", "tft-demand-forecasting")}-base`)}
# resolve_code runs before the code's dependency hash is known, and needs only the bootstrap: the
# newest base image (or the one IMAGE_TAG pins) does.
RESOLVE_IMAGE = IMAGE + ":{{ var.value.get('IMAGE_TAG', '') or var.value.get('RESOLVE_IMAGE_TAG', 'latest') }}"
# Every later task runs on the image built for the resolved code's dependencies, so rolling the code
# back also rolls the image back; the IMAGE_TAG Variable overrides it (an image rollback).
TASK_IMAGE = IMAGE + ":{{ var.value.get('IMAGE_TAG', '') or " + RESOLVED + "['imageTag'] }}"

# Configuration from Airflow Variables, rendered into each task (nothing secret here).
ENVIRONMENT = {
${environment.join("\n")}
    "TDF_CODE_CACHE_DIR": CODE_CACHE_DIR,
}
# Secrets: read from Airflow Variables when the task runs, passed as private_environment.
SECRET_VARIABLES = (
${secretVariables.map((v) => `    ${py(v)},`).join("\n")}
)


def tdf_run_id(run_id):
    """Airflow's run id (manual__2026-01-05T10:00:00+00:00) as a tdf run id: letters, digits, . _ -"""
    return re.sub(r"[^A-Za-z0-9._-]", "-", run_id)[:128]


def tdf_dag(dag_id, description, doc_md, params):
    """A pipeline's DAG: run when triggered (no schedule), failures e-mailed to the ALERT_EMAIL Variable."""
    # Read here, each time a DAG file is parsed: this module stays imported between parses.
    alert_email = Variable.get("ALERT_EMAIL", None)
    return DAG(
        dag_id=dag_id,
        description=description,
        doc_md=doc_md,
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        default_args={
            "owner": "tdf",
            "email": [alert_email] if alert_email else [],
            "email_on_failure": bool(alert_email),
            "email_on_retry": False,
        },
        params=params,
        user_defined_filters={"fromjson": json.loads, "tdf_run_id": tdf_run_id},
        tags=["tft", "tdf"],
    )


class TdfTaskOperator(DockerOperator):
    """A DockerOperator whose secrets are read when the task runs, never when the DAG file is parsed."""

    def execute(self, context):
        self._private_environment = {
            name: value for name in SECRET_VARIABLES if (value := Variable.get(name, None))
        }
        return super().execute(context)


def tdf_task(task_id, image, command, retries, retry_delay_seconds, timeout_seconds, xcom=False):
    """One pipeline task: the base image, whose entrypoint (tdf-bootstrap) runs the command."""
    return TdfTaskOperator(
        task_id=task_id,
        image=image,
        command=command,
        environment=dict(ENVIRONMENT),
        docker_url=DOCKER_URL,
        docker_conn_id=DOCKER_CONN_ID,
        network_mode=DOCKER_NETWORK,
        mounts=[Mount(target=CODE_CACHE_DIR, source=CODE_CACHE_VOLUME, type="volume")],
        mount_tmp_dir=False,
        auto_remove="success",
        force_pull=False,
        do_xcom_push=xcom,
        retrieve_output=False,
        retries=retries,
        retry_delay=timedelta(seconds=retry_delay_seconds),
        retry_exponential_backoff=True,
        max_retry_delay=timedelta(hours=1),
        execution_timeout=timedelta(seconds=timeout_seconds),
    )
`;
}

export interface DagPlan {
  /** The files to write, by file name: the shared module first, then the DAG files. */
  files: Map<string, string>;
  /** Pipelines not rendered, with the tasks they lack; their DAG files must not exist. */
  refused: { pipeline: PipelineDefinition; missing: string[] }[];
}

/**
 * The DAG files for the pipelines whose tasks are all registered, and the module they import. A
 * pipeline with a missing task is refused: a DAG for it would schedule containers that fail at once.
 */
export function planDags(pipelines: readonly PipelineDefinition[], registered: Iterable<string>): DagPlan {
  const known = [...registered];
  const plan: DagPlan = { files: new Map(), refused: [] };
  for (const pipeline of pipelines) {
    const missing = missingTasks(pipeline, known);
    if (missing.length > 0) plan.refused.push({ pipeline, missing });
    else {
      // Written before any DAG file, so no DAG file is ever there without the module it imports.
      if (plan.files.size === 0) plan.files.set(commonFileName, renderCommon());
      plan.files.set(dagFileName(pipeline), renderDag(pipeline));
    }
  }
  return plan;
}

/** Writes the plan into `outDir`, removing the DAG files of refused pipelines; refuses at the end. */
export async function writeDags(outDir: string, plan: DagPlan): Promise<string[]> {
  await fsp.mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const [file, content] of plan.files) {
    await writeFileAtomic(path.join(outDir, file), content);
    written.push(path.join(outDir, file));
  }
  for (const { pipeline } of plan.refused) await fsp.rm(path.join(outDir, dagFileName(pipeline)), { force: true });
  if (plan.refused.length > 0) {
    const reasons = plan.refused.map(
      ({ pipeline, missing }) => `${dagFileName(pipeline)} (${pipeline.name} lacks ${missing.join(", ")})`,
    );
    throw new OrchestrateError(
      "DAG_RENDER_REFUSED",
      `Not rendered: ${reasons.join("; ")}: register those tasks in src/pipelines/tasks.ts and render again${written.length > 0 ? ` (written: ${written.join(", ")})` : ""}.`,
      { context: { written, refused: plan.refused.map((r) => r.pipeline.name) } },
    );
  }
  return written;
}
