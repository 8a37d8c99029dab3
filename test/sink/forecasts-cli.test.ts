/** `tdf forecasts show` as a user runs it: a real child process reading SQLite, and PostgreSQL when a test server runs. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { postgresSink } from "../../src/sink/postgres.js";
import { sqliteSink } from "../../src/sink/sqlite.js";
import type { ForecastRow, ForecastSink, StoredForecast } from "../../src/sink/types.js";
import { createTestDatabase, postgresSkipReason } from "../helpers/postgres-server.js";
import { put } from "./forecast-sink.contract.js";

const entry = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));
const tsx = import.meta.resolve("tsx");
let cwd: string;

function tdf(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ["--import", tsx, entry, "forecasts", "show", ...args],
      { cwd, env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8" },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const forecast = (sku: string, step: number, p50: number, modelType: ForecastRow["modelType"]): ForecastRow => ({
  sku,
  modelType,
  forecastDate: `2024-07-${String(step).padStart(2, "0")}`,
  step,
  quantiles: { "0.1": p50 - 1.5, "0.5": p50, "0.9": p50 + 2.25 },
  coldStart: sku === "NEW-1",
});

async function seed(sink: ForecastSink): Promise<void> {
  await put(sink, "acme", "run-old", [
    {
      modelName: "acme-top_seller",
      modelVersion: "1",
      codeSha: undefined,
      rows: [forecast("A-1", 1, 10, "top_seller")],
    },
  ]);
  // created_at has millisecond resolution: keep the runs apart so "newest" is unambiguous.
  await new Promise((resolve) => setTimeout(resolve, 5));
  await put(sink, "acme", "run-new", [
    {
      modelName: "acme-top_seller",
      modelVersion: "4",
      codeSha: "abc",
      rows: [1, 2, 3].map((step) => forecast("A-1", step, 100 + step, "top_seller")),
    },
    {
      modelName: "acme-long_tail",
      modelVersion: "2",
      codeSha: "abc",
      rows: [forecast("NEW-1", 1, 3, "long_tail"), forecast("B-7", 1, 4, "long_tail")],
    },
  ]);
}

before(async () => {
  cwd = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-cli-forecasts-"));
  const sink = sqliteSink({ path: path.join(cwd, ".tdf", "forecasts.db") });
  await seed(sink);
  await sink.close();
});
after(() => fsp.rm(cwd, { recursive: true, force: true }));

test("show prints the newest run as a table: sku, date, step, P10/P50/P90, model version, cold start", async () => {
  const result = await tdf(["--client", "acme"]);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.split("\n");
  assert.match(lines[0] ?? "", /^client acme · run run-new · exported \d{4}-\d\d-\d\dT\S+Z · .*\.tdf\/forecasts\.db$/);
  assert.match(lines[2] ?? "", /^SKU +DATE +STEP +P10 +P50 +P90 +MODEL +COLD START$/);
  assert.deepEqual(
    lines.slice(3, -1).map((l) => l.split(/ {2,}/)),
    [
      ["A-1", "2024-07-01", "1", "99.50", "101.00", "103.25", "acme-top_seller v4", "no"],
      ["A-1", "2024-07-02", "2", "100.50", "102.00", "104.25", "acme-top_seller v4", "no"],
      ["A-1", "2024-07-03", "3", "101.50", "103.00", "105.25", "acme-top_seller v4", "no"],
      ["B-7", "2024-07-01", "1", "2.50", "4.00", "6.25", "acme-long_tail v2", "no"],
      ["NEW-1", "2024-07-01", "1", "1.50", "3.00", "5.25", "acme-long_tail v2", "yes"],
    ],
  );
});

test("show filters by sku, model type and run; --limit says when rows were left out", async () => {
  const bySku = await tdf(["--client", "acme", "--sku", "B-7"]);
  assert.equal(bySku.code, 0, bySku.stderr);
  assert.deepEqual(
    bySku.stdout
      .split("\n")
      .slice(3, -1)
      .map((l) => l.split(/ {2,}/)[0]),
    ["B-7"],
  );
  const old = await tdf(["--client", "acme", "--run", "run-old", "--json"]);
  assert.equal(old.code, 0, old.stderr);
  const rows = old.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as StoredForecast);
  assert.deepEqual(
    rows.map((r) => [r.pipelineRunId, r.sku, r.p50, r.modelVersion, r.codeSha]),
    [["run-old", "A-1", 10, "1", null]],
  );
  const limited = await tdf(["--client", "acme", "--model-type", "top_seller", "--limit", "2", "--json"]);
  assert.equal(limited.code, 0, limited.stderr);
  assert.deepEqual(
    limited.stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as StoredForecast).step),
    [1, 2],
  );
  assert.match(limited.stderr, /^\(2 rows shown; raise --limit to see more\)$/m);
});

test("show fails in one sentence when nothing matches, and on bad usage", async () => {
  const none = await tdf(["--client", "acme", "--sku", "ZZZ"]);
  assert.equal(none.code, 1);
  assert.match(
    none.stderr,
    /^tdf: No forecasts for client acme \(sku ZZZ\) in .*forecasts\.db; run the inference pipeline/,
  );
  const badLimit = await tdf(["--client", "acme", "--limit", "ten"]);
  assert.equal(badLimit.code, 2);
  assert.match(badLimit.stderr, /--limit must be a whole number/);
  const badType = await tdf(["--client", "acme", "--model-type", "bestseller"]);
  assert.equal(badType.code, 2);
});

test("show against an unreachable PostgreSQL names the server, never the password", async () => {
  const result = await tdf(["--client", "acme"], {
    DATABASE_URL: "postgres://forecaster:s3cr3t-pw@127.0.0.1:1/forecasts",
  });
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /PostgreSQL at 127\.0\.0\.1:1 \(database forecasts\) cannot be reached \(connection refused\)/,
  );
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  assert.ok(!result.stderr.includes("s3cr3t-pw"));
});

test("show reads PostgreSQL when DATABASE_URL is set", { skip: postgresSkipReason() }, async () => {
  const database = await createTestDatabase();
  try {
    const sink = postgresSink({ url: database.url });
    await seed(sink);
    await sink.close();
    const result = await tdf(["--client", "acme", "--sku", "NEW-1"], { DATABASE_URL: database.url });
    assert.equal(result.code, 0, result.stderr);
    const url = new URL(database.url);
    assert.ok(result.stdout.startsWith(`client acme · run run-new · exported `), result.stdout);
    assert.ok(result.stdout.includes(`postgres://${url.username}@${url.host}${url.pathname}`));
    assert.ok(!result.stdout.includes(url.password));
    assert.deepEqual(result.stdout.split("\n")[3]?.split(/ {2,}/), [
      "NEW-1",
      "2024-07-01",
      "1",
      "1.50",
      "3.00",
      "5.25",
      "acme-long_tail v2",
      "yes",
    ]);
  } finally {
    await database.drop();
  }
});
