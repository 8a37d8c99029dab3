/**
 * The local runner: a pipeline on one machine, each task a child process through `tdf-bootstrap` (the
 * production path: download, verify, unpack, run). The code version is resolved once, before anything
 * starts, and every task of the run gets that SHA. Tasks start as soon as their upstream tasks have
 * succeeded, at most `parallelism` at a time; a failed attempt is retried after a delay that doubles
 * each time; an attempt that outlives its timeout is stopped. A task that fails for good marks
 * everything downstream of it upstream_failed while independent branches go on. The record is saved
 * on every change.
 */
import os from "node:os";
import path from "node:path";
import type { CodeResolution } from "../bootstrap/bootstrap.js";
import { UsageError } from "../core/errors.js";
import { isValidClientName } from "../core/names.js";
import {
  assertRunnable,
  checkPipeline,
  downstreamOf,
  type PipelineDefinition,
  type PipelineTask,
} from "../pipelines/definitions.js";
import { attemptLog, createRunRecordWriter, newRunId } from "./run-store.js";
import { type AttemptOutcome, type RunningAttempt, startAttempt, type TaskProcessBuilder } from "./task-process.js";
import type { AttemptRecord, Runner, RunOptions, RunParams, RunRecord, TaskRunRecord } from "./types.js";

export interface LocalRunnerOptions {
  /** `<home>/runs/<run_id>/` holds the records and logs (`config.home`). */
  home: string;
  /** Tasks running at once (`config.parallelism`). */
  parallelism: number;
  /** Names of the tasks that exist (`src/pipelines/tasks.ts`): a pipeline using others is refused. */
  knownTasks: Iterable<string>;
  /** Turns the code version into the run's SHA (the configured store, through codepkg's resolve). */
  resolve: (codeVersion: string) => Promise<CodeResolution>;
  /** How each task is started: `bootstrapProcess(...)` in production. */
  taskProcess: TaskProcessBuilder;
  /** The tasks' environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Between SIGTERM and SIGKILL when a task is stopped (default 10 s). */
  killGraceMs?: number;
  /** Called after every change of the record (the progress view). */
  onChange?: (record: RunRecord) => void;
  /** A fixed run id (default: a new one). */
  runId?: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const secondsBetween = (from: string, to: string) => Number(((Date.parse(to) - Date.parse(from)) / 1000).toFixed(3));
/** Retry delays double, up to an hour. */
const retryDelayMs = (task: PipelineTask, failedAttempts: number) =>
  Math.min(task.retryDelaySeconds * 1000 * 2 ** (failedAttempts - 1), 3_600_000);

export function createLocalRunner(options: LocalRunnerOptions): Runner {
  const killGraceMs = options.killGraceMs ?? 10_000;
  return {
    async run(pipeline: PipelineDefinition, params: RunParams, runOptions: RunOptions = {}): Promise<RunRecord> {
      checkPipeline(pipeline);
      assertRunnable(pipeline, options.knownTasks);
      if (!isValidClientName(params.client)) {
        throw new UsageError(
          `"${params.client}" is not a client name: use lowercase letters, digits, "-" and "_" (at most 63).`,
        );
      }
      if (!Number.isInteger(options.parallelism) || options.parallelism < 1) {
        throw new UsageError(`The parallelism must be a whole number ≥ 1, got ${options.parallelism}.`);
      }
      const code = await options.resolve(params.codeVersion);
      const runId = options.runId ?? newRunId();
      const writer = await createRunRecordWriter(options.home, runId);
      const record: RunRecord = {
        formatVersion: 1,
        runId,
        pipeline: pipeline.name,
        params: { client_name: params.client, code_version: params.codeVersion },
        code,
        state: "running",
        parallelism: options.parallelism,
        startedAt: new Date().toISOString(),
        runner: { pid: process.pid, host: os.hostname() },
        tasks: pipeline.tasks.map((t) => ({
          name: t.name,
          upstream: t.upstream,
          state: "pending",
          maxAttempts: t.retries + 1,
          timeoutSeconds: t.timeoutSeconds,
          attempts: [],
        })),
      };
      const changed = () => {
        writer.save(record);
        options.onChange?.(record);
      };
      changed();

      const taskRecord = (name: string) => record.tasks.find((t) => t.name === name) as TaskRunRecord;
      const running = new Map<string, RunningAttempt>();
      const retryTimers = new Map<string, NodeJS.Timeout>();
      let cancelledBy: string | undefined;
      let finish: () => void = () => {};
      const finished = new Promise<void>((resolve) => {
        finish = resolve;
      });

      const endTask = (t: TaskRunRecord, state: TaskRunRecord["state"]) => {
        t.state = state;
        t.nextAttemptAt = undefined;
        if (t.startedAt !== undefined) {
          t.endedAt = new Date().toISOString();
          t.durationSeconds = secondsBetween(t.startedAt, t.endedAt);
        }
      };

      const startTask = async (task: PipelineTask) => {
        const t = taskRecord(task.name);
        const attempt: AttemptRecord = {
          attempt: t.attempts.length + 1,
          state: "running",
          startedAt: new Date().toISOString(),
          log: attemptLog(task.name, t.attempts.length + 1),
        };
        t.attempts.push(attempt);
        t.state = "running";
        t.nextAttemptAt = undefined;
        t.startedAt ??= attempt.startedAt;
        const spec = options.taskProcess(task, {
          sha: code.sha,
          client: params.client,
          runId,
          env: options.env ?? process.env,
        });
        let handle: RunningAttempt;
        try {
          handle = await startAttempt(spec, {
            logFile: path.join(writer.dir, attempt.log),
            timeoutMs: task.timeoutSeconds * 1000,
            killGraceMs,
            header: `# tdf run ${runId}: ${task.name}, attempt ${attempt.attempt} of ${t.maxAttempts}, code ${code.sha}, started ${attempt.startedAt}\n# ${[spec.command, ...spec.args].join(" ")}`,
          });
        } catch (error) {
          // The log could not be opened: the attempt fails like one whose process could not start.
          const failed: AttemptOutcome = { exitCode: null, signal: null, timedOut: false, stopped: false };
          handle = { stop: () => {}, done: Promise.resolve({ ...failed, error: (error as Error).message }) };
        }
        running.set(task.name, handle);
        // A cancel that came while it was starting.
        if (cancelledBy !== undefined) handle.stop();
        changed();
        const outcome = await handle.done;
        running.delete(task.name);
        attemptEnded(task, t, attempt, outcome);
        pump();
      };

      const attemptEnded = (task: PipelineTask, t: TaskRunRecord, attempt: AttemptRecord, outcome: AttemptOutcome) => {
        attempt.endedAt = new Date().toISOString();
        attempt.durationSeconds = secondsBetween(attempt.startedAt, attempt.endedAt);
        attempt.exitCode = outcome.exitCode;
        attempt.signal = outcome.signal;
        if (outcome.error !== undefined) attempt.error = outcome.error;
        const succeeded = outcome.exitCode === 0 && !outcome.timedOut && !outcome.stopped;
        attempt.state = succeeded
          ? "success"
          : outcome.timedOut
            ? "timed_out"
            : outcome.stopped
              ? "cancelled"
              : "failed";
        if (succeeded) {
          endTask(t, "success");
        } else if (cancelledBy !== undefined) {
          endTask(t, "cancelled");
        } else if (t.attempts.length < t.maxAttempts) {
          const wait = retryDelayMs(task, t.attempts.length);
          t.state = "up_for_retry";
          t.nextAttemptAt = iso(Date.now() + wait);
          retryTimers.set(
            task.name,
            setTimeout(() => {
              retryTimers.delete(task.name);
              t.state = "pending";
              pump();
            }, wait),
          );
        } else {
          endTask(t, "failed");
          for (const name of downstreamOf(pipeline, task.name)) {
            const d = taskRecord(name);
            if (d.state === "pending") endTask(d, "upstream_failed");
          }
        }
        changed();
      };

      const startable = (task: PipelineTask) =>
        taskRecord(task.name).state === "pending" && task.upstream.every((up) => taskRecord(up).state === "success");

      function pump(): void {
        if (cancelledBy === undefined) {
          for (const task of pipeline.tasks) {
            if (running.size >= options.parallelism) break;
            if (!startable(task) || running.has(task.name)) continue;
            // Reserved before the first await, so the next pass does not start it twice.
            running.set(task.name, { stop: () => {}, done: new Promise(() => {}) });
            void startTask(task);
          }
        }
        if (running.size === 0 && retryTimers.size === 0 && !pipeline.tasks.some(startable)) finish();
      }

      const cancel = () => {
        cancelledBy ??= String(runOptions.signal?.reason ?? "cancelled");
        for (const timer of retryTimers.values()) clearTimeout(timer);
        retryTimers.clear();
        for (const handle of running.values()) handle.stop();
        for (const t of record.tasks) {
          if (t.state === "pending" || t.state === "up_for_retry") endTask(t, "cancelled");
        }
        changed();
        pump();
      };
      if (runOptions.signal?.aborted) cancel();
      else runOptions.signal?.addEventListener("abort", cancel, { once: true });

      pump();
      await finished;
      runOptions.signal?.removeEventListener("abort", cancel);

      record.state =
        cancelledBy !== undefined
          ? "cancelled"
          : record.tasks.every((t) => t.state === "success")
            ? "success"
            : "failed";
      if (cancelledBy !== undefined) record.cancelledBy = cancelledBy;
      record.endedAt = new Date().toISOString();
      record.durationSeconds = secondsBetween(record.startedAt, record.endedAt);
      changed();
      await writer.flush();
      return record;
    },
  };
}
