/**
 * MLflow's limits on what a run may log, checked before any request (or row) is written, so a bad
 * key fails with a clear sentence instead of a half-logged batch. Both drivers apply them: a run
 * that logs fine locally also logs fine to MLflow.
 */
import { TrackingError } from "./errors.js";
import type { LogBatch } from "./types.js";

// MLflow 2.x (mlflow/utils/validation.py).
export const limits = {
  keyLength: 250,
  paramValueLength: 6000,
  tagValueLength: 5000,
  metricsPerBatch: 1000,
  paramsPerBatch: 100,
  tagsPerBatch: 100,
  itemsPerBatch: 1000,
  // The registry's ceiling on one page of model versions (SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD).
  modelVersionsPerPage: 200_000,
} as const;

/** Model versions per page when the caller does not say: few requests, modest answers. */
export const defaultModelVersionPageSize = 1000;

// MLflow accepts alphanumerics, underscores, dashes, periods, spaces and slashes in keys.
const keyPattern = /^[\w\-. /]+$/;

function invalid(message: string): TrackingError {
  return new TrackingError("TRACKING_INVALID", message);
}

export function assertKey(kind: "metric" | "param" | "tag", key: string): void {
  if (typeof key !== "string" || key.length === 0) throw invalid(`A ${kind} key is empty; give it a name.`);
  if (key.length > limits.keyLength)
    throw invalid(
      `The ${kind} key "${key.slice(0, 40)}…" is ${key.length} characters; MLflow allows ${limits.keyLength}.`,
    );
  if (!keyPattern.test(key)) {
    throw invalid(
      `The ${kind} key "${key}" may only contain letters, digits, "_", "-", ".", " " and "/" (MLflow's rule).`,
    );
  }
  if (key.startsWith("/") || key.split("/").includes(".."))
    throw invalid(`The ${kind} key "${key}" must be a relative path without "..".`);
}

/** The page size of a model version search, checked as MLflow checks `max_results`. */
export function modelVersionPageSize(pageSize: number | undefined): number {
  const size = pageSize ?? defaultModelVersionPageSize;
  if (!Number.isSafeInteger(size) || size < 1 || size > limits.modelVersionsPerPage) {
    throw invalid(
      `The page size ${size} is not a whole number from 1 to ${limits.modelVersionsPerPage} (MLflow's limit).`,
    );
  }
  return size;
}

/** Checks every item of a batch; throws on the first problem. */
export function assertBatch(batch: LogBatch): void {
  for (const metric of batch.metrics ?? []) {
    assertKey("metric", metric.key);
    if (typeof metric.value !== "number" || !Number.isFinite(metric.value)) {
      throw invalid(`The metric "${metric.key}" is ${metric.value}; log finite numbers only.`);
    }
    if (!Number.isSafeInteger(metric.step) || !Number.isSafeInteger(metric.timestamp)) {
      throw invalid(`The metric "${metric.key}" needs a whole-number step and a timestamp in milliseconds.`);
    }
  }
  for (const [key, value] of Object.entries(batch.params ?? {})) {
    assertKey("param", key);
    if (typeof value !== "string") throw invalid(`The param "${key}" must be a string.`);
    if (value.length > limits.paramValueLength)
      throw invalid(`The param "${key}" is ${value.length} characters long; MLflow allows ${limits.paramValueLength}.`);
  }
  for (const [key, value] of Object.entries(batch.tags ?? {})) {
    assertKey("tag", key);
    if (typeof value !== "string") throw invalid(`The tag "${key}" must be a string.`);
    if (value.length > limits.tagValueLength)
      throw invalid(`The tag "${key}" is ${value.length} characters long; MLflow allows ${limits.tagValueLength}.`);
  }
}

/** Splits a batch into requests within MLflow's per-request limits, keeping each kind in order. */
export function splitBatch(batch: LogBatch): LogBatch[] {
  const metrics = [...(batch.metrics ?? [])];
  const params = Object.entries(batch.params ?? {});
  const tags = Object.entries(batch.tags ?? {});
  const out: LogBatch[] = [];
  while (metrics.length > 0 || params.length > 0 || tags.length > 0) {
    const p = params.splice(0, limits.paramsPerBatch);
    const t = tags.splice(0, limits.tagsPerBatch);
    const m = metrics.splice(0, Math.min(limits.metricsPerBatch, limits.itemsPerBatch - p.length - t.length));
    out.push({ metrics: m, params: Object.fromEntries(p), tags: Object.fromEntries(t) });
  }
  return out;
}
