/**
 * Running the task from the downloaded code: a child process on the manifest's entry, with the
 * bootstrap's standard streams, its signals passed on (Docker stop sends SIGTERM to the bootstrap,
 * PID 1), and its exit status passed back. The task learns which code it is through `TDF_CODE_SHA`.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import path from "node:path";

export interface TaskOutcome {
  /** The exit code to end with: the task's own, or 128 + the signal that ended it. */
  exitCode: number;
  signal: NodeJS.Signals | null;
}

const forwarded: NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];

/**
 * `entry` is the manifest's command (`["node", "dist/cli/bin.js"]`); its script is inside `codeDir`.
 * The task gets the bootstrap's environment plus `TDF_CODE_SHA=<sha>`.
 */
export function runTask(
  codeDir: string,
  entry: readonly string[],
  command: readonly string[],
  sha: string,
): Promise<TaskOutcome> {
  const [program, script, ...fixed] = entry;
  const executable = program === "node" ? process.execPath : (program as string);
  const args = script === undefined ? [...command] : [path.resolve(codeDir, script), ...fixed, ...command];
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { stdio: "inherit", env: { ...process.env, TDF_CODE_SHA: sha } });
    const pass = (signal: NodeJS.Signals) => child.kill(signal);
    for (const signal of forwarded) process.on(signal, pass);
    child.once("error", (error) => {
      for (const signal of forwarded) process.off(signal, pass);
      reject(error);
    });
    child.once("exit", (code, signal) => {
      for (const s of forwarded) process.off(s, pass);
      resolve({ exitCode: code ?? 128 + (signal ? constants.signals[signal] : 0), signal });
    });
  });
}
