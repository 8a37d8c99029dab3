/** `tdf doctor` against the embedded store and the real S3 server, as an operator runs it. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { s3SkipReason, testS3Server } from "../../test/helpers/s3-server.js";

const entry = fileURLToPath(new URL("./bin.ts", import.meta.url));
const tsx = import.meta.resolve("tsx");
let cwd: string;

function doctor(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", tsx, entry, "doctor"],
      { cwd, env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8" },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  cwd = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-doctor-"));
});
after(() => fsp.rm(cwd, { recursive: true, force: true }));

test("doctor on the embedded store: every bucket readable and writable", async () => {
  const result = await doctor({});
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim().split("\n").length, 6);
  assert.ok(
    result.stdout
      .split("\n")
      .filter(Boolean)
      .every((line) => line.startsWith("ok ")),
  );
});

test("doctor names an unreachable endpoint and exits non-zero", async () => {
  const result = await doctor({
    GARAGE_ENDPOINT: "http://127.0.0.1:1",
    GARAGE_AIRFLOW_ACCESS_KEY_ID: "GKx",
    GARAGE_AIRFLOW_SECRET_ACCESS_KEY: "secret-xyz",
  });
  assert.equal(result.code, 1);
  assert.match(result.stdout, /^FAIL {2}endpoint http:\/\/127\.0\.0\.1:1 reachable .*Cannot reach the object store/m);
  assert.ok(!result.stdout.includes("secret-xyz") && !result.stderr.includes("secret-xyz"));
});

describe("doctor against the real S3 server", { skip: s3SkipReason() }, () => {
  test("reachability, region, buckets and multipart pass; a runtime key that can write the code bucket fails", async () => {
    const server = testS3Server();
    assert.ok(server);
    const env = {
      GARAGE_ENDPOINT: server.endpoint,
      GARAGE_REGION: server.region,
      GARAGE_CICD_ACCESS_KEY_ID: server.accessKeyId,
      GARAGE_CICD_SECRET_ACCESS_KEY: server.secretAccessKey,
      // The test server has one user, so the runtime key here can write: least privilege must fail.
      GARAGE_AIRFLOW_ACCESS_KEY_ID: server.accessKeyId,
      GARAGE_AIRFLOW_SECRET_ACCESS_KEY: server.secretAccessKey,
      GARAGE_CODE_BUCKET: `tdf-doctor-${process.pid}`,
    };
    const { s3Store } = await import("../storage/s3.js");
    const store = s3Store(server);
    for (const bucket of [
      `tdf-doctor-${process.pid}`,
      "training-data",
      "model-artifacts",
      "data-pipeline",
      "mlflow-artifacts",
    ]) {
      await store.ensureBucket(bucket);
    }
    const result = await doctor(env);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stdout, /^ok {4}endpoint .* reachable/m);
    assert.match(result.stdout, /^ok {4}region "garage" accepted/m);
    assert.match(result.stdout, /^ok {4}multipart upload and CopyObject with the CI key/m);
    assert.match(result.stdout, /^FAIL {2}code bucket not writable with the runtime key .*give it read-only access/m);
    assert.equal(result.stdout.match(/^ok {4}bucket /gm)?.length, 5);
    const leftovers: string[] = [];
    for await (const object of store.list(env.GARAGE_CODE_BUCKET)) leftovers.push(object.key);
    assert.deepEqual(leftovers, [], "doctor left probe objects behind");
  });
});
