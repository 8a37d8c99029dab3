/**
 * The data pipeline as the runners drive it: `tdf data synth` and `tdf task <name>` in real child
 * processes on the embedded store, two transforms at once, each output equal to an in-process run.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createLogger } from "../../src/core/logger.js";
import { consolidate } from "../../src/data/consolidate.js";
import type { DataContext } from "../../src/data/context.js";
import { openEngine, sqlString } from "../../src/data/engine.js";
import { segmentSkus } from "../../src/data/segment.js";
import { transformEvents } from "../../src/data/transform-events.js";
import { transformPrices } from "../../src/data/transform-prices.js";
import { transformProducts } from "../../src/data/transform-products.js";
import { transformSales } from "../../src/data/transform-sales.js";
import { validateRawData } from "../../src/data/validate.js";
import { fsStore } from "../../src/storage/fs.js";

const entry = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));
const tsx = import.meta.resolve("tsx");

let cwd: string;
before(async () => {
  cwd = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-data-cli-"));
});
after(async () => {
  await fsp.rm(cwd, { recursive: true, force: true });
});

function tdf(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", tsx, entry, ...args],
      { cwd, env: { PATH: process.env.PATH ?? "", TDF_LOG_LEVEL: "warn" }, encoding: "utf8" },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const task = (name: string, runId: string) => tdf(["task", name, "--client", "acme", "--run-id", runId]);

/** The same task run in this process, on the same store, under another run id. */
async function inProcess(runId: string, run: (context: DataContext) => Promise<unknown>): Promise<void> {
  const workDir = await fsp.mkdtemp(path.join(cwd, "work-"));
  await run({
    store: fsStore({ root: path.join(cwd, ".tdf", "store") }),
    trainingBucket: "training-data",
    pipelineBucket: "data-pipeline",
    client: "acme",
    runId,
    workDir,
    logger: createLogger({ level: "silent" }),
  });
}

/** A Parquet output's rows in a canonical order, as JSON lines. */
async function content(runId: string, name: string): Promise<string[]> {
  const file = path.join(cwd, ".tdf", "store", "data-pipeline", "acme", runId, name);
  const engine = await openEngine({ workDir: cwd, threads: 1 });
  try {
    const rows = await engine.rows(`SELECT * FROM read_parquet(${sqlString(file)}) ORDER BY ALL`);
    return rows.map((r) => JSON.stringify(r));
  } finally {
    engine.close();
  }
}

test("tdf data synth; tdf task runs two transforms at once in two processes, as a local run would; a failure's message", async () => {
  // A client without data fails validation (exit 1, the problem on stderr) while another is synthesised.
  const [synth, empty] = await Promise.all([
    tdf(["data", "synth", "--client", "acme", "--skus", "25", "--days", "120", "--seed", "9"]),
    tdf(["task", "validate", "--client", "nobody", "--run-id", "r"]),
  ]);
  assert.equal(empty.code, 1, empty.stderr);
  assert.match(empty.stderr, /tdf: The raw data in training-data\/nobody\/raw\/ has 1 problem; nothing was written\./);
  assert.match(empty.stderr, /sales\.csv: is missing: put the sales history at training-data\/nobody\/raw\/sales\.csv/);
  assert.equal(synth.code, 0, synth.stderr);
  const made = JSON.parse(synth.stdout);
  assert.equal(made.files.sales, "acme/raw/sales.csv");
  assert.equal(made.skus, 25);

  await inProcess("cli", validateRawData);
  const [sales, prices] = await Promise.all([task("transform-sales", "cli"), task("transform_prices", "cli")]);
  assert.equal(sales.code, 0, sales.stderr);
  assert.equal(prices.code, 0, prices.stderr);

  await inProcess("local", validateRawData);
  await inProcess("local", transformSales);
  await inProcess("local", transformPrices);
  assert.deepEqual(await content("cli", "sales.parquet"), await content("local", "sales.parquet"));
  assert.deepEqual(await content("cli", "prices.parquet"), await content("local", "prices.parquet"));
  assert.ok((await content("cli", "sales.parquet")).length > 25 * 60);

  for (const run of [transformProducts, transformEvents, segmentSkus, consolidate]) await inProcess("cli", run);
  const latest = JSON.parse(
    await fsp.readFile(path.join(cwd, ".tdf", "store", "data-pipeline", "acme", "latest.json"), "utf8"),
  );
  assert.equal(latest.runId, "cli");
  assert.equal(latest.summary, "acme/cli/consolidated/summary.json");
});
