/**
 * The tracker, chosen by configuration: MLflow when MLFLOW_TRACKING_URI is set, otherwise the local
 * driver (SQLite in `.tdf/tracking.db`, artifacts in the object store's mlflow-artifacts bucket).
 */
import path from "node:path";
import type { Config } from "../core/config.js";
import type { Tracker } from "./types.js";

export { modelVersionsByCodeSha } from "./code-lineage.js";
export { TrackingError, type TrackingErrorCode } from "./errors.js";
export { repairInterruptedRuns, type WithRunOptions, withRun } from "./run-lifecycle.js";
export type * from "./types.js";

export const modelTypes = ["top_seller", "long_tail"] as const;
export type ModelType = (typeof modelTypes)[number];

/** One experiment per client and model type, e.g. `acme/top_seller`. */
export const experimentName = (client: string, modelType: ModelType) => `${client}/${modelType}`;
/** One registered model per client and model type, e.g. `acme-top_seller`. */
export const registeredModelName = (client: string, modelType: ModelType) => `${client}-${modelType}`;

export async function openTracker(config: Config): Promise<Tracker> {
  const { openStore } = await import("../storage/index.js");
  if (config.mlflow.trackingUri) {
    const { mlflowTracker } = await import("./mlflow.js");
    let artifactStore: import("../storage/types.js").ObjectStore | undefined;
    const storage = config.storage;
    if (config.mlflow.s3EndpointUrl && storage.driver === "s3") {
      const keys = storage.airflow ?? storage.cicd;
      if (keys) {
        const { s3Store } = await import("../storage/s3.js");
        artifactStore = s3Store({ endpoint: config.mlflow.s3EndpointUrl, region: storage.region, ...keys });
      }
    }
    return mlflowTracker({
      trackingUri: config.mlflow.trackingUri,
      username: config.mlflow.username,
      password: config.mlflow.password,
      token: config.mlflow.token,
      artifactStore,
    });
  }
  const { localTracker } = await import("./local.js");
  return localTracker({
    databasePath: path.join(config.home, "tracking.db"),
    store: await openStore(config),
    bucket: config.storage.buckets.mlflow,
  });
}
