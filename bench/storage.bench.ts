/**
 * `npm run bench:storage`: put and get of a large object (256 MiB by default) through each
 * ObjectStore driver, against a plain file copy (`cp`) of the same bytes, in the same run.
 *
 * Two more baselines put the figures in context: a Node.js stream copy (the same bytes through user
 * space, as any store must move them) and curl against the same S3 server (the server's own ceiling,
 * so the S3 driver's overhead shows apart from the server's speed).
 *
 * Each driver operation runs in a fresh process (`storage-worker.mjs`) so its peak RSS is its own, on
 * the drivers bundled as production runs them (JavaScript, no TypeScript loader inflating the
 * figures). Runs are interleaved and repeated; medians are reported. Prints one JSON line. The S3
 * driver talks to the real server of `scripts/s3-test-server.sh` (TDF_TEST_S3_*), or starts one.
 *
 * Environment: BENCH_SIZE_MIB (default 256), BENCH_RUNS (default 5).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { build } from "esbuild";
import { s3Store } from "../src/storage/s3.js";
import { median, repo, round, s3ServerForBench } from "./common.js";

const MiB = 1024 * 1024;
const workerScript = path.join(repo, "bench", "storage-worker.mjs");
// Inside node_modules, so that the bundles find the packages they leave external (the AWS SDK).
const driversDir = path.join(repo, "node_modules", ".cache", "tdf-bench-storage");

/** The two drivers as the worker loads them: one ES module each, packages external. */
async function bundleDrivers(): Promise<void> {
  await build({
    entryPoints: { fs: "src/storage/fs.ts", s3: "src/storage/s3.ts" },
    absWorkingDir: repo,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    packages: "external",
    outdir: driversDir,
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
}

interface Sample {
  seconds: number;
  peakRssMiB?: number;
}
type Op = "cp" | "stream-copy" | "curl-put" | "curl-get" | "fs-put" | "fs-get" | "s3-put" | "s3-get";

function timed(command: string, args: string[], input?: string): Sample {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, {
    input,
    stdio: [input === undefined ? "ignore" : "pipe", "ignore", "inherit"],
  });
  if (result.status !== 0) throw new Error(`${command} failed with status ${result.status}`);
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

function run(op: Op, dir: string, bucket: string): Sample {
  const source = path.join(dir, "source.bin");
  const target = path.join(dir, `target-${op}.bin`);
  const env = process.env;
  // curl signs with SigV4 like the SDK; radosgw wants the payload-hash header curl 7.88 omits. The
  // key pair goes in on standard input (-K -), never on a command line that `ps` shows.
  const curl = (extra: string[]) =>
    timed(
      "curl",
      [
        "-sSf",
        "-K",
        "-",
        "--aws-sigv4",
        `aws:amz:${env.TDF_TEST_S3_REGION}:s3`,
        "-H",
        "x-amz-content-sha256: UNSIGNED-PAYLOAD",
        ...extra,
        `${env.TDF_TEST_S3_ENDPOINT}/${bucket}/bench/curl.bin`,
      ],
      `user = "${env.TDF_TEST_S3_ACCESS_KEY_ID}:${env.TDF_TEST_S3_SECRET_ACCESS_KEY}"\n`,
    );
  try {
    if (op === "cp") return timed("cp", [source, target]);
    if (op === "curl-put") return curl(["-T", source]);
    if (op === "curl-get") return curl(["-o", target]);
    const out = execFileSync(process.execPath, [workerScript, op, dir, bucket, driversDir], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    return JSON.parse(out) as Sample;
  } finally {
    spawnSync("rm", ["-f", target]);
  }
}

async function main(): Promise<void> {
  const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 256);
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-bench-storage-"));
  const server = s3ServerForBench();
  const _env = process.env;
  const s3 = s3Store(server);
  const bucket = `tdf-bench-${randomBytes(4).toString("hex")}`;
  await bundleDrivers();
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
    await fsp.mkdir(path.join(dir, "store", bucket), { recursive: true });
    await s3.ensureBucket(bucket);

    const ops: Op[] = ["cp", "stream-copy", "fs-put", "fs-get", "curl-put", "curl-get", "s3-put", "s3-get"];
    const samples = new Map<Op, Sample[]>(ops.map((op) => [op, []]));
    for (let i = 0; i < runs; i++) for (const op of ops) samples.get(op)?.push(run(op, dir, bucket));

    const rate = (op: Op) => sizeMiB / median((samples.get(op) ?? []).map((s) => s.seconds));
    const rss = (op: Op) => round(Math.max(...(samples.get(op) ?? []).map((s) => s.peakRssMiB ?? 0)), 1);
    const cp = rate("cp");
    const driver = (name: "fs" | "s3") => ({
      putMiBps: round(rate(`${name}-put`)),
      getMiBps: round(rate(`${name}-get`)),
      putVsCp: round(rate(`${name}-put`) / cp, 3),
      getVsCp: round(rate(`${name}-get`) / cp, 3),
      putVsStreamCopy: round(rate(`${name}-put`) / rate("stream-copy"), 3),
      getVsStreamCopy: round(rate(`${name}-get`) / rate("stream-copy"), 3),
      putPeakRssMiB: rss(`${name}-put`),
      getPeakRssMiB: rss(`${name}-get`),
    });
    const result = {
      bench: "storage",
      sizeMiB,
      runs,
      statistic: "median",
      baseline: {
        cpMiBps: round(cp),
        streamCopyMiBps: round(rate("stream-copy")),
        streamCopyPeakRssMiB: rss("stream-copy"),
      },
      fs: driver("fs"),
      s3: {
        ...driver("s3"),
        curlPutMiBps: round(rate("curl-put")),
        curlGetMiBps: round(rate("curl-get")),
        putVsCurl: round(rate("s3-put") / rate("curl-put"), 3),
        getVsCurl: round(rate("s3-get") / rate("curl-get"), 3),
      },
      targets: { minRatioVsCp: 0.5, maxPeakRssMiB: 150 },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    for (const key of ["bench/object.bin", "bench/curl.bin"]) await s3.delete(bucket, key).catch(() => {});
    await fsp.rm(dir, { recursive: true, force: true });
    server.stop();
  }
}

await main();
