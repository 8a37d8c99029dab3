/**
 * `tdf code gc --keep N`: delete old packages (archive, manifest, signature). Never deleted: the
 * package `latest` points at, the N most recently published, pinned SHAs, and any SHA a caller
 * protects (the CLI protects the code registered models were trained with). The release log is never
 * touched.
 */
import type { ObjectStore } from "../storage/types.js";
import { CodePackageError } from "./errors.js";
import { latestArchiveKey } from "./layout.js";
import { listReleaseKeys, readLatestPointer } from "./releases.js";

export interface GcOptions {
  keep: number;
  pinned?: readonly string[];
  /**
   * Whether a SHA must stay for reasons outside the code bucket: `true` keeps it as "protected", a
   * string keeps it with that string as the reason. Everything is asked before anything is deleted,
   * so a failure here deletes nothing.
   */
  isProtected?: (sha: string) => Promise<boolean | string>;
  dryRun?: boolean;
  /** Packages never published are kept this long after upload (default one hour). */
  graceMs?: number;
  now?: Date;
}

export interface GcPlanEntry {
  sha: string;
  keys: string[];
  bytes: number;
}

export interface GcResult {
  deleted: GcPlanEntry[];
  kept: Array<{ sha: string; reason: string }>;
  bytesFreed: number;
  dryRun: boolean;
}

const packageKey = /^code-([0-9a-f]{40})\.(tar\.gz|manifest\.json|manifest\.json\.sig)$/;

export async function collectGarbage(store: ObjectStore, bucket: string, options: GcOptions): Promise<GcResult> {
  if (!Number.isInteger(options.keep) || options.keep < 1) {
    throw new CodePackageError(
      "VERSION_NOT_FOUND",
      `--keep must be a whole number of at least 1, got ${options.keep}.`,
    );
  }
  const packages = new Map<string, GcPlanEntry & { lastModified: number }>();
  for await (const entry of store.list(bucket, "code-")) {
    if (entry.key === latestArchiveKey) continue;
    const match = packageKey.exec(entry.key);
    if (!match) continue;
    const sha = match[1] as string;
    const pkg = packages.get(sha) ?? { sha, keys: [], bytes: 0, lastModified: 0 };
    pkg.keys.push(entry.key);
    pkg.bytes += entry.size;
    pkg.lastModified = Math.max(pkg.lastModified, entry.lastModified.getTime());
    packages.set(sha, pkg);
  }

  // "Newest" means most recently published: a SHA's first release record (later records are
  // promotions). Listing is newest first, so the last write per SHA is its first publication.
  const publishedAt = new Map<string, number>();
  for (const r of await listReleaseKeys(store, bucket)) publishedAt.set(r.sha, r.at.getTime());
  const published = [...packages.values()]
    .filter((p) => publishedAt.has(p.sha))
    .sort((a, b) => (publishedAt.get(b.sha) ?? 0) - (publishedAt.get(a.sha) ?? 0));
  const newest = new Set(published.slice(0, options.keep).map((p) => p.sha));

  const latest = await readLatestPointer(store, bucket);
  const pinned = new Set(options.pinned ?? []);
  const graceMs = options.graceMs ?? 60 * 60 * 1000;
  const now = (options.now ?? new Date()).getTime();
  const kept: GcResult["kept"] = [];
  const deleted: GcPlanEntry[] = [];
  for (const pkg of packages.values()) {
    let reason: string | undefined;
    if (pkg.sha === latest?.sha) reason = "latest";
    else if (newest.has(pkg.sha)) reason = `among the ${options.keep} newest`;
    else if (pinned.has(pkg.sha)) reason = "pinned (TDF_PINNED_CODE_VERSIONS)";
    // Never published: an interrupted publish, or one running right now, so recent uploads stay.
    else if (!publishedAt.has(pkg.sha) && now - pkg.lastModified < graceMs)
      reason = "unpublished upload, too recent to delete";
    else {
      const protection = await options.isProtected?.(pkg.sha);
      if (protection) reason = protection === true ? "protected" : protection;
    }
    if (reason) kept.push({ sha: pkg.sha, reason });
    else deleted.push({ sha: pkg.sha, keys: pkg.keys.sort(), bytes: pkg.bytes });
  }
  if (!options.dryRun) {
    for (const pkg of deleted) for (const key of pkg.keys) await store.delete(bucket, key);
  }
  return { deleted, kept, bytesFreed: deleted.reduce((sum, p) => sum + p.bytes, 0), dryRun: options.dryRun ?? false };
}
