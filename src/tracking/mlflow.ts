/**
 * The MLflow driver: MLflow's documented REST API (2.0), over fetch.
 *
 * Artifacts go where the run's `artifact_uri` says: `s3://bucket/…` straight into the object store
 * (the deployment guide's Garage set-up, endpoint MLFLOW_S3_ENDPOINT_URL), or `mlflow-artifacts:/…`
 * through the server's proxied artifact API. Requests are retried with backoff on 429, 5xx and network
 * errors; an unreachable server, refused credentials or an HTML error page each get one clear sentence
 * that names the server (never its credentials).
 *
 * Facts of the real server (2.11) this relies on: DELETE endpoints read a JSON body; a missing alias
 * answers 400 INVALID_PARAMETER_VALUE, a missing experiment 404 RESOURCE_DOES_NOT_EXIST; creating an
 * existing experiment or model answers 400 RESOURCE_ALREADY_EXISTS (parallel tasks race: read it back);
 * re-logging a param with another value is refused; aliases are listed in `registered_model.aliases`
 * and in GET registered-models/alias (get by alias), not in model-versions/search; ids are strings, timestamps milliseconds.
 */
import { createReadStream } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { writeFileAtomic } from "../core/atomic-file.js";
import type { ObjectStore } from "../storage/types.js";
import { TrackingError } from "./errors.js";
import { assertBatch, defaultModelVersionPageSize, modelVersionPageSize, splitBatch } from "./limits.js";
import type {
  ArtifactEntry,
  Experiment,
  Metric,
  ModelVersion,
  RegisteredModel,
  Run,
  RunInfo,
  RunStatus,
  Tracker,
} from "./types.js";

export interface MlflowTrackerOptions {
  /** The tracking server, e.g. `http://mlflow:5000` (credentials go in the options below, not here). */
  trackingUri: string;
  username?: string;
  password?: string;
  token?: string;
  /** The object store that `s3://` artifact URIs live in (MLFLOW_S3_ENDPOINT_URL). */
  artifactStore?: ObjectStore;
  /** Attempts per request, retries included (default 4). */
  maxAttempts?: number;
  /** First backoff delay in milliseconds (default 200). */
  baseDelayMs?: number;
}

interface ApiError {
  error_code?: string;
  message?: string;
}

type KeyValue = { key: string; value: string };
const toPairs = (record: Record<string, string> = {}): KeyValue[] =>
  Object.entries(record).map(([key, value]) => ({ key, value }));
const fromPairs = (pairs: KeyValue[] | undefined): Record<string, string> =>
  Object.fromEntries((pairs ?? []).map((p) => [p.key, p.value]));

interface RawRunInfo {
  run_id: string;
  experiment_id: string;
  run_name?: string;
  status: RunStatus;
  start_time?: string | number;
  end_time?: string | number;
  artifact_uri: string;
}
interface RawMetric {
  key: string;
  value: number;
  timestamp: string | number;
  step?: string | number;
}
interface RawModelVersion {
  name: string;
  version: string;
  source: string;
  run_id?: string;
  creation_timestamp?: string | number;
  tags?: KeyValue[];
}

const REQUEST_TIMEOUT_MS = 120_000;

const num = (value: string | number | undefined) => (value === undefined ? undefined : Number(value));

export function mlflowTracker(options: MlflowTrackerOptions): Tracker {
  const base = options.trackingUri.replace(/\/+$/, "");
  const maxAttempts = options.maxAttempts ?? 4;
  const baseDelayMs = options.baseDelayMs ?? 200;
  const auth: Record<string, string> = options.token
    ? { authorization: `Bearer ${options.token}` }
    : options.username !== undefined
      ? { authorization: `Basic ${Buffer.from(`${options.username}:${options.password ?? ""}`).toString("base64")}` }
      : {};

  class HttpError extends Error {
    constructor(
      readonly status: number,
      readonly errorCode: string | undefined,
      message: string,
    ) {
      super(message);
    }
  }

  /** One API call with retries; resolves with the parsed JSON answer. */
  const call = async (
    method: "GET" | "POST" | "PATCH" | "DELETE" | "PUT",
    endpoint: string,
    payload?: Record<string, unknown>,
    raw?: { body: Uint8Array; contentType: string },
  ): Promise<Response> => {
    // A create that failed after the server committed it would be made twice by a retry (a second
    // RUNNING run, a second model version): creates are retried only when the server said it did
    // nothing (429).
    const creates = /\/(runs|model-versions)\/create$/.test(endpoint);
    let url = `${base}${endpoint}`;
    if (method === "GET" && payload) {
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(payload)) {
        if (value === undefined) continue;
        // A repeated field (order_by) is one parameter per item: MLflow reads every value of the key.
        for (const item of Array.isArray(value) ? value : [value]) query.append(key, String(item));
      }
      url += `?${query}`;
    }
    for (let attempt = 1; ; attempt++) {
      let retryable: boolean;
      let failure: TrackingError;
      try {
        const response = await fetch(url, {
          method,
          headers: {
            ...auth,
            ...(raw
              ? { "content-type": raw.contentType }
              : method !== "GET"
                ? { "content-type": "application/json" }
                : {}),
          },
          body: raw ? raw.body : method !== "GET" && payload ? JSON.stringify(payload) : undefined,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          redirect: "manual",
        });
        if (response.ok) return response;
        const text = await response.text();
        let error: ApiError = {};
        try {
          error = JSON.parse(text) as ApiError;
        } catch {
          // A crashed server answers with an HTML page; said as such below.
        }
        if (response.status === 401) {
          throw new TrackingError(
            "TRACKING_AUTH",
            `The MLflow server at ${base} refused the credentials (HTTP 401); check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN.`,
          );
        }
        if (response.status === 403) {
          throw new TrackingError(
            "TRACKING_AUTH",
            `The MLflow server at ${base} denied ${method} ${endpoint} to these credentials (HTTP 403); ask for permission on that experiment or model.`,
          );
        }
        if (response.status >= 300 && response.status < 400) {
          throw new TrackingError(
            "TRACKING_FAILED",
            `The MLflow server at ${base} redirected ${endpoint} (HTTP ${response.status}, to ${response.headers.get("location") ?? "?"}), as a login page in front of it would; check MLFLOW_TRACKING_URI.`,
          );
        }
        retryable = response.status === 429 || (response.status >= 500 && !creates);
        if (!retryable && error.error_code === undefined && response.status === 404 && !raw) {
          throw new TrackingError(
            "TRACKING_FAILED",
            `The server at ${base} has no MLflow endpoint ${endpoint} (HTTP 404 without an MLflow answer); check MLFLOW_TRACKING_URI.`,
          );
        }
        if (!retryable) throw new HttpError(response.status, error.error_code, error.message ?? text.slice(0, 200));
        failure = new TrackingError(
          "TRACKING_SERVER_ERROR",
          error.error_code
            ? `The MLflow server at ${base} failed ${method} ${endpoint} with HTTP ${response.status} (${error.error_code}: ${error.message}) after ${attempt} attempts; retry later or check the server's logs.`
            : `The MLflow server at ${base} failed ${method} ${endpoint} with HTTP ${response.status} and answered with ${text.trimStart().startsWith("<") ? "an HTML page" : "something"} instead of JSON, after ${attempt} attempts; check the server's logs.`,
          { context: { status: response.status, attempts: attempt } },
        );
      } catch (error) {
        if (error instanceof TrackingError || error instanceof HttpError) throw error;
        retryable = !creates;
        const cause = (error as { cause?: { code?: string } }).cause;
        failure = new TrackingError(
          "TRACKING_UNREACHABLE",
          `Cannot reach the MLflow server at ${base} (${cause?.code ?? (error as Error).message}) after ${attempt} attempts; check MLFLOW_TRACKING_URI and that the server is running.`,
          { cause: error, context: { attempts: attempt } },
        );
      }
      if (!retryable || attempt >= maxAttempts) throw failure;
      const delay = baseDelayMs * 2 ** (attempt - 1);
      await new Promise((resolve) => setTimeout(resolve, delay / 2 + Math.random() * (delay / 2)));
    }
  };

  const api = async <T>(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    endpoint: string,
    payload?: Record<string, unknown>,
  ): Promise<T> => {
    const response = await call(method, `/api/2.0/mlflow/${endpoint}`, payload);
    const text = await response.text();
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new TrackingError(
        "TRACKING_SERVER_ERROR",
        `The MLflow server at ${base} answered ${endpoint} with ${text.trimStart().startsWith("<") ? "an HTML page" : "something"} instead of JSON; check MLFLOW_TRACKING_URI (is a proxy or login page in front of it?).`,
      );
    }
  };

  /** The call's answer, or null when the server says the thing does not exist. */
  const orNull = async <T>(
    request: Promise<T>,
    absentCodes: string[] = ["RESOURCE_DOES_NOT_EXIST"],
  ): Promise<T | null> => {
    try {
      return await request;
    } catch (error) {
      // A 404 without an MLflow error code is a wrong URL (an HTML page), not an absent thing.
      if (error instanceof HttpError && error.errorCode !== undefined && absentCodes.includes(error.errorCode))
        return null;
      throw error;
    }
  };

  const failed = (error: unknown, doing: string): never => {
    if (error instanceof HttpError) {
      if (error.status >= 500) {
        // Only creates get here (everything else was retried): the server may have made it.
        throw new TrackingError(
          "TRACKING_SERVER_ERROR",
          `The MLflow server at ${base} failed to ${doing} (HTTP ${error.status}, ${error.errorCode ?? "no error code"}); not retried, as it may have been done: check before trying again.`,
          { cause: error, context: { status: error.status, errorCode: error.errorCode } },
        );
      }
      const code =
        error.status === 404 || error.errorCode === "RESOURCE_DOES_NOT_EXIST"
          ? "TRACKING_NOT_FOUND"
          : "TRACKING_FAILED";
      throw new TrackingError(
        code,
        `MLflow at ${base} refused to ${doing}: ${error.errorCode ?? `HTTP ${error.status}`}: ${error.message}.`,
        {
          cause: error,
          context: { status: error.status, errorCode: error.errorCode },
        },
      );
    }
    throw error;
  };

  const experimentOf = (raw: {
    experiment_id: string;
    name: string;
    artifact_location?: string;
    tags?: KeyValue[];
  }): Experiment => ({
    id: raw.experiment_id,
    name: raw.name,
    artifactLocation: raw.artifact_location ?? "",
    tags: fromPairs(raw.tags),
  });
  const runInfoOf = (raw: RawRunInfo): RunInfo => ({
    id: raw.run_id,
    experimentId: raw.experiment_id,
    name: raw.run_name || undefined,
    status: raw.status,
    startTime: num(raw.start_time) ?? 0,
    endTime: num(raw.end_time),
    artifactUri: raw.artifact_uri,
  });
  const metricOf = (raw: RawMetric): Metric => ({
    key: raw.key,
    value: Number(raw.value),
    timestamp: Number(raw.timestamp),
    step: num(raw.step) ?? 0,
  });
  const versionOf = (raw: RawModelVersion): ModelVersion => ({
    name: raw.name,
    version: String(raw.version),
    source: raw.source,
    runId: raw.run_id || undefined,
    creationTimestamp: num(raw.creation_timestamp) ?? 0,
    tags: fromPairs(raw.tags),
  });

  /**
   * Model versions, a page at a time. Ordered by name, then version, so offset pages do not shift as
   * versions are updated (the server's default order is by last update).
   */
  async function* searchVersions(filter: string | undefined, pageSize: number, doing: string) {
    let pageToken: string | undefined;
    do {
      const answer = await api<{ model_versions?: RawModelVersion[]; next_page_token?: string }>(
        "GET",
        "model-versions/search",
        {
          filter,
          max_results: pageSize,
          order_by: ["name ASC", "version_number ASC"],
          page_token: pageToken,
        },
      ).catch((error: unknown) => failed(error, doing));
      for (const raw of answer.model_versions ?? []) yield versionOf(raw);
      pageToken = answer.next_page_token || undefined;
    } while (pageToken);
  }

  const getRunOrThrow = async (runId: string): Promise<Run> => {
    const run = await tracker.getRun(runId);
    if (run === null)
      throw new TrackingError("TRACKING_NOT_FOUND", `There is no run ${runId} on the MLflow server at ${base}.`);
    return run;
  };

  // --- artifacts: `s3://bucket/prefix` in the object store, or the server's proxied artifact API ---

  type ArtifactRoot = { kind: "store"; bucket: string; prefix: string } | { kind: "proxy"; path: string };
  const artifactRoot = (uri: string): ArtifactRoot => {
    const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
    if (s3) {
      if (!options.artifactStore) {
        throw new TrackingError(
          "TRACKING_INVALID",
          `The run's artifacts are at ${uri}, but no S3 endpoint is configured; set MLFLOW_S3_ENDPOINT_URL.`,
        );
      }
      return { kind: "store", bucket: s3[1] as string, prefix: (s3[2] as string).replace(/\/+$/, "") };
    }
    const proxied = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(uri);
    if (proxied) return { kind: "proxy", path: (proxied[1] as string).replace(/\/+$/, "") };
    throw new TrackingError(
      "TRACKING_INVALID",
      `Artifact URIs like ${uri} are not supported; use s3:// or mlflow-artifacts:/ artifact roots.`,
    );
  };
  const join = (...parts: string[]) => parts.filter((p) => p !== "").join("/");
  const encodePath = (p: string) => p.split("/").map(encodeURIComponent).join("/");

  const localFiles = async (localPath: string): Promise<Array<{ file: string; relative: string }>> => {
    const stats = await fsp.stat(localPath).catch((cause: unknown) => {
      throw new TrackingError(
        "TRACKING_NOT_FOUND",
        `Cannot read ${localPath} to upload it as an artifact; check the path.`,
        { cause },
      );
    });
    if (stats.isFile()) return [{ file: localPath, relative: path.basename(localPath) }];
    const out: Array<{ file: string; relative: string }> = [];
    for (const entry of await fsp.readdir(localPath, { withFileTypes: true, recursive: true })) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath ?? entry.path, entry.name);
      out.push({ file, relative: path.relative(localPath, file).split(path.sep).join("/") });
    }
    return out.sort((a, b) => (a.relative < b.relative ? -1 : 1));
  };

  const listArtifactLevel = async (root: ArtifactRoot, sub: string): Promise<ArtifactEntry[]> => {
    if (root.kind === "proxy") {
      const answer = (await (
        await call("GET", "/api/2.0/mlflow-artifacts/artifacts", { path: join(root.path, sub) })
      ).json()) as {
        files?: Array<{ path: string; is_dir: boolean; file_size?: string | number }>;
      };
      return (answer.files ?? []).map((f) => ({
        path: join(sub, f.path),
        isDir: f.is_dir,
        size: f.is_dir ? undefined : num(f.file_size),
      }));
    }
    const store = options.artifactStore as ObjectStore;
    const prefix = `${join(root.prefix, sub)}/`.replace(/^\//, "");
    const entries = new Map<string, ArtifactEntry>();
    for await (const object of store.list(root.bucket, prefix)) {
      const rest = object.key.slice(prefix.length);
      const slash = rest.indexOf("/");
      const name = slash === -1 ? rest : rest.slice(0, slash);
      entries.set(name, { path: join(sub, name), isDir: slash !== -1, size: slash === -1 ? object.size : undefined });
    }
    return [...entries.values()];
  };

  const readArtifact = async (root: ArtifactRoot, file: string): Promise<Readable | null> => {
    if (root.kind === "proxy") {
      try {
        const response = await call("GET", `/api/2.0/mlflow-artifacts/artifacts/${encodePath(join(root.path, file))}`);
        return Readable.fromWeb(response.body as import("node:stream/web").ReadableStream);
      } catch (error) {
        if (error instanceof HttpError && error.status === 404) return null;
        throw error;
      }
    }
    return (await (options.artifactStore as ObjectStore).get(root.bucket, join(root.prefix, file)))?.body ?? null;
  };

  const tracker: Tracker = {
    driver: "mlflow",
    location: base,

    async getExperimentByName(name) {
      const answer = await orNull(
        api<{ experiment: Parameters<typeof experimentOf>[0] }>("GET", "experiments/get-by-name", {
          experiment_name: name,
        }),
      );
      return answer === null ? null : experimentOf(answer.experiment);
    },

    async getOrCreateExperiment(name, tags) {
      const existing = await tracker.getExperimentByName(name);
      if (existing) return existing;
      try {
        await api("POST", "experiments/create", { name, tags: toPairs(tags) });
      } catch (error) {
        // Another task created it between our read and our create.
        if (!(error instanceof HttpError && error.errorCode === "RESOURCE_ALREADY_EXISTS"))
          failed(error, `create experiment "${name}"`);
      }
      const created = await tracker.getExperimentByName(name);
      if (!created)
        throw new TrackingError(
          "TRACKING_FAILED",
          `MLflow at ${base} created experiment "${name}" but cannot find it.`,
        );
      return created;
    },

    async startRun(experimentId, runOptions = {}) {
      const answer = await api<{ run: { info: RawRunInfo } }>("POST", "runs/create", {
        experiment_id: experimentId,
        run_name: runOptions.name,
        start_time: runOptions.startTime ?? Date.now(),
        tags: toPairs(runOptions.tags),
      }).catch((error: unknown) => failed(error, `start a run in experiment ${experimentId}`));
      return runInfoOf(answer.run.info);
    },

    async endRun(runId, status, endTime) {
      await api("POST", "runs/update", { run_id: runId, status, end_time: endTime ?? Date.now() }).catch(
        (error: unknown) => failed(error, `end run ${runId}`),
      );
    },

    async getRun(runId) {
      const answer = await orNull(
        api<{ run: { info: RawRunInfo; data?: { metrics?: RawMetric[]; params?: KeyValue[]; tags?: KeyValue[] } } }>(
          "GET",
          "runs/get",
          {
            run_id: runId,
          },
        ),
        ["RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"],
      );
      if (answer === null) return null;
      const data = answer.run.data ?? {};
      return {
        info: runInfoOf(answer.run.info),
        params: fromPairs(data.params),
        tags: fromPairs(data.tags),
        metrics: Object.fromEntries((data.metrics ?? []).map((m) => [m.key, metricOf(m)])),
      };
    },

    async searchRuns(experimentIds, searchOptions = {}) {
      const answer = await api<{ runs?: Array<{ info: RawRunInfo }> }>("POST", "runs/search", {
        experiment_ids: experimentIds,
        filter: searchOptions.status ? `attributes.status = '${searchOptions.status}'` : undefined,
        max_results: searchOptions.maxResults ?? 100,
        order_by: ["attributes.start_time DESC"],
      }).catch((error: unknown) => failed(error, "search runs"));
      return (answer.runs ?? []).map((r) => runInfoOf(r.info));
    },

    async logBatch(runId, batch) {
      assertBatch(batch);
      for (const part of splitBatch(batch)) {
        try {
          await api("POST", "runs/log-batch", {
            run_id: runId,
            metrics: part.metrics,
            params: toPairs(part.params),
            tags: toPairs(part.tags),
          });
        } catch (error) {
          if (error instanceof HttpError && /Changing param values is not allowed/i.test(error.message)) {
            throw new TrackingError(
              "TRACKING_CONFLICT",
              `A param of run ${runId} was already logged with another value: ${error.message}`,
              {
                cause: error,
              },
            );
          }
          failed(error, `log to run ${runId}`);
        }
      }
    },

    async metricHistory(runId, key) {
      const metrics: Metric[] = [];
      let pageToken: string | undefined;
      do {
        const answer = await api<{ metrics?: RawMetric[]; next_page_token?: string }>("GET", "metrics/get-history", {
          run_id: runId,
          metric_key: key,
          page_token: pageToken,
        }).catch((error: unknown) => failed(error, `read metric "${key}" of run ${runId}`));
        metrics.push(...(answer.metrics ?? []).map(metricOf));
        pageToken = answer.next_page_token || undefined;
      } while (pageToken);
      return metrics.sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
    },

    async logArtifacts(runId, localPath, artifactPath = "") {
      const root = artifactRoot((await getRunOrThrow(runId)).info.artifactUri);
      for (const { file, relative } of await localFiles(localPath)) {
        const target = join(artifactPath, relative);
        if (root.kind === "store") {
          await (options.artifactStore as ObjectStore).put(
            root.bucket,
            join(root.prefix, target),
            createReadStream(file),
          );
        } else {
          await call("PUT", `/api/2.0/mlflow-artifacts/artifacts/${encodePath(join(root.path, target))}`, undefined, {
            body: await fsp.readFile(file),
            contentType: "application/octet-stream",
          });
        }
      }
    },

    async listArtifacts(runId, sub = "") {
      const root = artifactRoot((await getRunOrThrow(runId)).info.artifactUri);
      return listArtifactLevel(root, sub.replace(/^\/+|\/+$/g, ""));
    },

    async downloadArtifacts(runId, artifactPath, destination) {
      const root = artifactRoot((await getRunOrThrow(runId)).info.artifactUri);
      const clean = artifactPath.replace(/^\/+|\/+$/g, "");
      // Listed first: the real server answers a download of a missing file with a 500, not a 404.
      const files: string[] = [];
      const walk = async (sub: string) => {
        for (const entry of await listArtifactLevel(root, sub)) {
          if (entry.isDir) await walk(entry.path);
          else files.push(entry.path);
        }
      };
      await walk(clean);
      if (files.length === 0) {
        const parent = clean.includes("/") ? clean.slice(0, clean.lastIndexOf("/")) : "";
        const siblings = await listArtifactLevel(root, parent);
        if (siblings.some((entry) => entry.path === clean && !entry.isDir)) files.push(clean);
      }
      if (files.length === 0) {
        throw new TrackingError(
          "TRACKING_NOT_FOUND",
          `Run ${runId} has no artifact "${artifactPath}"; list them with listArtifacts.`,
        );
      }
      for (const file of files) {
        const body = await readArtifact(root, file);
        if (body === null)
          throw new TrackingError(
            "TRACKING_NOT_FOUND",
            `The artifact "${file}" of run ${runId} disappeared while downloading.`,
          );
        // As MLflow's download_artifacts: each artifact at its own path under the destination.
        const target = path.join(destination, ...file.split("/"));
        await fsp.mkdir(path.dirname(target), { recursive: true });
        await writeFileAtomic(target, body);
      }
      return path.join(destination, ...clean.split("/"));
    },

    async getOrCreateRegisteredModel(name, tags) {
      try {
        await api("POST", "registered-models/create", { name, tags: toPairs(tags) });
      } catch (error) {
        if (!(error instanceof HttpError && error.errorCode === "RESOURCE_ALREADY_EXISTS"))
          failed(error, `register model "${name}"`);
      }
      const model = await tracker.getRegisteredModel(name);
      if (!model)
        throw new TrackingError("TRACKING_FAILED", `MLflow at ${base} registered model "${name}" but cannot find it.`);
      return model;
    },

    async getRegisteredModel(name) {
      const answer = await orNull(
        api<{
          registered_model: {
            name: string;
            creation_timestamp?: string | number;
            aliases?: Array<{ alias: string; version: string }>;
            tags?: KeyValue[];
          };
        }>("GET", "registered-models/get", { name }),
      );
      if (answer === null) return null;
      const raw = answer.registered_model;
      const model: RegisteredModel = {
        name: raw.name,
        aliases: Object.fromEntries((raw.aliases ?? []).map((a) => [a.alias, String(a.version)])),
        tags: fromPairs(raw.tags),
        creationTimestamp: num(raw.creation_timestamp) ?? 0,
      };
      return model;
    },

    async createModelVersion(name, versionOptions) {
      const run = await getRunOrThrow(versionOptions.runId);
      const answer = await api<{ model_version: RawModelVersion }>("POST", "model-versions/create", {
        name,
        source: join(run.info.artifactUri.replace(/\/+$/, ""), versionOptions.artifactPath),
        run_id: versionOptions.runId,
        tags: toPairs(versionOptions.tags),
      }).catch((error: unknown) => failed(error, `create a version of model "${name}"`));
      return versionOf(answer.model_version);
    },

    async getModelVersion(name, version) {
      const answer = await orNull(
        api<{ model_version: RawModelVersion }>("GET", "model-versions/get", { name, version }),
        ["RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"],
      );
      return answer === null ? null : versionOf(answer.model_version);
    },

    async latestModelVersion(name) {
      let latest: ModelVersion | null = null;
      const filter = `name='${name.replace(/'/g, "\\'")}'`;
      for await (const version of searchVersions(
        filter,
        defaultModelVersionPageSize,
        `list versions of model "${name}"`,
      )) {
        if (latest === null || Number(version.version) > Number(latest.version)) latest = version;
      }
      return latest;
    },

    async *searchModelVersions(searchOptions = {}) {
      const pageSize = modelVersionPageSize(searchOptions.pageSize);
      yield* searchVersions(undefined, pageSize, "list the registered model versions");
    },

    async setAlias(name, alias, version) {
      await api("POST", "registered-models/alias", { name, alias, version }).catch((error: unknown) =>
        failed(error, `point alias "${alias}" of model "${name}" at version ${version}`),
      );
    },

    async deleteAlias(name, alias) {
      await api("DELETE", "registered-models/alias", { name, alias }).catch((error: unknown) =>
        failed(error, `delete alias "${alias}" of model "${name}"`),
      );
    },

    async getVersionByAlias(name, alias) {
      // A missing alias is a 400 INVALID_PARAMETER_VALUE on the real server, not a 404.
      const answer = await orNull(
        api<{ model_version: RawModelVersion }>("GET", "registered-models/alias", { name, alias }),
        ["RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"],
      );
      return answer === null ? null : versionOf(answer.model_version);
    },
  };
  return tracker;
}
