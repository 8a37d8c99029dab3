/** `tdf models runs`, `tdf models ls` and `tdf models alias` on the embedded tracker, as an operator runs them. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { fsStore } from "../storage/fs.js";
import { localTracker } from "../tracking/local.js";

const entry = fileURLToPath(new URL("./bin.ts", import.meta.url));
const tsx = import.meta.resolve("tsx");
let cwd: string;

function tdf(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", tsx, entry, ...args],
      { cwd, env: { PATH: process.env.PATH ?? "" }, encoding: "utf8" },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  cwd = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-cli-tracking-"));
  const store = fsStore({ root: path.join(cwd, ".tdf", "store") });
  await store.ensureBucket("mlflow-artifacts");
  const tracker = localTracker({
    databasePath: path.join(cwd, ".tdf", "tracking.db"),
    store,
    bucket: "mlflow-artifacts",
  });
  const experiment = await tracker.getOrCreateExperiment("acme/top_seller");
  const run = await tracker.startRun(experiment.id, { name: "train-1", startTime: 1_700_000_000_000 });
  await tracker.endRun(run.id, "FINISHED", 1_700_000_012_500);
  await tracker.getOrCreateRegisteredModel("acme-top_seller");
  await tracker.createModelVersion("acme-top_seller", { runId: run.id, artifactPath: "model" });
  await tracker.createModelVersion("acme-top_seller", { runId: run.id, artifactPath: "model" });
  await tracker.setAlias("acme-top_seller", "champion", "2");
});
after(() => fsp.rm(cwd, { recursive: true, force: true }));

test("models runs lists a client's runs per model type", async () => {
  const result = await tdf("models", "runs", "--client", "acme");
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^acme\/top_seller {2}\S+ {2}FINISHED {2}2023-11-14T22:13:20Z +12\.5s {2}train-1$/m);
  assert.match(result.stdout, /^acme\/long_tail: no runs yet$/m);
});

test("models ls shows the latest version and the aliases; models alias moves one", async () => {
  const listed = await tdf("models", "ls", "--client", "acme");
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^acme-top_seller {2}latest v2 {2}champion=v2$/m);
  assert.match(listed.stdout, /^acme-long_tail: not registered yet$/m);

  const rollback = await tdf("models", "alias", "acme-top_seller", "1", "champion");
  assert.equal(rollback.code, 0, rollback.stderr);
  assert.equal(rollback.stdout, "acme-top_seller: champion → v1 (was v2)\n");
  assert.match((await tdf("models", "ls", "--client", "acme")).stdout, /champion=v1/);

  const missing = await tdf("models", "alias", "acme-top_seller", "7", "champion");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /has no version 7/);
});
