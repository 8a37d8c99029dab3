import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fsStore } from "../../src/storage/fs.js";
import { localTracker } from "../../src/tracking/local.js";
import { trackerContract } from "./tracker.contract.js";

trackerContract("local (SQLite + filesystem store)", async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-tracker-local-"));
  const store = fsStore({ root: path.join(root, "store") });
  await store.ensureBucket("mlflow-artifacts");
  const tracker = localTracker({ databasePath: path.join(root, "tracking.db"), store, bucket: "mlflow-artifacts" });
  return { tracker, teardown: () => fsp.rm(root, { recursive: true, force: true }) };
});
