import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type TestContext, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { fsStore } from "../storage/fs.js";
import type { ObjectStore } from "../storage/types.js";
import { TrackingError, type TrackingErrorCode } from "./errors.js";
import { type LocalTracker, localTracker } from "./local.js";
import type { Metric } from "./types.js";

const BUCKET = "mlflow-artifacts";
const tsx = import.meta.resolve("tsx");
const localModule = pathToFileURL(fileURLToPath(new URL("./local.ts", import.meta.url))).href;
const fsModule = pathToFileURL(fileURLToPath(new URL("../storage/fs.ts", import.meta.url))).href;
// Children resolve better-sqlite3 from the project, not from their temporary folder.
const projectFile = fileURLToPath(import.meta.url);

interface Setup {
  dir: string;
  databasePath: string;
  storeRoot: string;
  store: ObjectStore;
  tracker: LocalTracker;
  open(options?: { busyTimeoutMs?: number }): LocalTracker;
}

async function setup(t: TestContext): Promise<Setup> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-tracking-local-"));
  const storeRoot = path.join(dir, "store");
  const store = fsStore({ root: storeRoot });
  await store.ensureBucket(BUCKET);
  const databasePath = path.join(dir, ".tdf", "tracking.db");
  const opened: LocalTracker[] = [];
  const open = (options: { busyTimeoutMs?: number } = {}) => {
    const tracker = localTracker({ databasePath, store, bucket: BUCKET, ...options });
    opened.push(tracker);
    return tracker;
  };
  t.after(async () => {
    for (const tracker of opened) tracker.close();
    await fsp.rm(dir, { recursive: true, force: true });
  });
  return { dir, databasePath, storeRoot, store, tracker: open(), open };
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: TrackingErrorCode,
  message?: RegExp,
): Promise<TrackingError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof TrackingError, `expected a TrackingError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

const metric = (key: string, value: number, step: number, timestamp = 1_700_000_000_000 + step): Metric => ({
  key,
  value,
  step,
  timestamp,
});

test("local: experiments are found by name, created once, with tags and a store:// artifact location", async (t) => {
  const { tracker, databasePath } = await setup(t);
  assert.equal(tracker.driver, "local");
  assert.equal(tracker.location, databasePath);
  assert.equal(await tracker.getExperimentByName("demand"), null);

  const created = await tracker.getOrCreateExperiment("demand", { team: "forecasting" });
  assert.match(created.id, /^\d+$/);
  assert.equal(created.name, "demand");
  assert.equal(created.artifactLocation, `store://${BUCKET}/${created.id}`);
  assert.deepEqual(created.tags, { team: "forecasting" });

  // Tags are set at creation only, as with MLflow's get-or-create.
  const again = await tracker.getOrCreateExperiment("demand", { team: "other" });
  assert.deepEqual(again, created);
  assert.deepEqual(await tracker.getExperimentByName("demand"), created);

  const other = await tracker.getOrCreateExperiment("prices");
  assert.notEqual(other.id, created.id);
  assert.deepEqual(other.tags, {});

  await rejectsWith(tracker.getOrCreateExperiment(""), "TRACKING_INVALID", /non-empty name/);
  await rejectsWith(tracker.getOrCreateExperiment("x", { "bad key!": "1" }), "TRACKING_INVALID", /bad key!/);
});

test("local: the database is WAL, has foreign keys and a schema version, and keeps data across opens", async (t) => {
  const { tracker, databasePath, open } = await setup(t);
  const experiment = await tracker.getOrCreateExperiment("demand");
  const run = await tracker.startRun(experiment.id);
  tracker.close();

  const raw = new Database(databasePath, { readonly: true });
  try {
    assert.equal(raw.pragma("journal_mode", { simple: true }), "wal");
    assert.equal(raw.pragma("user_version", { simple: true }), 1);
  } finally {
    raw.close();
  }
  const reopened = open();
  assert.equal((await reopened.getRun(run.id))?.info.experimentId, experiment.id);
  // Closing is not final: the next call opens the database again.
  reopened.close();
  assert.equal((await reopened.getExperimentByName("demand"))?.id, experiment.id);
});

test("local: a database from a newer tdf, or a file that is not a database, is refused with a sentence", async (t) => {
  const { dir, store } = await setup(t);
  const newer = path.join(dir, "newer.db");
  const raw = new Database(newer);
  raw.pragma("user_version = 99");
  raw.close();
  const tracker = localTracker({ databasePath: newer, store, bucket: BUCKET });
  await rejectsWith(tracker.getExperimentByName("x"), "TRACKING_FAILED", /schema version 99.*upgrade tdf/);

  const garbage = path.join(dir, "garbage.db");
  await fsp.writeFile(garbage, "this is not a SQLite database, just some text that is long enough".repeat(100));
  const broken = localTracker({ databasePath: garbage, store, bucket: BUCKET });
  await rejectsWith(
    broken.getExperimentByName("x"),
    "TRACKING_FAILED",
    /garbage\.db is damaged or is not a tracking database/,
  );
});

test("local: runs start, end and are found newest first, by status, at most maxResults", async (t) => {
  const { tracker } = await setup(t);
  const experiment = await tracker.getOrCreateExperiment("demand");
  const other = await tracker.getOrCreateExperiment("other");

  await rejectsWith(tracker.startRun("999"), "TRACKING_NOT_FOUND", /no experiment with id "999"/);
  await rejectsWith(tracker.startRun("not-a-number"), "TRACKING_NOT_FOUND");

  const first = await tracker.startRun(experiment.id, { name: "baseline", tags: { kind: "tft" }, startTime: 1000 });
  assert.match(first.id, /^[0-9a-f]{32}$/);
  assert.deepEqual(first, {
    id: first.id,
    experimentId: experiment.id,
    name: "baseline",
    status: "RUNNING",
    startTime: 1000,
    endTime: undefined,
    artifactUri: `${experiment.artifactLocation}/${first.id}/artifacts`,
  });
  const second = await tracker.startRun(experiment.id, { startTime: 2000 });
  assert.equal(second.name, undefined);
  const third = await tracker.startRun(other.id, { startTime: 3000 });
  const before = Date.now();
  const fourth = await tracker.startRun(experiment.id);
  assert.ok(fourth.startTime >= before);

  const run = await tracker.getRun(first.id);
  // As MLflow, the name is also the mlflow.runName tag.
  assert.deepEqual(run?.tags, { kind: "tft", "mlflow.runName": "baseline" });
  assert.deepEqual(run?.params, {});
  assert.deepEqual(run?.metrics, {});
  assert.equal(await tracker.getRun("0123456789abcdef0123456789abcdef"), null);

  await tracker.endRun(first.id, "FINISHED", 5000);
  await tracker.endRun(second.id, "FAILED");
  const ended = await tracker.getRun(first.id);
  assert.equal(ended?.info.status, "FINISHED");
  assert.equal(ended?.info.endTime, 5000);
  assert.ok(((await tracker.getRun(second.id))?.info.endTime ?? 0) >= before);
  await rejectsWith(tracker.endRun("missing", "FINISHED"), "TRACKING_NOT_FOUND", /no run "missing"/);
  await rejectsWith(
    tracker.endRun(first.id, "RUNNING" as "FINISHED"),
    "TRACKING_INVALID",
    /FINISHED, FAILED or KILLED/,
  );

  const ids = (runs: { id: string }[]) => runs.map((r) => r.id);
  assert.deepEqual(ids(await tracker.searchRuns([experiment.id])), [fourth.id, second.id, first.id]);
  assert.deepEqual(ids(await tracker.searchRuns([experiment.id, other.id])), [
    fourth.id,
    third.id,
    second.id,
    first.id,
  ]);
  assert.deepEqual(ids(await tracker.searchRuns([experiment.id], { status: "RUNNING" })), [fourth.id]);
  assert.deepEqual(ids(await tracker.searchRuns([experiment.id], { status: "FAILED" })), [second.id]);
  assert.deepEqual(ids(await tracker.searchRuns([experiment.id, other.id], { maxResults: 2 })), [fourth.id, third.id]);
  assert.deepEqual(await tracker.searchRuns([]), []);
  assert.deepEqual(await tracker.searchRuns(["12345", "nope"]), []);
  await rejectsWith(tracker.searchRuns([experiment.id], { maxResults: 0 }), "TRACKING_INVALID", /maxResults/);
  await rejectsWith(tracker.searchRuns([experiment.id], { status: "DONE" as "FINISHED" }), "TRACKING_INVALID");
});

test("local: runs that start in the same millisecond still come newest first", async (t) => {
  const { tracker } = await setup(t);
  const experiment = await tracker.getOrCreateExperiment("demand");
  const started = [];
  for (let i = 0; i < 5; i++) started.push((await tracker.startRun(experiment.id, { startTime: 42 })).id);
  assert.deepEqual(
    (await tracker.searchRuns([experiment.id])).map((r) => r.id),
    started.reverse(),
  );
});

test("local: params are write-once, tags overwrite, metrics append with the latest by step then timestamp", async (t) => {
  const { tracker } = await setup(t);
  const experiment = await tracker.getOrCreateExperiment("demand");
  const { id } = await tracker.startRun(experiment.id);

  await tracker.logBatch(id, {
    params: { learning_rate: "0.01", hidden: "32" },
    tags: { stage: "train" },
    metrics: [metric("loss", 0.9, 0), metric("loss", 0.7, 1)],
  });
  // The same value again is fine; another value is a conflict naming the param and both values.
  await tracker.logBatch(id, { params: { learning_rate: "0.01" } });
  const conflict = await rejectsWith(
    tracker.logBatch(id, {
      params: { learning_rate: "0.02" },
      metrics: [metric("loss", 0.1, 99)],
      tags: { stage: "x" },
    }),
    "TRACKING_CONFLICT",
    /"learning_rate".*"0\.01".*"0\.02"/,
  );
  assert.deepEqual(conflict.context, { runId: id, key: "learning_rate", oldValue: "0.01", newValue: "0.02" });

  await tracker.logBatch(id, { tags: { stage: "evaluate" } });
  // Logged later but at an earlier step: not the latest. Same step, later timestamp: the latest.
  await tracker.logBatch(id, { metrics: [metric("loss", 5, 0, 1_800_000_000_000)] });
  await tracker.logBatch(id, { metrics: [metric("mape", 12, 3, 1000), metric("mape", 11, 3, 2000)] });
  await tracker.logBatch(id, { metrics: [metric("mape", 99, 3, 1500)] });

  const run = await tracker.getRun(id);
  assert.deepEqual(run?.params, { learning_rate: "0.01", hidden: "32" });
  assert.deepEqual(run?.tags, { stage: "evaluate" });
  assert.deepEqual(run?.metrics, {
    loss: metric("loss", 0.7, 1),
    mape: { key: "mape", value: 11, step: 3, timestamp: 2000 },
  });
  // The refused batch left nothing: no step 99.
  assert.deepEqual(
    (await tracker.metricHistory(id, "loss")).map((m) => [m.step, m.value]),
    [
      [0, 0.9],
      [0, 5],
      [1, 0.7],
    ],
  );
  assert.equal((await tracker.metricHistory(id, "mape")).length, 3);
  assert.deepEqual(await tracker.metricHistory(id, "never-logged"), []);

  // The very same point logged twice is kept once (a retried batch adds nothing), as MLflow does.
  await tracker.logBatch(id, { metrics: [metric("loss", 0.7, 1)] });
  assert.equal((await tracker.metricHistory(id, "loss")).length, 3);

  // Setting the mlflow.runName tag renames the run, as in MLflow.
  await tracker.logBatch(id, { tags: { "mlflow.runName": "renamed" } });
  assert.equal((await tracker.getRun(id))?.info.name, "renamed");

  // Logging to a finished run is allowed, as in MLflow.
  await tracker.endRun(id, "FINISHED");
  await tracker.logBatch(id, { metrics: [metric("late", 1, 0)] });
  assert.equal((await tracker.getRun(id))?.metrics.late?.value, 1);
});

test("local: MLflow's limits are checked before anything is written, and a missing run is NOT_FOUND", async (t) => {
  const { tracker } = await setup(t);
  const experiment = await tracker.getOrCreateExperiment("demand");
  const { id } = await tracker.startRun(experiment.id);

  await rejectsWith(
    tracker.logBatch(id, { metrics: [metric("ok", 1, 0), metric("bad key?", 1, 0)] }),
    "TRACKING_INVALID",
    /bad key\?/,
  );
  await rejectsWith(tracker.logBatch(id, { metrics: [metric("nan", Number.NaN, 0)] }), "TRACKING_INVALID", /finite/);
  await rejectsWith(tracker.logBatch(id, { params: { long: "x".repeat(6001) } }), "TRACKING_INVALID", /6000/);
  await rejectsWith(tracker.logBatch(id, { tags: { ["k".repeat(251)]: "v" } }), "TRACKING_INVALID", /250/);
  assert.deepEqual(await tracker.metricHistory(id, "ok"), []);
  assert.deepEqual((await tracker.getRun(id))?.params, {});

  // More than MLflow allows per request is fine: the local driver needs no splitting.
  const many = Array.from({ length: 2500 }, (_, step) => metric("loss", step / 10, step));
  await tracker.logBatch(id, { metrics: many });
  assert.equal((await tracker.metricHistory(id, "loss")).length, 2500);

  await rejectsWith(
    tracker.logBatch("missing", { metrics: [metric("a", 1, 0)] }),
    "TRACKING_NOT_FOUND",
    /no run "missing"/,
  );
  await rejectsWith(tracker.logBatch("missing", {}), "TRACKING_NOT_FOUND");
  await rejectsWith(tracker.metricHistory("missing", "loss"), "TRACKING_NOT_FOUND");
  await rejectsWith(tracker.startRun(experiment.id, { tags: { "a:b": "1" } }), "TRACKING_INVALID");
  await rejectsWith(
    tracker.startRun(experiment.id, { name: "a", tags: { "mlflow.runName": "b" } }),
    "TRACKING_INVALID",
    /differs/,
  );
  await rejectsWith(tracker.startRun(experiment.id, { startTime: 1.5 }), "TRACKING_INVALID", /milliseconds/);
});

test("local: artifacts are uploaded under <experiment>/<run>/artifacts/, listed one level, downloaded", async (t) => {
  const { tracker, dir, storeRoot, store } = await setup(t);
  const experiment = await tracker.getOrCreateExperiment("demand");
  const { id } = await tracker.startRun(experiment.id);

  const local = path.join(dir, "local");
  await fsp.mkdir(path.join(local, "model", "variables"), { recursive: true });
  await fsp.writeFile(path.join(local, "model", "model.json"), '{"layers":[]}');
  await fsp.writeFile(path.join(local, "model", "variables", "weights.bin"), Buffer.alloc(1024, 7));
  await fsp.mkdir(path.join(local, "model", "empty"));
  await fsp.writeFile(path.join(local, "report.html"), "<h1>MAPE</h1>");
  // A symbolic link to a file is uploaded as that file.
  await fsp.symlink(path.join(local, "report.html"), path.join(local, "model", "report-link.html"));

  await tracker.logArtifacts(id, path.join(local, "model"), "model");
  await tracker.logArtifacts(id, path.join(local, "report.html"));
  await tracker.logArtifacts(id, path.join(local, "report.html"), "reports/daily/");

  // Plain objects in the store, under the experiment's prefix.
  const keys: string[] = [];
  for await (const object of store.list(BUCKET, `${experiment.id}/`)) keys.push(object.key);
  const root = `${experiment.id}/${id}/artifacts`;
  assert.deepEqual(keys, [
    `${root}/model/model.json`,
    `${root}/model/report-link.html`,
    `${root}/model/variables/weights.bin`,
    `${root}/report.html`,
    `${root}/reports/daily/report.html`,
  ]);
  assert.ok(existsSync(path.join(storeRoot, BUCKET, experiment.id, id, "artifacts", "report.html")));

  assert.deepEqual(await tracker.listArtifacts(id), [
    { path: "model", isDir: true, size: undefined },
    { path: "report.html", isDir: false, size: 13 },
    { path: "reports", isDir: true, size: undefined },
  ]);
  assert.deepEqual(await tracker.listArtifacts(id, "model"), [
    { path: "model/model.json", isDir: false, size: 13 },
    { path: "model/report-link.html", isDir: false, size: 13 },
    { path: "model/variables", isDir: true, size: undefined },
  ]);
  assert.deepEqual(await tracker.listArtifacts(id, "model/variables/"), [
    { path: "model/variables/weights.bin", isDir: false, size: 1024 },
  ]);
  // As MLflow: a file or a missing path lists nothing.
  assert.deepEqual(await tracker.listArtifacts(id, "report.html"), []);
  assert.deepEqual(await tracker.listArtifacts(id, "nothing/here"), []);

  const downloads = path.join(dir, "downloads");
  const file = await tracker.downloadArtifacts(id, "model/variables/weights.bin", downloads);
  assert.equal(file, path.join(downloads, "model", "variables", "weights.bin"));
  assert.deepEqual(await fsp.readFile(file), Buffer.alloc(1024, 7));

  const folder = await tracker.downloadArtifacts(id, "model", path.join(dir, "folder"));
  assert.equal(folder, path.join(dir, "folder", "model"));
  assert.equal(await fsp.readFile(path.join(folder, "model.json"), "utf8"), '{"layers":[]}');
  assert.deepEqual(await fsp.readFile(path.join(folder, "variables", "weights.bin")), Buffer.alloc(1024, 7));

  const everything = await tracker.downloadArtifacts(id, "", path.join(dir, "all"));
  assert.equal(everything, path.join(dir, "all"));
  assert.equal(await fsp.readFile(path.join(everything, "reports", "daily", "report.html"), "utf8"), "<h1>MAPE</h1>");
  // Downloads are written atomically: no temporary file is left next to them.
  assert.deepEqual((await fsp.readdir(everything)).sort(), ["model", "report.html", "reports"]);

  // Downloading again replaces the files.
  await tracker.downloadArtifacts(id, "report.html", downloads);
  await tracker.downloadArtifacts(id, "report.html", downloads);
  assert.equal(await fsp.readFile(path.join(downloads, "report.html"), "utf8"), "<h1>MAPE</h1>");

  await rejectsWith(
    tracker.downloadArtifacts(id, "model/missing.bin", downloads),
    "TRACKING_NOT_FOUND",
    /no artifact "model\/missing\.bin"/,
  );
  await rejectsWith(tracker.downloadArtifacts(id, "mod", downloads), "TRACKING_NOT_FOUND");
  const empty = await tracker.startRun(experiment.id);
  await rejectsWith(tracker.downloadArtifacts(empty.id, "", downloads), "TRACKING_NOT_FOUND");
  assert.deepEqual(await tracker.listArtifacts(empty.id), []);

  // A destination that cannot be written is a sentence, not a stack trace.
  await rejectsWith(
    tracker.downloadArtifacts(id, "model", path.join(local, "report.html")),
    "TRACKING_FAILED",
    /Could not download artifacts/,
  );

  await rejectsWith(tracker.logArtifacts(id, path.join(local, "nope")), "TRACKING_NOT_FOUND", /no such file or folder/);
  await rejectsWith(tracker.logArtifacts(id, path.join(local, "report.html"), "../escape"), "TRACKING_INVALID");
  await rejectsWith(tracker.logArtifacts(id, path.join(local, "report.html"), "/abs"), "TRACKING_INVALID");
  await rejectsWith(tracker.listArtifacts(id, "a//b"), "TRACKING_INVALID");
  await rejectsWith(tracker.downloadArtifacts(id, "../x", downloads), "TRACKING_INVALID");
  await rejectsWith(tracker.logArtifacts("missing", path.join(local, "report.html")), "TRACKING_NOT_FOUND", /no run/);
  await rejectsWith(tracker.listArtifacts("missing"), "TRACKING_NOT_FOUND");
  await rejectsWith(tracker.downloadArtifacts("missing", "x", downloads), "TRACKING_NOT_FOUND");
});

test("local: the registry numbers versions per model, points aliases at them, and knows the latest", async (t) => {
  const { tracker } = await setup(t);
  const experiment = await tracker.getOrCreateExperiment("demand");
  const run = await tracker.startRun(experiment.id);

  assert.equal(await tracker.getRegisteredModel("tft"), null);
  const model = await tracker.getOrCreateRegisteredModel("tft", { owner: "forecasting" });
  assert.equal(model.name, "tft");
  assert.deepEqual(model.aliases, {});
  assert.deepEqual(model.tags, { owner: "forecasting" });
  assert.ok(model.creationTimestamp > 0);
  assert.deepEqual(await tracker.getOrCreateRegisteredModel("tft", { owner: "someone else" }), model);

  assert.equal(await tracker.latestModelVersion("tft"), null);
  const v1 = await tracker.createModelVersion("tft", { runId: run.id, artifactPath: "model", tags: { mape: "12.5" } });
  assert.deepEqual(v1, {
    name: "tft",
    version: "1",
    source: `runs:/${run.id}/model`,
    runId: run.id,
    creationTimestamp: v1.creationTimestamp,
    tags: { mape: "12.5" },
  });
  const v2 = await tracker.createModelVersion("tft", { runId: run.id, artifactPath: "model-2/" });
  assert.equal(v2.version, "2");
  assert.equal(v2.source, `runs:/${run.id}/model-2`);
  // Versions count per model.
  await tracker.getOrCreateRegisteredModel("baseline");
  assert.equal((await tracker.createModelVersion("baseline", { runId: run.id, artifactPath: "m" })).version, "1");

  assert.deepEqual(await tracker.getModelVersion("tft", "1"), v1);
  assert.equal(await tracker.getModelVersion("tft", "3"), null);
  assert.equal(await tracker.getModelVersion("tft", "one"), null);
  assert.equal(await tracker.getModelVersion("missing", "1"), null);
  assert.deepEqual(await tracker.latestModelVersion("tft"), v2);

  assert.equal(await tracker.getVersionByAlias("tft", "champion"), null);
  await tracker.setAlias("tft", "champion", "1");
  await tracker.setAlias("tft", "challenger", "2");
  assert.deepEqual(await tracker.getVersionByAlias("tft", "champion"), v1);
  assert.deepEqual((await tracker.getRegisteredModel("tft"))?.aliases, { challenger: "2", champion: "1" });
  // Setting moves the alias.
  await tracker.setAlias("tft", "champion", "2");
  assert.deepEqual(await tracker.getVersionByAlias("tft", "champion"), v2);
  await tracker.deleteAlias("tft", "champion");
  assert.equal(await tracker.getVersionByAlias("tft", "champion"), null);
  assert.deepEqual((await tracker.getRegisteredModel("tft"))?.aliases, { challenger: "2" });
  // Deleting an alias that is not set is not an error.
  await tracker.deleteAlias("tft", "champion");

  await rejectsWith(tracker.setAlias("tft", "champion", "7"), "TRACKING_NOT_FOUND", /"tft" has no version "7"/);
  await rejectsWith(tracker.setAlias("tft", "champion", "abc"), "TRACKING_NOT_FOUND");
  await rejectsWith(tracker.setAlias("tft", "latest", "1"), "TRACKING_INVALID", /reserved/);
  await rejectsWith(tracker.setAlias("tft", "v3", "1"), "TRACKING_INVALID", /reserved/);
  await rejectsWith(tracker.setAlias("tft", "has space", "1"), "TRACKING_INVALID");

  const missing = /no registered model "missing"/;
  await rejectsWith(
    tracker.createModelVersion("missing", { runId: run.id, artifactPath: "m" }),
    "TRACKING_NOT_FOUND",
    missing,
  );
  await rejectsWith(tracker.setAlias("missing", "champion", "1"), "TRACKING_NOT_FOUND", missing);
  await rejectsWith(tracker.deleteAlias("missing", "champion"), "TRACKING_NOT_FOUND", missing);
  // Lookups answer null for a model never registered, as getModelVersion does.
  assert.equal(await tracker.getVersionByAlias("missing", "champion"), null);
  assert.equal(await tracker.latestModelVersion("missing"), null);
  await rejectsWith(
    tracker.createModelVersion("tft", { runId: "missing", artifactPath: "m" }),
    "TRACKING_NOT_FOUND",
    /no run "missing"/,
  );
  await rejectsWith(tracker.getOrCreateRegisteredModel(" "), "TRACKING_INVALID");
  // A refused version took no number.
  assert.equal((await tracker.createModelVersion("tft", { runId: run.id, artifactPath: "m" })).version, "3");
});

// ---------------------------------------------------------------------------------------------------
// Several processes at once: real child processes, each with its own connection to the same file.

/** The child's program: it loads the tracker by absolute path and does what its JSON argument says. */
const workerScript = `
import { createRequire } from "node:module";
import { localTracker } from ${JSON.stringify(localModule)};
import { fsStore } from ${JSON.stringify(fsModule)};

const config = JSON.parse(process.argv[2]);
const send = (message) => process.stdout.write(JSON.stringify(message) + "\\n");
const tracker = localTracker({ databasePath: config.databasePath, store: fsStore({ root: config.storeRoot }), bucket: config.bucket });
const metrics = (key, from, count, value) =>
  Array.from({ length: count }, (_, i) => ({ key, value: value(from + i), step: from + i, timestamp: 1700000000000 + from + i }));

// Everyone starts at the same moment: loading tsx takes long enough to stagger the children otherwise.
send({ ready: true });
await new Promise((resolve) => process.stdin.once("data", resolve));
const worker = config.worker;

if (config.mode === "race") {
  const experiment = await tracker.getOrCreateExperiment("race", { by: String(worker) });
  const run = await tracker.startRun(experiment.id, { name: "worker-" + worker });
  await tracker.logBatch(run.id, { params: { worker: String(worker) } });
  for (let step = 0; step < 500; step += 25) {
    await tracker.logBatch(run.id, { metrics: metrics("loss", step, 25, (s) => worker + s / 1000) });
  }
  await tracker.getOrCreateRegisteredModel("demand", { by: String(worker) });
  const versions = [];
  for (let i = 0; i < 3; i++) {
    versions.push((await tracker.createModelVersion("demand", { runId: run.id, artifactPath: "model" })).version);
  }
  await tracker.endRun(run.id, "FINISHED");
  send({ experimentId: experiment.id, runId: run.id, versions });
} else if (config.mode === "shared") {
  for (let step = 0; step < 500; step += 20) {
    await tracker.logBatch(config.runId, {
      metrics: metrics("loss", step, 20, (s) => worker * 1000 + s),
      params: { ["worker-" + worker]: "yes", shared: "same" },
      tags: { last: String(worker) },
    });
  }
  send({ done: true });
} else if (config.mode === "crash") {
  const experiment = await tracker.getOrCreateExperiment("crash");
  const run = await tracker.startRun(experiment.id);
  send({ runId: run.id });
  for (let batch = 0; ; batch++) {
    await tracker.logBatch(run.id, { metrics: metrics("loss", batch * 1000, 1000, (s) => s) });
    send({ batches: batch + 1 });
  }
} else if (config.mode === "hold") {
  // Holds the write lock, as a long transaction of another process would.
  const Database = createRequire(config.projectFile)("better-sqlite3");
  const db = new Database(config.databasePath);
  db.exec("BEGIN IMMEDIATE");
  send({ locked: true });
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, config.holdMs);
  db.exec("COMMIT");
  db.close();
  send({ released: true });
}
process.stdin.destroy();
`;

interface Child {
  child: ChildProcess;
  /** Resolves with the first message the predicate accepts; rejects if the child exits first. */
  message<T = Record<string, unknown>>(predicate: (message: Record<string, unknown>) => boolean): Promise<T>;
  go(): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

async function writeWorker(dir: string): Promise<string> {
  const file = path.join(dir, "worker.mjs");
  await fsp.writeFile(file, workerScript);
  return file;
}

function startChild(t: TestContext, script: string, config: Record<string, unknown>): Child {
  const child = spawn(process.execPath, ["--import", tsx, script, JSON.stringify(config)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const messages: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stdout = "";
  let stderr = "";
  let closed = false;
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    const lines = stdout.split("\n");
    stdout = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") messages.push(JSON.parse(line) as Record<string, unknown>);
    for (const waiter of [...waiters]) waiter();
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.once("close", (code, signal) => {
      closed = true;
      for (const waiter of [...waiters]) waiter();
      resolve({ code, signal, stderr });
    });
  });
  return {
    child,
    exited,
    go: () => child.stdin?.write("go\n"),
    message<T>(predicate: (message: Record<string, unknown>) => boolean): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          const found = messages.find(predicate);
          if (found !== undefined) {
            waiters.delete(check);
            resolve(found as T);
          } else if (closed) {
            waiters.delete(check);
            reject(new Error(`the child exited before the expected message; stderr:\n${stderr}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Starts the children, waits until each is loaded, then lets them all go at once. */
async function startTogether(children: Child[]): Promise<void> {
  await Promise.all(children.map((c) => c.message((m) => m.ready === true)));
  for (const c of children) c.go();
}

async function finish(child: Child): Promise<void> {
  const { code, stderr } = await child.exited;
  assert.equal(code, 0, `a child failed:\n${stderr}`);
}

test("local: processes racing on a fresh database share one experiment and model, lose no metric, and never reuse a version", async (t) => {
  const { dir, databasePath, storeRoot, tracker } = await setup(t);
  const script = await writeWorker(dir);
  const workers = 4;
  // No database yet: the children also race to create the file and its schema.
  assert.equal(existsSync(databasePath), false);
  const children = Array.from({ length: workers }, (_, worker) =>
    startChild(t, script, { mode: "race", worker, databasePath, storeRoot, bucket: BUCKET }),
  );
  await startTogether(children);
  const results = await Promise.all(
    children.map((c) => c.message<{ experimentId: string; runId: string; versions: string[] }>((m) => "runId" in m)),
  );
  await Promise.all(children.map(finish));

  const experiment = await tracker.getExperimentByName("race");
  assert.ok(experiment);
  for (const result of results) assert.equal(result.experimentId, experiment.id);
  // The tags of whoever created it, and only theirs.
  assert.equal(Object.keys(experiment.tags).length, 1);

  const runs = await tracker.searchRuns([experiment.id]);
  assert.equal(runs.length, workers);
  assert.deepEqual(new Set(runs.map((r) => r.id)), new Set(results.map((r) => r.runId)));
  for (const run of runs) {
    assert.equal(run.status, "FINISHED");
    const history = await tracker.metricHistory(run.id, "loss");
    assert.equal(history.length, 500);
    assert.deepEqual(
      history.map((m) => m.step),
      Array.from({ length: 500 }, (_, i) => i),
    );
    assert.equal((await tracker.getRun(run.id))?.metrics.loss?.step, 499);
  }

  const versions = results.flatMap((r) => r.versions).map(Number);
  assert.deepEqual(
    [...versions].sort((a, b) => a - b),
    Array.from({ length: workers * 3 }, (_, i) => i + 1),
  );
  // Each process saw its own versions in increasing order.
  for (const result of results) {
    const mine = result.versions.map(Number);
    assert.deepEqual(
      mine,
      [...mine].sort((a, b) => a - b),
    );
  }
  assert.equal((await tracker.latestModelVersion("demand"))?.version, String(workers * 3));
  assert.equal(Object.keys((await tracker.getRegisteredModel("demand"))?.tags ?? {}).length, 1);
});

test("local: processes logging to the same run at once lose nothing", async (t) => {
  const { dir, databasePath, storeRoot, tracker } = await setup(t);
  const script = await writeWorker(dir);
  const experiment = await tracker.getOrCreateExperiment("shared");
  const run = await tracker.startRun(experiment.id);
  const workers = 4;
  const children = Array.from({ length: workers }, (_, worker) =>
    startChild(t, script, { mode: "shared", worker, runId: run.id, databasePath, storeRoot, bucket: BUCKET }),
  );
  await startTogether(children);
  await Promise.all(children.map(finish));

  const history = await tracker.metricHistory(run.id, "loss");
  assert.equal(history.length, workers * 500);
  for (let worker = 0; worker < workers; worker++) {
    const mine = history.filter((m) => m.value >= worker * 1000 && m.value < (worker + 1) * 1000);
    assert.equal(mine.length, 500, `worker ${worker} lost metrics`);
  }
  const logged = await tracker.getRun(run.id);
  assert.deepEqual(logged?.params, {
    shared: "same",
    ...Object.fromEntries(Array.from({ length: workers }, (_, w) => [`worker-${w}`, "yes"])),
  });
  assert.match(logged?.tags.last ?? "", /^[0-3]$/);
  assert.equal(logged?.metrics.loss?.step, 499);
  assert.equal(logged?.metrics.loss?.value, (workers - 1) * 1000 + 499);
});

test("local: a writer killed mid-way leaves a sound database, whole batches, and its run RUNNING", async (t) => {
  const { dir, databasePath, storeRoot, open } = await setup(t);
  const script = await writeWorker(dir);
  const child = startChild(t, script, { mode: "crash", worker: 0, databasePath, storeRoot, bucket: BUCKET });
  await startTogether([child]);
  const { runId } = await child.message<{ runId: string }>((m) => "runId" in m);
  await child.message((m) => m.batches === 5);
  child.child.kill("SIGKILL");
  const { signal } = await child.exited;
  assert.equal(signal, "SIGKILL");

  const raw = new Database(databasePath);
  try {
    assert.deepEqual(raw.pragma("integrity_check"), [{ integrity_check: "ok" }]);
    assert.deepEqual(raw.pragma("foreign_key_check"), []);
  } finally {
    raw.close();
  }

  const tracker = open();
  const run = await tracker.getRun(runId);
  // Repairing the run is the caller's business: the tracker leaves it as the writer left it.
  assert.equal(run?.info.status, "RUNNING");
  assert.equal(run?.info.endTime, undefined);
  const history = await tracker.metricHistory(runId, "loss");
  assert.ok(history.length >= 5000, `only ${history.length} metrics`);
  assert.equal(history.length % 1000, 0, "a batch was half written");
  assert.equal(run?.metrics.loss?.step, history.length - 1);

  // The database takes writes again, and the caller can mark the run.
  await tracker.logBatch(runId, { metrics: [metric("after", 1, 0)] });
  await tracker.endRun(runId, "KILLED");
  assert.equal((await tracker.getRun(runId))?.info.status, "KILLED");
});

test("local: a write waits for another process's transaction, and says so when it waits too long", async (t) => {
  const { dir, databasePath, storeRoot, tracker, open } = await setup(t);
  const script = await writeWorker(dir);
  const experiment = await tracker.getOrCreateExperiment("busy");
  const run = await tracker.startRun(experiment.id);
  const config = { mode: "hold", worker: 0, databasePath, storeRoot, bucket: BUCKET, projectFile };

  const holder = startChild(t, script, { ...config, holdMs: 800 });
  await startTogether([holder]);
  await holder.message((m) => m.locked === true);
  const started = performance.now();
  await tracker.logBatch(run.id, { metrics: [metric("loss", 1, 0)] });
  assert.ok(performance.now() - started > 300, "the write did not wait for the lock");
  await finish(holder);
  assert.equal((await tracker.metricHistory(run.id, "loss")).length, 1);

  const impatient = open({ busyTimeoutMs: 100 });
  await impatient.getRun(run.id);
  const longHolder = startChild(t, script, { ...config, holdMs: 1500 });
  await startTogether([longHolder]);
  await longHolder.message((m) => m.locked === true);
  await rejectsWith(
    impatient.logBatch(run.id, { metrics: [metric("loss", 2, 1)] }),
    "TRACKING_FAILED",
    /another process kept the tracking database .* locked for more than 100 ms/,
  );
  // Reading does not need the lock.
  assert.equal((await impatient.getRun(run.id))?.info.status, "RUNNING");
  await finish(longHolder);
  await impatient.logBatch(run.id, { metrics: [metric("loss", 2, 1)] });
  assert.equal((await tracker.metricHistory(run.id, "loss")).length, 2);
});
