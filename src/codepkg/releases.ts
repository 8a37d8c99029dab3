/**
 * The release log and the `latest` pointer. Garage has no object versioning and no conditional PUT,
 * so the log is append-only: one new object per event (`releases/<utc-timestamp>-<sha>.json`), never
 * rewritten. The pointer (`code-latest.json`) is the one object that changes; it is written last.
 */
import type { ObjectStore } from "../storage/types.js";
import { CodePackageError } from "./errors.js";
import {
  archiveKey,
  latestArchiveKey,
  latestPointerKey,
  manifestKey,
  parseReleaseKey,
  releaseKey,
  releasesPrefix,
} from "./layout.js";

export interface ReleaseRecord {
  formatVersion: 1;
  /** `publish`: a new package became latest; `promote`: latest moved to an earlier package. */
  action: "publish" | "promote";
  sha: string;
  at: string;
  archiveSha256: string;
  archiveSize: number;
  dependencyHash: string;
  /** Who did it: the CI actor, or the local user. */
  by: string | undefined;
  /** What latest was before, so the log reads as a history of `latest`. */
  previousSha: string | undefined;
}

export interface LatestPointer {
  formatVersion: 1;
  sha: string;
  archiveKey: string;
  archiveSha256: string;
  manifestKey: string;
  releaseKey: string;
  updatedAt: string;
}

export interface ReleaseKey {
  key: string;
  at: Date;
  sha: string;
}

const json = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`, "utf8");

export async function appendRelease(store: ObjectStore, bucket: string, record: ReleaseRecord): Promise<string> {
  const key = releaseKey(new Date(record.at), record.sha);
  await store.put(bucket, key, json(record), { contentType: "application/json" });
  return key;
}

/** The release log's keys, newest first (read from the keys alone: no object is downloaded). */
export async function listReleaseKeys(store: ObjectStore, bucket: string): Promise<ReleaseKey[]> {
  const keys: ReleaseKey[] = [];
  for await (const entry of store.list(bucket, releasesPrefix)) {
    const parsed = parseReleaseKey(entry.key);
    if (parsed) keys.push({ key: entry.key, ...parsed });
  }
  return keys.reverse();
}

export async function readRelease(store: ObjectStore, bucket: string, key: string): Promise<ReleaseRecord | undefined> {
  const bytes = await store.getBytes(bucket, key);
  if (bytes === null) return undefined;
  try {
    return JSON.parse(Buffer.from(bytes).toString("utf8")) as ReleaseRecord;
  } catch {
    return undefined;
  }
}

export async function readLatestPointer(store: ObjectStore, bucket: string): Promise<LatestPointer | undefined> {
  const bytes = await store.getBytes(bucket, latestPointerKey);
  if (bytes === null) return undefined;
  try {
    const pointer = JSON.parse(Buffer.from(bytes).toString("utf8")) as LatestPointer;
    if (/^[0-9a-f]{40}$/.test(pointer.sha)) return pointer;
  } catch {
    // fall through to the error below
  }
  throw new CodePackageError(
    "MANIFEST_INVALID",
    `The latest pointer ${bucket}/${latestPointerKey} is unreadable; run \`tdf code promote <sha>\` to rewrite it.`,
  );
}

export async function writeLatestPointer(store: ObjectStore, bucket: string, pointer: LatestPointer): Promise<void> {
  await store.put(bucket, latestPointerKey, json(pointer), { contentType: "application/json" });
}

export interface MoveLatestOptions {
  action: ReleaseRecord["action"];
  sha: string;
  archiveSha256: string;
  archiveSize: number;
  dependencyHash: string;
  by: string | undefined;
  previous: LatestPointer | undefined;
  now?: Date;
}

/**
 * Records the event in the log and refreshes `code-latest.tar.gz` (together), then moves the pointer:
 * the pointer is written last, so a failure at any step leaves `latest` where it was, and the archive
 * copy is put back so the two agree again.
 */
export async function moveLatest(
  store: ObjectStore,
  bucket: string,
  options: MoveLatestOptions,
): Promise<LatestPointer> {
  const at = (options.now ?? new Date()).toISOString();
  const steps = await Promise.allSettled([
    appendRelease(store, bucket, {
      formatVersion: 1,
      action: options.action,
      sha: options.sha,
      at,
      archiveSha256: options.archiveSha256,
      archiveSize: options.archiveSize,
      dependencyHash: options.dependencyHash,
      by: options.by,
      previousSha: options.previous?.sha,
    }),
    store.copy(bucket, archiveKey(options.sha), bucket, latestArchiveKey),
  ]);
  const restore = async () => {
    if (options.previous)
      await store.copy(bucket, options.previous.archiveKey, bucket, latestArchiveKey).catch(() => {});
  };
  const [recorded, copied] = steps;
  if (recorded.status === "rejected" || copied.status === "rejected") {
    await restore();
    throw recorded.status === "rejected" ? recorded.reason : (copied as PromiseRejectedResult).reason;
  }
  const pointer: LatestPointer = {
    formatVersion: 1,
    sha: options.sha,
    archiveKey: archiveKey(options.sha),
    archiveSha256: options.archiveSha256,
    manifestKey: manifestKey(options.sha),
    releaseKey: recorded.value,
    updatedAt: at,
  };
  try {
    await writeLatestPointer(store, bucket, pointer);
  } catch (error) {
    await restore();
    throw error;
  }
  return pointer;
}
