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
 *
 * The input streams, but everything after inflation is synchronous (a push parser, sync file writes):
 * this runs once per cold start in a fresh, un-JIT-ed process, where an await per entry or per piece
 * of data took half the time, and nothing else in the bootstrap runs meanwhile.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { pipeline, type Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { BootstrapError } from "./errors.js";
import { type TarEntry, type TarEntrySink, TarFormatError, TarReader } from "./tar-reader.js";

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

// Files up to this size are gathered in memory and written with one call; bigger ones are written
// piece by piece as they arrive, so memory stays bounded whatever the archive holds.
const SMALL_FILE = 1024 * 1024;
// Inflation runs on libuv's thread pool while the files of the chunk before are written here. Large
// chunks keep the async hops for a code package to a handful; room for a few more inflated ones lets
// the next be inflated during those writes rather than after them. The compressed side keeps its
// small default, so reading stops close behind the end-of-archive marker. About 1.5 MiB at most.
const inflateOptions = { chunkSize: 256 * 1024, readableHighWaterMark: 1024 * 1024 };
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

/**
 * The usual name, which passes every rule below as it is: ASCII letters, digits and `_.@+-`, no segment
 * that starts with a dot (so no `.` or `..`) or is empty, none over 255 bytes. Checking it with one
 * regular expression instead of rule by rule saves milliseconds in a process too young to have
 * optimised the rules; any other name goes through them all.
 */
const PLAIN_NAME = /^(?:[\w@+-][\w.@+-]{0,254}\/)*[\w@+-][\w.@+-]{0,254}\/?$/;

/** The entry's path inside `dest`, or a refusal. */
function safeTarget(dest: string, name: string): string {
  const segments = name.length <= MAX_NAME_BYTES && PLAIN_NAME.test(name) ? name.split("/") : checkedSegments(name);
  if (segments[segments.length - 1] === "") segments.pop(); // a folder's trailing slash
  const relative = segments.join(path.sep);
  // Belt and braces: whatever the rules miss, no segment of the joined path may step elsewhere.
  if (/(?:^|[/\\])\.{0,2}(?:[/\\]|$)/.test(relative)) throw unsafe(name, "resolves outside the folder");
  // Not path.join: it normalises character by character, which in a young process costs more than
  // all the rules together, and these segments need none.
  return `${dest}${path.sep}${relative}`;
}

/** The name's segments, once every rule has passed. */
function checkedSegments(name: string): string[] {
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
  return segments;
}

function describeType(entry: TarEntry): string {
  if (entry.type === "symlink" || entry.type === "link") return `is a ${entry.type} to "${shown(entry.linkname, 60)}"`;
  return entry.type === "unknown"
    ? `is an entry of an unknown type ("${shown(entry.typeflag)}")`
    : `is a ${entry.type}`;
}

function fileError(error: unknown, name: string, writing: boolean): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EEXIST" && writing) return unsafe(name, "appears twice in the archive");
  if (code === "EEXIST" || code === "ENOTDIR" || code === "EISDIR") {
    return unsafe(name, "clashes with another entry (a file and a folder of the same name)");
  }
  if (code === "ENAMETOOLONG") return unsafe(name, "has a name too long for this filesystem");
  return error;
}

/** The error unpackArchive reports for whatever stopped it. */
function refusal(error: unknown, sourceError: unknown): unknown {
  if (error instanceof BootstrapError) return error;
  if (sourceError !== undefined) {
    return new BootstrapError(
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
    return new BootstrapError("ARCHIVE_UNSAFE", `The code archive ${why}${where}; refusing to unpack it.`, {
      cause: error,
    });
  }
  return new BootstrapError(
    "ARCHIVE_UNSAFE",
    `The code archive is not a valid .tar.gz (${shown((error as Error).message ?? String(error))}); refusing to unpack it.`,
    { cause: error },
  );
}

/** Unpacks a `.tar.gz` stream into `dest` (which must exist and be empty). */
export async function unpackArchive(
  archive: Readable,
  dest: string,
  limits: Partial<UnpackLimits> = {},
): Promise<UnpackResult> {
  const { maxEntries, maxBytes } = { ...defaultUnpackLimits, ...limits };
  // Headers and padding take at most a few KiB per entry; beyond that, inflated bytes are a bomb.
  const maxInflated = maxBytes + maxEntries * 2048 + 1024 * 1024;
  const root = path.resolve(dest);
  const made = new Set<string>([root]);
  let files = 0;
  let bytes = 0;
  let entries = 0;
  let current: string | undefined; // the entry being read
  let openFile: number | undefined; // the big file being written, closed whatever happens

  /** Counts a file's bytes as they arrive: a header's size cannot be trusted to stop a bomb. */
  const count = (name: string, data: Buffer) => {
    bytes += data.length;
    if (bytes > maxBytes) throw unsafe(name, `takes the unpacked size past ${maxBytes} bytes`);
  };

  const smallFile = (target: string, name: string, mode: number): TarEntrySink => {
    const pieces: Buffer[] = [];
    return {
      write(data) {
        count(name, data);
        pieces.push(data);
      },
      end() {
        try {
          // wx: an archive that names the same file twice is refused rather than silently overwritten.
          writeFileSync(target, pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces), {
            flag: "wx",
            mode,
          });
        } catch (error) {
          throw fileError(error, name, true);
        }
        files += 1;
        current = undefined;
      },
    };
  };

  const bigFile = (target: string, name: string, mode: number): TarEntrySink => {
    try {
      openFile = openSync(target, "wx", mode);
    } catch (error) {
      throw fileError(error, name, true);
    }
    const fd = openFile;
    return {
      write(data) {
        count(name, data);
        for (let at = 0; at < data.length; ) at += writeSync(fd, data, at);
      },
      end() {
        openFile = undefined;
        closeSync(fd);
        files += 1;
        current = undefined;
      },
    };
  };

  const onEntry = (entry: TarEntry): TarEntrySink | undefined => {
    current = entry.name;
    entries += 1;
    if (entries > maxEntries) throw unsafe(entry.name, `is past the limit of ${maxEntries} entries`);
    // `./`, the archive's own root (tar -C dir . writes one): the staging folder itself.
    if (entry.type === "directory" && entry.name.split("/").every((s) => s === "" || s === ".")) return undefined;
    const target = safeTarget(root, entry.name);
    if (entry.type === "directory") {
      if (!made.has(target)) {
        try {
          mkdirSync(target, { recursive: true });
        } catch (error) {
          throw fileError(error, entry.name, false);
        }
        made.add(target);
      }
      current = undefined;
      return undefined;
    }
    if (entry.type !== "file" && entry.type !== "contiguous-file") {
      throw unsafe(entry.name, `${describeType(entry)}, which a code package never contains`);
    }
    if (bytes + entry.size > maxBytes) throw unsafe(entry.name, `would take the unpacked size past ${maxBytes} bytes`);
    const parent = path.dirname(target);
    if (!made.has(parent)) {
      try {
        mkdirSync(parent, { recursive: true });
      } catch (error) {
        throw fileError(error, entry.name, true);
      }
      made.add(parent);
    }
    const mode = entry.mode & 0o111 ? 0o755 : 0o644;
    return entry.size <= SMALL_FILE ? smallFile(target, entry.name, mode) : bigFile(target, entry.name, mode);
  };

  let sourceError: unknown;
  archive.once("error", (error) => {
    sourceError = error;
  });
  const inflated = pipeline(archive, createGunzip(inflateOptions), () => {
    // An error also ends the reading below, which reports it.
  });
  const reader = new TarReader(onEntry);
  let inflatedBytes = 0;
  try {
    let ended = false;
    for await (const chunk of inflated) {
      inflatedBytes += (chunk as Buffer).length;
      if (inflatedBytes > maxInflated) {
        throw unsafe(current ?? "(end of archive)", `takes the archive past ${maxInflated} inflated bytes`);
      }
      // Done at the end-of-archive marker: whatever follows (padding) is not even inflated.
      ended = reader.push(chunk as Buffer);
      if (ended) break;
    }
    if (!ended) reader.end();
  } catch (error) {
    throw refusal(error, sourceError);
  } finally {
    if (openFile !== undefined) closeSync(openFile);
    inflated.destroy();
    archive.destroy();
  }
  return { files, bytes };
}
