/**
 * The three pipelines, defined once: their tasks, dependencies, parameters, retries and timeouts, and
 * the command each task runs. The local runner (`tdf run`) and the Airflow renderer (`tdf airflow
 * render`) both read these; nothing about a pipeline's shape is written anywhere else.
 */
import { TdfError, type TdfErrorOptions } from "../core/errors.js";

export type PipelineErrorCode = "PIPELINE_UNKNOWN" | "PIPELINE_INVALID" | "PIPELINE_INCOMPLETE";

export class PipelineError extends TdfError {
  declare readonly code: PipelineErrorCode;

  constructor(code: PipelineErrorCode, message: string, options?: TdfErrorOptions) {
    super(code, message, options);
  }
}

/** How hard a task is retried and how long one attempt may take. */
export interface TaskPolicy {
  /** Attempts after the first one. */
  retries: number;
  /** Wait before the first retry; each further retry waits twice as long as the one before. */
  retryDelaySeconds: number;
  /** One attempt is stopped (SIGTERM, then SIGKILL) after this long. */
  timeoutSeconds: number;
}

export interface PipelineTask extends TaskPolicy {
  /** The task's name in `src/pipelines/tasks.ts`, and its Airflow task id. */
  name: string;
  /** Tasks that must have succeeded before this one starts. */
  upstream: readonly string[];
}

export interface PipelineParam {
  name: string;
  description: string;
  /** Absent: the parameter must be given. */
  default?: string;
  /** What a value must match (a JavaScript and Python regular expression). */
  pattern: string;
}

export interface PipelineDefinition {
  name: string;
  description: string;
  params: readonly PipelineParam[];
  /** In dependency order: every task comes after its upstream tasks. */
  tasks: readonly PipelineTask[];
}

/** The trigger config of every pipeline: `{"client_name": "acme", "code_version": "latest"}`. */
export const pipelineParams: readonly PipelineParam[] = [
  {
    name: "client_name",
    description: "The client whose data the run works on (lowercase letters, digits, - and _).",
    pattern: "^[a-z0-9][a-z0-9_-]{0,62}$",
  },
  {
    name: "code_version",
    description: "The code to run: latest, a git SHA, or a SHA prefix of at least 7 characters.",
    default: "latest",
    pattern: "^(latest|[0-9a-f]{7,40})$",
  },
];

const minutes = (n: number) => n * 60;
const hours = (n: number) => n * 3600;

// One policy per kind of work. Transforms read and write a client's tables: minutes, and a failure
// is usually the store or the database, worth a few retries. Training is hours of CPU: one retry,
// after a pause long enough for whatever failed to recover.
const policies = {
  resolve: { retries: 3, retryDelaySeconds: 10, timeoutSeconds: minutes(10) },
  transform: { retries: 2, retryDelaySeconds: 30, timeoutSeconds: minutes(45) },
  train: { retries: 1, retryDelaySeconds: 300, timeoutSeconds: hours(8) },
  forecast: { retries: 2, retryDelaySeconds: 60, timeoutSeconds: hours(2) },
  publish: { retries: 3, retryDelaySeconds: 30, timeoutSeconds: minutes(30) },
} as const satisfies Record<string, TaskPolicy>;

const task = (name: string, upstream: readonly string[], policy: TaskPolicy): PipelineTask => ({
  name,
  upstream,
  ...policy,
});

export const pipelines: readonly PipelineDefinition[] = [
  {
    name: "data_transformation",
    description: "Validate a client's raw sales, transform them in parallel, segment the SKUs and consolidate.",
    params: pipelineParams,
    tasks: [
      task("resolve_code", [], policies.resolve),
      task("validate", ["resolve_code"], policies.transform),
      task("transform_sales", ["validate"], policies.transform),
      task("transform_products", ["validate"], policies.transform),
      task("transform_prices", ["validate"], policies.transform),
      task("transform_events", ["validate"], policies.transform),
      task("segment", ["transform_sales"], policies.transform),
      task(
        "consolidate",
        ["segment", "transform_products", "transform_prices", "transform_events"],
        policies.transform,
      ),
    ],
  },
  {
    name: "training",
    description: "Train the top_seller and long_tail models in parallel, then promote the better ones.",
    params: pipelineParams,
    tasks: [
      task("resolve_code", [], policies.resolve),
      task("train_top_seller", ["resolve_code"], policies.train),
      task("train_long_tail", ["resolve_code"], policies.train),
      task("promote", ["train_top_seller", "train_long_tail"], policies.publish),
    ],
  },
  {
    name: "inference",
    description: "Forecast with each model type's champion in parallel, then export the forecasts.",
    params: pipelineParams,
    tasks: [
      task("resolve_code", [], policies.resolve),
      task("forecast_top_seller", ["resolve_code"], policies.forecast),
      task("forecast_long_tail", ["resolve_code"], policies.forecast),
      task("export", ["forecast_top_seller", "forecast_long_tail"], policies.publish),
    ],
  },
];

/** The pipeline of that name (dashes accepted for underscores). */
export function findPipeline(name: string): PipelineDefinition {
  const wanted = name.replaceAll("-", "_");
  const found = pipelines.find((p) => p.name === wanted);
  if (!found) {
    throw new PipelineError(
      "PIPELINE_UNKNOWN",
      `There is no pipeline "${name}"; the pipelines are ${pipelines.map((p) => p.name).join(", ")}.`,
    );
  }
  return found;
}

/**
 * Checks a definition's shape: task names unique and snake_case, upstream tasks defined earlier (so the
 * order given is a dependency order and there can be no cycle), retries and timeouts sensible.
 */
export function checkPipeline(pipeline: PipelineDefinition): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const t of pipeline.tasks) {
    if (!/^[a-z][a-z0-9_]*$/.test(t.name)) problems.push(`task name "${t.name}" is not snake_case`);
    if (seen.has(t.name)) problems.push(`task "${t.name}" is defined twice`);
    for (const up of t.upstream) {
      if (!pipeline.tasks.some((other) => other.name === up)) problems.push(`"${t.name}" depends on unknown "${up}"`);
      else if (!seen.has(up)) problems.push(`"${t.name}" comes before its upstream task "${up}"`);
    }
    if (!Number.isInteger(t.retries) || t.retries < 0) problems.push(`"${t.name}" has ${t.retries} retries`);
    if (!(t.retryDelaySeconds >= 0)) problems.push(`"${t.name}" has a retry delay of ${t.retryDelaySeconds} s`);
    if (!(t.timeoutSeconds > 0)) problems.push(`"${t.name}" has a timeout of ${t.timeoutSeconds} s`);
    seen.add(t.name);
  }
  if (pipeline.tasks.length === 0) problems.push("it has no tasks");
  if (problems.length > 0) {
    throw new PipelineError("PIPELINE_INVALID", `Pipeline "${pipeline.name}" is invalid: ${problems.join("; ")}.`);
  }
}

/** The tasks that depend on `name`, directly or through others. */
export function downstreamOf(pipeline: PipelineDefinition, name: string): string[] {
  const found = new Set<string>();
  // Definitions are in dependency order, so one pass sees every upstream before its dependants.
  for (const t of pipeline.tasks) {
    if (t.upstream.some((up) => up === name || found.has(up))) found.add(t.name);
  }
  return [...found];
}

/** The tasks of a pipeline that `src/pipelines/tasks.ts` does not register (yet). */
export function missingTasks(pipeline: PipelineDefinition, registered: Iterable<string>): string[] {
  const known = new Set(registered);
  return pipeline.tasks.map((t) => t.name).filter((name) => !known.has(name));
}

/**
 * Refuses a pipeline whose tasks are not all registered: running or rendering it would schedule work
 * that cannot start.
 */
export function assertRunnable(pipeline: PipelineDefinition, registered: Iterable<string>): void {
  const missing = missingTasks(pipeline, registered);
  if (missing.length === 0) return;
  throw new PipelineError(
    "PIPELINE_INCOMPLETE",
    `Pipeline ${pipeline.name} cannot run yet: its task${missing.length === 1 ? "" : "s"} ${missing.join(", ")} ` +
      `${missing.length === 1 ? "is" : "are"} not registered in src/pipelines/tasks.ts.`,
    { context: { pipeline: pipeline.name, missing } },
  );
}

/** `tdf task <name> --client <client> --run-id <runId>`, the command of every pipeline task. */
export function taskCommand(name: string, client: string, runId: string): string[] {
  return ["task", name, "--client", client, "--run-id", runId];
}

/** The bootstrap's arguments that run a task from the code version `codeVersion`. */
export function bootstrapArgs(codeVersion: string, command: readonly string[]): string[] {
  return ["--code-version", codeVersion, "--", ...command];
}

/** The bootstrap's arguments of Airflow's first task: resolve only, print `{"sha","depsHash","imageTag"}`. */
export function resolveOnlyArgs(codeVersion: string): string[] {
  return ["--code-version", codeVersion, "--resolve-only"];
}
