/** The CLI as a user meets it: a real child process, real files, exit codes and output. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { s3SkipReason, testS3Server } from "../../test/helpers/s3-server.js";

const entry = fileURLToPath(new URL("./bin.ts", import.meta.url));
const tsx = import.meta.resolve("tsx");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function tdf(args: string[], options: { cwd: string; env?: Record<string, string>; input?: string }): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--import", tsx, entry, ...args],
      { cwd: options.cwd, env: { PATH: process.env.PATH ?? "", ...options.env }, encoding: "utf8" },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(options.input ?? "");
  });
}

let cwd: string;
before(async () => {
  cwd = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-cli-"));
});
after(async () => {
  await fsp.rm(cwd, { recursive: true, force: true });
});

test("--help lists the commands and --version prints the version", async () => {
  const help = await tdf(["--help"], { cwd });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /config/);
  assert.match(help.stdout, /store/);
  const version = await tdf(["--version"], { cwd });
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});

test("an unknown command is a usage error (exit 2)", async () => {
  const result = await tdf(["frobnicate"], { cwd });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /unknown command 'frobnicate'/);
});

test("store put, ls, get, rm round trip on the embedded filesystem store", async () => {
  await fsp.writeFile(path.join(cwd, "sales.csv"), "date,sku,quantity\n2026-01-01,A,3\n");
  const put = await tdf(["store", "put", "training-data/acme/raw/sales.csv", "sales.csv", "--meta", "origin=test"], {
    cwd,
  });
  assert.equal(put.code, 0, put.stderr);
  assert.match(put.stdout, /^training-data\/acme\/raw\/sales\.csv [0-9a-f]{32}\n$/);

  const ls = await tdf(["store", "ls", "training-data/acme/", "--json"], { cwd });
  assert.equal(ls.code, 0, ls.stderr);
  const entries = ls.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    entries.map((e) => [e.key, e.size]),
    [["acme/raw/sales.csv", 33]],
  );

  const toFile = await tdf(["store", "get", "training-data/acme/raw/sales.csv", "copy.csv"], { cwd });
  assert.equal(toFile.code, 0, toFile.stderr);
  assert.equal(await fsp.readFile(path.join(cwd, "copy.csv"), "utf8"), "date,sku,quantity\n2026-01-01,A,3\n");
  const toStdout = await tdf(["store", "get", "training-data/acme/raw/sales.csv"], { cwd });
  assert.equal(toStdout.stdout, "date,sku,quantity\n2026-01-01,A,3\n");

  const fromStdin = await tdf(["store", "put", "training-data/acme/raw/events.csv"], { cwd, input: "date,event\n" });
  assert.equal(fromStdin.code, 0, fromStdin.stderr);

  assert.equal((await tdf(["store", "rm", "training-data/acme/raw/sales.csv"], { cwd })).code, 0);
  const gone = await tdf(["store", "get", "training-data/acme/raw/sales.csv", "again.csv"], { cwd });
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /^tdf: There is no object training-data\/acme\/raw\/sales\.csv/);
  await assert.rejects(fsp.access(path.join(cwd, "again.csv")), "a failed get writes no file");
});

test("bad input gets one clear message and a non-zero exit", async () => {
  const traversal = await tdf(["store", "get", "training-data/../../etc/passwd"], { cwd });
  assert.equal(traversal.code, 1);
  assert.match(traversal.stderr, /contains a "\.\." segment/);

  const missingFile = await tdf(["store", "put", "training-data/x.csv", "no-such-file.csv"], { cwd });
  assert.equal(missingFile.code, 1);
  assert.match(missingFile.stderr, /Cannot read .*no-such-file\.csv; check the path/);

  await fsp.writeFile(path.join(cwd, "one.csv"), "a\n");
  assert.equal((await tdf(["store", "put", "training-data/one.csv", "one.csv"], { cwd })).code, 0);
  const badTarget = await tdf(["store", "get", "training-data/one.csv", "no/such/dir/out.csv"], { cwd });
  assert.equal(badTarget.code, 1);
  assert.match(badTarget.stderr, /^tdf: Cannot write .*no\/such\/dir\/out\.csv: .*; check the path\.\n$/);

  await fsp.mkdir(path.join(cwd, "a-folder"), { recursive: true });
  const folder = await tdf(["store", "put", "training-data/x.csv", "a-folder"], { cwd });
  assert.equal(folder.code, 1);
  assert.match(folder.stderr, /a-folder is not a file/);

  const noKey = await tdf(["store", "get", "training-data"], { cwd });
  assert.equal(noKey.code, 2);
  assert.match(noKey.stderr, /names a bucket but no object/);
});

test("configuration problems are all listed, and no secret reaches the output", async () => {
  const secret = `s3cr3t-${randomBytes(8).toString("hex")}`;
  const env = {
    GARAGE_ENDPOINT: "http://127.0.0.1:1",
    GARAGE_AIRFLOW_ACCESS_KEY_ID: "GKruntime",
    GARAGE_AIRFLOW_SECRET_ACCESS_KEY: secret,
    TRAINING_BATCH_SIZE: secret,
    ENABLE_METRICS: "maybe",
  };
  const bad = await tdf(["config"], { cwd, env });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /TRAINING_BATCH_SIZE/);
  assert.match(bad.stderr, /ENABLE_METRICS/);
  assert.ok(!bad.stderr.includes(secret) && !bad.stdout.includes(secret));

  const good = await tdf(["config"], { cwd, env: { ...env, TRAINING_BATCH_SIZE: "32", ENABLE_METRICS: "true" } });
  assert.equal(good.code, 0, good.stderr);
  assert.ok(!good.stdout.includes(secret));
  assert.equal(JSON.parse(good.stdout).storage.airflow.accessKeyId, "GKruntime");

  const unreachable = await tdf(["store", "ls", "training-data"], {
    cwd,
    env: { ...env, TRAINING_BATCH_SIZE: "32", ENABLE_METRICS: "true" },
  });
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /Cannot reach the object store at http:\/\/127\.0\.0\.1:1/);
  assert.ok(!unreachable.stderr.includes(secret));
});

describe("store commands against the real S3 server", { skip: s3SkipReason() }, () => {
  test("init, put, ls, get and rm through the S3 driver", async () => {
    const server = testS3Server();
    assert.ok(server);
    const bucket = `tdf-cli-${randomBytes(4).toString("hex")}`;
    const env = {
      GARAGE_ENDPOINT: server.endpoint,
      GARAGE_REGION: server.region,
      GARAGE_CICD_ACCESS_KEY_ID: server.accessKeyId,
      GARAGE_CICD_SECRET_ACCESS_KEY: server.secretAccessKey,
      GARAGE_TRAINING_DATA_BUCKET: bucket,
    };
    const init = await tdf(["store", "init", "--key", "cicd"], { cwd, env });
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, new RegExp(`ready: ${bucket}`));
    await fsp.writeFile(path.join(cwd, "s3.csv"), "a,b\n1,2\n");
    assert.equal((await tdf(["store", "put", `${bucket}/acme/raw/s3.csv`, "s3.csv"], { cwd, env })).code, 0);
    const ls = await tdf(["store", "ls", bucket], { cwd, env });
    assert.match(ls.stdout, /\s8\s+\S+\s+acme\/raw\/s3\.csv\n$/);
    const get = await tdf(["store", "get", `${bucket}/acme/raw/s3.csv`], { cwd, env });
    assert.equal(get.stdout, "a,b\n1,2\n");
    assert.equal((await tdf(["store", "rm", `${bucket}/acme/raw/s3.csv`], { cwd, env })).code, 0);
    assert.equal((await tdf(["store", "ls", bucket], { cwd, env })).stdout, "");
    assert.ok(!init.stderr.includes(server.secretAccessKey));
  });
});
