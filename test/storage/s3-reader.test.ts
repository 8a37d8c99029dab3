import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { StorageError } from "../../src/storage/errors.js";
import { s3Store } from "../../src/storage/s3.js";
import { s3ReaderStore } from "../../src/storage/s3-reader.js";
import type { ObjectStore } from "../../src/storage/types.js";
import { s3SkipReason, testS3Server } from "../helpers/s3-server.js";
import { objectStoreContract } from "./object-store.contract.js";

const server = testS3Server();
const skip = s3SkipReason();

if (server) {
  // The reader's reads against everything the contract writes (through the SDK driver).
  objectStoreContract("s3 reader (SDK-free reads, SDK writes)", async () => {
    const writer = s3Store(server);
    const reader = s3ReaderStore(server);
    const store: ObjectStore = {
      ...writer,
      get: reader.get,
      getBytes: reader.getBytes,
      head: reader.head,
      list: reader.list,
    };
    const bucket = `tdf-reader-${randomBytes(4).toString("hex")}`;
    await writer.ensureBucket(bucket);
    const teardown = async () => {
      const keys: string[] = [];
      for await (const entry of reader.list(bucket)) keys.push(entry.key);
      await Promise.all(keys.map((key) => writer.delete(bucket, key)));
    };
    return { store, bucket, teardown };
  });
}

describe("s3 reader: keys and refusals", { skip }, () => {
  test("keys with characters that need encoding round trip through the signature", async () => {
    assert.ok(server);
    const writer = s3Store(server);
    const reader = s3ReaderStore(server);
    const bucket = `tdf-reader-enc-${randomBytes(4).toString("hex")}`;
    await writer.ensureBucket(bucket);
    const keys = ["a b/c+d.txt", "é/ü (1)!*'.json", "q?x=1&y=2#frag", "tilde~/plus+/percent%41"];
    for (const key of keys) await writer.put(bucket, key, key);
    for (const key of keys) assert.equal(Buffer.from((await reader.getBytes(bucket, key)) ?? []).toString(), key);
    const listed: string[] = [];
    for await (const entry of reader.list(bucket, "")) listed.push(entry.key);
    assert.deepEqual(listed.sort(), [...keys].sort());
    for (const key of keys) await writer.delete(bucket, key);
  });

  test("a wrong secret is access denied, naming the key id, never the secret; writes are refused", async () => {
    assert.ok(server);
    const secret = `wrong-${randomBytes(12).toString("hex")}`;
    const reader = s3ReaderStore({ ...server, secretAccessKey: secret });
    await assert.rejects(reader.getBytes("tdf-any", "k"), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, "STORAGE_ACCESS_DENIED");
      assert.match(error.message, new RegExp(server.accessKeyId));
      assert.ok(!error.message.includes(secret));
      return true;
    });
    await assert.rejects(s3ReaderStore(server).put("tdf-any", "k", "x"), /opened read-only/);
  });
});

describe("s3 reader: failing servers", () => {
  test("5xx is retried with backoff, then reported with the status", async () => {
    let requests = 0;
    const failing = http.createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(503, { "content-type": "application/xml" });
      res.end("<Error><Code>ServiceUnavailable</Code><Message>busy</Message></Error>");
    });
    await new Promise<void>((resolve) => failing.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = failing.address() as AddressInfo;
      const reader = s3ReaderStore({
        endpoint: `http://127.0.0.1:${port}`,
        accessKeyId: "GKx",
        secretAccessKey: "s-x",
        maxAttempts: 3,
      });
      await assert.rejects(reader.getBytes("bucket", "key"), (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, "STORAGE_SERVER_ERROR");
        assert.match(error.message, /HTTP 503 \(ServiceUnavailable\) after 3 attempts/);
        return true;
      });
      assert.equal(requests, 3);
    } finally {
      failing.closeAllConnections();
      await new Promise<void>((resolve) => failing.close(() => resolve()));
    }
  });

  test("throttling (429) is retried like a 5xx: the read succeeds once the server lets it", async () => {
    let requests = 0;
    const throttling = http.createServer((req, res) => {
      requests++;
      req.resume();
      if (requests === 1) {
        res.writeHead(429, { "content-type": "application/xml" });
        res.end("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>");
      } else {
        res.writeHead(200, { "content-type": "text/plain", etag: '"x"' });
        res.end("ok");
      }
    });
    await new Promise<void>((resolve) => throttling.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = throttling.address() as AddressInfo;
      const reader = s3ReaderStore({
        endpoint: `http://127.0.0.1:${port}`,
        accessKeyId: "GKx",
        secretAccessKey: "s-x",
      });
      assert.equal(Buffer.from((await reader.getBytes("bucket", "key")) ?? []).toString(), "ok");
      assert.equal(requests, 2);
    } finally {
      throttling.closeAllConnections();
      await new Promise<void>((resolve) => throttling.close(() => resolve()));
    }
  });

  test("an endpoint where nothing listens is unreachable, named", async () => {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const reader = s3ReaderStore({
      endpoint: `http://127.0.0.1:${port}`,
      accessKeyId: "GKx",
      secretAccessKey: "s-x",
      maxAttempts: 2,
    });
    await assert.rejects(reader.head("bucket", "key"), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, "STORAGE_UNREACHABLE");
      assert.match(error.message, new RegExp(`http://127\\.0\\.0\\.1:${port}.*after 2 attempts`));
      return true;
    });
  });
});
