/**
 * `npm run bench:export`: rows per second into PostgreSQL through the project's sink (`postgresSink`,
 * COPY inside one transaction) against the honest row-by-row baseline — one prepared, parameterised
 * INSERT per row with `pg`, all inside one transaction — for the same forecast rows, in the same run.
 *
 * Both write into the sink's own table (its primary key, index and checks), each repeat into an empty
 * table, and both start with the DELETE of the run's earlier rows that makes an export idempotent.
 * The rows are made once, before timing, as the inference task hands them over: seven quantiles per
 * row, float32 values as a model predicts them. Runs alternate (sink, INSERT, sink, …) after a small
 * warm-up of each; medians are reported. After every run the table is counted, so a figure can never
 * come from rows that were not written.
 *
 * On a machine shared with other work, rows/s follow its load: the line carries the load average and,
 * for a server on this machine, the CPU µs per row of this process (the client) and of the whole
 * server (/proc), which do not.
 *
 * The server is the one in TDF_TEST_DATABASE_URL, or a throw-away cluster started for this run with
 * `scripts/postgres-test-server.sh` (fsync off, as for the tests: the figure measures the client and
 * the server's CPU, not the disk) and stopped at the end.
 *
 * Environment: BENCH_ROWS (default 1,000,000), BENCH_RUNS (repeats of each, default 3).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { postgresSink } from "../src/sink/postgres.js";
import type { ForecastRow, ForecastSink } from "../src/sink/types.js";
import { median, repo, round } from "./common.js";

const rowCount = Number(process.env.BENCH_ROWS ?? 1_000_000);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const horizon = 28;
const levels = ["0.02", "0.1", "0.25", "0.5", "0.75", "0.9", "0.98"];
const client = "bench";
const modelName = "bench-top_seller";
const modelVersion = "7";
const codeSha = "0123456789abcdef0123456789abcdef01234567";

/** The server to measure against, and how to stop it if this run started it. */
function postgresServer(): { url: string; stop(): void } {
  const existing = process.env.TDF_TEST_DATABASE_URL;
  if (existing) return { url: existing, stop() {} };
  const script = path.join(repo, "scripts", "postgres-test-server.sh");
  const dir = path.join(os.tmpdir(), `tdf-bench-pg-${process.pid}`);
  const started = spawnSync("bash", [script, "start", dir], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = /^export TDF_TEST_DATABASE_URL=(.*)$/m.exec(started.stdout ?? "")?.[1];
  if (started.status !== 0 || !url) throw new Error(`could not start the PostgreSQL test server (${script})`);
  return { url, stop: () => spawnSync("bash", [script, "stop", dir], { stdio: "inherit" }) };
}

const clockTicks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

/** CPU seconds (user + system) of a process on this machine, and its parent's pid; undefined when gone. */
function processCpu(pid: number): { seconds: number; parent: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After "pid (command) ": state, ppid, …; utime and stime are the 12th and 13th fields from there.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { seconds: (Number(fields[11]) + Number(fields[12])) / clockTicks, parent: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

/**
 * The CPU seconds of the whole PostgreSQL server (postmaster, backends, WAL writer, checkpointer, …)
 * per pid, read from /proc: for a server on this machine, what its share of a run cost, however busy
 * the machine is. Undefined for a server elsewhere.
 */
function serverCpu(postmaster: number | undefined): Map<number, number> | undefined {
  if (postmaster === undefined) return undefined;
  const usage = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const cpu = processCpu(pid);
    if (cpu && (pid === postmaster || cpu.parent === postmaster)) usage.set(pid, cpu.seconds);
  }
  return usage;
}

/** CPU seconds the server used between two readings (a process started since counts from zero). */
function serverCpuBetween(before: Map<number, number> | undefined, after: Map<number, number> | undefined) {
  if (before === undefined || after === undefined) return undefined;
  let seconds = 0;
  for (const [pid, used] of after) seconds += used - (before.get(pid) ?? 0);
  return seconds;
}

const day = (offset: number) => new Date(Date.UTC(2025, 0, 1 + offset)).toISOString().slice(0, 10);

/** `count` rows, `horizon` per SKU, with monotone float32 quantiles from a fixed pseudo-random walk. */
function forecastRows(count: number): ForecastRow[] {
  const dates = Array.from({ length: horizon }, (_, i) => day(i));
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const rows: ForecastRow[] = [];
  for (let i = 0; i < count; i++) {
    const sku = Math.floor(i / horizon);
    const step = (i % horizon) + 1;
    const quantiles: Record<string, number> = {};
    let value = random() * 20;
    for (const level of levels) {
      quantiles[level] = Math.fround(value);
      value += random() * 5;
    }
    rows.push({
      sku: `SKU-${String(sku).padStart(7, "0")}`,
      modelType: "top_seller",
      forecastDate: dates[step - 1] as string,
      step,
      quantiles,
      coldStart: sku % 50 === 0,
    });
  }
  return rows;
}

/** The sink's export of `rows` as run `runId`: what the `export` task does. */
async function viaSink(sink: ForecastSink, runId: string, rows: ForecastRow[]): Promise<void> {
  const written = await sink.writeRun(client, runId, [
    { client, pipelineRunId: runId, modelName, modelVersion, codeSha, rows },
  ]);
  if (written.rows !== rows.length) throw new Error(`the sink wrote ${written.rows} rows, not ${rows.length}`);
}

/**
 * The baseline: what a careful hand-written export does without COPY — the same transaction, the same
 * DELETE, then one prepared INSERT per row (pg prepares a named statement once per connection).
 */
async function viaInserts(conn: pg.Client, runId: string, rows: ForecastRow[]): Promise<void> {
  await conn.query("BEGIN");
  try {
    await conn.query("DELETE FROM forecasts WHERE client = $1 AND pipeline_run_id = $2", [client, runId]);
    const text = `INSERT INTO forecasts (client, pipeline_run_id, sku, forecast_date, model_type, horizon_step,
      p10, p50, p90, quantiles, cold_start, model_name, model_version, code_sha)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`;
    for (const row of rows) {
      const q = row.quantiles;
      await conn.query({
        name: "bench_insert_forecast",
        text,
        values: [
          client,
          runId,
          row.sku,
          row.forecastDate,
          row.modelType,
          row.step,
          q["0.1"],
          q["0.5"],
          q["0.9"],
          JSON.stringify(q),
          row.coldStart,
          modelName,
          modelVersion,
          codeSha,
        ],
      });
    }
    await conn.query("COMMIT");
  } catch (error) {
    await conn.query("ROLLBACK").catch(() => {});
    throw error;
  }
}

async function main(): Promise<void> {
  const server = postgresServer();
  const admin = new pg.Client({ connectionString: server.url });
  const database = `tdf_bench_${randomBytes(4).toString("hex")}`;
  let sink: ForecastSink | undefined;
  let conn: pg.Client | undefined;
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(server.url);
    url.pathname = `/${database}`;
    sink = postgresSink({ url: url.toString(), maxConnections: 1 });
    conn = new pg.Client({ connectionString: url.toString() });
    await conn.connect();
    const fsync = (await conn.query<{ fsync: string }>("SHOW fsync")).rows[0]?.fsync;
    const serverVersion = (await conn.query<{ server_version: string }>("SHOW server_version")).rows[0]?.server_version;

    const rows = forecastRows(rowCount);
    const count = async () =>
      Number((await (conn as pg.Client).query<{ n: string }>("SELECT count(*) AS n FROM forecasts")).rows[0]?.n);
    const empty = async () => {
      await (conn as pg.Client).query("TRUNCATE forecasts");
      await (conn as pg.Client).query("VACUUM ANALYZE forecasts");
    };
    // The server's postmaster, when the server runs on this machine (its backends are its children).
    const backend = (await conn.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
    const postmaster = backend === undefined ? undefined : processCpu(backend)?.parent;
    interface Run {
      rowsPerSecond: number;
      /** CPU µs per row: this process (the client) and the whole server, whatever else the machine ran. */
      clientCpuMicros: number;
      serverCpuMicros: number | undefined;
    }
    const timed = async (write: (runId: string) => Promise<void>, runId: string, expected: number): Promise<Run> => {
      await empty();
      const serverBefore = serverCpu(postmaster);
      const clientBefore = process.cpuUsage();
      const started = process.hrtime.bigint();
      await write(runId);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const client = process.cpuUsage(clientBefore);
      const server = serverCpuBetween(serverBefore, serverCpu(postmaster));
      const found = await count();
      if (found !== expected) throw new Error(`${found} rows in the table after writing ${expected}`);
      return {
        rowsPerSecond: expected / seconds,
        clientCpuMicros: (client.user + client.system) / expected,
        serverCpuMicros: server === undefined ? undefined : (server * 1e6) / expected,
      };
    };

    // The sink creates its schema on its first export; then a warm-up of each lets the JIT settle.
    await viaSink(sink, "schema", rows.slice(0, 1));
    const warm = rows.slice(0, Math.min(rows.length, 20_000));
    await timed((id) => viaSink(sink as ForecastSink, id, warm), "warm-sink", warm.length);
    await timed((id) => viaInserts(conn as pg.Client, id, warm), "warm-insert", warm.length);

    const loadBefore = os.loadavg();
    const sinkRuns: Run[] = [];
    const insertRuns: Run[] = [];
    for (let r = 0; r < runs; r++) {
      sinkRuns.push(await timed((id) => viaSink(sink as ForecastSink, id, rows), `sink-${r}`, rows.length));
      insertRuns.push(await timed((id) => viaInserts(conn as pg.Client, id, rows), `insert-${r}`, rows.length));
    }
    const loadAfter = os.loadavg();
    const sinkRate = median(sinkRuns.map((run) => run.rowsPerSecond));
    const insertRate = median(insertRuns.map((run) => run.rowsPerSecond));
    const cpu = (list: Run[]) => ({
      client: round(median(list.map((run) => run.clientCpuMicros)), 2),
      server: postmaster === undefined ? null : round(median(list.map((run) => run.serverCpuMicros ?? 0)), 2),
    });
    const result = {
      bench: "export",
      rows: rowCount,
      quantilesPerRow: levels.length,
      runs,
      postgres: { version: serverVersion, fsync },
      sinkCopyRowsPerSecond: Math.round(sinkRate),
      insertRowsPerSecond: Math.round(insertRate),
      ratio: round(sinkRate / insertRate, 2),
      sinkRuns: sinkRuns.map((run) => Math.round(run.rowsPerSecond)),
      insertRuns: insertRuns.map((run) => Math.round(run.rowsPerSecond)),
      cpuMicrosPerRow: { sink: cpu(sinkRuns), insert: cpu(insertRuns) },
      target: { rowsPerSecond: 100_000, ratio: 10 },
      meetsTarget: sinkRate >= 100_000 && sinkRate / insertRate >= 10,
      machine: {
        cores: os.cpus().length,
        loadavg1Before: round(loadBefore[0] ?? 0, 2),
        loadavg1After: round(loadAfter[0] ?? 0, 2),
      },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await sink?.close();
    await conn?.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await admin.end().catch(() => {});
    server.stop();
  }
}

await main();
