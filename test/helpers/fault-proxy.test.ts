import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { StorageError } from "../../src/storage/errors.js";
import { s3Store } from "../../src/storage/s3.js";
import type { ObjectStore } from "../../src/storage/types.js";
import { type FaultProxy, startFaultProxy } from "./fault-proxy.js";
import { s3SkipReason, testS3Server } from "./s3-server.js";

const MiB = 1024 * 1024;
const server = testS3Server();

describe("fault proxy in front of the real S3 server", { skip: s3SkipReason() }, () => {
  const bucket = `tdf-proxy-${randomBytes(4).toString("hex")}`;
  const keys = new Set<string>();
  let direct: ObjectStore;
  let proxy: FaultProxy;
  /** A driver talking to the S3 server through the proxy. */
  const viaProxy = (maxAttempts = 4) => {
    assert.ok(server);
    return s3Store({ ...server, endpoint: proxy.url, maxAttempts });
  };
  /** Puts an object straight to the server (no proxy), to be read back through the proxy. */
  const seed = async (key: string, bytes: Uint8Array) => {
    keys.add(key);
    await direct.put(bucket, key, bytes);
  };
  /** Matches one object's requests; the SDK adds a query (`?x-id=GetObject`) to the path. */
  const objectPath = (key: string) => new RegExp(`^/${bucket}/${key}(\\?|$)`);
  const getObjects = () => proxy.requests.filter((r) => r.method === "GET" && r.path.startsWith(`/${bucket}/`));

  before(async () => {
    assert.ok(server);
    direct = s3Store(server);
    await direct.ensureBucket(bucket);
    proxy = await startFaultProxy(server.endpoint);
  });

  after(async () => {
    await proxy?.close();
    for (const key of keys) await direct.delete(bucket, key);
  });

  test("a 5 MiB put and get round-trip intact: signatures are accepted through the proxy", async () => {
    const store = viaProxy();
    const bytes = randomBytes(5 * MiB);
    keys.add("roundtrip");
    await store.put(bucket, "roundtrip", bytes);
    const object = await store.get(bucket, "roundtrip");
    assert.ok(object);
    assert.equal(object.info.size, bytes.length);
    const chunks: Buffer[] = [];
    for await (const chunk of object.body) chunks.push(chunk as Buffer);
    assert.ok(Buffer.concat(chunks).equals(bytes));
    assert.ok(Buffer.from((await direct.getBytes(bucket, "roundtrip")) ?? []).equals(bytes));
    assert.ok(proxy.requests.some((r) => r.method === "PUT" && r.fault === "forwarded"));
    assert.ok(proxy.requests.every((r) => r.fault === "forwarded"));
  });

  test("status 500 twice, then forwarded: the SDK's retries succeed", async () => {
    await seed("retried", Buffer.from("after two failures"));
    proxy.requests.length = 0;
    proxy.rules = [
      {
        method: "GET",
        path: objectPath("retried"),
        faults: [
          { kind: "status", status: 500 },
          { kind: "status", status: 500 },
        ],
      },
    ];
    const bytes = await viaProxy(4).getBytes(bucket, "retried");
    assert.equal(Buffer.from(bytes ?? []).toString(), "after two failures");
    assert.deepEqual(
      getObjects().map((r) => r.fault),
      ["status", "status", "forwarded"],
    );
  });

  test("status 503 on every attempt: STORAGE_SERVER_ERROR once the attempts run out", async () => {
    await seed("unavailable", Buffer.from("never read"));
    proxy.requests.length = 0;
    proxy.rules = [
      { path: objectPath("unavailable"), faults: Array.from({ length: 5 }, () => ({ kind: "status", status: 503 })) },
    ];
    await assert.rejects(viaProxy(3).getBytes(bucket, "unavailable"), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, "STORAGE_SERVER_ERROR");
      assert.match(error.message, /HTTP 503/);
      return true;
    });
    assert.deepEqual(
      getObjects().map((r) => r.fault),
      ["status", "status", "status"],
    );
  });

  test("truncate: a body cut short is STORAGE_UNREACHABLE (not retried by the SDK)", async () => {
    await seed("truncated", randomBytes(MiB));
    proxy.requests.length = 0;
    proxy.rules = [
      { method: "GET", path: objectPath("truncated"), faults: [{ kind: "truncate", afterBytes: 100_000 }] },
    ];
    await assert.rejects(viaProxy().getBytes(bucket, "truncated"), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, "STORAGE_UNREACHABLE");
      return true;
    });
    assert.deepEqual(
      getObjects().map((r) => r.fault),
      ["truncate"],
    );
  });

  test("reset: one connection reset, then the SDK's retry succeeds", async () => {
    await seed("reset", Buffer.from("after a reset"));
    proxy.requests.length = 0;
    proxy.rules = [{ method: "GET", path: objectPath("reset"), faults: [{ kind: "reset" }] }];
    const bytes = await viaProxy().getBytes(bucket, "reset");
    assert.equal(Buffer.from(bytes ?? []).toString(), "after a reset");
    assert.deepEqual(
      getObjects().map((r) => r.fault),
      ["reset", "forwarded"],
    );
  });

  test("stall: the request is held, then succeeds", async () => {
    await seed("stalled", Buffer.from("late"));
    proxy.requests.length = 0;
    proxy.rules = [{ method: "GET", path: objectPath("stalled"), faults: [{ kind: "stall", ms: 300 }] }];
    const store = viaProxy();
    const started = performance.now();
    const bytes = await store.getBytes(bucket, "stalled");
    const elapsed = performance.now() - started;
    assert.equal(Buffer.from(bytes ?? []).toString(), "late");
    assert.ok(elapsed >= 290, `took ${elapsed} ms`);
    assert.deepEqual(
      getObjects().map((r) => r.fault),
      ["stall"],
    );
  });
});

describe("fault proxy without an upstream", () => {
  test("an unreachable upstream is answered 502, which the driver reports as a server error", async () => {
    // A port that was just free: nothing listens there.
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const proxy = await startFaultProxy(`http://127.0.0.1:${port}`);
    try {
      const store = s3Store({ endpoint: proxy.url, accessKeyId: "AK", secretAccessKey: "SK", maxAttempts: 2 });
      await assert.rejects(store.getBytes("bucket", "key"), (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, "STORAGE_SERVER_ERROR");
        assert.match(error.message, /HTTP 502/);
        return true;
      });
      assert.deepEqual(
        proxy.requests.map((r) => r.fault),
        ["forwarded", "forwarded"],
      );
    } finally {
      await proxy.close();
    }
  });
});
