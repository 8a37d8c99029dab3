/**
 * `tdf code publish`: pack this checkout, upload it under its git SHA, validate what the store now
 * holds, and only then move `latest`. Unchanged code is not uploaded again.
 */
import { createHash } from "node:crypto";
import os from "node:os";
import path from "node:path";
import type { ObjectInfo, ObjectStore } from "../storage/types.js";
import { CodePackageError } from "./errors.js";
import { type GitInfo, gitInfo, readHeadSha } from "./git.js";
import { archiveKey, manifestKey, signatureKey } from "./layout.js";
import { type Manifest, parseManifest } from "./manifest.js";
import { type BuiltPack, buildPack, collectFiles, type PackOptions, packageSha, refuseSecrets } from "./pack.js";
import { type LatestPointer, moveLatest, readLatestPointer } from "./releases.js";
import { loadSigningKey, signManifest } from "./signing.js";

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

/**
 * Whether the store holds exactly the archive `manifest` describes. Metadata written by an uploader
 * proves nothing, so this rests on what the server computed or on the bytes: the ETag of a
 * single-part upload is the MD5 the store computed of what it holds, so when the manifest records
 * the archive's MD5 a HEAD (`stored`) settles it; otherwise (an older manifest, a multipart ETag)
 * the archive is downloaded and hashed.
 */
async function archiveIntact(
  store: ObjectStore,
  bucket: string,
  manifest: Manifest,
  stored: ObjectInfo | null,
): Promise<boolean> {
  const { key, size, sha256, md5 } = manifest.archive;
  if (stored === null || stored.size !== size) return false;
  if (md5 !== undefined && !stored.etag.includes("-")) return stored.etag === md5;
  return (await downloadDigest(store, bucket, key))?.sha256 === sha256;
}

/** Reads back what was uploaded and checks it against the manifest before anything points at it. */
async function validateUpload(
  store: ObjectStore,
  bucket: string,
  built: BuiltPack,
  latest: LatestPointer | undefined,
): Promise<void> {
  const { manifest, manifestBytes } = built;
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
  if (!etag.includes("-") && etag !== manifest.archive.md5) {
    throw fail(`has ETag ${etag}, not the archive's MD5 ${manifest.archive.md5}`);
  }
  if (stored.sha256 !== manifest.archive.sha256) {
    throw fail(`does not hash to the manifest's sha256 ${manifest.archive.sha256}`);
  }
  // The manifest is small, so always a single-part upload whose ETag is the MD5 of its bytes.
  if (storedManifest?.etag !== md5Of(manifestBytes)) throw fail("has a manifest that differs from the one uploaded");
}

/**
 * git's account of the checkout, for publishing new code: HEAD must still be the commit the package
 * is named by, and uncommitted changes are refused unless allowed. `inRepository` says whether `.git`
 * named the commit: then git must answer, as nothing else can say whether the checkout is clean.
 */
function checkedGit(
  root: string,
  sha: string,
  inRepository: boolean,
  git: GitInfo | undefined,
  allowDirty: boolean | undefined,
): GitInfo {
  if (git === undefined) {
    if (!inRepository) return { sha, branch: undefined, dirty: false }; // not a repository: --sha named it
    throw new CodePackageError(
      "PUBLISH_DIRTY",
      `git could not read the checkout ${root}, so whether it has uncommitted changes is unknown; install git, or add the folder to git's safe.directory when another user owns it.`,
    );
  }
  if (git.sha !== sha) {
    throw new CodePackageError("PUBLISH_DIRTY", `HEAD moved while publishing ${sha.slice(0, 12)}; publish again.`);
  }
  if (git.dirty && !allowDirty) {
    throw new CodePackageError(
      "PUBLISH_DIRTY",
      `The checkout has uncommitted changes, so its code would not match commit ${sha.slice(0, 12)}; commit them, or pass --allow-dirty for a local test.`,
    );
  }
  return git;
}

export async function publish(options: PublishOptions): Promise<PublishResult> {
  const { store, bucket } = options;
  const say = options.onProgress ?? (() => {});
  const signingKey = options.signingKey === undefined ? undefined : loadSigningKey(options.signingKey);
  const root = path.resolve(options.root);
  // The commit comes from `.git`'s files, so the store is asked at once; git itself (a process start,
  // ~20 ms) is asked first only when those files do not name it, and otherwise only when new code is
  // packed: re-publishing unchanged code (a workflow run again, a retried job) never waits for it.
  const head = readHeadSha(root);
  let askingGit: Promise<GitInfo | undefined> | undefined;
  const askGit = () => (askingGit ??= gitInfo(root));
  const sha = packageSha(root, head ?? (await askGit())?.sha, options.sha);
  const asked = Promise.all([
    readLatestPointer(store, bucket),
    store.getBytes(bucket, manifestKey(sha)),
    store.head(bucket, archiveKey(sha)),
  ]);
  asked.catch(() => {}); // awaited below, once the files are read
  const checkout = await collectFiles(root, options.include ?? []);
  const [latest, remoteBytes, remoteArchive] = await asked;

  // Unchanged code: the same tree is already published under this SHA, and its archive is intact.
  // Nothing new is published then, only `latest` may move (what `promote` does), so uncommitted
  // changes outside the packed files do not matter and git is not asked.
  let remote: Manifest | undefined;
  try {
    remote = remoteBytes === null ? undefined : parseManifest(remoteBytes, `${bucket}/${manifestKey(sha)}`);
  } catch {
    remote = undefined; // a broken manifest is replaced below
  }
  // Checked, not assumed: latest must never move to an archive that an interrupted or tampered
  // upload left behind. A package published from a dirty checkout (--allow-dirty) is not taken as it
  // is without that flag: it is published again, under git's account of this checkout.
  const unchanged =
    remote !== undefined &&
    remote.contentHash === checkout.contentHash &&
    (!remote.git.dirty || options.allowDirty === true) &&
    (await archiveIntact(store, bucket, remote, remoteArchive));

  let manifest: Manifest;
  let uploaded = false;
  if (unchanged && remote && remoteBytes) {
    manifest = remote;
    say(`code ${sha.slice(0, 12)} is already published with the same content; skipped the upload`);
    if (signingKey && (await store.head(bucket, signatureKey(sha))) === null) {
      await store.put(bucket, signatureKey(sha), signManifest(remoteBytes, signingKey), {
        contentType: "application/json",
      });
    }
  } else {
    // git runs while the archive is compressed. Its verdict is said first, then the secret scan's,
    // then the archive's own (its size); nothing has left this process before all three.
    const git = askGit().then((info) => checkedGit(root, sha, head !== undefined, info, options.allowDirty));
    const building = buildPack({ root, sha, ...checkout, git, signingKey }, options);
    building.catch(() => {}); // awaited below, after git's verdict and the secret scan
    await git;
    refuseSecrets(checkout.files);
    const built = await building;
    manifest = built.manifest;
    const { key, sha256, size } = manifest.archive;
    const uploads: Array<Promise<unknown>> = [
      store.put(bucket, manifestKey(sha), built.manifestBytes, { contentType: "application/json" }),
    ];
    if (built.signatureBytes) {
      uploads.push(store.put(bucket, signatureKey(sha), built.signatureBytes, { contentType: "application/json" }));
    }
    // An archive already stored with these very bytes (a publish that stopped before its manifest)
    // is not sent again.
    if (await archiveIntact(store, bucket, manifest, remoteArchive)) {
      say(`archive ${key} is already there with sha256 ${sha256.slice(0, 12)}; skipped its upload`);
    } else {
      say(`uploading ${key} (${(size / 1024).toFixed(0)} KiB)`);
      uploads.push(
        store.put(bucket, key, built.archive, {
          contentType: "application/gzip",
          metadata: { sha256, "git-sha": sha },
        }),
      );
      uploaded = true;
    }
    await Promise.all(uploads);
    say("validating the upload");
    await validateUpload(store, bucket, built, latest);
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
