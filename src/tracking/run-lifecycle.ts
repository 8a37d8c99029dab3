/**
 * A run's life from the caller's side: started, then ended FINISHED, FAILED (with the error) or
 * KILLED (on SIGTERM/SIGINT, as Airflow stops a task). A process killed outright (SIGKILL, OOM) ends
 * nothing, so the next attempt of the same task repairs it: runs of that task still RUNNING are its
 * dead predecessors (a task's attempts never overlap) and are ended FAILED.
 */
import type { RunInfo, Tracker } from "./types.js";

export interface WithRunOptions {
  /** Identifies the task across attempts, e.g. `training/acme/top_seller`. */
  taskKey: string;
  name?: string;
  tags?: Record<string, string>;
}

export const taskTag = "tdf.task";
const END_DEADLINE_MS = 10_000;
export const failureTag = "tdf.failure";

/** Ends the task's runs left RUNNING by a process that died; returns their ids. */
export async function repairInterruptedRuns(
  tracker: Tracker,
  experimentId: string,
  taskKey: string,
): Promise<string[]> {
  const repaired: string[] = [];
  for (const info of await tracker.searchRuns([experimentId], { status: "RUNNING", maxResults: 1000 })) {
    const run = await tracker.getRun(info.id);
    if (run?.tags[taskTag] !== taskKey) continue;
    await tracker.logBatch(info.id, {
      tags: { [failureTag]: "interrupted: the process running it stopped before ending it" },
    });
    await tracker.endRun(info.id, "FAILED");
    repaired.push(info.id);
  }
  return repaired;
}

export async function withRun<T>(
  tracker: Tracker,
  experimentId: string,
  options: WithRunOptions,
  work: (run: RunInfo) => Promise<T>,
): Promise<T> {
  await repairInterruptedRuns(tracker, experimentId, options.taskKey);
  const run = await tracker.startRun(experimentId, {
    name: options.name,
    tags: { ...options.tags, [taskTag]: options.taskKey },
  });
  // The run is ended exactly once; a signal wins over whatever the interrupted work then throws.
  let signalled: NodeJS.Signals | undefined;
  let ending: Promise<void> | undefined;
  const end = (status: "FINISHED" | "FAILED" | "KILLED") => {
    ending ??= Promise.race([
      tracker.endRun(run.id, status),
      // A tracker that does not answer must not keep a stopped task alive.
      new Promise<void>((resolve) => setTimeout(resolve, END_DEADLINE_MS).unref()),
    ]).catch(() => {});
    return ending;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    signalled = signal;
    void end("KILLED").then(() => {
      // Die of the same signal, as the process would have without this handler.
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    });
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  try {
    const result = await work(run);
    await end("FINISHED");
    return result;
  } catch (error) {
    if (!signalled) {
      const message = error instanceof Error ? error.message : String(error);
      await tracker.logBatch(run.id, { tags: { [failureTag]: message.slice(0, 4000) } }).catch(() => {});
    }
    await end("FAILED");
    throw error;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
}
