/**
 * The bootstrap: turn a code version into verified code on disk, then run the task from it.
 *
 *   resolve  → latest through the pointer, a prefix through the release log, a full SHA as is
 *   cache    → a verified version already unpacked is reused without any download
 *   download → to a temporary file, hashing; retried on transient failures
 *   verify   → sha256 against the manifest, the signature, the dependency hash
 *   unpack   → into a staging folder, renamed into the cache only when complete
 *   run      → a child process on the manifest's entry
 *
 * Each phase logs one structured line with its figures; the last line gives the task's exit status
 * and the whole start-up overhead. With metrics enabled the same figures go to a JSON file.
 *
 * `resolveOnly` is Airflow's first task: it turns the version into a SHA and the image tag that runs
 * it, from the manifest alone, so every later task of the run starts the right image on that SHA.
 */
import type { KeyObject } from "node:crypto";
import { createReadStream } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { baseImageTag } from "../codepkg/deps-hash.js";
import { archiveKey, isFullSha, manifestKey, signatureKey } from "../codepkg/layout.js";
import { type Manifest, parseManifest } from "../codepkg/manifest.js";
import { resolveSha, resolveVersion } from "../codepkg/resolve.js";
import { loadVerifyKey, verifyManifestSignature } from "../codepkg/signing.js";
import type { Logger } from "../core/logger.js";
import { StorageError } from "../storage/errors.js";
import type { ObjectStore } from "../storage/types.js";
import { createCodeCache, removeFile } from "./cache.js";
import { BootstrapError } from "./errors.js";
import { runTask } from "./run-task.js";
import type { UnpackLimits } from "./unpack.js";
import { type TrustOptions, verifyTrust } from "./verify.js";

export interface BootstrapOptions {
  /** `latest`, a full SHA, or a unique prefix of at least 7 characters. */
  codeVersion: string;
  /** The task's command, handed to the code's entry. */
  command: readonly string[];
  /** Opened only when the store is needed: a cached full SHA starts without loading the S3 client. */
  openStore: () => Promise<ObjectStore>;
  bucket: string;
  cacheDir: string;
  cacheMaxBytes: number;
  verifyKey: string | undefined;
  depsHash: string | undefined;
  allowDepsMismatch: boolean;
  imagePrefix: string;
  registryUrl: string | undefined;
  /** The dependencies the code runs against (linked into each cached version). */
  nodeModules: string;
  /** Where to write this start's metrics as JSON (ENABLE_METRICS). */
  metricsFile: string | undefined;
  unpackLimits?: Partial<UnpackLimits>;
  logger: Logger;
}

export interface BootstrapResult {
  sha: string;
  exitCode: number;
  cacheHit: boolean;
}

const seconds = (from: number) => Number(((performance.now() - from) / 1000).toFixed(4));

export async function bootstrap(options: BootstrapOptions): Promise<BootstrapResult> {
  return withAccessHint(options.bucket, () => bootstrapUnchecked(options));
}

export type ResolveOnlyOptions = Pick<
  BootstrapOptions,
  "codeVersion" | "openStore" | "bucket" | "verifyKey" | "logger"
>;

/** What `--resolve-only` prints: the SHA a version names and the base image tag its dependencies need. */
export interface CodeResolution {
  sha: string;
  depsHash: string;
  imageTag: string;
}

/**
 * Resolves a code version from its manifest, without downloading the archive and without comparing
 * dependency hashes: the image that runs this is chosen before the code's hash is known. A configured
 * verify key still checks the signature, so an unsigned package fails the run before any task starts.
 */
export function resolveOnly(options: ResolveOnlyOptions): Promise<CodeResolution> {
  return withAccessHint(options.bucket, async () => {
    const started = performance.now();
    const store = await options.openStore();
    const { sha, manifest, manifestBytes } = await resolveVersion(store, options.bucket, options.codeVersion);
    if (options.verifyKey !== undefined) {
      const signature = await store.getBytes(options.bucket, signatureKey(sha));
      const where = `${options.bucket}/${manifestKey(sha)}`;
      verifyManifestSignature(manifestBytes, signature, loadVerifyKey(options.verifyKey), where);
    }
    const resolution = { sha, depsHash: manifest.dependencyHash, imageTag: baseImageTag(manifest.dependencyHash) };
    options.logger.info(
      { phase: "resolve", codeVersion: options.codeVersion, ...resolution, seconds: seconds(started) },
      `code version ${options.codeVersion} is ${sha.slice(0, 12)}, for image tag ${resolution.imageTag}`,
    );
    return resolution;
  });
}

/** The seed's troubleshooting case: a runtime key that cannot read the code bucket says so. */
async function withAccessHint<T>(bucket: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StorageError && error.code === "STORAGE_ACCESS_DENIED") {
      throw new BootstrapError(
        "DOWNLOAD_FAILED",
        `Failed to download code: ${error.message} The runtime key (GARAGE_AIRFLOW_ACCESS_KEY_ID) needs read permission on the code bucket "${bucket}".`,
        { cause: error },
      );
    }
    throw error;
  }
}

async function bootstrapUnchecked(options: BootstrapOptions): Promise<BootstrapResult> {
  const started = performance.now();
  const log = options.logger;
  const { bucket } = options;
  let opened: Promise<ObjectStore> | undefined;
  const store = () => {
    opened ??= options.openStore();
    return opened;
  };
  const metrics: Record<string, unknown> = { codeVersion: options.codeVersion };
  const cache = createCodeCache({ dir: options.cacheDir });
  let verifyKey: KeyObject | undefined;
  const trust = (warn: (message: string) => void): TrustOptions => ({
    verifyKey,
    depsHash: options.depsHash,
    allowDepsMismatch: options.allowDepsMismatch,
    imagePrefix: options.imagePrefix,
    registryUrl: options.registryUrl,
    warn,
  });
  try {
    return await run();
  } catch (error) {
    // A failed start is what metrics are most wanted for.
    const e = error as { code?: string; message?: string; context?: Record<string, unknown> };
    metrics.error = { code: e.code, message: e.message, attempts: e.context?.attempts };
    metrics.exitCode = 1;
    throw error;
  } finally {
    if (options.metricsFile) {
      await fsp.mkdir(path.dirname(options.metricsFile), { recursive: true });
      await fsp.writeFile(options.metricsFile, `${JSON.stringify({ ...metrics, at: new Date().toISOString() })}\n`);
    }
  }

  async function run(): Promise<BootstrapResult> {
    verifyKey = options.verifyKey === undefined ? undefined : loadVerifyKey(options.verifyKey);

    // A full SHA that is already cached needs nothing from the store: the common case, as Airflow
    // hands every task after resolve_code the SHA it resolved.
    const phase = performance.now();
    const sha = isFullSha(options.codeVersion)
      ? options.codeVersion
      : await resolveSha(await store(), bucket, options.codeVersion);
    metrics.resolve = { sha, seconds: seconds(phase) };
    log.info(
      { phase: "resolve", codeVersion: options.codeVersion, sha, seconds: seconds(phase) },
      `code version ${options.codeVersion} is ${sha.slice(0, 12)}`,
    );

    const inUse = await cache.markInUse(sha);
    try {
      let cached = await cache.lookup(sha);
      const cacheHit = cached !== undefined;
      let waited = false;
      let fetched = false;
      if (cached === undefined) {
        const lock = await cache.lock(sha, () => {
          waited = true;
          log.info({ phase: "cache", sha }, "another bootstrap is fetching this version; waiting");
        });
        try {
          // Whoever held the lock before may have finished the work.
          cached = await cache.lookup(sha);
          if (cached === undefined) {
            cached = await fetchVersion(sha);
            fetched = true;
          }
        } finally {
          await lock.release();
        }
      }
      await cache.linkDependencies(sha, options.nodeModules);
      const how = cacheHit
        ? "cache hit"
        : fetched
          ? "cache miss: downloaded"
          : "cache miss: fetched by another bootstrap";
      log.info({ phase: "cache", sha, hit: cacheHit, fetched, waited }, how);
      metrics.cache = { hit: cacheHit, fetched, waited };

      // Checked on every start, hit or miss: the cache is shared by containers of different images.
      const where = `${bucket}/${manifestKey(sha)}`;
      const manifest = parseManifest(cached.manifestBytes, where);
      verifyTrust(
        manifest,
        cached.manifestBytes,
        cached.signatureBytes,
        where,
        trust((message) => log.warn({ phase: "verify", sha }, message)),
      );
      const overhead = seconds(started);
      metrics.startupSeconds = overhead;
      log.info({ phase: "run", sha, command: options.command, startupSeconds: overhead }, "starting the task");
      const running = runTask(cache.versionDir(sha), manifest.entry, options.command, sha);
      // The task need not wait for the cache's bookkeeping: it runs while the task starts, and its
      // failure (a full disk, say) is reported without failing a task that did its work.
      const tidying = tidyCache(sha);
      const outcome = await running.finally(() => tidying);
      metrics.exitCode = outcome.exitCode;
      metrics.totalSeconds = seconds(started);
      log.info(
        {
          phase: "exit",
          sha,
          exitCode: outcome.exitCode,
          signal: outcome.signal,
          startupSeconds: overhead,
          totalSeconds: metrics.totalSeconds,
        },
        `task exited with ${outcome.exitCode}`,
      );
      return { sha, exitCode: outcome.exitCode, cacheHit };
    } finally {
      await inUse.release();
    }
  }

  /** Records `sha`'s use and trims the cache to its cap, least recently used first, never `sha`. */
  async function tidyCache(sha: string): Promise<void> {
    try {
      await cache.touch(sha);
      const removed = await cache.trim(options.cacheMaxBytes, new Set([sha]));
      if (removed.length > 0)
        log.info({ phase: "cache", removed }, `trimmed ${removed.length} old version(s) from the cache`);
    } catch (error) {
      log.warn({ phase: "cache", error: (error as Error).message }, "could not trim the code cache");
    }
  }

  /** Downloads, verifies and unpacks `sha` into the cache (the caller holds its lock). */
  async function fetchVersion(sha: string): Promise<{ manifestBytes: Buffer; signatureBytes: Buffer | null }> {
    let step = performance.now();
    const s3 = await store();
    const asked = Promise.all([s3.getBytes(bucket, manifestKey(sha)), s3.getBytes(bucket, signatureKey(sha))]);
    asked.catch(() => {}); // awaited below
    // Only a cache miss needs these (a warm start does not load them); loaded while the store answers,
    // once the requests are on the wire: loading holds the thread, and connecting needs it.
    await new Promise((resolve) => setImmediate(resolve));
    const [{ downloadArchive }, { unpackArchive }] = await Promise.all([
      import("./download.js"),
      import("./unpack.js"),
    ]);
    const where = `${bucket}/${manifestKey(sha)}`;
    const [manifestBytes, signatureBytes] = await asked;
    if (manifestBytes === null) {
      // Let resolve say what exists (it lists the newest releases).
      await resolveSha(s3, bucket, sha.slice(0, 12));
      throw new BootstrapError(
        "DOWNLOAD_FAILED",
        `Code ${sha} has no manifest in bucket "${bucket}"; publish that commit.`,
      );
    }
    const manifest: Manifest = parseManifest(manifestBytes, where);
    if (manifest.git.sha !== sha) {
      throw new BootstrapError(
        "ARCHIVE_MISMATCH",
        `The manifest ${where} describes ${manifest.git.sha}, not ${sha}; publish ${sha} again.`,
      );
    }
    // Before the download: a package this image must refuse is not worth fetching.
    // A warning is said once, after the cache step, which checks again.
    verifyTrust(
      manifest,
      manifestBytes,
      signatureBytes,
      where,
      trust(() => {}),
    );

    const archivePath = await cache.downloadPath(sha);
    step = performance.now();
    try {
      const download = await downloadArchive(s3, bucket, archiveKey(sha), manifest.archive.size, archivePath, {
        onRetry: (attempt, error) =>
          log.warn({ phase: "download", sha, attempt, error: error.message }, "download failed; retrying"),
      });
      const downloadSeconds = seconds(step);
      log.info(
        {
          phase: "download",
          sha,
          bytes: download.bytes,
          seconds: downloadSeconds,
          mbPerSecond: Number((download.bytes / 1e6 / Math.max(downloadSeconds, 1e-6)).toFixed(2)),
          attempts: download.attempts,
        },
        `downloaded ${download.bytes} bytes`,
      );
      metrics.download = { bytes: download.bytes, seconds: downloadSeconds, attempts: download.attempts };

      step = performance.now();
      if (download.sha256 !== manifest.archive.sha256) {
        throw new BootstrapError(
          "ARCHIVE_MISMATCH",
          `The archive ${bucket}/${archiveKey(sha)} has sha256 ${download.sha256}, but its manifest says ${manifest.archive.sha256}; it was altered or damaged: publish that commit again.`,
        );
      }
      log.info({ phase: "verify", sha, seconds: seconds(step), signed: signatureBytes !== null }, "archive verified");
      metrics.verify = { seconds: seconds(step), signed: signatureBytes !== null };

      step = performance.now();
      const stage = await cache.staging(sha);
      const unpacked = await unpackArchive(createReadStream(archivePath), stage, options.unpackLimits).catch(
        async (error: unknown) => {
          await fsp.rm(stage, { recursive: true, force: true });
          throw error;
        },
      );
      await cache.commit(sha, stage, {
        manifestBytes,
        signatureBytes,
        bytes: unpacked.bytes,
        nodeModules: options.nodeModules,
      });
      log.info(
        { phase: "unpack", sha, files: unpacked.files, bytes: unpacked.bytes, seconds: seconds(step) },
        "unpacked into the cache",
      );
      metrics.unpack = { files: unpacked.files, bytes: unpacked.bytes, seconds: seconds(step) };
      return {
        manifestBytes: Buffer.from(manifestBytes),
        signatureBytes: signatureBytes === null ? null : Buffer.from(signatureBytes),
      };
    } finally {
      await removeFile(archivePath);
    }
  }
}
