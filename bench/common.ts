/** What every benchmark shares: medians, rounding, and a real S3 server to measure against. */
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// The SDK warns on every run under Node.js 20 about its future releases (see README).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export const round = (x: number, digits = 4) => Number(x.toFixed(digits));

export interface BenchS3Server {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Stops the server if this run started it. */
  stop(): void;
}

/**
 * The real S3 server to measure against: the one in TDF_TEST_S3_*, or one started for this run with
 * `scripts/s3-test-server.sh` (and stopped by `stop`).
 */
export function s3ServerForBench(): BenchS3Server {
  let stop = () => {};
  if (!process.env.TDF_TEST_S3_ENDPOINT) {
    const script = path.join(repo, "scripts", "s3-test-server.sh");
    const dir = path.join(os.tmpdir(), `tdf-bench-s3-${process.pid}`);
    const started = spawnSync("bash", [script, "start", dir], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    if (started.status !== 0) throw new Error(`could not start the S3 test server (${script})`);
    for (const match of started.stdout.matchAll(/^export (TDF_TEST_S3_\w+)=(.*)$/gm)) {
      process.env[match[1] as string] = (match[2] as string).replace(/^['"]|['"]$/g, "");
    }
    stop = () => spawnSync("bash", [script, "stop", dir], { stdio: "inherit" });
  }
  const env = process.env;
  return {
    endpoint: env.TDF_TEST_S3_ENDPOINT ?? "",
    region: env.TDF_TEST_S3_REGION ?? "garage",
    accessKeyId: env.TDF_TEST_S3_ACCESS_KEY_ID ?? "",
    secretAccessKey: env.TDF_TEST_S3_SECRET_ACCESS_KEY ?? "",
    stop,
  };
}
