/**
 * Deterministic `.tar.gz`: the same files give byte-identical archives, so an archive's sha256 names
 * its content. Entries are sorted, owners, times and modes normalised, and the gzip header carries no
 * name or time (Node's zlib writes mtime 0).
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { pack as createTarPack } from "tar-stream";

export interface ArchiveDigest {
  sha256: string;
  md5: string;
  size: number;
}

// A fixed, non-zero time: some tools treat an mtime of 0 as "missing".
export const archiveMtime = new Date("2000-01-01T00:00:00Z");

/** Writes `files` (relative paths under `root`, already sorted) as a tar.gz at `target`. */
export async function writeDeterministicTarGz(
  root: string,
  files: readonly string[],
  target: string,
): Promise<ArchiveDigest> {
  const tar = createTarPack();
  const sha256 = createHash("sha256");
  const md5 = createHash("md5");
  let size = 0;
  const digest = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sha256.update(chunk);
      md5.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const feeding = (async () => {
    try {
      for (const file of files) {
        const full = path.join(root, file);
        const [content, stats] = await Promise.all([fsp.readFile(full), fsp.stat(full)]);
        await new Promise<void>((resolve, reject) => {
          tar.entry(
            {
              name: file,
              size: content.length,
              // Only the executable bit survives; everything else is normalised.
              mode: stats.mode & 0o111 ? 0o755 : 0o644,
              mtime: archiveMtime,
              uid: 0,
              gid: 0,
              uname: "",
              gname: "",
              type: "file",
            },
            content,
            (error) => (error ? reject(error) : resolve()),
          );
        });
      }
      tar.finalize();
    } catch (error) {
      tar.destroy(error as Error);
    }
  })();
  await Promise.all([pipeline(tar, createGzip(), digest, createWriteStream(target)), feeding]);
  return { sha256: sha256.digest("hex"), md5: md5.digest("hex"), size };
}
