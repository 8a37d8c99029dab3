/**
 * Fixtures of the runner tests: a task program whose behaviour its name chooses (it is both the
 * command `node -e`-style tests start directly and the `dist/cli/bin.js` of a published fixture
 * package), the events it leaves, and small pipeline definitions built from names.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import type { PipelineDefinition, PipelineTask } from "../../src/pipelines/definitions.js";

/**
 * Called as `<program> task <name> --client C --run-id R`. Appends `start`/`end` lines to
 * `$TDF_TEST_DIR/events.log` and prints the code SHA it was given. By name:
 * `barrier_*` waits until every task in TDF_TEST_BARRIER has started (so it proves they overlap),
 * `flaky_*` fails its first attempt, `fail_*` always fails, `hang_*` waits until SIGTERM (and says so
 * in a marker file), `stubborn_*` ignores SIGTERM; anything else succeeds.
 */
export const taskProgram = `"use strict";
const fs = require("node:fs");
const path = require("node:path");
const [command, name] = process.argv.slice(2);
const dir = process.env.TDF_TEST_DIR;
const event = (what) => fs.appendFileSync(path.join(dir, "events.log"), what + " " + name + " " + process.pid + "\\n");
if (command !== "task" || !name || !dir) { console.error("fixture: usage: task <name> (with TDF_TEST_DIR)"); process.exit(2); }
event("start");
console.log("fixture task " + name + " TDF_CODE_SHA=" + (process.env.TDF_CODE_SHA || "") + " args=" + process.argv.slice(4).join(" "));
const done = (code) => { event(code === 0 ? "end" : "fail"); process.exit(code); };
if (name.startsWith("barrier_")) {
  fs.writeFileSync(path.join(dir, name + ".started"), "");
  const others = (process.env.TDF_TEST_BARRIER || "").split(",").filter(Boolean);
  const until = Date.now() + 20000;
  const poll = () => {
    if (others.every((o) => fs.existsSync(path.join(dir, o + ".started")))) return done(0);
    if (Date.now() > until) { console.error("barrier: " + others.join(", ") + " never ran alongside " + name); return done(4); }
    setTimeout(poll, 20);
  };
  poll();
} else if (name.startsWith("flaky_")) {
  const marker = path.join(dir, name + ".failed-once");
  if (fs.existsSync(marker)) done(0);
  else { fs.writeFileSync(marker, ""); console.error("flaky: failing on purpose the first time"); done(3); }
} else if (name.startsWith("fail_")) {
  console.error("failing for good: " + name);
  done(5);
} else if (name.startsWith("hang_") || name.startsWith("stubborn_")) {
  process.on("SIGTERM", () => {
    fs.writeFileSync(path.join(dir, name + ".sigterm"), String(process.pid));
    if (name.startsWith("hang_")) { event("stopped"); process.exit(143); }
  });
  fs.writeFileSync(path.join(dir, name + ".waiting"), "");
  setInterval(() => {}, 1 << 30);
} else {
  done(0);
}
`;

export interface FixtureEvent {
  what: "start" | "end" | "fail" | "stopped";
  task: string;
  pid: number;
}

export async function readEvents(dir: string): Promise<FixtureEvent[]> {
  const text = await fsp.readFile(path.join(dir, "events.log"), "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [what, task, pid] = line.split(" ");
      return { what: what as FixtureEvent["what"], task: task as string, pid: Number(pid) };
    });
}

/** The most tasks that were running at once, from the order of their start and end events. */
export function maxConcurrency(events: readonly FixtureEvent[]): number {
  let now = 0;
  let max = 0;
  for (const e of events) {
    now += e.what === "start" ? 1 : -1;
    max = Math.max(max, now);
  }
  return max;
}

export const exists = (file: string) =>
  fsp.access(file).then(
    () => true,
    () => false,
  );

/** Waits until `test` holds, checking every 25 ms; fails after `ms`. */
export async function until(test: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A test pipeline from `name: [upstream...]` pairs, with one policy for every task unless overridden. */
export function testPipeline(
  name: string,
  tasks: Record<string, readonly string[]>,
  policy: Partial<Omit<PipelineTask, "name" | "upstream">> = {},
  overrides: Record<string, Partial<PipelineTask>> = {},
): PipelineDefinition {
  return {
    name,
    description: `test pipeline ${name}`,
    params: [],
    tasks: Object.entries(tasks).map(([task, upstream]) => ({
      name: task,
      upstream,
      retries: 0,
      retryDelaySeconds: 0.05,
      timeoutSeconds: 60,
      ...policy,
      ...overrides[task],
    })),
  };
}
