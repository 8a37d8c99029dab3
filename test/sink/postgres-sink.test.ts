/** The PostgreSQL sink against a real server (scripts/postgres-test-server.sh): the contract, and its failures. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { postgresSink } from "../../src/sink/postgres.js";
import type { ForecastRow } from "../../src/sink/types.js";
import { createTestDatabase, postgresSkipReason, type TestDatabase } from "../helpers/postgres-server.js";
import { forecastSinkContract, put } from "./forecast-sink.contract.js";

const skip = postgresSkipReason();

async function connected(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

if (!skip) {
  forecastSinkContract("postgres", async () => {
    const database = await createTestDatabase();
    let raw: pg.Client | undefined;
    return {
      open: () => postgresSink({ url: database.url }),
      async sql(text) {
        raw ??= await connected(database.url);
        return (await raw.query(text)).rows;
      },
      async teardown() {
        await raw?.end();
        await database.drop();
      },
    };
  });
}

const row = (sku: string, step: number): ForecastRow => ({
  sku,
  modelType: "top_seller",
  forecastDate: `2024-01-${String(step).padStart(2, "0")}`,
  step,
  quantiles: { "0.1": 1, "0.5": 2, "0.9": 3 },
  coldStart: false,
});
const batch = (rows: Iterable<ForecastRow> | AsyncIterable<ForecastRow>) => ({
  modelName: "acme-top_seller",
  modelVersion: "1",
  codeSha: undefined,
  rows,
});

test("postgres sink: a malformed URL is refused without repeating it", () => {
  assert.throws(
    () => postgresSink({ url: "postgres://tdf:pa ss%zz@host:notaport/db" }),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, "SINK_INVALID");
      assert.match(error.message, /is not a URL; write it as postgres:\/\/user:password@host:5432\/database/);
      assert.ok(!error.message.includes("pa ss") && error.cause === undefined);
      return true;
    },
  );
});

describe("postgres sink: connection failures and privileges", { skip }, () => {
  let database: TestDatabase;
  let admin: pg.Client;
  let url: URL;

  before(async () => {
    database = await createTestDatabase();
    url = new URL(database.url);
    admin = await connected(database.url);
  });
  after(async () => {
    await admin?.end();
    await database?.drop();
  });

  /** The error is `code`, names the server and database, and shows no password. */
  const failsClearly = (code: string, pattern: RegExp, passwords: string[]) => (error: unknown) => {
    const e = error as Error & { code?: string; context?: unknown };
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    for (const secret of passwords) {
      assert.ok(!e.message.includes(secret), `the message shows a password: ${e.message}`);
      assert.ok(!JSON.stringify(e.context).includes(secret), "the context shows a password");
    }
    assert.equal(e.message.split(/(?<=[.;])\s/).length > 0, true);
    return true;
  };

  test("the location names user, host, port and database, never the password", async () => {
    const sink = postgresSink({ url: database.url });
    assert.equal(sink.location, `postgres://${url.username}@${url.hostname}:${url.port}${url.pathname}`);
    assert.ok(!sink.location.includes(url.password));
    await sink.close();
  });

  test("an unreachable server, a wrong password and a missing database are each one clear sentence", async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const unreachable = new URL(database.url);
    unreachable.port = String(closedPort);
    const wrongPassword = new URL(database.url);
    wrongPassword.password = `wrong${randomBytes(4).toString("hex")}`;
    const missing = new URL(database.url);
    missing.pathname = "/no_such_forecasts_db";
    const secrets = [url.password, wrongPassword.password];
    const cases: [URL, string, RegExp][] = [
      [
        unreachable,
        "SINK_UNREACHABLE",
        new RegExp(
          `PostgreSQL at 127\\.0\\.0\\.1:${closedPort} \\(database ${url.pathname.slice(1)}\\) cannot be reached \\(connection refused\\); check DATABASE_URL`,
        ),
      ],
      [
        wrongPassword,
        "SINK_AUTH",
        new RegExp(`refused user ${url.username} for database .*check the credentials in DATABASE_URL`),
      ],
      [
        missing,
        "SINK_NO_DATABASE",
        /has no database "no_such_forecasts_db"; create it \(createdb no_such_forecasts_db\)/,
      ],
    ];
    for (const [target, code, pattern] of cases) {
      const sink = postgresSink({ url: target.toString() });
      await assert.rejects(put(sink, "acme", "r", [batch([row("A", 1)])]), failsClearly(code, pattern, secrets));
      await assert.rejects(sink.read({ client: "acme" }), failsClearly(code, /./, secrets));
      await sink.close();
    }
  });

  test("an export that waits too long for a free connection of its sink says so, not that the server is down", async () => {
    const sink = postgresSink({ url: database.url, maxConnections: 1, connectTimeoutMs: 300 });
    async function* slow(): AsyncGenerator<ForecastRow> {
      yield row("A", 1);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      yield row("A", 2);
    }
    const [first, second] = await Promise.allSettled([
      put(sink, "pool", "r1", [batch(slow())]),
      new Promise((resolve) => setTimeout(resolve, 100)).then(() => put(sink, "pool", "r2", [batch([row("B", 1)])])),
    ]);
    assert.deepEqual(first, { status: "fulfilled", value: { rows: 2 } });
    assert.equal(second.status, "rejected");
    failsClearly("SINK_FAILED", /all 1 connections to .* stayed busy with other exports for 300 ms/, [url.password])(
      (second as PromiseRejectedResult).reason,
    );
    await sink.close();
  });

  test("a connection lost mid-export leaves the table as it was", async () => {
    const sink = postgresSink({ url: database.url });
    await put(sink, "acme", "r", [batch([row("A", 1), row("B", 1)])]);
    async function* killedMidway(): AsyncGenerator<ForecastRow> {
      for (let i = 0; i < 20_000; i++) {
        if (i === 10_000) {
          // The export's own backend, busy with COPY: terminate it as a failover or an admin would.
          const killed = await admin.query(
            "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY forecasts%'",
          );
          assert.deepEqual(killed.rows, [{ ok: true }]);
        }
        yield row(`S${i}`, 1 + (i % 9));
      }
    }
    await assert.rejects(
      put(sink, "acme", "r", [batch(killedMidway())]),
      failsClearly("SINK_UNREACHABLE", /cannot be reached/, [url.password]),
    );
    const left = await admin.query(
      "SELECT sku FROM forecasts WHERE client = 'acme' AND pipeline_run_id = 'r' ORDER BY sku",
    );
    assert.deepEqual(
      left.rows.map((r) => r.sku),
      ["A", "B"],
    );
    // The pool replaced the dead connection.
    assert.equal((await put(sink, "acme", "r2", [batch([row("C", 1)])])).rows, 1);
    await sink.close();
  });

  test("a role allowed only to SELECT can read (reading never migrates); an exporter needs no CREATE", async () => {
    const role = `tdf_reader_${randomBytes(4).toString("hex")}`;
    const password = randomBytes(8).toString("hex");
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    try {
      await admin.query(`GRANT SELECT ON forecasts TO ${role}`);
      const reader = new URL(database.url);
      reader.username = role;
      reader.password = password;
      const sink = postgresSink({ url: reader.toString() });
      assert.deepEqual(
        (await sink.read({ client: "acme", pipelineRunId: "r" })).map((r) => r.sku),
        ["A", "B"],
      );
      await assert.rejects(
        put(sink, "acme", "r", [batch([row("A", 1)])]),
        failsClearly("SINK_FAILED", new RegExp(`user ${role} lacks a privilege .*permission denied`), [password]),
      );
      assert.equal(
        (await admin.query("SELECT count(*)::int AS n FROM forecasts WHERE client = 'acme' AND pipeline_run_id = 'r'"))
          .rows[0].n,
        2,
      );
      // What docs/forecasts.md says an exporting role needs once the schema exists.
      await admin.query(`GRANT INSERT, DELETE ON forecasts TO ${role}`);
      await admin.query(`GRANT SELECT ON tdf_schema_migrations TO ${role}`);
      assert.equal((await put(sink, "acme", "r-reader", [batch([row("A", 1)])])).rows, 1);
      await sink.close();
    } finally {
      await admin.query(`DROP OWNED BY ${role}`);
      await admin.query(`DROP ROLE ${role}`);
    }
  });
});
