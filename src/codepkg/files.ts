/** Walking project folders in a stable order: every hash and archive here depends on it. */
import fsp from "node:fs/promises";
import path from "node:path";

/** Relative `/`-separated paths of the regular files under `dir` (recursively), in byte order. */
export async function walkFiles(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(relative: string): Promise<void> {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await fsp.readdir(path.join(root, relative), { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const entry of entries) {
      const child = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile()) out.push(child);
    }
  }
  await walk(dir);
  return sortPaths(out);
}

export function sortPaths(paths: Iterable<string>): string[] {
  return [...new Set(paths)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
