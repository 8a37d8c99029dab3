/** Synthetic data: deterministic for a seed, and with the structure real retail data has. */
import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { openEngine, sqlString } from "../../src/data/engine.js";
import { writeSyntheticData } from "../../src/data/synthesize.js";
import { rejectsWith } from "../helpers/assertions.js";

let dir: string;
before(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-synth-test-"));
});
after(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

async function query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const engine = await openEngine({ workDir: dir, threads: 1 });
  try {
    return await engine.rows<T>(sql);
  } finally {
    engine.close();
  }
}

const files = ["sales.csv", "products.csv", "prices.csv", "events.csv", "client.json"];

test("the same seed writes the same bytes; another seed other data", async () => {
  const options = { skus: 30, days: 200, seed: 42 };
  await writeSyntheticData(path.join(dir, "a"), options);
  await writeSyntheticData(path.join(dir, "b"), options);
  await writeSyntheticData(path.join(dir, "c"), { ...options, seed: 43 });
  for (const file of files) {
    assert.ok(
      (await fsp.readFile(path.join(dir, "a", file))).equals(await fsp.readFile(path.join(dir, "b", file))),
      `${file} differs between two runs with the same seed`,
    );
  }
  const salesA = await fsp.readFile(path.join(dir, "a", "sales.csv"), "utf8");
  assert.notEqual(salesA, await fsp.readFile(path.join(dir, "c", "sales.csv"), "utf8"));
  // A SKU's series does not depend on how many SKUs are generated.
  await writeSyntheticData(path.join(dir, "d"), { ...options, skus: 5 });
  const firstSku = (text: string) =>
    text
      .split("\n")
      .filter((l) => l.includes(",SKU-00001,"))
      .join("\n");
  assert.equal(firstSku(await fsp.readFile(path.join(dir, "d", "sales.csv"), "utf8")), firstSku(salesA));
});

test("the data looks like retail: heavy tail, intermittent SKUs, launches, discontinuations, seasonality, prices, holidays", async () => {
  const out = path.join(dir, "real");
  const result = await writeSyntheticData(out, { skus: 300, days: 730, seed: 7 });
  assert.deepEqual(result.rows.products, 300);
  assert.equal(result.lastDate, "2025-12-28");
  assert.equal(result.firstDate, "2023-12-30");
  const f = (name: string) => `read_csv(${sqlString(path.join(out, name))}, header = true)`;
  const [facts] = await query<Record<string, number>>(
    `WITH per AS (
       SELECT sku, sum(quantity) AS volume, count(*) AS days, min(date) AS first, max(date) AS last FROM ${f("sales.csv")} GROUP BY sku
     ), ranked AS (SELECT *, row_number() OVER (ORDER BY volume DESC) AS rank FROM per)
     SELECT (sum(volume) FILTER (WHERE rank <= 60) / sum(volume))::DOUBLE AS top20_share,
            count(*) FILTER (WHERE days < 0.5 * (last - first + 1))::INTEGER AS intermittent,
            count(*) FILTER (WHERE first > DATE '2023-12-30' + 60)::INTEGER AS launched,
            count(*) FILTER (WHERE last < DATE '2025-12-28' - 60)::INTEGER AS discontinued
     FROM ranked`,
  );
  assert.ok((facts?.top20_share ?? 0) > 0.6, `top 20% of SKUs sell ${facts?.top20_share} of the volume`);
  assert.ok((facts?.intermittent ?? 0) > 30, `${facts?.intermittent} intermittent SKUs`);
  assert.ok((facts?.launched ?? 0) > 10, `${facts?.launched} launches`);
  assert.ok((facts?.discontinued ?? 0) > 5, `${facts?.discontinued} discontinued SKUs`);

  const [pattern] = await query<Record<string, number>>(
    `WITH s AS (SELECT s.date, s.quantity, p.promo FROM ${f("sales.csv")} s
                ASOF LEFT JOIN (SELECT * FROM ${f("prices.csv")}) p ON p.sku = s.sku AND p.date <= s.date)
     SELECT (sum(quantity) FILTER (WHERE isodow(date) = 6) / sum(quantity) FILTER (WHERE isodow(date) = 2))::DOUBLE AS saturday_vs_tuesday,
            (avg(quantity) FILTER (WHERE promo = 1) / avg(quantity) FILTER (WHERE promo = 0))::DOUBLE AS promo_lift,
            coalesce(sum(quantity) FILTER (WHERE month(date) = 12 AND day(date) = 25), 0)::DOUBLE AS christmas,
            (sum(quantity) FILTER (WHERE date = DATE '2024-11-29') / (sum(quantity) FILTER (WHERE date BETWEEN DATE '2024-11-01' AND DATE '2024-11-21') / 21))::DOUBLE AS black_friday
     FROM s`,
  );
  assert.ok((pattern?.saturday_vs_tuesday ?? 0) > 1.2, `Saturday/Tuesday ${pattern?.saturday_vs_tuesday}`);
  assert.ok((pattern?.promo_lift ?? 0) > 1.2, `promotion lift ${pattern?.promo_lift}`);
  assert.equal(pattern?.christmas, 0);
  assert.ok((pattern?.black_friday ?? 0) > 1.8, `Black Friday ${pattern?.black_friday}`);

  const [ahead] = await query<Record<string, string>>(
    `SELECT (SELECT max(date)::VARCHAR FROM ${f("prices.csv")}) AS last_price,
            (SELECT max(date)::VARCHAR FROM ${f("events.csv")} WHERE kind = 'holiday') AS last_holiday`,
  );
  assert.ok((ahead?.last_price ?? "") > "2026-02-01", `prices end ${ahead?.last_price}`);
  assert.ok((ahead?.last_holiday ?? "") >= "2026-12-25", `holidays end ${ahead?.last_holiday}`);
});

test("weekly data is dated by Mondays, and Parquet files can be written", async () => {
  const out = path.join(dir, "weekly");
  const result = await writeSyntheticData(out, {
    skus: 10,
    days: 120,
    seed: 3,
    frequency: "weekly",
    format: "parquet",
  });
  assert.equal(path.basename(result.files.sales), "sales.parquet");
  const [row] = await query<Record<string, number>>(
    `SELECT count(*)::INTEGER AS rows, count(*) FILTER (WHERE isodow(date) <> 1)::INTEGER AS not_monday
     FROM read_parquet(${sqlString(result.files.sales)})`,
  );
  assert.deepEqual(row, { rows: result.rows.sales, not_monday: 0 });
  assert.deepEqual(JSON.parse(await fsp.readFile(result.files.settings, "utf8")), { frequency: "weekly", horizon: 8 });
});

test("impossible options are refused with what is wrong", async () => {
  await assert.rejects(
    writeSyntheticData(path.join(dir, "bad"), { skus: 0, days: 3, seed: -1, end: "yesterday" }),
    rejectsWith(
      "DATA_SYNTH_INVALID",
      /skus must be an integer from 1.*days must be an integer from 14.*seed must be.*end must be a date/,
    ),
  );
});
