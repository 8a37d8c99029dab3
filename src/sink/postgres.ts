/**
 * The production forecast database: PostgreSQL at `DATABASE_URL`, through `pg`.
 *
 * An export is one transaction: it deletes the run's earlier rows and streams the new ones straight
 * into the table with COPY. Until COMMIT nobody sees any of it (readers keep seeing the earlier rows),
 * so an export that fails anywhere (a bad row, a source that throws, a duplicate, a lost connection)
 * rolls back and leaves the table as it was. A staging table would add a second full write of every
 * row (measured: about 40 % slower per export) for no extra safety. Two exports of the same client and
 * run queue on an advisory lock taken before the delete, so the later one replaces the earlier one
 * instead of failing on the primary key; exports of other runs never wait for each other.
 *
 * The schema is migrated on the first export, under an advisory lock, so processes starting at once
 * migrate it once. Reading never migrates: a role allowed only to SELECT can read.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { TdfError } from "../core/errors.js";
import { SinkError } from "./errors.js";
import { assertLimit, assertRun, assertSomeRows, type PreparedRow, preparedChunks } from "./rows.js";
import type { ForecastBatch, ForecastQuery, ForecastSink, ModelType, StoredForecast } from "./types.js";

export interface PostgresSinkOptions {
  /** `postgres://user:password@host:port/database` (DATABASE_URL; a secret). */
  url: string;
  /** Connections at most (default 4); each running export holds one, more wait up to `connectTimeoutMs`. */
  maxConnections?: number;
  /** How long connecting may take before the server counts as unreachable (default 10 s). */
  connectTimeoutMs?: number;
}

// Advisory lock keys: (class, key) pairs, the class spelling "tdfm" (migrations) and "tdfr" (runs).
const MIGRATION_LOCK = [0x7464666d, 0] as const;
const RUN_LOCK_CLASS = 0x74646672;

/** Append only: a database records the versions it has in `tdf_schema_migrations`. */
const migrations: readonly { version: number; description: string; sql: string }[] = [
  {
    version: 1,
    description: "forecasts table",
    // COLLATE "C" on the keys: SKUs and run ids are identifiers, so byte order, the same as SQLite's,
    // whatever the database's locale (and the index serves ORDER BY sku).
    sql: `
    CREATE TABLE forecasts (
      client text COLLATE "C" NOT NULL,
      pipeline_run_id text COLLATE "C" NOT NULL,
      sku text COLLATE "C" NOT NULL,
      forecast_date date NOT NULL,
      model_type text NOT NULL CHECK (model_type IN ('top_seller', 'long_tail')),
      horizon_step integer NOT NULL CHECK (horizon_step >= 1),
      p10 double precision NOT NULL,
      p50 double precision NOT NULL,
      p90 double precision NOT NULL,
      quantiles jsonb NOT NULL,
      cold_start boolean NOT NULL,
      model_name text NOT NULL,
      model_version text NOT NULL,
      code_sha text,
      -- The export's transaction start: the same for every row of a run.
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (client, pipeline_run_id, sku, forecast_date),
      CHECK (p10 <= p50 AND p50 <= p90)
    );
    CREATE INDEX forecasts_client_newest ON forecasts (client, created_at DESC, pipeline_run_id);
    COMMENT ON TABLE forecasts IS 'Demand forecasts exported by tdf, one row per client, pipeline run, sku and date; see docs/forecasts.md.';
    `,
  },
];

const latestVersion = migrations[migrations.length - 1]?.version ?? 0;

/** The columns each COPY line carries; created_at is the column's default, the transaction's start. */
const copiedColumns =
  "client, pipeline_run_id, sku, forecast_date, model_type, horizon_step, p10, p50, p90, quantiles, cold_start, model_name, model_version, code_sha";

/** COPY's text format: tab-separated, `\N` for null, backslash escapes for the separators. */
function copyText(value: string): string {
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => copyEscapes[c] as string) : value;
}
const copyEscapes: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** COPY lines for the rows; `run` is the client and run id columns, already escaped. */
function copyLines(run: string, rows: readonly PreparedRow[]): string {
  let text = "";
  for (const r of rows) {
    text += `${run}${copyText(r.sku)}\t${r.forecastDate}\t${r.modelType}\t${r.step}\t${r.p10}\t${r.p50}\t${r.p90}\t${copyText(
      r.quantilesJson,
    )}\t${r.coldStart ? "t" : "f"}\t${copyText(r.modelName)}\t${copyText(r.modelVersion)}\t${
      r.codeSha === null ? "\\N" : copyText(r.codeSha)
    }\n`;
  }
  return text;
}

interface ForecastRecord {
  client: string;
  pipeline_run_id: string;
  sku: string;
  forecast_date: string;
  model_type: ModelType;
  horizon_step: number;
  p10: number;
  p50: number;
  p90: number;
  quantiles: Record<string, number>;
  cold_start: boolean;
  model_name: string;
  model_version: string;
  code_sha: string | null;
  created_at: string;
}

/** Where the URL points, without the password: for messages and logs. */
function describeUrl(url: string): { location: string; server: string; database: string; user: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The URL holds the password: neither the message nor a cause may repeat it (URL's error does).
    throw new SinkError(
      "SINK_INVALID",
      "The database URL is not a URL; write it as postgres://user:password@host:5432/database (percent-encode special characters).",
    );
  }
  const server = `${parsed.hostname}:${parsed.port || "5432"}`;
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
  const user = decodeURIComponent(parsed.username);
  return { location: `postgres://${user ? `${parsed.username}@` : ""}${server}/${database}`, server, database, user };
}

export function postgresSink(options: PostgresSinkOptions): ForecastSink {
  const { location, server, database, user } = describeUrl(options.url);
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const maxConnections = options.maxConnections ?? 4;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: maxConnections,
    connectionTimeoutMillis: connectTimeoutMs,
    application_name: "tdf",
  });
  // An idle connection the server drops (a restart, a failover) must not crash the process: the
  // pool discards it and the next query connects again.
  pool.on("error", () => {});
  let schemaReady: Promise<void> | undefined;
  let closed = false;

  const translate = (error: unknown, action: string): unknown => {
    if (error instanceof TdfError) return error;
    const err = error as { code?: string; message?: string; errors?: { code?: string }[] } | undefined;
    const code = err?.code ?? err?.errors?.[0]?.code;
    const context = { location, code };
    const unreachable = (why: string) =>
      new SinkError(
        "SINK_UNREACHABLE",
        `Could not ${action}: PostgreSQL at ${server} (database ${database}) cannot be reached (${why}); check DATABASE_URL's host and port and that the server is running.`,
        { cause: error, context },
      );
    switch (code) {
      case "ECONNREFUSED":
        return unreachable("connection refused");
      case "ENOTFOUND":
      case "EAI_AGAIN":
        return unreachable("unknown host");
      case "ETIMEDOUT":
      case "EHOSTUNREACH":
      case "ENETUNREACH":
        return unreachable("no route or no answer");
      case "ECONNRESET":
        return unreachable("the connection was reset");
      case "28P01":
      case "28000":
        return new SinkError(
          "SINK_AUTH",
          `Could not ${action}: PostgreSQL at ${server} refused user ${user || "(none)"} for database ${database} (wrong password, or the user may not connect); check the credentials in DATABASE_URL.`,
          { cause: error, context },
        );
      case "3D000":
        return new SinkError(
          "SINK_NO_DATABASE",
          `Could not ${action}: PostgreSQL at ${server} has no database "${database}"; create it (createdb ${database}) or fix the database name in DATABASE_URL.`,
          { cause: error, context },
        );
      case "42501":
        return new SinkError(
          "SINK_FAILED",
          `Could not ${action}: user ${user} lacks a privilege in database ${database} at ${server} (${err?.message}); grant it (docs/forecasts.md lists what reading and exporting need).`,
          { cause: error, context },
        );
      case "57P01": // admin_shutdown: a restart, a failover, pg_terminate_backend
      case "57P02": // crash_shutdown
      case "57P03": // cannot_connect_now: starting up or shutting down
      case "53300": // too_many_connections
        return unreachable(`the server said: ${err?.message}`);
    }
    if (code?.startsWith("08")) return unreachable(`the server said: ${err?.message}`); // connection_exception
    const message = err?.message ?? "";
    if (message === "timeout exceeded when trying to connect") {
      // pg-pool's words when every connection stayed busy: the server is fine, this process is not.
      return new SinkError(
        "SINK_FAILED",
        `Could not ${action}: all ${maxConnections} connections to ${location} stayed busy with other exports for ${connectTimeoutMs} ms; run fewer exports at once through one sink.`,
        { cause: error, context },
      );
    }
    if (!(error instanceof pg.DatabaseError)) {
      if (/timeout/i.test(message)) return unreachable(`no answer within ${connectTimeoutMs} ms`);
      // pg's own words for a connection that died under a query, or an SSL mismatch.
      if (/connection|SSL/i.test(message)) return unreachable(message.replace(/\.$/, ""));
    }
    if (error instanceof pg.DatabaseError || code?.startsWith("E")) {
      return new SinkError(
        "SINK_FAILED",
        `Could not ${action}: PostgreSQL at ${server} (database ${database}) answered: ${err?.message}.`,
        { cause: error, context },
      );
    }
    return error;
  };

  const connect = async (action: string): Promise<pg.PoolClient> => {
    try {
      return await pool.connect();
    } catch (error) {
      throw translate(error, action);
    }
  };

  const appliedVersion = async (client: pg.PoolClient): Promise<number> => {
    const exists = await client.query<{ found: boolean }>(
      "SELECT to_regclass('tdf_schema_migrations') IS NOT NULL AS found",
    );
    if (!exists.rows[0]?.found) return 0;
    const result = await client.query<{ v: number | null }>("SELECT max(version) AS v FROM tdf_schema_migrations");
    return result.rows[0]?.v ?? 0;
  };

  const assertKnown = (version: number) => {
    if (version > latestVersion) {
      throw new SinkError(
        "SINK_SCHEMA",
        `The forecast database ${location} has schema version ${version}, newer than this tdf knows (${latestVersion}); upgrade tdf.`,
        { context: { location, schemaVersion: version } },
      );
    }
  };

  const migrate = async (client: pg.PoolClient): Promise<void> => {
    // Up to date (the usual case): no lock, no DDL, so a role without CREATE can export.
    const before = await appliedVersion(client);
    assertKnown(before);
    if (before === latestVersion) return;
    await client.query("BEGIN");
    try {
      // Processes starting at once queue here; each reads the version again once it holds the lock.
      await client.query("SELECT pg_advisory_xact_lock($1, $2)", [...MIGRATION_LOCK]);
      await client.query(`CREATE TABLE IF NOT EXISTS tdf_schema_migrations (
        version integer PRIMARY KEY,
        description text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const current = await appliedVersion(client);
      assertKnown(current);
      for (const migration of migrations) {
        if (migration.version <= current) continue;
        await client.query(migration.sql);
        await client.query("INSERT INTO tdf_schema_migrations (version, description) VALUES ($1, $2)", [
          migration.version,
          migration.description,
        ]);
      }
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    }
  };

  const ensureSchema = (client: pg.PoolClient): Promise<void> => {
    schemaReady ??= migrate(client).catch((error: unknown) => {
      schemaReady = undefined; // the next export tries again
      throw error;
    });
    return schemaReady;
  };

  return {
    driver: "postgres",
    location,

    async writeRun(
      client: string,
      pipelineRunId: string,
      batches: Iterable<ForecastBatch> | AsyncIterable<ForecastBatch>,
    ) {
      const run = { client, pipelineRunId };
      assertRun(run);
      const action = `export the forecasts of client ${run.client}, run ${run.pipelineRunId}`;
      const conn = await connect(action);
      let healthy = true;
      // A connection that dies under a query fails that query; the client also emits the error, which
      // without a listener would end the process.
      const lost = () => {
        healthy = false;
      };
      conn.on("error", lost);
      try {
        await ensureSchema(conn);
        await conn.query("BEGIN");
        // hashtext is stable within a server, which is all a lock key needs.
        await conn.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [
          RUN_LOCK_CLASS,
          `${client}\u001f${pipelineRunId}`,
        ]);
        await conn.query("DELETE FROM forecasts WHERE client = $1 AND pipeline_run_id = $2", [client, pipelineRunId]);
        const runColumns = `${copyText(client)}\t${copyText(pipelineRunId)}\t`;
        let rows = 0;
        async function* text(): AsyncGenerator<string> {
          for await (const chunk of preparedChunks(run, batches)) {
            rows += chunk.length;
            yield copyLines(runColumns, chunk);
          }
        }
        await pipeline(Readable.from(text()), conn.query(copyFrom(`COPY forecasts (${copiedColumns}) FROM STDIN`)));
        assertSomeRows(run, rows);
        await conn.query("COMMIT");
        return { rows };
      } catch (error) {
        // After a failed statement (or COPY) the transaction is aborted; ROLLBACK ends it. If even that
        // fails the connection is broken: the pool drops it and the server rolls back on its own.
        await conn.query("ROLLBACK").catch(() => {
          healthy = false;
        });
        if (error instanceof pg.DatabaseError && error.code === "23505") {
          throw new SinkError(
            "SINK_INVALID",
            `The forecast export of client ${run.client}, run ${run.pipelineRunId} has two rows for the same sku and date (${error.detail ?? "duplicate key"}); nothing was written.`,
            { cause: error },
          );
        }
        throw translate(error, action);
      } finally {
        conn.off("error", lost);
        conn.release(!healthy);
      }
    },

    async read(query: ForecastQuery): Promise<StoredForecast[]> {
      assertLimit(query.limit);
      const action = `read the forecasts of client ${query.client}`;
      const params: unknown[] = [query.client];
      let run: string;
      if (query.pipelineRunId === undefined) {
        run =
          "(SELECT pipeline_run_id FROM forecasts WHERE client = $1 ORDER BY created_at DESC, pipeline_run_id DESC LIMIT 1)";
      } else {
        params.push(query.pipelineRunId);
        run = `$${params.length}`;
      }
      const where = ["client = $1", `pipeline_run_id = ${run}`];
      if (query.sku !== undefined) {
        params.push(query.sku);
        where.push(`sku = $${params.length}`);
      }
      if (query.modelType !== undefined) {
        params.push(query.modelType);
        where.push(`model_type = $${params.length}`);
      }
      const limit = query.limit === undefined ? "" : ` LIMIT ${query.limit}`;
      let records: ForecastRecord[];
      try {
        const result = await pool.query<ForecastRecord>(
          `SELECT client, pipeline_run_id, sku, to_char(forecast_date, 'YYYY-MM-DD') AS forecast_date, model_type,
                  horizon_step, p10, p50, p90, quantiles, cold_start, model_name, model_version, code_sha,
                  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at
           FROM forecasts WHERE ${where.join(" AND ")} ORDER BY sku, forecast_date${limit}`,
          params,
        );
        records = result.rows;
      } catch (error) {
        // Nothing was ever exported to this database.
        if (error instanceof pg.DatabaseError && error.code === "42P01") return [];
        throw translate(error, action);
      }
      return records.map((r) => ({
        client: r.client,
        pipelineRunId: r.pipeline_run_id,
        sku: r.sku,
        modelType: r.model_type,
        forecastDate: r.forecast_date,
        step: r.horizon_step,
        p10: r.p10,
        p50: r.p50,
        p90: r.p90,
        quantiles: r.quantiles,
        coldStart: r.cold_start,
        modelName: r.model_name,
        modelVersion: r.model_version,
        codeSha: r.code_sha,
        createdAt: r.created_at,
      }));
    },

    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
