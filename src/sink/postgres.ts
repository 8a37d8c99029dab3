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
import { assertSchemaKnown, type ForecastRecord, latestVersionOf, type Migration, storedForecast } from "./table.js";
import type { ForecastBatch, ForecastQuery, ForecastSink, StoredForecast } from "./types.js";

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

const migrations: readonly Migration[] = [
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

const latestVersion = latestVersionOf(migrations);

/** The columns each COPY row carries, in order; created_at is the column's default, the transaction's start. */
const copiedColumns =
  "client, pipeline_run_id, sku, forecast_date, model_type, horizon_step, p10, p50, p90, quantiles, cold_start, model_name, model_version, code_sha";
const COPIED_FIELDS = 14;

/*
 * COPY's binary format (PostgreSQL manual, COPY, "Binary Format"): a header, then per row a 16-bit
 * field count and per field a 32-bit byte length (-1 for null) and the value in the type's binary
 * form; a 16-bit -1 ends the data. Against the text format it spares the server parsing the numbers
 * and dates (about 15 % of its time per row, measured) and this process formatting and escaping them.
 * Rows are encoded straight into ~1 MiB buffers, so the stream sees a few hundred writes per million
 * rows, and waits (backpressure) whenever the server falls behind.
 */
const COPY_HEADER = Buffer.concat([Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(8)]); // flags, extension: 0
const COPY_TRAILER = Buffer.from([0xff, 0xff]);
const COPY_BUFFER_BYTES = 1 << 20;
/** Bytes of a row besides its strings: the field count, 14 lengths, date, step, three doubles, flags. */
const FIXED_ROW_BYTES = 2 + 4 * COPIED_FIELDS + 4 + 4 + 3 * 8 + 1 + 1;
/** date's binary form counts days from 2000-01-01. */
const PG_EPOCH_DAY = Date.UTC(2000, 0, 1) / 86_400_000;

/** A text value, length first: the length is known only once the string is written as UTF-8. */
function putText(buf: Buffer, pos: number, value: string): number {
  const length = buf.write(value, pos + 4, "utf8");
  buf.writeInt32BE(length, pos);
  return pos + 4 + length;
}

/** Fields that repeat on many rows, encoded once (length prefixes included). */
function encodedFields(...values: (string | null)[]): Buffer {
  const buf = Buffer.allocUnsafe(values.reduce((n, v) => n + 4 + (v === null ? 0 : Buffer.byteLength(v)), 0));
  let pos = 0;
  for (const value of values) pos = value === null ? buf.writeInt32BE(-1, pos) : putText(buf, pos, value);
  return buf;
}

/** The run's COPY data in buffers of about `COPY_BUFFER_BYTES`; `counted` hears of every chunk's rows. */
async function* binaryCopy(
  run: { client: string; pipelineRunId: string },
  chunks: AsyncIterable<PreparedRow[]>,
  counted: (rows: number) => void,
): AsyncGenerator<Buffer> {
  // The field count and the run's columns open every row.
  const head = Buffer.concat([Buffer.from([0, COPIED_FIELDS]), encodedFields(run.client, run.pipelineRunId)]);
  const modelTypes = new Map<string, Buffer>();
  const days = new Map<string, number>();
  let tail: Buffer = Buffer.alloc(0);
  let tailOf: PreparedRow | undefined;
  let buf = Buffer.allocUnsafe(COPY_BUFFER_BYTES);
  let pos = COPY_HEADER.copy(buf, 0);
  for await (const rows of chunks) {
    for (const r of rows) {
      // The model's columns close every row; they change only from one batch to the next.
      if (
        tailOf === undefined ||
        r.modelName !== tailOf.modelName ||
        r.modelVersion !== tailOf.modelVersion ||
        r.codeSha !== tailOf.codeSha
      ) {
        tail = encodedFields(r.modelName, r.modelVersion, r.codeSha);
        tailOf = r;
      }
      let modelType = modelTypes.get(r.modelType);
      if (modelType === undefined) {
        modelType = encodedFields(r.modelType);
        modelTypes.set(r.modelType, modelType);
      }
      let day = days.get(r.forecastDate);
      if (day === undefined) {
        // rows.ts has checked the date: YYYY-MM-DD, a real day.
        const [y, m, d] = r.forecastDate.split("-").map(Number) as [number, number, number];
        day = Date.UTC(y, m - 1, d) / 86_400_000 - PG_EPOCH_DAY;
        days.set(r.forecastDate, day);
      }
      // UTF-8 takes at most 3 bytes per UTF-16 unit: a bound that needs no measuring.
      const most =
        head.length + tail.length + modelType.length + FIXED_ROW_BYTES + 3 * (r.sku.length + r.quantilesJson.length);
      if (pos + most > buf.length) {
        yield buf.subarray(0, pos);
        buf = Buffer.allocUnsafe(Math.max(COPY_BUFFER_BYTES, most + COPY_TRAILER.length));
        pos = 0;
      }
      buf.set(head, pos);
      pos += head.length;
      pos = putText(buf, pos, r.sku);
      pos = buf.writeInt32BE(4, pos);
      pos = buf.writeInt32BE(day, pos);
      buf.set(modelType, pos);
      pos += modelType.length;
      pos = buf.writeInt32BE(4, pos);
      pos = buf.writeInt32BE(r.step, pos);
      // + 0 turns -0 into 0, as text would have written it.
      pos = buf.writeInt32BE(8, pos);
      pos = buf.writeDoubleBE(r.p10 + 0, pos);
      pos = buf.writeInt32BE(8, pos);
      pos = buf.writeDoubleBE(r.p50 + 0, pos);
      pos = buf.writeInt32BE(8, pos);
      pos = buf.writeDoubleBE(r.p90 + 0, pos);
      // jsonb's binary form: a version byte (1), then the JSON text.
      const json = buf.write(r.quantilesJson, pos + 5, "utf8");
      pos = buf.writeInt32BE(json + 1, pos);
      pos = buf.writeUInt8(1, pos) + json;
      pos = buf.writeInt32BE(1, pos);
      pos = buf.writeUInt8(r.coldStart ? 1 : 0, pos);
      buf.set(tail, pos);
      pos += tail.length;
    }
    counted(rows.length);
  }
  if (pos + COPY_TRAILER.length > buf.length) {
    yield buf.subarray(0, pos);
    buf = Buffer.allocUnsafe(COPY_TRAILER.length);
    pos = 0;
  }
  pos += COPY_TRAILER.copy(buf, pos);
  yield buf.subarray(0, pos);
}

/** pg parses jsonb and boolean columns itself. */
type PostgresRecord = ForecastRecord<Record<string, number>, boolean>;

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
      case "EPIPE": // a COPY buffer written after the server ended the connection
        return unreachable("the server closed the connection");
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

  const assertKnown = (version: number) => assertSchemaKnown(version, latestVersion, location, { location });

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
        let rows = 0;
        const data = binaryCopy(run, preparedChunks(run, batches), (n) => {
          rows += n;
        });
        await pipeline(
          Readable.from(data),
          conn.query(copyFrom(`COPY forecasts (${copiedColumns}) FROM STDIN WITH (FORMAT binary)`)),
        );
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
      let records: PostgresRecord[];
      try {
        const result = await pool.query<PostgresRecord>(
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
      return records.map((r) => storedForecast(r, r.quantiles, r.cold_start));
    },

    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
