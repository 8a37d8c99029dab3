/**
 * Downloading a code archive to a temporary file while hashing it. The S3 driver already retries a
 * failed request; what it cannot retry is a body that breaks off midway (a reset, a stall past the
 * socket timeout, fewer bytes than Content-Length), so this loop retries the whole download, with
 * backoff, a bounded number of times.
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import fsp from "node:fs/promises";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StorageError } from "../storage/errors.js";
import type { ObjectStore } from "../storage/types.js";
import { BootstrapError } from "./errors.js";

export interface DownloadOptions {
  /** Attempts in all (default 4). */
  attempts?: number;
  /** First backoff delay in milliseconds; doubled each retry, with jitter (default 250). */
  baseDelayMs?: number;
  onRetry?: (attempt: number, error: Error) => void;
}

export interface DownloadResult {
  bytes: number;
  sha256: string;
  attempts: number;
}

const transient = new Set(["STORAGE_UNREACHABLE", "STORAGE_SERVER_ERROR"]);

class ShortBodyError extends Error {}

async function downloadOnce(store: ObjectStore, bucket: string, key: string, expectedSize: number, target: string) {
  const object = await store.get(bucket, key);
  if (object === null) {
    throw new BootstrapError(
      "DOWNLOAD_FAILED",
      `Failed to download code: ${bucket}/${key} does not exist in ${store.location}, although its manifest does; publish that commit again.`,
    );
  }
  const hash = createHash("sha256");
  let bytes = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  // A stored object of the wrong size is damaged or altered: no retry will fix that.
  if (object.info.size !== expectedSize) {
    object.body.destroy();
    throw new BootstrapError(
      "ARCHIVE_MISMATCH",
      `The archive ${bucket}/${key} is ${object.info.size} bytes, but its manifest says ${expectedSize}; it was altered or damaged: publish that commit again.`,
    );
  }
  await pipeline(object.body, hashing, createWriteStream(target));
  if (bytes !== expectedSize) throw new ShortBodyError(`received ${bytes} of ${expectedSize} bytes`);
  return { bytes, sha256: hash.digest("hex") };
}

export async function downloadArchive(
  store: ObjectStore,
  bucket: string,
  key: string,
  expectedSize: number,
  target: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const attempts = options.attempts ?? 4;
  const baseDelayMs = options.baseDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return { ...(await downloadOnce(store, bucket, key, expectedSize, target)), attempts: attempt };
    } catch (error) {
      await fsp.rm(target, { force: true });
      const retryable = error instanceof ShortBodyError || (error instanceof StorageError && transient.has(error.code));
      if (!retryable || attempt >= attempts) {
        if (error instanceof BootstrapError) throw error;
        const why = error instanceof Error ? error.message : String(error);
        throw new BootstrapError(
          "DOWNLOAD_FAILED",
          `Failed to download code ${bucket}/${key} after ${attempt} attempt${attempt === 1 ? "" : "s"}: ${why}`,
          { cause: error, context: { bucket, key, attempts: attempt } },
        );
      }
      options.onRetry?.(attempt, error as Error);
      const delay = baseDelayMs * 2 ** (attempt - 1);
      await new Promise((resolve) => setTimeout(resolve, delay / 2 + Math.random() * (delay / 2)));
    }
  }
}
