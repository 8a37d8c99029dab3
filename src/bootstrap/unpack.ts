/**
 * Safe unpacking of a code archive into a staging folder. The archive was verified against its
 * manifest before this runs, but the unpacker still trusts nothing: a signing key can leak, and a bug
 * in the packer must not become a write outside the cache.
 *
 * Refused: absolute paths, `..` segments, every symbolic or hard link (the packer never makes one, so
 * a link is an attack or a bug), devices, FIFOs, and more entries or uncompressed bytes than the
 * limits allow (a gzip bomb). The caller unpacks into a fresh staging folder and renames it into the
 * cache only when this returns, so a refusal or a crash leaves nothing a later task would use.
 */
import { createWriteStream } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
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

// Files up to this size are gathered in memory and written at once.
const SMALL_FILE = 1024 * 1024;

export const defaultUnpackLimits: UnpackLimits = { maxEntries: 20_000, maxBytes: 1024 * 1024 * 1024 };

export interface UnpackResult {
  files: number;
  bytes: number;
}

function unsafe(entry: string, why: string): BootstrapError {
  const shown = JSON.stringify(entry).slice(1, -1);
  return new BootstrapError("ARCHIVE_UNSAFE", `The code archive entry "${shown}" ${why}; refusing to unpack it.`, {
    context: { entry },
  });
}

/** The entry's path inside `dest`, or a refusal. */
function safeTarget(dest: string, header: Header): string {
  const name = header.name;
  if (name.includes("\0")) throw unsafe(name, "contains a NUL character");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name) || name.includes("\\"))
    throw unsafe(name, "has an absolute or Windows path");
  const segments = name.split("/").filter((s: string) => s !== "" && s !== ".");
  if (segments.length === 0) throw unsafe(name, "has an empty path");
  if (segments.includes("..")) throw unsafe(name, 'contains a ".." segment, which could escape the folder');
  const target = path.join(dest, ...segments);
  // Belt and braces: whatever the rules above miss, the target must stay inside dest.
  if (!target.startsWith(dest + path.sep)) throw unsafe(name, "resolves outside the folder");
  return target;
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
  let files = 0;
  let bytes = 0;
  let entries = 0;
  const made = new Set<string>([root]);

  reader.on("entry", (header, stream, next) => {
    const handle = async () => {
      entries += 1;
      if (entries > maxEntries) throw unsafe(header.name, `is past the limit of ${maxEntries} entries`);
      const target = safeTarget(root, header);
      if (header.type === "directory") {
        await fsp.mkdir(target, { recursive: true });
        stream.resume();
        return;
      }
      if (header.type !== "file" && header.type !== "contiguous-file") {
        const kind =
          header.type === "symlink" || header.type === "link"
            ? `is a ${header.type} to "${header.linkname}"`
            : `is a ${header.type}`;
        throw unsafe(header.name, `${kind}, which a code package never contains`);
      }
      // The header's size cannot be trusted to stop a bomb; the bytes are counted as they arrive.
      if (bytes + (header.size ?? 0) > maxBytes)
        throw unsafe(header.name, `would take the unpacked size past ${maxBytes} bytes`);
      const parent = path.dirname(target);
      if (!made.has(parent)) {
        await fsp.mkdir(parent, { recursive: true });
        made.add(parent);
      }
      const mode = (header.mode ?? 0o644) & 0o111 ? 0o755 : 0o644;
      // wx: an archive that names the same file twice is refused rather than silently overwritten.
      if ((header.size ?? 0) <= SMALL_FILE) {
        // Most code files are small: one write each is several times faster than a stream each.
        const chunks: Buffer[] = [];
        for await (const chunk of stream) {
          bytes += (chunk as Buffer).length;
          if (bytes > maxBytes) throw unsafe(header.name, `takes the unpacked size past ${maxBytes} bytes`);
          chunks.push(chunk as Buffer);
        }
        await fsp.writeFile(target, Buffer.concat(chunks), { flag: "wx", mode });
      } else {
        stream.on("data", (chunk: unknown) => {
          bytes += (chunk as Buffer).length;
          if (bytes > maxBytes) stream.destroy(unsafe(header.name, `takes the unpacked size past ${maxBytes} bytes`));
        });
        await pipeline(stream, createWriteStream(target, { flags: "wx", mode }));
      }
      files += 1;
    };
    handle().then(
      () => next(),
      (error: unknown) => {
        stream.resume();
        const refusal =
          (error as NodeJS.ErrnoException).code === "EEXIST"
            ? unsafe(header.name, "appears twice in the archive")
            : (error as NodeJS.ErrnoException).code === "ENOTDIR" || (error as NodeJS.ErrnoException).code === "EISDIR"
              ? unsafe(header.name, "clashes with another entry (a file and a folder of the same name)")
              : error;
        reader.destroy(refusal as Error);
      },
    );
  });

  try {
    await pipeline(archive, createGunzip(), reader);
  } catch (error) {
    if (error instanceof BootstrapError) throw error;
    throw new BootstrapError(
      "ARCHIVE_UNSAFE",
      `The code archive is not a valid .tar.gz (${(error as Error).message}); refusing to unpack it.`,
      {
        cause: error,
      },
    );
  }
  return { files, bytes };
}
