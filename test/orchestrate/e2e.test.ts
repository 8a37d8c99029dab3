/**
 * End to end on the embedded store: a code package published to the filesystem store, a pipeline run
 * by the local runner with every task going through the real `tdf-bootstrap` (resolve, download,
 * verify, unpack into the cache, run with TDF_CODE_SHA), including a task that fails and is retried,
 * tasks that must overlap, and a task that times out. Also the bootstrap's --resolve-only and the real
 * resolve_code task.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { resolveOnly } from "../../src/bootstrap/bootstrap.js";
import { baseImageTag } from "../../src/codepkg/deps-hash.js";
import { archiveKey } from "../../src/codepkg/layout.js";
import { publish } from "../../src/codepkg/publish.js";
import { loadConfig } from "../../src/core/config.js";
import { createLogger } from "../../src/core/logger.js";
import { createLocalRunner } from "../../src/orchestrate/local-runner.js";
import { runFailure } from "../../src/orchestrate/report.js";
import { runDir } from "../../src/orchestrate/run-store.js";
import { bootstrapProcess } from "../../src/orchestrate/task-process.js";
import { openStore } from "../../src/storage/index.js";
import type { ObjectStore } from "../../src/storage/types.js";
import { runBootstrap } from "../helpers/bootstrap-fixture.js";
import { createTestProject, type TestProject } from "../helpers/project.js";
import { exists, maxConcurrency, readEvents, taskProgram, testPipeline } from "./fixture.js";

const run = promisify(execFile);
const tsx = import.meta.resolve("tsx");
const bootstrapEntry = fileURLToPath(new URL("../../src/bootstrap/bin.ts", import.meta.url));
const cliEntry = fileURLToPath(new URL("../../src/cli/bin.ts", import.meta.url));
const nodeModules = fileURLToPath(new URL("../../node_modules", import.meta.url));

let tmp: string;
let home: string;
let project: TestProject;
let store: ObjectStore;
let sha: string;
let depsHash: string;
const bucket = "code-repository";

/** The whole environment of the runner's children and of the bootstraps started here. */
const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: tmp,
  TDF_HOME: home,
  TDF_NODE_MODULES: nodeModules,
  TDF_LOG_LEVEL: "info",
  ...extra,
});

before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-e2e-"));
  home = path.join(tmp, "tdf-home");
  project = await createTestProject();
  sha = await project.commit({ "dist/cli/bin.js": taskProgram }, "the fixture task program");
  const config = loadConfig(env(), tmp);
  store = await openStore(config, "cicd");
  const published = await publish({ store, bucket, root: project.root });
  assert.equal(published.sha, sha);
  depsHash = published.manifest.dependencyHash;
});
after(async () => {
  await project.remove();
  await fsp.rm(tmp, { recursive: true, force: true });
});

test("a pipeline runs through the real bootstrap: retried, overlapping and timed-out tasks", async () => {
  const events = path.join(tmp, "events");
  await fsp.mkdir(events);
  const config = loadConfig(env(), tmp);
  const pipeline = testPipeline(
    "e2e",
    {
      resolve_code: [],
      flaky_load: ["resolve_code"],
      barrier_left: ["resolve_code"],
      barrier_right: ["resolve_code"],
      hang_publish: ["flaky_load", "barrier_left", "barrier_right"],
    },
    { retries: 1, retryDelaySeconds: 0.1, timeoutSeconds: 60 },
    { hang_publish: { retries: 0, timeoutSeconds: 8 } },
  );
  const logger = createLogger({ level: "silent" });
  const runner = createLocalRunner({
    home,
    parallelism: 3,
    knownTasks: pipeline.tasks.map((t) => t.name),
    resolve: (codeVersion) =>
      resolveOnly({
        codeVersion,
        openStore: () => openStore(config, "runtime", "read-only"),
        bucket,
        verifyKey: undefined,
        logger,
      }),
    taskProcess: bootstrapProcess({
      cacheDir: config.bootstrap.cacheDir,
      bootstrap: [process.execPath, "--import", tsx, bootstrapEntry],
    }),
    env: env({ TDF_TEST_DIR: events, TDF_TEST_BARRIER: "barrier_left,barrier_right" }),
    killGraceMs: 3000,
  });
  const record = await runner.run(pipeline, { client: "acme", codeVersion: "latest" });

  assert.equal(record.code.sha, sha, "latest resolved to the published SHA");
  assert.equal(record.code.imageTag, baseImageTag(depsHash));
  assert.deepEqual(
    record.tasks.map((t) => [t.name, t.state, t.attempts.map((a) => a.state).join(",")]),
    [
      ["resolve_code", "success", "success"],
      ["flaky_load", "success", "failed,success"],
      ["barrier_left", "success", "success"],
      ["barrier_right", "success", "success"],
      ["hang_publish", "failed", "timed_out"],
    ],
  );
  assert.equal(record.state, "failed");
  assert.ok(await exists(path.join(events, "hang_publish.sigterm")), "the bootstrap passed SIGTERM on to the task");
  assert.ok(maxConcurrency(await readEvents(events)) >= 2);

  const dir = runDir(home, record.runId);
  for (const t of record.tasks) {
    for (const a of t.attempts) {
      const log = await fsp.readFile(path.join(dir, a.log), "utf8");
      // The task ran from the downloaded code, told which SHA it is.
      assert.match(
        log,
        new RegExp(`fixture task ${t.name} TDF_CODE_SHA=${sha} args=--client acme --run-id ${record.runId}`),
      );
      assert.match(log, /"phase":"cache"/, "the bootstrap's own log lines are in the attempt's log");
    }
  }
  // One download for the whole run: the first start fetched it, every other start was a cache hit.
  const logs = await Promise.all(
    record.tasks.flatMap((t) => t.attempts.map((a) => fsp.readFile(path.join(dir, a.log), "utf8"))),
  );
  assert.equal(logs.filter((l) => l.includes('"phase":"download"')).length, 1);
  assert.ok(await exists(path.join(config.bootstrap.cacheDir, sha, "dist/cli/bin.js")));

  const error = await runFailure(record, home);
  assert.match(error.message, /hang_publish failed after 1 attempt \(timed out after 8\.0 s\)/);
});

test("--resolve-only prints the SHA, dependency hash and image tag as its last line, from the manifest alone", async () => {
  // Without the archive nothing could be downloaded: the manifest must be enough.
  const archive = await store.getBytes(bucket, archiveKey(sha));
  assert.ok(archive);
  await store.delete(bucket, archiveKey(sha));
  try {
    const result = await runBootstrap(["--code-version", "latest", "--resolve-only"], env());
    assert.equal(result.code, 0, result.stderr);
    const last = result.stdout.trimEnd().split("\n").at(-1) ?? "";
    assert.deepEqual(JSON.parse(last), { sha, depsHash, imageTag: baseImageTag(depsHash) });
    assert.ok(
      result.logs.some((l) => l.phase === "resolve" && l.sha === sha),
      "the resolution is logged on stderr",
    );
    // A dependency hash that differs from the image's does not matter here: the image is not chosen yet.
    const other = await runBootstrap(
      ["--code-version", sha.slice(0, 9), "--resolve-only"],
      env({ TDF_DEPS_HASH: "e".repeat(64) }),
    );
    assert.equal(other.code, 0, other.stderr);
    assert.equal(JSON.parse(other.stdout.trim()).sha, sha);
    const unknown = await runBootstrap(["--code-version", "1234567", "--resolve-only"], env());
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Code version "1234567" is not published; the newest releases are/);
    const misuse = await runBootstrap(["--code-version", "latest", "--resolve-only", "--", "task", "x"], env());
    assert.equal(misuse.code, 2);
  } finally {
    await store.put(bucket, archiveKey(sha), archive);
  }
});

test("the resolve_code task prints the same line for the SHA the bootstrap gave it", async () => {
  const { stdout } = await run(
    process.execPath,
    ["--import", tsx, cliEntry, "task", "resolve_code", "--client", "acme", "--run-id", "r1"],
    { env: env({ TDF_CODE_SHA: sha, TDF_LOG_LEVEL: "silent" }), cwd: tmp },
  );
  assert.deepEqual(JSON.parse(stdout.trim().split("\n").at(-1) ?? ""), {
    sha,
    depsHash,
    imageTag: baseImageTag(depsHash),
  });
});
