/**
 * Finds the real PostgreSQL test server (a throw-away cluster started by
 * `scripts/postgres-test-server.sh`) through TDF_TEST_DATABASE_URL. Without it, PostgreSQL tests are
 * skipped with a loud notice; under CI they fail instead, so a missing server can never pass silently.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export function testDatabaseUrl(): string | undefined {
  const url = process.env.TDF_TEST_DATABASE_URL;
  if (url) return url;
  if (process.env.CI) {
    throw new Error("TDF_TEST_DATABASE_URL is not set under CI; .ci/run must start scripts/postgres-test-server.sh.");
  }
  return undefined;
}

/** The reason to skip PostgreSQL tests on this machine, printed so nobody mistakes a skip for a pass. */
export function postgresSkipReason(): string | false {
  if (testDatabaseUrl()) return false;
  const reason =
    'no PostgreSQL test server: set TDF_TEST_DATABASE_URL (eval "$(scripts/postgres-test-server.sh start)") to run the PostgreSQL tests';
  process.stderr.write(`\n!!! SKIPPING POSTGRESQL TESTS: ${reason}\n\n`);
  return reason;
}

export interface TestDatabase {
  /** The URL of a new, empty database on the test server. */
  url: string;
  /** Drops it, closing whatever connections are left. */
  drop(): Promise<void>;
}

/** A fresh database, so a suite starts from nothing (the test server's user may create databases). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const base = testDatabaseUrl();
  if (!base) throw new Error("createTestDatabase needs TDF_TEST_DATABASE_URL; check postgresSkipReason() first.");
  const name = `tdf_test_${randomBytes(6).toString("hex")}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
