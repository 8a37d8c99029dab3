/**
 * `npm run bench:codepkg`: pack + publish of this project's own build (the repository after
 * `npm run build`) to a real S3 server, against `tar czf` of the same files plus one plain upload of
 * the result with curl, in the same run. Prints one JSON line.
 *
 * What is measured:
 * - publish: one `publish()` call, in process, on a fresh bucket where the SHA is not yet published,
 *   so the whole path runs: git facts, file collection and secret scan, deterministic tar.gz, upload,
 *   read-back validation, release record, `code-latest.tar.gz` copy, latest pointer.
 * - republish: a second `publish()` right after on the same bucket: the dedup path (no pack, no
 *   upload, no download: the stored archive is trusted once its ETag, the MD5 the store computed,
 *   equals the manifest's; git is not started, as nothing new is published). What it does: read and
 *   hash the files, and three reads from the store (pointer, manifest, HEAD of the archive).
 * - pack: `pack()` alone into a temporary folder, to tell local work from store round trips.
 *
 * Why the baseline is fair: it is the least any "pack and publish" must do with the same tools a
 * shell script would use. `tar czf` gets the exact file list the package holds (`collectFiles`, as
 * publish uses it) and compresses with gzip as pack does; `curl -T` uploads the result once, signed
 * with SigV4, to the same server and bucket kind. It skips what publish adds on purpose (git status,
 * secret scan, content hash, deterministic entries, validation, release log, pointer), which is what
 * the ratio prices. Both sides are timed from the outside with process.hrtime.bigint; the baseline
 * pays two process starts, publish pays none (the S3 client is warmed by one untimed round first,
 * whose cold publish time is reported apart). Runs are interleaved, the order alternating per run;
 * medians are reported.
 *
 * The checkout may have uncommitted changes while this runs: publish is called with
 * `allowDirty: true` (the bench measures speed, not policy), and the JSON says so. The S3 server is
 * the one in TDF_TEST_S3_* (`scripts/s3-test-server.sh`), or one started for this run.
 *
 * Environment: BENCH_RUNS (default 7).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { collectFiles, pack } from "../src/codepkg/pack.js";
import { publish } from "../src/codepkg/publish.js";
import { s3Store } from "../src/storage/s3.js";
import type { ObjectStore } from "../src/storage/types.js";
import { median, repo, round, s3ServerForBench } from "./common.js";

const now = () => process.hrtime.bigint();
const secondsSince = (started: bigint) => Number(now() - started) / 1e9;

async function timed<T>(action: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = now();
  const value = await action();
  return { seconds: secondsSince(started), value };
}

function check(command: string, result: ReturnType<typeof spawnSync>): void {
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} failed with status ${result.status}`);
}

/**
 * curl against the test server, signed with SigV4 like the SDK; radosgw wants the payload-hash header
 * curl 7.88 omits. The key pair goes in a config on stdin, so the secret is never on a command line.
 */
function curl(args: string[], url: string): void {
  const env = process.env;
  const quote = (s: string) => s.replace(/[\\"]/g, (c) => `\\${c}`);
  const config = `user = "${quote(`${env.TDF_TEST_S3_ACCESS_KEY_ID}:${env.TDF_TEST_S3_SECRET_ACCESS_KEY}`)}"\n`;
  const result = spawnSync(
    "curl",
    [
      "-sSf",
      "-K",
      "-",
      "--aws-sigv4",
      `aws:amz:${env.TDF_TEST_S3_REGION ?? "garage"}:s3`,
      "-H",
      "x-amz-content-sha256: UNSIGNED-PAYLOAD",
      ...args,
      url,
    ],
    { input: config, stdio: ["pipe", "ignore", "inherit"] },
  );
  check("curl", result);
}

/** The baseline: `tar czf` of the package's files, then one plain upload of the result. */
function baseline(dir: string, listFile: string, bucket: string): number {
  const archive = path.join(dir, "base.tar.gz");
  const started = now();
  check("tar", spawnSync("tar", ["-czf", archive, "--null", "-T", listFile], { cwd: repo, stdio: "inherit" }));
  curl(["-T", archive], `${process.env.TDF_TEST_S3_ENDPOINT}/${bucket}/bench/base.tar.gz`);
  return secondsSince(started);
}

/** Empties a bench bucket and deletes it, so the server's memory store does not fill up. */
async function dropBucket(store: ObjectStore, bucket: string): Promise<void> {
  const keys: string[] = [];
  for await (const entry of store.list(bucket)) keys.push(entry.key);
  for (const key of keys) await store.delete(bucket, key);
  curl(["-X", "DELETE"], `${process.env.TDF_TEST_S3_ENDPOINT}/${bucket}`);
}

interface Round {
  baseline: number;
  publish: number;
  republish: number;
  pack: number;
  uploaded: boolean;
  /** The second publish took the dedup path: it returned the stored manifest, packed and uploaded nothing. */
  deduped: boolean;
  archiveBytes: number;
  fileCount: number;
  dirty: boolean;
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 7);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-bench-codepkg-"));
  const server = s3ServerForBench();
  const env = process.env;
  const store = s3Store({
    endpoint: env.TDF_TEST_S3_ENDPOINT ?? "",
    region: env.TDF_TEST_S3_REGION ?? "garage",
    accessKeyId: env.TDF_TEST_S3_ACCESS_KEY_ID ?? "",
    secretAccessKey: env.TDF_TEST_S3_SECRET_ACCESS_KEY ?? "",
  });
  const runId = randomBytes(4).toString("hex");
  const live = new Set<string>();
  try {
    // The exact files the package holds, in its order, as a NUL-separated list for tar.
    const { files } = await collectFiles(repo, []);
    const listFile = path.join(dir, "files.list");
    await fsp.writeFile(listFile, `${files.map((f) => f.path).join("\0")}\0`);
    const sourceBytes = files.reduce((sum, f) => sum + f.content.length, 0);

    const oneRound = async (i: number): Promise<Round> => {
      const bucket = `tdf-bench-code-${runId}-${i < 0 ? "warmup" : i}`;
      live.add(bucket);
      await store.ensureBucket(bucket);
      const publishing = async () => {
        const first = await timed(() => publish({ store, bucket, root: repo, allowDirty: true }));
        const second = await timed(() => publish({ store, bucket, root: repo, allowDirty: true }));
        return { first, second };
      };
      let base: number;
      let pub: Awaited<ReturnType<typeof publishing>>;
      // Alternate which side goes first, so neither always runs on a warmer cache.
      if (i % 2 === 0) {
        base = baseline(dir, listFile, bucket);
        pub = await publishing();
      } else {
        pub = await publishing();
        base = baseline(dir, listFile, bucket);
      }
      const outDir = path.join(dir, `pack-${i}`);
      const packed = await timed(() => pack({ root: repo, outDir }));
      await fsp.rm(outDir, { recursive: true, force: true });
      await dropBucket(store, bucket);
      live.delete(bucket);
      const manifest = pub.first.value.manifest;
      return {
        baseline: base,
        publish: pub.first.seconds,
        republish: pub.second.seconds,
        pack: packed.seconds,
        uploaded: pub.first.value.uploaded,
        deduped: !pub.second.value.uploaded && pub.second.value.manifest.createdAt === manifest.createdAt,
        archiveBytes: manifest.archive.size,
        fileCount: manifest.archive.fileCount,
        dirty: manifest.git.dirty,
      };
    };

    // One untimed round first: module loading, the SDK's lazy set-up, the first connection.
    const warmup = await oneRound(-1);
    const rounds: Round[] = [];
    for (let i = 0; i < runs; i++) rounds.push(await oneRound(i));

    if (rounds.some((r) => !r.uploaded))
      throw new Error("a first publish found its SHA already published; the bucket was not fresh");
    // If the tree changed between the two calls (someone rebuilt), the republish was no dedup.
    const dedupEveryRun = rounds.every((r) => r.deduped);

    const med = (pick: (r: Round) => number) => median(rounds.map(pick));
    const baseS = med((r) => r.baseline);
    const publishS = med((r) => r.publish);
    const republishS = med((r) => r.republish);
    const last = rounds[rounds.length - 1] ?? warmup;
    const ratios = {
      publishVsBaseline: round(publishS / baseS, 3),
      republishVsBaseline: round(republishS / baseS, 3),
      packVsBaseline: round(med((r) => r.pack) / baseS, 3),
    };
    const targets = { publishMaxRatio: 1.5, republishMaxRatio: 0.2 };
    const result = {
      bench: "codepkg",
      runs,
      statistic: "median",
      store: "s3",
      allowDirty: true,
      checkoutDirty: rounds.some((r) => r.dirty),
      package: {
        fileCount: last.fileCount,
        sourceBytes,
        archiveBytes: last.archiveBytes,
      },
      baseline: {
        tarCzfPlusCurlPutSeconds: round(baseS),
      },
      publishSeconds: round(publishS),
      republishSeconds: round(republishS),
      packSeconds: round(med((r) => r.pack)),
      coldPublishSeconds: round(warmup.publish),
      dedupEveryRun,
      ...ratios,
      targets,
      met: {
        publish: ratios.publishVsBaseline <= targets.publishMaxRatio,
        republish: ratios.republishVsBaseline <= targets.republishMaxRatio,
      },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    for (const bucket of live) await dropBucket(store, bucket).catch(() => {});
    await fsp.rm(dir, { recursive: true, force: true });
    server.stop();
  }
}

await main();
