/** Segmentation of SKUs with known demand patterns: ABC, Syntetos–Boylan classes, model types, status. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { segmentSkus } from "../../src/data/segment.js";
import { transformSales } from "../../src/data/transform-sales.js";
import { validateRawData } from "../../src/data/validate.js";
import { createDataFixture, csv, type DataFixture, days } from "./helpers.js";

let fixture: DataFixture;
before(async () => {
  fixture = await createDataFixture();
});
after(async () => {
  await fixture.remove();
});

const history = days("2024-01-01", 80);
/** Sales rows (date, sku, quantity, revenue) of one SKU: quantity per day index, zero days omitted. */
function series(sku: string, price: number, quantity: (day: number) => number): (string | number)[][] {
  return history.flatMap((date, day) => {
    const q = quantity(day);
    return q > 0 ? [[date, sku, q, q * price]] : [];
  });
}

const patterns = [
  ...series("SMOOTH", 10, () => 10), // every day the same: ADI 1, CV² 0
  ...series("ERRATIC", 10, (d) => (d % 2 ? 30 : 1)), // every day, sizes 1 and 30: CV² 0.875
  ...series("INTERMIT", 1, (d) => (d % 3 === 0 ? 5 : 0)), // every third day, same size: ADI 3, CV² 0
  ...series("LUMPY", 1, (d) => (d % 3 === 0 ? (d % 2 ? 20 : 1) : 0)), // every third day, 1 or 20
  ...series("SLOW", 1, (d) => (d === 40 ? 1 : 0)), // one sale: no interval, no CV²
  ...series("GONE", 1, (d) => (d < 10 ? 10 : 0)), // sold 10 days, then nothing for 70
];

interface SegmentRow {
  sku: string;
  abc_class: string;
  demand_class: string;
  model_type: string;
  status: string;
  adi: number | null;
  cv2: number | null;
  demand_periods: number;
  periods_since_last_sale: number;
  share: number;
}

test("SKUs with known patterns get their demand class, ABC class, model type and status", async () => {
  await fixture.raw({ "sales.csv": csv("date,sku,quantity,revenue", patterns) });
  const context = () => fixture.context("seg");
  await validateRawData(await context());
  await transformSales(await context());
  const summary = await segmentSkus(await context());

  const rows = await fixture.query<SegmentRow>(
    "seg",
    "segments.parquet",
    "SELECT sku, abc_class, demand_class, model_type, status, adi, cv2, demand_periods, periods_since_last_sale, share FROM $file ORDER BY sku",
  );
  const by = Object.fromEntries(rows.map((r) => [r.sku, r]));
  assert.deepEqual(
    rows.map((r) => [r.sku, r.demand_class, r.abc_class, r.model_type, r.status]),
    [
      ["ERRATIC", "erratic", "A", "top_seller", "active"],
      ["GONE", "smooth", "C", "long_tail", "discontinued"],
      ["INTERMIT", "intermittent", "C", "long_tail", "active"],
      ["LUMPY", "lumpy", "C", "long_tail", "active"],
      ["SLOW", "slow", "C", "long_tail", "active"],
      ["SMOOTH", "smooth", "A", "top_seller", "active"],
    ],
  );
  assert.equal(by.SMOOTH?.adi, 1);
  assert.equal(by.SMOOTH?.cv2, 0);
  // Sizes 1 and 30 in equal numbers: mean 15.5, population variance 210.25.
  assert.ok(Math.abs((by.ERRATIC?.cv2 ?? 0) - 210.25 / 15.5 ** 2) < 1e-12);
  // 27 sales on days 0, 3, …, 78: 26 intervals of 3 days.
  assert.equal(by.INTERMIT?.adi, 3);
  assert.equal(by.INTERMIT?.demand_periods, 27);
  assert.equal(by.LUMPY?.adi, 3);
  assert.ok((by.LUMPY?.cv2 ?? 0) > 0.49);
  assert.equal(by.SLOW?.adi, null);
  assert.equal(by.SLOW?.cv2, null);
  assert.equal(by.SLOW?.periods_since_last_sale, 39);
  // Last sale on day 9, history ends on day 79: 70 periods > max(56, 3 × ADI 1).
  assert.equal(by.GONE?.periods_since_last_sale, 70);

  // Revenue: ERRATIC 40 × 1 × 10 + 40 × 30 × 10 = 12400, SMOOTH 8000, the rest 100 + 99 + 135 + 1 ... well below.
  assert.equal(summary.basis, "revenue");
  assert.deepEqual(summary.byModelType, { top_seller: 2, long_tail: 4 });
  assert.deepEqual(summary.byDemandClass, { smooth: 2, erratic: 1, intermittent: 1, lumpy: 1, slow: 1 });
  assert.equal(summary.discontinued, 1);
  assert.deepEqual(summary.crossTab.top_seller, { erratic: 1, smooth: 1 });
  const total = rows.reduce((sum, r) => sum + r.share, 0);
  assert.ok(Math.abs(total - 1) < 1e-12);
  assert.deepEqual(await fixture.json("acme/seg/segments-summary.json"), summary);
});

test("thresholds are configurable and volume is the basis without revenue", async () => {
  for await (const entry of fixture.store.list("training-data", "acme/")) {
    await fixture.store.delete("training-data", entry.key);
  }
  const noRevenue = patterns.map(([date, sku, q]) => [date as string, sku as string, q as number]);
  await fixture.raw(
    { "sales.csv": csv("date,sku,quantity", noRevenue) },
    // With an ADI cut-off of 4, every-third-day INTERMIT is smooth and LUMPY (CV² 0.875) erratic; a
    // top share of 1 makes every SKU class A.
    { segmentation: { adi: 4, cv2: 0.8, topShare: 1, midShare: 1 }, inactiveAfter: 100 },
  );
  const context = () => fixture.context("seg2");
  await validateRawData(await context());
  await transformSales(await context());
  const summary = await segmentSkus(await context());
  assert.equal(summary.basis, "volume");
  assert.equal(summary.discontinued, 0);
  const rows = await fixture.query<SegmentRow>("seg2", "segments.parquet", "SELECT * FROM $file ORDER BY sku");
  assert.deepEqual(
    rows.map((r) => [r.sku, r.demand_class, r.abc_class, r.model_type]),
    [
      ["ERRATIC", "erratic", "A", "top_seller"],
      ["GONE", "smooth", "A", "top_seller"],
      ["INTERMIT", "smooth", "A", "top_seller"],
      ["LUMPY", "erratic", "A", "top_seller"],
      ["SLOW", "slow", "A", "long_tail"],
      ["SMOOTH", "smooth", "A", "top_seller"],
    ],
  );
});
