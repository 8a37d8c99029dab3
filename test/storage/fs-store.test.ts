import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { fsStore } from "../../src/storage/fs.js";
import { objectStoreContract } from "./object-store.contract.js";

async function tempRoot(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), "tdf-fs-store-"));
}

objectStoreContract("fs", async () => {
  const root = await tempRoot();
  const store = fsStore({ root });
  await store.ensureBucket("contract");
  return { store, bucket: "contract", teardown: () => fsp.rm(root, { recursive: true, force: true }) };
});

test("fs: objects are plain files under <root>/<bucket>/, and a file dropped in by hand is readable", async (t) => {
  const root = await tempRoot();
  t.after(() => fsp.rm(root, { recursive: true, force: true }));
  const store = fsStore({ root });
  await store.ensureBucket("training-data");
  await store.put("training-data", "acme/raw/sales.csv", "date,sku,quantity\n");
  assert.equal(
    await fsp.readFile(path.join(root, "training-data", "acme", "raw", "sales.csv"), "utf8"),
    "date,sku,quantity\n",
  );

  await fsp.writeFile(path.join(root, "training-data", "acme", "raw", "prices.csv"), "date,sku,price\n");
  const info = await store.head("training-data", "acme/raw/prices.csv");
  assert.equal(info?.size, 15);
  assert.equal(info?.etag, createHash("md5").update("date,sku,price\n").digest("hex"));
  assert.deepEqual(info?.metadata, {});
});

test("fs: a failed write leaves no temporary file behind", async (t) => {
  const root = await tempRoot();
  t.after(() => fsp.rm(root, { recursive: true, force: true }));
  const store = fsStore({ root });
  await store.ensureBucket("b-1");
  const failing = Readable.from(
    (async function* () {
      yield Buffer.alloc(1024);
      throw new Error("disconnected");
    })(),
  );
  await assert.rejects(store.put("b-1", "k", failing));
  assert.deepEqual(await fsp.readdir(path.join(root, ".tmp")), []);
  assert.deepEqual(await fsp.readdir(path.join(root, "b-1")), []);
});

test("fs: a key that is also a folder of other keys gets a clear error", async (t) => {
  const root = await tempRoot();
  t.after(() => fsp.rm(root, { recursive: true, force: true }));
  const store = fsStore({ root });
  await store.ensureBucket("b-2");
  await store.put("b-2", "a/b", "x");
  await assert.rejects(store.put("b-2", "a", "y"), /cannot hold both a key and other keys under it/);
  assert.equal(await store.head("b-2", "a"), null);
  await store.delete("b-2", "a/b");
  // Deleting the last key under a folder removes the folder, as S3 has none to leave behind.
  await store.put("b-2", "a", "now fine");
  assert.equal(Buffer.from((await store.getBytes("b-2", "a")) ?? []).toString(), "now fine");
});
