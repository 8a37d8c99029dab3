/**
 * `tdf-bootstrap` as the base image runs it: the real process (src/bootstrap/bin.ts through tsx),
 * configured only through its environment, reading code published to a real S3 server through a
 * fault-injecting proxy, with a fixture task that reports what reached it. Covers the cold and warm
 * starts and their phase log, version resolution, network faults on the archive download, a wrong
 * key, concurrent starts of one version, crashes (SIGKILL) mid-download and mid-unpack, signatures,
 * the dependency hash, SIGTERM forwarding, metrics and cache trimming.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { DeleteBucketCommand, S3Client } from "@aws-sdk/client-s3";
import type { Manifest } from "../../src/codepkg/manifest.js";
import { publish } from "../../src/codepkg/publish.js";
import { generateSigningKeyPair } from "../../src/codepkg/signing.js";
import { s3Store } from "../../src/storage/s3.js";
import type { ObjectStore } from "../../src/storage/types.js";
import {
  type BootstrapRun,
  leftovers,
  phaseLines,
  type RunningBootstrap,
  runBootstrap,
  spawnBootstrap,
  taskScript,
  versionState,
} from "../helpers/bootstrap-fixture.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";
import { createTestProject, type TestProject } from "../helpers/project.js";
import { s3SkipReason, testS3Server } from "../helpers/s3-server.js";

const server = testS3Server();
const nodeModules = fileURLToPath(new URL("../../node_modules", import.meta.url));
const MiB = 1024 * 1024;

interface Published {
  sha: string;
  manifest: Manifest;
}

describe("tdf-bootstrap against a real S3 server, through a fault proxy", { skip: s3SkipReason() }, () => {
  const bucket = `tdf-boot-${randomBytes(4).toString("hex")}`;
  let store: ObjectStore;
  let proxy: FaultProxy;
  let project: TestProject;
  let tmp: string;
  /** The small fixture version most tests run (published first, so `latest` at the start). */
  let v1: Published;
  let caches = 0;

  /** The bootstrap's whole environment: nothing is inherited from this process. */
  const env = (extra: Record<string, string> = {}): Record<string, string> => {
    assert.ok(server);
    return {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: path.join(tmp, "home"),
      TDF_HOME: path.join(tmp, "tdf-home"),
      GARAGE_ENDPOINT: proxy.url,
      GARAGE_REGION: server.region,
      GARAGE_AIRFLOW_ACCESS_KEY_ID: server.accessKeyId,
      GARAGE_AIRFLOW_SECRET_ACCESS_KEY: server.secretAccessKey,
      GARAGE_CODE_BUCKET: bucket,
      TDF_NODE_MODULES: nodeModules,
      ...extra,
    };
  };
  /** A new, empty cache folder: every start from it is cold. */
  const freshCache = () => path.join(tmp, `cache-${++caches}`);
  const boot = (version: string, cacheDir: string, task: string[], extra: Record<string, string> = {}) =>
    runBootstrap(["--code-version", version, "--cache-dir", cacheDir, "--", ...task], env(extra));
  /** Bootstraps started in the background: stopped in `after` if a failed test left them running. */
  const background = new Set<RunningBootstrap>();
  const start = (version: string, cacheDir: string, task: string[], extra: Record<string, string> = {}) => {
    const running = spawnBootstrap(["--code-version", version, "--cache-dir", cacheDir, "--", ...task], env(extra));
    background.add(running);
    void running.done.finally(() => background.delete(running));
    return running;
  };

  const archivePattern = (sha: string) => new RegExp(`^/${bucket}/code-${sha}\\.tar\\.gz(\\?|$)`);
  const manifestPattern = (sha: string) => new RegExp(`^/${bucket}/code-${sha}\\.manifest\\.json(\\?|$)`);
  const archiveGets = (sha: string) =>
    proxy.requests.filter((r) => r.method === "GET" && archivePattern(sha).test(r.path));

  /** Writes `files` into the fixture, commits, publishes that commit, then deletes `removeAfter`. */
  const publishVersion = async (
    files: Record<string, string | Buffer> = {},
    options: { signingKey?: string; removeAfter?: string[] } = {},
  ): Promise<Published> => {
    for (const [file, content] of Object.entries(files)) {
      await fsp.mkdir(path.dirname(path.join(project.root, file)), { recursive: true });
      await fsp.writeFile(path.join(project.root, file), content);
    }
    const sha = await project.commit({});
    const result = await publish({ store, bucket, root: project.root, signingKey: options.signingKey });
    assert.equal(result.sha, sha);
    for (const file of options.removeAfter ?? []) {
      await fsp.rm(path.join(project.root, file), { recursive: true, force: true });
    }
    return { sha, manifest: result.manifest };
  };

  /** The run succeeded and the fixture task said so. */
  const assertRan = (run: BootstrapRun, expectedCode = 0) => {
    assert.equal(run.code, expectedCode, `exit ${run.code}; stderr:\n${run.stderr}`);
    assert.match(run.stdout, /^task ran: /m, run.stderr);
  };

  before(async () => {
    assert.ok(server);
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-bootstrap-test-"));
    await fsp.mkdir(path.join(tmp, "home"));
    store = s3Store(server);
    await store.ensureBucket(bucket);
    proxy = await startFaultProxy(server.endpoint);
    project = await createTestProject();
    v1 = await publishVersion({ "dist/cli/bin.js": taskScript });
  });

  after(async () => {
    for (const running of background) {
      running.child.kill("SIGTERM"); // passed on to a waiting task
      const stopped = await Promise.race([running.done.then(() => true), sleep(3_000).then(() => false)]);
      if (!stopped) running.child.kill("SIGKILL");
    }
    await proxy?.close();
    await project?.remove();
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
    if (store && server) {
      const keys: string[] = [];
      for await (const entry of store.list(bucket)) keys.push(entry.key);
      for (const key of keys) await store.delete(bucket, key);
      const client = new S3Client({
        endpoint: server.endpoint,
        region: server.region,
        forcePathStyle: true,
        credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
      });
      await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
      client.destroy();
    }
  });

  beforeEach(() => {
    proxy.rules = [];
    proxy.requests.length = 0;
  });

  let warmCache: string;

  test("cold start: downloads, verifies, unpacks and runs the task, one JSON log line per phase", {
    timeout: 30_000,
  }, async () => {
    warmCache = freshCache();
    const run = await boot(v1.sha, warmCache, ["exit:3", "deps"]);
    assertRan(run, 3);
    assert.match(run.stdout, /^task ran: exit:3 deps$/m);
    // The code runs against TDF_NODE_MODULES through the link in its cached folder.
    assert.match(
      run.stdout,
      new RegExp(`^deps: ${nodeModules.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/commander/`, "m"),
    );
    assert.deepEqual(run.otherLines, [], "stderr holds only JSON log lines");

    for (const phase of ["resolve", "download", "verify", "unpack", "cache", "run", "exit"]) {
      assert.equal(phaseLines(run, phase).length, 1, `one "${phase}" line:\n${run.stderr}`);
    }
    const [resolve] = phaseLines(run, "resolve");
    assert.equal(resolve?.sha, v1.sha);
    const [download] = phaseLines(run, "download");
    assert.equal(download?.bytes, v1.manifest.archive.size);
    assert.equal(typeof download?.seconds, "number");
    assert.equal(typeof download?.mbPerSecond, "number");
    assert.equal(download?.attempts, 1);
    assert.equal(phaseLines(run, "verify")[0]?.signed, false);
    assert.equal(phaseLines(run, "unpack")[0]?.files, v1.manifest.archive.fileCount);
    assert.equal(phaseLines(run, "cache")[0]?.hit, false);
    const [exit] = phaseLines(run, "exit");
    assert.equal(exit?.exitCode, 3);
    assert.ok(typeof exit?.startupSeconds === "number" && exit.startupSeconds > 0, run.stderr);
    assert.equal(archiveGets(v1.sha).length, 1);

    assert.equal(await versionState(warmCache, v1.sha, v1.manifest.archive.fileCount), "complete");
    assert.deepEqual(await leftovers(warmCache, v1.sha), []);
  });

  test("warm start with the full SHA: a cache hit without a single request to the store", {
    timeout: 30_000,
  }, async () => {
    assert.ok(warmCache, "needs the cold start's cache");
    const run = await boot(v1.sha, warmCache, ["exit:0"]);
    assertRan(run);
    assert.deepEqual(proxy.requests, [], "the proxy saw no request");
    assert.equal(phaseLines(run, "cache")[0]?.hit, true);
    assert.deepEqual(phaseLines(run, "download"), []);
    assert.deepEqual(phaseLines(run, "unpack"), []);
    assert.equal(phaseLines(run, "exit")[0]?.exitCode, 0);
  });

  test("latest resolves through the pointer, a 7-character prefix through the release log; unknown versions fail", {
    timeout: 30_000,
  }, async () => {
    const cache = freshCache();
    const latest = await boot("latest", cache, ["exit:0"]);
    assertRan(latest);
    assert.equal(phaseLines(latest, "resolve")[0]?.sha, v1.sha);
    assert.ok(proxy.requests.some((r) => r.method === "GET" && r.path.startsWith(`/${bucket}/code-latest.json`)));

    proxy.requests.length = 0;
    const prefix = await boot(v1.sha.slice(0, 7), cache, ["exit:0"]);
    assertRan(prefix);
    assert.equal(phaseLines(prefix, "resolve")[0]?.sha, v1.sha);
    assert.equal(phaseLines(prefix, "cache")[0]?.hit, true);
    assert.equal(archiveGets(v1.sha).length, 0);

    const newest = new RegExp(`the newest releases are ${v1.sha.slice(0, 12)}`);
    const other = (v1.sha[0] === "0" ? "1" : "0").repeat(7);
    const unknown = await boot(other, cache, ["exit:0"]);
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.equal(unknown.stdout, "", "the task did not run");
    assert.match(unknown.stderr, new RegExp(`^tdf-bootstrap: Code version "${other}" is not published`, "m"));
    assert.match(unknown.stderr, newest);

    const unknownFull = await boot(other.repeat(6).slice(0, 40), cache, ["exit:0"]);
    assert.equal(unknownFull.code, 1, unknownFull.stderr);
    assert.equal(unknownFull.stdout, "");
    assert.match(unknownFull.stderr, /is not published/);
    assert.match(unknownFull.stderr, newest);
    assert.deepEqual(await leftovers(cache, other.repeat(6).slice(0, 40)), []);
  });

  describe("faults on the archive download", () => {
    const faulted = async (faults: FaultProxy["rules"][number]["faults"]) => {
      proxy.rules.push({ method: "GET", path: archivePattern(v1.sha), faults });
      const cache = freshCache();
      const run = await boot(v1.sha, cache, ["exit:0"]);
      return { run, cache };
    };
    const assertClean = async (cache: string) => {
      assert.equal(await versionState(cache, v1.sha, v1.manifest.archive.fileCount), "complete");
      assert.deepEqual(await leftovers(cache, v1.sha), []);
    };

    test("two 500s, then success: the S3 driver's retries", { timeout: 30_000 }, async () => {
      const { run, cache } = await faulted([
        { kind: "status", status: 500 },
        { kind: "status", status: 500 },
      ]);
      assertRan(run);
      assert.deepEqual(
        archiveGets(v1.sha).map((r) => r.fault),
        ["status", "status", "forwarded"],
      );
      assert.equal(phaseLines(run, "download")[0]?.attempts, 1);
      await assertClean(cache);
    });

    test("one truncated body, then success: the bootstrap's own retry", { timeout: 30_000 }, async () => {
      const { run, cache } = await faulted([
        { kind: "truncate", afterBytes: Math.floor(v1.manifest.archive.size / 2) },
      ]);
      assertRan(run);
      assert.deepEqual(
        archiveGets(v1.sha).map((r) => r.fault),
        ["truncate", "forwarded"],
      );
      const retries = phaseLines(run, "download").filter((l) => l.msg === "download failed; retrying");
      assert.equal(retries.length, 1, run.stderr);
      assert.equal(retries[0]?.level, 40);
      const done = phaseLines(run, "download").find((l) => typeof l.bytes === "number");
      assert.equal(done?.attempts, 2);
      await assertClean(cache);
    });

    test("a truncated body on every attempt: exit 1, and nothing left in the cache", { timeout: 30_000 }, async () => {
      const { run, cache } = await faulted(
        Array.from({ length: 8 }, () => ({ kind: "truncate" as const, afterBytes: 10 })),
      );
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stdout, "", "the task did not run");
      assert.match(
        run.stderr,
        new RegExp(`^tdf-bootstrap: Failed to download code ${bucket}/code-${v1.sha}\\.tar\\.gz after 4 attempts`, "m"),
      );
      assert.equal(archiveGets(v1.sha).length, 4);
      assert.equal(await versionState(cache, v1.sha, v1.manifest.archive.fileCount), "absent");
      assert.deepEqual(await leftovers(cache, v1.sha), []);
      for (const sub of [".downloads", ".staging"]) {
        assert.deepEqual(await fsp.readdir(path.join(cache, sub)).catch(() => []), [], `${sub} is empty`);
      }
    });

    test("one connection reset, then success", { timeout: 30_000 }, async () => {
      const { run, cache } = await faulted([{ kind: "reset" }]);
      assertRan(run);
      assert.deepEqual(
        archiveGets(v1.sha).map((r) => r.fault),
        ["reset", "forwarded"],
      );
      await assertClean(cache);
    });

    test("a 500 ms stall, then success", { timeout: 30_000 }, async () => {
      const { run, cache } = await faulted([{ kind: "stall", ms: 500 }]);
      assertRan(run);
      assert.deepEqual(
        archiveGets(v1.sha).map((r) => r.fault),
        ["stall"],
      );
      const seconds = phaseLines(run, "download")[0]?.seconds;
      assert.ok(typeof seconds === "number" && seconds >= 0.45, `download took ${seconds} s`);
      await assertClean(cache);
    });
  });

  test("an archive altered in the store is refused by its sha256, leaving nothing in the cache", {
    timeout: 30_000,
  }, async () => {
    const altered = await publishVersion();
    const key = `code-${altered.sha}.tar.gz`;
    const original = Buffer.from((await store.getBytes(bucket, key)) ?? []);
    assert.equal(original.length, altered.manifest.archive.size);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 20] = (tampered[tampered.length - 20] ?? 0) ^ 0xff;
    await store.put(bucket, key, tampered);
    const cache = freshCache();
    const run = await boot(altered.sha, cache, ["exit:0"]);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, "");
    assert.match(
      run.stderr,
      new RegExp(
        `^tdf-bootstrap: The archive ${bucket}/${key.replace(/\./g, "\\.")} has sha256 [0-9a-f]{64}, but its manifest says ${altered.manifest.archive.sha256}`,
        "m",
      ),
    );
    assert.equal(archiveGets(altered.sha).length, 1, "not retried");
    assert.equal(await versionState(cache, altered.sha, altered.manifest.archive.fileCount), "absent");
    assert.deepEqual(await leftovers(cache, altered.sha), []);
  });

  test("an archive of the wrong size is refused at once as altered, not retried as a short download", {
    timeout: 30_000,
  }, async () => {
    const altered = await publishVersion({ "dist/extra.txt": "size test\n" });
    const key = `code-${altered.sha}.tar.gz`;
    const original = Buffer.from((await store.getBytes(bucket, key)) ?? []);
    await store.put(bucket, key, Buffer.concat([original, Buffer.alloc(100)]));
    const cache = freshCache();
    const run = await boot(altered.sha, cache, ["exit:0"]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `is ${original.length + 100} bytes, but its manifest says ${original.length}; it was altered or damaged`,
      ),
    );
    assert.equal(archiveGets(altered.sha).length, 1, "not retried");
    assert.deepEqual(await leftovers(cache, altered.sha), []);
  });

  test("a failed start still writes its metrics, with the error", { timeout: 30_000 }, async () => {
    const metricsDir = path.join(tmp, "metrics-failed");
    proxy.rules.push({
      method: "GET",
      path: archivePattern(v1.sha),
      faults: Array(4).fill({ kind: "truncate", afterBytes: 10 }),
    });
    const run = await boot(v1.sha, freshCache(), ["exit:0"], { ENABLE_METRICS: "true", TDF_METRICS_DIR: metricsDir });
    assert.equal(run.code, 1, run.stderr);
    const [file] = await fsp.readdir(metricsDir);
    const metrics = JSON.parse(await fsp.readFile(path.join(metricsDir, file ?? ""), "utf8"));
    assert.equal(metrics.exitCode, 1);
    assert.equal(metrics.error.code, "DOWNLOAD_FAILED");
    assert.equal(metrics.error.attempts, 4);
    assert.match(metrics.error.message, /Failed to download code/);
  });

  test("a cached version is relinked to this image's node_modules", { timeout: 30_000 }, async () => {
    const cache = freshCache();
    const other = path.join(tmp, "other-image", "node_modules");
    await fsp.mkdir(path.dirname(other), { recursive: true });
    await fsp.symlink(nodeModules, other, "dir");
    assertRan(await boot(v1.sha, cache, ["exit:0"]));
    const warm = await boot(v1.sha, cache, ["deps"], { TDF_NODE_MODULES: other });
    assertRan(warm);
    assert.equal(await fsp.readlink(path.join(cache, v1.sha, "node_modules")), other);
  });

  test("a wrong secret key: exit 1, one sentence naming the key id and the bucket, never the secret", {
    timeout: 30_000,
  }, async () => {
    assert.ok(server);
    const wrongSecret = `wrong${randomBytes(16).toString("hex")}`;
    const run = await boot(v1.sha, freshCache(), ["exit:0"], { GARAGE_AIRFLOW_SECRET_ACCESS_KEY: wrongSecret });
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, "");
    const [line] = run.otherLines;
    assert.ok(line, run.stderr);
    assert.match(line, /^tdf-bootstrap: Failed to download code: /);
    assert.match(line, /access denied/i);
    assert.ok(line.includes(server.accessKeyId), line);
    assert.ok(line.includes(`"${bucket}"`), line);
    assert.match(line, /needs read permission on the code bucket/);
    for (const secret of [wrongSecret, server.secretAccessKey]) {
      assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), "the secret is not shown");
    }
  });

  test("8 concurrent cold starts of one SHA download its archive once", { timeout: 60_000 }, async () => {
    const cache = freshCache();
    // Held long enough that every process is started, and waiting on the lock, before it completes.
    proxy.rules.push({ method: "GET", path: archivePattern(v1.sha), faults: [{ kind: "stall", ms: 2_500 }] });
    const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => boot(v1.sha, cache, [`exit:0`, `n${i}`])));
    runs.forEach((run, i) => {
      assertRan(run);
      assert.match(run.stdout, new RegExp(`^task ran: exit:0 n${i}$`, "m"));
    });
    assert.equal(archiveGets(v1.sha).length, 1, JSON.stringify(proxy.requests));
    const manifestGets = proxy.requests.filter((r) => r.method === "GET" && manifestPattern(v1.sha).test(r.path));
    assert.equal(manifestGets.length, 1);
    const waited = runs.filter((run) => run.stderr.includes("another bootstrap is fetching this version")).length;
    const downloaded = runs.filter((run) => phaseLines(run, "download").length > 0).length;
    assert.equal(downloaded, 1);
    assert.ok(waited >= 1, "at least one process waited on the lock");
    const byOthers = runs.filter((run) =>
      phaseLines(run, "cache").some((line) => line.msg === "cache miss: fetched by another bootstrap"),
    );
    assert.equal(byOthers.length, waited, "a process that waited says another one fetched the version");
    assert.equal(await versionState(cache, v1.sha, v1.manifest.archive.fileCount), "complete");
    assert.deepEqual(await leftovers(cache, v1.sha), []);
  });

  test("SIGKILL during the download: no version folder, and the next start succeeds cleanly", {
    timeout: 30_000,
  }, async () => {
    const cache = freshCache();
    proxy.rules.push({ method: "GET", path: archivePattern(v1.sha), faults: [{ kind: "stall", ms: 8_000 }] });
    const running = start(v1.sha, cache, ["exit:0"]);
    for (let i = 0; archiveGets(v1.sha).length === 0; i++) {
      assert.ok(i < 400, `the archive GET never arrived; stderr:\n${running.stderr}`);
      await sleep(25);
    }
    process.kill(running.pid, "SIGKILL");
    const killed = await running.done;
    assert.equal(killed.signal, "SIGKILL");
    assert.equal(killed.stdout, "");
    assert.equal(await versionState(cache, v1.sha, v1.manifest.archive.fileCount), "absent");

    const next = await boot(v1.sha, cache, ["exit:0"]);
    assertRan(next);
    assert.equal(phaseLines(next, "cache")[0]?.hit, false);
    assert.equal(await versionState(cache, v1.sha, v1.manifest.archive.fileCount), "complete");
    assert.deepEqual(await leftovers(cache, v1.sha), []);
  });

  test("SIGKILL during the unpack: no version folder or a complete one, and the next start succeeds cleanly", {
    timeout: 60_000,
  }, async (t) => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 3_000; i++) many[`dist/many/d${i % 30}/f${i}.js`] = `export const n${i} = ${i};\n`;
    const big = await publishVersion(many, { removeAfter: ["dist/many"] });
    const cache = freshCache();
    proxy.requests.length = 0;
    const running = start(big.sha, cache, ["exit:0"]);
    await running.waitFor(({ stderr }) => stderr.includes('"phase":"download"'));
    // Then until files appear in its staging folder (unless the unpack is already over).
    const staging = path.join(cache, ".staging");
    const unpacking = async () => {
      for (const name of await fsp.readdir(staging).catch(() => [] as string[])) {
        if (name.startsWith(`${big.sha}-`) && (await fsp.readdir(path.join(staging, name)).catch(() => [])).length > 0)
          return true;
      }
      return false;
    };
    while (!(await unpacking()) && !running.stderr.includes('"phase":"unpack"')) await sleep(2);
    process.kill(running.pid, "SIGKILL");
    const killed = await running.done;
    const state = await versionState(cache, big.sha, big.manifest.archive.fileCount);
    const staged = await leftovers(cache, big.sha);
    t.diagnostic(`killed by ${killed.signal}; version folder ${state}; left behind: ${staged.join(", ") || "nothing"}`);
    assert.equal(killed.signal, "SIGKILL");
    assert.ok(state === "absent" || state === "complete", state);

    const next = await boot(big.sha, cache, ["exit:0"]);
    assertRan(next);
    t.diagnostic(`the next start unpacked in ${phaseLines(next, "unpack")[0]?.seconds} s`);
    assert.equal(await versionState(cache, big.sha, big.manifest.archive.fileCount), "complete");
    assert.deepEqual(await leftovers(cache, big.sha), []);
  });

  test("with TDF_VERIFY_KEY: unsigned and wrongly signed code is refused, rightly signed code runs", {
    timeout: 40_000,
  }, async () => {
    const right = generateSigningKeyPair();
    const wrong = generateSigningKeyPair();
    const verifyFile = path.join(tmp, "verify.pub.pem");
    await fsp.writeFile(verifyFile, right.publicKeyPem);
    const signedRight = await publishVersion({}, { signingKey: right.privateKeyPem });
    const signedWrong = await publishVersion({}, { signingKey: wrong.privateKeyPem });
    const cache = freshCache();
    const withKey = { TDF_VERIFY_KEY: verifyFile };

    const unsigned = await boot(v1.sha, cache, ["exit:0"], withKey);
    assert.equal(unsigned.code, 1, unsigned.stderr);
    assert.equal(unsigned.stdout, "");
    assert.match(unsigned.stderr, /^tdf-bootstrap: The code manifest .* is not signed/m);
    assert.equal(archiveGets(v1.sha).length, 0, "refused before downloading the archive");
    assert.equal(await versionState(cache, v1.sha, v1.manifest.archive.fileCount), "absent");

    // Already cached (by a start without a key): refused all the same.
    assert.ok(warmCache);
    const cachedUnsigned = await boot(v1.sha, warmCache, ["exit:0"], withKey);
    assert.equal(cachedUnsigned.code, 1, cachedUnsigned.stderr);
    assert.equal(cachedUnsigned.stdout, "");
    assert.match(cachedUnsigned.stderr, /is not signed/);

    const other = await boot(signedWrong.sha, cache, ["exit:0"], withKey);
    assert.equal(other.code, 1, other.stderr);
    assert.equal(other.stdout, "");
    assert.match(
      other.stderr,
      /^tdf-bootstrap: The code manifest .* is signed by key [0-9a-f]{16}, not by the configured key/m,
    );
    assert.equal(archiveGets(signedWrong.sha).length, 0);

    // The key as PEM text rather than a path.
    const good = await boot(signedRight.sha, cache, ["exit:0"], { TDF_VERIFY_KEY: right.publicKeyPem });
    assertRan(good);
    assert.equal(phaseLines(good, "verify")[0]?.signed, true);
  });

  test("TDF_DEPS_HASH: another image's hash is refused naming both and the image; TDF_ALLOW_DEPS_MISMATCH=1 runs with a warning", {
    timeout: 30_000,
  }, async () => {
    const imageHash = "ab".repeat(32);
    const codeHash = v1.manifest.dependencyHash;
    assert.notEqual(codeHash, imageHash);
    const cache = freshCache();
    const refused = await boot(v1.sha, cache, ["exit:0"], { TDF_DEPS_HASH: imageHash });
    assert.equal(refused.code, 1, refused.stderr);
    assert.equal(refused.stdout, "");
    const [line] = refused.otherLines;
    assert.ok(line, refused.stderr);
    assert.ok(line.includes(codeHash.slice(0, 12)), line);
    assert.ok(line.includes(imageHash.slice(0, 12)), line);
    assert.ok(line.includes(`deps-${codeHash.slice(0, 12)}`), line);
    assert.match(line, /TDF_ALLOW_DEPS_MISMATCH=1/);
    assert.equal(archiveGets(v1.sha).length, 0, "refused before downloading the archive");

    const allowed = await boot(v1.sha, cache, ["exit:0"], { TDF_DEPS_HASH: imageHash, TDF_ALLOW_DEPS_MISMATCH: "1" });
    assertRan(allowed);
    const warnings = allowed.logs.filter((l) => l.level === 40);
    assert.equal(warnings.length, 1, allowed.stderr);
    assert.match(String(warnings[0]?.msg), /running anyway because TDF_ALLOW_DEPS_MISMATCH=1/);
    assert.ok(String(warnings[0]?.msg).includes(`deps-${codeHash.slice(0, 12)}`));

    const matching = await boot(v1.sha, cache, ["exit:0"], { TDF_DEPS_HASH: codeHash });
    assertRan(matching);
    assert.deepEqual(
      matching.logs.filter((l) => l.level === 40),
      [],
    );
  });

  test("SIGTERM to the bootstrap reaches the task; the bootstrap exits 143", { timeout: 30_000 }, async () => {
    assert.ok(warmCache);
    const marker = path.join(tmp, "sigterm-marker");
    const running = start(v1.sha, warmCache, ["wait", `marker:${marker}`]);
    await running.waitFor(({ stdout }) => stdout.includes("task ran: wait"));
    process.kill(running.pid, "SIGTERM");
    const run = await running.done;
    assert.equal(run.code, 143, run.stderr);
    assert.match(await fsp.readFile(marker, "utf8"), /^SIGTERM \d+/);
    assert.equal(phaseLines(run, "exit")[0]?.exitCode, 143);
  });

  test("ENABLE_METRICS=true writes the start's figures to TDF_METRICS_DIR", { timeout: 30_000 }, async () => {
    const metricsDir = path.join(tmp, "metrics");
    const run = await boot(v1.sha, freshCache(), ["exit:5"], { ENABLE_METRICS: "true", TDF_METRICS_DIR: metricsDir });
    assertRan(run, 5);
    const files = await fsp.readdir(metricsDir);
    assert.equal(files.length, 1, files.join(", "));
    assert.match(files[0] ?? "", /^bootstrap-.*\.json$/);
    const metrics = JSON.parse(await fsp.readFile(path.join(metricsDir, files[0] ?? ""), "utf8"));
    assert.equal(metrics.codeVersion, v1.sha);
    assert.equal(metrics.resolve.sha, v1.sha);
    assert.equal(typeof metrics.resolve.seconds, "number");
    assert.equal(metrics.download.bytes, v1.manifest.archive.size);
    assert.equal(typeof metrics.download.seconds, "number");
    assert.equal(metrics.unpack.files, v1.manifest.archive.fileCount);
    assert.equal(typeof metrics.unpack.seconds, "number");
    assert.deepEqual(metrics.cache, { hit: false, fetched: true, waited: false });
    assert.equal(metrics.exitCode, 5);
    assert.ok(metrics.startupSeconds > 0);
  });

  test("TDF_CODE_CACHE_MAX_MIB: a new version trims the least recently used one, never one in use", {
    timeout: 60_000,
  }, async () => {
    // Random bytes do not compress: each version is ~1.5 MiB in the archive and in the cache.
    const blob = () => randomBytes(1.5 * MiB);
    const first = await publishVersion({ "dist/blob.bin": blob() }, { removeAfter: ["dist/blob.bin"] });
    const second = await publishVersion({ "dist/blob.bin": blob() }, { removeAfter: ["dist/blob.bin"] });
    const cache = freshCache();
    const capped = { TDF_CODE_CACHE_MAX_MIB: "2" };

    const one = await boot(first.sha, cache, ["exit:0"], capped);
    assertRan(one);
    assert.equal(await versionState(cache, first.sha, first.manifest.archive.fileCount), "complete");

    const two = await boot(second.sha, cache, ["exit:0"], capped);
    assertRan(two);
    const trimmed = phaseLines(two, "cache").find((l) => Array.isArray(l.removed));
    assert.deepEqual(trimmed?.removed, [first.sha], two.stderr);
    assert.equal(await versionState(cache, first.sha, first.manifest.archive.fileCount), "absent");
    assert.equal(await versionState(cache, second.sha, second.manifest.archive.fileCount), "complete");

    // The first version again, kept running: starting the second must not remove it.
    const marker = path.join(tmp, "trim-marker");
    const holding = start(first.sha, cache, ["wait", `marker:${marker}`], capped);
    await holding.waitFor(({ stdout }) => stdout.includes("task ran: wait"), 30_000);
    // Starting it removed the second version (least recently used, not in use).
    assert.equal(await versionState(cache, second.sha, second.manifest.archive.fileCount), "absent");
    const three = await boot(second.sha, cache, ["exit:0"], capped);
    assertRan(three);
    assert.ok(!phaseLines(three, "cache").some((l) => Array.isArray(l.removed)), three.stderr);
    assert.equal(await versionState(cache, first.sha, first.manifest.archive.fileCount), "complete");
    process.kill(holding.pid, "SIGTERM");
    const held = await holding.done;
    assert.equal(held.code, 143, held.stderr);
  });
});
