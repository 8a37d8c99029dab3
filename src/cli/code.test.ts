/** `tdf code …` as CI and operators run it: a real child process in a real git checkout. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fsp from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createTestProject, type TestProject } from "../../test/helpers/project.js";
import { loadConfig } from "../core/config.js";
import { openTracker } from "../tracking/index.js";

const entry = fileURLToPath(new URL("./bin.ts", import.meta.url));
const tsx = import.meta.resolve("tsx");

let project: TestProject;
let env: Record<string, string>;

function tdf(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return tdfIn(project, env, ...args);
}

function tdfIn(
  where: TestProject,
  environment: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", tsx, entry, ...args],
      { cwd: where.root, env: environment, encoding: "utf8" },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  project = await createTestProject();
  env = { PATH: process.env.PATH ?? "", HOME: project.root, TDF_HOME: path.join(project.root, ".tdf") };
});
after(() => project.remove());

test("keygen, signed publish, versions, resolve, promote and gc from the command line", async () => {
  const keygen = await tdf("code", "keygen", "--out", ".tdf/keys");
  assert.equal(keygen.code, 0, keygen.stderr);
  const privateKey = path.join(project.root, ".tdf/keys/tdf-signing.key.pem");
  assert.equal((await fsp.stat(privateKey)).mode & 0o777, 0o600);
  assert.equal((await tdf("code", "keygen", "--out", ".tdf/keys")).code, 1, "keygen must not overwrite a key");
  env.TDF_SIGNING_KEY = privateKey;

  const first = project.git("rev-parse", "HEAD");
  const published = await tdf("code", "publish");
  assert.equal(published.code, 0, published.stderr);
  assert.equal(published.stdout, `${first}\n`);
  assert.match(published.stderr, /latest now points at/);
  const store = path.join(project.root, ".tdf/store/code-repository");
  assert.ok((await fsp.readdir(store)).includes(`code-${first}.manifest.json.sig`));

  const again = await tdf("code", "publish");
  assert.match(again.stderr, /already published with the same content; skipped the upload/);

  const second = await project.commit({ "dist/index.js": "export const answer = 7;\n", "src/index.ts": "7\n" });
  assert.equal((await tdf("code", "publish")).code, 0);

  const versions = await tdf("code", "versions");
  assert.equal(versions.code, 0, versions.stderr);
  const rows = versions.stdout.trim().split("\n");
  assert.equal(rows.length, 2);
  assert.match(rows[0] ?? "", new RegExp(`^\\*  ${second.slice(0, 12)}  `));
  assert.match(rows[1] ?? "", new RegExp(`^   ${first.slice(0, 12)}  `));

  const promoted = await tdf("code", "promote", first.slice(0, 8));
  assert.equal(promoted.code, 0, promoted.stderr);
  assert.match(
    promoted.stderr,
    new RegExp(`latest now points at ${first.slice(0, 12)} \\(was ${second.slice(0, 12)}\\)`),
  );
  const resolved = await tdf("code", "resolve", "latest");
  assert.equal(resolved.stdout.split("\n")[0], first);
  assert.equal(JSON.parse(resolved.stdout.slice(41)).git.sha, first);

  const gc = await tdf("code", "gc", "--keep", "1", "--dry-run");
  assert.equal(gc.code, 0, gc.stderr);
  assert.match(gc.stdout, /kept [0-9a-f]{12} {2}latest/);
  assert.match(gc.stdout, /would delete 0 package\(s\)/);
});

test("code commands fail with one clear sentence and a non-zero exit", async () => {
  const unknown = await tdf("code", "resolve", "1234567");
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^tdf: Code version "1234567" is not published; the newest releases are [0-9a-f]{12}/);

  // New code built from uncommitted changes is refused: it would not match its commit.
  const committedBuild = await fsp.readFile(path.join(project.root, "dist/index.js"), "utf8");
  await project.write({ "src/index.ts": "uncommitted\n", "dist/index.js": "export const answer = 8;\n" });
  const dirty = await tdf("code", "publish");
  assert.equal(dirty.code, 1);
  assert.match(dirty.stderr, /uncommitted changes.*--allow-dirty/);
  // The same build as the one published under HEAD publishes nothing new, so the edit does not matter.
  await project.write({ "dist/index.js": committedBuild });
  const unchanged = await tdf("code", "publish");
  assert.equal(unchanged.code, 0, unchanged.stderr);
  assert.match(unchanged.stderr, /already published with the same content; skipped the upload/);
  assert.match(unchanged.stderr, /latest now points at/);
  project.git("checkout", "--", "src/index.ts");
  // Without git, new code cannot be checked for uncommitted changes: refused, and it says why.
  await project.write({ "dist/index.js": "export const answer = 9;\n" });
  const noGit = await tdfIn(project, { ...env, PATH: "/nonexistent" }, "code", "publish");
  assert.equal(noGit.code, 1, noGit.stderr);
  assert.match(noGit.stderr, /^tdf: git could not read the checkout .*; install git/);
  await project.write({ "dist/index.js": committedBuild });

  const badKeep = await tdf("code", "gc", "--keep", "0");
  assert.equal(badKeep.code, 2);
  const badKey = await tdf("code", "pack");
  assert.equal(badKey.code, 0, "the configured key from the first test still signs");
  env.TDF_SIGNING_KEY = "/no/such/key.pem";
  const missingKey = await tdf("code", "pack");
  assert.equal(missingKey.code, 1);
  assert.match(missingKey.stderr, /Cannot read the key file named by TDF_SIGNING_KEY/);
  assert.ok(!missingKey.stderr.includes("/no/such/key.pem"), "the variable's value is not echoed");
});

test("gc keeps the code registered models were trained with, says which, and deletes nothing when it cannot ask the tracker", async () => {
  const own = await createTestProject();
  const ownEnv = { PATH: process.env.PATH ?? "", HOME: own.root, TDF_HOME: path.join(own.root, ".tdf") };
  const run = (environment: Record<string, string>, ...args: string[]) => tdfIn(own, environment, ...args);
  try {
    // Four releases, oldest first: A trained a model (tag on the version), B trained one registered
    // before versions carried the tag (only its run has it), C trained nothing, D is latest.
    const shas: string[] = [];
    for (const answer of [1, 2, 3, 4]) {
      if (answer > 1) await own.commit({ "dist/index.js": `export const answer = ${answer};\n` });
      const published = await run(ownEnv, "code", "publish");
      assert.equal(published.code, 0, published.stderr);
      shas.push(published.stdout.trim());
    }
    const [a, b, c, d] = shas as [string, string, string, string];
    const tracker = await openTracker(loadConfig(ownEnv, own.root));
    const experiment = await tracker.getOrCreateExperiment("acme/top_seller");
    const register = async (name: string, runTags: Record<string, string>, versionTags: Record<string, string>) => {
      await tracker.getOrCreateRegisteredModel(name);
      const trainingRun = await tracker.startRun(experiment.id, { tags: runTags });
      return tracker.createModelVersion(name, { runId: trainingRun.id, artifactPath: "model", tags: versionTags });
    };
    await register("acme-top_seller", { "tdf.code_sha": a }, { "tdf.code_sha": a });
    await register("acme-top_seller", {}, {}); // trained from a checkout: keeps no package
    await register("acme-long_tail", { "tdf.code_sha": b }, {});

    const store = path.join(own.root, ".tdf/store/code-repository");
    const archives = async () =>
      (await fsp.readdir(store))
        .filter((f) => /^code-[0-9a-f]{40}\.tar\.gz$/.test(f))
        .map((f) => f.slice(5, 45))
        .sort();
    const short = (sha: string) => sha.slice(0, 12);

    // Fail closed: an MLflow server that does not answer stops gc before it deletes anything.
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const unreachable = {
      ...ownEnv,
      MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}`,
      MLFLOW_TRACKING_USERNAME: "trainer",
      MLFLOW_TRACKING_PASSWORD: "s3cret-tracking-pw",
    };
    const closed = await run(unreachable, "code", "gc", "--keep", "1");
    assert.equal(closed.code, 1, closed.stderr);
    assert.match(
      closed.stderr,
      new RegExp(
        `^tdf: Deleted nothing: .*tracker at http://127\\.0\\.0\\.1:${port} \\(it did not answer\\); check MLFLOW_TRACKING_URI.*--ignore-models.*\\.\\n$`,
      ),
    );
    assert.equal(closed.stderr.trim().split("\n").length, 1, "one sentence, no stack");
    assert.ok(!closed.stderr.includes("s3cret-tracking-pw"), "the tracking password is never shown");
    assert.equal(closed.stdout, "");
    assert.deepEqual(await archives(), [...shas].sort(), "a tracker it cannot read made gc delete something");

    const dry = await run(ownEnv, "code", "gc", "--keep", "1", "--dry-run");
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stderr,
      /2 registered model version\(s\) in the tracker at .*tracking\.db were trained from 2 code/,
    );
    assert.match(dry.stdout, new RegExp(`^kept ${short(a)}  trained model acme-top_seller v1$`, "m"));
    assert.match(dry.stdout, new RegExp(`^kept ${short(b)}  trained model acme-long_tail v1$`, "m"));
    assert.match(dry.stdout, new RegExp(`^kept ${short(d)}  latest$`, "m"));
    assert.match(dry.stdout, new RegExp(`^would delete ${short(c)}  `, "m"));
    assert.match(dry.stdout, /would delete 1 package\(s\)/);

    const real = await run(ownEnv, "code", "gc", "--keep", "1");
    assert.equal(real.code, 0, real.stderr);
    assert.match(real.stdout, new RegExp(`^deleted ${short(c)}  `, "m"));
    assert.deepEqual(await archives(), [a, b, d].sort());

    // --ignore-models skips the tracker knowingly: the trained-with code goes too.
    const ignoring = await run(unreachable, "code", "gc", "--keep", "1", "--ignore-models");
    assert.equal(ignoring.code, 0, ignoring.stderr);
    assert.match(ignoring.stderr, /not checking which code registered models were trained with \(--ignore-models\)/);
    assert.deepEqual(await archives(), [d]);
  } finally {
    await own.remove();
  }
});
