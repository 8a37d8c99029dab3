/** `tdf code versions`: the published releases, newest first. */
import type { ObjectStore } from "../storage/types.js";
import { archiveKey } from "./layout.js";
import { listReleaseKeys, readLatestPointer, readRelease } from "./releases.js";

export interface VersionRow {
  sha: string;
  /** When this SHA was first published. */
  publishedAt: string;
  size: number | undefined;
  dependencyHash: string | undefined;
  by: string | undefined;
  latest: boolean;
  /** False once `tdf code gc` deleted its archive: it can no longer be promoted. */
  available: boolean;
}

export async function listVersions(store: ObjectStore, bucket: string, limit = 20): Promise<VersionRow[]> {
  const keys = await listReleaseKeys(store, bucket);
  const firstPublish = new Map<string, string>();
  // Newest first, so the last key seen for a SHA is its first publication.
  for (const k of keys) firstPublish.set(k.sha, k.key);
  const order = [...new Set(keys.map((k) => k.sha))].slice(0, limit);
  const [latest, available] = await Promise.all([
    readLatestPointer(store, bucket),
    (async () => {
      const present = new Set<string>();
      for await (const entry of store.list(bucket, "code-")) present.add(entry.key);
      return present;
    })(),
  ]);
  return Promise.all(
    order.map(async (sha) => {
      const key = firstPublish.get(sha) as string;
      const record = await readRelease(store, bucket, key);
      return {
        sha,
        publishedAt: record?.at ?? key,
        size: record?.archiveSize,
        dependencyHash: record?.dependencyHash,
        by: record?.by,
        latest: latest?.sha === sha,
        available: available.has(archiveKey(sha)),
      };
    }),
  );
}
