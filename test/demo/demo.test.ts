/**
 * The README's first command, end to end in its small form: `tdf demo --small` from the built package
 * with no services and no configuration — synthetic data, this checkout published to the embedded
 * store, the three pipelines through the local runner and the real bootstrap, forecasts in SQLite,
 * a summary and report.html.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { loadConfig } from "../../src/core/config.js";
import { trainingTags } from "../../src/pipelines/training-tasks.js";
import { openSink } from "../../src/sink/index.js";
import { modelVersionsByCodeSha, openTracker } from "../../src/tracking/index.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const tdf = path.join(root, "bin", "tdf.js");

let cwd: string;
let home: string;
let result: { stdout: string; stderr: string };

before(async () => {
  await fsp.access(path.join(root, "dist", "cli", "bin.js")).catch(() => {
    throw new Error("dist/ is missing: run `npm run build` (npm ci does) before the demo test.");
  });
  cwd = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-demo-test-"));
  home = path.join(cwd, ".tdf");
  // Only what a newcomer's shell has: no TDF_*, GARAGE_*, MLFLOW_*, DATABASE_URL or TRAINING_*.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(TDF_|GARAGE_|MLFLOW_|DATABASE_URL|TRAINING_|AWS_)/.test(k)),
  );
  result = await run(process.execPath, [tdf, "demo", "--small"], {
    cwd,
    env: { ...env, TDF_LOG_LEVEL: "warn" },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 600_000,
  });
});

after(async () => {
  if (cwd) await fsp.rm(cwd, { recursive: true, force: true });
});

test("the summary compares the TFT with the baselines for both segments and times each pipeline", () => {
  for (const segment of ["top_seller", "long_tail"]) {
    assert.match(result.stdout, new RegExp(`^${segment}: \\d+ SKUs forecast, model version 1$`, "m"));
  }
  for (const method of ["tft", "seasonal_naive", "croston", "tsb"]) {
    assert.match(result.stdout, new RegExp(`^  ${method} +\\d+\\.\\d{3} +\\d+\\.\\d{3}`, "m"));
  }
  for (const pipeline of ["data_transformation", "training", "inference"]) {
    assert.match(result.stdout, new RegExp(`^${pipeline} +success +\\d+\\.\\d s$`, "m"));
  }
});

test("the forecasts are in the embedded database: every SKU, the whole horizon, ordered quantiles, none negative", async () => {
  const config = loadConfig({ TDF_HOME: home }, cwd);
  const sink = await openSink(config);
  try {
    const rows = await sink.read({ client: "demo" });
    const exported = Number(/^forecast rows exported: (\d+)$/m.exec(result.stdout)?.[1]);
    assert.equal(rows.length, exported);
    assert.ok(rows.length > 0);
    const steps = new Map<string, number>();
    for (const row of rows) {
      assert.ok(row.p10 >= 0 && row.p10 <= row.p50 && row.p50 <= row.p90, `${row.sku} ${row.forecastDate}`);
      steps.set(row.sku, (steps.get(row.sku) ?? 0) + 1);
    }
    // Every SKU is forecast over the same horizon.
    assert.equal(new Set(steps.values()).size, 1);
  } finally {
    await sink.close();
  }
});

test("report.html is written, self-contained, with a chart per top SKU", async () => {
  const html = await fsp.readFile(path.join(home, "report.html"), "utf8");
  assert.doesNotMatch(html, /<script|<link|https?:\/\//i);
  assert.ok((html.match(/class="band"/g) ?? []).length >= 2);
  assert.match(html, /Loss per epoch/);
  assert.match(html, /Encoder variables/);
});

test("each pipeline ran through the runner and left its record", async () => {
  const runs = await fsp.readdir(path.join(home, "runs"));
  const records = await Promise.all(
    runs.map(async (id) => JSON.parse(await fsp.readFile(path.join(home, "runs", id, "run.json"), "utf8"))),
  );
  assert.deepEqual(records.map((r) => r.pipeline).sort(), ["data_transformation", "inference", "training"]);
  for (const record of records) assert.equal(record.state, "success");
  // One code version for all: the checkout the demo published.
  assert.equal(new Set(records.map((r) => r.code.sha)).size, 1);
});

test("the registered models name the code they were trained with, so gc keeps that code", async () => {
  const runs = await fsp.readdir(path.join(home, "runs"));
  const record = JSON.parse(await fsp.readFile(path.join(home, "runs", runs[0] as string, "run.json"), "utf8"));
  const config = loadConfig({ TDF_HOME: home }, cwd);
  const tracker = await openTracker(config);
  const bySha = await modelVersionsByCodeSha(tracker, trainingTags.codeSha);
  assert.deepEqual([...bySha.keys()], [record.code.sha]);
  const versions = bySha.get(record.code.sha) ?? [];
  assert.deepEqual(versions.map((v) => v.name).sort(), ["demo-long_tail", "demo-top_seller"]);
  for (const version of versions)
    assert.equal(version.tags[trainingTags.codeSha], record.code.sha, "on the version itself");
});
