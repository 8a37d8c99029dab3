import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { fsStore } from "../../src/storage/fs.js";
import { localTracker } from "../../src/tracking/local.js";
import { failureTag, withRun } from "../../src/tracking/run-lifecycle.js";

const tsx = import.meta.resolve("tsx");
const src = (file: string) => fileURLToPath(new URL(`../../src/${file}`, import.meta.url));

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-lifecycle-"));
  t.after(() => fsp.rm(root, { recursive: true, force: true }));
  const store = fsStore({ root: path.join(root, "store") });
  await store.ensureBucket("mlflow-artifacts");
  const databasePath = path.join(root, "tracking.db");
  return { root, databasePath, tracker: localTracker({ databasePath, store, bucket: "mlflow-artifacts" }) };
}

/** A training-like process: starts a run through withRun, logs a step, says so, then works on. */
function trainingProcess(root: string, databasePath: string) {
  const script = `
    import { fsStore } from ${JSON.stringify(src("storage/fs.ts"))};
    import { localTracker } from ${JSON.stringify(src("tracking/local.ts"))};
    import { withRun } from ${JSON.stringify(src("tracking/run-lifecycle.ts"))};
    const tracker = localTracker({ databasePath: ${JSON.stringify(databasePath)}, store: fsStore({ root: ${JSON.stringify(path.join(root, "store"))} }), bucket: "mlflow-artifacts" });
    const experiment = await tracker.getOrCreateExperiment("acme/top_seller");
    await withRun(tracker, experiment.id, { taskKey: "training/acme/top_seller" }, async (run) => {
      await tracker.logBatch(run.id, { metrics: [{ key: "loss", value: 1, timestamp: Date.now(), step: 0 }] });
      process.stdout.write("training " + run.id + "\\n");
      await new Promise((resolve) => setTimeout(resolve, 60_000));
    });`;
  const child = spawn(process.execPath, ["--import", tsx, "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const runId = new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /training (\S+)/.exec(out);
      if (match) resolve(match[1] as string);
    });
    child.on("exit", () => reject(new Error(`the training process ended early: ${out}`)));
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
  return { child, runId, exited };
}

test("a failing run is ended FAILED with its error; a successful one FINISHED", async (t) => {
  const { tracker } = await setup(t);
  const experiment = await tracker.getOrCreateExperiment("acme/long_tail");
  let failedId = "";
  await assert.rejects(
    withRun(tracker, experiment.id, { taskKey: "k" }, async (run) => {
      failedId = run.id;
      throw new Error("out of memory in epoch 3");
    }),
    /out of memory/,
  );
  const failed = await tracker.getRun(failedId);
  assert.equal(failed?.info.status, "FAILED");
  assert.equal(failed?.tags[failureTag], "out of memory in epoch 3");
  const okId = await withRun(tracker, experiment.id, { taskKey: "k" }, async (run) => run.id);
  assert.equal((await tracker.getRun(okId))?.info.status, "FINISHED");
});

test("a training process killed with SIGKILL leaves its run RUNNING; the next attempt ends it FAILED", async (t) => {
  const { root, databasePath, tracker } = await setup(t);
  const training = trainingProcess(root, databasePath);
  const runId = await training.runId;
  training.child.kill("SIGKILL");
  assert.equal(await training.exited, "SIGKILL");
  assert.equal((await tracker.getRun(runId))?.info.status, "RUNNING", "nothing could end it");

  const experiment = await tracker.getOrCreateExperiment("acme/top_seller");
  const next = await withRun(tracker, experiment.id, { taskKey: "training/acme/top_seller" }, async (run) => run.id);
  const repaired = await tracker.getRun(runId);
  assert.equal(repaired?.info.status, "FAILED");
  assert.match(repaired?.tags[failureTag] ?? "", /interrupted/);
  assert.equal((await tracker.getRun(next))?.info.status, "FINISHED");
});

test("a training process stopped with SIGTERM (Airflow stopping a task) ends its run KILLED", async (t) => {
  const { root, databasePath, tracker } = await setup(t);
  const training = trainingProcess(root, databasePath);
  const runId = await training.runId;
  training.child.kill("SIGTERM");
  assert.equal(await training.exited, "SIGTERM");
  assert.equal((await tracker.getRun(runId))?.info.status, "KILLED");
});
