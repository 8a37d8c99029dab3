/**
 * The local runner's contract (DESIGN §5): run a pipeline definition with its params and get back the
 * run record, which is also what `<TDF_HOME>/runs/<run_id>/run.json` holds while and after it runs.
 */
import type { CodeResolution } from "../bootstrap/bootstrap.js";
import type { PipelineDefinition } from "../pipelines/definitions.js";

/** Airflow's names, so a run reads the same in both places. */
export type TaskState = "pending" | "running" | "up_for_retry" | "success" | "failed" | "upstream_failed" | "cancelled";
export type RunState = "running" | "success" | "failed" | "cancelled";
export type AttemptState = "running" | "success" | "failed" | "timed_out" | "cancelled";

export interface AttemptRecord {
  /** 1 for the first attempt. */
  attempt: number;
  state: AttemptState;
  startedAt: string;
  endedAt?: string;
  durationSeconds?: number;
  /** The bootstrap's exit code (the task's own once it ran); null when a signal ended it. */
  exitCode?: number | null;
  signal?: string | null;
  /** Why the attempt could not run at all (e.g. the bootstrap could not be started). */
  error?: string;
  /** The attempt's log, relative to the run's folder: `logs/<task>.<attempt>.log`. */
  log: string;
}

export interface TaskRunRecord {
  name: string;
  upstream: readonly string[];
  state: TaskState;
  maxAttempts: number;
  timeoutSeconds: number;
  attempts: AttemptRecord[];
  /** When the next attempt may start (state up_for_retry). */
  nextAttemptAt?: string;
  startedAt?: string;
  endedAt?: string;
  durationSeconds?: number;
}

export interface RunRecord {
  formatVersion: 1;
  runId: string;
  pipeline: string;
  /** The trigger config, as Airflow's DAGs take it. */
  params: { client_name: string; code_version: string };
  /** The code version, resolved once: every task of the run runs this SHA. */
  code: CodeResolution;
  state: RunState;
  parallelism: number;
  startedAt: string;
  endedAt?: string;
  durationSeconds?: number;
  /** Which process runs it: a record still "running" whose runner is gone was interrupted. */
  runner: { pid: number; host: string };
  /** What stopped a cancelled run (SIGINT, SIGTERM). */
  cancelledBy?: string;
  tasks: TaskRunRecord[];
}

export interface RunParams {
  client: string;
  /** `latest`, a SHA or a SHA prefix. */
  codeVersion: string;
}

export interface RunOptions {
  /** Aborting stops the running tasks (SIGTERM, then SIGKILL) and records the run as cancelled. */
  signal?: AbortSignal;
}

export interface Runner {
  /** Runs the pipeline to its end and returns the record (success, failed or cancelled); throws only before it starts. */
  run(pipeline: PipelineDefinition, params: RunParams, options?: RunOptions): Promise<RunRecord>;
}
