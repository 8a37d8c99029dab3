/**
 * Listing every registered model version (`searchModelVersions`), on the local driver and on the MLflow
 * driver against the FAKE MLflow server, and reading from it which code each version was trained with
 * (`modelVersionsByCodeSha`, what `tdf code gc` keeps).
 */
import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { fsStore } from "../../src/storage/fs.js";
import { modelVersionsByCodeSha } from "../../src/tracking/code-lineage.js";
import { localTracker } from "../../src/tracking/local.js";
import { mlflowTracker } from "../../src/tracking/mlflow.js";
import type { Tracker } from "../../src/tracking/types.js";
import { rejectsWith } from "../helpers/assertions.js";
import { type FakeMlflowServer, startFakeMlflowServer } from "../helpers/fake-mlflow-server.js";

const CODE_SHA_TAG = "tdf.code_sha";
const shaA = "a".repeat(40);
const shaB = "b".repeat(40);

interface Fixture {
  tracker: Tracker;
  /** How many model-versions/search requests were made, where the driver makes requests. */
  searchRequests?: () => number;
  teardown: () => Promise<void>;
}

async function localFixture(): Promise<Fixture> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-version-search-"));
  const store = fsStore({ root: path.join(root, "store") });
  await store.ensureBucket("mlflow-artifacts");
  const tracker = localTracker({ databasePath: path.join(root, "tracking.db"), store, bucket: "mlflow-artifacts" });
  return {
    tracker,
    teardown: async () => {
      tracker.close();
      await fsp.rm(root, { recursive: true, force: true });
    },
  };
}

async function mlflowFixture(): Promise<Fixture> {
  const server: FakeMlflowServer = await startFakeMlflowServer();
  return {
    tracker: mlflowTracker({ trackingUri: server.url }),
    searchRequests: () => server.requests.filter((r) => r.path.endsWith("/model-versions/search")).length,
    teardown: () => server.close(),
  };
}

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Registers `count` versions of `name`, each from a new run with `runTags`, each version with `versionTags`. */
async function register(
  tracker: Tracker,
  name: string,
  count: number,
  tags: { run?: Record<string, string>; version?: Record<string, string> } = {},
): Promise<void> {
  const experiment = await tracker.getOrCreateExperiment(`experiment-of-${name}`);
  await tracker.getOrCreateRegisteredModel(name);
  for (let i = 0; i < count; i++) {
    const run = await tracker.startRun(experiment.id, { tags: tags.run });
    await tracker.createModelVersion(name, { runId: run.id, artifactPath: "model", tags: tags.version });
  }
}

for (const [driver, setup] of [
  ["local", localFixture],
  ["mlflow (fake MLflow server)", mlflowFixture],
] as const) {
  /** Runs one test on a fresh fixture, torn down afterwards whatever happens. */
  const withFixture = async (use: (fixture: Awaited<ReturnType<typeof setup>>) => Promise<void>) => {
    const fixture = await setup();
    try {
      await use(fixture);
    } finally {
      await fixture.teardown();
    }
  };

  describe(`searchModelVersions: ${driver}`, () => {
    test("an empty registry lists nothing", () =>
      withFixture(async (fixture) => {
        assert.deepEqual(await all(fixture.tracker.searchModelVersions()), []);
      }));

    test("every version of every model, by name then version, across pages", () =>
      withFixture(async (fixture) => {
        const { tracker } = fixture;
        await register(tracker, "acme-top_seller", 3, { version: { note: "x" } });
        await register(tracker, "acme-long_tail", 1);
        await register(tracker, "beta-top_seller", 3);
        const expected = [
          "acme-long_tail v1",
          "acme-top_seller v1",
          "acme-top_seller v2",
          "acme-top_seller v3",
          "beta-top_seller v1",
          "beta-top_seller v2",
          "beta-top_seller v3",
        ];
        const before = fixture.searchRequests?.() ?? 0;
        const paged = await all(tracker.searchModelVersions({ pageSize: 2 }));
        assert.deepEqual(
          paged.map((v) => `${v.name} v${v.version}`),
          expected,
        );
        if (fixture.searchRequests) assert.equal(fixture.searchRequests() - before, 4, "7 versions, 2 a page");
        const first = paged.find((v) => v.name === "acme-top_seller" && v.version === "1");
        assert.equal(first?.tags.note, "x");
        assert.ok(first?.runId);
        assert.match(first?.source ?? "", /model$/);
        // The page size changes the requests, never the answer.
        for (const pageSize of [1, 7, 1000]) {
          const listed = await all(tracker.searchModelVersions({ pageSize }));
          assert.deepEqual(
            listed.map((v) => `${v.name} v${v.version}`),
            expected,
            `page size ${pageSize}`,
          );
        }
        await assert.rejects(all(tracker.searchModelVersions({ pageSize: 0 })), rejectsWith("TRACKING_INVALID"));
        await assert.rejects(all(tracker.searchModelVersions({ pageSize: 200_001 })), rejectsWith("TRACKING_INVALID"));
      }));

    test("modelVersionsByCodeSha: the version's tag, else its run's; versions trained from a checkout keep nothing", () =>
      withFixture(async (fixture) => {
        const { tracker } = fixture;
        await register(tracker, "acme-top_seller", 2, {
          run: { [CODE_SHA_TAG]: shaA },
          version: { [CODE_SHA_TAG]: shaA },
        });
        // Registered before versions carried the SHA: only the run has it.
        await register(tracker, "acme-long_tail", 1, { run: { [CODE_SHA_TAG]: shaB } });
        // Trained from a checkout: no SHA anywhere.
        await register(tracker, "acme-checkout", 1);
        const bySha = await modelVersionsByCodeSha(tracker, CODE_SHA_TAG);
        assert.deepEqual(
          [...bySha].map(([sha, versions]) => [sha, versions.map((v) => `${v.name} v${v.version}`)]),
          [
            [shaB, ["acme-long_tail v1"]],
            [shaA, ["acme-top_seller v1", "acme-top_seller v2"]],
          ],
        );
      }));
  });
}
