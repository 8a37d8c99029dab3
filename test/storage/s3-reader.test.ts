import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type http from "node:http";
import { describe, test } from "node:test";
import { StorageError } from "../../src/storage/errors.js";
import { s3Store } from "../../src/storage/s3.js";
import { s3ReaderStore } from "../../src/storage/s3-reader.js";
import { deadEndpoint, withHttpServer } from "../helpers/http-server.js";
import { s3SkipReason, testS3Server } from "../helpers/s3-server.js";

const server = testS3Server();
const skip = s3SkipReason();

// The reader is the S3 driver's read path (s3.ts), so the contract suite in s3-store.test.ts covers
// its reads; here, what is the reader's alone: standing by itself, read-only, as the bootstrap uses it.

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
  /** A server that answers `status` with an S3 error body for the first `failures` requests, then "ok". */
  const failingFirst = (failures: number, status: number, code: string) => {
    const served = { requests: 0 };
    const handler: http.RequestListener = (req, res) => {
      served.requests++;
      req.resume();
      if (served.requests <= failures) {
        res.writeHead(status, { "content-type": "application/xml" });
        res.end(`<Error><Code>${code}</Code><Message>busy</Message></Error>`);
      } else {
        res.writeHead(200, { "content-type": "text/plain", etag: '"x"' });
        res.end("ok");
      }
    };
    return { served, handler };
  };
  const readerAt = (endpoint: string) =>
    s3ReaderStore({ endpoint, accessKeyId: "GKx", secretAccessKey: "s-x", maxAttempts: 3 });

  test("5xx is retried with backoff, then reported with the status", async () => {
    const { served, handler } = failingFirst(Number.POSITIVE_INFINITY, 503, "ServiceUnavailable");
    await withHttpServer(handler, async (endpoint) => {
      await assert.rejects(readerAt(endpoint).getBytes("bucket", "key"), (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, "STORAGE_SERVER_ERROR");
        assert.match(error.message, /HTTP 503 \(ServiceUnavailable\) after 3 attempts/);
        return true;
      });
    });
    assert.equal(served.requests, 3);
  });

  test("throttling (429) is retried like a 5xx: the read succeeds once the server lets it", async () => {
    const { served, handler } = failingFirst(1, 429, "SlowDown");
    await withHttpServer(handler, async (endpoint) => {
      assert.equal(Buffer.from((await readerAt(endpoint).getBytes("bucket", "key")) ?? []).toString(), "ok");
    });
    assert.equal(served.requests, 2);
  });

  test("a server whose clock is an hour ahead: refused once, then signed on its time (GET and HEAD)", async () => {
    const ahead = 60 * 60_000;
    let requests = 0;
    const skewedServer: http.RequestListener = (req, res) => {
      requests++;
      req.resume();
      const stamp = String(req.headers["x-amz-date"]);
      const signedAt = Date.parse(
        `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`,
      );
      const now = Date.now() + ahead;
      if (Math.abs(now - signedAt) > 15 * 60_000) {
        res.writeHead(403, { "content-type": "application/xml", date: new Date(now).toUTCString() });
        res.end(req.method === "HEAD" ? undefined : "<Error><Code>RequestTimeTooSkewed</Code></Error>");
      } else {
        res.writeHead(200, { "content-type": "text/plain", "content-length": "2", etag: '"x"' });
        res.end(req.method === "HEAD" ? undefined : "ok");
      }
    };
    await withHttpServer(skewedServer, async (endpoint) => {
      const head = await readerAt(endpoint).head("bucket", "key");
      assert.equal(head?.size, 2);
      assert.equal(requests, 2);
      const reader = readerAt(endpoint);
      assert.equal(Buffer.from((await reader.getBytes("bucket", "key")) ?? []).toString(), "ok");
      assert.equal(requests, 4);
      await reader.getBytes("bucket", "key");
      assert.equal(requests, 5, "the offset is kept: no second refusal");
    });
  });

  test("an IPv6 literal endpoint works ([::1])", async () => {
    const ok: http.RequestListener = (req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/plain", etag: '"x"' });
      res.end("ok");
    };
    await withHttpServer(
      ok,
      async (endpoint) => {
        assert.match(endpoint, /^http:\/\/\[::1\]:\d+$/);
        assert.equal(Buffer.from((await readerAt(endpoint).getBytes("bucket", "key")) ?? []).toString(), "ok");
      },
      "::1",
    );
  });

  for (const scheme of ["http", "https"]) {
    test(`an ${scheme} endpoint where nothing listens is unreachable, named`, async () => {
      const endpoint = (await deadEndpoint()).replace(/^http:/, `${scheme}:`);
      const reader = s3ReaderStore({ endpoint, accessKeyId: "GKx", secretAccessKey: "s-x", maxAttempts: 2 });
      await assert.rejects(reader.head("bucket", "key"), (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, "STORAGE_UNREACHABLE");
        assert.match(error.message, new RegExp(`${endpoint.replace(/\./g, "\\.")}.*after 2 attempts`));
        return true;
      });
    });
  }
});
