/**
 * The MLflow driver against the FAKE MLflow server (test/helpers/fake-mlflow-server.ts: no real
 * MLflow can be installed here), with both artifact set-ups: proxied (`mlflow-artifacts:/`) and
 * straight to the real S3 server (`s3://…`, as the deployment guide sets up Garage).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { s3Store } from "../../src/storage/s3.js";
import { TrackingError } from "../../src/tracking/errors.js";
import { mlflowTracker } from "../../src/tracking/mlflow.js";
import { rejectsWith } from "../helpers/assertions.js";
import { startFakeMlflowServer } from "../helpers/fake-mlflow-server.js";
import { s3SkipReason, testS3Server } from "../helpers/s3-server.js";
import { trackerContract } from "./tracker.contract.js";

trackerContract("mlflow (fake MLflow server, proxied artifacts)", async () => {
  const server = await startFakeMlflowServer();
  return { tracker: mlflowTracker({ trackingUri: server.url }), teardown: () => server.close() };
});

const s3 = testS3Server();
if (s3) {
  trackerContract("mlflow (fake MLflow server, artifacts in the real S3 server)", async () => {
    const bucket = `tdf-mlflow-${randomBytes(4).toString("hex")}`;
    const artifactStore = s3Store(s3);
    await artifactStore.ensureBucket(bucket);
    const server = await startFakeMlflowServer({ artifactRoot: `s3://${bucket}/` });
    return { tracker: mlflowTracker({ trackingUri: server.url, artifactStore }), teardown: () => server.close() };
  });
} else {
  describe("mlflow with S3 artifacts", { skip: s3SkipReason() }, () => {});
}

describe("mlflow driver: server behaviour", () => {
  test("basic and bearer credentials are sent; refused credentials name the server, never the secret", async () => {
    const basic = await startFakeMlflowServer({ auth: { username: "trainer", password: "pa55-word-xyz" } });
    const bearer = await startFakeMlflowServer({ auth: { token: "tok-123456789" } });
    try {
      const good = mlflowTracker({ trackingUri: basic.url, username: "trainer", password: "pa55-word-xyz" });
      assert.ok((await good.getOrCreateExperiment("auth-basic")).id);
      assert.ok(
        (await mlflowTracker({ trackingUri: bearer.url, token: "tok-123456789" }).getOrCreateExperiment("auth-bearer"))
          .id,
      );
      const wrong = mlflowTracker({
        trackingUri: basic.url,
        username: "trainer",
        password: "wrong-password-abc",
        maxAttempts: 1,
      });
      await assert.rejects(wrong.getExperimentByName("x"), (error: unknown) => {
        assert.ok(error instanceof TrackingError);
        assert.equal(error.code, "TRACKING_AUTH");
        assert.ok(error.message.includes(basic.url));
        assert.ok(!error.message.includes("wrong-password-abc") && !error.message.includes("pa55-word-xyz"));
        return true;
      });
    } finally {
      await basic.close();
      await bearer.close();
    }
  });

  test("429 and 5xx are retried with backoff; an HTML error page is said to be one", async () => {
    const server = await startFakeMlflowServer();
    try {
      const tracker = mlflowTracker({ trackingUri: server.url, baseDelayMs: 10 });
      server.failNext(2, 503);
      assert.ok((await tracker.getOrCreateExperiment("retried")).id);
      server.failNext(1, 429);
      assert.ok(await tracker.getExperimentByName("retried"));
      server.failNext(10, "html500");
      await assert.rejects(
        tracker.getExperimentByName("retried"),
        rejectsWith("TRACKING_SERVER_ERROR", /an HTML page instead of JSON, after 4 attempts/),
      );
    } finally {
      await server.close();
    }
  });

  test("creates are not retried after an ambiguous failure: no second run is made", async () => {
    const server = await startFakeMlflowServer();
    try {
      const tracker = mlflowTracker({ trackingUri: server.url, baseDelayMs: 10 });
      const experiment = await tracker.getOrCreateExperiment("no-double-create");
      server.failNext(1, 503);
      await assert.rejects(tracker.startRun(experiment.id), rejectsWith("TRACKING_SERVER_ERROR"));
      assert.equal(server.requests.filter((r) => r.path.endsWith("runs/create")).length, 1);
    } finally {
      await server.close();
    }
  });

  test("a wrong base URL or a login redirect is said as such, not read as an absent thing", async () => {
    const other = http.createServer((req, res) => {
      req.resume();
      if (req.url?.startsWith("/login-first")) {
        res.writeHead(302, { location: "/login" });
        res.end();
      } else {
        res.writeHead(404, { "content-type": "text/html" });
        res.end("<!doctype html><title>404 Not Found</title>");
      }
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = other.address() as AddressInfo;
      const wrongPath = mlflowTracker({ trackingUri: `http://127.0.0.1:${port}/not-mlflow` });
      await assert.rejects(
        wrongPath.getRun("0123456789abcdef0123456789abcdef"),
        rejectsWith("TRACKING_FAILED", /has no MLflow endpoint/),
      );
      const login = mlflowTracker({ trackingUri: `http://127.0.0.1:${port}/login-first` });
      await assert.rejects(login.getExperimentByName("x"), rejectsWith("TRACKING_FAILED", /redirected/));
    } finally {
      other.closeAllConnections();
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  test("an unreachable server is named, after bounded retries", async () => {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const tracker = mlflowTracker({ trackingUri: `http://127.0.0.1:${port}`, maxAttempts: 2, baseDelayMs: 10 });
    await assert.rejects(
      tracker.getExperimentByName("x"),
      rejectsWith("TRACKING_UNREACHABLE", new RegExp(`127\\.0\\.0\\.1:${port}.*after 2 attempts`)),
    );
  });

  test("limits are checked before any request; large batches go in MLflow-sized requests", async () => {
    const server = await startFakeMlflowServer();
    try {
      const tracker = mlflowTracker({ trackingUri: server.url });
      const experiment = await tracker.getOrCreateExperiment("limits");
      const run = await tracker.startRun(experiment.id);
      const before = server.requests.length;
      await assert.rejects(
        tracker.logBatch(run.id, { params: { ["k".repeat(251)]: "v" } }),
        rejectsWith("TRACKING_INVALID"),
      );
      assert.equal(server.requests.length, before, "a refused batch sent nothing");
      const metrics = Array.from({ length: 2500 }, (_, i) => ({ key: "m", value: i, timestamp: 1 + i, step: i }));
      await tracker.logBatch(run.id, { metrics });
      assert.equal(server.requests.filter((r) => r.path.endsWith("runs/log-batch")).length, 3);
    } finally {
      await server.close();
    }
  });
});
