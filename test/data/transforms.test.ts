/**
 * The four transforms on small inputs whose results are known exactly: calendar fill, duplicate and
 * returns policies, locations, weekly sums, price forward fill and its future rule, the calendar, the
 * products' attributes.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
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

let runs = 0;
/** Puts the raw files, validates them and returns the run id. */
async function validated(files: Record<string, string>, settings?: unknown): Promise<string> {
  for await (const entry of fixture.store.list("training-data", "acme/")) {
    await fixture.store.delete("training-data", entry.key);
  }
  await fixture.raw(files, settings);
  const runId = `run-${++runs}`;
  await validateRawData(await fixture.context(runId));
  return runId;
}

type SalesRow = { sku: string; date: string; quantity: number; revenue: number | null };
const salesOf = (runId: string) =>
  fixture.query<SalesRow>(
    runId,
    "sales.parquet",
    "SELECT sku, date::VARCHAR AS date, quantity, revenue FROM $file ORDER BY sku, date",
  );

const messy = csv("date,sku,quantity,revenue,location", [
  ["2024-03-04", "A", 2, 20, "north"],
  ["2024-03-04", "A", 3, 30, "south"],
  ["2024-03-06", "A", 1, 10, "north"],
  ["2024-03-06", "A", 4, 40, "north"],
  ["2024-03-05", "B", 0, 0, "north"],
  ["2024-03-07", "B", 2, 20, "north"],
]);

test("sales: locations and duplicates are added up, zeros fill the calendar between first and last sale", async () => {
  const runId = await validated({ "sales.csv": messy });
  assert.deepEqual(await transformSales(await fixture.context(runId)), { rows: 4 });
  assert.deepEqual(await salesOf(runId), [
    { sku: "A", date: "2024-03-04", quantity: 5, revenue: 50 },
    { sku: "A", date: "2024-03-05", quantity: 0, revenue: 0 },
    { sku: "A", date: "2024-03-06", quantity: 5, revenue: 50 },
    // B's zero on 03-05 is before its first sale: not part of its series.
    { sku: "B", date: "2024-03-07", quantity: 2, revenue: 20 },
  ]);
});

test("sales: the last of duplicate rows wins under the `last` policy", async () => {
  const runId = await validated({ "sales.csv": messy }, { duplicates: "last" });
  await transformSales(await fixture.context(runId));
  const rows = await salesOf(runId);
  assert.deepEqual(
    rows.map((r) => [r.sku, r.date, r.quantity]),
    [
      ["A", "2024-03-04", 5],
      ["A", "2024-03-05", 0],
      ["A", "2024-03-06", 4],
      ["B", "2024-03-07", 2],
    ],
  );
});

const returns = csv("date,sku,quantity", [
  ["2024-03-04", "A", 5],
  ["2024-03-04", "A", -2],
  ["2024-03-05", "A", -3],
  ["2024-03-06", "A", 1],
]);

test("returns: netted within the period (never below zero), or dropped; a return is no duplicate of a sale", async () => {
  const net = await validated({ "sales.csv": returns }, { returns: "net", duplicates: "reject" });
  await transformSales(await fixture.context(net));
  assert.deepEqual(
    (await salesOf(net)).map((r) => r.quantity),
    [3, 0, 1],
  );
  const drop = await validated({ "sales.csv": returns }, { returns: "drop" });
  await transformSales(await fixture.context(drop));
  assert.deepEqual(
    (await salesOf(drop)).map((r) => [r.date, r.quantity, r.revenue]),
    [
      ["2024-03-04", 5, null],
      ["2024-03-05", 0, null],
      ["2024-03-06", 1, null],
    ],
  );
});

test("weekly: daily sales become ISO-week sums dated by their Monday, partial weeks at the ends left out", async () => {
  // 2024-03-02 (Sat) … 2024-03-26 (Tue): whole weeks are those of 03-04, 03-11 and 03-18.
  const rows = days("2024-03-02", 25).map((d) => [d, "A", Number(d.slice(8))]);
  const runId = await validated({ "sales.csv": csv("date,sku,quantity", rows) }, { frequency: "weekly" });
  await transformSales(await fixture.context(runId));
  const sum = (from: number, to: number) => ((from + to) * (to - from + 1)) / 2;
  assert.deepEqual(
    (await salesOf(runId)).map((r) => [r.date, r.quantity]),
    [
      ["2024-03-04", sum(4, 10)],
      ["2024-03-11", sum(11, 17)],
      ["2024-03-18", sum(18, 24)],
    ],
  );
});

test("weekly: weekly input dated by the week's Sunday is kept whole, with zero weeks filled", async () => {
  const rows = [
    ["2024-03-10", "A", 7],
    ["2024-03-24", "A", 3],
    ["2024-03-17", "B", 1],
  ];
  const runId = await validated({ "sales.csv": csv("date,sku,quantity", rows) }, { frequency: "weekly" });
  await transformSales(await fixture.context(runId));
  assert.deepEqual(
    (await salesOf(runId)).map((r) => [r.sku, r.date, r.quantity]),
    [
      ["A", "2024-03-04", 7],
      ["A", "2024-03-11", 0],
      ["A", "2024-03-18", 3],
      ["B", "2024-03-11", 1],
    ],
  );
});

const sales7 = csv(
  "date,sku,quantity",
  days("2024-03-04", 7).flatMap((d) => [
    [d, "A", 1],
    [d, "B", 1],
    [d, "C", 1],
  ]),
);

test("prices: forward fill within validity, and the future rule (planned rows, else the last regular price, promo 0)", async () => {
  const prices = csv("date,sku,price,promo", [
    ["2024-03-04", "A", 10, 0],
    ["2024-03-06", "A", 8, 1],
    ["2024-03-08", "A", 10, 0],
    ["2024-03-04", "B", 5, 0],
    ["2024-03-09", "B", 4, 1], // a promotion still running at the history's end
    ["2024-03-02", "C", 3, ""],
    ["2024-03-12", "C", 2.5, 1], // planned
    ["2024-03-12", "C", 2, 1], // same day: the last row wins
  ]);
  const runId = await validated({ "sales.csv": sales7, "prices.csv": prices }, { horizon: 3 });
  assert.deepEqual(await transformPrices(await fixture.context(runId)), { rows: 30, skus: 3 });
  const rows = await fixture.query<{ sku: string; date: string; price: number; promo: number }>(
    runId,
    "prices.parquet",
    "SELECT sku, date::VARCHAR AS date, price, promo FROM $file ORDER BY sku, date",
  );
  const series = (sku: string) =>
    rows.filter((r) => r.sku === sku).map((r) => `${r.date.slice(8)}:${r.price}/${r.promo}`);
  assert.deepEqual(series("A"), [
    "04:10/0",
    "05:10/0",
    "06:8/1",
    "07:8/1",
    "08:10/0",
    "09:10/0",
    "10:10/0",
    "11:10/0",
    "12:10/0",
    "13:10/0",
  ]);
  assert.deepEqual(series("B"), [
    "04:5/0",
    "05:5/0",
    "06:5/0",
    "07:5/0",
    "08:5/0",
    "09:4/1",
    "10:4/1",
    "11:5/0",
    "12:5/0",
    "13:5/0",
  ]);
  // C's row of 03-02 is before the history: its price holds from the first period on.
  assert.deepEqual(series("C"), [
    "04:3/0",
    "05:3/0",
    "06:3/0",
    "07:3/0",
    "08:3/0",
    "09:3/0",
    "10:3/0",
    "11:3/0",
    "12:2/1",
    "13:2/1",
  ]);
});

test("prices: weekly periods take the week's mean price and promo when any day had one", async () => {
  const sales = csv(
    "date,sku,quantity",
    days("2024-03-04", 14).map((d) => [d, "A", 1]),
  );
  const prices = csv("date,sku,price,promo", [
    ["2024-03-04", "A", 7, 0],
    ["2024-03-09", "A", 0, 1], // Saturday and Sunday free
    ["2024-03-11", "A", 7, 0],
  ]);
  const runId = await validated({ "sales.csv": sales, "prices.csv": prices }, { frequency: "weekly", horizon: 1 });
  await transformPrices(await fixture.context(runId));
  assert.deepEqual(
    await fixture.query(runId, "prices.parquet", "SELECT date::VARCHAR AS date, price, promo FROM $file ORDER BY date"),
    [
      { date: "2024-03-04", price: 5, promo: 1 },
      { date: "2024-03-11", price: 7, promo: 0 },
      { date: "2024-03-18", price: 7, promo: 0 },
    ],
  );
});

test("events: the calendar covers history and horizon with calendar features and event flags", async () => {
  const events = csv("date,event,kind", [
    ["2024-03-06", "spring_sale", "campaign"],
    ["2024-03-06", "spring_sale", "campaign"],
    ["2024-03-08", "womens_day", "Holiday"],
    ["2024-03-08", "flash", "campaign"],
    ["2025-01-01", "far_away", "holiday"],
  ]);
  const runId = await validated({ "sales.csv": sales7, "events.csv": events }, { horizon: 2 });
  assert.deepEqual(await transformEvents(await fixture.context(runId)), { periods: 9, eventDays: 2 });
  const rows = await fixture.query(
    runId,
    "calendar.parquet",
    "SELECT * EXCLUDE (date), date::VARCHAR AS date FROM $file ORDER BY date",
  );
  assert.equal(rows.length, 9);
  assert.deepEqual(rows[0], {
    is_event: 0,
    is_holiday: 0,
    day_of_week: 0,
    day_of_month: 4,
    week_of_year: 10,
    month: 3,
    events: "none",
    is_future: 0,
    date: "2024-03-04",
  });
  assert.deepEqual(
    rows.map((r) => [r.date, r.is_event, r.is_holiday, r.events, r.is_future]),
    [
      ["2024-03-04", 0, 0, "none", 0],
      ["2024-03-05", 0, 0, "none", 0],
      ["2024-03-06", 1, 0, "spring_sale", 0],
      ["2024-03-07", 0, 0, "none", 0],
      ["2024-03-08", 1, 1, "flash+womens_day", 0],
      ["2024-03-09", 0, 0, "none", 0],
      ["2024-03-10", 0, 0, "none", 0],
      ["2024-03-11", 0, 0, "none", 1],
      ["2024-03-12", 0, 0, "none", 1],
    ],
  );
});

test("products: last row per SKU, unknown for missing values, extra attributes typed and named", async () => {
  const products = csv("SKU,Category,brand,Pack Size,colour,Month", [
    ["A", "dairy", "", 6, "red", "may"],
    ["B", "", "acme", "", "blue", "june"],
    ["A", "bakery", "", 12, "red", "may"],
  ]);
  const runId = await validated({ "sales.csv": sales7, "products.csv": products });
  assert.deepEqual(await transformProducts(await fixture.context(runId)), {
    rows: 2,
    attributes: [
      { name: "pack_size", type: "number" },
      { name: "colour", type: "text" },
      // `month` is a calendar column of the training tables.
      { name: "product_month", type: "text" },
    ],
  });
  assert.deepEqual(
    await fixture.query(
      runId,
      "products.parquet",
      "SELECT sku, category, brand, pack_size, colour FROM $file ORDER BY sku",
    ),
    [
      { sku: "A", category: "bakery", brand: "unknown", pack_size: 12, colour: "red" },
      { sku: "B", category: "unknown", brand: "acme", pack_size: null, colour: "blue" },
    ],
  );
});

test("a transform refuses to run before validation, and raw files that changed since", async () => {
  await assert.rejects(
    transformSales(await fixture.context("never-validated")),
    rejectsWith("DATA_MISSING", /validation\.json does not exist; run the validate task of run never-validated first/),
  );
  const runId = await validated({ "sales.csv": sales7 });
  await fixture.raw({ "sales.csv": `${sales7}2024-03-11,A,1\n` });
  await assert.rejects(
    transformSales(await fixture.context(runId)),
    rejectsWith("DATA_CHANGED", /sales\.csv changed after run run-\d+ validated it; rerun the whole pipeline/),
  );
  assert.ok(!(await fixture.outputs()).includes(`acme/${runId}/sales.parquet`));
});
