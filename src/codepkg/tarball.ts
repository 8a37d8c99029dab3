/**
 * Deterministic `.tar.gz`: the same files give byte-identical archives, so an archive's sha256 names
 * its content. Entries are sorted, owners, times and modes normalised, and the gzip header carries no
 * name or time (Node's zlib writes mtime 0).
 *
 * The ustar headers are written here directly: a package holds only regular files, and building the
 * archive in one pass over buffers already in memory is several times faster than a streaming packer.
 */
import { createHash } from "node:crypto";
import fsp from "node:fs/promises";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { CodePackageError } from "./errors.js";

const gzipAsync = promisify(gzip);

export interface ArchiveDigest {
  sha256: string;
  md5: string;
  size: number;
}

export interface ArchiveFile {
  path: string;
  content: Buffer;
  mode: number;
}

// A fixed, non-zero time: some tools treat an mtime of 0 as "missing".
export const archiveMtime = new Date("2000-01-01T00:00:00Z");

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

/** ustar splits a long path into a prefix (≤ 155 bytes) and a name (≤ 100 bytes) at a slash. */
function splitPath(file: string): { name: string; prefix: string } {
  if (Buffer.byteLength(file) <= 100) return { name: file, prefix: "" };
  for (let i = file.lastIndexOf("/"); i > 0; i = file.lastIndexOf("/", i - 1)) {
    const prefix = file.slice(0, i);
    const name = file.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix };
  }
  throw new CodePackageError("PACK_TOO_LARGE", `The path ${file} is too long for a tar archive; shorten it.`);
}

function header(file: ArchiveFile): Buffer {
  const block = Buffer.alloc(BLOCK);
  const { name, prefix } = splitPath(file.path);
  block.write(name, 0, 100, "utf8");
  block.write(octal(file.mode, 8), 100, "ascii");
  block.write(octal(0, 8), 108, "ascii"); // uid
  block.write(octal(0, 8), 116, "ascii"); // gid
  block.write(octal(file.content.length, 12), 124, "ascii");
  block.write(octal(Math.floor(archiveMtime.getTime() / 1000), 12), 136, "ascii");
  block.write("        ", 148, "ascii"); // checksum placeholder: spaces while summing
  block.write("0", 156, "ascii"); // regular file
  block.write("ustar\0", 257, "ascii");
  block.write("00", 263, "ascii");
  block.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return block;
}

/** The tar.gz of `files` (sorted by path), in memory, with the digests publishing needs. */
export async function buildDeterministicTarGz(
  files: readonly ArchiveFile[],
): Promise<ArchiveDigest & { bytes: Buffer }> {
  const parts: Buffer[] = [];
  for (const file of files) {
    parts.push(header(file), file.content);
    const padding = (BLOCK - (file.content.length % BLOCK)) % BLOCK;
    if (padding > 0) parts.push(Buffer.alloc(padding));
  }
  parts.push(Buffer.alloc(BLOCK * 2)); // end of archive
  const bytes = await gzipAsync(Buffer.concat(parts));
  return {
    bytes,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    md5: createHash("md5").update(bytes).digest("hex"),
    size: bytes.length,
  };
}

/** The tar.gz of `files` (sorted by path), written to `target`. */
export async function writeDeterministicTarGz(files: readonly ArchiveFile[], target: string): Promise<ArchiveDigest> {
  const { bytes, ...digest } = await buildDeterministicTarGz(files);
  await fsp.writeFile(target, bytes, { flag: "wx" });
  return digest;
}
