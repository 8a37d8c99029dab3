import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { sqliteSink } from "../../src/sink/sqlite.js";
import { forecastSinkContract } from "./forecast-sink.contract.js";

forecastSinkContract("sqlite", async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-sink-sqlite-"));
  const file = path.join(root, "nested", "forecasts.db");
  let raw: Database.Database | undefined;
  return {
    open: () => sqliteSink({ path: file }),
    async sql(text) {
      raw ??= new Database(file, { readonly: true });
      return raw.prepare(text).all() as Record<string, unknown>[];
    },
    async teardown() {
      raw?.close();
      await fsp.rm(root, { recursive: true, force: true });
    },
  };
});

const scratch: string[] = [];
after(() => Promise.all(scratch.map((dir) => fsp.rm(dir, { recursive: true, force: true }))));

test("sqlite: reading a database that does not exist yet creates no file", async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-sink-sqlite-"));
  scratch.push(root);
  const file = path.join(root, "forecasts.db");
  const sink = sqliteSink({ path: file });
  assert.deepEqual(await sink.read({ client: "acme" }), []);
  assert.equal(existsSync(file), false);
  assert.equal(sink.location, file);
  await sink.close();
});

test("sqlite: a file that is not a database is reported as such", async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-sink-sqlite-"));
  scratch.push(root);
  const file = path.join(root, "forecasts.db");
  await fsp.writeFile(file, "this is not sqlite, but it is long enough to have a header ".repeat(20));
  const sink = sqliteSink({ path: file });
  await assert.rejects(sink.read({ client: "acme" }), (error: Error & { code?: string }) => {
    assert.equal(error.code, "SINK_FAILED");
    assert.match(error.message, /is damaged or is not a forecast database/);
    return true;
  });
  await sink.close();
});
