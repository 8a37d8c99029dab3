/**
 * The embedded forecast database: one SQLite file (default `.tdf/forecasts.db`), WAL mode so readers
 * never wait for an export.
 *
 * An export streams its rows into a private temporary table first (in chunks, outside any transaction
 * on the forecasts table) and then, in one short `BEGIN IMMEDIATE` transaction, deletes the run's
 * earlier rows and copies the staged ones in. The write lock is held only for that last step, never
 * while the caller's iterables produce rows, and no transaction spans an `await`, so several exports
 * through one connection cannot interleave inside a transaction.
 */
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { TdfError } from "../core/errors.js";
import { SinkError } from "./errors.js";
import { assertLimit, assertRun, assertSomeRows, type PreparedRow, preparedChunks } from "./rows.js";
import { assertSchemaKnown, type ForecastRecord, latestVersionOf, type Migration, storedForecast } from "./table.js";
import type { ForecastBatch, ForecastQuery, ForecastSink, StoredForecast } from "./types.js";

export interface SqliteSinkOptions {
  /** The database file; created, with its folder, on the first export. */
  path: string;
  /** How long an export waits for another process's export to commit (default 30 s). */
  busyTimeoutMs?: number;
}

const DEFAULT_BUSY_TIMEOUT_MS = 30_000;

const migrations: readonly Migration[] = [
  {
    version: 1,
    description: "forecasts table",
    sql: `
    CREATE TABLE forecasts (
      client TEXT NOT NULL,
      pipeline_run_id TEXT NOT NULL,
      sku TEXT NOT NULL,
      forecast_date TEXT NOT NULL CHECK (forecast_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
      model_type TEXT NOT NULL CHECK (model_type IN ('top_seller', 'long_tail')),
      horizon_step INTEGER NOT NULL CHECK (horizon_step >= 1),
      p10 REAL NOT NULL,
      p50 REAL NOT NULL,
      p90 REAL NOT NULL,
      quantiles TEXT NOT NULL CHECK (json_valid(quantiles)),
      cold_start INTEGER NOT NULL CHECK (cold_start IN (0, 1)),
      model_name TEXT NOT NULL,
      model_version TEXT NOT NULL,
      code_sha TEXT,
      created_at TEXT NOT NULL,
      PRIMARY KEY (client, pipeline_run_id, sku, forecast_date),
      CHECK (p10 <= p50 AND p50 <= p90)
    ) WITHOUT ROWID;
    CREATE INDEX forecasts_client_newest ON forecasts (client, created_at DESC, pipeline_run_id);
    `,
  },
];

const latestVersion = latestVersionOf(migrations);

const stagedColumns = [
  "sku",
  "forecast_date",
  "model_type",
  "horizon_step",
  "p10",
  "p50",
  "p90",
  "quantiles",
  "cold_start",
  "model_name",
  "model_version",
  "code_sha",
] as const;

/** SQLite hands back the quantiles as JSON text and cold_start as 0/1. */
type SqliteRecord = ForecastRecord<string, number>;

export function sqliteSink(options: SqliteSinkOptions): ForecastSink {
  const databasePath = path.resolve(options.path);
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  let db: Database.Database | undefined;
  let migrated = false;
  let staging = 0;

  const translate = (error: unknown, action: string): unknown => {
    if (error instanceof TdfError || !(error instanceof Database.SqliteError || isErrno(error))) return error;
    const code = (error as { code?: string }).code ?? "";
    const context = { databasePath, code };
    const fail = (why: string) =>
      new SinkError("SINK_FAILED", `Could not ${action}: ${why}`, { cause: error, context });
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
      return fail(
        `another process kept the forecast database ${databasePath} locked for more than ${busyTimeoutMs} ms; retry, or look for a stuck process.`,
      );
    }
    if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
      return fail(
        `${databasePath} is damaged or is not a forecast database; restore it from a backup or move it away.`,
      );
    }
    if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code === "SQLITE_PERM") {
      return fail(
        `the forecast database ${databasePath} (or its folder) cannot be opened for writing; check its permissions.`,
      );
    }
    if (code.startsWith("SQLITE_FULL") || code.startsWith("SQLITE_IOERR")) {
      return fail(
        `writing the forecast database ${databasePath} failed (${(error as Error).message}); check the disk.`,
      );
    }
    return fail(`${(error as Error).message} (forecast database ${databasePath}).`);
  };

  const appliedVersion = (conn: Database.Database): number => {
    const exists = conn
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tdf_schema_migrations'")
      .get();
    if (exists === undefined) return 0;
    return (conn.prepare("SELECT max(version) AS v FROM tdf_schema_migrations").get() as { v: number | null }).v ?? 0;
  };

  const assertKnown = (version: number) => assertSchemaKnown(version, latestVersion, databasePath, { databasePath });

  const migrate = (conn: Database.Database): void => {
    // Up to date (the usual case): a plain read, no write lock, so reading never waits on an export.
    const before = appliedVersion(conn);
    assertKnown(before);
    if (before === latestVersion) return;
    // Another process may be migrating the same file: the immediate transaction queues us behind it,
    // and the version is read again once we hold the lock.
    conn
      .transaction(() => {
        conn.exec(`CREATE TABLE IF NOT EXISTS tdf_schema_migrations (
          version INTEGER PRIMARY KEY,
          description TEXT NOT NULL,
          applied_at TEXT NOT NULL
        )`);
        const current = appliedVersion(conn);
        assertKnown(current);
        const record = conn.prepare("INSERT INTO tdf_schema_migrations VALUES (?, ?, ?)");
        for (const migration of migrations) {
          if (migration.version <= current) continue;
          conn.exec(migration.sql);
          record.run(migration.version, migration.description, new Date().toISOString());
        }
      })
      .immediate();
  };

  /** The connection, migrated; undefined when `create` is false and the file does not exist yet. */
  const connect = (create: boolean): Database.Database | undefined => {
    if (db === undefined) {
      if (!create && !existsSync(databasePath)) return undefined;
      mkdirSync(path.dirname(databasePath), { recursive: true });
      // The constructor's timeout is SQLite's busy timeout, set before anything else can hit a lock.
      const conn = new Database(databasePath, { timeout: busyTimeoutMs });
      try {
        conn.pragma("journal_mode = WAL");
        // In WAL mode NORMAL loses no committed transaction when the process dies, and never corrupts.
        conn.pragma("synchronous = NORMAL");
      } catch (error) {
        conn.close();
        throw error;
      }
      db = conn;
    }
    if (!migrated) {
      migrate(db);
      migrated = true;
    }
    return db;
  };

  /** The first duplicate (sku, date) among the staged rows, to name it when the primary key refuses them. */
  const duplicateIn = (conn: Database.Database, table: string) =>
    conn
      .prepare(`SELECT sku, forecast_date FROM ${table} GROUP BY sku, forecast_date HAVING count(*) > 1 LIMIT 1`)
      .get() as { sku: string; forecast_date: string } | undefined;

  return {
    driver: "sqlite",
    location: databasePath,

    async writeRun(
      client: string,
      pipelineRunId: string,
      batches: Iterable<ForecastBatch> | AsyncIterable<ForecastBatch>,
    ) {
      const run = { client, pipelineRunId };
      assertRun(run);
      // As in PostgreSQL (the transaction's start): when the export began.
      const createdAt = new Date().toISOString();
      const action = `export the forecasts of client ${run.client}, run ${run.pipelineRunId}`;
      let conn: Database.Database;
      try {
        conn = connect(true) as Database.Database;
      } catch (error) {
        throw translate(error, action);
      }
      // Unique per export through this connection: concurrent exports stage side by side.
      const table = `temp.forecast_staging_${++staging}`;
      try {
        conn.exec(`CREATE TABLE ${table} (${stagedColumns.join(", ")})`);
        const stage = conn.prepare(`INSERT INTO ${table} VALUES (${stagedColumns.map(() => "?").join(", ")})`);
        const stageChunk = conn.transaction((rows: PreparedRow[]) => {
          for (const r of rows) {
            stage.run(
              r.sku,
              r.forecastDate,
              r.modelType,
              r.step,
              r.p10,
              r.p50,
              r.p90,
              r.quantilesJson,
              r.coldStart ? 1 : 0,
              r.modelName,
              r.modelVersion,
              r.codeSha,
            );
          }
        });
        let rows = 0;
        for await (const chunk of preparedChunks(run, batches)) {
          stageChunk(chunk);
          rows += chunk.length;
        }
        assertSomeRows(run, rows);
        const columns = stagedColumns.join(", ");
        const replace = conn.transaction(() => {
          conn
            .prepare("DELETE FROM forecasts WHERE client = ? AND pipeline_run_id = ?")
            .run(run.client, run.pipelineRunId);
          conn
            .prepare(
              `INSERT INTO forecasts (client, pipeline_run_id, created_at, ${columns}) SELECT ?, ?, ?, ${columns} FROM ${table}`,
            )
            .run(run.client, run.pipelineRunId, createdAt);
        });
        try {
          replace.immediate();
        } catch (error) {
          const duplicate =
            error instanceof Database.SqliteError && error.code === "SQLITE_CONSTRAINT_PRIMARYKEY"
              ? duplicateIn(conn, table)
              : undefined;
          if (duplicate) {
            throw new SinkError(
              "SINK_INVALID",
              `The forecast export of client ${run.client}, run ${run.pipelineRunId} has two rows for sku ${duplicate.sku} on ${duplicate.forecast_date}; nothing was written.`,
              { cause: error, context: { sku: duplicate.sku, forecastDate: duplicate.forecast_date } },
            );
          }
          throw error;
        }
        return { rows };
      } catch (error) {
        throw translate(error, action);
      } finally {
        try {
          conn.exec(`DROP TABLE IF EXISTS ${table}`);
        } catch {
          // The temporary table dies with the connection anyway.
        }
      }
    },

    async read(query: ForecastQuery): Promise<StoredForecast[]> {
      assertLimit(query.limit);
      try {
        const conn = connect(false);
        if (conn === undefined) return [];
        const runId =
          query.pipelineRunId ??
          (
            conn
              .prepare(
                "SELECT pipeline_run_id FROM forecasts WHERE client = ? ORDER BY created_at DESC, pipeline_run_id DESC LIMIT 1",
              )
              .get(query.client) as { pipeline_run_id: string } | undefined
          )?.pipeline_run_id;
        if (runId === undefined) return [];
        const where = ["client = ?", "pipeline_run_id = ?"];
        const params: unknown[] = [query.client, runId];
        if (query.sku !== undefined) {
          where.push("sku = ?");
          params.push(query.sku);
        }
        if (query.modelType !== undefined) {
          where.push("model_type = ?");
          params.push(query.modelType);
        }
        const limit = query.limit === undefined ? "" : ` LIMIT ${query.limit}`;
        const records = conn
          .prepare(`SELECT * FROM forecasts WHERE ${where.join(" AND ")} ORDER BY sku, forecast_date${limit}`)
          .all(...params) as SqliteRecord[];
        return records.map((r) =>
          storedForecast(r, JSON.parse(r.quantiles) as Record<string, number>, r.cold_start === 1),
        );
      } catch (error) {
        throw translate(error, `read the forecasts of client ${query.client}`);
      }
    },

    async close() {
      db?.close();
      db = undefined;
      migrated = false;
    },
  };
}

function isErrno(error: unknown): boolean {
  return typeof (error as NodeJS.ErrnoException | undefined)?.syscall === "string";
}
