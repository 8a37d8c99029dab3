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

test("fs: symbolic links never lead a key out of its bucket", async (t) => {
  const root = await tempRoot();
  const outside = await tempRoot();
  t.after(() =>
    Promise.all([fsp.rm(root, { recursive: true, force: true }), fsp.rm(outside, { recursive: true, force: true })]),
  );
  const store = fsStore({ root });
  await store.ensureBucket("b-3");
  await fsp.writeFile(path.join(outside, "secret.txt"), "outside");
  await fsp.symlink(outside, path.join(root, "b-3", "link"));
  await fsp.symlink(path.join(outside, "secret.txt"), path.join(root, "b-3", "file-link"));

  assert.equal(await store.get("b-3", "link/secret.txt"), null);
  assert.equal(await store.head("b-3", "link/secret.txt"), null);
  assert.equal(await store.get("b-3", "file-link"), null);
  await assert.rejects(store.put("b-3", "link/written.txt", "x"), /symbolic link leading out of the bucket/);
  await store.delete("b-3", "link/secret.txt");
  assert.deepEqual(await fsp.readdir(outside), ["secret.txt"], "something was written or deleted outside the store");
  const listed: string[] = [];
  for await (const entry of store.list("b-3")) listed.push(entry.key);
  assert.deepEqual(listed, []);
});

test("fs: a copy that cannot be written releases its source", async (t) => {
  const root = await tempRoot();
  t.after(() => fsp.rm(root, { recursive: true, force: true }));
  const store = fsStore({ root });
  await store.ensureBucket("b-4");
  await store.put("b-4", "src", "x");
  const openFiles = async () => (await fsp.readdir("/proc/self/fd")).length;
  const before = await openFiles();
  for (let i = 0; i < 20; i++)
    await assert.rejects(store.copy("b-4", "src", "no-such-bucket", "dst"), /does not exist/);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok((await openFiles()) <= before + 1, "file handles leaked");
});
