/**
 * Turning a code version (`latest`, a full SHA, or a unique prefix of at least 7 characters) into a
 * published SHA and its manifest. Prefixes resolve through the release log's keys, so no record has
 * to be downloaded.
 */
import type { ObjectStore } from "../storage/types.js";
import { CodePackageError } from "./errors.js";
import { isFullSha, manifestKey } from "./layout.js";
import { type Manifest, parseManifest } from "./manifest.js";
import { listReleaseKeys, readLatestPointer } from "./releases.js";

export interface ResolvedVersion {
  sha: string;
  manifest: Manifest;
  manifestBytes: Uint8Array;
}

const MIN_PREFIX = 7;

/** The newest published SHAs, newest first, for "did you mean" messages. */
export async function newestShas(store: ObjectStore, bucket: string, count: number): Promise<string[]> {
  const shas: string[] = [];
  for (const { sha } of await listReleaseKeys(store, bucket)) {
    if (!shas.includes(sha)) shas.push(sha);
    if (shas.length === count) break;
  }
  return shas;
}

async function notFound(store: ObjectStore, bucket: string, version: string): Promise<CodePackageError> {
  const recent = await newestShas(store, bucket, 5);
  const hint =
    recent.length === 0
      ? `no code has been published to bucket "${bucket}" yet; run \`tdf code publish\``
      : `the newest releases are ${recent.map((s) => s.slice(0, 12)).join(", ")}`;
  return new CodePackageError("VERSION_NOT_FOUND", `Code version "${version}" is not published; ${hint}.`, {
    context: { version, bucket, recent },
  });
}

/** The SHA a version names; throws VERSION_NOT_FOUND or VERSION_AMBIGUOUS. */
export async function resolveSha(store: ObjectStore, bucket: string, version: string): Promise<string> {
  const spec = version.trim().toLowerCase();
  if (spec === "latest") {
    const pointer = await readLatestPointer(store, bucket);
    if (!pointer) throw await notFound(store, bucket, version);
    return pointer.sha;
  }
  if (!/^[0-9a-f]+$/.test(spec) || spec.length < MIN_PREFIX || spec.length > 40) {
    throw new CodePackageError(
      "VERSION_NOT_FOUND",
      `"${version}" is not a code version; use latest, a git SHA, or a SHA prefix of at least ${MIN_PREFIX} characters.`,
    );
  }
  if (isFullSha(spec)) return spec;
  const shas = new Set((await listReleaseKeys(store, bucket)).map((r) => r.sha));
  const matches = [...shas].filter((s) => s.startsWith(spec)).sort();
  if (matches.length === 0) throw await notFound(store, bucket, version);
  if (matches.length > 1) {
    throw new CodePackageError(
      "VERSION_AMBIGUOUS",
      `Code version "${version}" matches ${matches.length} releases (${matches.join(", ")}); give more characters.`,
      { context: { version, matches } },
    );
  }
  return matches[0] as string;
}

export async function resolveVersion(store: ObjectStore, bucket: string, version: string): Promise<ResolvedVersion> {
  const sha = await resolveSha(store, bucket, version);
  const key = manifestKey(sha);
  const manifestBytes = await store.getBytes(bucket, key);
  if (manifestBytes === null) throw await notFound(store, bucket, version);
  const manifest = parseManifest(manifestBytes, `${bucket}/${key}`);
  if (manifest.git.sha !== sha) {
    throw new CodePackageError(
      "MANIFEST_INVALID",
      `The manifest ${bucket}/${key} describes ${manifest.git.sha}, not ${sha}; re-publish ${sha}.`,
    );
  }
  return { sha, manifest, manifestBytes };
}
