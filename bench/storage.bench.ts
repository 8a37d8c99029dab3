/**
 * `npm run bench:storage`: put and get of a large object (256 MiB by default) through each
 * ObjectStore driver, against a plain file copy of the same bytes, in the same run.
 *
 * Every operation runs in a fresh child process so its peak RSS is its own; the runs are interleaved
 * and repeated, and the medians are reported (machines here are shared and noisy). Prints one JSON
 * line. The S3 driver talks to the real S3 server of `scripts/s3-test-server.sh` (TDF_TEST_S3_*), or
 * starts one for the run.
 *
 * Environment: BENCH_SIZE_MIB (default 256), BENCH_RUNS (default 3).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import type { ObjectStore } from "../src/storage/types.js";

const MiB = 1024 * 1024;
const self = fileURLToPath(import.meta.url);
const repo = path.resolve(path.dirname(self), "..");

type Op = "copy-file" | "stream-copy" | "fs-put" | "fs-get" | "s3-put" | "s3-get";
interface Sample {
  seconds: number;
  peakRssMiB: number;
}

async function openStore(driver: "fs" | "s3", root: string): Promise<ObjectStore> {
  if (driver === "fs") {
    const { fsStore } = await import("../src/storage/fs.js");
    return fsStore({ root });
  }
  const { s3Store } = await import("../src/storage/s3.js");
  const env = process.env;
  return s3Store({
    endpoint: env.TDF_TEST_S3_ENDPOINT ?? "",
    region: env.TDF_TEST_S3_REGION ?? "garage",
    accessKeyId: env.TDF_TEST_S3_ACCESS_KEY_ID ?? "",
    secretAccessKey: env.TDF_TEST_S3_SECRET_ACCESS_KEY ?? "",
  });
}

/** One timed operation, in this (child) process. */
async function worker(op: Op, dir: string, bucket: string): Promise<Sample> {
  const source = path.join(dir, "source.bin");
  const target = path.join(dir, `target-${op}.bin`);
  const driver = op.startsWith("s3") ? "s3" : "fs";
  const store = op.endsWith("put") || op.endsWith("get") ? await openStore(driver, path.join(dir, "store")) : undefined;
  const started = process.hrtime.bigint();
  if (op === "copy-file") await fsp.copyFile(source, target);
  else if (op === "stream-copy") await pipeline(createReadStream(source), createWriteStream(target));
  else if (op.endsWith("put")) await store?.put(bucket, "bench/object.bin", createReadStream(source));
  else {
    const object = await store?.get(bucket, "bench/object.bin");
    if (!object) throw new Error("the benchmark object is missing");
    await pipeline(object.body, createWriteStream(target));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await fsp.rm(target, { force: true });
  return { seconds, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
}

function runWorker(op: Op, dir: string, bucket: string): Sample {
  const out = execFileSync(process.execPath, ["--import", "tsx", self, "--worker", op, dir, bucket], {
    cwd: repo,
    encoding: "utf8",
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(out) as Sample;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};
const round = (x: number, digits = 2) => Number(x.toFixed(digits));

/** Makes sure a real S3 server is there: the one in TDF_TEST_S3_*, or one started for this run. */
function ensureS3Server(): (() => void) | undefined {
  if (process.env.TDF_TEST_S3_ENDPOINT) return undefined;
  const script = path.join(repo, "scripts", "s3-test-server.sh");
  const dir = path.join(os.tmpdir(), `tdf-bench-s3-${process.pid}`);
  const started = spawnSync("bash", [script, "start", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (started.status !== 0) throw new Error(`could not start the S3 test server (${script})`);
  for (const match of started.stdout.matchAll(/^export (TDF_TEST_S3_\w+)=(.*)$/gm)) {
    process.env[match[1] as string] = (match[2] as string).replace(/^['"]|['"]$/g, "");
  }
  return () => spawnSync("bash", [script, "stop", dir], { stdio: "inherit" });
}

async function main(): Promise<void> {
  const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 256);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-bench-storage-"));
  const stopServer = ensureS3Server();
  const bucket = `tdf-bench-${randomBytes(4).toString("hex")}`;
  try {
    // Random bytes, so nothing along the way can compress or deduplicate them.
    await pipeline(
      Readable.from(
        (function* () {
          for (let i = 0; i < sizeMiB; i++) yield randomBytes(MiB);
        })(),
      ),
      createWriteStream(path.join(dir, "source.bin")),
    );
    for (const driver of ["fs", "s3"] as const)
      await (await openStore(driver, path.join(dir, "store"))).ensureBucket(bucket);

    const ops: Op[] = ["copy-file", "stream-copy", "fs-put", "fs-get", "s3-put", "s3-get"];
    const samples = new Map<Op, Sample[]>(ops.map((op) => [op, []]));
    for (let run = 0; run < runs; run++) {
      for (const op of ops) samples.get(op)?.push(runWorker(op, dir, bucket));
    }
    const rate = (op: Op) => sizeMiB / median((samples.get(op) ?? []).map((s) => s.seconds));
    const rss = (op: Op) => round(Math.max(...(samples.get(op) ?? []).map((s) => s.peakRssMiB)), 1);
    const baseline = rate("copy-file");
    const driverFigures = (driver: "fs" | "s3") => ({
      putMiBps: round(rate(`${driver}-put`)),
      getMiBps: round(rate(`${driver}-get`)),
      putVsCopy: round(rate(`${driver}-put`) / baseline, 3),
      getVsCopy: round(rate(`${driver}-get`) / baseline, 3),
      putPeakRssMiB: rss(`${driver}-put`),
      getPeakRssMiB: rss(`${driver}-get`),
    });
    const result = {
      bench: "storage",
      sizeMiB,
      runs,
      statistic: "median",
      baseline: {
        copyFileMiBps: round(baseline),
        streamCopyMiBps: round(rate("stream-copy")),
        streamCopyPeakRssMiB: rss("stream-copy"),
      },
      fs: driverFigures("fs"),
      s3: { endpoint: process.env.TDF_TEST_S3_ENDPOINT, ...driverFigures("s3") },
      targets: { minRatioVsCopy: 0.5, maxPeakRssMiB: 150 },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await (await openStore("s3", dir)).delete(bucket, "bench/object.bin").catch(() => {});
    await fsp.rm(dir, { recursive: true, force: true });
    stopServer?.();
  }
}

if (process.argv[2] === "--worker") {
  const [op, dir, bucket] = process.argv.slice(3) as [Op, string, string];
  process.stdout.write(JSON.stringify(await worker(op, dir, bucket)));
} else {
  await main();
}
