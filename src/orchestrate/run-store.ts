/**
 * Where local runs are kept: `<TDF_HOME>/runs/<run_id>/run.json` (the record, replaced atomically on
 * every change, so a reader never sees half of it) and `logs/<task>.<attempt>.log` beside it.
 */
import { randomBytes } from "node:crypto";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { writeFileAtomic } from "../core/atomic-file.js";
import { OrchestrateError } from "./errors.js";
import type { RunRecord, RunState } from "./types.js";

export const runRecordFile = "run.json";

/** A run id: sortable by start time, and accepted by `tdf task --run-id`. */
export function newRunId(now: Date = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

export const runsDir = (home: string) => path.join(home, "runs");
export const runDir = (home: string, runId: string) => path.join(runsDir(home), runId);
export const attemptLog = (task: string, attempt: number) => `logs/${task}.${attempt}.log`;

/** Saves one run's record; saves are applied in call order, and `flush` waits for the last. */
export interface RunRecordWriter {
  readonly dir: string;
  save(record: RunRecord): void;
  flush(): Promise<void>;
}

export async function createRunRecordWriter(home: string, runId: string): Promise<RunRecordWriter> {
  const dir = runDir(home, runId);
  await fsp.mkdir(path.join(dir, "logs"), { recursive: true });
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  return {
    dir,
    save(record) {
      // Serialised now: the record keeps changing while the write waits its turn.
      const text = `${JSON.stringify(record, null, 2)}\n`;
      chain = chain.then(() =>
        writeFileAtomic(path.join(dir, runRecordFile), text).catch((error: unknown) => {
          failure ??= error;
        }),
      );
    },
    async flush() {
      await chain;
      if (failure !== undefined) {
        throw new OrchestrateError("RUN_RECORD_UNWRITABLE", `Could not write the run record in ${dir}.`, {
          cause: failure,
        });
      }
    },
  };
}

/**
 * The state to show: a record left "running" by a runner that no longer exists on this host was
 * interrupted (killed, or the machine stopped).
 */
export function shownState(record: RunRecord): RunState | "interrupted" {
  if (record.state !== "running" || record.runner.host !== os.hostname()) return record.state;
  try {
    process.kill(record.runner.pid, 0);
    return "running";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" ? "running" : "interrupted";
  }
}

async function readRecord(file: string): Promise<RunRecord | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    const record = JSON.parse(text) as RunRecord;
    if (record.formatVersion !== 1 || typeof record.runId !== "string" || !Array.isArray(record.tasks)) {
      throw new Error("not a run record");
    }
    return record;
  } catch (cause) {
    throw new OrchestrateError("RUN_RECORD_INVALID", `${file} is not a run record; remove its folder.`, { cause });
  }
}

/** Every recorded run, newest first. */
export async function listRuns(home: string): Promise<RunRecord[]> {
  let names: string[];
  try {
    names = await fsp.readdir(runsDir(home));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const records = await Promise.all(names.map((name) => readRecord(path.join(runsDir(home), name, runRecordFile))));
  return records
    .filter((r): r is RunRecord => r !== undefined)
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.runId.localeCompare(a.runId));
}

/** The run with this id, or the only one whose id starts with it. */
export async function findRun(home: string, id: string): Promise<RunRecord> {
  const runs = await listRuns(home);
  const exact = runs.find((r) => r.runId === id);
  if (exact) return exact;
  const matches = runs.filter((r) => r.runId.startsWith(id));
  if (matches.length === 1) return matches[0] as RunRecord;
  if (matches.length > 1) {
    throw new OrchestrateError(
      "RUN_NOT_FOUND",
      `"${id}" matches ${matches.length} runs (${matches
        .slice(0, 5)
        .map((r) => r.runId)
        .join(", ")}); give more of the id.`,
    );
  }
  const recent = runs.slice(0, 3).map((r) => r.runId);
  throw new OrchestrateError(
    "RUN_NOT_FOUND",
    `There is no run "${id}" in ${runsDir(home)}; ${recent.length === 0 ? "no run has been recorded yet: start one with `tdf run`" : `the newest are ${recent.join(", ")} (see \`tdf runs ls\`)`}.`,
  );
}
