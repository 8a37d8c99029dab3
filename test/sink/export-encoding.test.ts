/**
 * The export's fast paths, against both drivers: PostgreSQL's binary COPY (rows encoded into ~1 MiB
 * buffers, dates as days from 2000-01-01) and the quantiles JSON taken from `JSON.stringify` when a
 * model's keys are already in canonical form. Each case reads back exactly what went in.
 */
import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { postgresSink } from "../../src/sink/postgres.js";
import { sqliteSink } from "../../src/sink/sqlite.js";
import type { ForecastRow, ForecastSink } from "../../src/sink/types.js";
import { rejectsWith } from "../helpers/assertions.js";
import { createTestDatabase, postgresSkipReason } from "../helpers/postgres-server.js";
import { put } from "./forecast-sink.contract.js";

const drivers: {
  name: string;
  skip: string | false;
  open: () => Promise<{ sink: ForecastSink; done(): Promise<void> }>;
}[] = [
  {
    name: "sqlite",
    skip: false,
    async open() {
      const root = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-sink-encoding-"));
      const sink = sqliteSink({ path: path.join(root, "forecasts.db") });
      return { sink, done: () => fsp.rm(root, { recursive: true, force: true }) };
    },
  },
  {
    name: "postgres",
    skip: postgresSkipReason(),
    async open() {
      const database = await createTestDatabase();
      const sink = postgresSink({ url: database.url });
      return { sink, done: () => database.drop() };
    },
  },
];

const row = (sku: string, forecastDate: string, quantiles: ForecastRow["quantiles"]): ForecastRow => ({
  sku,
  modelType: "top_seller",
  forecastDate,
  step: 1,
  quantiles,
  coldStart: false,
});

/** Quantiles whose prototype has a toJSON that would hide them from a plain JSON.stringify. */
class Quantiles {
  [level: string]: number;
  constructor(values: Record<string, number>) {
    Object.assign(this, values);
  }
}
Object.defineProperty(Quantiles.prototype, "toJSON", { value: () => ({ hidden: 1 }), enumerable: false });

for (const driver of drivers) {
  describe(`${driver.name} sink: export encoding`, { skip: driver.skip }, () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(() => Promise.all(cleanups.map((done) => done())));
    const open = async () => {
      const { sink, done } = await driver.open();
      cleanups.push(async () => {
        await sink.close();
        await done();
      });
      return sink;
    };

    test("a row larger than the COPY buffer, between ordinary rows, is written whole", async () => {
      const sink = await open();
      // 600,000 two-byte characters: 1.2 MB of UTF-8, more than one ~1 MiB buffer holds. (A key
      // column could not be that long: PostgreSQL's index refuses entries beyond a few kB.)
      const huge = `v-${"é".repeat(600_000)}`;
      const quantiles = { "0.1": 1, "0.5": 2, "0.9": 3 };
      const part = (modelVersion: string, skus: string[]) => ({
        modelName: "m",
        modelVersion,
        codeSha: undefined,
        rows: skus.map((sku) => row(sku, "2024-01-01", quantiles)),
      });
      const written = await put(sink, "acme", "r", [part("1", ["A"]), part(huge, ["B", "C"]), part("2", ["D"])]);
      assert.equal(written.rows, 4);
      const stored = await sink.read({ client: "acme" });
      assert.deepEqual(
        stored.map((r) => [r.sku, r.modelVersion.length]),
        [
          ["A", 1],
          ["B", huge.length],
          ["C", huge.length],
          ["D", 1],
        ],
      );
      assert.equal(stored[1]?.modelVersion, huge);
    });

    test("dates far before and after 2000-01-01 keep their day", async () => {
      const sink = await open();
      const dates = ["1900-03-01", "1999-12-31", "2000-01-01", "2000-02-29", "2038-01-19", "2100-12-31", "9999-12-31"];
      const rows = dates.map((date) => row("A", date, { "0.1": 1, "0.5": 2, "0.9": 3 }));
      await put(sink, "acme", "r", [{ modelName: "m", modelVersion: "1", codeSha: "abc", rows }]);
      assert.deepEqual(
        (await sink.read({ client: "acme" })).map((r) => r.forecastDate),
        dates,
      );
    });

    test("a horizon step beyond a 32-bit integer is refused with the row named; -0 is stored as 0", async () => {
      const sink = await open();
      const part = (rows: ForecastRow[]) => ({ modelName: "m", modelVersion: "1", codeSha: undefined, rows });
      const quantiles = { "0.1": -0, "0.5": -0, "0.9": 1 };
      await assert.rejects(
        put(sink, "acme", "r", [
          part([row("A", "2024-01-01", quantiles), { ...row("B", "2024-01-01", quantiles), step: 2 ** 31 }]),
        ]),
        rejectsWith(
          "SINK_INVALID",
          /^Forecast row 2 \(model m, sku B, date 2024-01-01\) has the horizon step 2147483648; steps are whole numbers from 1 to 2147483647\.$/,
        ),
      );
      assert.deepEqual(await sink.read({ client: "acme" }), []);
      await put(sink, "acme", "r", [part([{ ...row("A", "2024-01-01", quantiles), step: 2 ** 31 - 1 }])]);
      const [stored] = await sink.read({ client: "acme" });
      assert.equal(stored?.step, 2 ** 31 - 1);
      assert.ok(Object.is(stored?.p10, 0) && Object.is(stored?.p50, 0), `p10 ${stored?.p10}, p50 ${stored?.p50}`);
    });

    test("the quantiles JSON holds the values, whatever the keys' order or the object's prototype", async () => {
      const sink = await open();
      const canonical = { "0.02": 0.5, "0.1": Math.fround(1.1), "0.5": 2.5, "0.9": 1e-7 * 1e8, "0.98": 123456789.125 };
      const rows = [
        row("canonical", "2024-01-01", canonical),
        row("unordered", "2024-01-01", { "0.9": 3, "0.1": 1, "0.5": 2 }),
        row("padded", "2024-01-01", { "0.10": 1, "0.50": 2, "0.90": 3 }),
        row("with-toJSON", "2024-01-01", new Quantiles({ "0.1": 1, "0.5": 2, "0.9": 3 })),
        row("canonical-again", "2024-01-01", { "0.1": 4, "0.5": 5, "0.9": 6 }),
      ];
      await put(sink, "acme", "r", [{ modelName: "m", modelVersion: "1", codeSha: "abc", rows }]);
      const stored = new Map((await sink.read({ client: "acme" })).map((r) => [r.sku, r]));
      const plain = { "0.1": 1, "0.5": 2, "0.9": 3 };
      assert.deepEqual(stored.get("canonical")?.quantiles, canonical);
      assert.deepEqual([stored.get("canonical")?.p10, stored.get("canonical")?.p90], [Math.fround(1.1), 1e-7 * 1e8]);
      assert.deepEqual(stored.get("unordered")?.quantiles, plain);
      assert.deepEqual(stored.get("padded")?.quantiles, plain);
      assert.deepEqual(stored.get("with-toJSON")?.quantiles, plain);
      assert.deepEqual(stored.get("canonical-again")?.quantiles, { "0.1": 4, "0.5": 5, "0.9": 6 });
    });
  });
}
