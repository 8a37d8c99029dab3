/** `tdf code promote <version>`: move `latest` to a published release (rollback or roll-forward). */
import type { ObjectStore } from "../storage/types.js";
import { CodePackageError } from "./errors.js";
import { archiveKey } from "./layout.js";
import { type LatestPointer, listReleaseKeys, moveLatest, readLatestPointer } from "./releases.js";
import { resolveVersion } from "./resolve.js";

export interface PromoteResult {
  sha: string;
  previousSha: string | undefined;
  moved: boolean;
}

export async function promote(
  store: ObjectStore,
  bucket: string,
  version: string,
  options: { by: string | undefined; now?: Date },
): Promise<PromoteResult> {
  const { sha, manifest } = await resolveVersion(store, bucket, version);
  const published = (await listReleaseKeys(store, bucket)).some((r) => r.sha === sha);
  if (!published) {
    throw new CodePackageError(
      "VERSION_NOT_FOUND",
      `Code ${sha} has a manifest but was never published (no release record); publish it with \`tdf code publish\`.`,
    );
  }
  const archive = await store.head(bucket, archiveKey(sha));
  if (archive === null || archive.size !== manifest.archive.size) {
    throw new CodePackageError(
      "VERSION_NOT_FOUND",
      `The archive of code ${sha} is missing from bucket "${bucket}" (deleted by \`tdf code gc\`?); publish that commit again to restore it.`,
    );
  }
  const latest: LatestPointer | undefined = await readLatestPointer(store, bucket);
  if (latest?.sha === sha) return { sha, previousSha: sha, moved: false };
  await moveLatest(store, bucket, {
    action: "promote",
    sha,
    archiveSha256: manifest.archive.sha256,
    archiveSize: manifest.archive.size,
    dependencyHash: manifest.dependencyHash,
    by: options.by,
    previous: latest,
    now: options.now,
  });
  return { sha, previousSha: latest?.sha, moved: true };
}
