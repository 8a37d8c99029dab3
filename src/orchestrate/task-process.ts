/**
 * One attempt of one task: a child process (the bootstrap, which runs the task) with its output in
 * the attempt's log file, a timeout, and a clean stop. The child leads its own process group, so a
 * stop reaches the bootstrap and the task under it, and a terminal's Ctrl-C reaches only the runner,
 * which then stops its tasks in order: SIGTERM to the group, SIGKILL after the grace period.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bootstrapArgs, type PipelineTask, taskCommand } from "../pipelines/definitions.js";

/** What to start for an attempt. */
export interface TaskProcess {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface TaskProcessContext {
  sha: string;
  client: string;
  runId: string;
  env: NodeJS.ProcessEnv;
}

/** Builds the process of a task; the default runs it through `tdf-bootstrap`. */
export type TaskProcessBuilder = (task: PipelineTask, context: TaskProcessContext) => TaskProcess;

export interface BootstrapProcessOptions {
  /** The code cache the bootstrap uses (`config.bootstrap.cacheDir`). */
  cacheDir: string;
  /** How to start the bootstrap; default `node <this package>/bin/tdf-bootstrap.cjs`. */
  bootstrap?: readonly string[];
}

// The same relative path from src/orchestrate and from the bundle's chunks in dist/cli.
const packagedBootstrap = fileURLToPath(new URL("../../bin/tdf-bootstrap.cjs", import.meta.url));

/**
 * `tdf-bootstrap --cache-dir <cache> --code-version <sha> -- task <name> --client <c> --run-id <id>`: the
 * same download-verify-unpack-run path a container takes in production.
 */
export function bootstrapProcess(options: BootstrapProcessOptions): TaskProcessBuilder {
  const [command, ...fixed] = options.bootstrap ?? [process.execPath, packagedBootstrap];
  return (task, context) => ({
    command: command as string,
    args: [
      ...fixed,
      "--cache-dir",
      options.cacheDir,
      ...bootstrapArgs(context.sha, taskCommand(task.name, context.client, context.runId)),
    ],
    env: context.env,
  });
}

export interface AttemptOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stopped: boolean;
  /** Set when the process could not be started. */
  error?: string;
}

export interface RunningAttempt {
  /** Stops the attempt (SIGTERM to its group, SIGKILL after the grace period); `done` then resolves. */
  stop(): void;
  done: Promise<AttemptOutcome>;
}

export interface AttemptOptions {
  logFile: string;
  timeoutMs: number;
  killGraceMs: number;
  /** First line of the log: what ran, for whoever reads it later. */
  header: string;
}

/** Signals a whole process group; a group that is already gone is not an error. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

export async function startAttempt(spec: TaskProcess, options: AttemptOptions): Promise<RunningAttempt> {
  await fsp.mkdir(path.dirname(options.logFile), { recursive: true });
  const fd = fs.openSync(options.logFile, "a");
  fs.writeSync(fd, `${options.header}\n`);
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ["ignore", fd, fd],
      detached: true,
    });
  } finally {
    fs.closeSync(fd);
  }
  let timedOut = false;
  let stopped = false;
  let killTimer: NodeJS.Timeout | undefined;
  const terminate = () => {
    if (child.pid === undefined || killTimer !== undefined) return;
    signalGroup(child.pid, "SIGTERM");
    killTimer = setTimeout(() => child.pid !== undefined && signalGroup(child.pid, "SIGKILL"), options.killGraceMs);
  };
  const timeout = setTimeout(() => {
    timedOut = true;
    terminate();
  }, options.timeoutMs);

  const done = new Promise<AttemptOutcome>((resolve) => {
    child.once("error", (error) => {
      clearTimeout(timeout);
      clearTimeout(killTimer);
      fs.appendFileSync(options.logFile, `tdf run: could not start ${spec.command}: ${error.message}\n`);
      resolve({ exitCode: null, signal: null, timedOut, stopped, error: error.message });
    });
    child.once("exit", (exitCode, signal) => {
      clearTimeout(timeout);
      clearTimeout(killTimer);
      // Nothing the attempt started may outlive it (a task's own children included).
      if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL");
      resolve({ exitCode, signal, timedOut, stopped });
    });
  });
  return {
    stop() {
      stopped = true;
      terminate();
    },
    done,
  };
}

/** The last `lines` lines of a log, for a failure message. */
export async function logTail(file: string, lines = 20): Promise<string[]> {
  const handle = await fsp.open(file, "r").catch(() => undefined);
  if (!handle) return [];
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer
      .toString("utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .slice(-lines)
      .map((line) => (line.length > 400 ? `${line.slice(0, 400)}…` : line));
  } finally {
    await handle.close();
  }
}
