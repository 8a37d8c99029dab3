/**
 * `tdf code publish`: pack this checkout, upload it under its git SHA, validate what the store now
 * holds, and only then move `latest`. Unchanged code is not uploaded again.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ObjectInfo, ObjectStore } from "../storage/types.js";
import { CodePackageError } from "./errors.js";
import { archiveKey, manifestKey, signatureKey } from "./layout.js";
import { type Manifest, parseManifest } from "./manifest.js";
import { type PackOptions, preparePack, writePack } from "./pack.js";
import { type LatestPointer, moveLatest, readLatestPointer } from "./releases.js";
import { signManifest } from "./signing.js";

export interface PublishOptions extends Omit<PackOptions, "outDir"> {
  store: ObjectStore;
  bucket: string;
  /** Publish a checkout with uncommitted changes (its code would not match its SHA). */
  allowDirty?: boolean;
  /** Progress lines for a person; silent when omitted. */
  onProgress?: (message: string) => void;
}

export interface PublishResult {
  sha: string;
  manifest: Manifest;
  /** Whether the archive was uploaded, or found already there with the same sha256. */
  uploaded: boolean;
  /** Whether `latest` moved (false when it already pointed at this SHA). */
  movedLatest: boolean;
  previousSha: string | undefined;
}

const md5Of = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex");

/** Whether the stored archive's bytes hash to `sha256` (a full download: metadata can be stale). */
/** The stored archive's description and the sha256 of its bytes (a full download), or null. */
async function downloadDigest(
  store: ObjectStore,
  bucket: string,
  key: string,
): Promise<{ info: ObjectInfo; sha256: string } | null> {
  const object = await store.get(bucket, key);
  if (object === null) return null;
  const hash = createHash("sha256");
  for await (const chunk of object.body) hash.update(chunk as Buffer);
  return { info: object.info, sha256: hash.digest("hex") };
}

/** Whether the stored archive's bytes hash to `sha256` (downloaded: metadata can be stale). */
async function archiveIntact(store: ObjectStore, bucket: string, key: string, sha256: string): Promise<boolean> {
  return (await downloadDigest(store, bucket, key))?.sha256 === sha256;
}

/** Reads back what was uploaded and checks it against the manifest before anything points at it. */
async function validateUpload(
  store: ObjectStore,
  bucket: string,
  manifest: Manifest,
  manifestBytes: Uint8Array,
  archiveMd5: string,
  latest: LatestPointer | undefined,
): Promise<void> {
  const key = archiveKey(manifest.git.sha);
  const fail = (why: string) =>
    new CodePackageError(
      "PUBLISH_VALIDATION_FAILED",
      `The uploaded archive ${bucket}/${key} ${why}; latest still points at ${latest?.sha ?? "nothing"}. Publish again.`,
      { context: { bucket, key } },
    );
  // Independent reads, in flight together; the download's answer carries the size and ETag too.
  const [stored, storedManifest] = await Promise.all([
    downloadDigest(store, bucket, key),
    store.head(bucket, manifestKey(manifest.git.sha)),
  ]);
  if (stored === null) throw fail("is missing after upload");
  const { size, etag } = stored.info;
  if (size !== manifest.archive.size) throw fail(`is ${size} bytes, not ${manifest.archive.size}`);
  // A multipart ETag ("…-N") is not an MD5 of the content; the sha256 below checks those.
  if (!etag.includes("-") && etag !== archiveMd5) throw fail(`has ETag ${etag}, not the archive's MD5 ${archiveMd5}`);
  if (stored.sha256 !== manifest.archive.sha256) {
    throw fail(`does not hash to the manifest's sha256 ${manifest.archive.sha256}`);
  }
  // The manifest is small, so always a single-part upload whose ETag is the MD5 of its bytes.
  if (storedManifest?.etag !== md5Of(manifestBytes)) throw fail("has a manifest that differs from the one uploaded");
}

export async function publish(options: PublishOptions): Promise<PublishResult> {
  const { store, bucket } = options;
  const say = options.onProgress ?? (() => {});
  const prepared = await preparePack(options);
  const { sha } = prepared;
  if (prepared.git.dirty && !options.allowDirty) {
    throw new CodePackageError(
      "PUBLISH_DIRTY",
      `The checkout has uncommitted changes, so its code would not match commit ${sha.slice(0, 12)}; commit them, or pass --allow-dirty for a local test.`,
    );
  }
  const [latest, remoteBytes, remoteArchive] = await Promise.all([
    readLatestPointer(store, bucket),
    store.getBytes(bucket, manifestKey(sha)),
    store.head(bucket, archiveKey(sha)),
  ]);

  // Unchanged code: the same tree is already published under this SHA, and its archive is intact.
  let remote: Manifest | undefined;
  try {
    remote = remoteBytes === null ? undefined : parseManifest(remoteBytes, `${bucket}/${manifestKey(sha)}`);
  } catch {
    remote = undefined; // a broken manifest is replaced below
  }
  // What is stored is checked by downloading it: metadata alone could describe an upload that was
  // interrupted or tampered with, and latest must never move to such an archive.
  const unchanged =
    remote !== undefined &&
    remote.contentHash === prepared.contentHash &&
    remoteArchive?.size === remote.archive.size &&
    (await archiveIntact(store, bucket, archiveKey(sha), remote.archive.sha256));

  let manifest: Manifest;
  let uploaded = false;
  if (unchanged && remote && remoteBytes) {
    manifest = remote;
    say(`code ${sha.slice(0, 12)} is already published with the same content; skipped the upload`);
    if (prepared.signingKey && (await store.head(bucket, signatureKey(sha))) === null) {
      await store.put(bucket, signatureKey(sha), signManifest(remoteBytes, prepared.signingKey), {
        contentType: "application/json",
      });
    }
  } else {
    const outDir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-publish-"));
    try {
      const packed = await writePack(prepared, { ...options, outDir });
      manifest = packed.manifest;
      const { sha256, size } = manifest.archive;
      const key = archiveKey(sha);
      const uploads: Array<Promise<unknown>> = [
        store.put(bucket, manifestKey(sha), packed.manifestBytes, { contentType: "application/json" }),
      ];
      if (packed.signatureBytes) {
        uploads.push(store.put(bucket, signatureKey(sha), packed.signatureBytes, { contentType: "application/json" }));
      }
      if (remoteArchive?.size === size && (await archiveIntact(store, bucket, key, sha256))) {
        say(`archive ${key} is already there with sha256 ${sha256.slice(0, 12)}; skipped its upload`);
      } else {
        say(`uploading ${key} (${(size / 1024).toFixed(0)} KiB)`);
        uploads.push(
          store.put(bucket, key, createReadStream(packed.archivePath), {
            contentType: "application/gzip",
            metadata: { sha256, "git-sha": sha },
          }),
        );
        uploaded = true;
      }
      await Promise.all(uploads);
      say("validating the upload");
      await validateUpload(store, bucket, manifest, packed.manifestBytes, packed.archiveMd5, latest);
    } finally {
      await fsp.rm(outDir, { recursive: true, force: true });
    }
  }

  if (latest?.sha === sha) {
    say(`latest already points at ${sha.slice(0, 12)}`);
    return { sha, manifest, uploaded, movedLatest: false, previousSha: sha };
  }
  await moveLatest(store, bucket, {
    action: "publish",
    sha,
    archiveSha256: manifest.archive.sha256,
    archiveSize: manifest.archive.size,
    dependencyHash: manifest.dependencyHash,
    by: options.provenance?.actor ?? os.userInfo().username,
    previous: latest,
  });
  say(`latest now points at ${sha.slice(0, 12)}${latest ? ` (was ${latest.sha.slice(0, 12)})` : ""}`);
  return { sha, manifest, uploaded, movedLatest: true, previousSha: latest?.sha };
}
