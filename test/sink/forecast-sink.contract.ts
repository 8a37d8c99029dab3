/**
 * The one contract every ForecastSink driver must pass, run against SQLite and a real PostgreSQL
 * server. Each suite starts from an empty database.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { ForecastBatch, ForecastRow, ForecastSink, StoredForecast } from "../../src/sink/types.js";
import { rejectsWith } from "../helpers/assertions.js";

export interface SinkFixture {
  /** A new sink on the suite's database, with its own connection(s), as another process would have. */
  open(): ForecastSink;
  /** Runs SQL that both dialects understand on a connection of the fixture's own, not through a sink. */
  sql(text: string): Promise<Record<string, unknown>[]>;
  teardown(): Promise<void>;
}

const unique = () => randomBytes(4).toString("hex");

/** A day `offset` days after 2024-01-01. */
const day = (offset: number) => new Date(Date.UTC(2024, 0, 1 + offset)).toISOString().slice(0, 10);

/** `skus` × `horizon` rows whose values encode sku, step and `seed`, so any mix-up shows. */
function rows(options: {
  skus: number;
  horizon: number;
  seed?: number;
  modelType?: ForecastRow["modelType"];
  prefix?: string;
}): ForecastRow[] {
  const { skus, horizon, seed = 0, modelType = "top_seller", prefix = "SKU" } = options;
  const out: ForecastRow[] = [];
  for (let s = 0; s < skus; s++) {
    for (let step = 1; step <= horizon; step++) {
      const mid = seed * 1000 + s + step / 100;
      out.push({
        sku: `${prefix}-${String(s).padStart(6, "0")}`,
        modelType,
        forecastDate: day(step - 1),
        step,
        quantiles: { "0.1": mid - 1, "0.5": mid, "0.9": mid + 2 },
        coldStart: s % 7 === 3,
      });
    }
  }
  return out;
}

/** A batch without its run: `put` adds the client and run id. */
export type Part = Omit<ForecastBatch, "client" | "pipelineRunId">;

export const put = (sink: ForecastSink, client: string, pipelineRunId: string, parts: Part[]) =>
  sink.writeRun(
    client,
    pipelineRunId,
    parts.map((part) => ({ client, pipelineRunId, ...part })),
  );

const batch = (rowList: Iterable<ForecastRow> | AsyncIterable<ForecastRow>, version = "1"): Part => ({
  modelName: "acme-top_seller",
  modelVersion: version,
  codeSha: "0123456789abcdef0123456789abcdef01234567",
  rows: rowList,
});

/** Yields the rows, handing the event loop over every `every` rows (so concurrent exports interleave). */
async function* trickle<T>(items: Iterable<T>, every = 50): AsyncGenerator<T> {
  let n = 0;
  for (const item of items) {
    yield item;
    if (++n % every === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Yields `count` rows, then fails as a broken upstream would. */
async function* failingAfter(items: ForecastRow[], count: number, error: Error): AsyncGenerator<ForecastRow> {
  for (const [i, item] of items.entries()) {
    if (i === count) throw error;
    yield item;
  }
}

const summary = (stored: StoredForecast[]) =>
  stored.map((r) => `${r.sku}|${r.forecastDate}|${r.step}|${r.p10}|${r.p50}|${r.p90}|${r.modelVersion}`);

export function forecastSinkContract(name: string, setup: () => Promise<SinkFixture>): void {
  describe(`ForecastSink contract: ${name}`, () => {
    let fixture: SinkFixture;
    let sink: ForecastSink;
    const opened: ForecastSink[] = [];
    const open = () => {
      const s = fixture.open();
      opened.push(s);
      return s;
    };
    const count = async (client?: string) => {
      const where = client === undefined ? "" : ` WHERE client = '${client}'`;
      const [row] = await fixture.sql(`SELECT CAST(count(*) AS INTEGER) AS n FROM forecasts${where}`);
      return Number(row?.n);
    };

    before(async () => {
      fixture = await setup();
      sink = open();
    });
    after(async () => {
      for (const s of opened) await s.close();
      await fixture?.teardown();
    });

    test("an empty database reads as empty; two sinks starting at once create the schema once", async () => {
      assert.deepEqual(await sink.read({ client: "acme" }), []);
      const [a, b] = [open(), open()];
      const [ra, rb] = await Promise.all([
        put(a, `a-${unique()}`, "r1", [batch(rows({ skus: 3, horizon: 4 }))]),
        put(b, `b-${unique()}`, "r1", [batch(rows({ skus: 2, horizon: 4 }))]),
      ]);
      assert.deepEqual([ra.rows, rb.rows], [12, 8]);
      assert.deepEqual(await fixture.sql("SELECT version FROM tdf_schema_migrations ORDER BY version"), [
        { version: 1 },
      ]);
      assert.equal(await count(), 20);
    });

    test("write and read back every column, in order of sku then date, with filters", async () => {
      const client = `acme-${unique()}`;
      const started = Date.now();
      const top = rows({ skus: 5, horizon: 3 });
      const tail = rows({ skus: 2, horizon: 3, modelType: "long_tail", prefix: "LT" });
      const written = await put(sink, client, "run-1", [
        batch([...top].reverse(), "7"),
        { modelName: "acme-long_tail", modelVersion: "3", codeSha: undefined, rows: trickle(tail) },
      ]);
      assert.equal(written.rows, 21);

      const stored = await sink.read({ client });
      assert.deepEqual(
        stored.map((r) => `${r.sku}@${r.forecastDate}`),
        [...tail, ...top].map((r) => `${r.sku}@${r.forecastDate}`),
      );
      const input = top.find((r) => r.sku === "SKU-000003" && r.step === 2) as ForecastRow;
      const row = stored.find((r) => r.sku === "SKU-000003" && r.step === 2);
      assert.deepEqual(row, {
        client,
        pipelineRunId: "run-1",
        sku: "SKU-000003",
        modelType: "top_seller",
        forecastDate: "2024-01-02",
        step: 2,
        p10: input.quantiles["0.1"],
        p50: input.quantiles["0.5"],
        p90: input.quantiles["0.9"],
        quantiles: input.quantiles,
        coldStart: true,
        modelName: "acme-top_seller",
        modelVersion: "7",
        codeSha: "0123456789abcdef0123456789abcdef01234567",
        createdAt: row?.createdAt,
      });
      assert.match(row?.createdAt ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const createdAt = Date.parse(row?.createdAt ?? "");
      assert.ok(createdAt >= started - 1000 && createdAt <= Date.now() + 1000, `createdAt ${row?.createdAt}`);
      assert.equal(new Set(stored.map((r) => r.createdAt)).size, 1, "one created_at per run");
      assert.deepEqual(
        stored.filter((r) => r.coldStart).map((r) => r.sku),
        top.filter((r) => r.coldStart).map((r) => r.sku),
      );
      const tailRow = stored.find((r) => r.sku === "LT-000000");
      assert.equal(tailRow?.codeSha, null);
      assert.equal(tailRow?.modelName, "acme-long_tail");
      assert.equal(tailRow?.modelType, "long_tail");

      assert.deepEqual(
        (await sink.read({ client, sku: "SKU-000001" })).map((r) => r.step),
        [1, 2, 3],
      );
      assert.deepEqual(
        (await sink.read({ client, modelType: "long_tail" })).map((r) => r.sku),
        tail.map((r) => r.sku),
      );
      assert.deepEqual(
        (await sink.read({ client, limit: 4 })).map((r) => `${r.sku}@${r.step}`),
        ["LT-000000@1", "LT-000000@2", "LT-000000@3", "LT-000001@1"],
      );
      assert.deepEqual(await sink.read({ client: `other-${unique()}` }), []);
      assert.deepEqual(await sink.read({ client, pipelineRunId: "no-such-run" }), []);
    });

    test("P10/P50/P90 are interpolated between the predicted levels; the JSON keeps them all", async () => {
      const client = `acme-${unique()}`;
      await put(sink, client, "r", [
        batch([
          {
            sku: "A",
            modelType: "top_seller",
            forecastDate: "2024-03-01",
            step: 1,
            quantiles: { "0.05": 1, "0.25": 5, "0.50": 8, "0.75": 9, "0.95": 13 },
            coldStart: true,
          },
        ]),
      ]);
      const [stored] = await sink.read({ client });
      const near = (actual: number | undefined, expected: number) =>
        assert.ok(Math.abs((actual ?? Number.NaN) - expected) < 1e-9, `${actual} is not ${expected}`);
      near(stored?.p10, 2); // a quarter of the way from 0.05 (1) to 0.25 (5)
      assert.equal(stored?.p50, 8); // predicted exactly
      near(stored?.p90, 12); // three quarters of the way from 0.75 (9) to 0.95 (13)
      assert.deepEqual(stored?.quantiles, { "0.05": 1, "0.25": 5, "0.5": 8, "0.75": 9, "0.95": 13 });
      assert.equal(stored?.coldStart, true);
    });

    test("text with tabs, newlines, backslashes, quotes and non-ASCII survives the round trip", async () => {
      const client = `ac\\me\t${unique()}`;
      const skus = [
        "tab\there",
        "new\nline",
        "back\\slash",
        "quo\"te's",
        "\\N",
        "Ünïcødé 🚀",
        "comma,semi;",
        " spaced ",
      ];
      await put(sink, client, "run\r\n1", [
        {
          modelName: "m\\n",
          modelVersion: "v\t1",
          codeSha: undefined,
          rows: skus.map((sku) => ({
            sku,
            modelType: "long_tail" as const,
            forecastDate: "2024-05-05",
            step: 1,
            quantiles: { "0.1": 1e-7, "0.5": 0.1 + 0.2, "0.9": 123456789.125 },
            coldStart: false,
          })),
        },
      ]);
      const stored = await sink.read({ client });
      assert.deepEqual(new Set(stored.map((r) => r.sku)), new Set(skus));
      for (const r of stored) {
        assert.equal(r.pipelineRunId, "run\r\n1");
        assert.equal(r.client, client);
        assert.equal(r.modelName, "m\\n");
        assert.equal(r.modelVersion, "v\t1");
        assert.deepEqual([r.p10, r.p50, r.p90], [1e-7, 0.1 + 0.2, 123456789.125]);
        assert.deepEqual(r.quantiles, { "0.1": 1e-7, "0.5": 0.1 + 0.2, "0.9": 123456789.125 });
      }
    });

    test("the newest run is read by default; an older one by its id; a re-written run becomes the newest", async () => {
      const client = `acme-${unique()}`;
      await put(sink, client, "r2", [batch(rows({ skus: 1, horizon: 2, seed: 1 }), "1")]);
      // created_at has millisecond resolution: keep the writes apart so "newest" is unambiguous.
      await sleep(5);
      await put(sink, client, "r1", [batch(rows({ skus: 1, horizon: 2, seed: 2 }), "2")]);
      assert.deepEqual(
        (await sink.read({ client })).map((r) => r.pipelineRunId),
        ["r1", "r1"],
      );
      assert.deepEqual(
        (await sink.read({ client, pipelineRunId: "r2" })).map((r) => r.modelVersion),
        ["1", "1"],
      );
      await sleep(5);
      await put(sink, client, "r2", [batch(rows({ skus: 1, horizon: 2, seed: 3 }), "3")]);
      assert.deepEqual(
        (await sink.read({ client })).map((r) => `${r.pipelineRunId}:${r.modelVersion}`),
        ["r2:3", "r2:3"],
      );
      assert.equal(await count(client), 4);
    });

    test("re-running a run replaces its rows, never duplicates them; other runs are untouched", async () => {
      const client = `acme-${unique()}`;
      await put(sink, client, "keep", [batch(rows({ skus: 2, horizon: 2, seed: 9 }))]);
      const first = await put(sink, client, "r", [batch(rows({ skus: 4, horizon: 5 }), "1")]);
      assert.equal(first.rows, 20);
      const again = await put(sink, client, "r", [batch(rows({ skus: 4, horizon: 5 }), "1")]);
      assert.equal(again.rows, 20);
      assert.equal(await count(client), 24);

      const replacement = rows({ skus: 3, horizon: 5, seed: 5 });
      await put(sink, client, "r", [batch(replacement, "2")]);
      assert.equal(await count(client), 19);
      const stored = await sink.read({ client, pipelineRunId: "r" });
      assert.deepEqual(
        stored.map((r) => `${r.sku}|${r.step}|${r.p50}|${r.modelVersion}`),
        replacement.map((r) => `${r.sku}|${r.step}|${r.quantiles["0.5"]}|2`),
      );
      assert.equal((await sink.read({ client, pipelineRunId: "keep" })).length, 4);
    });

    test("a failure mid-export leaves no rows behind and the previous rows intact", async () => {
      const client = `acme-${unique()}`;
      const original = rows({ skus: 10, horizon: 4 });
      await put(sink, client, "r", [batch(original, "1")]);
      const before = summary(await sink.read({ client, pipelineRunId: "r" }));
      const total = await count();

      // Thousands of rows in: several chunks are already staged (or copied to the server).
      const many = rows({ skus: 2000, horizon: 4, seed: 4 });
      const boom = new Error("upstream parquet reader failed");
      for (const runId of ["r", "r-new"]) {
        await assert.rejects(
          put(sink, client, runId, [
            batch(rows({ skus: 3, horizon: 4 }), "2"),
            batch(failingAfter(many, 6500, boom), "2"),
          ]),
          (error) => error === boom,
        );
      }
      // A bad row late in the stream fails the export as a whole, too.
      const crossing = rows({ skus: 1000, horizon: 4, seed: 4 });
      crossing[3001] = { ...(crossing[3001] as ForecastRow), quantiles: { "0.1": 5, "0.5": 4, "0.9": 6 } };
      await assert.rejects(
        put(sink, client, "r", [batch(crossing, "2")]),
        rejectsWith("SINK_INVALID", /row 3002 .*SKU-000750.*crossing quantiles \(0\.1 = 5 > 0\.5 = 4\)/),
      );
      // So does a duplicate (sku, date), which only the database's key can see.
      const duplicated = rows({ skus: 500, horizon: 4, seed: 4 });
      duplicated.push({ ...(duplicated[1234] as ForecastRow) });
      await assert.rejects(
        put(sink, client, "r", [batch(duplicated, "2")]),
        rejectsWith("SINK_INVALID", /two rows for .*SKU-000308.*2024-01-03/),
      );
      // And an export without rows: replacing a run with nothing is refused.
      await assert.rejects(
        put(sink, client, "r", [batch([], "2")]),
        rejectsWith("SINK_INVALID", /has no rows; nothing was written/),
      );

      assert.equal(await count(), total);
      assert.deepEqual(summary(await sink.read({ client, pipelineRunId: "r" })), before);
      assert.deepEqual(await sink.read({ client, pipelineRunId: "r-new" }), []);
      // The sink is still usable after the failures.
      await put(sink, client, "r", [batch(rows({ skus: 1, horizon: 1 }), "3")]);
      assert.equal(await count(client), 1);
    });

    test("rows the table cannot hold are refused with the row named, nothing written", async () => {
      const client = `acme-${unique()}`;
      const good: ForecastRow = {
        sku: "A",
        modelType: "top_seller",
        forecastDate: "2024-01-01",
        step: 1,
        quantiles: { "0.1": 1, "0.5": 2, "0.9": 3 },
        coldStart: false,
      };
      const cases: [Partial<ForecastRow> & Record<string, unknown>, RegExp][] = [
        [
          { forecastDate: "2024-02-30" },
          /row 3 \(model acme-top_seller, sku A, date 2024-02-30\) needs a forecast date written YYYY-MM-DD/,
        ],
        [{ forecastDate: "01/02/2024" }, /YYYY-MM-DD/],
        [{ step: 0 }, /horizon step 0/],
        [{ step: 1.5 }, /horizon step 1\.5/],
        [
          { modelType: "bestseller" as ForecastRow["modelType"] },
          /model type "bestseller"; use top_seller or long_tail/,
        ],
        [{ sku: "" }, /empty sku/],
        [{ sku: "a\u0000b" }, /NUL/],
        [{ coldStart: "no" as unknown as boolean }, /coldStart true or false/],
        [{ quantiles: { "0.25": 1, "0.5": 2, "0.75": 3 } }, /levels from 0\.25 to 0\.75; P10 and P90 need/],
        [{ quantiles: { "0.1": 1, "0.5": Number.NaN, "0.9": 3 } }, /0\.5 = NaN; quantiles must be finite/],
        [{ quantiles: { "0.1": 1, p50: 2, "0.9": 3 } }, /level "p50"/],
        [{ quantiles: { "0.1": 1, "0.10": 1, "0.9": 3 } }, /level 0\.1 twice/],
        [{ quantiles: {} }, /has no quantiles/],
      ];
      for (const [change, pattern] of cases) {
        await assert.rejects(
          put(sink, client, "r", [batch([good, { ...good, sku: "B" }, { ...good, ...change }])]),
          rejectsWith("SINK_INVALID", pattern),
          JSON.stringify(change),
        );
      }
      await assert.rejects(put(sink, "", "r", [batch([good])]), rejectsWith("SINK_INVALID", /needs a client/));
      await assert.rejects(
        put(sink, client, " ", [batch([good])]),
        rejectsWith("SINK_INVALID", /needs a pipeline run id/),
      );
      await assert.rejects(
        put(sink, client, "r", [{ ...batch([good]), modelVersion: "" }]),
        rejectsWith("SINK_INVALID", /needs its version/),
      );
      await assert.rejects(
        sink.writeRun(client, "r", [
          { client, pipelineRunId: "r", ...batch([good]) },
          { client: "other", pipelineRunId: "r", ...batch([good]) },
        ]),
        rejectsWith(
          "SINK_INVALID",
          new RegExp(`belongs to client other, run r, not to the export of client ${client}, run r`),
        ),
      );
      await assert.rejects(sink.read({ client, limit: 0 }), rejectsWith("SINK_INVALID", /limit/));
      assert.equal(await count(client), 0);
    });

    test("concurrent exports of two clients both land, nothing mixed", async () => {
      const [alpha, beta] = [`alpha-${unique()}`, `beta-${unique()}`];
      const other = open();
      const alphaRows = rows({ skus: 300, horizon: 7, seed: 1 });
      const betaRows = rows({ skus: 200, horizon: 7, seed: 2, modelType: "long_tail" });
      // Through one sink and through two: the stages interleave either way.
      await Promise.all([
        put(sink, alpha, "r", [batch(trickle(alphaRows), "a")]),
        put(sink, beta, "r", [batch(trickle(betaRows), "b")]),
        put(other, alpha, "r2", [batch(trickle(betaRows), "c")]),
      ]);
      const a = await sink.read({ client: alpha, pipelineRunId: "r" });
      const b = await sink.read({ client: beta });
      assert.deepEqual(
        a.map((r) => `${r.sku}|${r.step}|${r.p50}|${r.modelType}`),
        alphaRows.map((r) => `${r.sku}|${r.step}|${r.quantiles["0.5"]}|top_seller`),
      );
      assert.deepEqual(new Set(a.map((r) => r.modelVersion)), new Set(["a"]));
      assert.deepEqual(
        b.map((r) => `${r.sku}|${r.step}|${r.p50}|${r.modelVersion}|${r.client}`),
        betaRows.map((r) => `${r.sku}|${r.step}|${r.quantiles["0.5"]}|b|${beta}`),
      );
      assert.equal((await sink.read({ client: alpha, pipelineRunId: "r2" })).length, betaRows.length);
    });

    test("two exports of the same run at once: one replaces the other whole", async () => {
      const client = `acme-${unique()}`;
      const [one, two] = [open(), open()];
      await Promise.all([
        put(one, client, "r", [batch(trickle(rows({ skus: 200, horizon: 5, seed: 1 })), "1")]),
        put(two, client, "r", [batch(trickle(rows({ skus: 150, horizon: 5, seed: 2 })), "2")]),
      ]);
      const stored = await sink.read({ client });
      const versions = new Set(stored.map((r) => r.modelVersion));
      assert.equal(versions.size, 1, `rows of both exports: ${[...versions]}`);
      assert.equal(stored.length, versions.has("1") ? 1000 : 750);
      assert.equal(await count(client), stored.length);
    });

    test("a large export (50,000 rows) is written and read back whole", async () => {
      const client = `big-${unique()}`;
      const big = rows({ skus: 2000, horizon: 25 });
      const written = await put(sink, client, "r", [batch(big)]);
      assert.equal(written.rows, 50_000);
      assert.equal(await count(client), 50_000);
      const stored = await sink.read({ client });
      assert.equal(stored.length, 50_000);
      const probe = 1000 * 25 + 24;
      assert.equal(stored[probe]?.sku, big[probe]?.sku);
      assert.equal(stored[probe]?.p90, big[probe]?.quantiles["0.9"]);
      assert.equal((await sink.read({ client, sku: "SKU-001999" })).length, 25);
    });
  });
}
