/**
 * The one contract every Tracker driver must pass: the local driver (SQLite + object store) and the
 * MLflow driver (against the fake MLflow server, with proxied and with S3 artifacts).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Tracker } from "../../src/tracking/types.js";
import { rejectsWith } from "../helpers/assertions.js";

export interface TrackerFixture {
  tracker: Tracker;
  teardown?: () => Promise<void>;
}

export function trackerContract(name: string, setup: () => Promise<TrackerFixture>): void {
  describe(`Tracker contract: ${name}`, () => {
    let fixture: TrackerFixture;
    let tracker: Tracker;
    let tmp: string;
    const unique = () => randomBytes(4).toString("hex");

    before(async () => {
      fixture = await setup();
      tracker = fixture.tracker;
      tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-tracker-"));
    });
    after(async () => {
      await fixture?.teardown?.();
      if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
    });

    test("experiments: absent is null; get-or-create is idempotent, also when callers race", async () => {
      const name = `acme-${unique()}/top_seller`;
      assert.equal(await tracker.getExperimentByName(name), null);
      const created = await Promise.all(
        Array.from({ length: 5 }, () => tracker.getOrCreateExperiment(name, { client: "acme" })),
      );
      assert.equal(new Set(created.map((e) => e.id)).size, 1, "racing creators got different experiments");
      const found = await tracker.getExperimentByName(name);
      assert.equal(found?.id, created[0]?.id);
      assert.equal(found?.name, name);
      assert.ok(found?.artifactLocation);
    });

    test("runs: start, log, read back, end, search newest first with a status filter", async () => {
      const experiment = await tracker.getOrCreateExperiment(`runs-${unique()}`);
      const first = await tracker.startRun(experiment.id, {
        name: "first",
        tags: { "tdf.client": "acme" },
        startTime: 1_000,
      });
      assert.equal(first.status, "RUNNING");
      assert.equal(first.experimentId, experiment.id);
      assert.ok(first.artifactUri.length > 0);
      await tracker.logBatch(first.id, {
        params: { learning_rate: "0.01", epochs: "5" },
        tags: { stage: "a" },
        metrics: [
          { key: "val_loss", value: 0.9, timestamp: 2_000, step: 0 },
          { key: "val_loss", value: 0.5, timestamp: 3_000, step: 1 },
        ],
      });
      await tracker.logBatch(first.id, { tags: { stage: "b" }, params: { epochs: "5" } });
      const run = await tracker.getRun(first.id);
      assert.ok(run);
      assert.deepEqual(run.params, { learning_rate: "0.01", epochs: "5" });
      assert.equal(run.tags.stage, "b", "tags overwrite");
      assert.equal(run.tags["tdf.client"], "acme");
      assert.equal(run.metrics.val_loss?.value, 0.5, "the latest value by step");
      assert.deepEqual(
        (await tracker.metricHistory(first.id, "val_loss")).map((m) => [m.step, m.value]),
        [
          [0, 0.9],
          [1, 0.5],
        ],
      );
      await tracker.endRun(first.id, "FINISHED", 4_000);
      const ended = await tracker.getRun(first.id);
      assert.equal(ended?.info.status, "FINISHED");
      assert.equal(ended?.info.endTime, 4_000);

      const second = await tracker.startRun(experiment.id, { name: "second", startTime: 5_000 });
      await tracker.endRun(second.id, "FAILED", 6_000);
      assert.deepEqual(
        (await tracker.searchRuns([experiment.id])).map((r) => r.id),
        [second.id, first.id],
      );
      assert.deepEqual(
        (await tracker.searchRuns([experiment.id], { status: "FAILED" })).map((r) => r.id),
        [second.id],
      );
      assert.equal(await tracker.getRun("0123456789abcdef0123456789abcdef"), null);
    });

    test("a param is write-once: the same value again is fine, another value is refused", async () => {
      const experiment = await tracker.getOrCreateExperiment(`params-${unique()}`);
      const run = await tracker.startRun(experiment.id);
      await tracker.logBatch(run.id, { params: { hidden_size: "16" } });
      await tracker.logBatch(run.id, { params: { hidden_size: "16" } });
      await assert.rejects(
        tracker.logBatch(run.id, { params: { hidden_size: "32" } }),
        rejectsWith("TRACKING_CONFLICT", /hidden_size/),
      );
      assert.equal((await tracker.getRun(run.id))?.params.hidden_size, "16");
    });

    test("MLflow's limits are checked before anything is written", async () => {
      const experiment = await tracker.getOrCreateExperiment(`limits-${unique()}`);
      const run = await tracker.startRun(experiment.id);
      const tooLong = "k".repeat(251);
      await assert.rejects(
        tracker.logBatch(run.id, { params: { ok: "1", [tooLong]: "x" } }),
        rejectsWith("TRACKING_INVALID", /250/),
      );
      await assert.rejects(
        tracker.logBatch(run.id, { params: { big: "v".repeat(6001) } }),
        rejectsWith("TRACKING_INVALID", /6000/),
      );
      await assert.rejects(
        tracker.logBatch(run.id, { tags: { big: "v".repeat(5001) } }),
        rejectsWith("TRACKING_INVALID", /5000/),
      );
      await assert.rejects(
        tracker.logBatch(run.id, { metrics: [{ key: "loss", value: Number.NaN, timestamp: 1, step: 0 }] }),
        rejectsWith("TRACKING_INVALID"),
      );
      await assert.rejects(tracker.logBatch(run.id, { params: { "bad key!": "1" } }), rejectsWith("TRACKING_INVALID"));
      assert.deepEqual((await tracker.getRun(run.id))?.params, {}, "nothing of a refused batch was written");
    });

    test("a batch over MLflow's per-request limits is split and stored whole", async () => {
      const experiment = await tracker.getOrCreateExperiment(`batch-${unique()}`);
      const run = await tracker.startRun(experiment.id);
      const metrics = Array.from({ length: 2500 }, (_, i) => ({
        key: "loss",
        value: i / 10,
        timestamp: 1_000 + i,
        step: i,
      }));
      const params = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`p${i}`, String(i)]));
      const tags = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`t${i}`, String(i)]));
      await tracker.logBatch(run.id, { metrics, params, tags });
      const stored = await tracker.getRun(run.id);
      assert.equal(Object.keys(stored?.params ?? {}).length, 150);
      assert.equal(Object.keys(stored?.tags ?? {}).filter((k) => /^t\d+$/.test(k)).length, 150);
      const history = await tracker.metricHistory(run.id, "loss");
      assert.equal(history.length, 2500);
      assert.equal(stored?.metrics.loss?.step, 2499);
    });

    test("artifacts: a file and a folder go up, list by level, and come back intact", async () => {
      const experiment = await tracker.getOrCreateExperiment(`artifacts-${unique()}`);
      const run = await tracker.startRun(experiment.id);
      const source = path.join(tmp, `model-${unique()}`);
      await fsp.mkdir(path.join(source, "weights"), { recursive: true });
      await fsp.writeFile(path.join(source, "model.json"), '{"layers":3}');
      await fsp.writeFile(path.join(source, "weights", "group1.bin"), randomBytes(70_000));
      await fsp.writeFile(path.join(tmp, "report.html"), "<html></html>");
      await tracker.logArtifacts(run.id, source, "model");
      await tracker.logArtifacts(run.id, path.join(tmp, "report.html"));

      const root = await tracker.listArtifacts(run.id);
      assert.deepEqual(root.map((e) => [e.path, e.isDir]).sort(), [
        ["model", true],
        ["report.html", false],
      ]);
      const model = await tracker.listArtifacts(run.id, "model");
      assert.deepEqual(model.map((e) => [e.path, e.isDir, e.isDir ? undefined : e.size]).sort(), [
        ["model/model.json", false, 12],
        ["model/weights", true, undefined],
      ]);

      const out = path.join(tmp, `download-${unique()}`);
      const folder = await tracker.downloadArtifacts(run.id, "model", out);
      assert.equal(await fsp.readFile(path.join(folder, "model.json"), "utf8"), '{"layers":3}');
      assert.deepEqual(
        await fsp.readFile(path.join(folder, "weights", "group1.bin")),
        await fsp.readFile(path.join(source, "weights", "group1.bin")),
      );
      assert.equal(folder, path.join(out, "model"), "a folder lands at its own path under the destination");
      const file = await tracker.downloadArtifacts(run.id, "report.html", path.join(tmp, `file-${unique()}`));
      assert.equal(await fsp.readFile(file, "utf8"), "<html></html>");
      const nestedOut = path.join(tmp, `nested-${unique()}`);
      const nested = await tracker.downloadArtifacts(run.id, "model/weights", nestedOut);
      assert.equal(nested, path.join(nestedOut, "model", "weights"));
      assert.equal((await fsp.readFile(path.join(nested, "group1.bin"))).length, 70_000);
      await assert.rejects(
        tracker.downloadArtifacts(run.id, "missing/thing", path.join(tmp, "x")),
        rejectsWith("TRACKING_NOT_FOUND"),
      );
    });

    test("registry: models, versions from a run, aliases set, moved, read and deleted", async () => {
      const experiment = await tracker.getOrCreateExperiment(`registry-${unique()}`);
      const run = await tracker.startRun(experiment.id);
      const name = `acme-${unique()}-top_seller`;
      assert.equal(await tracker.getRegisteredModel(name), null);
      assert.equal(await tracker.latestModelVersion(name), null);
      const [model] = await Promise.all([
        tracker.getOrCreateRegisteredModel(name),
        tracker.getOrCreateRegisteredModel(name),
      ]);
      assert.equal(model.name, name);

      const v1 = await tracker.createModelVersion(name, { runId: run.id, artifactPath: "model" });
      const v2 = await tracker.createModelVersion(name, {
        runId: run.id,
        artifactPath: "model",
        tags: { note: "retrained" },
      });
      assert.deepEqual([v1.version, v2.version], ["1", "2"]);
      assert.equal(v1.runId, run.id);
      assert.ok(v1.source.length > 0);
      assert.equal((await tracker.getModelVersion(name, "2"))?.tags.note, "retrained");
      assert.equal(await tracker.getModelVersion(name, "9"), null);
      assert.equal((await tracker.latestModelVersion(name))?.version, "2");

      assert.equal(await tracker.getVersionByAlias(name, "champion"), null);
      await tracker.setAlias(name, "champion", "1");
      assert.equal((await tracker.getVersionByAlias(name, "champion"))?.version, "1");
      await tracker.setAlias(name, "champion", "2");
      await tracker.setAlias(name, "challenger", "1");
      assert.equal((await tracker.getVersionByAlias(name, "champion"))?.version, "2");
      assert.deepEqual((await tracker.getRegisteredModel(name))?.aliases, { champion: "2", challenger: "1" });
      await tracker.deleteAlias(name, "challenger");
      assert.equal(await tracker.getVersionByAlias(name, "challenger"), null);
      assert.deepEqual((await tracker.getRegisteredModel(name))?.aliases, { champion: "2" });
    });
  });
}
