/**
 * The embedded object store: each bucket is a folder under `root`, each object a plain file, so a
 * person can look at (or drop in) files by hand. Content type and metadata live in a parallel tree
 * under `root/.meta/`, and temporary files under `root/.tmp/` (bucket names cannot start with a dot,
 * so neither can collide with a bucket).
 *
 * Writes are atomic: content goes to a temporary file on the same filesystem and is renamed into
 * place, so a reader sees the old object or the new one, never half of one.
 */
import { createHash, randomUUID } from "node:crypto";
import { type BigIntStats, createReadStream, createWriteStream, type Dirent } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StorageError } from "./errors.js";
import { assertBucket, assertKey, assertMetadata, assertPrefix } from "./keys.js";
import type { ObjectBody, ObjectEntry, ObjectInfo, ObjectStore, PutOptions, StoredObject } from "./types.js";

export interface FsStoreOptions {
  /** The folder that holds one folder per bucket (embedded default: `.tdf/store`). */
  root: string;
}

/**
 * What the metadata file records. `size`, `mtimeNs` and `ino` fingerprint the content file it was
 * written with: a content file that does not match (dropped in by hand, or overwritten by a
 * concurrent writer) is described from the file itself instead, with its MD5 computed on demand.
 */
interface MetaRecord {
  size: number;
  mtimeNs: string;
  ino: string;
  etag: string;
  contentType?: string;
  metadata: Record<string, string>;
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

export function fsStore(options: FsStoreOptions): ObjectStore {
  const root = path.resolve(options.root);
  const tmpDir = path.join(root, ".tmp");
  const dataPath = (bucket: string, key: string) => path.join(root, bucket, ...key.split("/"));
  const metaPath = (bucket: string, key: string) => path.join(root, ".meta", bucket, ...key.split("/"));

  const fail = (error: unknown, action: string, bucket: string, key?: string): StorageError => {
    if (error instanceof StorageError) return error;
    const where = key === undefined ? `bucket "${bucket}"` : `${bucket}/${key}`;
    const code = errno(error);
    if (code === "EACCES" || code === "EPERM") {
      return new StorageError(
        "STORAGE_ACCESS_DENIED",
        `Permission denied to ${action} ${where} under ${root}; check the permissions of that folder.`,
        { cause: error, context: { bucket, key } },
      );
    }
    if (code === "ENOTDIR" || code === "EISDIR" || code === "ENOTEMPTY" || code === "EEXIST") {
      return new StorageError(
        "STORAGE_INVALID_KEY",
        `Cannot ${action} ${where}: the filesystem store cannot hold both a key and other keys under it as a folder; choose a different key.`,
        { cause: error, context: { bucket, key } },
      );
    }
    if (code === "ENOSPC") {
      return new StorageError(
        "STORAGE_FAILED",
        `No space left to ${action} ${where} under ${root}; free some disk space.`,
        {
          cause: error,
          context: { bucket, key },
        },
      );
    }
    return new StorageError(
      "STORAGE_FAILED",
      `Failed to ${action} ${where} under ${root}: ${(error as Error).message}.`,
      {
        cause: error,
        context: { bucket, key },
      },
    );
  };

  const assertBucketExists = async (bucket: string): Promise<void> => {
    try {
      if ((await fsp.stat(path.join(root, bucket))).isDirectory()) return;
    } catch (error) {
      if (errno(error) !== "ENOENT") throw fail(error, "open", bucket);
    }
    throw new StorageError(
      "STORAGE_NO_SUCH_BUCKET",
      `The bucket "${bucket}" does not exist in the filesystem store at ${root}; create it with \`tdf store init\` or check the bucket name.`,
      { context: { bucket } },
    );
  };

  const readMeta = async (bucket: string, key: string): Promise<MetaRecord | undefined> => {
    try {
      return JSON.parse(await fsp.readFile(metaPath(bucket, key), "utf8")) as MetaRecord;
    } catch (error) {
      // Absent or unreadable metadata is not fatal: the content file is the truth.
      if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR" || error instanceof SyntaxError) return undefined;
      throw error;
    }
  };

  const md5OfFile = async (file: string): Promise<string> => {
    const hash = createHash("md5");
    await pipeline(createReadStream(file), hash);
    return hash.digest("hex");
  };

  const describe = async (bucket: string, key: string, file: string, stats: BigIntStats): Promise<ObjectInfo> => {
    const meta = await readMeta(bucket, key);
    const matches =
      meta !== undefined &&
      meta.size === Number(stats.size) &&
      meta.mtimeNs === stats.mtimeNs.toString() &&
      meta.ino === stats.ino.toString();
    return {
      key,
      size: Number(stats.size),
      etag: matches ? meta.etag : await md5OfFile(file),
      lastModified: new Date(Number(stats.mtimeMs)),
      contentType: matches ? meta.contentType : undefined,
      metadata: matches ? meta.metadata : {},
    };
  };

  /** Removes now-empty folders between a deleted key and its bucket, as S3 has no folders to leave. */
  const pruneEmptyParents = async (top: string, file: string): Promise<void> => {
    for (let dir = path.dirname(file); dir.startsWith(top + path.sep); dir = path.dirname(dir)) {
      try {
        await fsp.rmdir(dir);
      } catch {
        return;
      }
    }
  };

  /** Renames `from` to `to`, creating `to`'s folder (again, if a concurrent delete pruned it). */
  const renameInto = async (from: string, to: string): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      await fsp.mkdir(path.dirname(to), { recursive: true });
      try {
        await fsp.rename(from, to);
        return;
      } catch (error) {
        if (errno(error) !== "ENOENT" || attempt >= 2) throw error;
      }
    }
  };

  const writeTemp = async (body: ObjectBody): Promise<{ file: string; etag: string }> => {
    await fsp.mkdir(tmpDir, { recursive: true });
    const file = path.join(tmpDir, randomUUID());
    const hash = createHash("md5");
    try {
      if (typeof body === "string" || body instanceof Uint8Array) {
        const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
        hash.update(bytes);
        const handle = await fsp.open(file, "wx");
        try {
          await handle.writeFile(bytes);
          await handle.sync();
        } finally {
          await handle.close();
        }
      } else {
        const hashing = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            done(null, chunk);
          },
        });
        const out = createWriteStream(file, { flags: "wx", highWaterMark: 1 << 20 });
        await pipeline(body, hashing, out);
        const handle = await fsp.open(file, "r");
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
      }
      return { file, etag: hash.digest("hex") };
    } catch (error) {
      await fsp.rm(file, { force: true });
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
        handle = await fsp.open(file, "r");
      } catch (error) {
        if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") {
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
        const info = await describe(bucket, key, file, stats);
        return { info, body: handle.createReadStream({ highWaterMark: 1 << 20 }) };
      } catch (error) {
        await handle.close();
        throw fail(error, "read", bucket, key);
      }
    },

    async getBytes(bucket, key) {
      const object = await store.get(bucket, key);
      if (object === null) return null;
      const chunks: Buffer[] = [];
      for await (const chunk of object.body) chunks.push(chunk as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    },

    async put(bucket, key, body, options: PutOptions = {}) {
      assertKey(bucket, key);
      assertMetadata(bucket, key, options.metadata ?? {});
      await assertBucketExists(bucket);
      let temp: { file: string; etag: string } | undefined;
      const metaTemp = path.join(tmpDir, `${randomUUID()}.meta`);
      try {
        temp = await writeTemp(body);
        const stats = await fsp.stat(temp.file, { bigint: true });
        const record: MetaRecord = {
          size: Number(stats.size),
          mtimeNs: stats.mtimeNs.toString(),
          ino: stats.ino.toString(),
          etag: temp.etag,
          contentType: options.contentType,
          metadata: { ...options.metadata },
        };
        await fsp.writeFile(metaTemp, JSON.stringify(record));
        await renameInto(metaTemp, metaPath(bucket, key));
        await renameInto(temp.file, dataPath(bucket, key));
        return { etag: temp.etag };
      } catch (error) {
        await Promise.all([temp && fsp.rm(temp.file, { force: true }), fsp.rm(metaTemp, { force: true })]);
        throw fail(error, "write", bucket, key);
      }
    },

    async head(bucket, key) {
      assertKey(bucket, key);
      const file = dataPath(bucket, key);
      try {
        const stats = await fsp.stat(file, { bigint: true });
        if (!stats.isFile()) return null;
        return await describe(bucket, key, file, stats);
      } catch (error) {
        if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") {
          await assertBucketExists(bucket);
          return null;
        }
        throw fail(error, "read", bucket, key);
      }
    },

    async *list(bucket, prefix = "") {
      assertPrefix(bucket, prefix);
      await assertBucketExists(bucket);
      const bucketDir = path.join(root, bucket);
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
        for (const entry of entries) {
          const key = keyPrefix + entry.name;
          if (entry.isDirectory()) {
            const folder = `${key}/`;
            if (folder.startsWith(prefix) || prefix.startsWith(folder)) yield* walk(path.join(dir, entry.name), folder);
          } else if (entry.isFile() && key.startsWith(prefix)) {
            const file = path.join(dir, entry.name);
            let stats: BigIntStats;
            try {
              stats = await fsp.stat(file, { bigint: true });
            } catch (error) {
              if (errno(error) === "ENOENT") continue; // deleted while listing
              throw fail(error, "list", bucket, key);
            }
            const { size, etag, lastModified } = await describe(bucket, key, file, stats);
            yield { key, size, etag, lastModified };
          }
        }
      }
      yield* walk(bucketDir, "");
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
      const meta = metaPath(bucket, key);
      for (const target of [file, meta]) {
        try {
          await fsp.unlink(target);
        } catch (error) {
          // Absent, or a "folder" of other keys: there is no object of that name to delete.
          const code = errno(error);
          if (code !== "ENOENT" && code !== "ENOTDIR" && code !== "EISDIR") throw fail(error, "delete", bucket, key);
        }
      }
      await pruneEmptyParents(path.join(root, bucket), file);
      await pruneEmptyParents(path.join(root, ".meta", bucket), meta);
    },

    async ensureBucket(bucket) {
      assertBucket(bucket);
      try {
        await fsp.mkdir(path.join(root, bucket), { recursive: true });
      } catch (error) {
        throw fail(error, "create", bucket);
      }
    },
  };
  return store;
}
