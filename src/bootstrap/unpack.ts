/**
 * Safe unpacking of a code archive into a staging folder. The archive was verified against its
 * manifest before this runs, but the unpacker still trusts nothing: a signing key can leak, and a bug
 * in the packer must not become a write outside the cache.
 *
 * Refused: absolute paths, `..` segments, over-long names, every symbolic or hard link (the packer
 * never makes one, so a link is an attack or a bug), devices, FIFOs, unknown entry types, and more
 * entries or bytes than the limits allow (a gzip bomb, whether in files or in padding). Entries are
 * handled one at a time, in order, so nothing is written after a refusal. The caller unpacks into a
 * fresh staging folder and renames it into the cache only when this returns.
 */
import { createWriteStream } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { pipeline as pipelineWithCallback, Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { BootstrapError } from "./errors.js";
import { readTar, type TarEntry, TarFormatError } from "./tar-reader.js";

export interface UnpackLimits {
  /** Most entries an archive may hold (default 20,000). */
  maxEntries: number;
  /** Most bytes the unpacked files may add up to (default 1 GiB). */
  maxBytes: number;
}

export const defaultUnpackLimits: UnpackLimits = { maxEntries: 20_000, maxBytes: 1024 * 1024 * 1024 };

export interface UnpackResult {
  files: number;
  bytes: number;
}

// Files up to this size are gathered in memory and written at once: most code files are small, and
// one write each is several times faster than a stream each.
const SMALL_FILE = 1024 * 1024;
const PARALLEL_WRITES = 32;
const MAX_NAME_BYTES = 4096;
const MAX_SEGMENT_BYTES = 255;

/** A name as it may appear in a message: escaped, and cut short. */
function shown(text: string, max = 200): string {
  const escaped = JSON.stringify(text).slice(1, -1);
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

function unsafe(entry: string, why: string): BootstrapError {
  return new BootstrapError(
    "ARCHIVE_UNSAFE",
    `The code archive entry "${shown(entry)}" ${why}; refusing to unpack it.`,
    {
      context: { entry: shown(entry) },
    },
  );
}

/** The entry's path inside `dest`, or a refusal. */
function safeTarget(dest: string, name: string): string {
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw unsafe(name, `has a name longer than ${MAX_NAME_BYTES} bytes`);
  if (name.includes("\0")) throw unsafe(name, "contains a NUL character");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name) || name.includes("\\"))
    throw unsafe(name, "has an absolute or Windows path");
  const segments = name.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.length === 0) throw unsafe(name, "has an empty path");
  if (segments.includes("..")) throw unsafe(name, 'contains a ".." segment, which could escape the folder');
  if (segments.some((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES)) {
    throw unsafe(name, `has a path segment longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
  const target = path.join(dest, ...segments);
  // Belt and braces: whatever the rules above miss, the target must stay inside dest.
  if (!target.startsWith(dest + path.sep)) throw unsafe(name, "resolves outside the folder");
  return target;
}

function describeType(entry: TarEntry): string {
  if (entry.type === "symlink" || entry.type === "link") return `is a ${entry.type} to "${shown(entry.linkname, 60)}"`;
  return entry.type === "unknown"
    ? `is an entry of an unknown type ("${shown(entry.typeflag)}")`
    : `is a ${entry.type}`;
}

/** Counts inflated bytes, so a bomb hidden outside any file (in padding) is stopped too. */
function inflationLimit(limit: number, current: () => string | undefined): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > limit) done(unsafe(current() ?? "(end of archive)", `takes the archive past ${limit} inflated bytes`));
      else done(null, chunk);
    },
  });
}

/** Unpacks a `.tar.gz` stream into `dest` (which must exist and be empty). */
export async function unpackArchive(
  archive: Readable,
  dest: string,
  limits: Partial<UnpackLimits> = {},
): Promise<UnpackResult> {
  const { maxEntries, maxBytes } = { ...defaultUnpackLimits, ...limits };
  const root = path.resolve(dest);
  const made = new Set<string>([root]);
  const writes: Array<Promise<void>> = [];
  let writeError: unknown;
  /** Waits for the writes in flight (they never reject) and reports the first that failed. */
  const settleWrites = async () => {
    await Promise.all(writes.splice(0));
    if (writeError !== undefined) throw writeError;
  };
  let files = 0;
  let bytes = 0;
  let entries = 0;
  let current: string | undefined; // the entry being read
  let sourceError: unknown;
  archive.once("error", (error) => {
    sourceError = error;
  });
  // Headers and padding take at most a few KiB per entry; beyond that, inflated bytes are a bomb.
  const inflated = pipelineWithCallback(
    archive,
    createGunzip(),
    inflationLimit(maxBytes + maxEntries * 2048 + 1024 * 1024, () => current),
    () => {}, // an error also ends the reading below, which reports it
  );

  const fileError = (error: unknown, name: string, writing: boolean): unknown => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && writing) return unsafe(name, "appears twice in the archive");
    if (code === "EEXIST" || code === "ENOTDIR" || code === "EISDIR") {
      return unsafe(name, "clashes with another entry (a file and a folder of the same name)");
    }
    if (code === "ENAMETOOLONG") return unsafe(name, "has a name too long for this filesystem");
    return error;
  };

  try {
    for await (const { entry, body } of readTar(inflated)) {
      current = entry.name;
      entries += 1;
      if (entries > maxEntries) throw unsafe(entry.name, `is past the limit of ${maxEntries} entries`);
      // `./`, the archive's own root (tar -C dir . writes one): the staging folder itself.
      if (entry.type === "directory" && entry.name.split("/").every((s) => s === "" || s === ".")) continue;
      const target = safeTarget(root, entry.name);
      if (entry.type === "directory") {
        await fsp.mkdir(target, { recursive: true }).catch((error: unknown) => {
          throw fileError(error, entry.name, false);
        });
        made.add(target);
        current = undefined;
        continue;
      }
      if (entry.type !== "file" && entry.type !== "contiguous-file") {
        throw unsafe(entry.name, `${describeType(entry)}, which a code package never contains`);
      }
      // The header's size cannot be trusted to stop a bomb; the bytes are also counted as they arrive.
      if (bytes + entry.size > maxBytes)
        throw unsafe(entry.name, `would take the unpacked size past ${maxBytes} bytes`);
      const parent = path.dirname(target);
      const mode = entry.mode & 0o111 ? 0o755 : 0o644;
      const name = entry.name;
      try {
        if (!made.has(parent)) {
          await fsp.mkdir(parent, { recursive: true });
          made.add(parent);
        }
        if (entry.size <= SMALL_FILE) {
          const chunks: Buffer[] = [];
          for await (const chunk of body) {
            bytes += chunk.length;
            if (bytes > maxBytes) throw unsafe(name, `takes the unpacked size past ${maxBytes} bytes`);
            chunks.push(chunk);
          }
          // wx: an archive that names the same file twice is refused rather than silently overwritten.
          // Small files are written in parallel (several times faster); every write stays inside the
          // staging folder, and all are settled before this function returns or throws.
          writes.push(
            fsp.writeFile(target, Buffer.concat(chunks), { flag: "wx", mode }).catch((error: unknown) => {
              // Kept, not thrown: a rejection nobody awaits yet would end the process.
              writeError ??= fileError(error, name, true);
            }),
          );
          if (writes.length >= PARALLEL_WRITES) await settleWrites();
        } else {
          const counting = new Transform({
            transform(chunk: Buffer, _encoding, done) {
              bytes += chunk.length;
              if (bytes > maxBytes) done(unsafe(name, `takes the unpacked size past ${maxBytes} bytes`));
              else done(null, chunk);
            },
          });
          await pipeline(Readable.from(body), counting, createWriteStream(target, { flags: "wx", mode }));
        }
      } catch (error) {
        throw fileError(error, name, true);
      }
      files += 1;
      current = undefined;
    }
    await settleWrites();
    // Done at the end-of-archive marker: whatever follows (padding) is not even inflated.
    inflated.destroy();
    archive.destroy();
  } catch (error) {
    inflated.destroy();
    archive.destroy();
    // Nothing may still be writing when this settles: the caller removes the staging folder next.
    await Promise.all(writes.splice(0));
    if (error instanceof BootstrapError) throw error;
    if (sourceError !== undefined) {
      throw new BootstrapError(
        "DOWNLOAD_FAILED",
        `Reading the code archive failed: ${(sourceError as Error).message}.`,
        {
          cause: sourceError,
        },
      );
    }
    if (error instanceof TarFormatError) {
      const where = error.entry === undefined ? "" : ` (at entry "${shown(error.entry)}")`;
      const why = error.problem === "truncated" ? `is cut short: ${error.message}` : `is damaged: ${error.message}`;
      throw new BootstrapError("ARCHIVE_UNSAFE", `The code archive ${why}${where}; refusing to unpack it.`, {
        cause: error,
      });
    }
    throw new BootstrapError(
      "ARCHIVE_UNSAFE",
      `The code archive is not a valid .tar.gz (${shown((error as Error).message ?? String(error))}); refusing to unpack it.`,
      { cause: error },
    );
  }
  return { files, bytes };
}
