/**
 * The embedded tracker: experiments, runs, params, metrics, tags and the model registry in one SQLite
 * file (default `.tdf/tracking.db`), artifacts in the object store. It behaves as MLflow does, so a
 * pipeline that works against it works against an MLflow server.
 *
 * Several processes (parallel training tasks) may write at once: the database is in WAL mode, every
 * write is one `BEGIN IMMEDIATE` transaction (it takes the write lock up front, so two writers queue on
 * the busy timeout instead of failing on a stale snapshot), and "create if missing" relies on UNIQUE
 * constraints, never on a check made before the write. No transaction spans an `await`.
 *
 * Artifacts: an experiment's artifacts live under the prefix `<experimentId>/` of the artifacts bucket,
 * and its `artifactLocation` is `store://<bucket>/<experimentId>` (the object store, whichever driver
 * it is: a folder or S3). A run's `artifactUri` is `<artifactLocation>/<runId>/artifacts`; both are
 * stored with the experiment and run, so changing the configured bucket later does not lose old runs'
 * artifacts.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import Database from "better-sqlite3";
import { writeFileAtomic } from "../core/atomic-file.js";
import { TdfError } from "../core/errors.js";
import type { ObjectStore } from "../storage/types.js";
import { TrackingError } from "./errors.js";
import { assertBatch, modelVersionPageSize } from "./limits.js";
import type {
  ArtifactEntry,
  Experiment,
  LogBatch,
  Metric,
  ModelVersion,
  RegisteredModel,
  Run,
  RunInfo,
  RunStatus,
  Tracker,
} from "./types.js";

export interface LocalTrackerOptions {
  /** The SQLite database file (embedded default: `.tdf/tracking.db`); created, with its folder, if missing. */
  databasePath: string;
  /** Where artifacts are kept. */
  store: ObjectStore;
  /** The artifacts bucket (`GARAGE_MLFLOW_BUCKET`); each experiment is a prefix in it. */
  bucket: string;
  /** How long a write waits for another process's transaction before failing (default 5000 ms). */
  busyTimeoutMs?: number;
}

export interface LocalTracker extends Tracker {
  readonly driver: "local";
  /** Closes the database connection; a later call opens it again. */
  close(): void;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;
const DEFAULT_MAX_RESULTS = 100;
// MLflow's ceiling on search results (SEARCH_MAX_RESULTS_THRESHOLD).
const MAX_RESULTS_LIMIT = 50_000;
// Uploads and downloads in flight at once: enough to hide S3 latency, few enough for file handles.
const TRANSFER_CONCURRENCY = 8;
// MLflow keeps a run's name in this tag as well; setting the tag renames the run.
const RUN_NAME_TAG = "mlflow.runName";

const RUN_STATUSES: readonly RunStatus[] = ["RUNNING", "FINISHED", "FAILED", "KILLED"];

/**
 * Schema migrations; the database's `user_version` is how many have been applied. Append only: a
 * database already migrated never runs an earlier entry again.
 */
const migrations: readonly string[] = [
  `
  CREATE TABLE experiments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    artifact_location TEXT NOT NULL,
    creation_time INTEGER NOT NULL
  );
  CREATE TABLE experiment_tags (
    experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
  ) WITHOUT ROWID;

  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    name TEXT,
    status TEXT NOT NULL CHECK (status IN ('RUNNING', 'FINISHED', 'FAILED', 'KILLED')),
    start_time INTEGER NOT NULL,
    end_time INTEGER,
    artifact_uri TEXT NOT NULL
  );
  CREATE INDEX runs_newest_first ON runs (experiment_id, start_time DESC);
  CREATE TABLE params (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
  ) WITHOUT ROWID;
  CREATE TABLE run_tags (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
  ) WITHOUT ROWID;
  -- As in MLflow, logging the very same point twice keeps one: a retried batch adds nothing.
  CREATE TABLE metrics (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    step INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    value REAL NOT NULL,
    UNIQUE (run_id, key, step, timestamp, value)
  );
  -- The latest point per key, kept on write so reading a run does not scan its whole history.
  CREATE TABLE latest_metrics (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    step INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (run_id, key)
  ) WITHOUT ROWID;

  CREATE TABLE registered_models (
    name TEXT PRIMARY KEY,
    creation_time INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE registered_model_tags (
    name TEXT NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
  ) WITHOUT ROWID;
  -- run_id is not a foreign key: a version outlives its run, as in MLflow.
  CREATE TABLE model_versions (
    name TEXT NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    source TEXT NOT NULL,
    run_id TEXT,
    creation_time INTEGER NOT NULL,
    PRIMARY KEY (name, version)
  ) WITHOUT ROWID;
  CREATE TABLE model_version_tags (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE
  ) WITHOUT ROWID;
  CREATE TABLE model_aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE
  ) WITHOUT ROWID;
  `,
];

interface RunRow {
  id: string;
  experiment_id: number;
  name: string | null;
  status: RunStatus;
  start_time: number;
  end_time: number | null;
  artifact_uri: string;
}

interface VersionRow {
  name: string;
  version: number;
  source: string;
  run_id: string | null;
  creation_time: number;
}

interface KeyValue {
  key: string;
  value: string;
}

function invalid(message: string, context?: Record<string, unknown>): TrackingError {
  return new TrackingError("TRACKING_INVALID", message, { context });
}

function notFound(message: string, context?: Record<string, unknown>): TrackingError {
  return new TrackingError("TRACKING_NOT_FOUND", message, { context });
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

const toRecord = (rows: KeyValue[]): Record<string, string> => Object.fromEntries(rows.map((r) => [r.key, r.value]));

function assertTimestamp(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalid(
      `The ${what} ${value} is not a time in milliseconds since the epoch; pass a whole number such as Date.now().`,
    );
  }
}

function assertTags(tags: Record<string, string> | undefined): void {
  if (tags !== undefined) assertBatch({ tags });
}

/**
 * A path inside a run's artifacts: relative, `/`-separated, no `.` or `..` segments. "" (or "." or
 * nothing) is the run's artifact root.
 */
function artifactSubpath(input: string | undefined): string {
  if (input === undefined) return "";
  if (typeof input !== "string") throw invalid("An artifact path must be a string such as model/weights.bin.");
  const trimmed = input.replace(/\/+$/, "");
  if (trimmed === "" || trimmed === ".") return "";
  if (trimmed.startsWith("/") || trimmed.includes("\\") || /^[A-Za-z]:/.test(trimmed)) {
    throw invalid(
      `The artifact path "${input}" must be relative and use "/" between folders, such as model/weights.bin.`,
    );
  }
  if (trimmed.split("/").some((s) => s === "" || s === "." || s === "..")) {
    throw invalid(`The artifact path "${input}" has an empty, "." or ".." segment; give a plain relative path.`);
  }
  return trimmed;
}

/** Where in the object store a run's artifacts are, from its `store://<bucket>/<prefix>` URI. */
function parseArtifactUri(uri: string): { bucket: string; prefix: string } {
  const match = /^store:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (match === null) {
    throw new TrackingError(
      "TRACKING_FAILED",
      `The artifact URI "${uri}" is not a store://<bucket>/<prefix> location; the tracking database was changed by something else than tdf.`,
    );
  }
  return { bucket: match[1] as string, prefix: match[2] as string };
}

/** Positive whole numbers only; anything else names no version. */
function parseVersion(version: string): number | undefined {
  return typeof version === "string" && /^[1-9]\d{0,14}$/.test(version) ? Number(version) : undefined;
}

// MLflow's alias rules: `latest` and `v<number>` mean versions already.
function assertAlias(alias: string): void {
  if (typeof alias !== "string" || !/^[\w-]{1,255}$/.test(alias)) {
    throw invalid(`The alias "${alias}" may only contain letters, digits, "_" and "-" (at most 255).`);
  }
  if (alias.toLowerCase() === "latest" || /^v\d+$/i.test(alias)) {
    throw invalid(
      `The alias "${alias}" is reserved by MLflow ("latest" and "v<number>" name versions); choose another.`,
    );
  }
}

function assertName(kind: "experiment" | "registered model", name: string): void {
  if (typeof name !== "string" || name.trim() === "") throw invalid(`A ${kind} needs a non-empty name.`);
}

async function runPool<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(TRANSFER_CONCURRENCY, items.length) }, worker));
}

/**
 * The files to upload for a local file or folder, with their paths relative to it. Symbolic links to
 * files are uploaded as files; links to folders are skipped, so a link cycle cannot loop forever.
 */
async function localFiles(localPath: string): Promise<{ file: string; relative: string }[] | "file"> {
  let stats: Awaited<ReturnType<typeof fsp.stat>>;
  try {
    stats = await fsp.stat(localPath);
  } catch (error) {
    if (errno(error) === "ENOENT" || errno(error) === "ENOTDIR") {
      throw notFound(`Cannot upload ${localPath}: there is no such file or folder.`, { localPath });
    }
    throw new TrackingError("TRACKING_FAILED", `Cannot read ${localPath}: ${(error as Error).message}.`, {
      cause: error,
      context: { localPath },
    });
  }
  if (stats.isFile()) return "file";
  if (!stats.isDirectory()) throw invalid(`Cannot upload ${localPath}: it is neither a file nor a folder.`);
  const found: { file: string; relative: string }[] = [];
  const walk = async (dir: string, relative: string): Promise<void> => {
    const entries = await fsp.readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const file = path.join(dir, entry.name);
      const rel = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) await walk(file, rel);
      else if (entry.isFile()) found.push({ file, relative: rel });
      else if (entry.isSymbolicLink() && (await fsp.stat(file).catch(() => undefined))?.isFile()) {
        found.push({ file, relative: rel });
      }
    }
  };
  await walk(localPath, "");
  return found;
}

export function localTracker(options: LocalTrackerOptions): LocalTracker {
  const databasePath = path.resolve(options.databasePath);
  const { store } = options;
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  let db: Database.Database | undefined;
  let statements = new Map<string, Database.Statement>();

  /**
   * SQLite's and the filesystem's failures (expected: locks, permissions, a full disk) as one sentence;
   * anything else is a bug and passes unchanged.
   */
  const translate = (error: unknown, action: string): unknown => {
    if (error instanceof TdfError) return error;
    if ((error as NodeJS.ErrnoException | undefined)?.syscall !== undefined && errno(error) !== undefined) {
      return new TrackingError("TRACKING_FAILED", `Could not ${action}: ${(error as Error).message}.`, {
        cause: error,
        context: { errno: errno(error) },
      });
    }
    if (!(error instanceof Database.SqliteError)) return error;
    const context = { databasePath, sqliteCode: error.code };
    const code = error.code;
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
      return new TrackingError(
        "TRACKING_FAILED",
        `Could not ${action}: another process kept the tracking database ${databasePath} locked for more than ${busyTimeoutMs} ms; retry, or look for a stuck process.`,
        { cause: error, context },
      );
    }
    if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
      return new TrackingError(
        "TRACKING_FAILED",
        `Could not ${action}: ${databasePath} is damaged or is not a tracking database; restore it from a backup or move it away.`,
        { cause: error, context },
      );
    }
    if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code === "SQLITE_PERM") {
      return new TrackingError(
        "TRACKING_FAILED",
        `Could not ${action}: the tracking database ${databasePath} (or its folder) cannot be opened for writing; check its permissions.`,
        { cause: error, context },
      );
    }
    if (code.startsWith("SQLITE_FULL") || code.startsWith("SQLITE_IOERR")) {
      return new TrackingError(
        "TRACKING_FAILED",
        `Could not ${action}: writing the tracking database ${databasePath} failed (${error.message}); check the disk.`,
        { cause: error, context },
      );
    }
    return new TrackingError(
      "TRACKING_FAILED",
      `Could not ${action} in the tracking database ${databasePath}: ${error.message}.`,
      {
        cause: error,
        context,
      },
    );
  };

  const migrate = (conn: Database.Database): void => {
    const applied = () => conn.pragma("user_version", { simple: true }) as number;
    const assertKnown = (version: number) => {
      if (version > migrations.length) {
        throw new TrackingError(
          "TRACKING_FAILED",
          `The tracking database ${databasePath} has schema version ${version}, newer than this tdf understands (${migrations.length}); upgrade tdf.`,
          { context: { databasePath, schemaVersion: version } },
        );
      }
    };
    const before = applied();
    assertKnown(before);
    if (before === migrations.length) return;
    // Another process may be migrating the same file: the immediate transaction queues us behind it,
    // and the version is read again once we hold the lock.
    conn
      .transaction(() => {
        const current = applied();
        assertKnown(current);
        for (let version = current; version < migrations.length; version++) conn.exec(migrations[version] as string);
        conn.pragma(`user_version = ${migrations.length}`);
      })
      .immediate();
  };

  const open = (): Database.Database => {
    if (db !== undefined) return db;
    try {
      mkdirSync(path.dirname(databasePath), { recursive: true });
    } catch (error) {
      throw new TrackingError(
        "TRACKING_FAILED",
        `Cannot create the folder of the tracking database ${databasePath}: ${(error as Error).message}.`,
        { cause: error, context: { databasePath } },
      );
    }
    // The constructor's timeout is SQLite's busy timeout, set before anything else can hit a lock.
    const conn = new Database(databasePath, { timeout: busyTimeoutMs });
    try {
      conn.pragma("journal_mode = WAL");
      // In WAL mode NORMAL loses no committed transaction when a process dies (only on power loss, the
      // last few), and never corrupts the file; FULL would fsync on every metric batch.
      conn.pragma("synchronous = NORMAL");
      conn.pragma("foreign_keys = ON");
      migrate(conn);
    } catch (error) {
      conn.close();
      throw error;
    }
    db = conn;
    statements = new Map();
    return conn;
  };

  const sql = (text: string): Database.Statement => {
    const conn = open();
    let statement = statements.get(text);
    if (statement === undefined) {
      statement = conn.prepare(text);
      statements.set(text, statement);
    }
    return statement;
  };

  /** A write: the whole function or nothing, holding the write lock from the start. */
  const write = <T>(fn: () => T): T => open().transaction(fn).immediate();
  /** Several reads that must see one snapshot. */
  const read = <T>(fn: () => T): T => open().transaction(fn).deferred();

  const guard = async <T>(action: string, fn: () => Promise<T> | T): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw translate(error, action);
    }
  };

  const runRow = (runId: string): RunRow | undefined =>
    sql("SELECT * FROM runs WHERE id = ?").get(String(runId)) as RunRow | undefined;

  const requireRun = (runId: string): RunRow => {
    const row = runRow(runId);
    if (row === undefined) {
      throw notFound(`There is no run "${runId}" in the tracking database ${databasePath}; check the run id.`, {
        runId,
      });
    }
    return row;
  };

  const requireModel = (name: string): void => {
    if (sql("SELECT 1 FROM registered_models WHERE name = ?").get(String(name)) === undefined) {
      throw notFound(`There is no registered model "${name}"; create it with getOrCreateRegisteredModel first.`, {
        model: name,
      });
    }
  };

  const toRunInfo = (row: RunRow): RunInfo => ({
    id: row.id,
    experimentId: String(row.experiment_id),
    name: row.name ?? undefined,
    status: row.status,
    startTime: row.start_time,
    endTime: row.end_time ?? undefined,
    artifactUri: row.artifact_uri,
  });

  const experimentByName = (name: string): Experiment | null => {
    const row = sql("SELECT id, name, artifact_location FROM experiments WHERE name = ?").get(name) as
      | { id: number; name: string; artifact_location: string }
      | undefined;
    if (row === undefined) return null;
    const tags = sql("SELECT key, value FROM experiment_tags WHERE experiment_id = ?").all(row.id) as KeyValue[];
    return { id: String(row.id), name: row.name, artifactLocation: row.artifact_location, tags: toRecord(tags) };
  };

  const modelByName = (name: string): RegisteredModel | null => {
    const row = sql("SELECT name, creation_time FROM registered_models WHERE name = ?").get(String(name)) as
      | { name: string; creation_time: number }
      | undefined;
    if (row === undefined) return null;
    const tags = sql("SELECT key, value FROM registered_model_tags WHERE name = ?").all(row.name) as KeyValue[];
    const aliases = sql("SELECT alias, version FROM model_aliases WHERE name = ? ORDER BY alias").all(row.name) as {
      alias: string;
      version: number;
    }[];
    return {
      name: row.name,
      aliases: Object.fromEntries(aliases.map((a) => [a.alias, String(a.version)])),
      tags: toRecord(tags),
      creationTimestamp: row.creation_time,
    };
  };

  const versionOf = (row: VersionRow): ModelVersion => {
    const tags = sql("SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?").all(
      row.name,
      row.version,
    ) as KeyValue[];
    return {
      name: row.name,
      version: String(row.version),
      source: row.source,
      runId: row.run_id ?? undefined,
      creationTimestamp: row.creation_time,
      tags: toRecord(tags),
    };
  };

  const versionRow = (name: string, version: number): VersionRow | undefined =>
    sql("SELECT * FROM model_versions WHERE name = ? AND version = ?").get(name, version) as VersionRow | undefined;

  /** A run's artifacts in the object store: the bucket and the key prefix of its artifact root. */
  const artifactRoot = (runId: string): { bucket: string; prefix: string } =>
    parseArtifactUri(read(() => requireRun(runId)).artifact_uri);

  const tracker: LocalTracker = {
    driver: "local",
    location: databasePath,

    getExperimentByName(name) {
      return guard("read an experiment", () => read(() => experimentByName(name)));
    },

    getOrCreateExperiment(name, tags) {
      return guard(`create the experiment "${name}"`, () => {
        assertName("experiment", name);
        assertTags(tags);
        const existing = read(() => experimentByName(name));
        if (existing !== null) return existing;
        return write(() => {
          // A racing process may have created it since: the UNIQUE name makes this insert a no-op then.
          const created = sql(
            "INSERT INTO experiments (name, artifact_location, creation_time) VALUES (?, '', ?) ON CONFLICT (name) DO NOTHING RETURNING id",
          ).get(name, Date.now()) as { id: number } | undefined;
          if (created !== undefined) {
            // The location names the id, known only now; no one sees the row before this commits.
            sql("UPDATE experiments SET artifact_location = ? WHERE id = ?").run(
              `store://${options.bucket}/${created.id}`,
              created.id,
            );
            const insertTag = sql("INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)");
            for (const [key, value] of Object.entries(tags ?? {})) insertTag.run(created.id, key, value);
          }
          return experimentByName(name) as Experiment;
        });
      });
    },

    startRun(experimentId, runOptions = {}) {
      return guard("start a run", () => {
        const startTime = runOptions.startTime ?? Date.now();
        assertTimestamp("start time", startTime);
        assertTags(runOptions.tags);
        const tags = { ...runOptions.tags };
        const tagName = tags[RUN_NAME_TAG];
        if (runOptions.name !== undefined && tagName !== undefined && tagName !== runOptions.name) {
          throw invalid(
            `The run name "${runOptions.name}" differs from its "${RUN_NAME_TAG}" tag "${tagName}"; give one of them.`,
          );
        }
        const name = runOptions.name ?? tagName;
        if (name !== undefined) assertBatch({ tags: { [RUN_NAME_TAG]: name } });
        if (name !== undefined) tags[RUN_NAME_TAG] = name;
        const id = randomUUID().replaceAll("-", "");
        return write(() => {
          const experiment = /^\d+$/.test(String(experimentId))
            ? (sql("SELECT id, artifact_location FROM experiments WHERE id = ?").get(Number(experimentId)) as
                | { id: number; artifact_location: string }
                | undefined)
            : undefined;
          if (experiment === undefined) {
            throw notFound(`There is no experiment with id "${experimentId}"; create it with getOrCreateExperiment.`, {
              experimentId,
            });
          }
          const row: RunRow = {
            id,
            experiment_id: experiment.id,
            name: name ?? null,
            status: "RUNNING",
            start_time: startTime,
            end_time: null,
            artifact_uri: `${experiment.artifact_location}/${id}/artifacts`,
          };
          sql(
            "INSERT INTO runs (id, experiment_id, name, status, start_time, end_time, artifact_uri) VALUES (@id, @experiment_id, @name, @status, @start_time, @end_time, @artifact_uri)",
          ).run(row);
          const insertTag = sql("INSERT INTO run_tags (run_id, key, value) VALUES (?, ?, ?)");
          for (const [key, value] of Object.entries(tags)) insertTag.run(id, key, value);
          return toRunInfo(row);
        });
      });
    },

    endRun(runId, status, endTime) {
      return guard(`end the run "${runId}"`, () => {
        if (!["FINISHED", "FAILED", "KILLED"].includes(status)) {
          throw invalid(`A run ends as FINISHED, FAILED or KILLED, not "${status}".`);
        }
        const end = endTime ?? Date.now();
        assertTimestamp("end time", end);
        write(() => {
          requireRun(runId);
          sql("UPDATE runs SET status = ?, end_time = ? WHERE id = ?").run(status, end, runId);
        });
      });
    },

    getRun(runId) {
      return guard(`read the run "${runId}"`, () =>
        read((): Run | null => {
          const row = runRow(runId);
          if (row === undefined) return null;
          const params = sql("SELECT key, value FROM params WHERE run_id = ?").all(row.id) as KeyValue[];
          const tags = sql("SELECT key, value FROM run_tags WHERE run_id = ?").all(row.id) as KeyValue[];
          const latest = sql("SELECT key, value, timestamp, step FROM latest_metrics WHERE run_id = ?").all(
            row.id,
          ) as Metric[];
          return {
            info: toRunInfo(row),
            params: toRecord(params),
            tags: toRecord(tags),
            metrics: Object.fromEntries(latest.map((m) => [m.key, { ...m }])),
          };
        }),
      );
    },

    searchRuns(experimentIds, searchOptions = {}) {
      return guard("search runs", () => {
        const maxResults = searchOptions.maxResults ?? DEFAULT_MAX_RESULTS;
        if (!Number.isSafeInteger(maxResults) || maxResults < 1 || maxResults > MAX_RESULTS_LIMIT) {
          throw invalid(`maxResults is ${maxResults}; give a whole number from 1 to ${MAX_RESULTS_LIMIT}.`);
        }
        const { status } = searchOptions;
        if (status !== undefined && !RUN_STATUSES.includes(status)) {
          throw invalid(`"${status}" is not a run status; use one of ${RUN_STATUSES.join(", ")}.`);
        }
        // Ids that are not numbers name no experiment here, as an unknown id finds nothing in MLflow.
        const ids = experimentIds.filter((id) => /^\d+$/.test(String(id))).map(Number);
        if (ids.length === 0) return [];
        const rows = read(
          () =>
            sql(
              `SELECT * FROM runs
               WHERE experiment_id IN (SELECT value FROM json_each(?)) AND (? IS NULL OR status = ?)
               ORDER BY start_time DESC, rowid DESC LIMIT ?`,
            ).all(JSON.stringify(ids), status ?? null, status ?? null, maxResults) as RunRow[],
        );
        return rows.map(toRunInfo);
      });
    },

    logBatch(runId, batch: LogBatch) {
      return guard(`log to the run "${runId}"`, () => {
        assertBatch(batch);
        const metrics = batch.metrics ?? [];
        const params = Object.entries(batch.params ?? {});
        const tags = Object.entries(batch.tags ?? {});
        // One transaction for the whole batch: a refused param leaves nothing of the batch behind, and a
        // reader never sees half of it. (MLflow's per-request limits do not apply to a local file.)
        write(() => {
          requireRun(runId);
          const existingParam = sql("SELECT value FROM params WHERE run_id = ? AND key = ?");
          for (const [key, value] of params) {
            const old = existingParam.get(runId, key) as { value: string } | undefined;
            if (old !== undefined && old.value !== value) {
              throw new TrackingError(
                "TRACKING_CONFLICT",
                `The param "${key}" of run "${runId}" is already "${old.value}" and cannot become "${value}": params are logged once; start a new run to try another value.`,
                { context: { runId, key, oldValue: old.value, newValue: value } },
              );
            }
          }
          const insertParam = sql("INSERT INTO params (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
          for (const [key, value] of params) insertParam.run(runId, key, value);
          const upsertTag = sql(
            "INSERT INTO run_tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
          );
          for (const [key, value] of tags) {
            upsertTag.run(runId, key, value);
            if (key === RUN_NAME_TAG) sql("UPDATE runs SET name = ? WHERE id = ?").run(value, runId);
          }
          const insertMetric = sql(
            "INSERT INTO metrics (run_id, key, step, timestamp, value) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
          );
          // MLflow's order for "latest": the highest step, then the latest timestamp, then the highest value.
          const updateLatest = sql(
            `INSERT INTO latest_metrics (run_id, key, step, timestamp, value) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp, value = excluded.value
             WHERE (excluded.step, excluded.timestamp, excluded.value) > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)`,
          );
          for (const metric of metrics) {
            const values = [runId, metric.key, metric.step, metric.timestamp, metric.value];
            insertMetric.run(...values);
            updateLatest.run(...values);
          }
        });
      });
    },

    metricHistory(runId, key) {
      return guard(`read the metric "${key}" of the run "${runId}"`, () =>
        read(() => {
          requireRun(runId);
          return sql(
            "SELECT key, value, timestamp, step FROM metrics WHERE run_id = ? AND key = ? ORDER BY step, timestamp, rowid",
          ).all(runId, key) as Metric[];
        }),
      );
    },

    logArtifacts(runId, localPath, artifactPath) {
      return guard(`upload artifacts of the run "${runId}"`, async () => {
        const sub = artifactSubpath(artifactPath);
        const { bucket, prefix } = artifactRoot(runId);
        const base = sub === "" ? prefix : `${prefix}/${sub}`;
        const files = await localFiles(localPath);
        // As MLflow: a file goes under the artifact path by its own name, a folder's contents go
        // directly under it.
        const uploads =
          files === "file"
            ? [{ file: localPath, key: `${base}/${path.basename(localPath)}` }]
            : files.map((f) => ({ file: f.file, key: `${base}/${f.relative}` }));
        await runPool(uploads, async ({ file, key }) => {
          const handle = await fsp.open(file, "r");
          try {
            await store.put(bucket, key, handle.createReadStream({ autoClose: false }));
          } finally {
            await handle.close();
          }
        });
      });
    },

    listArtifacts(runId, artifactPath) {
      return guard(`list artifacts of the run "${runId}"`, async () => {
        const sub = artifactSubpath(artifactPath);
        const { bucket, prefix } = artifactRoot(runId);
        const base = sub === "" ? `${prefix}/` : `${prefix}/${sub}/`;
        const entries = new Map<string, ArtifactEntry>();
        for await (const object of store.list(bucket, base)) {
          const rest = object.key.slice(base.length);
          const slash = rest.indexOf("/");
          const name = slash === -1 ? rest : rest.slice(0, slash);
          const entryPath = sub === "" ? name : `${sub}/${name}`;
          if (slash === -1) entries.set(entryPath, { path: entryPath, isDir: false, size: object.size });
          else if (!entries.has(entryPath)) entries.set(entryPath, { path: entryPath, isDir: true, size: undefined });
        }
        return [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      });
    },

    downloadArtifacts(runId, artifactPath, destination) {
      return guard(`download artifacts of the run "${runId}"`, async () => {
        const sub = artifactSubpath(artifactPath);
        const { bucket, prefix } = artifactRoot(runId);
        // As MLflow: the artifact keeps its path under the destination.
        const target = path.resolve(destination, ...(sub === "" ? [] : sub.split("/")));
        const fetch = async (key: string, file: string): Promise<boolean> => {
          const object = await store.get(bucket, key);
          if (object === null) return false;
          try {
            await fsp.mkdir(path.dirname(file), { recursive: true });
          } catch (error) {
            object.body.destroy();
            throw error;
          }
          await writeFileAtomic(file, object.body);
          return true;
        };
        if (sub !== "" && (await fetch(`${prefix}/${sub}`, target))) return target;
        const base = sub === "" ? `${prefix}/` : `${prefix}/${sub}/`;
        const keys: string[] = [];
        for await (const object of store.list(bucket, base)) keys.push(object.key);
        if (keys.length === 0) {
          throw notFound(
            `The run "${runId}" has no artifact "${sub === "" ? "." : sub}"; see what it has with listArtifacts.`,
            { runId, artifactPath: sub },
          );
        }
        await runPool(keys, async (key) => {
          const file = path.join(target, ...key.slice(base.length).split("/"));
          if (!(await fetch(key, file))) {
            throw notFound(
              `The artifact "${key.slice(prefix.length + 1)}" of the run "${runId}" disappeared while downloading it.`,
              {
                runId,
                key,
              },
            );
          }
        });
        return target;
      });
    },

    getOrCreateRegisteredModel(name, tags) {
      return guard(`create the registered model "${name}"`, () => {
        assertName("registered model", name);
        assertTags(tags);
        const existing = read(() => modelByName(name));
        if (existing !== null) return existing;
        return write(() => {
          // UNIQUE name: a process that created it meanwhile makes this a no-op, and both read the same model.
          const created = sql(
            "INSERT INTO registered_models (name, creation_time) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
          ).run(name, Date.now());
          if (created.changes === 1) {
            const insertTag = sql("INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)");
            for (const [key, value] of Object.entries(tags ?? {})) insertTag.run(name, key, value);
          }
          return modelByName(name) as RegisteredModel;
        });
      });
    },

    getRegisteredModel(name) {
      return guard(`read the registered model "${name}"`, () => read(() => modelByName(name)));
    },

    createModelVersion(name, versionOptions) {
      return guard(`create a version of the registered model "${name}"`, () => {
        const { runId } = versionOptions;
        const sub = artifactSubpath(versionOptions.artifactPath);
        assertTags(versionOptions.tags);
        return write(() => {
          requireModel(name);
          requireRun(runId);
          // Inside the write lock, so two processes never take the same number.
          const { next } = sql("SELECT COALESCE(MAX(version), 0) + 1 AS next FROM model_versions WHERE name = ?").get(
            name,
          ) as { next: number };
          const row: VersionRow = {
            name,
            version: next,
            source: sub === "" ? `runs:/${runId}` : `runs:/${runId}/${sub}`,
            run_id: runId,
            creation_time: Date.now(),
          };
          sql(
            "INSERT INTO model_versions (name, version, source, run_id, creation_time) VALUES (@name, @version, @source, @run_id, @creation_time)",
          ).run(row);
          const insertTag = sql("INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)");
          for (const [key, value] of Object.entries(versionOptions.tags ?? {})) insertTag.run(name, next, key, value);
          return versionOf(row);
        });
      });
    },

    getModelVersion(name, version) {
      return guard(`read version ${version} of the registered model "${name}"`, () => {
        const number = parseVersion(version);
        if (number === undefined) return null;
        return read(() => {
          const row = versionRow(name, number);
          return row === undefined ? null : versionOf(row);
        });
      });
    },

    latestModelVersion(name) {
      return guard(`read the latest version of the registered model "${name}"`, () =>
        // A lookup, like getModelVersion: a model never registered has no versions (so answers MLflow).
        read(() => {
          const row = sql("SELECT * FROM model_versions WHERE name = ? ORDER BY version DESC LIMIT 1").get(name) as
            | VersionRow
            | undefined;
          return row === undefined ? null : versionOf(row);
        }),
      );
    },

    async *searchModelVersions(searchOptions = {}) {
      const pageSize = modelVersionPageSize(searchOptions.pageSize);
      // Each page is its own read, continuing after the last (name, version) seen: no transaction
      // waits on the caller, and a version deleted meanwhile cannot make the next page skip one.
      let after: { name: string; version: number } | null = null;
      for (;;) {
        const from: { name: string; version: number } | null = after;
        const page: ModelVersion[] = await guard("list the registered model versions", () =>
          read((): ModelVersion[] =>
            (
              sql(
                `SELECT * FROM model_versions WHERE ? IS NULL OR (name, version) > (?, ?)
                 ORDER BY name, version LIMIT ?`,
              ).all(from?.name ?? null, from?.name ?? null, from?.version ?? null, pageSize) as VersionRow[]
            ).map(versionOf),
          ),
        );
        yield* page;
        const last = page.at(-1);
        if (page.length < pageSize || last === undefined) return;
        after = { name: last.name, version: Number(last.version) };
      }
    },

    setAlias(name, alias, version) {
      return guard(`set the alias "${alias}" of the registered model "${name}"`, () => {
        assertAlias(alias);
        const number = parseVersion(version);
        write(() => {
          requireModel(name);
          if (number === undefined || versionRow(name, number) === undefined) {
            throw notFound(
              `The registered model "${name}" has no version "${version}"; an alias can only point at an existing version.`,
              {
                model: name,
                version,
              },
            );
          }
          sql(
            "INSERT INTO model_aliases (name, alias, version) VALUES (?, ?, ?) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
          ).run(name, alias, number);
        });
      });
    },

    deleteAlias(name, alias) {
      return guard(`delete the alias "${alias}" of the registered model "${name}"`, () => {
        assertAlias(alias);
        write(() => {
          requireModel(name);
          sql("DELETE FROM model_aliases WHERE name = ? AND alias = ?").run(name, alias);
        });
      });
    },

    getVersionByAlias(name, alias) {
      return guard(`read the alias "${alias}" of the registered model "${name}"`, () => {
        assertAlias(alias);
        // A lookup: no alias is set on a model never registered either.
        return read(() => {
          const row = sql(
            "SELECT v.* FROM model_aliases a JOIN model_versions v ON v.name = a.name AND v.version = a.version WHERE a.name = ? AND a.alias = ?",
          ).get(name, alias) as VersionRow | undefined;
          return row === undefined ? null : versionOf(row);
        });
      });
    },

    close() {
      db?.close();
      db = undefined;
      statements = new Map();
    },
  };
  return tracker;
}
