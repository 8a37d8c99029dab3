/**
 * The one contract every ObjectStore driver must pass. Each driver's test file calls
 * `objectStoreContract` with a factory for a fresh, empty bucket.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { StorageError } from "../../src/storage/errors.js";
import type { ObjectStore } from "../../src/storage/types.js";

export interface ContractFixture {
  store: ObjectStore;
  bucket: string;
  /** Removes what the fixture made. */
  teardown?: () => Promise<void>;
}

const MiB = 1024 * 1024;
const md5 = (data: Uint8Array | string) => createHash("md5").update(data).digest("hex");
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** A deterministic stream of `size` bytes in 1 MiB chunks, never held in memory whole. */
function patternStream(size: number, seed: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const n = Math.min(MiB, size - sent);
      const chunk = Buffer.alloc(n);
      for (let i = 0; i < n; i += 4) chunk.writeUInt32LE(((sent + i) * 2654435761 + seed) >>> 0, i);
      sent += n;
      this.push(chunk);
    },
  });
}

async function hashStream(stream: AsyncIterable<Buffer | Uint8Array>): Promise<{ sha: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha: hash.digest("hex"), size };
}

async function readBody(stream: AsyncIterable<Buffer | Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

function rejectsWithCode(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof StorageError, `expected a StorageError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

export function objectStoreContract(name: string, setup: () => Promise<ContractFixture>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let store: ObjectStore;
    let bucket: string;
    let fixture: ContractFixture;

    before(async () => {
      fixture = await setup();
      store = fixture.store;
      bucket = fixture.bucket;
    });
    after(async () => {
      await fixture?.teardown?.();
    });

    test("an absent object is null for get, getBytes and head", async () => {
      assert.equal(await store.get(bucket, "absent/object.bin"), null);
      assert.equal(await store.getBytes(bucket, "absent/object.bin"), null);
      assert.equal(await store.head(bucket, "absent/object.bin"), null);
    });

    test("bytes and text round trip with an MD5 ETag", async () => {
      const bytes = randomBytes(1000);
      const { etag } = await store.put(bucket, "round/trip.bin", bytes);
      assert.equal(etag, md5(bytes));
      assert.deepEqual(Buffer.from((await store.getBytes(bucket, "round/trip.bin")) ?? []), bytes);
      await store.put(bucket, "round/text.txt", "héllo\n");
      assert.equal(Buffer.from((await store.getBytes(bucket, "round/text.txt")) ?? []).toString("utf8"), "héllo\n");
      const info = await store.head(bucket, "round/trip.bin");
      assert.equal(info?.size, 1000);
      assert.equal(info?.etag, md5(bytes));
      assert.ok(info?.lastModified instanceof Date && !Number.isNaN(info.lastModified.getTime()));
    });

    test("a 0-byte object exists and is empty", async () => {
      const { etag } = await store.put(bucket, "empty", new Uint8Array(0));
      assert.equal(etag, md5(""));
      const info = await store.head(bucket, "empty");
      assert.equal(info?.size, 0);
      const object = await store.get(bucket, "empty");
      assert.ok(object);
      assert.equal((await hashStream(object.body)).size, 0);
    });

    test("a 64 MiB object streams in and out intact", async () => {
      const size = 64 * MiB;
      const expected = await hashStream(patternStream(size, 7));
      await store.put(bucket, "large/64mib.bin", patternStream(size, 7), { contentType: "application/octet-stream" });
      const info = await store.head(bucket, "large/64mib.bin");
      assert.equal(info?.size, size);
      const object = await store.get(bucket, "large/64mib.bin");
      assert.ok(object);
      assert.equal(object.info.size, size);
      assert.deepEqual(await hashStream(object.body), expected);
    });

    test("content type and user metadata round trip through put, head and get", async () => {
      const metadata = { "git-sha": "0123abcd", sha256: sha256(Buffer.from("x")), note: "plain ascii" };
      await store.put(bucket, "meta/object.json", '{"a":1}', { contentType: "application/json", metadata });
      const info = await store.head(bucket, "meta/object.json");
      assert.equal(info?.contentType, "application/json");
      assert.deepEqual(info?.metadata, metadata);
      const object = await store.get(bucket, "meta/object.json");
      assert.ok(object);
      object.body.resume();
      assert.deepEqual(object.info.metadata, metadata);
      assert.equal(object.info.contentType, "application/json");
    });

    test("metadata that cannot travel as S3 headers is refused before any write", async () => {
      await assert.rejects(
        store.put(bucket, "meta/bad", "x", { metadata: { "Bad Name": "v" } }),
        rejectsWithCode("STORAGE_INVALID_KEY"),
      );
      await assert.rejects(
        store.put(bucket, "meta/bad", "x", { metadata: { ok: "naïve" } }),
        rejectsWithCode("STORAGE_INVALID_KEY"),
      );
      assert.equal(await store.head(bucket, "meta/bad"), null);
    });

    test("a put replaces the object and its metadata", async () => {
      await store.put(bucket, "replace/me", "first", { metadata: { v: "1" } });
      await store.put(bucket, "replace/me", "second!", { metadata: { v: "2" } });
      assert.equal(Buffer.from((await store.getBytes(bucket, "replace/me")) ?? []).toString(), "second!");
      assert.deepEqual((await store.head(bucket, "replace/me"))?.metadata, { v: "2" });
    });

    test("list pages through more than 1,000 keys in byte order and honours the prefix", async () => {
      const keys = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(5, "0")}`);
      await inBatches(keys, 32, (key) => store.put(bucket, key, key));
      const listed = await collect(store.list(bucket, "many/"));
      assert.equal(listed.length, 1005);
      assert.deepEqual(
        listed.map((e) => e.key),
        keys,
      );
      assert.equal(listed[0]?.size, keys[0]?.length);
      assert.equal(listed[0]?.etag, md5(keys[0] ?? ""));
      const narrowed = await collect(store.list(bucket, "many/0010"));
      assert.deepEqual(
        narrowed.map((e) => e.key),
        keys.slice(100, 110),
      );
    });

    test("list orders keys by bytes across folder boundaries", async () => {
      for (const key of ["order/a/b", "order/a-c", "order/a", "order/ab"]) {
        // "order/a" and "order/a/b" cannot both exist on a filesystem; list ordering is what matters.
        if (key === "order/a") continue;
        await store.put(bucket, key, key);
      }
      const listed = await collect(store.list(bucket, "order/"));
      assert.deepEqual(
        listed.map((e) => e.key),
        ["order/a-c", "order/a/b", "order/ab"],
      );
      assert.deepEqual(await collect(store.list(bucket, "no-such-prefix/")), []);
    });

    test("copy duplicates content, content type and metadata; a missing source is an error", async () => {
      await store.put(bucket, "copy/src", "copied bytes", { contentType: "text/plain", metadata: { origin: "src" } });
      await store.copy(bucket, "copy/src", bucket, "copy/dst");
      assert.equal(Buffer.from((await store.getBytes(bucket, "copy/dst")) ?? []).toString(), "copied bytes");
      const info = await store.head(bucket, "copy/dst");
      assert.equal(info?.contentType, "text/plain");
      assert.deepEqual(info?.metadata, { origin: "src" });
      await assert.rejects(store.copy(bucket, "copy/absent", bucket, "copy/x"), rejectsWithCode("STORAGE_NO_SUCH_KEY"));
      assert.equal(await store.head(bucket, "copy/x"), null);
    });

    test("delete removes an object, and deleting an absent key is not an error", async () => {
      await store.put(bucket, "delete/me", "x");
      await store.delete(bucket, "delete/me");
      assert.equal(await store.head(bucket, "delete/me"), null);
      await store.delete(bucket, "delete/me");
      await store.delete(bucket, "delete/never-existed");
      assert.deepEqual(await collect(store.list(bucket, "delete/")), []);
    });

    test("keys that could escape the bucket are refused with a clear error", async () => {
      const tricky = [
        "../escape",
        "a/../../b",
        "/absolute",
        "nul\0byte",
        "a//b",
        "",
        "./x",
        "line\nbreak",
        "lone\uD800",
        "x".repeat(256),
      ];
      for (const key of tricky) {
        await assert.rejects(store.put(bucket, key, "x"), rejectsWithCode("STORAGE_INVALID_KEY"), JSON.stringify(key));
        await assert.rejects(store.get(bucket, key), rejectsWithCode("STORAGE_INVALID_KEY"), JSON.stringify(key));
      }
    });

    test("metadata always describes the content it was written with, under concurrent writers", async () => {
      const versions = Array.from({ length: 4 }, (_, i) => ({
        body: `version ${i} `.repeat(1000 * (i + 1)),
        v: String(i),
      }));
      const writes = Promise.all(
        Array.from({ length: 24 }, (_, n) => {
          const version = versions[n % versions.length] as (typeof versions)[number];
          return store.put(bucket, "race/object", version.body, {
            contentType: "text/plain",
            metadata: { v: version.v },
          });
        }),
      );
      let done = false;
      void writes.finally(() => {
        done = true;
      });
      const check = async () => {
        const object = await store.get(bucket, "race/object");
        if (object === null) return;
        const text = Buffer.from(await readBody(object.body)).toString();
        const version = versions.find((v) => v.body === text);
        assert.ok(version, "a reader saw content no writer wrote");
        assert.deepEqual(object.info.metadata, { v: version.v }, "metadata does not match the content");
        assert.equal(object.info.size, Buffer.byteLength(text));
        assert.equal(object.info.etag, md5(text));
      };
      while (!done) await check();
      await writes;
      await check();
    });

    test("a missing bucket is reported as such", async () => {
      const missing = `missing-${randomBytes(4).toString("hex")}`;
      await assert.rejects(store.put(missing, "k", "x"), rejectsWithCode("STORAGE_NO_SUCH_BUCKET"));
      await assert.rejects(store.get(missing, "k"), rejectsWithCode("STORAGE_NO_SUCH_BUCKET"));
      await assert.rejects(store.head(missing, "k"), rejectsWithCode("STORAGE_NO_SUCH_BUCKET"));
      await assert.rejects(collect(store.list(missing)), rejectsWithCode("STORAGE_NO_SUCH_BUCKET"));
    });

    test("a put whose body fails leaves no object behind", async () => {
      const failing = new Readable({
        read() {
          if (this.readableLength === 0 && !this.destroyed) {
            this.push(Buffer.alloc(6 * MiB, 1));
            this.push(Buffer.alloc(6 * MiB, 2));
            this.destroy(new Error("source went away"));
          }
        },
      });
      await assert.rejects(store.put(bucket, "partial/object", failing));
      assert.equal(await store.head(bucket, "partial/object"), null);
      assert.deepEqual(await collect(store.list(bucket, "partial/")), []);
    });

    test("a reader sees the old object or the new one, never half of one", async () => {
      const oldBytes = Buffer.alloc(2 * MiB, "a");
      const newSize = 12 * MiB;
      await store.put(bucket, "atomic/object", oldBytes);
      const newHash = (await hashStream(patternStream(newSize, 3))).sha;
      const oldHash = sha256(oldBytes);
      let done = false;
      const writer = store.put(bucket, "atomic/object", patternStream(newSize, 3)).finally(() => {
        done = true;
      });
      while (!done) {
        const object = await store.get(bucket, "atomic/object");
        assert.ok(object);
        const { sha } = await hashStream(object.body);
        assert.ok(sha === oldHash || sha === newHash, "a reader saw a partial object");
      }
      await writer;
      const final = await store.get(bucket, "atomic/object");
      assert.ok(final);
      assert.equal((await hashStream(final.body)).sha, newHash);
    });
  });
}
