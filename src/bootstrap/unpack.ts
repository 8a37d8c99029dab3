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
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract, type Header } from "tar-stream";
import { BootstrapError } from "./errors.js";

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

function describeType(header: Header): string {
  const type = header.type as string | null;
  if (type === "symlink" || type === "link") return `is a ${type} to "${shown(header.linkname ?? "", 60)}"`;
  return type ? `is a ${type}` : "is an entry of an unknown type";
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
  const reader = extract();
  const made = new Set<string>([root]);
  const writes: Array<Promise<void>> = [];
  let files = 0;
  let bytes = 0;
  let entries = 0;
  let current: string | undefined; // the entry being read
  let previous: string | undefined; // the last entry read whole
  let sourceError: unknown;
  archive.once("error", (error) => {
    sourceError = error;
  });
  // Headers and padding take at most a few KiB per entry; beyond that, inflated bytes are a bomb.
  const inflated = inflationLimit(maxBytes + maxEntries * 2048 + 1024 * 1024, () => current);
  const feeding = pipeline(archive, createGunzip(), inflated, reader);
  feeding.catch(() => {}); // its error, if any, also ends the loop below, which reports it

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
    for await (const entry of reader) {
      const header = entry.header;
      current = header.name;
      entries += 1;
      if (entries > maxEntries) throw unsafe(header.name, `is past the limit of ${maxEntries} entries`);
      const target = safeTarget(root, header.name);
      if (header.type === "directory") {
        await fsp.mkdir(target, { recursive: true }).catch((error: unknown) => {
          throw fileError(error, header.name, false);
        });
        made.add(target);
        entry.resume();
        previous = header.name;
        current = undefined;
        continue;
      }
      if (header.type !== "file" && header.type !== "contiguous-file") {
        throw unsafe(header.name, `${describeType(header)}, which a code package never contains`);
      }
      // The header's size cannot be trusted to stop a bomb; the bytes are also counted as they arrive.
      if (bytes + (header.size ?? 0) > maxBytes)
        throw unsafe(header.name, `would take the unpacked size past ${maxBytes} bytes`);
      const parent = path.dirname(target);
      const mode = (header.mode ?? 0o644) & 0o111 ? 0o755 : 0o644;
      try {
        if (!made.has(parent)) {
          await fsp.mkdir(parent, { recursive: true });
          made.add(parent);
        }
        if ((header.size ?? 0) <= SMALL_FILE) {
          const chunks: Buffer[] = [];
          for await (const chunk of entry) {
            bytes += (chunk as Buffer).length;
            if (bytes > maxBytes) throw unsafe(header.name, `takes the unpacked size past ${maxBytes} bytes`);
            chunks.push(chunk as Buffer);
          }
          // wx: an archive that names the same file twice is refused rather than silently overwritten.
          // Small files are written in parallel (several times faster); every write stays inside the
          // staging folder, and all are settled before this function returns or throws.
          const name = header.name;
          writes.push(
            fsp.writeFile(target, Buffer.concat(chunks), { flag: "wx", mode }).catch((error: unknown) => {
              throw fileError(error, name, true);
            }),
          );
          if (writes.length >= PARALLEL_WRITES) await Promise.all(writes.splice(0));
        } else {
          const counting = new Transform({
            transform(chunk: Buffer, _encoding, done) {
              bytes += chunk.length;
              if (bytes > maxBytes) done(unsafe(header.name, `takes the unpacked size past ${maxBytes} bytes`));
              else done(null, chunk);
            },
          });
          await pipeline(entry, counting, createWriteStream(target, { flags: "wx", mode }));
        }
      } catch (error) {
        throw fileError(error, header.name, true);
      }
      files += 1;
      previous = header.name;
      current = undefined;
    }
    await Promise.all(writes.splice(0));
    await feeding;
  } catch (error) {
    archive.destroy();
    await Promise.allSettled(writes.splice(0));
    await feeding.catch(() => {});
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
    const message = (error as Error).message ?? String(error);
    const why = /unexpected end/i.test(message)
      ? current === undefined
        ? "ends in the middle of a header"
        : `ends in the middle of entry "${shown(current)}"`
      : /invalid tar header/i.test(message)
        ? `has a damaged header${previous === undefined ? "" : ` after entry "${shown(previous)}"`}`
        : `is not a valid .tar.gz (${shown(message)})`;
    throw new BootstrapError("ARCHIVE_UNSAFE", `The code archive ${why}; refusing to unpack it.`, { cause: error });
  }
  return { files, bytes };
}
