import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type http from "node:http";
import { describe, test } from "node:test";
import { StorageError } from "../../src/storage/errors.js";
import { s3Store } from "../../src/storage/s3.js";
import { deadEndpoint, withHttpServer } from "../helpers/http-server.js";
import { s3SkipReason, testS3Server } from "../helpers/s3-server.js";
import { objectStoreContract } from "./object-store.contract.js";

const server = testS3Server();
const skip = s3SkipReason();

if (server) {
  objectStoreContract("s3 (real S3 server on loopback)", async () => {
    const store = s3Store(server);
    const bucket = `tdf-contract-${randomBytes(4).toString("hex")}`;
    await store.ensureBucket(bucket);
    const teardown = async () => {
      const keys: string[] = [];
      for await (const entry of store.list(bucket)) keys.push(entry.key);
      for (let i = 0; i < keys.length; i += 64) {
        await Promise.all(keys.slice(i, i + 64).map((key) => store.delete(bucket, key)));
      }
    };
    return { store, bucket, teardown };
  });
}

describe("s3: credentials", { skip }, () => {
  test("a wrong secret is access denied, naming bucket, key and key id but never the secret", async () => {
    assert.ok(server);
    const good = s3Store(server);
    const bucket = `tdf-creds-${randomBytes(4).toString("hex")}`;
    await good.ensureBucket(bucket);
    await good.put(bucket, "private/object", "secret data");

    const wrongSecret = `wrong-${randomBytes(16).toString("hex")}`;
    const bad = s3Store({ ...server, secretAccessKey: wrongSecret });
    for (const attempt of [
      () => bad.get(bucket, "private/object"),
      () => bad.head(bucket, "private/object"),
      () => bad.put(bucket, "private/other", "x"),
    ]) {
      await assert.rejects(attempt(), (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, "STORAGE_ACCESS_DENIED");
        assert.match(error.message, new RegExp(bucket));
        assert.match(error.message, new RegExp(server.accessKeyId));
        assert.ok(!error.message.includes(wrongSecret) && !JSON.stringify(error.context).includes(wrongSecret));
        return true;
      });
    }
    assert.equal(await good.head(bucket, "private/other"), null);
    await good.delete(bucket, "private/object");
  });

  test("an unknown access key id is access denied and says so", async () => {
    assert.ok(server);
    const store = s3Store({ ...server, accessKeyId: "GKUNKNOWN0000000000" });
    await assert.rejects(store.head("tdf-any-bucket", "k"), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, "STORAGE_ACCESS_DENIED");
      assert.match(error.message, /GKUNKNOWN0000000000/);
      return true;
    });
  });
});

describe("s3: unreachable and failing servers", () => {
  test("an endpoint where nothing listens is unreachable, named, after bounded retries", async () => {
    const endpoint = await deadEndpoint();
    const store = s3Store({ endpoint, accessKeyId: "GKTEST", secretAccessKey: "not-a-real-secret", maxAttempts: 3 });
    await assert.rejects(store.get("bucket", "key"), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, "STORAGE_UNREACHABLE");
      assert.ok(error.message.includes(endpoint), error.message);
      assert.match(error.message, /after 3 attempts/);
      assert.ok(!error.message.includes("not-a-real-secret"));
      return true;
    });
  });

  test("a download cut short is a StorageError naming the object, not a bare socket error", async () => {
    const cutShort: http.RequestListener = (req, res) => {
      req.resume();
      res.writeHead(200, { "content-length": "100000", "content-type": "application/octet-stream", etag: '"abc"' });
      res.write(Buffer.alloc(1000));
      setTimeout(() => res.socket?.destroy(), 20);
    };
    await withHttpServer(cutShort, async (endpoint) => {
      const store = s3Store({ endpoint, accessKeyId: "GKTEST", secretAccessKey: "x-secret-x" });
      await assert.rejects(store.getBytes("bucket", "cut/short.bin"), (error: unknown) => {
        assert.ok(error instanceof StorageError, String(error));
        assert.equal(error.code, "STORAGE_UNREACHABLE");
        assert.match(error.message, /download of s3:\/\/bucket\/cut\/short\.bin .* was cut short/);
        return true;
      });
    });
  });

  test("5xx answers are retried with backoff, then reported with the status: reads and (through the SDK) writes", async () => {
    let requests = 0;
    const busy: http.RequestListener = (req, res) => {
      requests++;
      req.resume();
      res.writeHead(503, { "content-type": "application/xml" });
      res.end("<Error><Code>ServiceUnavailable</Code><Message>try later</Message></Error>");
    };
    await withHttpServer(busy, async (endpoint) => {
      const store = s3Store({ endpoint, accessKeyId: "GKTEST", secretAccessKey: "x-secret-x", maxAttempts: 3 });
      const isServerError = (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, "STORAGE_SERVER_ERROR");
        assert.match(error.message, /HTTP 503/);
        return true;
      };
      await assert.rejects(store.getBytes("bucket", "key"), isServerError);
      assert.equal(requests, 3);
      await assert.rejects(store.put("bucket", "key", "body"), isServerError);
      assert.equal(requests, 6);
    });
  });
});
