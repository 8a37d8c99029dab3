/**
 * The embedded object store: each bucket is a folder under `root`, each object a plain file, so a
 * person can look at (or drop in) files by hand.
 *
 * Writes are atomic: content goes to a temporary file under `root/.tmp/` (same filesystem) and is
 * renamed into place, so a reader sees the old object or the new one, never half of one. That rename
 * is the only commit point: content type, metadata and ETag are recorded beforehand under
 * `root/.meta/`, keyed by the content file's inode (which a rename keeps) and checked against its size
 * and mtime, so a record always describes exactly the file it was written for. A file without a
 * matching record (dropped in by hand) gets its MD5 computed once and recorded.
 *
 * Bucket names cannot start with a dot, so `.tmp` and `.meta` never collide with a bucket. Symbolic
 * links are not followed: an object is a regular file inside its bucket's folder.
 */
import { createHash, randomUUID } from "node:crypto";
import { type BigIntStats, constants, createReadStream, createWriteStream, type Dirent } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StorageError } from "./errors.js";
import { assertBucket, assertKey, assertMetadata, assertPrefix } from "./keys.js";
import { discardBody, readAll, withTypedErrors } from "./stream.js";
import type { ObjectBody, ObjectEntry, ObjectInfo, ObjectStore, PutOptions, StoredObject } from "./types.js";

export interface FsStoreOptions {
  /** The folder that holds one folder per bucket (embedded default: `.tdf/store`). */
  root: string;
}

interface MetaRecord {
  size: number;
  mtimeNs: string;
  etag: string;
  contentType?: string;
  metadata: Record<string, string>;
}

// Temporary files older than this were left by a killed process and are removed.
const STALE_TEMP_MS = 60 * 60 * 1000;

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

const isAbsence = (error: unknown) => errno(error) === "ENOENT" || errno(error) === "ENOTDIR";

export function fsStore(options: FsStoreOptions): ObjectStore {
  const root = path.resolve(options.root);
  const tmpDir = path.join(root, ".tmp");
  const metaDir = path.join(root, ".meta");
  const bucketDir = (bucket: string) => path.join(root, bucket);
  const dataPath = (bucket: string, key: string) => path.join(root, bucket, ...key.split("/"));
  const metaPath = (stats: BigIntStats) => path.join(metaDir, `${stats.dev}-${stats.ino}.json`);
  let tempsSwept = false;

  const fail = (error: unknown, action: string, bucket: string, key?: string): StorageError => {
    if (error instanceof StorageError) return error;
    const where = key === undefined ? `bucket "${bucket}"` : `${bucket}/${key}`;
    const context = { bucket, key };
    const code = errno(error);
    if (code === "EACCES" || code === "EPERM") {
      return new StorageError(
        "STORAGE_ACCESS_DENIED",
        `Permission denied to ${action} ${where} under ${root}; check the permissions of that folder.`,
        { cause: error, context },
      );
    }
    if (code === "ENOTDIR" || code === "EISDIR" || code === "ENOTEMPTY" || code === "EEXIST") {
      return new StorageError(
        "STORAGE_INVALID_KEY",
        `Cannot ${action} ${where}: the filesystem store cannot hold both a key and other keys under it as a folder; choose a different key.`,
        { cause: error, context },
      );
    }
    if (code === "ENOSPC") {
      return new StorageError(
        "STORAGE_FAILED",
        `No space left to ${action} ${where} under ${root}; free some disk space.`,
        {
          cause: error,
          context,
        },
      );
    }
    return new StorageError(
      "STORAGE_FAILED",
      `Failed to ${action} ${where} under ${root}: ${(error as Error).message}.`,
      {
        cause: error,
        context,
      },
    );
  };

  const assertBucketExists = async (bucket: string): Promise<void> => {
    try {
      if ((await fsp.lstat(bucketDir(bucket))).isDirectory()) return;
    } catch (error) {
      if (errno(error) !== "ENOENT") throw fail(error, "open", bucket);
    }
    throw new StorageError(
      "STORAGE_NO_SUCH_BUCKET",
      `The bucket "${bucket}" does not exist in the filesystem store at ${root}; create it with \`tdf store init\` or check the bucket name.`,
      { context: { bucket } },
    );
  };

  /**
   * Whether the folder that holds a key really lies inside its bucket: a symbolic link among the
   * key's folders could otherwise point anywhere. False when the folder does not exist.
   */
  const parentInsideBucket = async (bucket: string, key: string): Promise<boolean> => {
    let real: string;
    try {
      real = await fsp.realpath(path.dirname(dataPath(bucket, key)));
    } catch (error) {
      if (isAbsence(error)) return false;
      throw error;
    }
    const top = await fsp.realpath(bucketDir(bucket));
    return real === top || real.startsWith(top + path.sep);
  };

  const writeAtomically = async (target: string, content: string): Promise<void> => {
    const temp = path.join(tmpDir, `${randomUUID()}.meta`);
    await fsp.writeFile(temp, content);
    await fsp.rename(temp, target).catch(async (error: unknown) => {
      await fsp.rm(temp, { force: true });
      throw error;
    });
  };

  const md5OfFile = async (file: string): Promise<string> => {
    const hash = createHash("md5");
    await pipeline(createReadStream(file), hash);
    return hash.digest("hex");
  };

  const describe = async (key: string, file: string, stats: BigIntStats): Promise<ObjectInfo> => {
    const size = Number(stats.size);
    const mtimeNs = stats.mtimeNs.toString();
    let record: MetaRecord | undefined;
    try {
      record = JSON.parse(await fsp.readFile(metaPath(stats), "utf8")) as MetaRecord;
    } catch (error) {
      if (!isAbsence(error) && !(error instanceof SyntaxError)) throw error;
    }
    if (record === undefined || record.size !== size || record.mtimeNs !== mtimeNs) {
      // A file no put wrote: describe it from its bytes, once.
      record = { size, mtimeNs, etag: await md5OfFile(file), metadata: {} };
      await fsp.mkdir(metaDir, { recursive: true });
      await fsp.mkdir(tmpDir, { recursive: true });
      await writeAtomically(metaPath(stats), JSON.stringify(record)).catch(() => {});
    }
    return {
      key,
      size,
      etag: record.etag,
      lastModified: new Date(Number(stats.mtimeMs)),
      contentType: record.contentType,
      metadata: record.metadata,
    };
  };

  /** Removes now-empty folders between a deleted key and its bucket, as S3 has no folders to leave. */
  const pruneEmptyParents = async (bucket: string, file: string): Promise<void> => {
    const top = bucketDir(bucket);
    for (let dir = path.dirname(file); dir.startsWith(top + path.sep); dir = path.dirname(dir)) {
      try {
        await fsp.rmdir(dir);
      } catch {
        return;
      }
    }
  };

  /** Temporary files of writers that were killed mid-write. */
  const sweepStaleTemps = async (): Promise<void> => {
    if (tempsSwept) return;
    tempsSwept = true;
    const cutoff = Date.now() - STALE_TEMP_MS;
    for (const name of await fsp.readdir(tmpDir).catch(() => [] as string[])) {
      const file = path.join(tmpDir, name);
      const stats = await fsp.stat(file).catch(() => undefined);
      if (stats && stats.mtimeMs < cutoff) await fsp.rm(file, { force: true });
    }
  };

  /** Writes the body to a temporary file, hashing it; body errors are reported as such. */
  const writeTemp = async (bucket: string, key: string, body: ObjectBody): Promise<{ file: string; etag: string }> => {
    await fsp.mkdir(tmpDir, { recursive: true });
    await sweepStaleTemps();
    const file = path.join(tmpDir, randomUUID());
    const hash = createHash("md5");
    let bodyError: unknown;
    try {
      if (typeof body === "string" || body instanceof Uint8Array) {
        const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
        hash.update(bytes);
        await fsp.writeFile(file, bytes, { flag: "wx" });
      } else {
        body.once("error", (error) => {
          bodyError = error;
        });
        const hashing = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            done(null, chunk);
          },
        });
        await pipeline(body, hashing, createWriteStream(file, { flags: "wx", highWaterMark: 1 << 20 }));
      }
      // On disk before the rename publishes it, so a crash cannot leave an empty object behind.
      const handle = await fsp.open(file, "r");
      await handle.sync().finally(() => handle.close());
      return { file, etag: hash.digest("hex") };
    } catch (error) {
      await fsp.rm(file, { force: true });
      if (bodyError !== undefined && error === bodyError) {
        throw new StorageError(
          "STORAGE_FAILED",
          `Reading the content to write to ${bucket}/${key} failed: ${(error as Error).message}; nothing was written.`,
          { cause: error, context: { bucket, key } },
        );
      }
      throw error;
    }
  };

  const store: ObjectStore = {
    driver: "fs",
    location: root,

    async get(bucket, key): Promise<StoredObject | null> {
      assertKey(bucket, key);
      const file = dataPath(bucket, key);
      let handle: fsp.FileHandle;
      try {
        if (!(await parentInsideBucket(bucket, key))) {
          await assertBucketExists(bucket);
          return null;
        }
        handle = await fsp.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch (error) {
        if (isAbsence(error) || errno(error) === "ELOOP") {
          await assertBucketExists(bucket);
          return null;
        }
        throw fail(error, "read", bucket, key);
      }
      try {
        // Describe the open file, not the path: a concurrent put may rename a new file over it.
        const stats = await handle.stat({ bigint: true });
        if (!stats.isFile()) {
          await handle.close();
          return null;
        }
        const info = await describe(key, file, stats);
        const body = withTypedErrors(handle.createReadStream({ highWaterMark: 1 << 20 }), (error) =>
          fail(error, "read", bucket, key),
        );
        return { info, body };
      } catch (error) {
        await handle.close();
        throw fail(error, "read", bucket, key);
      }
    },

    async getBytes(bucket, key) {
      const object = await store.get(bucket, key);
      return object === null ? null : readAll(object.body);
    },

    async put(bucket, key, body, options: PutOptions = {}) {
      let temp: { file: string; etag: string } | undefined;
      try {
        assertKey(bucket, key);
        assertMetadata(bucket, key, options.metadata ?? {});
        await assertBucketExists(bucket);
        temp = await writeTemp(bucket, key, body);
        const stats = await fsp.stat(temp.file, { bigint: true });
        const record: MetaRecord = {
          size: Number(stats.size),
          mtimeNs: stats.mtimeNs.toString(),
          etag: temp.etag,
          contentType: options.contentType,
          metadata: { ...options.metadata },
        };
        await fsp.mkdir(metaDir, { recursive: true });
        await writeAtomically(metaPath(stats), JSON.stringify(record));
        const target = dataPath(bucket, key);
        await fsp.mkdir(path.dirname(target), { recursive: true });
        if (!(await parentInsideBucket(bucket, key))) {
          throw new StorageError(
            "STORAGE_INVALID_KEY",
            `Cannot write ${bucket}/${key}: a folder on its path is a symbolic link leading out of the bucket; remove the link.`,
            { context: { bucket, key } },
          );
        }
        const previous = await fsp.lstat(target, { bigint: true }).catch(() => undefined);
        await fsp.rename(temp.file, target);
        temp = undefined;
        if (previous?.isFile()) await fsp.rm(metaPath(previous), { force: true });
        return { etag: record.etag };
      } catch (error) {
        discardBody(body);
        if (temp) {
          const stats = await fsp.stat(temp.file, { bigint: true }).catch(() => undefined);
          await fsp.rm(temp.file, { force: true });
          if (stats) await fsp.rm(metaPath(stats), { force: true });
        }
        throw fail(error, "write", bucket, key);
      }
    },

    async head(bucket, key) {
      assertKey(bucket, key);
      const file = dataPath(bucket, key);
      try {
        const stats = await fsp.lstat(file, { bigint: true });
        if (!stats.isFile() || !(await parentInsideBucket(bucket, key))) return null;
        return await describe(key, file, stats);
      } catch (error) {
        if (isAbsence(error)) {
          await assertBucketExists(bucket);
          return null;
        }
        throw fail(error, "read", bucket, key);
      }
    },

    async *list(bucket, prefix = "") {
      assertPrefix(bucket, prefix);
      await assertBucketExists(bucket);
      // Sorting each folder by "name/" for folders and "name" for files yields keys in full-key
      // byte order, as S3 lists them ("a-c" sorts before "a/b").
      const sortKey = (name: string, isDir: boolean) => Buffer.from(isDir ? `${name}/` : name, "utf8");
      async function* walk(dir: string, keyPrefix: string): AsyncGenerator<ObjectEntry> {
        let entries: Dirent[];
        try {
          entries = await fsp.readdir(dir, { withFileTypes: true });
        } catch (error) {
          if (errno(error) === "ENOENT") return;
          throw fail(error, "list", bucket, keyPrefix || undefined);
        }
        entries.sort((a, b) => Buffer.compare(sortKey(a.name, a.isDirectory()), sortKey(b.name, b.isDirectory())));
        // Dirent types come from lstat: symbolic links are neither files nor folders here.
        for (const entry of entries) {
          const key = keyPrefix + entry.name;
          if (entry.isDirectory()) {
            const folder = `${key}/`;
            if (folder.startsWith(prefix) || prefix.startsWith(folder)) yield* walk(path.join(dir, entry.name), folder);
          } else if (entry.isFile() && key.startsWith(prefix)) {
            const file = path.join(dir, entry.name);
            let stats: BigIntStats;
            try {
              stats = await fsp.lstat(file, { bigint: true });
            } catch (error) {
              if (errno(error) === "ENOENT") continue; // deleted while listing
              throw fail(error, "list", bucket, key);
            }
            const { size, etag, lastModified } = await describe(key, file, stats);
            yield { key, size, etag, lastModified };
          }
        }
      }
      yield* walk(bucketDir(bucket), "");
    },

    async copy(fromBucket, fromKey, toBucket, toKey) {
      assertKey(toBucket, toKey);
      const source = await store.get(fromBucket, fromKey);
      if (source === null) {
        throw new StorageError(
          "STORAGE_NO_SUCH_KEY",
          `Cannot copy ${fromBucket}/${fromKey}: the object does not exist in ${root}.`,
          { context: { bucket: fromBucket, key: fromKey } },
        );
      }
      const options: PutOptions = { metadata: source.info.metadata };
      if (source.info.contentType !== undefined) options.contentType = source.info.contentType;
      await store.put(toBucket, toKey, source.body, options);
    },

    async delete(bucket, key) {
      assertKey(bucket, key);
      await assertBucketExists(bucket);
      const file = dataPath(bucket, key);
      try {
        if (!(await parentInsideBucket(bucket, key))) return;
        const stats = await fsp.lstat(file, { bigint: true });
        // A folder of other keys is not an object of that name.
        if (stats.isDirectory()) return;
        await fsp.unlink(file);
        await fsp.rm(metaPath(stats), { force: true });
      } catch (error) {
        if (isAbsence(error)) return;
        throw fail(error, "delete", bucket, key);
      }
      await pruneEmptyParents(bucket, file);
    },

    async ensureBucket(bucket) {
      assertBucket(bucket);
      try {
        await fsp.mkdir(bucketDir(bucket), { recursive: true });
      } catch (error) {
        throw fail(error, "create", bucket);
      }
    },
  };
  return store;
}
