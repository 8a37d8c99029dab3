/**
 * The object store, chosen by configuration. Drivers are imported lazily so that a command that
 * never touches S3 never loads the AWS SDK.
 */
import type { Config } from "../core/config.js";
import { StorageError } from "./errors.js";
import type { ObjectStore } from "./types.js";

export { StorageError, type StorageErrorCode } from "./errors.js";
export { assertBucket, assertKey, parseObjectPath } from "./keys.js";
export { downloadToFile, uploadFile } from "./transfer.js";
export type { ObjectBody, ObjectEntry, ObjectInfo, ObjectStore, PutOptions, StoredObject } from "./types.js";

/** Which key pair to use against S3: CI publishes code, the runtime (Airflow) key reads and writes data. */
export type StoreRole = "cicd" | "runtime";

export async function openStore(
  config: Config,
  role: StoreRole = "runtime",
  access: "read-write" | "read-only" = "read-write",
): Promise<ObjectStore> {
  const storage = config.storage;
  if (storage.driver === "fs") {
    const { fsStore } = await import("./fs.js");
    const store = fsStore({ root: storage.root });
    // The embedded store has no administrator to create buckets: its configured buckets just exist.
    for (const bucket of Object.values(storage.buckets)) await store.ensureBucket(bucket);
    return store;
  }
  // Each role prefers its own key and falls back to the other, so one key pair is enough to start.
  const credentials = role === "cicd" ? (storage.cicd ?? storage.airflow) : (storage.airflow ?? storage.cicd);
  if (credentials === undefined) {
    throw new StorageError(
      "STORAGE_ACCESS_DENIED",
      "No access key is configured for the S3 store; set GARAGE_AIRFLOW_ACCESS_KEY_ID/GARAGE_AIRFLOW_SECRET_ACCESS_KEY (or the GARAGE_CICD_* pair).",
    );
  }
  const options = { endpoint: storage.endpoint, region: storage.region, ...credentials };
  // Reading needs no SDK: the bootstrap opens the store read-only and starts ~200 ms sooner.
  if (access === "read-only") return (await import("./s3-reader.js")).s3ReaderStore(options);
  return (await import("./s3.js")).s3Store(options);
}
