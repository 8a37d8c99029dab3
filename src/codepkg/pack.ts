/**
 * `tdf code pack`: the runnable code as `code-<sha>.tar.gz` plus its manifest (and signature).
 *
 * What goes in: the built `dist/` (build output, ignored by git by design, taken whole), package.json,
 * the lockfile, and the configured extra paths, of which only files git does not ignore. Nothing is
 * written unless every check passes: no likely secret, archive under the size limit.
 */
import { createHash, type KeyObject } from "node:crypto";
import fsp from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../core/atomic-file.js";
import { dependencyHash, lockfileName } from "./deps-hash.js";
import { CodePackageError } from "./errors.js";
import { sortPaths, walkFiles } from "./files.js";
import { gitInfo, isGitRepository, unignoredFiles } from "./git.js";
import { archiveKey, manifestKey, signatureKey } from "./layout.js";
import { type Manifest, manifestFormatVersion, type Provenance, serializeManifest } from "./manifest.js";
import { scanForSecrets } from "./secrets-scan.js";
import { loadSigningKey, signManifest } from "./signing.js";
import { writeDeterministicTarGz } from "./tarball.js";

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

export interface PackResult {
  manifest: Manifest;
  manifestBytes: Buffer;
  signatureBytes: Buffer | undefined;
  archivePath: string;
  manifestPath: string;
  signaturePath: string | undefined;
  /** MD5 of the archive: the ETag a single-part upload must come back with. */
  archiveMd5: string;
}

/** A file to pack, read once: hashing, the secret scan and the archive all use these bytes. */
export interface PackFile {
  path: string;
  content: Buffer;
  mode: number;
}

const READ_CONCURRENCY = 16;

async function readPackFile(root: string, file: string): Promise<PackFile | undefined> {
  try {
    const full = path.join(root, file);
    const [content, stats] = await Promise.all([fsp.readFile(full), fsp.stat(full)]);
    // Only the executable bit survives; everything else is normalised.
    return { path: file, content, mode: stats.mode & 0o111 ? 0o755 : 0o644 };
  } catch (error) {
    // Tracked in git but deleted from the work tree: not part of what runs.
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The files to pack, checked for secrets, with the content hash of the whole tree. */
export async function collectFiles(
  root: string,
  include: readonly string[],
): Promise<{ files: PackFile[]; contentHash: string }> {
  const built = await walkFiles(root, distDir);
  if (built.length === 0) {
    throw new CodePackageError(
      "PACK_NOT_BUILT",
      `There is no build in ${path.join(root, distDir)}; run \`npm run build\` first.`,
    );
  }
  const required = ["package.json", lockfileName];
  for (const file of required) {
    await fsp.access(path.join(root, file)).catch((cause: unknown) => {
      throw new CodePackageError(
        "PACK_NOT_BUILT",
        `${file} is missing from ${root}; run \`npm install\` to create it.`,
        { cause },
      );
    });
  }
  let extra: string[] = [];
  if (include.length > 0) {
    extra = (await isGitRepository(root))
      ? await unignoredFiles(root, [...include])
      : (await Promise.all(include.map((entry) => walkFiles(root, entry)))).flat();
  }

  const paths = sortPaths([...built, ...required, ...extra]);
  const read: Array<PackFile | undefined> = [];
  for (let i = 0; i < paths.length; i += READ_CONCURRENCY) {
    read.push(...(await Promise.all(paths.slice(i, i + READ_CONCURRENCY).map((file) => readPackFile(root, file)))));
  }
  const files = read.filter((f): f is PackFile => f !== undefined);
  const tree = createHash("sha256");
  const findings = [];
  for (const file of files) {
    const finding = scanForSecrets(file.path, file.content);
    if (finding) findings.push(finding);
    tree.update(`${file.path}\0${file.mode.toString(8)}\0${createHash("sha256").update(file.content).digest("hex")}\n`);
  }
  if (findings.length > 0) {
    const list = findings.map((f) => `${f.path} (${f.reason})`).join(", ");
    throw new CodePackageError(
      "PACK_SECRETS",
      `Refusing to pack likely secrets: ${list}; remove them from the packed paths (or from TDF_PACKAGE_INCLUDE).`,
      { context: { paths: findings.map((f) => f.path) } },
    );
  }
  return { files, contentHash: tree.digest("hex") };
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

/** Everything about a package that can be known before its archive is written. */
export interface PreparedPack {
  root: string;
  sha: string;
  git: { sha: string; branch: string | undefined; dirty: boolean };
  files: PackFile[];
  contentHash: string;
  signingKey: KeyObject | undefined;
}

/** Finds the commit, collects and checks the files, and hashes the tree; writes nothing. */
export async function preparePack(options: Omit<PackOptions, "outDir">): Promise<PreparedPack> {
  const root = path.resolve(options.root);
  // Reading the tree and asking git (a process start, ~20 ms) go on together; git's verdict, if
  // it refuses, is reported first.
  const collecting = collectFiles(root, options.include ?? []);
  collecting.catch(() => {});
  const git = await gitInfo(root);
  if (git && options.sha && options.sha !== git.sha) {
    throw new CodePackageError(
      "PACK_NOT_A_REPOSITORY",
      `--sha ${options.sha} disagrees with the checkout's commit ${git.sha}; omit --sha inside a repository.`,
    );
  }
  const sha = git?.sha ?? options.sha;
  if (sha === undefined || !/^[0-9a-f]{40}$/.test(sha)) {
    throw new CodePackageError(
      "PACK_NOT_A_REPOSITORY",
      `${root} is not a git repository, so the code has no commit to be named by; pack from a clone or pass --sha <40-hex SHA>.`,
    );
  }
  const signingKey = options.signingKey === undefined ? undefined : loadSigningKey(options.signingKey);
  const { files, contentHash } = await collecting;
  return { root, sha, git: git ?? { sha, branch: undefined, dirty: false }, files, contentHash, signingKey };
}

/** Writes the archive, manifest and signature of a prepared pack into `outDir`. */
export async function writePack(
  prepared: PreparedPack,
  options: Pick<PackOptions, "outDir" | "maxBytes" | "provenance" | "now">,
): Promise<PackResult> {
  const { root, sha, files } = prepared;
  await fsp.mkdir(options.outDir, { recursive: true });
  const archivePath = path.join(options.outDir, archiveKey(sha));
  const temp = `${archivePath}.${process.pid}.tmp`;
  let digest: Awaited<ReturnType<typeof writeDeterministicTarGz>>;
  try {
    digest = await writeDeterministicTarGz(files, temp);
    const maxBytes = options.maxBytes ?? defaultMaxBytes;
    if (digest.size > maxBytes) {
      const largest = [...files]
        .sort((a, b) => b.content.length - a.content.length)
        .slice(0, 5)
        .map((f) => `${f.path} (${mib(f.content.length)})`)
        .join(", ");
      throw new CodePackageError(
        "PACK_TOO_LARGE",
        `The code archive would be ${mib(digest.size)}, over the ${mib(maxBytes)} limit (TDF_PACKAGE_MAX_MIB); the largest files are ${largest}.`,
        { context: { size: digest.size, maxBytes } },
      );
    }
    await fsp.rename(temp, archivePath);
  } catch (error) {
    await fsp.rm(temp, { force: true });
    throw error;
  }

  const info = await packageInfo(root);
  const manifest: Manifest = {
    formatVersion: manifestFormatVersion,
    name: info.name,
    version: info.version,
    git: prepared.git,
    createdAt: (options.now ?? new Date()).toISOString(),
    archive: { key: archiveKey(sha), sha256: digest.sha256, size: digest.size, fileCount: files.length },
    contentHash: prepared.contentHash,
    dependencyHash: await dependencyHash(root),
    node: info.node,
    entry: defaultEntry,
    provenance: options.provenance,
  };
  const manifestBytes = serializeManifest(manifest);
  const manifestPath = path.join(options.outDir, manifestKey(sha));
  await writeFileAtomic(manifestPath, manifestBytes);
  let signatureBytes: Buffer | undefined;
  let signaturePath: string | undefined;
  if (prepared.signingKey) {
    signatureBytes = signManifest(manifestBytes, prepared.signingKey);
    signaturePath = path.join(options.outDir, signatureKey(sha));
    await writeFileAtomic(signaturePath, signatureBytes);
  }
  return { manifest, manifestBytes, signatureBytes, archivePath, manifestPath, signaturePath, archiveMd5: digest.md5 };
}

export async function pack(options: PackOptions): Promise<PackResult> {
  return writePack(await preparePack(options), options);
}
