/**
 * Configuration: parsed once, at the edge, from environment variables named as in the deployment
 * guide (DESIGN §6), into one validated, typed object. Every problem is collected and reported at
 * once, each with its variable name. With nothing set, everything runs embedded under `.tdf/`.
 */
import os from "node:os";
import path from "node:path";
import { ConfigError, type ConfigProblem } from "./errors.js";
import { isValidBucketName } from "./names.js";
import { createRedactor } from "./redact.js";

export type Env = Readonly<Record<string, string | undefined>>;

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface BucketNames {
  code: string;
  trainingData: string;
  model: string;
  dataPipeline: string;
  mlflow: string;
}

export type StorageConfig =
  | { driver: "fs"; root: string; buckets: BucketNames }
  | {
      driver: "s3";
      endpoint: string;
      region: string;
      buckets: BucketNames;
      /** The CI/CD key: publishes code packages. */
      cicd: S3Credentials | undefined;
      /** The runtime key Airflow's containers use. */
      airflow: S3Credentials | undefined;
    };

export interface CodePackageConfig {
  /** Ed25519 private key (PEM text, or the path of a PEM file) that signs manifests on publish. */
  signingKey: string | undefined;
  /** Ed25519 public key (PEM text or path) that verifies manifests before code runs. */
  verifyKey: string | undefined;
  /** Extra paths packed beside `dist/`, `package.json` and the lockfile. */
  include: string[];
  /** Largest archive `tdf code pack` accepts, in bytes. */
  maxBytes: number;
  /** Git SHAs that `tdf code gc` never deletes. */
  pinned: string[];
}

export interface BootstrapConfig {
  /** Where downloaded code versions are unpacked and kept (a host volume shared by containers). */
  cacheDir: string;
  /** Size the cache is trimmed to, least recently used versions first. */
  cacheMaxBytes: number;
  /** The dependency hash of this image (set in the base image); undefined outside an image. */
  depsHash: string | undefined;
  /** Run code whose dependency hash differs from the image's (logged as a warning). */
  allowDepsMismatch: boolean;
  /** node_modules the downloaded code runs against (default: the bootstrap's own). */
  nodeModules: string | undefined;
  /** Where metrics files go when ENABLE_METRICS is true. */
  metricsDir: string;
}

export interface Config {
  /** Where embedded state lives (`TDF_HOME`, default `<cwd>/.tdf`). */
  home: string;
  storage: StorageConfig;
  codepkg: CodePackageConfig;
  bootstrap: BootstrapConfig;
  mlflow: {
    trackingUri: string | undefined;
    s3EndpointUrl: string | undefined;
    username: string | undefined;
    password: string | undefined;
    token: string | undefined;
  };
  docker: { registryUrl: string | undefined; imagePrefix: string };
  /** Laid over the model's recommended settings (`batchesPerEpoch` undefined: the model's default). */
  training: { maxEpochs: number; batchSize: number; learningRate: number; batchesPerEpoch: number | undefined };
  /** Forecast database: PostgreSQL at `DATABASE_URL`, else SQLite at `<home>/forecasts.db`. */
  database: { url: string | undefined; sqlitePath: string };
  /** Pipeline tasks the local runner runs at once. */
  parallelism: number;
  /** Each data task's DuckDB: its memory limit (it spills to disk beyond) and its threads. */
  duckdb: { memoryMiB: number; threads: number };
  alertEmail: string | undefined;
  enableMetrics: boolean;
  logLevel: LogLevel;
}

export const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof logLevels)[number];

export const defaultBuckets: BucketNames = {
  code: "code-repository",
  trainingData: "training-data",
  model: "model-artifacts",
  dataPipeline: "data-pipeline",
  mlflow: "mlflow-artifacts",
};

/** One row per variable: the README's configuration table is checked against this list. */
export const configVariables = [
  { name: "TDF_HOME", default: ".tdf", description: "Folder for embedded state (filesystem store, SQLite)." },
  { name: "TDF_LOG_LEVEL", default: "info", description: `Log level: ${logLevels.join(", ")}.` },
  {
    name: "GARAGE_ENDPOINT",
    default: "(unset: filesystem store)",
    description: "S3 endpoint URL; set it to use Garage / S3.",
  },
  { name: "GARAGE_REGION", default: "garage", description: "Region the server expects (Garage's `s3_region`)." },
  { name: "GARAGE_CODE_BUCKET", default: defaultBuckets.code, description: "Code packages and release log." },
  {
    name: "GARAGE_TRAINING_DATA_BUCKET",
    default: defaultBuckets.trainingData,
    description: "Raw client sales history.",
  },
  { name: "GARAGE_MODEL_BUCKET", default: defaultBuckets.model, description: "Model checkpoints." },
  {
    name: "GARAGE_DATA_PIPELINE_BUCKET",
    default: defaultBuckets.dataPipeline,
    description: "Intermediate and consolidated datasets.",
  },
  { name: "GARAGE_MLFLOW_BUCKET", default: defaultBuckets.mlflow, description: "MLflow artifact root." },
  { name: "GARAGE_CICD_ACCESS_KEY_ID", default: "", description: "CI/CD key id (publishing code)." },
  { name: "GARAGE_CICD_SECRET_ACCESS_KEY", default: "", description: "CI/CD secret key. Secret." },
  { name: "GARAGE_AIRFLOW_ACCESS_KEY_ID", default: "", description: "Runtime key id (Airflow containers)." },
  { name: "GARAGE_AIRFLOW_SECRET_ACCESS_KEY", default: "", description: "Runtime secret key. Secret." },
  {
    name: "TDF_SIGNING_KEY",
    default: "",
    description: "Ed25519 private key (PEM, or a PEM file's path) that signs code manifests. Secret.",
  },
  {
    name: "TDF_VERIFY_KEY",
    default: "",
    description: "Ed25519 public key (PEM or path) that code must be signed with.",
  },
  { name: "TDF_PACKAGE_INCLUDE", default: "", description: "Comma-separated extra paths to pack with the code." },
  { name: "TDF_PACKAGE_MAX_MIB", default: "50", description: "Largest code archive `tdf code pack` accepts, in MiB." },
  {
    name: "TDF_PINNED_CODE_VERSIONS",
    default: "",
    description: "Comma-separated git SHAs `tdf code gc` never deletes.",
  },
  {
    name: "TDF_CODE_CACHE_DIR",
    default: "<TDF_HOME>/code-cache",
    description: "Where the bootstrap keeps downloaded code versions.",
  },
  {
    name: "TDF_CODE_CACHE_MAX_MIB",
    default: "2048",
    description: "Size the code cache is trimmed to, least recently used first.",
  },
  { name: "TDF_DEPS_HASH", default: "", description: "The base image's dependency hash (set in the image)." },
  {
    name: "TDF_ALLOW_DEPS_MISMATCH",
    default: "0",
    description: "`1` runs code built for other dependencies (with a warning).",
  },
  {
    name: "TDF_NODE_MODULES",
    default: "the bootstrap's own",
    description: "node_modules that downloaded code runs against.",
  },
  {
    name: "TDF_METRICS_DIR",
    default: "<TDF_HOME>/metrics",
    description: "Where start-up metrics go when ENABLE_METRICS is true.",
  },
  { name: "MLFLOW_TRACKING_URI", default: "(unset: local SQLite tracker)", description: "MLflow tracking server URL." },
  { name: "MLFLOW_TRACKING_USERNAME", default: "", description: "MLflow basic-auth user." },
  { name: "MLFLOW_TRACKING_PASSWORD", default: "", description: "MLflow basic-auth password. Secret." },
  { name: "MLFLOW_TRACKING_TOKEN", default: "", description: "MLflow bearer token. Secret." },
  { name: "MLFLOW_S3_ENDPOINT_URL", default: "GARAGE_ENDPOINT", description: "S3 endpoint for MLflow artifacts." },
  { name: "DOCKER_REGISTRY_URL", default: "", description: "Registry of the base images." },
  { name: "IMAGE_PREFIX", default: "tft-demand-forecasting", description: "Base image name prefix." },
  { name: "TRAINING_MAX_EPOCHS", default: "5", description: "Maximum training epochs." },
  { name: "TRAINING_BATCH_SIZE", default: "10", description: "Training batch size." },
  { name: "TRAINING_LEARNING_RATE", default: "0.01", description: "Training learning rate." },
  {
    name: "TRAINING_BATCHES_PER_EPOCH",
    default: "100",
    description: "Batches sampled per training epoch (a cap; fewer when there are fewer windows).",
  },
  {
    name: "DATABASE_URL",
    default: "(unset: SQLite at <TDF_HOME>/forecasts.db)",
    description: "PostgreSQL URL (postgres://user:password@host:5432/db) the forecasts are exported to. Secret.",
  },
  { name: "TDF_PARALLELISM", default: "number of cores", description: "Tasks the local runner runs at once." },
  {
    name: "TDF_DUCKDB_MEMORY_MIB",
    default: "1024",
    description: "Memory each data task's DuckDB keeps its buffers under, in MiB; beyond it, it spills to disk.",
  },
  { name: "TDF_DUCKDB_THREADS", default: "number of cores", description: "Threads each data task's DuckDB uses." },
  { name: "ALERT_EMAIL", default: "", description: "Email for failure notifications." },
  { name: "ENABLE_METRICS", default: "false", description: "`true` or `false`." },
] as const;

/** The variables whose values are secrets: never logged, never in an error, never in an archive. */
export const secretVariables = [
  "TDF_SIGNING_KEY",
  "GARAGE_CICD_SECRET_ACCESS_KEY",
  "GARAGE_AIRFLOW_SECRET_ACCESS_KEY",
  "MLFLOW_TRACKING_PASSWORD",
  "MLFLOW_TRACKING_TOKEN",
  "AWS_SECRET_ACCESS_KEY",
  "DATABASE_URL",
] as const;

/** The secret values present in an environment, for the logger's and the CLI's redaction. */
export function secretValues(env: Env): string[] {
  // Trimmed as loadConfig trims them: a secret read from a file often ends with a newline.
  const values = secretVariables.map((name) => env[name]?.trim());
  values.push(databasePassword(env.DATABASE_URL));
  return values.filter((v): v is string => v !== undefined && v.length > 0);
}

/** The password inside a database URL, which a driver's message may quote on its own. */
function databasePassword(url: string | undefined): string | undefined {
  try {
    return url ? decodeURIComponent(new URL(url.trim()).password) : undefined;
  } catch {
    return undefined;
  }
}

/** Parses and validates the configuration; throws one `ConfigError` listing every problem. */
export function loadConfig(env: Env, cwd: string = process.cwd()): Config {
  const problems: ConfigProblem[] = [];
  // A secret pasted into the wrong variable must not be echoed back in the error.
  const redact = createRedactor(secretValues(env));
  const problem = (variable: string, message: string) => problems.push({ variable, message: redact(message) });
  const value = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };

  const url = (name: string): string | undefined => {
    const v = value(name);
    if (v === undefined) return undefined;
    try {
      const parsed = new URL(v);
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
        problem(name, `must be an http:// or https:// URL, got the scheme "${parsed.protocol}".`);
      } else if (parsed.username || parsed.password) {
        // Credentials in a URL end up in logs; they have their own variables.
        problem(name, "must not contain credentials; use the access key variables instead.");
      } else {
        return v.replace(/\/+$/, "");
      }
    } catch {
      problem(name, `must be a URL such as http://127.0.0.1:3900, got "${v}".`);
    }
    return undefined;
  };

  const databaseUrl = (): string | undefined => {
    const v = value("DATABASE_URL");
    if (v === undefined) return undefined;
    // The URL carries the password, so the message never repeats it.
    if (!/^postgres(ql)?:\/\/[^/]+\/[^/?#]+/.test(v)) {
      problem("DATABASE_URL", "must be a PostgreSQL URL such as postgres://user:password@host:5432/forecasts.");
      return undefined;
    }
    return v;
  };

  const number = (name: string, fallback: number, rule: { integer?: boolean; min: number }): number => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || (rule.integer && !Number.isInteger(n)) || n < rule.min) {
      const kind = rule.integer ? "an integer" : "a number";
      problem(name, `must be ${kind} ≥ ${rule.min}, got "${v}".`);
      return fallback;
    }
    return n;
  };

  const bucket = (name: string, fallback: string): string => {
    const v = value(name) ?? fallback;
    if (!isValidBucketName(v)) {
      problem(name, `"${v}" is not a valid bucket name (3–63 characters: lowercase letters, digits, dots, hyphens).`);
    }
    return v;
  };

  const keyPair = (prefix: "GARAGE_CICD" | "GARAGE_AIRFLOW"): S3Credentials | undefined => {
    const id = value(`${prefix}_ACCESS_KEY_ID`);
    const secret = value(`${prefix}_SECRET_ACCESS_KEY`);
    if (id && secret) return { accessKeyId: id, secretAccessKey: secret };
    if (id)
      problem(`${prefix}_SECRET_ACCESS_KEY`, `is missing while ${prefix}_ACCESS_KEY_ID is set; set both or neither.`);
    if (secret)
      problem(`${prefix}_ACCESS_KEY_ID`, `is missing while ${prefix}_SECRET_ACCESS_KEY is set; set both or neither.`);
    return undefined;
  };

  const home = path.resolve(cwd, value("TDF_HOME") ?? ".tdf");
  const buckets: BucketNames = {
    code: bucket("GARAGE_CODE_BUCKET", defaultBuckets.code),
    trainingData: bucket("GARAGE_TRAINING_DATA_BUCKET", defaultBuckets.trainingData),
    model: bucket("GARAGE_MODEL_BUCKET", defaultBuckets.model),
    dataPipeline: bucket("GARAGE_DATA_PIPELINE_BUCKET", defaultBuckets.dataPipeline),
    mlflow: bucket("GARAGE_MLFLOW_BUCKET", defaultBuckets.mlflow),
  };

  const endpoint = url("GARAGE_ENDPOINT");
  const cicd = keyPair("GARAGE_CICD");
  const airflow = keyPair("GARAGE_AIRFLOW");
  let storage: StorageConfig;
  if (endpoint !== undefined) {
    if (
      !cicd &&
      !airflow &&
      !problems.some((p) => p.variable.endsWith("_KEY_ID") || p.variable.endsWith("_ACCESS_KEY"))
    ) {
      problem(
        "GARAGE_AIRFLOW_ACCESS_KEY_ID",
        "no access key is set while GARAGE_ENDPOINT is; set the GARAGE_AIRFLOW_* (runtime) or GARAGE_CICD_* (publishing) key pair.",
      );
    }
    storage = { driver: "s3", endpoint, region: value("GARAGE_REGION") ?? "garage", buckets, cicd, airflow };
  } else {
    if (value("GARAGE_ENDPOINT") === undefined && (cicd || airflow)) {
      problem(
        "GARAGE_ENDPOINT",
        "is not set while access keys are; set it to the S3 endpoint, or unset the keys for the embedded store.",
      );
    }
    storage = { driver: "fs", root: path.join(home, "store"), buckets };
  }

  const logLevel = (value("TDF_LOG_LEVEL") ?? "info").toLowerCase();
  if (!(logLevels as readonly string[]).includes(logLevel)) {
    problem("TDF_LOG_LEVEL", `must be one of ${logLevels.join(", ")}, got "${logLevel}".`);
  }

  let enableMetrics = false;
  const metrics = value("ENABLE_METRICS")?.toLowerCase();
  if (metrics !== undefined) {
    if (metrics === "true" || metrics === "false") enableMetrics = metrics === "true";
    else problem("ENABLE_METRICS", `must be "true" or "false", got "${value("ENABLE_METRICS")}".`);
  }

  const list = (name: string): string[] =>
    (value(name) ?? "")
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean);
  const pinned = list("TDF_PINNED_CODE_VERSIONS");
  for (const sha of pinned) {
    if (!/^[0-9a-f]{40}$/.test(sha))
      problem("TDF_PINNED_CODE_VERSIONS", `"${sha}" is not a full 40-character git SHA.`);
  }
  const include = list("TDF_PACKAGE_INCLUDE");
  for (const entry of include) {
    if (path.isAbsolute(entry) || entry.split(/[\\/]/).includes("..")) {
      problem("TDF_PACKAGE_INCLUDE", `"${entry}" must be a path inside the project (relative, without "..").`);
    }
  }

  const depsHash = value("TDF_DEPS_HASH")?.toLowerCase();
  if (depsHash !== undefined && !/^[0-9a-f]{64}$/.test(depsHash)) {
    problem("TDF_DEPS_HASH", `must be the 64-hex-digit dependency hash the image was built with, got "${depsHash}".`);
  }
  const allowMismatch = value("TDF_ALLOW_DEPS_MISMATCH");
  if (allowMismatch !== undefined && allowMismatch !== "0" && allowMismatch !== "1") {
    problem("TDF_ALLOW_DEPS_MISMATCH", `must be 0 or 1, got "${allowMismatch}".`);
  }

  const alertEmail = value("ALERT_EMAIL");
  if (alertEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alertEmail)) {
    problem("ALERT_EMAIL", `"${alertEmail}" is not an email address.`);
  }

  const config: Config = {
    home,
    storage,
    mlflow: {
      trackingUri: url("MLFLOW_TRACKING_URI"),
      s3EndpointUrl: url("MLFLOW_S3_ENDPOINT_URL") ?? endpoint,
      username: value("MLFLOW_TRACKING_USERNAME"),
      password: value("MLFLOW_TRACKING_PASSWORD"),
      token: value("MLFLOW_TRACKING_TOKEN"),
    },
    docker: {
      registryUrl: value("DOCKER_REGISTRY_URL"),
      imagePrefix: value("IMAGE_PREFIX") ?? "tft-demand-forecasting",
    },
    training: {
      maxEpochs: number("TRAINING_MAX_EPOCHS", 5, { integer: true, min: 1 }),
      batchSize: number("TRAINING_BATCH_SIZE", 10, { integer: true, min: 1 }),
      learningRate: number("TRAINING_LEARNING_RATE", 0.01, { min: Number.MIN_VALUE }),
      batchesPerEpoch:
        value("TRAINING_BATCHES_PER_EPOCH") === undefined
          ? undefined
          : number("TRAINING_BATCHES_PER_EPOCH", 100, { integer: true, min: 1 }),
    },
    codepkg: {
      signingKey: value("TDF_SIGNING_KEY"),
      verifyKey: value("TDF_VERIFY_KEY"),
      include,
      maxBytes: number("TDF_PACKAGE_MAX_MIB", 50, { min: Number.MIN_VALUE }) * 1024 * 1024,
      pinned,
    },
    bootstrap: {
      cacheDir: path.resolve(cwd, value("TDF_CODE_CACHE_DIR") ?? path.join(home, "code-cache")),
      cacheMaxBytes: number("TDF_CODE_CACHE_MAX_MIB", 2048, { min: 1 }) * 1024 * 1024,
      depsHash,
      allowDepsMismatch: allowMismatch === "1",
      nodeModules:
        value("TDF_NODE_MODULES") === undefined ? undefined : path.resolve(cwd, value("TDF_NODE_MODULES") as string),
      metricsDir: path.resolve(cwd, value("TDF_METRICS_DIR") ?? path.join(home, "metrics")),
    },
    database: { url: databaseUrl(), sqlitePath: path.join(home, "forecasts.db") },
    parallelism: number("TDF_PARALLELISM", os.availableParallelism(), { integer: true, min: 1 }),
    duckdb: {
      memoryMiB: number("TDF_DUCKDB_MEMORY_MIB", 1024, { integer: true, min: 64 }),
      threads: number("TDF_DUCKDB_THREADS", os.availableParallelism(), { integer: true, min: 1 }),
    },
    alertEmail,
    enableMetrics,
    logLevel: logLevel as LogLevel,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The configuration as it may be shown: secrets replaced, key ids kept (they identify, not authorise). */
export function redactedConfig(config: Config): unknown {
  return JSON.parse(
    JSON.stringify(config, (key, value) =>
      ["secretAccessKey", "signingKey", "password", "token"].includes(key) && typeof value === "string"
        ? "[REDACTED]"
        : (value ?? null),
    ),
  );
}
