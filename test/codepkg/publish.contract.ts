/**
 * Publishing, the release log, promotion, resolution and garbage collection, run against each
 * ObjectStore driver (the filesystem store and the real S3 server).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { CodePackageError } from "../../src/codepkg/errors.js";
import { collectGarbage } from "../../src/codepkg/gc.js";
import {
  archiveKey,
  latestArchiveKey,
  latestPointerKey,
  manifestKey,
  releasesPrefix,
} from "../../src/codepkg/layout.js";
import { promote } from "../../src/codepkg/promote.js";
import { publish } from "../../src/codepkg/publish.js";
import { appendRelease, readLatestPointer, readRelease } from "../../src/codepkg/releases.js";
import { resolveSha, resolveVersion } from "../../src/codepkg/resolve.js";
import { listVersions } from "../../src/codepkg/versions.js";
import type { ObjectStore } from "../../src/storage/types.js";
import { rejectsWith } from "../helpers/assertions.js";
import { withFaults } from "../helpers/faulty-store.js";
import { createTestProject, type TestProject } from "../helpers/project.js";

export interface PublishFixture {
  store: ObjectStore;
  bucket: string;
  teardown?: () => Promise<void>;
}

const sha256 = (bytes: Uint8Array | null) =>
  createHash("sha256")
    .update(bytes ?? new Uint8Array())
    .digest("hex");

async function releaseActions(store: ObjectStore, bucket: string): Promise<string[]> {
  const actions: string[] = [];
  for await (const entry of store.list(bucket, releasesPrefix)) {
    const record = await readRelease(store, bucket, entry.key);
    actions.push(`${record?.action}:${record?.sha.slice(0, 7)}`);
  }
  return actions;
}

export function publishContract(name: string, setup: () => Promise<PublishFixture>): void {
  describe(`code packages: ${name}`, () => {
    let fixture: PublishFixture;
    let store: ObjectStore;
    let bucket: string;
    let project: TestProject;
    const shas: string[] = [];
    const publishHere = (extra: Partial<Parameters<typeof publish>[0]> = {}) =>
      publish({ store, bucket, root: project.root, ...extra });

    before(async () => {
      fixture = await setup();
      ({ store, bucket } = fixture);
      project = await createTestProject();
    });
    after(async () => {
      await project?.remove();
      await fixture?.teardown?.();
    });

    test("before anything is published, latest does not resolve and says how to publish", async () => {
      await assert.rejects(
        resolveVersion(store, bucket, "latest"),
        rejectsWith("VERSION_NOT_FOUND", /tdf code publish/),
      );
    });

    test("publish uploads, validates and moves latest; versions and resolve agree", async () => {
      shas.push(project.git("rev-parse", "HEAD"));
      const first = await publishHere();
      assert.equal(first.sha, shas[0]);
      assert.equal(first.uploaded, true);
      assert.equal(first.movedLatest, true);
      const resolved = await resolveVersion(store, bucket, "latest");
      assert.equal(resolved.sha, shas[0]);
      assert.equal(sha256(await store.getBytes(bucket, archiveKey(resolved.sha))), resolved.manifest.archive.sha256);
      assert.equal(sha256(await store.getBytes(bucket, latestArchiveKey)), resolved.manifest.archive.sha256);

      shas.push(await project.commit({ "dist/index.js": "export const answer = 2;\n", "src/index.ts": "2\n" }));
      const second = await publishHere();
      assert.equal(second.previousSha, shas[0]);
      const versions = await listVersions(store, bucket);
      assert.deepEqual(
        versions.map((v) => [v.sha, v.latest, v.available]),
        [
          [shas[1], true, true],
          [shas[0], false, true],
        ],
      );
      assert.equal(versions[0]?.size, second.manifest.archive.size);
      assert.equal(versions[0]?.dependencyHash, second.manifest.dependencyHash);
      assert.equal((await resolveVersion(store, bucket, (shas[1] as string).slice(0, 9))).sha, shas[1]);
    });

    test("re-publishing unchanged code uploads nothing and leaves latest alone", async () => {
      const again = await publishHere();
      assert.equal(again.uploaded, false);
      assert.equal(again.movedLatest, false);
      assert.deepEqual(await releaseActions(store, bucket), [
        `publish:${shas[0]?.slice(0, 7)}`,
        `publish:${shas[1]?.slice(0, 7)}`,
      ]);
    });

    test("a stored archive damaged after publishing is not trusted: re-publishing uploads it again", async () => {
      const sha = shas[1] as string;
      const stored = await store.getBytes(bucket, archiveKey(sha));
      assert.ok(stored);
      const damaged = Buffer.from(stored);
      damaged[damaged.length >> 1] = (damaged[damaged.length >> 1] ?? 0) ^ 0xff; // same size, other bytes
      await store.put(bucket, archiveKey(sha), damaged);
      const again = await publishHere();
      assert.equal(again.uploaded, true);
      assert.equal(sha256(await store.getBytes(bucket, archiveKey(sha))), again.manifest.archive.sha256);
      assert.equal(again.manifest.archive.md5, createHash("md5").update(stored).digest("hex"));
    });

    test("promote rolls latest back to an earlier release and records it; roll forward works too", async () => {
      const back = await promote(store, bucket, (shas[0] as string).slice(0, 7), { by: "tester" });
      assert.deepEqual([back.sha, back.previousSha, back.moved], [shas[0], shas[1], true]);
      const latest = await resolveVersion(store, bucket, "latest");
      assert.equal(latest.sha, shas[0]);
      assert.equal(sha256(await store.getBytes(bucket, latestArchiveKey)), latest.manifest.archive.sha256);
      assert.deepEqual((await releaseActions(store, bucket)).slice(-1), [`promote:${shas[0]?.slice(0, 7)}`]);

      const forward = await promote(store, bucket, shas[1] as string, { by: "tester" });
      assert.equal(forward.moved, true);
      assert.equal((await resolveVersion(store, bucket, "latest")).sha, shas[1]);
      assert.equal((await promote(store, bucket, shas[1] as string, { by: "tester" })).moved, false);
    });

    test("promote refuses a SHA that was never published", async () => {
      await assert.rejects(promote(store, bucket, "f".repeat(40), { by: "tester" }), rejectsWith("VERSION_NOT_FOUND"));
    });

    test("an interrupted publish (after the archive upload, before the pointer) leaves latest on the old release", async () => {
      const before = await readLatestPointer(store, bucket);
      const latestArchiveBefore = sha256(await store.getBytes(bucket, latestArchiveKey));
      const sha = await project.commit({ "dist/index.js": "export const answer = 3;\n", "src/index.ts": "3\n" });
      for (const failing of [latestPointerKey, latestArchiveKey]) {
        const faulty = withFaults(store, {
          before(_operation, key) {
            if (key === failing) throw new Error(`injected failure writing ${key}`);
          },
        });
        await assert.rejects(publish({ store: faulty, bucket, root: project.root }), /injected failure/);
        assert.deepEqual(await readLatestPointer(store, bucket), before, `latest moved when ${failing} failed`);
        assert.equal(sha256(await store.getBytes(bucket, latestArchiveKey)), latestArchiveBefore);
        assert.equal((await resolveVersion(store, bucket, "latest")).sha, before?.sha);
      }
      // The next, uninterrupted publish completes. The archive the interrupted ones left is not sent
      // again, even with its manifest gone: the ETag the store computed shows it holds these bytes.
      await store.delete(bucket, manifestKey(sha));
      const done = await publishHere();
      assert.equal(done.sha, sha);
      assert.equal(done.uploaded, false);
      assert.equal((await resolveVersion(store, bucket, "latest")).sha, sha);
      shas.push(sha);
    });

    test("a tampered archive or manifest fails validation and latest stays", async () => {
      const before = await readLatestPointer(store, bucket);
      await project.commit({ "dist/index.js": "export const answer = 4;\n", "src/index.ts": "4\n" });
      for (const target of ["tar.gz", "manifest.json"]) {
        const tampering = withFaults(store, {
          rewrite(key, body) {
            if (!key.endsWith(target) || key === latestArchiveKey) return undefined;
            const copy = Buffer.from(body);
            copy[copy.length - 3] = (copy[copy.length - 3] ?? 0) ^ 0xff;
            return copy;
          },
        });
        await assert.rejects(
          publish({ store: tampering, bucket, root: project.root }),
          rejectsWith("PUBLISH_VALIDATION_FAILED"),
        );
        assert.deepEqual(await readLatestPointer(store, bucket), before);
      }
      project.git("reset", "-q", "--hard", "HEAD~1");
    });

    test("a version that does not exist lists the newest releases; an ambiguous prefix lists its matches", async () => {
      await assert.rejects(resolveSha(store, bucket, "0000000"), (error: unknown) => {
        assert.ok(error instanceof CodePackageError);
        assert.equal(error.code, "VERSION_NOT_FOUND");
        for (const sha of shas) assert.ok(error.message.includes(sha.slice(0, 12)), error.message);
        return true;
      });
      await assert.rejects(resolveSha(store, bucket, "main"), rejectsWith("VERSION_NOT_FOUND", /at least 7/));
      // Two SHAs that share a 7-character prefix cannot be made with real commits in a test; the log
      // records are what prefix resolution reads, so two are written by hand.
      const twins = ["abcdef1".padEnd(40, "1"), "abcdef1".padEnd(40, "2")];
      for (const sha of twins) {
        await appendRelease(store, bucket, {
          formatVersion: 1,
          action: "publish",
          sha,
          at: new Date(Date.UTC(2001, 0, 1)).toISOString(),
          archiveSha256: "0".repeat(64),
          archiveSize: 1,
          dependencyHash: "0".repeat(64),
          by: "test",
          previousSha: undefined,
        });
      }
      await assert.rejects(
        resolveSha(store, bucket, "abcdef1"),
        rejectsWith("VERSION_AMBIGUOUS", new RegExp(`${twins[0]}, ${twins[1]}`)),
      );
      assert.equal(await resolveSha(store, bucket, "abcdef11"), twins[0]);
      // A recorded SHA whose manifest does not exist is not resolvable to code.
      await assert.rejects(resolveVersion(store, bucket, "abcdef11"), rejectsWith("VERSION_NOT_FOUND"));
    });

    test("gc keeps latest, the newest N and pinned SHAs; --dry-run deletes nothing", async () => {
      // shas: [first, second, third]; latest is third. Promote first so latest is the oldest.
      await promote(store, bucket, shas[0] as string, { by: "tester" });
      const dry = await collectGarbage(store, bucket, { keep: 1, dryRun: true });
      assert.deepEqual(
        dry.deleted.map((d) => d.sha),
        [shas[1]],
      );
      assert.ok(dry.bytesFreed > 0);
      assert.ok(await store.head(bucket, archiveKey(shas[1] as string)), "a dry run deleted something");

      const pinned = await collectGarbage(store, bucket, { keep: 1, pinned: [shas[1] as string], dryRun: true });
      assert.deepEqual(pinned.deleted, []);

      // A caller's protection keeps a package, with the caller's reason when it gives one.
      for (const [answer, reason] of [
        [true, "protected"],
        ["trained model acme-top_seller v3", "trained model acme-top_seller v3"],
      ] as const) {
        const guarded = await collectGarbage(store, bucket, {
          keep: 1,
          isProtected: async (sha) => sha === shas[1] && answer,
          dryRun: true,
        });
        assert.deepEqual(guarded.deleted, []);
        assert.equal(guarded.kept.find((k) => k.sha === shas[1])?.reason, reason);
      }

      const real = await collectGarbage(store, bucket, { keep: 1 });
      assert.deepEqual(
        real.deleted.map((d) => d.sha),
        [shas[1]],
      );
      assert.equal(await store.head(bucket, archiveKey(shas[1] as string)), null);
      assert.equal(await store.head(bucket, manifestKey(shas[1] as string)), null);
      assert.ok(await store.head(bucket, archiveKey(shas[0] as string)), "latest was deleted");
      assert.ok(await store.head(bucket, archiveKey(shas[2] as string)), "the newest was deleted");
      const versions = await listVersions(store, bucket);
      assert.equal(versions.find((v) => v.sha === shas[1])?.available, false);
      await assert.rejects(
        promote(store, bucket, shas[1] as string, { by: "tester" }),
        rejectsWith("VERSION_NOT_FOUND"),
      );
    });

    test("a package published from a dirty checkout is taken as it is only with allowDirty", async () => {
      const sha = await project.commit({ "dist/index.js": "export const answer = 5;\n", "src/index.ts": "5\n" });
      await project.write({ "src/index.ts": "an uncommitted edit\n" });
      const dirty = await publishHere({ allowDirty: true });
      assert.equal(dirty.manifest.git.dirty, true);
      // The same content under the same SHA does not wave a dirty checkout through.
      await assert.rejects(publishHere(), rejectsWith("PUBLISH_DIRTY"));
      project.git("checkout", "--", "src/index.ts");
      const clean = await publishHere();
      assert.equal(clean.manifest.git.dirty, false, "published again, under git's account of the checkout");
      assert.equal(clean.uploaded, false, "the stored archive holds the same bytes, so it is not sent again");
      assert.equal((await resolveVersion(store, bucket, sha)).manifest.git.dirty, false);
    });
  });
}
