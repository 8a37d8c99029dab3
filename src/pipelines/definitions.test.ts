import assert from "node:assert/strict";
import { test } from "node:test";
import { rejectsWith } from "../../test/helpers/assertions.js";
import {
  assertRunnable,
  bootstrapArgs,
  checkPipeline,
  downstreamOf,
  findPipeline,
  missingTasks,
  type PipelineDefinition,
  pipelines,
  taskCommand,
} from "./definitions.js";

const edges = (p: PipelineDefinition) => p.tasks.flatMap((t) => t.upstream.map((up) => `${up} -> ${t.name}`)).sort();

test("the three pipelines have the tasks and dependencies of the shared contract", () => {
  assert.deepEqual(
    pipelines.map((p) => p.name),
    ["data_transformation", "training", "inference"],
  );
  assert.deepEqual(edges(findPipeline("data_transformation")), [
    "resolve_code -> validate",
    "segment -> consolidate",
    "transform_events -> consolidate",
    "transform_prices -> consolidate",
    "transform_products -> consolidate",
    "transform_sales -> segment",
    "validate -> transform_events",
    "validate -> transform_prices",
    "validate -> transform_products",
    "validate -> transform_sales",
  ]);
  assert.deepEqual(edges(findPipeline("training")), [
    "resolve_code -> train_long_tail",
    "resolve_code -> train_top_seller",
    "train_long_tail -> promote",
    "train_top_seller -> promote",
  ]);
  assert.deepEqual(edges(findPipeline("inference")), [
    "forecast_long_tail -> export",
    "forecast_top_seller -> export",
    "resolve_code -> forecast_long_tail",
    "resolve_code -> forecast_top_seller",
  ]);
  for (const p of pipelines) {
    checkPipeline(p);
    assert.equal(p.tasks[0]?.name, "resolve_code", `${p.name} starts by fixing the code version`);
    assert.deepEqual(
      p.params.map((param) => [param.name, param.default]),
      [
        ["client_name", undefined],
        ["code_version", "latest"],
      ],
    );
  }
});

test("training tasks may run far longer than transforms, and every task is retried", () => {
  const timeout = (pipeline: string, name: string) =>
    findPipeline(pipeline).tasks.find((t) => t.name === name)?.timeoutSeconds ?? 0;
  assert.ok(timeout("training", "train_top_seller") >= 4 * timeout("data_transformation", "transform_sales"));
  for (const t of pipelines.flatMap((p) => p.tasks)) assert.ok(t.retries >= 1, `${t.name} has retries`);
});

test("findPipeline accepts dashes and names the pipelines when the name is unknown", () => {
  assert.equal(findPipeline("data-transformation").name, "data_transformation");
  assert.throws(() => findPipeline("trainnig"), rejectsWith("PIPELINE_UNKNOWN", /data_transformation, training/));
});

test("checkPipeline refuses unknown and out-of-order upstream tasks, duplicates and bad policies", () => {
  const policy = { retries: 0, retryDelaySeconds: 1, timeoutSeconds: 1 };
  const bad: PipelineDefinition = {
    name: "bad",
    description: "",
    params: [],
    tasks: [
      { name: "a", upstream: ["b"], ...policy },
      { name: "b", upstream: ["nope"], ...policy },
      { name: "b", upstream: [], ...policy, retries: -1 },
      { name: "Camel", upstream: [], ...policy, timeoutSeconds: 0 },
    ],
  };
  assert.throws(
    () => checkPipeline(bad),
    rejectsWith(
      "PIPELINE_INVALID",
      /"a" comes before its upstream task "b".*"b" depends on unknown "nope".*defined twice.*-1 retries.*not snake_case.*timeout of 0 s/,
    ),
  );
});

test("downstreamOf follows dependencies transitively", () => {
  const data = findPipeline("data_transformation");
  assert.deepEqual(downstreamOf(data, "transform_sales"), ["segment", "consolidate"]);
  assert.deepEqual(downstreamOf(data, "consolidate"), []);
  assert.equal(downstreamOf(data, "resolve_code").length, data.tasks.length - 1);
});

test("a pipeline with unregistered tasks is refused with a sentence naming them", () => {
  const training = findPipeline("training");
  assert.deepEqual(missingTasks(training, ["resolve_code", "promote"]), ["train_top_seller", "train_long_tail"]);
  assert.throws(
    () => assertRunnable(training, ["resolve_code", "promote"]),
    rejectsWith(
      "PIPELINE_INCOMPLETE",
      /^Pipeline training cannot run yet: its tasks train_top_seller, train_long_tail are not registered in src\/pipelines\/tasks\.ts\.$/,
    ),
  );
  assertRunnable(
    training,
    training.tasks.map((t) => t.name),
  );
});

test("every task runs as `tdf task` inside the bootstrap", () => {
  assert.deepEqual(bootstrapArgs("a".repeat(40), taskCommand("segment", "acme", "r1")), [
    "--code-version",
    "a".repeat(40),
    "--",
    "task",
    "segment",
    "--client",
    "acme",
    "--run-id",
    "r1",
  ]);
});
