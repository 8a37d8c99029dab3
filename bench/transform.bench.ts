/**
 * `npm run bench:transform`: the whole data transformation of a synthetic client (10,000 SKUs × 1,000
 * days by default) by the pipeline's tasks (TypeScript + DuckDB) against the same transformation in
 * pandas (`bench/transform_pandas.py`, Debian's python3-pandas), on the same input files, in the same
 * run.
 *
 * The input is synthesised once and cached under the system's temporary folder. Each side runs in
 * its own process (this file with `--worker` runs the tasks as the pipeline orders them: validate,
 * the four transforms at once, segment, consolidate, on an embedded store), alternating, `BENCH_RUNS`
 * times each; peak RSS is each process's maximum resident set (/usr/bin/time -v). Seconds are the
 * processing time each side reports (from reading the inputs to the outputs written; interpreter
 * start-up excluded on both sides). Prints one JSON line: rows/s, median seconds, peak RSS, ratios.
 *
 * Environment: BENCH_SKUS (10000), BENCH_DAYS (1000), BENCH_RUNS (3), BENCH_PYTHON (/usr/bin/python3).
 */
import { spawnSync } from "node:child_process";
import { createReadStream, existsSync } from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { median, repo, round } from "./common.js";

const sources = ["sales", "products", "prices", "events"] as const;

async function worker(input: string, scratch: string): Promise<void> {
  const { createLogger } = await import("../src/core/logger.js");
  const { fsStore } = await import("../src/storage/fs.js");
  const { validateRawData } = await import("../src/data/validate.js");
  const { transformSales } = await import("../src/data/transform-sales.js");
  const { transformProducts } = await import("../src/data/transform-products.js");
  const { transformPrices } = await import("../src/data/transform-prices.js");
  const { transformEvents } = await import("../src/data/transform-events.js");
  const { segmentSkus } = await import("../src/data/segment.js");
  const { consolidate } = await import("../src/data/consolidate.js");
  const store = fsStore({ root: path.join(scratch, "store") });
  await store.ensureBucket("training-data");
  await store.ensureBucket("data-pipeline");
  for (const source of sources) {
    await store.put("training-data", `bench/raw/${source}.csv`, createReadStream(path.join(input, `${source}.csv`)));
  }
  await store.put("training-data", "bench/client.json", await fsp.readFile(path.join(input, "client.json")));
  const logger = createLogger({ level: "warn" });
  const context = async () => ({
    store,
    trainingBucket: "training-data",
    pipelineBucket: "data-pipeline",
    client: "bench",
    runId: "bench",
    workDir: await fsp.mkdtemp(path.join(scratch, "task-")),
    logger,
  });

  const started = process.hrtime.bigint();
  await validateRawData(await context());
  await Promise.all([
    transformSales(await context()).then(async () => segmentSkus(await context())),
    transformProducts(await context()),
    transformPrices(await context()),
    transformEvents(await context()),
  ]);
  const summary = await consolidate(await context());
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({ seconds, rows: summary.rows })}\n`);
}

interface Sample {
  seconds: number;
  /** User + system CPU of the whole process (start-up included): fair when other work shares the machine. */
  cpuSeconds: number;
  peakRssMiB: number;
  rows: Record<string, number>;
}

/** Runs a command under /usr/bin/time -v: its last stdout line (JSON), its peak RSS and CPU seconds. */
function measured(
  command: string,
  args: string[],
): { output: Record<string, unknown>; peakRssMiB: number; cpuSeconds: number } {
  const result = spawnSync("/usr/bin/time", ["-v", command, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${result.status}):\n${result.stderr.slice(-4000)}`);
  }
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr);
  const cpu = (name: string) =>
    Number(new RegExp(`${name} time \\(seconds\\): ([\\d.]+)`).exec(result.stderr)?.[1] ?? 0);
  const last = result.stdout.trim().split("\n").at(-1) ?? "{}";
  return {
    output: JSON.parse(last),
    peakRssMiB: Number(rss?.[1] ?? 0) / 1024,
    cpuSeconds: cpu("User") + cpu("System"),
  };
}

async function main(): Promise<void> {
  const skus = Number(process.env.BENCH_SKUS ?? 10_000);
  const days = Number(process.env.BENCH_DAYS ?? 1_000);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const python = process.env.BENCH_PYTHON ?? "/usr/bin/python3";
  const seed = 1;

  const pandasVersion = spawnSync(python, ["-c", "import pandas; print(pandas.__version__)"], { encoding: "utf8" });
  if (pandasVersion.status !== 0) {
    throw new Error(
      `${python} cannot import pandas; install Debian's python3-pandas (apt-get install python3-pandas).`,
    );
  }

  const input = path.join(os.tmpdir(), `tdf-bench-transform-${skus}x${days}-seed${seed}`);
  const marker = path.join(input, "synthesis.json");
  if (!existsSync(marker)) {
    const { writeSyntheticData } = await import("../src/data/synthesize.js");
    process.stderr.write(`synthesising ${skus} SKUs × ${days} days into ${input} (once) …\n`);
    const result = await writeSyntheticData(input, { skus, days, seed });
    await fsp.writeFile(marker, JSON.stringify(result));
  }
  const synthesis = JSON.parse(await fsp.readFile(marker, "utf8")) as { rows: Record<string, number> };

  const self = fileURLToPath(import.meta.url);
  const tsx = import.meta.resolve("tsx");
  const samples: { tdf: Sample[]; pandas: Sample[] } = { tdf: [], pandas: [] };
  for (let run = 0; run < runs; run++) {
    for (const side of ["tdf", "pandas"] as const) {
      const scratch = await fsp.mkdtemp(path.join(os.tmpdir(), `tdf-bench-transform-${side}-`));
      try {
        const { output, peakRssMiB, cpuSeconds } =
          side === "tdf"
            ? measured(process.execPath, ["--import", tsx, self, "--worker", input, scratch])
            : measured(python, [path.join(repo, "bench", "transform_pandas.py"), input, scratch]);
        const phases = output.seconds as number | Record<string, number>;
        const seconds = typeof phases === "number" ? phases : Object.values(phases).reduce((a, b) => a + b, 0);
        samples[side].push({ seconds, cpuSeconds, peakRssMiB, rows: output.rows as Record<string, number> });
        process.stderr.write(
          `${side} run ${run + 1}: ${seconds.toFixed(1)} s, ${cpuSeconds.toFixed(1)} s CPU, ${peakRssMiB.toFixed(0)} MiB\n`,
        );
      } finally {
        await fsp.rm(scratch, { recursive: true, force: true });
      }
    }
  }

  const inputRows = synthesis.rows.sales ?? 0;
  const summarise = (list: Sample[]) => {
    const seconds = median(list.map((s) => s.seconds));
    return {
      medianSeconds: round(seconds, 2),
      medianCpuSeconds: round(median(list.map((s) => s.cpuSeconds)), 2),
      rowsPerSecond: Math.round(inputRows / seconds),
      peakRssMiB: Math.round(Math.max(...list.map((s) => s.peakRssMiB))),
      seconds: list.map((s) => round(s.seconds, 2)),
    };
  };
  const tdf = summarise(samples.tdf);
  const pandas = summarise(samples.pandas);
  const speedup = pandas.medianSeconds / tdf.medianSeconds;
  const memoryRatio = tdf.peakRssMiB / pandas.peakRssMiB;
  const outputRows = samples.tdf[0]?.rows ?? {};
  const sameRows = JSON.stringify(outputRows) === JSON.stringify(samples.pandas[0]?.rows ?? {});
  process.stdout.write(
    `${JSON.stringify({
      bench: "transform",
      skus,
      days,
      runs,
      inputRows: synthesis.rows,
      outputRows,
      sameOutputRowsAsPandas: sameRows,
      tdf: { engine: "DuckDB (@duckdb/node-api)", ...tdf },
      pandas: { version: pandasVersion.stdout.trim(), ...pandas },
      speedup: round(speedup, 2),
      cpuRatio: round(pandas.medianCpuSeconds / tdf.medianCpuSeconds, 2),
      memoryRatio: round(memoryRatio, 2),
      target: { speedup: 3, memoryRatio: 1 },
      met: speedup >= 3 && memoryRatio <= 1,
    })}\n`,
  );
}

if (process.argv[2] === "--worker") {
  await worker(process.argv[3] as string, process.argv[4] as string);
} else {
  await main();
}
