/**
 * Consolidation: exact values on a hand-made client (series extent, price fill, lags and rolling
 * statistics, statics, calendar, future rows, summary), the contract's shape on a synthetic client,
 * and latest.json moving only after a complete run.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type ConsolidatedSummary, consolidate, type LatestPointer } from "../../src/data/consolidate.js";
import type { DataContext } from "../../src/data/context.js";
import { segmentSkus } from "../../src/data/segment.js";
import { synthesizeClient } from "../../src/data/synthesize.js";
import { transformEvents } from "../../src/data/transform-events.js";
import { transformPrices } from "../../src/data/transform-prices.js";
import { transformProducts } from "../../src/data/transform-products.js";
import { transformSales } from "../../src/data/transform-sales.js";
import { validateRawData } from "../../src/data/validate.js";
import { rejectsWith } from "../helpers/assertions.js";
import { createDataFixture, csv, type DataFixture, days } from "./helpers.js";

let fixture: DataFixture;
before(async () => {
  fixture = await createDataFixture();
});
after(async () => {
  await fixture.remove();
});

async function runPipeline(runId: string, until: "segment" | "consolidate" = "consolidate"): Promise<void> {
  const context = (): Promise<DataContext> => fixture.context(runId);
  await validateRawData(await context());
  await Promise.all([
    transformSales(await context()).then(async () => segmentSkus(await context())),
    transformProducts(await context()),
    transformPrices(await context()),
    transformEvents(await context()),
  ]);
  if (until === "consolidate") await consolidate(await context());
}

async function clearRaw(): Promise<void> {
  for await (const entry of fixture.store.list("training-data", "acme/")) {
    await fixture.store.delete("training-data", entry.key);
  }
}

const dates = days("2024-03-04", 10);

test("a hand-made client: every value of the training and future tables", async () => {
  await clearRaw();
  await fixture.raw(
    {
      "sales.csv": csv("date,sku,quantity,revenue", [
        ...dates.map((d, i) => [d, "A", i + 1, (i + 1) * 2]),
        [dates[3] as string, "B", 4, 20],
        [dates[5] as string, "B", 2, 10],
      ]),
      "prices.csv": csv("date,sku,price,promo", [
        ["2024-03-06", "A", 2, 1],
        ["2024-03-08", "A", 3, 0],
      ]),
      "products.csv": csv("sku,category", [["A", "dairy"]]),
      "events.csv": csv("date,event", [["2024-03-08", "promo_day"]]),
    },
    { horizon: 2 },
  );
  await runPipeline("exact");
  const summary = await fixture.json<ConsolidatedSummary>("acme/exact/consolidated/summary.json");

  const top = await fixture.query<Record<string, unknown>>(
    "exact",
    "consolidated/top_seller.parquet",
    "SELECT * EXCLUDE (date), date::VARCHAR AS date FROM $file",
  );
  assert.deepEqual(
    top.map((r) => [r.sku, r.time_idx, r.quantity]),
    dates.map((_, i) => ["A", i, i + 1]),
  );
  const day5 = top[5] as Record<string, unknown>;
  assert.deepEqual(day5, {
    sku: "A",
    time_idx: 5,
    quantity: 6,
    category: "dairy",
    brand: "unknown",
    demand_class: "smooth",
    price: 3,
    price_ratio: 3 / 2.75, // A's prices over the history: 2, 2, 3 × 6
    promo: 0,
    is_event: 0,
    is_holiday: 0,
    day_of_week: 5,
    day_of_month: 9,
    week_of_year: 10,
    month: 3,
    lag_1: 5,
    lag_7: 0,
    lag_28: 0,
    rolling_mean_7: 3,
    rolling_mean_28: 3,
    rolling_std_28: Math.sqrt(2),
    zero_share_28: 0,
    date: "2024-03-09",
  });
  // Before its first price row, A takes its first price; promo is 0 there.
  assert.deepEqual(
    top.map((r) => [r.price, r.promo, r.is_event]),
    [
      [2, 0, 0],
      [2, 0, 0],
      [2, 1, 0],
      [2, 1, 0],
      [3, 0, 1],
      [3, 0, 0],
      [3, 0, 0],
      [3, 0, 0],
      [3, 0, 0],
      [3, 0, 0],
    ],
  );
  assert.equal(top[9]?.lag_7, 3);

  // B: first sale on day 3, zeros after its last sale (day 5) to the end; no prices: its unit revenue.
  const tail = await fixture.query<Record<string, number | string>>(
    "exact",
    "consolidated/long_tail.parquet",
    "SELECT sku, time_idx, quantity, price, price_ratio, category, demand_class, lag_1, zero_share_28 FROM $file",
  );
  assert.deepEqual(
    tail.map((r) => [r.time_idx, r.quantity, r.lag_1]),
    [
      [3, 4, 0],
      [4, 0, 4],
      [5, 2, 0],
      [6, 0, 2],
      [7, 0, 0],
      [8, 0, 0],
      [9, 0, 0],
    ],
  );
  assert.ok(tail.every((r) => r.price === 5 && r.price_ratio === 1 && r.category === "unknown"));
  assert.equal(tail[0]?.demand_class, "intermittent");
  assert.equal(tail[3]?.zero_share_28, 1 / 3);

  const future = await fixture.query<Record<string, unknown>>(
    "exact",
    "consolidated/future.parquet",
    "SELECT sku, model_type, date::VARCHAR AS date, time_idx, price, promo, category FROM $file",
  );
  assert.deepEqual(future, [
    { sku: "A", model_type: "top_seller", date: "2024-03-14", time_idx: 10, price: 3, promo: 0, category: "dairy" },
    { sku: "A", model_type: "top_seller", date: "2024-03-15", time_idx: 11, price: 3, promo: 0, category: "dairy" },
    { sku: "B", model_type: "long_tail", date: "2024-03-14", time_idx: 10, price: 5, promo: 0, category: "unknown" },
    { sku: "B", model_type: "long_tail", date: "2024-03-15", time_idx: 11, price: 5, promo: 0, category: "unknown" },
  ]);

  assert.equal(summary.frequency, "daily");
  assert.equal(summary.horizon, 2);
  assert.deepEqual(summary.dateRange, {
    start: "2024-03-04",
    end: "2024-03-13",
    futureStart: "2024-03-14",
    futureEnd: "2024-03-15",
  });
  assert.deepEqual(summary.rows, { top_seller: 10, long_tail: 7, future: 4 });
  assert.deepEqual(summary.skus, { total: 2, top_seller: 1, long_tail: 1, active: 2, discontinued: 0 });
  assert.deepEqual(summary.segments, { top_seller: { smooth: 1 }, long_tail: { intermittent: 1 } });
  assert.deepEqual(summary.missingValues, { price: 9, product: 1, category: 1, brand: 2 });
  assert.deepEqual(summary.columns, {
    group: "sku",
    timeIdx: "time_idx",
    date: "date",
    target: "quantity",
    staticCategoricals: ["category", "brand", "demand_class"],
    staticReals: [],
    knownCategoricals: [],
    knownReals: [
      "price",
      "price_ratio",
      "promo",
      "is_event",
      "is_holiday",
      "day_of_week",
      "day_of_month",
      "week_of_year",
      "month",
    ],
    unknownReals: ["lag_1", "lag_7", "lag_28", "rolling_mean_7", "rolling_mean_28", "rolling_std_28", "zero_share_28"],
  });
  const latest = await fixture.json<LatestPointer>("acme/latest.json");
  assert.deepEqual(latest, {
    runId: "exact",
    createdAt: summary.createdAt,
    summary: "acme/exact/consolidated/summary.json",
  });
});

test("a synthetic client: sorted, contiguous, complete tables whose columns the summary lists", async () => {
  await clearRaw();
  await synthesizeClient(fixture.store, "training-data", "acme", { skus: 30, days: 120, seed: 11 });
  await runPipeline("synth");
  const summary = await fixture.json<ConsolidatedSummary>("acme/synth/consolidated/summary.json");
  const c = summary.columns;
  const expected = [
    c.group,
    c.date,
    c.timeIdx,
    c.target,
    ...c.staticCategoricals,
    ...c.staticReals,
    ...c.knownReals,
    ...c.unknownReals,
  ];
  assert.deepEqual(c.staticReals, ["pack_size"]);

  for (const type of ["top_seller", "long_tail"] as const) {
    const name = `consolidated/${type}.parquet`;
    const columns = await fixture.query<{ column_name: string; column_type: string }>(
      "synth",
      name,
      "DESCRIBE SELECT * FROM $file",
    );
    assert.deepEqual(columns.map((col) => col.column_name).sort(), [...expected].sort());
    const types = Object.fromEntries(columns.map((col) => [col.column_name, col.column_type]));
    assert.deepEqual([types.sku, types.date, types.time_idx, types.quantity], ["VARCHAR", "DATE", "INTEGER", "DOUBLE"]);
    const [check] = await fixture.query<Record<string, number>>(
      "synth",
      name,
      `SELECT count(*)::INTEGER AS rows,
              count(*) FILTER (WHERE sku < prev_sku OR (sku = prev_sku AND time_idx <> prev_t + 1))::INTEGER AS out_of_order,
              count(*) FILTER (WHERE ${[...c.staticCategoricals, ...c.staticReals, ...c.knownReals, ...c.unknownReals].map((n) => `"${n}" IS NULL`).join(" OR ")})::INTEGER AS nulls,
              count(*) FILTER (WHERE quantity < 0 OR promo NOT IN (0, 1) OR is_event NOT IN (0, 1))::INTEGER AS invalid
       FROM (SELECT *, lag(sku) OVER () AS prev_sku, lag(time_idx) OVER () AS prev_t FROM $file)`,
    );
    assert.deepEqual(check, { rows: summary.rows[type], out_of_order: 0, nulls: 0, invalid: 0 });
  }
  const [future] = await fixture.query<Record<string, number>>(
    "synth",
    "consolidated/future.parquet",
    `SELECT count(*)::INTEGER AS rows, count(DISTINCT sku)::INTEGER AS skus, count(DISTINCT date)::INTEGER AS dates,
            min(date)::VARCHAR AS first, max(date)::VARCHAR AS last, count(*) FILTER (WHERE price IS NULL OR price <= 0)::INTEGER AS unpriced
     FROM $file`,
  );
  assert.deepEqual(future, {
    rows: summary.skus.active * summary.horizon,
    skus: summary.skus.active,
    dates: summary.horizon,
    first: summary.dateRange.futureStart,
    last: summary.dateRange.futureEnd,
    unpriced: 0,
  });
  assert.equal(summary.skus.total, 30);
  assert.ok(summary.skus.top_seller > 0 && summary.skus.long_tail > 0);
});

test("latest.json moves only when a run is complete; a failed consolidation leaves it untouched", async () => {
  const before = await fixture.json<LatestPointer>("acme/latest.json");
  await runPipeline("half", "segment");
  await fixture.store.delete("data-pipeline", "acme/half/segments.parquet");
  await assert.rejects(
    consolidate(await fixture.context("half")),
    rejectsWith(
      "DATA_MISSING",
      /data-pipeline\/acme\/half\/segments\.parquet does not exist; run the segment task of run half first/,
    ),
  );
  assert.deepEqual(await fixture.json<LatestPointer>("acme/latest.json"), before);
  assert.ok(!(await fixture.outputs()).some((key) => key.startsWith("acme/half/consolidated/")));
});
