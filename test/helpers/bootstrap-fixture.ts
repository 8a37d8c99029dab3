/**
 * Running the real `tdf-bootstrap` (src/bootstrap/bin.ts through tsx) as a child process, and the
 * fixture task it runs: a small `dist/cli/bin.js` that says it ran, exits with the code it is told,
 * and on SIGTERM leaves a marker file, so a test can see what reached the task.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fsp from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const entry = fileURLToPath(new URL("../../src/bootstrap/bin.ts", import.meta.url));
const tsx = import.meta.resolve("tsx");

/**
 * The fixture's `dist/cli/bin.js` (CommonJS: the fixture's package.json has no "type"). Arguments:
 * `exit:N` exits with N, `wait` waits until signalled, `marker:FILE` (or TDF_TEST_MARKER) is written
 * on SIGTERM, `deps` prints where a dependency resolves from (proving the node_modules link).
 */
export const taskScript = `"use strict";
const fs = require("node:fs");
const args = process.argv.slice(2);
let code = 0;
let wait = false;
let marker = process.env.TDF_TEST_MARKER;
for (const arg of args) {
  if (arg.startsWith("exit:")) code = Number(arg.slice(5));
  else if (arg === "wait") wait = true;
  else if (arg.startsWith("marker:")) marker = arg.slice(7);
}
process.on("SIGTERM", () => {
  if (marker) fs.writeFileSync(marker, "SIGTERM " + process.pid + "\\n");
  process.exit(143);
});
process.stdout.write("task ran: " + args.join(" ") + "\\n");
if (args.includes("deps")) process.stdout.write("deps: " + require.resolve("commander") + "\\n");
if (wait) setInterval(() => {}, 1 << 30);
else process.exitCode = code;
`;

export type LogLine = Record<string, unknown> & { phase?: string; level?: number; msg?: string };

export interface BootstrapRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The stderr lines that are JSON log lines, parsed. */
  logs: LogLine[];
  /** Stderr lines that are not JSON (the final error sentence, or noise). */
  otherLines: string[];
  ms: number;
}

export interface RunningBootstrap {
  child: ChildProcess;
  pid: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves once `test` is true of the output so far (checked on every chunk); rejects on exit or timeout. */
  waitFor(test: (out: { stdout: string; stderr: string }) => boolean, timeoutMs?: number): Promise<void>;
  done: Promise<BootstrapRun>;
}

export function parseStderr(stderr: string): { logs: LogLine[]; otherLines: string[] } {
  const logs: LogLine[] = [];
  const otherLines: string[] = [];
  for (const line of stderr.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const parsed = JSON.parse(line) as unknown;
      if (typeof parsed === "object" && parsed !== null) {
        logs.push(parsed as LogLine);
        continue;
      }
    } catch {
      // not a log line
    }
    otherLines.push(line);
  }
  return { logs, otherLines };
}

/** Starts `tdf-bootstrap <args>` with exactly `env` (nothing inherited). */
export function spawnBootstrap(args: readonly string[], env: Record<string, string>, cwd?: string): RunningBootstrap {
  const started = performance.now();
  const child = spawn(process.execPath, ["--import", tsx, entry, ...args], {
    env,
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters = new Set<() => void>();
  const check = () => {
    for (const waiter of [...waiters]) waiter();
  };
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    check();
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    check();
  });
  const done = new Promise<BootstrapRun>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      check();
      resolve({ code, signal, stdout, stderr, ...parseStderr(stderr), ms: Math.round(performance.now() - started) });
    });
  });
  let exited = false;
  void done.then(
    () => {
      exited = true;
      check();
    },
    () => {},
  );
  if (child.pid === undefined) throw new Error("tdf-bootstrap did not start");
  return {
    child,
    pid: child.pid,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    waitFor(test, timeoutMs = 20_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for output; stderr so far:\n${stderr}`));
        }, timeoutMs);
        const waiter = () => {
          if (test({ stdout, stderr })) {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve();
          } else if (exited) {
            clearTimeout(timer);
            waiters.delete(waiter);
            reject(new Error(`tdf-bootstrap exited before the awaited output; stderr:\n${stderr}`));
          }
        };
        waiters.add(waiter);
        waiter();
      });
    },
    done,
  };
}

export function runBootstrap(args: readonly string[], env: Record<string, string>): Promise<BootstrapRun> {
  return spawnBootstrap(args, env).done;
}

/** Every log line of a phase. */
export const phaseLines = (run: BootstrapRun, phase: string) => run.logs.filter((l) => l.phase === phase);

/** What a crashed or failed fetch of `sha` could leave behind: partial downloads, staging folders, its lock. */
export async function leftovers(cacheDir: string, sha: string): Promise<string[]> {
  const found: string[] = [];
  for (const sub of [".downloads", ".staging"]) {
    for (const name of await fsp.readdir(path.join(cacheDir, sub)).catch(() => [] as string[])) {
      if (name.startsWith(`${sha}-`) || name.includes(`-${sha}-`)) found.push(`${sub}/${name}`);
    }
  }
  const lock = path.join(cacheDir, ".locks", sha);
  if (
    await fsp.stat(lock).then(
      () => true,
      () => false,
    )
  )
    found.push(`.locks/${sha}`);
  return found;
}

async function countFiles(dir: string, skip: ReadonlySet<string>): Promise<number> {
  let count = 0;
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    if (entry.isDirectory()) count += await countFiles(path.join(dir, entry.name), new Set());
    else if (entry.isFile()) count += 1;
  }
  return count;
}

/**
 * The state of `<cacheDir>/<sha>/`: absent, complete (its manifest, size, dependency link and every
 * packed file are there), or incomplete (which must never happen: it only ever appears by a rename).
 */
export async function versionState(
  cacheDir: string,
  sha: string,
  fileCount: number,
): Promise<"absent" | "complete" | `incomplete: ${string}`> {
  const dir = path.join(cacheDir, sha);
  const exists = await fsp.stat(dir).then(
    () => true,
    () => false,
  );
  if (!exists) return "absent";
  const problems: string[] = [];
  for (const file of [".tdf-cache/manifest.json", ".tdf-cache/size"]) {
    await fsp.access(path.join(dir, file)).catch(() => problems.push(`no ${file}`));
  }
  await fsp.lstat(path.join(dir, "node_modules")).then(
    (stats) => {
      if (!stats.isSymbolicLink()) problems.push("node_modules is not a link");
    },
    () => problems.push("no node_modules link"),
  );
  const files = await countFiles(dir, new Set([".tdf-cache", "node_modules"]));
  if (files !== fileCount) problems.push(`${files} of ${fileCount} files`);
  return problems.length === 0 ? "complete" : `incomplete: ${problems.join(", ")}`;
}
