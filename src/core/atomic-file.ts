import { createWriteStream } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/**
 * Writes a file so that it appears whole or not at all: the content goes to a temporary file in the
 * same folder (same filesystem, so the rename is atomic), which replaces the target only once
 * complete. A failure removes the temporary file and leaves the target as it was.
 */
export async function writeFileAtomic(target: string, content: Readable | Uint8Array | string): Promise<void> {
  // The global Web Crypto: importing node:crypto here would load it on every CLI start (~3 ms).
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${crypto.randomUUID()}.tmp`);
  try {
    if (typeof content === "string" || content instanceof Uint8Array) {
      await fsp.writeFile(temp, content, { flag: "wx" });
    } else {
      await pipeline(content, createWriteStream(temp, { flags: "wx" }));
    }
    // On disk before the rename, so a crash cannot leave an empty file under the target's name.
    const handle = await fsp.open(temp, "r");
    await handle.sync().finally(() => handle.close());
    await fsp.rename(temp, target);
  } catch (error) {
    await fsp.rm(temp, { force: true });
    throw error;
  }
}
