/** `tdf code …` as CI and operators run it: a real child process in a real git checkout. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fsp from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createTestProject, type TestProject } from "../../test/helpers/project.js";

const entry = fileURLToPath(new URL("./bin.ts", import.meta.url));
const tsx = import.meta.resolve("tsx");

let project: TestProject;
let env: Record<string, string>;

function tdf(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", tsx, entry, ...args],
      { cwd: project.root, env, encoding: "utf8" },
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

  await project.write({ "src/index.ts": "uncommitted\n" });
  const dirty = await tdf("code", "publish");
  assert.equal(dirty.code, 1);
  assert.match(dirty.stderr, /uncommitted changes.*--allow-dirty/);
  project.git("checkout", "--", "src/index.ts");

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
