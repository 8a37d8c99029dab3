/**
 * The code cache: a folder (a host volume shared by every container in production) holding one
 * unpacked, verified code version per SHA.
 *
 *   <sha>/                 a complete version; it only ever appears by renaming a finished staging
 *     .tdf-cache/          its manifest, signature and unpacked size
 *     node_modules         a link to the image's dependencies (ESM resolves packages from the code's folders)
 *   .staging/<sha>-<id>/   a version being unpacked (removed by the next holder of its lock after a crash)
 *   .downloads/            archives being downloaded
 *   .locks/<sha>           "this SHA is being fetched": several bootstraps of one version download it once
 *   .inuse/<sha>/<owner>   "a task runs this version": trimming never removes it
 *   .used/<sha>            its modification time is the version's last use, for least-recently-used trimming
 *
 * The few small reads and writes every start makes (lookup, in-use marker, dependency link, commit)
 * are synchronous: in a fresh process a thread-pool round trip costs about a millisecond each, on a
 * path whose whole budget is a few tens of milliseconds.
 *
 * The lock only saves duplicate work; correctness rests on the rename. Owners are
 * `<hostname>:<pid namespace>:<pid>:<random>`: in the same PID namespace a dead pid frees a lock at
 * once; across containers a lock or an in-use marker whose heartbeat stopped is stale after a while.
 */
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";

export interface CacheOptions {
  dir: string;
  /** How often a lock or an in-use marker is touched while held (default 2 s). */
  heartbeatMs?: number;
  /** How old a heartbeat may be before its lock or marker is taken as abandoned (default 10 s). */
  staleMs?: number;
}

export interface Held {
  release(): Promise<void>;
}

// Containers can share a hostname (host networking) but not a PID namespace: the pid check is only
// trusted when both match; otherwise the heartbeat decides.
const pidNamespace = (() => {
  try {
    return fs.readlinkSync("/proc/self/ns/pid").replace(/\D/g, "");
  } catch {
    return "";
  }
})();
const owner = `${os.hostname()}:${pidNamespace}:${process.pid}:${randomUUID().slice(0, 8)}`;

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Removes one file, if it is there. unlink rather than fs.rm, which loads its recursive remover on
 * first use: a few milliseconds of every cold start.
 */
export async function removeFile(file: string): Promise<void> {
  await fsp.unlink(file).catch((error: unknown) => {
    if (errno(error) !== "ENOENT") throw error;
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errno(error) === "EPERM";
  }
}

export function createCodeCache(options: CacheOptions) {
  const dir = path.resolve(options.dir);
  const heartbeatMs = options.heartbeatMs ?? 2_000;
  const staleMs = options.staleMs ?? 10_000;
  const versionDir = (sha: string) => path.join(dir, sha);
  const metaDir = (sha: string) => path.join(versionDir(sha), ".tdf-cache");

  /** Whether a lock file or marker, owned by `text`, was abandoned by its owner. */
  const abandoned = async (file: string): Promise<boolean> => {
    const [text, stats] = await Promise.all([
      fsp.readFile(file, "utf8").catch(() => ""),
      fsp.stat(file).catch(() => undefined),
    ]);
    if (stats === undefined) return true;
    const [host, namespace, pid] = text.split(":");
    if (host === os.hostname() && namespace === pidNamespace && pid !== undefined && !processAlive(Number(pid)))
      return true;
    return Date.now() - stats.mtimeMs > staleMs;
  };

  /** Keeps a file's mtime fresh while held; the timer does not keep the process alive. */
  const heartbeat = (file: string) => {
    const timer = setInterval(() => {
      const now = new Date();
      fsp.utimes(file, now, now).catch(() => {});
    }, heartbeatMs);
    timer.unref();
    return timer;
  };

  const cache = {
    dir,
    versionDir,

    /** The cached version's stored files, or undefined when the SHA is not (completely) cached. */
    async lookup(sha: string): Promise<{ manifestBytes: Buffer; signatureBytes: Buffer | null } | undefined> {
      try {
        const manifestBytes = fs.readFileSync(path.join(metaDir(sha), "manifest.json"));
        let signatureBytes: Buffer | null = null;
        try {
          signatureBytes = fs.readFileSync(path.join(metaDir(sha), "signature.json"));
        } catch {}
        return { manifestBytes, signatureBytes };
      } catch (error) {
        if (errno(error) === "ENOENT") return undefined;
        throw error;
      }
    },

    /** Waits for, then holds, the lock that says "this SHA is being fetched". */
    async lock(sha: string, onWait?: () => void): Promise<Held> {
      const file = path.join(dir, ".locks", sha);
      await fsp.mkdir(path.dirname(file), { recursive: true });
      let waited = false;
      for (;;) {
        try {
          await fsp.writeFile(file, owner, { flag: "wx" });
          break;
        } catch (error) {
          if (errno(error) !== "EEXIST") throw error;
        }
        if (await abandoned(file)) {
          // Two waiters may both see it abandoned; at worst both fetch, and the rename sorts it out.
          await removeFile(file);
          continue;
        }
        if (!waited) onWait?.();
        waited = true;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const timer = heartbeat(file);
      return {
        async release() {
          clearInterval(timer);
          await removeFile(file);
        },
      };
    },

    /**
     * Points the version's `node_modules` at this image's dependencies: the cache is shared by
     * containers whose images may keep them elsewhere. Replaced atomically (link, then rename).
     */
    async linkDependencies(sha: string, nodeModules: string): Promise<void> {
      const link = path.join(versionDir(sha), "node_modules");
      try {
        if (fs.readlinkSync(link) === nodeModules) return;
      } catch {}
      const temp = `${link}.${randomUUID().slice(0, 8)}`;
      await fsp.symlink(nodeModules, temp, "dir");
      await fsp.rename(temp, link);
    },

    /** Marks a version as in use by this process until released. */
    async markInUse(sha: string): Promise<Held> {
      const file = path.join(
        dir,
        ".inuse",
        sha,
        `${owner.replace(/[^A-Za-z0-9._-]/g, "_")}-${randomUUID().slice(0, 8)}`,
      );
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, owner);
      const timer = heartbeat(file);
      return {
        async release() {
          clearInterval(timer);
          await removeFile(file);
        },
      };
    },

    async touch(sha: string): Promise<void> {
      const file = path.join(dir, ".used", sha);
      await fsp.mkdir(path.dirname(file), { recursive: true });
      const now = new Date();
      await fsp.utimes(file, now, now).catch(() => fsp.writeFile(file, ""));
    },

    /** A fresh staging folder for `sha`, after removing what a crashed holder of the lock left. */
    async staging(sha: string): Promise<string> {
      const root = path.join(dir, ".staging");
      await fsp.mkdir(root, { recursive: true });
      for (const name of await fsp.readdir(root)) {
        if (name.startsWith(`${sha}-`)) await fsp.rm(path.join(root, name), { recursive: true, force: true });
      }
      const stage = path.join(root, `${sha}-${randomUUID().slice(0, 8)}`);
      await fsp.mkdir(stage);
      return stage;
    },

    /** A temporary file name for downloading `sha`'s archive. */
    async downloadPath(sha: string): Promise<string> {
      const root = path.join(dir, ".downloads");
      await fsp.mkdir(root, { recursive: true });
      for (const name of await fsp.readdir(root)) {
        if (name.startsWith(`${sha}-`)) await removeFile(path.join(root, name));
      }
      return path.join(root, `${sha}-${randomUUID().slice(0, 8)}.tar.gz`);
    },

    /**
     * Moves a finished staging folder into place, with its manifest, signature and size beside the
     * code and a link to the dependencies. If another process got there first, its copy is kept.
     */
    async commit(
      sha: string,
      stage: string,
      files: { manifestBytes: Uint8Array; signatureBytes: Uint8Array | null; bytes: number; nodeModules: string },
    ): Promise<void> {
      const meta = path.join(stage, ".tdf-cache");
      fs.mkdirSync(meta);
      fs.writeFileSync(path.join(meta, "manifest.json"), files.manifestBytes);
      if (files.signatureBytes) fs.writeFileSync(path.join(meta, "signature.json"), files.signatureBytes);
      fs.writeFileSync(path.join(meta, "size"), String(files.bytes));
      fs.symlinkSync(files.nodeModules, path.join(stage, "node_modules"), "dir");
      try {
        fs.renameSync(stage, versionDir(sha));
      } catch (error) {
        await fsp.rm(stage, { recursive: true, force: true });
        if (errno(error) !== "ENOTEMPTY" && errno(error) !== "EEXIST") throw error;
      }
    },

    /**
     * Removes least recently used versions until the cache fits `maxBytes`, never one in use (a fresh
     * marker) and never those in `keep`. Returns the SHAs removed.
     */
    async trim(maxBytes: number, keep: ReadonlySet<string>): Promise<string[]> {
      // What an earlier trim was killed in the middle of removing (not one another trim may put back).
      for (const name of await fsp.readdir(path.join(dir, ".staging")).catch(() => [] as string[])) {
        const trash = path.join(dir, ".staging", name);
        const stats = name.startsWith("trash-") ? await fsp.stat(trash).catch(() => undefined) : undefined;
        if (stats && Date.now() - stats.mtimeMs > staleMs) await fsp.rm(trash, { recursive: true, force: true });
      }
      const versions: Array<{ sha: string; bytes: number; usedAt: number }> = [];
      for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
        if (!/^[0-9a-f]{40}$/.test(name)) continue;
        const bytes = Number(await fsp.readFile(path.join(metaDir(name), "size"), "utf8").catch(() => "0"));
        const usedAt = (await fsp.stat(path.join(dir, ".used", name)).catch(() => undefined))?.mtimeMs ?? 0;
        versions.push({ sha: name, bytes, usedAt });
      }
      let total = versions.reduce((sum, v) => sum + v.bytes, 0);
      const removed: string[] = [];
      for (const version of versions.sort((a, b) => a.usedAt - b.usedAt)) {
        if (total <= maxBytes) break;
        if (keep.has(version.sha) || (await cache.inUse(version.sha))) continue;
        // Renamed away first, so no bootstrap can start using a half-deleted version.
        const trash = path.join(dir, ".staging", `trash-${version.sha}-${randomUUID().slice(0, 8)}`);
        await fsp.mkdir(path.dirname(trash), { recursive: true });
        try {
          await fsp.rename(versionDir(version.sha), trash);
        } catch (error) {
          // Another bootstrap trimmed it first: gone all the same.
          if (errno(error) === "ENOENT") {
            total -= version.bytes;
            continue;
          }
          throw error;
        }
        if (await cache.inUse(version.sha)) {
          // A task started using it between the check and the rename: put it back.
          await fsp.rename(trash, versionDir(version.sha)).catch(() => fsp.rm(trash, { recursive: true, force: true }));
          continue;
        }
        await fsp.rm(trash, { recursive: true, force: true });
        await removeFile(path.join(dir, ".used", version.sha));
        total -= version.bytes;
        removed.push(version.sha);
      }
      return removed;
    },

    async inUse(sha: string): Promise<boolean> {
      const markers = path.join(dir, ".inuse", sha);
      for (const name of await fsp.readdir(markers).catch(() => [] as string[])) {
        const file = path.join(markers, name);
        if (!(await abandoned(file))) return true;
        await removeFile(file);
      }
      return false;
    },
  };
  return cache;
}

export type CodeCache = ReturnType<typeof createCodeCache>;
