/**
 * How runs read for a person: the lines of `tdf runs ls` and `tdf runs show`, the progress view's task
 * lines, and the sentence a failed or cancelled run ends with.
 */
import path from "node:path";
import { OrchestrateError } from "./errors.js";
import { runDir, shownState } from "./run-store.js";
import { logTail } from "./task-process.js";
import type { AttemptRecord, RunRecord, TaskRunRecord } from "./types.js";

export function formatSeconds(seconds: number | undefined): string {
  if (seconds === undefined) return "";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

const symbols: Record<TaskRunRecord["state"], string> = {
  pending: "○",
  running: "●",
  up_for_retry: "↻",
  success: "✓",
  failed: "✗",
  upstream_failed: "⊘",
  cancelled: "■",
};

function attemptOutcome(a: AttemptRecord, timeoutSeconds: number): string {
  if (a.state === "timed_out") return `timed out after ${formatSeconds(timeoutSeconds)}`;
  if (a.error !== undefined) return `could not start: ${a.error}`;
  if (a.signal) return `killed by ${a.signal}`;
  return a.exitCode === undefined ? "" : `exit ${a.exitCode}`;
}

/** One line per task: state, attempts, time so far (or taken), and how the last attempt ended. */
export function taskLines(record: RunRecord, now: number = Date.now()): string[] {
  const width = Math.max(...record.tasks.map((t) => t.name.length));
  return record.tasks.map((t) => {
    const last = t.attempts.at(-1);
    const elapsed =
      t.state === "running" && last ? (now - Date.parse(last.startedAt)) / 1000 : (t.durationSeconds ?? undefined);
    const notes: string[] = [];
    if (t.attempts.length > 1 || t.state === "up_for_retry")
      notes.push(`attempt ${t.attempts.length}/${t.maxAttempts}`);
    if (last && t.state !== "running" && t.state !== "success") notes.push(attemptOutcome(last, t.timeoutSeconds));
    if (t.state === "up_for_retry" && t.nextAttemptAt) {
      notes.push(`retry in ${formatSeconds(Math.max(0, (Date.parse(t.nextAttemptAt) - now) / 1000))}`);
    }
    return `  ${symbols[t.state]} ${t.name.padEnd(width)}  ${t.state.padEnd(15)} ${formatSeconds(elapsed).padStart(12)}  ${notes.filter(Boolean).join(", ")}`.trimEnd();
  });
}

export function runHeadline(record: RunRecord): string {
  return `run ${record.runId} · ${record.pipeline} · client ${record.params.client_name} · code ${record.code.sha.slice(0, 12)} (${record.params.code_version})`;
}

/** `tdf runs ls`: one line per run. */
export function runListLine(record: RunRecord): string {
  return [
    record.runId,
    record.pipeline.padEnd(19),
    record.params.client_name.padEnd(12),
    shownState(record).padEnd(11),
    record.startedAt,
    formatSeconds(record.durationSeconds).padStart(12),
    record.code.sha.slice(0, 12),
  ].join("  ");
}

/** `tdf runs show`: the run, its tasks, and every attempt with its log. */
export function runDetails(record: RunRecord, home: string): string {
  const dir = runDir(home, record.runId);
  const lines = [
    runHeadline(record),
    `state ${shownState(record)}${record.cancelledBy ? ` (by ${record.cancelledBy})` : ""}, started ${record.startedAt}${record.endedAt ? `, ended ${record.endedAt} (${formatSeconds(record.durationSeconds)})` : ""}, parallelism ${record.parallelism}`,
    `image tag ${record.code.imageTag} (dependency hash ${record.code.depsHash.slice(0, 12)})`,
    "",
    ...taskLines(record),
    "",
    "attempts:",
  ];
  for (const t of record.tasks) {
    for (const a of t.attempts) {
      const outcome = a.state === "running" ? "running" : `${a.state} (${attemptOutcome(a, t.timeoutSeconds)})`;
      lines.push(
        `  ${t.name} #${a.attempt}: ${outcome}, ${formatSeconds(a.durationSeconds) || "…"}  ${path.join(dir, a.log)}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

/** The error a run that did not succeed ends `tdf run` with: the failed task and the tail of its log. */
export async function runFailure(record: RunRecord, home: string): Promise<OrchestrateError> {
  const dir = runDir(home, record.runId);
  const record_ = `Its record: ${path.join(dir, "run.json")} (\`tdf runs show ${record.runId}\`).`;
  if (record.state === "cancelled") {
    const stopped = record.tasks.filter((t) => t.state === "cancelled").map((t) => t.name);
    return new OrchestrateError(
      "RUN_CANCELLED",
      `Run ${record.runId} of ${record.pipeline} was cancelled (${record.cancelledBy ?? "stopped"})${stopped.length ? `; stopped or never started: ${stopped.join(", ")}` : ""}. ${record_}`,
      { context: { runId: record.runId } },
    );
  }
  const failed = record.tasks.filter((t) => t.state === "failed");
  const skipped = record.tasks.filter((t) => t.state === "upstream_failed").map((t) => t.name);
  const parts = failed.map((t) => {
    const last = t.attempts.at(-1);
    const how = last ? attemptOutcome(last, t.timeoutSeconds) : "never ran";
    return `${t.name} failed after ${t.attempts.length} attempt${t.attempts.length === 1 ? "" : "s"} (${how})`;
  });
  const first = failed[0];
  const lastAttempt = first?.attempts.at(-1);
  let tail = "";
  if (lastAttempt) {
    const file = path.join(dir, lastAttempt.log);
    const lines = await logTail(file);
    tail = `\nThe last lines of ${file}:\n${lines.map((l) => `  ${l}`).join("\n")}`;
  }
  return new OrchestrateError(
    "RUN_FAILED",
    `Run ${record.runId} of ${record.pipeline} failed: ${parts.join("; ") || "not every task succeeded"}${skipped.length ? `; not run because of it: ${skipped.join(", ")}` : ""}. ${record_}${tail}`,
    { context: { runId: record.runId, failed: failed.map((t) => t.name) } },
  );
}
