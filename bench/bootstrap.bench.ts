/**
 * `npm run bench:bootstrap`: how fast a container gets from "start" to running the task.
 *
 * Cold start: resolve + download + verify + unpack of this project's own package from the S3 server
 * on loopback, as the bootstrap reports it (`startupSeconds`, measured inside the process from its
 * first line of code to spawning the task), against `curl -s URL | tar xz` of the same object. The
 * whole-process wall time (Node.js start-up included) is reported too.
 *
 * Warm start: a cached version, pinned by full SHA (as every task after `resolve_code` runs), timed
 * from spawning `tdf-bootstrap` to the task's first line on standard output, against `node -e 0`;
 * running the task directly (`node dist/cli/bin.js --version`) is reported beside, for context.
 *
 * Runs are interleaved and repeated; medians are reported; one JSON line. The S3 server is the one in
 * TDF_TEST_S3_*, or one started for the run. Environment: BENCH_RUNS (default 9).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { publish } from "../src/codepkg/publish.js";
import { s3Store } from "../src/storage/s3.js";
import { median, repo, round, s3ServerForBench } from "./common.js";

const bootstrapBin = path.join(repo, "dist", "bootstrap-bundle", "bin.cjs");

/** Runs a command; resolves with the time to its first stdout line, its total time, and its stderr. */
function timedRun(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
): Promise<{ firstLine: number; total: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    const child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let firstLine = Number.NaN;
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      if (Number.isNaN(firstLine) && chunk.includes(10)) firstLine = elapsed();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdin.end(input ?? "");
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`${command} exited with ${code}: ${stderr.slice(-2000)}`));
      else resolve({ firstLine, total: elapsed(), stderr });
    });
  });
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 9);
  const server = s3ServerForBench();
  const env = process.env;
  const store = s3Store(server);
  const bucket = `tdf-bench-boot-${randomBytes(4).toString("hex")}`;
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-bench-bootstrap-"));
  try {
    await store.ensureBucket(bucket);
    const { sha, manifest } = await publish({ store, bucket, root: repo, allowDirty: true });
    const childEnv: NodeJS.ProcessEnv = {
      PATH: env.PATH,
      HOME: dir,
      TDF_HOME: path.join(dir, "home"),
      GARAGE_ENDPOINT: server.endpoint,
      GARAGE_REGION: server.region,
      GARAGE_AIRFLOW_ACCESS_KEY_ID: server.accessKeyId,
      GARAGE_AIRFLOW_SECRET_ACCESS_KEY: server.secretAccessKey,
      GARAGE_CODE_BUCKET: bucket,
      TDF_LOG_LEVEL: "info",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    };
    const url = `${server.endpoint}/${bucket}/${manifest.archive.key}`;
    const curlConfig = `user = "${server.accessKeyId}:${server.secretAccessKey}"\n`;
    const warmCache = path.join(dir, "warm-cache");
    const bootstrapArgs = (cache: string) => [
      bootstrapBin,
      "--code-version",
      sha,
      "--cache-dir",
      cache,
      "--",
      "--version",
    ];
    await timedRun(process.execPath, bootstrapArgs(warmCache), childEnv);

    const samples = {
      coldStartup: [] as number[],
      coldWall: [] as number[],
      curlTar: [] as number[],
      warmFirstLine: [] as number[],
      nodeE0: [] as number[],
      taskDirect: [] as number[],
    };
    for (let i = 0; i < runs; i++) {
      const cold = path.join(dir, `cold-${i}`);
      const run = await timedRun(process.execPath, bootstrapArgs(cold), childEnv);
      const startup = /"startupSeconds":([\d.]+)/.exec(run.stderr);
      if (!startup) throw new Error(`no startupSeconds in the bootstrap's log:\n${run.stderr}`);
      samples.coldStartup.push(Number(startup[1]));
      samples.coldWall.push(run.firstLine);
      await fsp.rm(cold, { recursive: true, force: true });

      const target = path.join(dir, `tar-${i}`);
      await fsp.mkdir(target);
      // The same signed GET the SDK makes (credentials on stdin), piped into tar.
      const pipe =
        `curl -sSf -K - --aws-sigv4 "aws:amz:${server.region}:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "${url}"` +
        ` | tar xz -C "${target}"; echo done`;
      samples.curlTar.push((await timedRun("bash", ["-o", "pipefail", "-c", pipe], childEnv, curlConfig)).firstLine);
      await fsp.rm(target, { recursive: true, force: true });

      samples.warmFirstLine.push((await timedRun(process.execPath, bootstrapArgs(warmCache), childEnv)).firstLine);
      samples.nodeE0.push((await timedRun(process.execPath, ["-e", "console.log(0)"], childEnv)).firstLine);
      samples.taskDirect.push(
        (await timedRun(process.execPath, [path.join(warmCache, sha, "dist", "cli", "bin.js"), "--version"], childEnv))
          .firstLine,
      );
    }
    const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) as Record<
      keyof typeof samples,
      number
    >;
    const result = {
      bench: "bootstrap",
      runs,
      statistic: "median",
      package: { files: manifest.archive.fileCount, archiveBytes: manifest.archive.size },
      cold: {
        startupSeconds: round(m.coldStartup),
        curlTarSeconds: round(m.curlTar),
        startupVsCurlTar: round(m.coldStartup / m.curlTar, 3),
        wallSecondsToFirstLine: round(m.coldWall),
      },
      warm: {
        secondsToFirstLine: round(m.warmFirstLine),
        nodeE0Seconds: round(m.nodeE0),
        overheadVsNodeE0Ms: round((m.warmFirstLine - m.nodeE0) * 1000, 1),
        taskDirectSeconds: round(m.taskDirect),
        overheadVsTaskDirectMs: round((m.warmFirstLine - m.taskDirect) * 1000, 1),
      },
      targets: { coldMaxRatio: 1.3, warmMaxOverheadMs: 150 },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    const keys: string[] = [];
    for await (const entry of store.list(bucket)) keys.push(entry.key);
    await Promise.all(keys.map((key) => store.delete(bucket, key)));
    await fsp.rm(dir, { recursive: true, force: true });
    server.stop();
  }
}

await main();
