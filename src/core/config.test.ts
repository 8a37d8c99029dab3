import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { loadConfig, redactedConfig } from "./config.js";
import { ConfigError } from "./errors.js";

test("with no variables set, everything is embedded under .tdf/", () => {
  const config = loadConfig({}, "/srv/project");
  assert.equal(config.home, path.resolve("/srv/project/.tdf"));
  assert.deepEqual(config.storage, {
    driver: "fs",
    root: path.resolve("/srv/project/.tdf/store"),
    buckets: {
      code: "code-repository",
      trainingData: "training-data",
      model: "model-artifacts",
      dataPipeline: "data-pipeline",
      mlflow: "mlflow-artifacts",
    },
  });
  assert.equal(config.mlflow.trackingUri, undefined);
  assert.deepEqual(config.training, { maxEpochs: 5, batchSize: 10, learningRate: 0.01, batchesPerEpoch: undefined });
  assert.equal(config.enableMetrics, false);
});

test("the deployment guide's variables select and configure the S3 store", () => {
  const config = loadConfig({
    GARAGE_ENDPOINT: "http://127.0.0.1:3900/",
    GARAGE_CODE_BUCKET: "code-repo-acme",
    GARAGE_AIRFLOW_ACCESS_KEY_ID: "GKairflow",
    GARAGE_AIRFLOW_SECRET_ACCESS_KEY: "airflow-secret-value",
    MLFLOW_TRACKING_URI: "http://mlflow:5000",
    TRAINING_MAX_EPOCHS: "20",
    TRAINING_LEARNING_RATE: "0.003",
    ENABLE_METRICS: "TRUE",
  });
  assert.equal(config.storage.driver, "s3");
  assert.ok(config.storage.driver === "s3");
  assert.equal(config.storage.endpoint, "http://127.0.0.1:3900");
  assert.equal(config.storage.region, "garage");
  assert.equal(config.storage.buckets.code, "code-repo-acme");
  assert.deepEqual(config.storage.airflow, { accessKeyId: "GKairflow", secretAccessKey: "airflow-secret-value" });
  assert.equal(config.storage.cicd, undefined);
  assert.equal(
    config.mlflow.s3EndpointUrl,
    "http://127.0.0.1:3900",
    "MLFLOW_S3_ENDPOINT_URL defaults to GARAGE_ENDPOINT",
  );
  assert.equal(config.training.maxEpochs, 20);
  assert.equal(config.training.learningRate, 0.003);
  assert.equal(config.enableMetrics, true);
});

test("every problem is reported at once, each with its variable name", () => {
  let caught: unknown;
  try {
    loadConfig({
      GARAGE_ENDPOINT: "not a url",
      GARAGE_CICD_ACCESS_KEY_ID: "GKcicd",
      GARAGE_MODEL_BUCKET: "Bad_Bucket",
      TRAINING_BATCH_SIZE: "ten",
      TRAINING_LEARNING_RATE: "-1",
      ENABLE_METRICS: "yes",
      ALERT_EMAIL: "nobody",
      TDF_LOG_LEVEL: "loud",
    });
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError);
  assert.deepEqual(caught.problems.map((p) => p.variable).sort(), [
    "ALERT_EMAIL",
    "ENABLE_METRICS",
    "GARAGE_CICD_SECRET_ACCESS_KEY",
    "GARAGE_ENDPOINT",
    "GARAGE_MODEL_BUCKET",
    "TDF_LOG_LEVEL",
    "TRAINING_BATCH_SIZE",
    "TRAINING_LEARNING_RATE",
  ]);
  for (const problem of caught.problems) assert.ok(caught.message.includes(`${problem.variable}: `));
  assert.match(caught.message, /has 8 problems/);
});

test("an S3 endpoint without any key pair, or keys without an endpoint, is a problem", () => {
  assert.throws(
    () => loadConfig({ GARAGE_ENDPOINT: "http://garage:3900" }),
    /GARAGE_AIRFLOW_ACCESS_KEY_ID: no access key is set/,
  );
  assert.throws(
    () => loadConfig({ GARAGE_AIRFLOW_ACCESS_KEY_ID: "GK1", GARAGE_AIRFLOW_SECRET_ACCESS_KEY: "s3cr3t-value" }),
    /GARAGE_ENDPOINT: is not set while access keys are/,
  );
  assert.throws(
    () => loadConfig({ MLFLOW_TRACKING_URI: "http://user:pw@mlflow:5000" }),
    /MLFLOW_TRACKING_URI: must not contain credentials/,
  );
});

test("the shown configuration never contains a secret", () => {
  const secret = "cicd-secret-value-123";
  const config = loadConfig({
    GARAGE_ENDPOINT: "https://garage.example.com",
    GARAGE_CICD_ACCESS_KEY_ID: "GKcicd",
    GARAGE_CICD_SECRET_ACCESS_KEY: secret,
  });
  const shown = JSON.stringify(redactedConfig(config));
  assert.ok(!shown.includes(secret));
  assert.match(shown, /GKcicd/);
  assert.match(shown, /\[REDACTED\]/);
});
