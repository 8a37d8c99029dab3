import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type FakeMlflowServer, startFakeMlflowServer } from "./fake-mlflow-server.js";

// biome-ignore lint/suspicious/noExplicitAny: answers are arbitrary MLflow JSON, read by path in assertions
type Answer = { status: number; body: any; text: string; headers: Headers };
type RunJson = { info: { run_id: string; start_time: number } };
const startTimes = (answer: Answer) => (answer.body.runs as RunJson[]).map((r) => r.info.start_time);
const versions = (answer: Answer) => (answer.body.model_versions as Array<{ version: string }>).map((v) => v.version);

/** Calls the fake: GET sends `payload` as a query string, other verbs as a JSON body. */
async function call(
  server: FakeMlflowServer,
  method: string,
  endpoint: string,
  payload?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const path = endpoint.startsWith("/") ? endpoint : `/api/2.0/mlflow/${endpoint}`;
  let url = `${server.url}${path}`;
  const init: RequestInit = { method, headers };
  if (method === "GET" && payload) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(payload)) for (const v of [value].flat()) query.append(key, String(v));
    url += `?${query}`;
  } else if (payload) {
    init.body = JSON.stringify(payload);
    init.headers = { "Content-Type": "application/json", ...headers };
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text, headers: response.headers };
}

function assertError(answer: Answer, status: number, code: string, message?: string | RegExp): void {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.body?.error_code, code, answer.text);
  if (typeof message === "string") assert.equal(answer.body.message, message);
  else if (message) assert.match(answer.body.message, message);
}

const metric = (key: string, value: number, step = 0, timestamp = 1_700_000_000_000) => ({
  key,
  value,
  timestamp,
  step,
});

describe("fake MLflow server", () => {
  let server: FakeMlflowServer;
  let experimentId: string;
  const newRun = async (startTime = Date.now(), extra: Record<string, unknown> = {}) => {
    const answer = await call(server, "POST", "runs/create", {
      experiment_id: experimentId,
      start_time: startTime,
      ...extra,
    });
    assert.equal(answer.status, 200, answer.text);
    return answer.body.run.info.run_id as string;
  };
  const logBatch = (runId: string, batch: Record<string, unknown>) =>
    call(server, "POST", "runs/log-batch", { run_id: runId, ...batch });

  before(async () => {
    server = await startFakeMlflowServer();
  });
  after(() => server.close());

  describe("experiments", () => {
    test("the Default experiment exists, as on every MLflow server", async () => {
      const answer = await call(server, "GET", "experiments/get-by-name", { experiment_name: "Default" });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.experiment.experiment_id, "0");
      assert.equal(answer.body.experiment.artifact_location, "mlflow-artifacts:/0");
    });

    test("create, get, get-by-name, and duplicates", async () => {
      const created = await call(server, "POST", "experiments/create", {
        name: "tour",
        tags: [{ key: "team", value: "forecast" }],
      });
      assert.equal(created.status, 200);
      assert.deepEqual(Object.keys(created.body), ["experiment_id"]);
      experimentId = created.body.experiment_id;
      assert.equal(experimentId, "1");
      const byName = await call(server, "GET", "experiments/get-by-name", { experiment_name: "tour" });
      assert.equal(byName.body.experiment.experiment_id, experimentId);
      assert.equal(byName.body.experiment.artifact_location, "mlflow-artifacts:/1");
      assert.equal(byName.body.experiment.lifecycle_stage, "active");
      assert.deepEqual(byName.body.experiment.tags, [{ key: "team", value: "forecast" }]);
      const byId = await call(server, "GET", "experiments/get", { experiment_id: experimentId });
      assert.equal(byId.body.experiment.name, "tour");
      assertError(
        await call(server, "POST", "experiments/create", { name: "tour" }),
        400,
        "RESOURCE_ALREADY_EXISTS",
        /tour/,
      );
      assertError(
        await call(server, "GET", "experiments/get-by-name", { experiment_name: "nope" }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "Could not find experiment with name 'nope'",
      );
      assertError(
        await call(server, "GET", "experiments/get", { experiment_id: "999" }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
      );
    });
  });

  describe("runs", () => {
    test("create answers a RUNNING run with its artifact URI under the root", async () => {
      const answer = await call(server, "POST", "runs/create", {
        experiment_id: experimentId,
        run_name: "first",
        start_time: 1000,
        tags: [{ key: "k", value: "v" }],
      });
      const { info, data } = answer.body.run;
      assert.match(info.run_id, /^[0-9a-f]{32}$/);
      assert.equal(info.run_uuid, info.run_id);
      assert.equal(info.experiment_id, experimentId);
      assert.equal(info.run_name, "first");
      assert.equal(info.status, "RUNNING");
      assert.equal(info.start_time, 1000);
      assert.equal(info.lifecycle_stage, "active");
      assert.equal(info.user_id, "");
      assert.equal(info.artifact_uri, `mlflow-artifacts:/${experimentId}/${info.run_id}/artifacts`);
      assert.equal("end_time" in info, false);
      assert.deepEqual(data.tags, [
        { key: "k", value: "v" },
        { key: "mlflow.runName", value: "first" },
      ]);
      assert.equal("metrics" in data, false, "empty repeated fields are left out, as protobuf's JSON does");
    });

    test("update finishes a run; get shows it; a missing run is 404", async () => {
      const runId = await newRun(2000);
      const updated = await call(server, "POST", "runs/update", { run_id: runId, status: "FINISHED", end_time: 3000 });
      assert.equal(updated.status, 200);
      assert.equal(updated.body.run_info.status, "FINISHED");
      assert.equal(updated.body.run_info.end_time, 3000);
      const got = await call(server, "GET", "runs/get", { run_id: runId });
      assert.equal(got.body.run.info.status, "FINISHED");
      assertError(
        await call(server, "GET", "runs/get", { run_id: "f".repeat(32) }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        `Run with id=${"f".repeat(32)} not found`,
      );
      assertError(
        await call(server, "POST", "runs/update", { run_id: runId, status: "DONE" }),
        400,
        "INVALID_PARAMETER_VALUE",
        /'status'/,
      );
    });

    test("search: newest first, status filter, paging, limits", async () => {
      const created = await call(server, "POST", "experiments/create", { name: "search" });
      const exp = created.body.experiment_id as string;
      const ids: string[] = [];
      for (const start of [100, 300, 200]) {
        const answer = await call(server, "POST", "runs/create", { experiment_id: exp, start_time: start });
        ids.push(answer.body.run.info.run_id);
      }
      await call(server, "POST", "runs/update", { run_id: ids[1], status: "FAILED", end_time: 400 });
      const all = await call(server, "POST", "runs/search", { experiment_ids: [exp] });
      assert.deepEqual(startTimes(all), [300, 200, 100]);
      assert.equal("next_page_token" in all.body, false);
      const failed = await call(server, "POST", "runs/search", {
        experiment_ids: [exp],
        filter: "attributes.status = 'FAILED'",
      });
      assert.deepEqual(
        (failed.body.runs as RunJson[]).map((r) => r.info.run_id),
        [ids[1]],
      );
      const none = await call(server, "POST", "runs/search", {
        experiment_ids: [exp],
        filter: "attributes.status = 'KILLED'",
      });
      assert.deepEqual(none.body, {}, "no runs: an empty object, not runs: []");
      const first = await call(server, "POST", "runs/search", { experiment_ids: [exp], max_results: 2 });
      assert.equal(first.body.runs.length, 2);
      assert.equal(typeof first.body.next_page_token, "string");
      const second = await call(server, "POST", "runs/search", {
        experiment_ids: [exp],
        max_results: 2,
        page_token: first.body.next_page_token,
      });
      assert.deepEqual(startTimes(second), [100]);
      assert.equal("next_page_token" in second.body, false);
      const ascending = await call(server, "POST", "runs/search", {
        experiment_ids: [Number(exp)],
        order_by: ["attributes.start_time ASC"],
      });
      assert.deepEqual(startTimes(ascending), [100, 200, 300]);
      assertError(
        await call(server, "POST", "runs/search", { experiment_ids: [exp], max_results: 50_001 }),
        400,
        "INVALID_PARAMETER_VALUE",
        /max_results/,
      );
      assertError(
        await call(server, "POST", "runs/search", { experiment_ids: [exp], page_token: "bm90IGpzb24=" }),
        400,
        "INVALID_PARAMETER_VALUE",
        /Invalid page token/,
      );
      assertError(
        await call(server, "POST", "runs/search", { experiment_ids: [exp], filter: "metrics.rmse < 1" }),
        400,
        "INVALID_PARAMETER_VALUE",
        /FAKE/,
      );
    });
  });

  describe("log-batch", () => {
    test("metrics append, the run shows the latest per key, history has every value", async () => {
      const runId = await newRun();
      assert.equal(
        (
          await logBatch(runId, {
            metrics: [metric("loss", 0.9, 0), metric("loss", 0.5, 1)],
            params: [{ key: "lr", value: "0.1" }],
            tags: [{ key: "t", value: "1" }],
          })
        ).status,
        200,
      );
      // int64 fields may come as decimal strings, as protobuf's JSON mapping allows.
      const answer = await logBatch(runId, {
        metrics: [{ key: "loss", value: 0.7, timestamp: "1700000000000", step: "2" }],
      });
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.body, {});
      const run = (await call(server, "GET", "runs/get", { run_id: runId })).body.run;
      assert.deepEqual(run.data.metrics, [metric("loss", 0.7, 2)]);
      assert.deepEqual(run.data.params, [{ key: "lr", value: "0.1" }]);
      const history = await call(server, "GET", "metrics/get-history", { run_id: runId, metric_key: "loss" });
      assert.deepEqual(
        (history.body.metrics as Array<{ value: number; step: number }>).map((m) => [m.value, m.step]),
        [
          [0.9, 0],
          [0.5, 1],
          [0.7, 2],
        ],
      );
    });

    test("params are write-once: the same value again is fine, another is refused", async () => {
      const runId = await newRun();
      await logBatch(runId, { params: [{ key: "lr", value: "0.1" }] });
      assert.equal((await logBatch(runId, { params: [{ key: "lr", value: "0.1" }] })).status, 200);
      assertError(
        await logBatch(runId, { params: [{ key: "lr", value: "0.2" }] }),
        400,
        "INVALID_PARAMETER_VALUE",
        /^Changing param values is not allowed/,
      );
      assertError(
        await logBatch(runId, {
          params: [
            { key: "x", value: "1" },
            { key: "x", value: "1" },
          ],
        }),
        400,
        "INVALID_PARAMETER_VALUE",
        "Duplicate parameter keys have been submitted: ['x']. Please ensure the request contains only one param value per param key.",
      );
    });

    test("MLflow's batch limits, with MLflow's wording", async () => {
      const runId = await newRun();
      const metrics = (n: number) => Array.from({ length: n }, (_, i) => metric(`m${i}`, i));
      const kvs = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: "v" }));
      assertError(
        await logBatch(runId, { metrics: metrics(1001) }),
        400,
        "INVALID_PARAMETER_VALUE",
        "A batch logging request can contain at most 1000 metrics. Got 1001 metrics. Please split up metrics across multiple requests and try again.",
      );
      assertError(
        await logBatch(runId, { params: kvs(101) }),
        400,
        "INVALID_PARAMETER_VALUE",
        "A batch logging request can contain at most 100 params. Got 101 params. Please split up params across multiple requests and try again.",
      );
      assertError(
        await logBatch(runId, { tags: kvs(101) }),
        400,
        "INVALID_PARAMETER_VALUE",
        "A batch logging request can contain at most 100 tags. Got 101 tags. Please split up tags across multiple requests and try again.",
      );
      assertError(
        await logBatch(runId, { metrics: metrics(901), params: kvs(100) }),
        400,
        "INVALID_PARAMETER_VALUE",
        "A batch logging request can contain at most 1000 metrics, params, and tags. Got 1001 metrics, params, and tags. Please split up metrics, params, and tags across multiple requests and try again.",
      );
      assert.equal((await logBatch(runId, { metrics: metrics(900), params: kvs(50), tags: kvs(50) })).status, 200);
      assertError(
        await logBatch(runId, {
          tags: [{ key: "big", value: "x".repeat(600_000) }],
          params: [{ key: "big", value: "x".repeat(500_000) }],
        }),
        400,
        "INVALID_PARAMETER_VALUE",
        /at most 1000000 bytes/,
      );
    });

    test("key and value lengths and key characters", async () => {
      const runId = await newRun();
      assert.equal(
        (
          await logBatch(runId, {
            params: [{ key: "k".repeat(250), value: "v".repeat(6000) }],
            tags: [{ key: "t", value: "v".repeat(5000) }],
          })
        ).status,
        200,
      );
      assertError(
        await logBatch(runId, { params: [{ key: "k".repeat(251), value: "v" }] }),
        400,
        "INVALID_PARAMETER_VALUE",
        /Param key.*250/,
      );
      assertError(
        await logBatch(runId, { params: [{ key: "p", value: "v".repeat(6001) }] }),
        400,
        "INVALID_PARAMETER_VALUE",
        /Param value.*6000/,
      );
      assertError(
        await logBatch(runId, { tags: [{ key: "t2", value: "v".repeat(5001) }] }),
        400,
        "INVALID_PARAMETER_VALUE",
        /tags\[0\]\.value.*5000/,
      );
      assertError(
        await logBatch(runId, { metrics: [metric("m".repeat(251), 1)] }),
        400,
        "INVALID_PARAMETER_VALUE",
        /Metric name.*250/,
      );
      assertError(
        await logBatch(runId, { metrics: [metric("a:b", 1)] }),
        400,
        "INVALID_PARAMETER_VALUE",
        /Names may only contain/,
      );
      assertError(
        await logBatch(runId, { metrics: [metric("a/../b", 1)] }),
        400,
        "INVALID_PARAMETER_VALUE",
        /would resolve to 'b'/,
      );
    });

    test("metric types: value a number, timestamp and step integers, timestamp required", async () => {
      const runId = await newRun();
      assertError(
        await logBatch(runId, { metrics: [{ key: "m", value: "abc", timestamp: 1 }] }),
        400,
        "INVALID_PARAMETER_VALUE",
        /'metrics\[0\]\.value'/,
      );
      assertError(
        await logBatch(runId, { metrics: [{ key: "m", value: 1, timestamp: 1.5 }] }),
        400,
        "INVALID_PARAMETER_VALUE",
        /'metrics\[0\]\.timestamp'/,
      );
      assertError(
        await logBatch(runId, { metrics: [{ key: "m", value: 1, timestamp: -1 }] }),
        400,
        "INVALID_PARAMETER_VALUE",
        /nonnegative/,
      );
      assertError(
        await logBatch(runId, { metrics: [{ key: "m", value: 1 }] }),
        400,
        "INVALID_PARAMETER_VALUE",
        /^Missing value for required parameter 'metrics\[0\]\.timestamp'\./,
      );
      assert.equal((await logBatch(runId, { metrics: [{ key: "m", value: "NaN", timestamp: 1 }] })).status, 200);
      const history = await call(server, "GET", "metrics/get-history", { run_id: runId, metric_key: "m" });
      assert.deepEqual(history.body.metrics, [{ key: "m", value: "NaN", timestamp: 1, step: 0 }]);
    });

    test("a finished run still takes logging; a deleted run refuses it", async () => {
      const runId = await newRun();
      await call(server, "POST", "runs/update", { run_id: runId, status: "FINISHED", end_time: Date.now() });
      assert.equal((await logBatch(runId, { metrics: [metric("late", 1)] })).status, 200);
      assert.equal((await call(server, "POST", "runs/delete", { run_id: runId })).status, 200);
      assertError(
        await logBatch(runId, { metrics: [metric("late", 2)] }),
        400,
        "INVALID_PARAMETER_VALUE",
        `The run ${runId} must be in the 'active' state. Current state is deleted.`,
      );
      assertError(await logBatch("f".repeat(32), { metrics: [metric("x", 1)] }), 404, "RESOURCE_DOES_NOT_EXIST");
    });
  });

  describe("strictness", () => {
    test("unknown fields are refused, naming the field", async () => {
      assertError(
        await call(server, "POST", "experiments/create", { name: "x", colour: "red" }),
        400,
        "INVALID_PARAMETER_VALUE",
        /'colour'/,
      );
      assertError(
        await call(server, "POST", "runs/log-batch", {
          run_id: "abc",
          metrics: [{ key: "m", value: 1, timestamp: 1, stepp: 2 }],
        }),
        400,
        "INVALID_PARAMETER_VALUE",
        /'metrics\[0\]\.stepp'/,
      );
      assertError(await call(server, "GET", "runs/get", { runid: "abc" }), 400, "INVALID_PARAMETER_VALUE", /'runid'/);
    });

    test("wrong types and missing required fields", async () => {
      assertError(
        await call(server, "POST", "experiments/create", { name: 5 }),
        400,
        "INVALID_PARAMETER_VALUE",
        /Invalid value 5 for parameter 'name'/,
      );
      assertError(
        await call(server, "POST", "runs/create", { experiment_id: experimentId, start_time: "soon" }),
        400,
        "INVALID_PARAMETER_VALUE",
        /'start_time'/,
      );
      assertError(
        await call(server, "POST", "experiments/create", {}),
        400,
        "INVALID_PARAMETER_VALUE",
        "Missing value for required parameter 'name'. See the API docs for more information about request parameters.",
      );
      assertError(
        await call(server, "POST", "experiments/create", { name: "" }),
        400,
        "INVALID_PARAMETER_VALUE",
        /^Missing value for required parameter 'name'/,
      );
      assertError(
        await call(server, "GET", "experiments/get-by-name"),
        400,
        "INVALID_PARAMETER_VALUE",
        /'experiment_name'/,
      );
    });

    test("POST needs Content-Type application/json", async () => {
      const response = await fetch(`${server.url}/api/2.0/mlflow/experiments/create`, {
        method: "POST",
        body: JSON.stringify({ name: "ct" }),
        headers: { "Content-Type": "text/plain" },
      });
      assert.equal(response.status, 400);
      assert.match(
        ((await response.json()) as { message: string }).message,
        /Content-Type must be one of \[application\/json\]/,
      );
    });

    test("unknown endpoints are Flask's HTML 404; wrong verbs are 405", async () => {
      const unknown = await call(server, "GET", "runs/frobnicate");
      assert.equal(unknown.status, 404);
      assert.match(unknown.headers.get("content-type") ?? "", /text\/html/);
      assert.equal(unknown.body, undefined, "not JSON");
      assert.equal(
        (await call(server, "GET", "registered-models/get-by-alias", { name: "m", alias: "a" })).status,
        404,
        "the real path is registered-models/alias",
      );
      const wrongVerb = await call(server, "GET", "runs/create", { experiment_id: "0" });
      assert.equal(wrongVerb.status, 405);
      assert.equal(wrongVerb.headers.get("allow"), "POST");
    });
  });

  describe("model registry", () => {
    let runId: string;
    before(async () => {
      runId = await newRun();
    });

    test("models and versions", async () => {
      const created = await call(server, "POST", "registered-models/create", {
        name: "demand",
        tags: [{ key: "owner", value: "me" }],
      });
      assert.equal(created.status, 200);
      assert.equal(created.body.registered_model.name, "demand");
      assert.equal(typeof created.body.registered_model.creation_timestamp, "number");
      assertError(
        await call(server, "POST", "registered-models/create", { name: "demand" }),
        400,
        "RESOURCE_ALREADY_EXISTS",
        "Registered Model (name=demand) already exists.",
      );
      assertError(
        await call(server, "GET", "registered-models/get", { name: "nope" }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "Registered Model with name=nope not found",
      );
      const source = `mlflow-artifacts:/${experimentId}/${runId}/artifacts/model`;
      const v1 = await call(server, "POST", "model-versions/create", {
        name: "demand",
        source,
        run_id: runId,
        tags: [{ key: "stage", value: "test" }],
      });
      assert.equal(v1.status, 200, v1.text);
      assert.equal(v1.body.model_version.version, "1");
      assert.equal(v1.body.model_version.status, "READY");
      assert.equal(v1.body.model_version.source, source);
      assert.equal(v1.body.model_version.run_id, runId);
      assert.deepEqual(v1.body.model_version.tags, [{ key: "stage", value: "test" }]);
      const v2 = await call(server, "POST", "model-versions/create", {
        name: "demand",
        source: `runs:/${runId}/model`,
        run_id: runId,
      });
      assert.equal(v2.body.model_version.version, "2");
      const got = await call(server, "GET", "model-versions/get", { name: "demand", version: "1" });
      assert.equal(got.body.model_version.source, source);
      assertError(
        await call(server, "GET", "model-versions/get", { name: "demand", version: "9" }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "Model Version (name=demand, version=9) not found",
      );
      assertError(
        await call(server, "GET", "model-versions/get", { name: "demand", version: "one" }),
        400,
        "INVALID_PARAMETER_VALUE",
      );
      assertError(
        await call(server, "POST", "model-versions/create", { name: "nope", source }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
      );
      assertError(
        await call(server, "POST", "model-versions/create", { name: "demand", source: "/tmp/model" }),
        400,
        "INVALID_PARAMETER_VALUE",
        /local path/,
      );
      const model = await call(server, "GET", "registered-models/get", { name: "demand" });
      assert.deepEqual(
        (model.body.registered_model.latest_versions as Array<{ version: string }>).map((v) => v.version),
        ["2"],
      );
      const search = await call(server, "GET", "model-versions/search", { filter: "name='demand'" });
      assert.deepEqual(versions(search), ["2", "1"]);
      const newest = await call(server, "GET", "model-versions/search", {
        filter: "name = 'demand'",
        order_by: "version_number DESC",
        max_results: 1,
      });
      assert.deepEqual(versions(newest), ["2"]);
      assert.equal(typeof newest.body.next_page_token, "string");
    });

    test("model-versions/search without a filter: every model's versions, in the asked order, a page at a time", async () => {
      const own = await startFakeMlflowServer();
      try {
        for (const name of ["beta", "alpha"]) {
          assert.equal((await call(own, "POST", "registered-models/create", { name })).status, 200);
          for (let i = 0; i < 3; i++) {
            const created = await call(own, "POST", "model-versions/create", { name, source: `s3://b/${name}/${i}` });
            assert.equal(created.status, 200, created.text);
          }
        }
        const seen: string[] = [];
        let pageToken: string | undefined;
        let pages = 0;
        do {
          const page = await call(own, "GET", "model-versions/search", {
            max_results: 4,
            order_by: ["name ASC", "version_number ASC"],
            ...(pageToken ? { page_token: pageToken } : {}),
          });
          assert.equal(page.status, 200, page.text);
          const found = page.body.model_versions as Array<{ name: string; version: string }>;
          seen.push(...found.map((v) => `${v.name} v${v.version}`));
          pageToken = page.body.next_page_token;
          pages++;
        } while (pageToken);
        assert.equal(pages, 2);
        assert.deepEqual(seen, ["alpha v1", "alpha v2", "alpha v3", "beta v1", "beta v2", "beta v3"]);
        assertError(
          await call(own, "GET", "model-versions/search", { order_by: ["name ASC", "name DESC"] }),
          500,
          "INTERNAL_ERROR",
          /duplicate fields/,
        );
        assertError(
          await call(own, "GET", "model-versions/search", { max_results: 200_001 }),
          400,
          "INVALID_PARAMETER_VALUE",
        );
        assertError(
          await call(own, "GET", "model-versions/search", { page_token: "not-a-token" }),
          400,
          "INVALID_PARAMETER_VALUE",
          /Invalid page token/,
        );
      } finally {
        await own.close();
      }
    });

    test("aliases: set, read by alias, listed on the model, not in model-versions/search, deleted with a JSON body", async () => {
      assert.equal(
        (await call(server, "POST", "registered-models/alias", { name: "demand", alias: "champion", version: "1" }))
          .status,
        200,
      );
      const model = await call(server, "GET", "registered-models/get", { name: "demand" });
      assert.deepEqual(model.body.registered_model.aliases, [{ alias: "champion", version: "1" }]);
      const byAlias = await call(server, "GET", "registered-models/alias", { name: "demand", alias: "champion" });
      assert.equal(byAlias.status, 200);
      assert.equal(byAlias.body.model_version.version, "1");
      assert.deepEqual(byAlias.body.model_version.aliases, ["champion"]);
      const got = await call(server, "GET", "model-versions/get", { name: "demand", version: "1" });
      assert.deepEqual(got.body.model_version.aliases, ["champion"]);
      const search = await call(server, "GET", "model-versions/search", { filter: "name='demand'" });
      for (const version of search.body.model_versions) assert.equal("aliases" in version, false);
      assertError(
        await call(server, "GET", "registered-models/alias", { name: "demand", alias: "challenger" }),
        400,
        "INVALID_PARAMETER_VALUE",
        "Registered model alias challenger not found.",
      );
      assertError(
        await call(server, "POST", "registered-models/alias", { name: "demand", alias: "latest", version: "1" }),
        400,
        "INVALID_PARAMETER_VALUE",
        /reserved/,
      );
      assertError(
        await call(server, "POST", "registered-models/alias", { name: "demand", alias: "v2", version: "1" }),
        400,
        "INVALID_PARAMETER_VALUE",
        /reserved/,
      );
      assertError(
        await call(server, "POST", "registered-models/alias", { name: "demand", alias: "ok", version: "7" }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
      );
      // A DELETE's fields go in a JSON body: the server does not read the query string.
      const viaQuery = await fetch(`${server.url}/api/2.0/mlflow/registered-models/alias?name=demand&alias=champion`, {
        method: "DELETE",
      });
      assert.equal(viaQuery.status, 400);
      assert.match(
        ((await viaQuery.json()) as { message: string }).message,
        /Missing value for required parameter 'name'/,
      );
      assert.equal(
        (await call(server, "DELETE", "registered-models/alias", { name: "demand", alias: "champion" })).status,
        200,
      );
      assert.equal(
        (await call(server, "DELETE", "registered-models/alias", { name: "demand", alias: "champion" })).status,
        200,
        "deleting an unset alias is fine",
      );
      assertError(
        await call(server, "GET", "registered-models/alias", { name: "demand", alias: "champion" }),
        400,
        "INVALID_PARAMETER_VALUE",
      );
      assertError(
        await call(server, "DELETE", "registered-models/alias", { name: "nope", alias: "champion" }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
      );
    });
  });

  describe("proxied artifacts", () => {
    const artifacts = "/api/2.0/mlflow-artifacts/artifacts";
    test("upload, download, list", async () => {
      const put = await fetch(`${server.url}${artifacts}/1/abc/artifacts/model/MLmodel`, {
        method: "PUT",
        body: "flavors: {}\n",
      });
      assert.equal(put.status, 200);
      await fetch(`${server.url}${artifacts}/1/abc/artifacts/model/weights.bin`, {
        method: "PUT",
        body: new Uint8Array([1, 2, 3]),
      });
      await fetch(`${server.url}${artifacts}/1/abc/artifacts/metrics.json`, { method: "PUT", body: "{}" });
      const got = await fetch(`${server.url}${artifacts}/1/abc/artifacts/model/weights.bin`);
      assert.equal(got.status, 200);
      assert.deepEqual(new Uint8Array(await got.arrayBuffer()), new Uint8Array([1, 2, 3]));
      const list = await call(server, "GET", artifacts, { path: "1/abc/artifacts" });
      assert.deepEqual(list.body.files, [
        { path: "metrics.json", is_dir: false, file_size: 2 },
        { path: "model", is_dir: true },
      ]);
      const model = await call(server, "GET", artifacts, { path: "1/abc/artifacts/model" });
      assert.deepEqual(
        (model.body.files as Array<{ path: string }>).map((f) => f.path),
        ["MLmodel", "weights.bin"],
      );
      assert.deepEqual((await call(server, "GET", artifacts, { path: "1/nothing" })).body, {});
      assertError(await call(server, "GET", `${artifacts}/1/abc/artifacts/missing.txt`), 500, "INTERNAL_ERROR");
      assertError(
        await call(server, "GET", artifacts, { path: "../etc" }),
        400,
        "INVALID_PARAMETER_VALUE",
        "Invalid path",
      );
    });
  });

  describe("injected failures", () => {
    test("503, 429 and a crashed server's HTML 500, then normal service", async () => {
      server.failNext(2, 503);
      for (let i = 0; i < 2; i++)
        assertError(
          await call(server, "GET", "experiments/get", { experiment_id: "0" }),
          503,
          "TEMPORARILY_UNAVAILABLE",
        );
      assert.equal((await call(server, "GET", "experiments/get", { experiment_id: "0" })).status, 200);
      server.failNext(1, 429);
      assertError(await call(server, "GET", "experiments/get", { experiment_id: "0" }), 429, "REQUEST_LIMIT_EXCEEDED");
      server.failNext(1, "html500");
      const crashed = await call(server, "POST", "experiments/create", { name: "never-made" });
      assert.equal(crashed.status, 500);
      assert.match(crashed.text, /<title>500 Internal Server Error<\/title>/);
      assert.equal(crashed.body, undefined, "not JSON");
      assertError(
        await call(server, "GET", "experiments/get-by-name", { experiment_name: "never-made" }),
        404,
        "RESOURCE_DOES_NOT_EXIST",
      );
      const last = server.requests.slice(-6);
      assert.deepEqual(
        last.map((r) => [r.method, r.path, r.status]),
        [
          ["GET", "/api/2.0/mlflow/experiments/get", 503],
          ["GET", "/api/2.0/mlflow/experiments/get", 503],
          ["GET", "/api/2.0/mlflow/experiments/get", 200],
          ["GET", "/api/2.0/mlflow/experiments/get", 429],
          ["POST", "/api/2.0/mlflow/experiments/create", 500],
          ["GET", "/api/2.0/mlflow/experiments/get-by-name", 404],
        ],
      );
    });
  });
});

describe("fake MLflow server options", () => {
  test("an s3 artifact root gives s3 artifact URIs", async () => {
    const server = await startFakeMlflowServer({ artifactRoot: "s3://mlflow-artifacts/" });
    try {
      const exp = (await call(server, "POST", "experiments/create", { name: "s3" })).body.experiment_id;
      const run = (await call(server, "POST", "runs/create", { experiment_id: exp, start_time: 1 })).body.run.info;
      assert.equal(run.artifact_uri, `s3://mlflow-artifacts/${exp}/${run.run_id}/artifacts`);
    } finally {
      await server.close();
    }
  });

  test("basic auth: 401 with a non-JSON body and a Basic challenge, unless the credentials are right", async () => {
    const server = await startFakeMlflowServer({ auth: { username: "alice", password: "s3:cret" } });
    try {
      const anonymous = await call(server, "GET", "experiments/get", { experiment_id: "0" });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body, undefined, "MLflow's basic-auth app answers a plain sentence");
      assert.equal(anonymous.headers.get("www-authenticate"), 'Basic realm="mlflow"');
      const wrong = `Basic ${Buffer.from("alice:nope").toString("base64")}`;
      assert.equal(
        (await call(server, "GET", "experiments/get", { experiment_id: "0" }, { Authorization: wrong })).status,
        401,
      );
      const right = `Basic ${Buffer.from("alice:s3:cret").toString("base64")}`;
      assert.equal(
        (await call(server, "GET", "experiments/get", { experiment_id: "0" }, { Authorization: right })).status,
        200,
      );
      assert.equal(
        (await call(server, "POST", "experiments/create", { name: "a" }, { Authorization: right })).status,
        200,
      );
      assert.equal((await fetch(`${server.url}/health`)).status, 200, "/health needs no credentials");
    } finally {
      await server.close();
    }
  });

  test("bearer token auth", async () => {
    const server = await startFakeMlflowServer({ auth: { token: "t0k" } });
    try {
      assert.equal((await call(server, "GET", "experiments/get", { experiment_id: "0" })).status, 401);
      assert.equal(
        (await call(server, "GET", "experiments/get", { experiment_id: "0" }, { Authorization: "Bearer nope" })).status,
        401,
      );
      assert.equal(
        (await call(server, "GET", "experiments/get", { experiment_id: "0" }, { Authorization: "Bearer t0k" })).status,
        200,
      );
    } finally {
      await server.close();
    }
  });
});
