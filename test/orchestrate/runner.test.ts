/**
 * The local runner's scheduling with real child processes (the fixture task program, started
 * directly rather than through the bootstrap, which e2e.test.ts covers): dependency order, the
 * parallelism limit and real overlap, retries, final failures and upstream_failed, timeouts (SIGTERM,
 * then SIGKILL), cancellation, the persisted record, and `tdf runs ls|show`.
 */
import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import { main } from "../../src/cli/main.js";
import { createLocalRunner, type LocalRunnerOptions } from "../../src/orchestrate/local-runner.js";
import { runFailure } from "../../src/orchestrate/report.js";
import { runDir } from "../../src/orchestrate/run-store.js";
import type { RunRecord } from "../../src/orchestrate/types.js";
import type { PipelineDefinition } from "../../src/pipelines/definitions.js";
import { rejectsWith } from "../helpers/assertions.js";
import { exists, maxConcurrency, readEvents, taskProgram, testPipeline, until } from "./fixture.js";

const sha = "c0de".repeat(10);
const resolution = { sha, depsHash: "d".repeat(64), imageTag: "deps-dddddddddddd" };
let tmp: string;
let program: string;
let runs = 0;

before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-runner-test-"));
  program = path.join(tmp, "task.cjs");
  await fsp.writeFile(program, taskProgram);
});
after(() => fsp.rm(tmp, { recursive: true, force: true }));

/** A runner whose tasks are the fixture program, in a fresh events folder, with a fixed resolution. */
async function fixtureRunner(pipeline: PipelineDefinition, extra: Partial<LocalRunnerOptions> = {}, env = {}) {
  const dir = path.join(tmp, `run-${++runs}`);
  await fsp.mkdir(dir);
  const home = path.join(dir, "home");
  const resolved: string[] = [];
  const runner = createLocalRunner({
    home,
    parallelism: 4,
    knownTasks: pipeline.tasks.map((t) => t.name),
    resolve: async (version) => {
      resolved.push(version);
      return resolution;
    },
    taskProcess: (task, context) => ({
      command: process.execPath,
      args: [program, "task", task.name, "--client", context.client, "--run-id", context.runId],
      env: { PATH: process.env.PATH, TDF_TEST_DIR: dir, TDF_CODE_SHA: context.sha, ...env },
    }),
    killGraceMs: 2000,
    ...extra,
  });
  return { runner, dir, home, resolved };
}

const task = (record: RunRecord, name: string) => {
  const found = record.tasks.find((t) => t.name === name);
  assert.ok(found, `no task ${name}`);
  return found;
};

test("tasks run in dependency order, independent ones together, never more than the parallelism", async () => {
  const pipeline = testPipeline("diamond", {
    ok_a: [],
    barrier_b: ["ok_a"],
    barrier_c: ["ok_a"],
    ok_d: ["ok_a"],
    ok_e: ["barrier_b", "barrier_c", "ok_d"],
  });
  const { runner, dir, home, resolved } = await fixtureRunner(
    pipeline,
    { parallelism: 2 },
    { TDF_TEST_BARRIER: "barrier_b,barrier_c" },
  );
  const record = await runner.run(pipeline, { client: "acme", codeVersion: "latest" });
  assert.equal(record.state, "success", JSON.stringify(record.tasks, null, 2));
  assert.deepEqual(resolved, ["latest"], "the code version is resolved once per run");

  const events = await readEvents(dir);
  const index = (what: string, name: string) => events.findIndex((e) => e.what === what && e.task === name);
  for (const t of pipeline.tasks) {
    for (const up of t.upstream) {
      assert.ok(index("end", up) < index("start", t.name), `${up} ended before ${t.name} started`);
    }
  }
  // The barrier tasks only succeed if each saw the other start: they really overlapped.
  assert.equal(maxConcurrency(events), 2);
  assert.ok(index("start", "ok_d") > Math.min(index("end", "barrier_b"), index("end", "barrier_c")));

  const saved = JSON.parse(await fsp.readFile(path.join(runDir(home, record.runId), "run.json"), "utf8"));
  assert.deepEqual(saved, JSON.parse(JSON.stringify(record)), "run.json holds the final record");
  assert.equal(saved.code.sha, sha);
  assert.deepEqual(saved.params, { client_name: "acme", code_version: "latest" });
  for (const t of record.tasks) {
    assert.equal(t.attempts.length, 1);
    const log = await fsp.readFile(path.join(runDir(home, record.runId), `logs/${t.name}.1.log`), "utf8");
    assert.match(
      log,
      new RegExp(`fixture task ${t.name} TDF_CODE_SHA=${sha} args=--client acme --run-id ${record.runId}`),
    );
    assert.ok((t.durationSeconds ?? -1) >= 0);
  }
});

test("a failed attempt is retried, and a task that fails for good stops only what depends on it", async () => {
  const pipeline = testPipeline(
    "branches",
    { ok_a: [], flaky_b: ["ok_a"], fail_c: ["ok_a"], ok_d: ["fail_c"], ok_e: ["ok_d"], ok_f: ["flaky_b"] },
    { retries: 1 },
  );
  const { runner, home } = await fixtureRunner(pipeline);
  const record = await runner.run(pipeline, { client: "acme", codeVersion: "latest" });
  assert.equal(record.state, "failed");
  assert.deepEqual(
    record.tasks.map((t) => [t.name, t.state, t.attempts.map((a) => a.state).join(",")]),
    [
      ["ok_a", "success", "success"],
      ["flaky_b", "success", "failed,success"],
      ["fail_c", "failed", "failed,failed"],
      ["ok_d", "upstream_failed", ""],
      ["ok_e", "upstream_failed", ""],
      ["ok_f", "success", "success"],
    ],
  );
  const first = await fsp.readFile(path.join(runDir(home, record.runId), "logs/flaky_b.1.log"), "utf8");
  assert.match(first, /failing on purpose/);
  assert.equal(task(record, "fail_c").attempts[1]?.exitCode, 5);

  const error = await runFailure(record, home);
  assert.equal(error.code, "RUN_FAILED");
  assert.match(error.message, /fail_c failed after 2 attempts \(exit 5\); not run because of it: ok_d, ok_e\./);
  assert.match(error.message, /The last lines of .*logs\/fail_c\.2\.log:\n[\s\S]* {2}failing for good: fail_c$/);
});

test("an attempt that outlives its timeout is stopped with SIGTERM, and killed if it ignores it", async () => {
  const pipeline = testPipeline(
    "slow",
    { hang_a: [], stubborn_b: [], ok_c: ["hang_a"] }, // Long enough for the fixture to install its SIGTERM handler on a loaded machine.
    { timeoutSeconds: 4 },
  );
  const { runner, dir, home } = await fixtureRunner(pipeline, { killGraceMs: 300 });
  const record = await runner.run(pipeline, { client: "acme", codeVersion: "latest" });
  assert.equal(record.state, "failed");
  const hang = task(record, "hang_a");
  assert.equal(hang.state, "failed");
  assert.equal(hang.attempts[0]?.state, "timed_out");
  assert.equal(hang.attempts[0]?.exitCode, 143, "the task handled SIGTERM and exited");
  assert.ok(await exists(path.join(dir, "hang_a.sigterm")));
  const stubborn = task(record, "stubborn_b").attempts[0];
  assert.equal(stubborn?.state, "timed_out");
  assert.equal(stubborn?.signal, "SIGKILL", "ignoring SIGTERM ends in SIGKILL after the grace period");
  assert.ok(await exists(path.join(dir, "stubborn_b.sigterm")), "it was asked first");
  assert.equal(task(record, "ok_c").state, "upstream_failed");
  const error = await runFailure(record, home);
  assert.match(error.message, /hang_a failed after 1 attempt \(timed out after 4\.0 s\)/);
});

test("cancelling stops the running tasks cleanly and records the run as cancelled", async () => {
  const pipeline = testPipeline("stop", { hang_a: [], ok_b: ["hang_a"], flaky_c: [] }, { retries: 2 });
  const controller = new AbortController();
  const { runner, dir, home } = await fixtureRunner(pipeline, {}, {});
  const running = runner.run(pipeline, { client: "acme", codeVersion: "latest" }, { signal: controller.signal });
  // flaky_c has failed once and waits for its retry; hang_a runs.
  await until(
    async () =>
      (await exists(path.join(dir, "hang_a.waiting"))) && (await exists(path.join(dir, "flaky_c.failed-once"))),
    "the tasks to start",
  );
  controller.abort("SIGINT");
  const record = await running;
  assert.equal(record.state, "cancelled");
  assert.equal(record.cancelledBy, "SIGINT");
  assert.deepEqual(
    record.tasks.map((t) => [t.name, t.state]),
    [
      ["hang_a", "cancelled"],
      ["ok_b", "cancelled"],
      ["flaky_c", "cancelled"],
    ],
  );
  assert.equal(task(record, "hang_a").attempts[0]?.state, "cancelled");
  assert.ok(await exists(path.join(dir, "hang_a.sigterm")), "the task got SIGTERM");
  assert.ok(task(record, "flaky_c").attempts.length <= 2, "no retry starts after the cancel");
  const saved = JSON.parse(await fsp.readFile(path.join(runDir(home, record.runId), "run.json"), "utf8"));
  assert.equal(saved.state, "cancelled");
  const error = await runFailure(record, home);
  assert.equal(error.code, "RUN_CANCELLED");
});

test("a pipeline with tasks that do not exist is refused before anything runs", async () => {
  const pipeline = testPipeline("incomplete", { ok_a: [], ok_b: ["ok_a"], ok_c: ["ok_a"] });
  const { runner, home, resolved } = await fixtureRunner(pipeline, { knownTasks: ["ok_a"] });
  await assert.rejects(
    runner.run(pipeline, { client: "acme", codeVersion: "latest" }),
    rejectsWith("PIPELINE_INCOMPLETE", /its tasks ok_b, ok_c are not registered/),
  );
  await assert.rejects(
    runner.run(testPipeline("p", { ok_a: [] }), { client: "Not A Client", codeVersion: "latest" }),
    rejectsWith("USAGE", /is not a client name/),
  );
  assert.deepEqual(resolved, []);
  assert.equal(await exists(path.join(home, "runs")), false, "nothing is left behind");
});

test("tdf runs ls and tdf runs show print the recorded runs", async () => {
  const pipeline = testPipeline("listed", { ok_a: [], fail_b: ["ok_a"] });
  const { runner, home } = await fixtureRunner(pipeline);
  const failed = await runner.run(pipeline, { client: "acme", codeVersion: "latest" });
  const succeeded = await runner.run(testPipeline("listed", { ok_a: [] }), { client: "beta", codeVersion: "abc1234" });
  const cli = async (...argv: string[]) => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = "";
    let err = "";
    stdout.on("data", (c) => {
      out += c;
    });
    stderr.on("data", (c) => {
      err += c;
    });
    const code = await main(argv, { TDF_HOME: home }, { stdout, stderr, stdin: new PassThrough(), cwd: tmp });
    return { code, out, err };
  };
  const ls = await cli("runs", "ls");
  assert.equal(ls.code, 0, ls.err);
  const lines = ls.out.trim().split("\n");
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? "", new RegExp(`^${succeeded.runId}\\s+listed\\s+beta\\s+success`));
  assert.match(lines[1] ?? "", new RegExp(`^${failed.runId}\\s+listed\\s+acme\\s+failed`));
  assert.equal((await cli("runs", "ls", "--client", "acme")).out.trim().split("\n").length, 1);

  const show = await cli("runs", "show", failed.runId);
  assert.equal(show.code, 0, show.err);
  assert.match(show.out, /✗ fail_b\s+failed/);
  assert.match(show.out, /fail_b #1: failed \(exit 5\), .*logs\/fail_b\.1\.log/);
  const json = await cli("runs", "show", failed.runId, "--json");
  assert.equal(JSON.parse(json.out).runId, failed.runId);

  const missing = await cli("runs", "show", "nope");
  assert.equal(missing.code, 1);
  assert.match(missing.err, /There is no run "nope".*the newest are/);
});
