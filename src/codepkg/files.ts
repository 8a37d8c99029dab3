/**
 * Walking project folders in a stable order: every hash and archive here depends on it. Synchronous:
 * a project's folders hold a few hundred entries, and listing them in order on this thread is faster
 * than a promise per folder through the thread pool.
 */
import fs from "node:fs";
import path from "node:path";

/** Relative `/`-separated paths of the regular files under `dir` (recursively), in byte order. */
export function walkFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (relative: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(root, relative), { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const entry of entries) {
      const child = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) out.push(child);
    }
  };
  walk(dir);
  return sortPaths(out);
}

export function sortPaths(paths: Iterable<string>): string[] {
  return [...new Set(paths)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
