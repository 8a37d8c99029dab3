/**
 * A FAKE MLflow tracking server for tests — not MLflow. A loopback node:http server with an in-memory
 * store that answers the part of MLflow's REST API (2.0) the project's MLflow driver uses, written
 * from MLflow's own sources (mlflow/protos/service.proto and model_registry.proto, mlflow/server/
 * handlers.py, mlflow/utils/validation.py and the SQLAlchemy stores) so that it refuses what a real
 * server refuses, with the same HTTP statuses, error codes and, mostly, the same messages.
 *
 * Where MLflow versions differ it takes the strictest behaviour (each case is noted below). It is
 * deliberately stricter than MLflow in one way: it refuses request fields the API does not define,
 * which a real server silently drops, so a misspelt field fails here instead of vanishing there.
 */
import { Buffer } from "node:buffer";
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

export interface FakeMlflowServer {
  /** The tracking URI, e.g. http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  /** Closes the server and every open connection. */
  close(): Promise<void>;
  /** Every request in arrival order: method, path without the query string, status answered. */
  requests: Array<{ method: string; path: string; status: number }>;
  /**
   * The next `count` requests answer `status` without being processed: a JSON MLflow error for a
   * number (503 TEMPORARILY_UNAVAILABLE, 429 REQUEST_LIMIT_EXCEEDED, …), or Flask's HTML
   * "Internal Server Error" page for "html500", as a crashed server answers.
   */
  failNext(count: number, status: number | "html500"): void;
}

export interface FakeMlflowOptions {
  /** Where runs keep artifacts: "mlflow-artifacts:/" (proxied through this server, the default) or e.g. "s3://mlflow-artifacts/". */
  artifactRoot?: string;
  /** Like `mlflow server --app-name basic-auth`, or a proxy checking `Authorization: Bearer <token>`. */
  auth?: { username: string; password: string } | { token: string };
}

class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
// databricks_pb2 error codes → HTTP status, as mlflow/exceptions.py maps them.
const STATUS: Record<string, number> = {
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  RESOURCE_DOES_NOT_EXIST: 404,
  REQUEST_LIMIT_EXCEEDED: 429,
  INTERNAL_ERROR: 500,
  TEMPORARILY_UNAVAILABLE: 503,
};
const INJECTED: Record<number, string> = { 429: "REQUEST_LIMIT_EXCEEDED", 503: "TEMPORARILY_UNAVAILABLE" };
const SEE_DOCS = " See the API docs for more information about request parameters.";
const invalid = (message: string) => new ApiError("INVALID_PARAMETER_VALUE", message);
const notFound = (message: string) => new ApiError("RESOURCE_DOES_NOT_EXIST", message);
const missing = (field: string) => invalid(`Missing value for required parameter '${field}'.${SEE_DOCS}`);
const badValue = (field: string, value: unknown, why?: string) =>
  invalid(`Invalid value ${JSON.stringify(value)} for parameter '${field}' supplied${why ? `: ${why}` : "."}`);

const LIMITS = { key: 250, paramValue: 6000, tagValue: 5000, metrics: 1000, paramsOrTags: 100, items: 1000 };
const RUN_STATUSES = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"];
const VIEW_TYPES = ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"];

// A request schema: field → type; a leading "!" marks a required field. `{ of }` is a repeated message.
type FieldType = "string" | "id" | "ids" | "strings" | "int64" | "double" | "status" | "view" | { of: Spec };
type Spec = Record<string, FieldType>;
type Req = Record<string, unknown>;
type Kv = { key: string; value?: string };
type Metric = { key: string; value: number; timestamp: number; step: number };
const TAG: Spec = { "!key": "string", value: "string" };
const METRIC: Spec = { "!key": "string", "!value": "double", "!timestamp": "int64", step: "int64" };

function parse(spec: Spec, input: unknown, prefix = ""): Req {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw badValue(prefix.replace(/\.$/, "") || "request body", input, "expected a JSON object.");
  }
  const types = new Map(Object.entries(spec).map(([name, type]) => [name.replace(/^!/, ""), type]));
  const out: Req = {};
  for (const [name, value] of Object.entries(input)) {
    const type = types.get(name);
    if (!type) {
      throw invalid(
        `Invalid parameter '${prefix}${name}': the API defines no such field (this fake refuses unknown fields; a real MLflow server silently ignores them).`,
      );
    }
    if (value !== null) out[name] = convert(type, value, prefix + name);
  }
  for (const name of Object.keys(spec).filter((n) => n.startsWith("!"))) {
    if (out[name.slice(1)] === undefined || out[name.slice(1)] === "") throw missing(prefix + name.slice(1));
  }
  return out;
}

// protobuf's JSON mapping: int64 as a number or a decimal string, doubles also as "NaN"/"Infinity", enums by name or number.
const DECIMAL = /^([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|NaN|-?Infinity)$/;
const enumOf = (names: string[]) => (v: unknown) =>
  typeof v === "string" ? names.find((name) => name === v) : typeof v === "number" ? names[v - 1] : undefined;
const isId = (v: unknown) => typeof v === "string" || typeof v === "number"; // old clients sent numeric experiment ids
const CONVERT: Record<Exclude<FieldType, { of: Spec }>, (v: unknown) => unknown> = {
  string: (v) => (typeof v === "string" ? v : undefined),
  id: (v) => (isId(v) ? String(v) : undefined),
  ids: (v) => (Array.isArray(v) && v.every(isId) ? v.map(String) : undefined),
  strings: (v) => (Array.isArray(v) && v.every((x) => typeof x === "string") ? v : undefined),
  int64: (v) => (Number.isInteger(v) ? v : typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : undefined),
  double: (v) => (typeof v === "number" ? v : typeof v === "string" && DECIMAL.test(v) ? Number(v) : undefined),
  status: enumOf(RUN_STATUSES),
  view: enumOf(VIEW_TYPES),
};

function convert(type: FieldType, value: unknown, field: string): unknown {
  if (typeof type === "object") {
    if (!Array.isArray(value)) throw badValue(field, value, `expected a JSON array.${SEE_DOCS}`);
    return value.map((item, i) => parse(type.of, item, `${field}[${i}].`));
  }
  const result = CONVERT[type](value);
  const kind = Array.isArray(value) ? "array" : typeof value;
  if (result === undefined) throw badValue(field, value, `Hint: Value was of type '${kind}'.${SEE_DOCS}`);
  return result;
}

// Keys may hold letters, digits, "_", "-", ".", " " and "/", and must not be path tricks ("a/../b", "/a", "a/").
// MLflow 2.18+ also allows ":" (not on Windows); older servers refuse it, so the fake refuses it too.
function checkKey(key: string, field: string, entity: string): void {
  if (!/^[\p{L}\p{N}_/. -]*$/u.test(key)) {
    throw badValue(
      field,
      key,
      "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).",
    );
  }
  const norm = path.posix.normalize(key).replace(/(.)\/+$/, "$1");
  if (norm !== key || norm === "." || norm.startsWith("..") || norm.startsWith("/")) {
    throw badValue(
      field,
      key,
      `Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '${norm}'`,
    );
  }
  checkLength(key, LIMITS.key, entity);
}

// MLflow 2.11+ truncates over-long param and tag values by default (MLFLOW_TRUNCATE_LONG_VALUES) instead of
// refusing them; older servers, and servers run with that variable off, refuse. The fake refuses.
function checkLength(value: string, limit: number, entity: string): void {
  if ([...value].length > limit) throw invalid(`'${entity}' exceeds the maximum length of ${limit} characters`);
}

// Run, experiment and registry tags: key rules, key ≤ 250 and value ≤ 5000 (runs allow 8000 since MLflow 2.17).
function tagMap(items: unknown, field = "tags"): Map<string, string> {
  const tags = new Map<string, string>();
  for (const [i, tag] of ((items as Kv[] | undefined) ?? []).entries()) {
    checkKey(tag.key, `${field}[${i}].key`, `${field}[${i}].key`);
    checkLength(tag.value ?? "", LIMITS.tagValue, `${field}[${i}].value`);
    tags.set(tag.key, tag.value ?? "");
  }
  return tags;
}
const kv = (map: Map<string, string>) => [...map].map(([key, value]) => ({ key, value }));

function checkAlias(alias: string): void {
  if (!/^[\p{L}\p{N}_-]*$/u.test(alias))
    throw invalid(
      `Invalid alias name: '${alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-).`,
    );
  checkLength(alias, 255, "Registered model alias name");
  if (alias.toLowerCase() === "latest") throw invalid("'latest' alias name (case insensitive) is reserved.");
  if (/^[vV]\d+$/.test(alias)) throw invalid(`Version alias name '${alias}' is reserved.`);
}

// A model version's source must not be a local path (allowed by MLflow only inside a run's local artifact
// directory, which this fake's runs never have) nor contain ".." parts.
function checkSource(source: string): void {
  const scheme = /^([a-zA-Z][\w+.-]*):/.exec(source)?.[1];
  if (!scheme || scheme === "file") {
    throw invalid(
      `Invalid model version source: '${source}'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.`,
    );
  }
  if (source.split("/").includes("..")) {
    throw invalid(
      `Invalid model version source: '${source}'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.`,
    );
  }
}

// mlflow.utils.uri.validate_path_is_safe, for artifact paths.
function safePath(p: string): string {
  if (p.includes("#") || p.includes("\\") || p.startsWith("/") || /^[a-zA-Z]:/.test(p) || p.split("/").includes(".."))
    throw invalid("Invalid path");
  return p;
}

// Page tokens are base64 of '{"offset": N}' (SearchUtils.create_page_token).
const pageToken = (offset: number) => Buffer.from(`{"offset": ${offset}}`).toString("base64");
function page<T>(all: T[], token: unknown, max: number): { items: T[]; next_page_token: string | undefined } {
  let offset = 0;
  if (token) {
    const decoded = Buffer.from(token as string, "base64").toString();
    try {
      offset = Number(JSON.parse(decoded).offset);
    } catch {
      throw invalid(`Invalid page token, decoded value=${decoded}`);
    }
    if (!Number.isInteger(offset) || offset < 1) throw invalid(`Invalid page token, parsed value=${decoded}`);
  }
  return {
    items: all.slice(offset, offset + max),
    next_page_token: offset + max < all.length ? pageToken(offset + max) : undefined,
  };
}
function maxResults(value: unknown, byDefault: number, limit: number): number {
  const n = (value as number | undefined) ?? byDefault;
  if (n < 1) throw invalid(`Invalid value ${n} for parameter 'max_results' supplied. It must be a positive integer`);
  if (n > limit) throw invalid(`Invalid value ${n} for parameter 'max_results' supplied. It must be at most ${limit}`);
  return n;
}

// The fake understands only what the driver needs; anything else is refused with a sentence saying so.
const ATTRIBUTE = String.raw`^\s*(?:(?:attributes?|attr|run)\.)?`;
function statusFilter(filter: unknown): { equal: boolean; status: string } | undefined {
  if (!filter || !(filter as string).trim()) return undefined;
  const match = new RegExp(`${ATTRIBUTE}status\\s*(!?=)\\s*(['"])(.*)\\2\\s*$`).exec(filter as string);
  if (!match)
    throw invalid(
      `This FAKE MLflow server only understands run filters like "attributes.status = 'FAILED'"; got: ${filter}`,
    );
  return { equal: match[1] === "=", status: match[3] ?? "" };
}
function startTimeSign(orderBy: unknown): number {
  const clauses = (orderBy as string[] | undefined) ?? [];
  if (clauses.length === 0) return -1; // MLflow's default: start_time DESC, then run_id ASC
  const match =
    clauses.length === 1
      ? new RegExp(`${ATTRIBUTE}start_time(?:\\s+(ASC|DESC))?\\s*$`, "i").exec(clauses[0] ?? "")
      : null;
  if (!match) throw invalid(`This FAKE MLflow server only orders runs by start_time; got: ${JSON.stringify(clauses)}`);
  return match[1]?.toUpperCase() === "DESC" ? -1 : 1;
}

// Like protobuf's MessageToJson: empty repeated and unset fields are left out (a search that finds
// nothing answers {}), int64 stays a JSON number (MLflow's message_to_json), NaN/±Inf become strings.
const replacer = (key: string, value: unknown) => {
  if (Array.isArray(value) && value.length === 0 && key !== "") return undefined;
  if (typeof value === "number" && !Number.isFinite(value))
    return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
  return value;
};

const API = "/api/2.0/mlflow/";
const ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts";
type Reply = { status: number; body: string | Buffer; type: string; headers?: Record<string, string> };
const json = (value: unknown, status = 200): Reply => ({
  status,
  body: JSON.stringify(value, replacer),
  type: "application/json",
});
const html = (status: number, title: string, text: string, headers?: Record<string, string>): Reply => ({
  status,
  body: `<!doctype html>\n<html lang=en>\n<title>${status} ${title}</title>\n<h1>${title}</h1>\n<p>${text}</p>\n`,
  type: "text/html; charset=utf-8",
  headers,
});
const notAllowed = (allow: string) =>
  html(405, "Method Not Allowed", "The method is not allowed for the requested URL.", { Allow: allow });
const NOT_FOUND =
  "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.";
const CRASH =
  "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.";
const UNAUTHENTICATED =
  "You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.";

// A GET's fields come from the query string; repeated fields may appear several times.
function fromQuery(spec: Spec, url: URL): Req {
  const repeated = (k: string) => ["strings", "ids"].includes(String(spec[k] ?? spec[`!${k}`]));
  const keys = [...new Set(url.searchParams.keys())];
  return Object.fromEntries(keys.map((k) => [k, repeated(k) ? url.searchParams.getAll(k) : url.searchParams.get(k)]));
}

// Other verbs carry a JSON body; POST and PUT must say Content-Type: application/json (mlflow/server/validation.py).
function jsonBody(method: string, contentType: string | undefined, body: Buffer): unknown {
  const type = contentType?.split(";")[0];
  if ((method === "POST" || method === "PUT") && type !== "application/json") {
    const got = type && /^[\w\-/;,+ ]*$/.test(type) ? ` Got '${type}'.` : "";
    throw invalid(`Bad Request. Content-Type must be one of [application/json].${got}`);
  }
  try {
    const value: unknown = JSON.parse(body.toString("utf8")) ?? {};
    return typeof value === "string" ? JSON.parse(value) : value; // old clients double-encoded their JSON
  } catch {
    return {}; // Flask's get_json(silent=True): a body that is not JSON counts as an empty one
  }
}

export async function startFakeMlflowServer(options: FakeMlflowOptions = {}): Promise<FakeMlflowServer> {
  const root = options.artifactRoot ?? "mlflow-artifacts:/";
  const now = () => Date.now();
  type Experiment = {
    experiment_id: string;
    name: string;
    artifact_location: string;
    lifecycle_stage: string;
    last_update_time: number;
    creation_time: number;
    tags: Map<string, string>;
  };
  type RunInfo = {
    run_id: string;
    run_uuid: string;
    run_name: string;
    experiment_id: string;
    user_id: string;
    status: string;
    start_time: number;
    end_time?: number;
    artifact_uri: string;
    lifecycle_stage: string;
  };
  type Run = { info: RunInfo; params: Map<string, string>; tags: Map<string, string>; history: Metric[] };
  type Version = {
    name: string;
    version: number;
    creation_timestamp: number;
    last_updated_timestamp: number;
    source: string;
    run_id: string;
    run_link: string;
    description: string;
    tags: Map<string, string>;
  };
  type Model = {
    name: string;
    creation_timestamp: number;
    last_updated_timestamp: number;
    description?: string;
    tags: Map<string, string>;
    aliases: Map<string, number>;
    versions: Version[];
  };
  const experiments = new Map<string, Experiment>();
  const runs = new Map<string, Run>();
  const models = new Map<string, Model>();
  const artifacts = new Map<string, Buffer>();
  const failure = { left: 0, status: 500 as number | "html500" };

  const createExperiment = (name: string, location: string | undefined, tags: Map<string, string>) => {
    const id = String(experiments.size);
    const t = now();
    const experiment = {
      experiment_id: id,
      name,
      artifact_location: location ?? `${root.replace(/\/+$/, "")}/${id}`,
      lifecycle_stage: "active",
      last_update_time: t,
      creation_time: t,
      tags,
    };
    experiments.set(id, experiment);
    return experiment;
  };
  createExperiment("Default", undefined, new Map()); // every MLflow server has experiment "0", "Default"
  const experimentJson = (e: Experiment) => ({ ...e, tags: kv(e.tags) });

  const getRun = (id: string) => {
    const run = runs.get(id);
    if (!run) throw notFound(`Run with id=${id} not found`);
    return run;
  };
  // Deleted runs refuse writes; finished (or failed, killed) runs accept them, as in MLflow.
  const activeRun = (id: string) => {
    const run = getRun(id);
    if (run.info.lifecycle_stage !== "active")
      throw invalid(`The run ${id} must be in the 'active' state. Current state is ${run.info.lifecycle_stage}.`);
    return run;
  };
  // The SQL store keeps per key the value with the largest (step, timestamp, value), not the last one logged
  // (the proto's comment says "latest timestamp"; the store compares step first).
  const newer = (a: Metric, b: Metric) =>
    a.step !== b.step ? a.step > b.step : a.timestamp !== b.timestamp ? a.timestamp > b.timestamp : a.value > b.value;
  const latestMetrics = (run: Run) => {
    const latest = new Map<string, Metric>();
    for (const m of run.history) {
      const seen = latest.get(m.key);
      if (!seen || newer(m, seen)) latest.set(m.key, m);
    }
    return [...latest.values()];
  };
  const runJson = (run: Run) => ({
    info: run.info,
    data: { metrics: latestMetrics(run), params: kv(run.params), tags: kv(run.tags) },
    inputs: {},
  });
  const runId = (r: Req) => {
    const id = (r.run_id || r.run_uuid) as string | undefined; // run_uuid is the deprecated spelling
    if (!id) throw missing("run_id");
    return id;
  };

  const getModel = (name: string) => {
    const model = models.get(name);
    if (!model) throw notFound(`Registered Model with name=${name} not found`);
    return model;
  };
  const getVersion = (name: string, version: string) => {
    if (!/^\s*-?\d+\s*$/.test(version)) throw invalid(`Parameter 'version' must be an integer, got '${version}'.`);
    const found = models.get(name)?.versions.find((v) => v.version === Number(version));
    if (!found) throw notFound(`Model Version (name=${name}, version=${version}) not found`);
    return found;
  };
  // model-versions/search leaves `aliases` out (SqlModelVersion.to_mlflow_entity; MLflow issue #9783);
  // model-versions/get, registered-models/alias and the registered model itself carry them.
  const versionJson = (v: Version, withAliases: boolean) => ({
    ...v,
    version: String(v.version),
    current_stage: "None",
    status: "READY",
    tags: kv(v.tags),
    aliases: withAliases
      ? [...getModel(v.name).aliases].filter(([, n]) => n === v.version).map(([alias]) => alias)
      : [],
  });
  const modelJson = (m: Model) => ({
    name: m.name,
    creation_timestamp: m.creation_timestamp,
    last_updated_timestamp: m.last_updated_timestamp,
    description: m.description,
    latest_versions: m.versions.slice(-1).map((v) => versionJson(v, false)),
    tags: kv(m.tags),
    aliases: [...m.aliases].map(([alias, version]) => ({ alias, version: String(version) })),
  });
  const VERSION_ORDER = new Map<string, (v: Version) => string | number>([
    ["name", (v) => v.name],
    ["version_number", (v) => v.version],
    ["creation_timestamp", (v) => v.creation_timestamp],
    ["last_updated_timestamp", (v) => v.last_updated_timestamp],
  ]);
  const versionOrder = (orderBy: string[]) => {
    const seen = new Set<string>();
    const clauses = (
      orderBy.length > 0 ? orderBy : ["last_updated_timestamp DESC", "name ASC", "version_number DESC"]
    ).map((clause) => {
      const match = /^\s*(\w+)(?:\s+(ASC|DESC))?\s*$/i.exec(clause);
      const get = match && VERSION_ORDER.get(match[1] ?? "");
      if (!match || !get)
        throw invalid(
          `Invalid order by key '${clause}' specified. Valid keys are ${[...VERSION_ORDER.keys()].join(", ")}`,
        );
      // The SQL store raises a plain MlflowException here, so the server answers 500 INTERNAL_ERROR.
      if (seen.has(match[1] as string))
        throw new ApiError("INTERNAL_ERROR", `\`order_by\` contains duplicate fields: ${JSON.stringify(orderBy)}`);
      seen.add(match[1] as string);
      return { get, sign: match[2]?.toUpperCase() === "DESC" ? -1 : 1 };
    });
    clauses.push({ get: (v) => v.name, sign: 1 }, { get: (v) => v.version, sign: -1 }); // tiebreaks
    return (a: Version, b: Version) => {
      for (const { get, sign } of clauses) if (get(a) !== get(b)) return (get(a) < get(b) ? -1 : 1) * sign;
      return 0;
    };
  };

  type Handler = (r: Req, bodyBytes: number) => unknown;
  const routes = new Map<string, Map<string, [Spec, Handler]>>();
  const route = (method: string, name: string, spec: Spec, handle: Handler) =>
    routes.set(name, (routes.get(name) ?? new Map()).set(method, [spec, handle]));

  route("GET", "experiments/get-by-name", { "!experiment_name": "string" }, (r) => {
    const found = [...experiments.values()].find((e) => e.name === r.experiment_name);
    if (!found) throw notFound(`Could not find experiment with name '${r.experiment_name}'`);
    return { experiment: experimentJson(found) };
  });
  route("GET", "experiments/get", { "!experiment_id": "id" }, (r) => {
    const found = experiments.get(r.experiment_id as string);
    if (!found) throw notFound(`No Experiment with id=${r.experiment_id} exists`);
    return { experiment: experimentJson(found) };
  });
  route("POST", "experiments/create", { "!name": "string", artifact_location: "string", tags: { of: TAG } }, (r) => {
    const name = r.name as string;
    const location = (r.artifact_location as string | undefined) || undefined;
    checkLength(name, 500, "name");
    if (location?.startsWith("runs:")) throw invalid(`Artifact location cannot be a runs:/ URI. Given: '${location}'`);
    const tags = tagMap(r.tags);
    if ([...experiments.values()].some((e) => e.name === name)) {
      throw new ApiError("RESOURCE_ALREADY_EXISTS", `Experiment(name=${name}) already exists.`);
    }
    return { experiment_id: createExperiment(name, location, tags).experiment_id };
  });

  const CREATE_RUN: Spec = {
    experiment_id: "id",
    user_id: "string",
    run_name: "string",
    start_time: "int64",
    tags: { of: TAG },
  };
  route("POST", "runs/create", CREATE_RUN, (r) => {
    const experiment = experiments.get((r.experiment_id as string | undefined) || "0"); // none given: "Default"
    if (!experiment) throw notFound(`No Experiment with id=${r.experiment_id} exists`);
    const tags = tagMap(r.tags);
    const tagName = tags.get("mlflow.runName");
    if (r.run_name && tagName && r.run_name !== tagName) {
      throw invalid(
        `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${r.run_name}', mlflow.runName='${tagName}').`,
      );
    }
    const name = (r.run_name as string | undefined) || tagName || `fake-run-${runs.size + 1}`;
    tags.set("mlflow.runName", name);
    const id = randomUUID().replaceAll("-", "");
    const info: RunInfo = {
      run_id: id,
      run_uuid: id,
      run_name: name,
      experiment_id: experiment.experiment_id,
      user_id: (r.user_id as string | undefined) ?? "",
      status: "RUNNING",
      start_time: (r.start_time as number | undefined) ?? 0, // absent: 0, the proto default, as the real store keeps it
      artifact_uri: `${experiment.artifact_location.replace(/\/+$/, "")}/${id}/artifacts`,
      lifecycle_stage: "active",
    };
    const run: Run = { info, params: new Map(), tags, history: [] };
    runs.set(id, run);
    return { run: runJson(run) };
  });
  const UPDATE_RUN: Spec = {
    run_id: "string",
    run_uuid: "string",
    status: "status",
    end_time: "int64",
    run_name: "string",
  };
  route("POST", "runs/update", UPDATE_RUN, (r) => {
    const run = activeRun(runId(r));
    if (r.status) run.info.status = r.status as string;
    if (r.end_time) run.info.end_time = r.end_time as number;
    if (r.run_name) {
      run.info.run_name = r.run_name as string;
      run.tags.set("mlflow.runName", r.run_name as string);
    }
    return { run_info: run.info };
  });
  route("POST", "runs/delete", { "!run_id": "string" }, (r) => {
    getRun(r.run_id as string).info.lifecycle_stage = "deleted";
    return {};
  });
  route("GET", "runs/get", { run_id: "string", run_uuid: "string" }, (r) => ({ run: runJson(getRun(runId(r))) }));
  const SEARCH_RUNS: Spec = {
    experiment_ids: "ids",
    filter: "string",
    run_view_type: "view",
    max_results: "int64",
    order_by: "strings",
    page_token: "string",
  };
  route("POST", "runs/search", SEARCH_RUNS, (r) => {
    const max = maxResults(r.max_results, 1000, 50_000);
    const filter = statusFilter(r.filter);
    const sign = startTimeSign(r.order_by);
    const ids = new Set((r.experiment_ids as string[] | undefined) ?? []);
    const view = (r.run_view_type as string | undefined) ?? "ACTIVE_ONLY";
    const shown = (stage: string) => view === "ALL" || (view === "ACTIVE_ONLY") === (stage === "active");
    const found = [...runs.values()]
      .filter(({ info }) => ids.has(info.experiment_id) && shown(info.lifecycle_stage))
      .filter(({ info }) => !filter || (info.status === filter.status) === filter.equal)
      .sort((a, b) => sign * (a.info.start_time - b.info.start_time) || (a.info.run_id < b.info.run_id ? -1 : 1));
    const { items, next_page_token } = page(found, r.page_token, max);
    return { runs: items.map(runJson), next_page_token };
  });

  const LOG_BATCH: Spec = {
    "!run_id": "string",
    metrics: { of: METRIC },
    params: { of: { "!key": "string", value: "string" } },
    tags: { of: TAG },
  };
  route("POST", "runs/log-batch", LOG_BATCH, (r, bodyBytes) => {
    // The 1 MB limit is documented (service.proto, LogBatch); the OSS handler's check measures the number of
    // top-level JSON keys instead of bytes, so a real OSS server lets bigger requests through.
    if (bodyBytes > 1_000_000) {
      throw invalid(`Batched logging API requests must be at most 1000000 bytes, got a request of size ${bodyBytes}.`);
    }
    const id = r.run_id as string;
    if (!/^[a-zA-Z0-9][\w-]{0,255}$/.test(id)) throw badValue("run_id", id);
    const metrics = ((r.metrics as Metric[] | undefined) ?? []).map((m) => ({ ...m, step: m.step ?? 0 }));
    const params = (r.params as Kv[] | undefined) ?? [];
    for (const [i, m] of metrics.entries()) {
      checkKey(m.key, `metrics[${i}].name`, "Metric name");
      const why = `metric '${m.key}' (value=${m.value}). Timestamp must be a nonnegative long (64-bit integer) `;
      if (m.timestamp < 0) throw badValue(`metrics[${i}].timestamp`, m.timestamp, why);
    }
    for (const [i, p] of params.entries()) {
      checkKey(p.key, `params[${i}].key`, "Param key");
      checkLength(p.value ?? "", LIMITS.paramValue, "Param value");
    }
    const tagCount = ((r.tags as Kv[] | undefined) ?? []).length;
    const tags = tagMap(r.tags);
    const counts: Array<[string, number, number]> = [
      ["metrics", LIMITS.metrics, metrics.length],
      ["params", LIMITS.paramsOrTags, params.length],
      ["tags", LIMITS.paramsOrTags, tagCount],
      ["metrics, params, and tags", LIMITS.items, metrics.length + params.length + tagCount],
    ];
    for (const [what, limit, count] of counts) {
      if (count > limit) {
        throw invalid(
          `A batch logging request can contain at most ${limit} ${what}. Got ${count} ${what}. Please split up ${what} across multiple requests and try again.`,
        );
      }
    }
    const dupes = params.filter((p, i) => params.findIndex((q) => q.key === p.key) !== i).map((p) => `'${p.key}'`);
    if (dupes.length > 0) {
      throw invalid(
        `Duplicate parameter keys have been submitted: [${dupes.join(", ")}]. Please ensure the request contains only one param value per param key.`,
      );
    }
    const run = activeRun(id);
    const changed = params.filter((p) => run.params.has(p.key) && run.params.get(p.key) !== (p.value ?? ""));
    if (changed.length > 0) {
      const list = changed.map(
        (p) => `{'key': '${p.key}', 'old_value': '${run.params.get(p.key)}', 'new_value': '${p.value ?? ""}'}`,
      );
      throw invalid(
        `Changing param values is not allowed. Params were already logged='[${list.join(", ")}]' for run ID='${id}'.`,
      );
    }
    for (const p of params) run.params.set(p.key, p.value ?? "");
    for (const m of metrics) {
      // SQL cannot hold ±Infinity: the store keeps ±1.7976931348623157e308 instead. NaN is kept.
      const value = Number.isFinite(m.value) || Number.isNaN(m.value) ? m.value : Math.sign(m.value) * Number.MAX_VALUE;
      const same = (x: Metric) =>
        x.key === m.key && Object.is(x.value, value) && x.timestamp === m.timestamp && x.step === m.step;
      if (!run.history.some(same)) run.history.push({ key: m.key, value, timestamp: m.timestamp, step: m.step }); // logged once
    }
    for (const [key, value] of tags) {
      run.tags.set(key, value);
      if (key === "mlflow.runName") run.info.run_name = value;
    }
    return {};
  });
  const HISTORY: Spec = {
    run_id: "string",
    run_uuid: "string",
    "!metric_key": "string",
    max_results: "int64",
    page_token: "string",
  };
  route("GET", "metrics/get-history", HISTORY, (r) => {
    // The SQL store does not check that the run exists: an unknown run has no history, so {}.
    const history = (runs.get(runId(r))?.history ?? []).filter((m) => m.key === r.metric_key);
    history.sort((a, b) => a.timestamp - b.timestamp || a.step - b.step || a.value - b.value);
    const max = maxResults(r.max_results, history.length || 1, Number.MAX_SAFE_INTEGER);
    const { items, next_page_token } = page(history, r.page_token, max);
    return { metrics: items, next_page_token };
  });

  route("POST", "registered-models/create", { "!name": "string", tags: { of: TAG }, description: "string" }, (r) => {
    const name = r.name as string;
    const tags = tagMap(r.tags);
    if (models.has(name))
      throw new ApiError("RESOURCE_ALREADY_EXISTS", `Registered Model (name=${name}) already exists.`);
    const t = now();
    const description = r.description as string | undefined;
    const model: Model = {
      name,
      creation_timestamp: t,
      last_updated_timestamp: t,
      description,
      tags,
      aliases: new Map(),
      versions: [],
    };
    models.set(name, model);
    return { registered_model: modelJson(model) };
  });
  route("GET", "registered-models/get", { "!name": "string" }, (r) => ({
    registered_model: modelJson(getModel(r.name as string)),
  }));
  const CREATE_VERSION: Spec = {
    "!name": "string",
    "!source": "string",
    run_id: "string",
    tags: { of: TAG },
    run_link: "string",
    description: "string",
  };
  route("POST", "model-versions/create", CREATE_VERSION, (r) => {
    checkSource(r.source as string);
    const tags = tagMap(r.tags);
    const model = getModel(r.name as string);
    const t = now();
    const version: Version = {
      name: model.name,
      version: (model.versions.at(-1)?.version ?? 0) + 1,
      creation_timestamp: t,
      last_updated_timestamp: t,
      source: r.source as string,
      run_id: (r.run_id as string | undefined) ?? "",
      run_link: (r.run_link as string | undefined) ?? "",
      description: (r.description as string | undefined) ?? "",
      tags,
    };
    model.versions.push(version);
    model.last_updated_timestamp = t;
    return { model_version: versionJson(version, true) };
  });
  route("GET", "model-versions/get", { "!name": "string", "!version": "string" }, (r) => ({
    model_version: versionJson(getVersion(r.name as string, r.version as string), true),
  }));
  const SEARCH_VERSIONS: Spec = { filter: "string", max_results: "int64", order_by: "strings", page_token: "string" };
  route("GET", "model-versions/search", SEARCH_VERSIONS, (r) => {
    const max = maxResults(r.max_results, 200_000, 200_000);
    const filter = (r.filter as string | undefined)?.trim();
    const match = filter ? /^(name|run_id)\s*=\s*(['"])(.*)\2$/.exec(filter) : undefined;
    if (filter && !match)
      throw invalid(`This FAKE MLflow server only understands version filters like "name='my-model'"; got: ${filter}`);
    const found = [...models.values()]
      .flatMap((m) => m.versions)
      .filter((v) => !match || (match[1] === "name" ? v.name : v.run_id) === match[3])
      .sort(versionOrder((r.order_by as string[] | undefined) ?? []));
    const { items, next_page_token } = page(found, r.page_token, max);
    return { model_versions: items.map((v) => versionJson(v, false)), next_page_token };
  });
  // One path, three verbs (model_registry.proto). There is no "registered-models/get-by-alias".
  route("POST", "registered-models/alias", { "!name": "string", "!alias": "string", "!version": "string" }, (r) => {
    checkAlias(r.alias as string);
    const version = getVersion(r.name as string, r.version as string);
    getModel(version.name).aliases.set(r.alias as string, version.version);
    return {};
  });
  // A DELETE carries its fields in a JSON body (the query string is not read); deleting an unset alias is fine.
  route("DELETE", "registered-models/alias", { "!name": "string", "!alias": "string" }, (r) => {
    checkAlias(r.alias as string);
    getModel(r.name as string).aliases.delete(r.alias as string);
    return {};
  });
  // An alias that is not set answers 400 INVALID_PARAMETER_VALUE, not 404 (SQLAlchemy registry store).
  route("GET", "registered-models/alias", { "!name": "string", "!alias": "string" }, (r) => {
    checkAlias(r.alias as string);
    const number = models.get(r.name as string)?.aliases.get(r.alias as string);
    if (number === undefined) throw invalid(`Registered model alias ${r.alias} not found.`);
    return { model_version: versionJson(getVersion(r.name as string, String(number)), true) };
  });

  const authorized = (header: string | undefined) => {
    const auth = options.auth;
    if (!auth) return true;
    if ("token" in auth) return header === `Bearer ${auth.token}`;
    if (!header?.startsWith("Basic ")) return false;
    const [user, ...password] = Buffer.from(header.slice(6), "base64").toString().split(":");
    return user === auth.username && password.join(":") === auth.password;
  };

  const artifactsReply = (method: string, url: URL, body: Buffer): Reply => {
    if (url.pathname === ARTIFACTS) {
      if (method !== "GET") return notAllowed("GET");
      const dir = safePath(
        ((parse({ path: "string" }, fromQuery({}, url)).path as string | undefined) ?? "").replace(/\/+$/, ""),
      );
      const files = new Map<string, { path: string; is_dir: boolean; file_size?: number }>();
      for (const [key, bytes] of artifacts) {
        if (dir && !key.startsWith(`${dir}/`)) continue;
        const rest = dir ? key.slice(dir.length + 1) : key;
        const name = rest.split("/")[0] ?? rest;
        files.set(
          name,
          name === rest ? { path: name, is_dir: false, file_size: bytes.length } : { path: name, is_dir: true },
        );
      }
      return json({ files: [...files.values()].sort((a, b) => (a.path < b.path ? -1 : 1)) }); // basenames, as MLflow lists
    }
    const key = safePath(decodeURIComponent(url.pathname.slice(ARTIFACTS.length + 1)));
    if (!key) return html(404, "Not Found", NOT_FOUND);
    if (method === "PUT") {
      artifacts.set(key, body);
      return json({});
    }
    if (method === "DELETE") {
      for (const k of [...artifacts.keys()]) if (k === key || k.startsWith(`${key}/`)) artifacts.delete(k);
      return json({});
    }
    if (method !== "GET") return notAllowed("GET, PUT, DELETE");
    const bytes = artifacts.get(key);
    // A missing artifact is a 500 on a real server too: the artifact repository's download fails.
    if (!bytes) {
      throw new ApiError(
        "INTERNAL_ERROR",
        `The following failures occurred while downloading one or more artifacts from ${root}:\n##### File ${key} #####\nNo such file or directory: '${key}'`,
      );
    }
    const type = key.endsWith(".json")
      ? "application/json"
      : /\.(txt|log)$/.test(key)
        ? "text/plain"
        : "application/octet-stream";
    return {
      status: 200,
      body: bytes,
      type,
      headers: { "Content-Disposition": `attachment; filename=${path.posix.basename(key)}` },
    };
  };

  const dispatch = (req: http.IncomingMessage, url: URL, body: Buffer): Reply => {
    const method = req.method ?? "GET";
    if (failure.left > 0) {
      failure.left--;
      const status = failure.status;
      if (status === "html500") return html(500, "Internal Server Error", CRASH);
      const code = INJECTED[status] ?? (status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST");
      return json({ error_code: code, message: `Injected failure (fake MLflow server): HTTP ${status}` }, status);
    }
    if (url.pathname === "/health") return { status: 200, body: "OK", type: "text/html; charset=utf-8" }; // open, as with basic-auth
    if (!authorized(req.headers.authorization)) {
      // MLflow's basic-auth app answers 401 with a plain sentence, not JSON.
      const challenge = options.auth && "token" in options.auth ? "Bearer" : 'Basic realm="mlflow"';
      return {
        status: 401,
        body: UNAUTHENTICATED,
        type: "text/html; charset=utf-8",
        headers: { "WWW-Authenticate": challenge },
      };
    }
    if (url.pathname === ARTIFACTS || url.pathname.startsWith(`${ARTIFACTS}/`))
      return artifactsReply(method, url, body);
    const methods = url.pathname.startsWith(API) ? routes.get(url.pathname.slice(API.length)) : undefined;
    // Unknown paths and wrong verbs reach Flask's own 404/405 pages: HTML, not MLflow JSON errors.
    if (!methods) return html(404, "Not Found", NOT_FOUND);
    const handler = methods.get(method);
    if (!handler) return notAllowed([...methods.keys()].join(", "));
    const [spec, handle] = handler;
    const input =
      method === "GET" && url.search.length > 1
        ? fromQuery(spec, url)
        : jsonBody(method, req.headers["content-type"], body);
    return json(handle(parse(spec, input), body.length));
  };

  const requests: FakeMlflowServer["requests"] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://fake");
      let reply: Reply;
      try {
        reply = dispatch(req, url, Buffer.concat(chunks));
      } catch (error) {
        if (!(error instanceof ApiError)) reply = html(500, "Internal Server Error", CRASH);
        else reply = json({ error_code: error.code, message: error.message }, STATUS[error.code] ?? 500);
      }
      requests.push({ method: req.method ?? "", path: url.pathname, status: reply.status });
      res.writeHead(reply.status, {
        "Content-Type": reply.type,
        "Content-Length": String(Buffer.byteLength(reply.body)),
        ...reply.headers,
      });
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext(count, status) {
      failure.left = count;
      failure.status = status;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
