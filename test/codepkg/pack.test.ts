import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { after, before, describe, test } from "node:test";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";
import { dependencyHash } from "../../src/codepkg/deps-hash.js";
import { parseManifest } from "../../src/codepkg/manifest.js";
import { pack } from "../../src/codepkg/pack.js";
import { generateSigningKeyPair, loadVerifyKey, verifyManifestSignature } from "../../src/codepkg/signing.js";
import { rejectsWith } from "../helpers/assertions.js";
import { createTestProject, type TestProject } from "../helpers/project.js";

const sha256File = async (file: string) =>
  createHash("sha256")
    .update(await fsp.readFile(file))
    .digest("hex");

async function entriesOf(archive: string): Promise<Array<{ name: string; mode: number; mtime: number; uid: number }>> {
  const entries: Array<{ name: string; mode: number; mtime: number; uid: number }> = [];
  const reader = extract();
  reader.on("entry", (header, stream, next) => {
    entries.push({
      name: header.name,
      mode: header.mode ?? 0,
      mtime: header.mtime?.getTime() ?? 0,
      uid: header.uid ?? -1,
    });
    stream.resume();
    stream.on("end", next);
  });
  await pipeline(createReadStream(archive), createGunzip(), reader);
  return entries;
}

describe("tdf code pack", () => {
  let project: TestProject;
  let out: string;
  before(async () => {
    project = await createTestProject();
    out = path.join(project.root, ".tdf", "out");
  });
  after(() => project.remove());

  test("the same tree gives a byte-identical archive, whatever the file times", async () => {
    const first = await pack({ root: project.root, outDir: path.join(out, "a") });
    await fsp.utimes(path.join(project.root, "dist/index.js"), new Date(2020, 1, 1), new Date(2020, 1, 1));
    await fsp.chmod(path.join(project.root, "dist/index.js"), 0o600);
    const second = await pack({ root: project.root, outDir: path.join(out, "b") });
    assert.equal(await sha256File(first.archivePath), await sha256File(second.archivePath));
    assert.equal(first.manifest.archive.sha256, await sha256File(first.archivePath));
    assert.equal(first.manifest.contentHash, second.manifest.contentHash);

    await project.write({ "dist/index.js": "export const answer = 43;\n" });
    const third = await pack({ root: project.root, outDir: path.join(out, "c") });
    assert.notEqual(third.manifest.archive.sha256, first.manifest.archive.sha256);
    assert.notEqual(third.manifest.contentHash, first.manifest.contentHash);
    await project.write({ "dist/index.js": "export const answer = 42;\n" });
  });

  test("the archive holds dist/, package.json and the lockfile, sorted and normalised", async () => {
    const result = await pack({ root: project.root, outDir: path.join(out, "contents") });
    const entries = await entriesOf(result.archivePath);
    assert.deepEqual(
      entries.map((e) => e.name),
      ["dist/cli/bin.js", "dist/index.js", "package-lock.json", "package.json"],
    );
    assert.ok(
      entries.every((e) => e.uid === 0 && e.mtime === Date.UTC(2000, 0, 1) && (e.mode === 0o644 || e.mode === 0o755)),
    );
  });

  test("the manifest records commit, hashes, sizes, node range, entry and provenance", async () => {
    const sha = project.git("rev-parse", "HEAD");
    const result = await pack({
      root: project.root,
      outDir: path.join(out, "manifest"),
      provenance: {
        system: "github-actions",
        runId: "42",
        actor: "octocat",
        workflow: "publish",
        repository: "acme/x",
      },
    });
    const manifest = parseManifest(await fsp.readFile(result.manifestPath), result.manifestPath);
    assert.equal(manifest.git.sha, sha);
    assert.equal(manifest.git.branch, "main");
    assert.equal(manifest.git.dirty, false);
    assert.equal(manifest.archive.key, `code-${sha}.tar.gz`);
    assert.equal(manifest.archive.size, (await fsp.stat(result.archivePath)).size);
    assert.equal(manifest.archive.fileCount, 4);
    assert.equal(manifest.dependencyHash, await dependencyHash(project.root));
    assert.equal(manifest.node, ">=20");
    assert.deepEqual(manifest.entry, ["node", "dist/cli/bin.js"]);
    assert.equal(manifest.provenance?.runId, "42");
    assert.equal(manifest.provenance?.actor, "octocat");
  });

  test("the dependency hash follows the lockfile and docker/, not the code", async () => {
    const before = await dependencyHash(project.root);
    await project.write({ "dist/index.js": "export const answer = 44;\n" });
    assert.equal(await dependencyHash(project.root), before);
    await project.write({ "docker/Dockerfile": "FROM node:22-slim\n" });
    assert.notEqual(await dependencyHash(project.root), before);
    await project.write({ "docker/Dockerfile": "FROM node:20-slim\n", "dist/index.js": "export const answer = 42;\n" });
    assert.equal(await dependencyHash(project.root), before);
  });

  test("a dirty checkout is recorded as dirty", async () => {
    await project.write({ "src/index.ts": "export const answer = 0;\n" });
    const result = await pack({ root: project.root, outDir: path.join(out, "dirty") });
    assert.equal(result.manifest.git.dirty, true);
    project.git("checkout", "--", "src/index.ts");
  });

  test("extra include paths add only files git does not ignore", async () => {
    await project.commit({ "config/model.json": "{}\n", "config/.gitignore": "local.json\n" });
    await project.write({ "config/local.json": '{"mine":true}\n' });
    const result = await pack({ root: project.root, outDir: path.join(out, "include"), include: ["config"] });
    const names = (await entriesOf(result.archivePath)).map((e) => e.name);
    assert.ok(names.includes("config/model.json"));
    assert.ok(!names.includes("config/local.json"), "an ignored file was packed");
  });

  test("likely secrets are refused, every offending path listed, and nothing is written", async () => {
    const awsKeyId = ["AKIA", "Z7Q3X9EXAMPLEKEY"].join("");
    const privateKey = generateSigningKeyPair().privateKeyPem;
    await project.write({
      "dist/leak.js": `export const key = "${awsKeyId}";\n`,
      "dist/deploy-key.js": `export const pem = \`${privateKey}\`;\n`,
      "extra/.env": "TOKEN=abc\n",
      "extra/.env.example": "TOKEN=\n",
    });
    const outDir = path.join(out, "secrets");
    await assert.rejects(
      pack({ root: project.root, outDir, include: ["extra"] }),
      rejectsWith(
        "PACK_SECRETS",
        /dist\/deploy-key\.js \(a private key\).*dist\/leak\.js \(an AWS access key id\).*extra\/\.env \(an environment file\)/,
      ),
    );
    await assert.rejects(fsp.access(outDir), "no output folder was created");
    await fsp.rm(path.join(project.root, "dist/leak.js"));
    await fsp.rm(path.join(project.root, "dist/deploy-key.js"));
    await fsp.rm(path.join(project.root, "extra"), { recursive: true });
  });

  test("an archive over the size limit is refused, naming the largest files", async () => {
    await fsp.writeFile(path.join(project.root, "dist/big-model.bin"), randomBytes(300_000));
    const outDir = path.join(out, "large");
    await assert.rejects(
      pack({ root: project.root, outDir, maxBytes: 100_000 }),
      rejectsWith("PACK_TOO_LARGE", /over the 0\.1 MiB limit.*largest files are dist\/big-model\.bin \(0\.3 MiB\)/),
    );
    assert.deepEqual(await fsp.readdir(outDir).catch(() => []), [], "no archive or temporary file is left");
    await fsp.rm(path.join(project.root, "dist/big-model.bin"));
  });

  test("packing without a build, or outside git without --sha, says what to do", async () => {
    await fsp.rename(path.join(project.root, "dist"), path.join(project.root, "dist.away"));
    try {
      await assert.rejects(
        pack({ root: project.root, outDir: path.join(out, "nobuild") }),
        rejectsWith("PACK_NOT_BUILT", /npm run build/),
      );
    } finally {
      await fsp.rename(path.join(project.root, "dist.away"), path.join(project.root, "dist"));
    }
    await fsp.rename(path.join(project.root, ".git"), path.join(project.root, ".git.away"));
    try {
      await assert.rejects(
        pack({ root: project.root, outDir: path.join(out, "nogit") }),
        rejectsWith("PACK_NOT_A_REPOSITORY", /--sha/),
      );
      const sha = "a".repeat(40);
      const result = await pack({ root: project.root, outDir: path.join(out, "nogit"), sha });
      assert.equal(result.manifest.git.sha, sha);
    } finally {
      await fsp.rename(path.join(project.root, ".git.away"), path.join(project.root, ".git"));
    }
  });

  test("a signed manifest verifies; a tampered one, an unsigned one or another key's signature do not", async () => {
    const keys = generateSigningKeyPair();
    const result = await pack({ root: project.root, outDir: path.join(out, "signed"), signingKey: keys.privateKeyPem });
    assert.ok(result.signatureBytes);
    const verifyKey = loadVerifyKey(keys.publicKeyPem);
    verifyManifestSignature(result.manifestBytes, result.signatureBytes, verifyKey, "m");

    const tampered = Buffer.from(
      result.manifestBytes.toString().replace(result.manifest.archive.sha256, "0".repeat(64)),
    );
    assert.throws(
      () => verifyManifestSignature(tampered, result.signatureBytes ?? null, verifyKey, "m"),
      rejectsWith("SIGNATURE_INVALID", /does not match/),
    );
    assert.throws(
      () => verifyManifestSignature(result.manifestBytes, null, verifyKey, "m"),
      rejectsWith("SIGNATURE_INVALID", /not signed/),
    );
    const other = loadVerifyKey(generateSigningKeyPair().publicKeyPem);
    assert.throws(
      () => verifyManifestSignature(result.manifestBytes, result.signatureBytes ?? null, other, "m"),
      rejectsWith("SIGNATURE_INVALID", /signed by key/),
    );
    await assert.rejects(
      pack({ root: project.root, outDir: path.join(out, "badkey"), signingKey: "not a key" }),
      rejectsWith("SIGNING_KEY_INVALID"),
    );
  });
});
