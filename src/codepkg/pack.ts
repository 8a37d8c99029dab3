/**
 * `tdf code pack`: the runnable code as `code-<sha>.tar.gz` plus its manifest (and signature).
 *
 * What goes in: the built `dist/` (build output, ignored by git by design, taken whole), package.json,
 * the lockfile, and the configured extra paths, of which only files git does not ignore. Nothing is
 * written unless every check passes: no likely secret, archive under the size limit.
 */
import { createHash, type KeyObject } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../core/atomic-file.js";
import { dependencyHash, lockfileName } from "./deps-hash.js";
import { CodePackageError } from "./errors.js";
import { sortPaths, walkFiles } from "./files.js";
import { type GitInfo, gitInfo, isGitRepository, unignoredFiles } from "./git.js";
import { archiveKey, isFullSha, manifestKey, signatureKey } from "./layout.js";
import { type Manifest, manifestFormatVersion, type Provenance, serializeManifest } from "./manifest.js";
import { scanForSecrets } from "./secrets-scan.js";
import { loadSigningKey, signManifest } from "./signing.js";
import { buildDeterministicTarGz } from "./tarball.js";

export const distDir = "dist";
export const defaultEntry = ["node", "dist/cli/bin.js"];
export const defaultMaxBytes = 50 * 1024 * 1024;

export interface PackOptions {
  /** The project folder (holds package.json). */
  root: string;
  /** Where the archive, manifest and signature are written. */
  outDir: string;
  include?: readonly string[];
  maxBytes?: number;
  /** The git SHA to record; required outside a git repository, refused if it disagrees with git. */
  sha?: string;
  /** Ed25519 private key (PEM or path); the manifest is signed when given. */
  signingKey?: string;
  provenance?: Provenance;
  now?: Date;
}

export interface PackResult extends BuiltPack {
  archivePath: string;
  manifestPath: string;
  signaturePath: string | undefined;
}

/** A file to pack, read once: hashing, the secret scan and the archive all use these bytes. */
export interface PackFile {
  path: string;
  content: Buffer;
  mode: number;
}

/**
 * Reads a file to pack; undefined when git tracks it but the work tree deleted it (not part of what
 * runs). Synchronous: a package is a few hundred small files, and reading them in order on this
 * thread is several times faster than a promise per file through the thread pool.
 */
function readPackFile(root: string, file: string): PackFile | undefined {
  const full = path.join(root, file);
  try {
    const content = fs.readFileSync(full);
    // Only the executable bit survives; everything else is normalised.
    return { path: file, content, mode: fs.statSync(full).mode & 0o111 ? 0o755 : 0o644 };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The files to pack, with the content hash of the whole tree (secrets are checked apart). */
export async function collectFiles(
  root: string,
  include: readonly string[],
): Promise<{ files: PackFile[]; contentHash: string }> {
  const built = walkFiles(root, distDir);
  if (built.length === 0) {
    throw new CodePackageError(
      "PACK_NOT_BUILT",
      `There is no build in ${path.join(root, distDir)}; run \`npm run build\` first.`,
    );
  }
  const required = ["package.json", lockfileName];
  for (const file of required) {
    if (!fs.existsSync(path.join(root, file))) {
      throw new CodePackageError(
        "PACK_NOT_BUILT",
        `${file} is missing from ${root}; run \`npm install\` to create it.`,
      );
    }
  }
  let extra: string[] = [];
  if (include.length > 0) {
    extra = (await isGitRepository(root))
      ? await unignoredFiles(root, [...include])
      : include.flatMap((entry) => walkFiles(root, entry));
  }

  const files = sortPaths([...built, ...required, ...extra])
    .map((file) => readPackFile(root, file))
    .filter((f): f is PackFile => f !== undefined);
  const tree = createHash("sha256");
  for (const file of files) {
    tree.update(`${file.path}\0${file.mode.toString(8)}\0${createHash("sha256").update(file.content).digest("hex")}\n`);
  }
  return { files, contentHash: tree.digest("hex") };
}

/** Refuses files that look like secrets, naming every one found. */
export function refuseSecrets(files: readonly PackFile[]): void {
  const findings = files.map((file) => scanForSecrets(file.path, file.content)).filter((f) => f !== undefined);
  if (findings.length > 0) {
    const list = findings.map((f) => `${f.path} (${f.reason})`).join(", ");
    throw new CodePackageError(
      "PACK_SECRETS",
      `Refusing to pack likely secrets: ${list}; remove them from the packed paths (or from TDF_PACKAGE_INCLUDE).`,
      { context: { paths: findings.map((f) => f.path) } },
    );
  }
}

async function packageInfo(root: string): Promise<{ name: string; version: string; node: string | undefined }> {
  const pkg = JSON.parse(await fsp.readFile(path.join(root, "package.json"), "utf8")) as {
    name?: string;
    version?: string;
    engines?: { node?: string };
  };
  return { name: pkg.name ?? "unnamed", version: pkg.version ?? "0.0.0", node: pkg.engines?.node };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Everything about a package that can be known before its archive is built. */
export interface PreparedPack {
  root: string;
  sha: string;
  /** What git says of the checkout; publish passes a promise, as it asks git only when it packs. */
  git: GitInfo | Promise<GitInfo>;
  files: PackFile[];
  contentHash: string;
  signingKey: KeyObject | undefined;
}

/**
 * The commit to name the package by: the checkout's (`head`), or `--sha` outside a repository;
 * refused otherwise.
 */
export function packageSha(root: string, head: string | undefined, sha: string | undefined): string {
  if (head && sha && sha !== head) {
    throw new CodePackageError(
      "PACK_NOT_A_REPOSITORY",
      `--sha ${sha} disagrees with the checkout's commit ${head}; omit --sha inside a repository.`,
    );
  }
  const named = head ?? sha;
  if (named === undefined || !isFullSha(named)) {
    throw new CodePackageError(
      "PACK_NOT_A_REPOSITORY",
      `${root} is not a git repository, so the code has no commit to be named by; pack from a clone or pass --sha <40-hex SHA>.`,
    );
  }
  return named;
}

/** Finds the commit, collects and checks the files, and hashes the tree; writes nothing. */
export async function preparePack(options: Omit<PackOptions, "outDir">): Promise<PreparedPack> {
  const root = path.resolve(options.root);
  // git (a process start, ~20 ms) answers while the files are read; its verdict is reported first.
  const asking = gitInfo(root);
  const collecting = collectFiles(root, options.include ?? []);
  collecting.catch(() => {});
  const git = await asking;
  const sha = packageSha(root, git?.sha, options.sha);
  const signingKey = options.signingKey === undefined ? undefined : loadSigningKey(options.signingKey);
  const { files, contentHash } = await collecting;
  refuseSecrets(files);
  return { root, sha, git: git ?? { sha, branch: undefined, dirty: false }, files, contentHash, signingKey };
}

/** A package built in memory: what `pack` writes to a folder and `publish` uploads. */
export interface BuiltPack {
  manifest: Manifest;
  manifestBytes: Buffer;
  signatureBytes: Buffer | undefined;
  archive: Buffer;
}

/** Builds the archive, manifest and signature of a prepared pack, refusing one over the size limit. */
export async function buildPack(
  prepared: PreparedPack,
  options: Pick<PackOptions, "maxBytes" | "provenance" | "now">,
): Promise<BuiltPack> {
  const { root, sha, files } = prepared;
  const [archive, info, dependencies, git] = await Promise.all([
    buildDeterministicTarGz(files),
    packageInfo(root),
    dependencyHash(root),
    prepared.git,
  ]);
  const maxBytes = options.maxBytes ?? defaultMaxBytes;
  if (archive.size > maxBytes) {
    const largest = [...files]
      .sort((a, b) => b.content.length - a.content.length)
      .slice(0, 5)
      .map((f) => `${f.path} (${mib(f.content.length)})`)
      .join(", ");
    throw new CodePackageError(
      "PACK_TOO_LARGE",
      `The code archive would be ${mib(archive.size)}, over the ${mib(maxBytes)} limit (TDF_PACKAGE_MAX_MIB); the largest files are ${largest}.`,
      { context: { size: archive.size, maxBytes } },
    );
  }
  const manifest: Manifest = {
    formatVersion: manifestFormatVersion,
    name: info.name,
    version: info.version,
    git,
    createdAt: (options.now ?? new Date()).toISOString(),
    archive: {
      key: archiveKey(sha),
      sha256: archive.sha256,
      md5: archive.md5,
      size: archive.size,
      fileCount: files.length,
    },
    contentHash: prepared.contentHash,
    dependencyHash: dependencies,
    node: info.node,
    entry: defaultEntry,
    provenance: options.provenance,
  };
  const manifestBytes = serializeManifest(manifest);
  const signatureBytes = prepared.signingKey ? signManifest(manifestBytes, prepared.signingKey) : undefined;
  return { manifest, manifestBytes, signatureBytes, archive: archive.bytes };
}

/** Writes a prepared pack's archive, manifest and signature into `outDir`. */
export async function writePack(
  prepared: PreparedPack,
  options: Pick<PackOptions, "outDir" | "maxBytes" | "provenance" | "now">,
): Promise<PackResult> {
  const built = await buildPack(prepared, options);
  const { sha } = prepared;
  await fsp.mkdir(options.outDir, { recursive: true });
  const archivePath = path.join(options.outDir, archiveKey(sha));
  const manifestPath = path.join(options.outDir, manifestKey(sha));
  const signaturePath = built.signatureBytes ? path.join(options.outDir, signatureKey(sha)) : undefined;
  await writeFileAtomic(archivePath, built.archive);
  await writeFileAtomic(manifestPath, built.manifestBytes);
  if (signaturePath && built.signatureBytes) await writeFileAtomic(signaturePath, built.signatureBytes);
  return { ...built, archivePath, manifestPath, signaturePath };
}

export async function pack(options: PackOptions): Promise<PackResult> {
  return writePack(await preparePack(options), options);
}
