/**
 * The manifest published beside every archive: what the code is, where it came from, and what it
 * needs. The bootstrap trusts nothing it downloads until the manifest (and, when configured, its
 * signature) says so.
 */
import { CodePackageError } from "./errors.js";

export const manifestFormatVersion = 1;

export interface Provenance {
  /** The CI system, e.g. `github-actions`. */
  system: string;
  runId: string | undefined;
  actor: string | undefined;
  workflow: string | undefined;
  repository: string | undefined;
}

export interface Manifest {
  formatVersion: number;
  name: string;
  version: string;
  git: { sha: string; branch: string | undefined; dirty: boolean };
  createdAt: string;
  archive: {
    key: string;
    sha256: string;
    /**
     * MD5 of the archive: the ETag a single-part upload of it has, so a HEAD proves the stored bytes
     * are these without downloading them. Absent from manifests written before it was recorded.
     */
    md5?: string;
    size: number;
    fileCount: number;
  };
  /** Hash of the packed files' paths, modes and contents: equal trees have equal content hashes. */
  contentHash: string;
  /** See `dependencyHash`: the base image built from the same inputs carries this hash. */
  dependencyHash: string;
  /** The Node.js version range of package.json's `engines.node`. */
  node: string | undefined;
  /** The command that runs the code, relative to the unpacked folder. */
  entry: string[];
  provenance: Provenance | undefined;
}

export function serializeManifest(manifest: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, "utf8");
}

const hex = (n: number) => new RegExp(`^[0-9a-f]{${n}}$`);

/** Parses and checks a manifest's shape; `where` names it in the error (a key or a file). */
export function parseManifest(bytes: Uint8Array, where: string): Manifest {
  const invalid = (why: string) =>
    new CodePackageError("MANIFEST_INVALID", `The code manifest ${where} is invalid: ${why}; re-publish the code.`, {
      context: { where },
    });
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (cause) {
    throw invalid(`it is not JSON (${(cause as Error).message})`);
  }
  const m = data as Partial<Manifest>;
  if (typeof m !== "object" || m === null) throw invalid("it is not an object");
  if (m.formatVersion !== manifestFormatVersion)
    throw invalid(`its format version is ${m.formatVersion}, expected ${manifestFormatVersion}`);
  if (!m.git || !hex(40).test(String(m.git.sha))) throw invalid("git.sha is not a 40-character SHA");
  if (!m.archive || !hex(64).test(String(m.archive.sha256))) throw invalid("archive.sha256 is missing");
  if (m.archive.md5 !== undefined && !hex(32).test(String(m.archive.md5))) throw invalid("archive.md5 is not an MD5");
  if (!Number.isSafeInteger(m.archive.size) || (m.archive.size ?? -1) < 0) throw invalid("archive.size is not a size");
  if (!hex(64).test(String(m.dependencyHash))) throw invalid("dependencyHash is missing");
  if (!hex(64).test(String(m.contentHash))) throw invalid("contentHash is missing");
  if (!Array.isArray(m.entry) || m.entry.length === 0 || !m.entry.every((e) => typeof e === "string")) {
    throw invalid("entry is not a command");
  }
  return m as Manifest;
}
