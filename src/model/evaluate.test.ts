import assert from "node:assert/strict";
import { test } from "node:test";
import { rejectsWith } from "../../test/helpers/assertions.js";
import { createBaselines } from "./baselines/index.js";
import type { BaselineForecast } from "./baselines/types.js";
import {
  type EvaluationReport,
  evaluate,
  formatEvaluationTable,
  metricEntries,
  pinballKey,
  type SeriesEvaluationInput,
} from "./evaluate.js";

const f64 = (...xs: number[]): Float64Array => Float64Array.from(xs);
const levels = [0.1, 0.5, 0.9];
/** A forecast from its points and its [P10, P50, P90] rows. */
const fc = (point: number[], ...rows: number[][]): BaselineForecast => ({
  point: f64(...point),
  quantiles: f64(...rows.flat()),
});
const flat = (values: number[]) => fc(values, ...values.map((v) => [v, v, v]));

// Three series, two segments, horizon 2. By hand:
//   A (smooth): history [2, 4], actual [3, 5]; naive scale (4 − 2)² = 4.
//     tft  point [3, 4]: |e| 0 + 1; P10 [2, 3]: .1·1 + .1·2 = .3; P50 [3, 4]: 0 + .5 = .5; P90 [4, 5]: .1·1 + 0 = .1;
//          covered 2; MSE .5 → RMSSE √(.5/4).
//     naive point [4, 4] (= every quantile): |e| 1 + 1; P10 .9 + .1 = 1; P50 1; P90 .1 + .9 = 1; covered 0;
//          MSE 1 → RMSSE .5.
//   B (smooth): history [1, 1, 2], actual [0, 2]; scale (0 + 1) / 2 = .5.
//     tft  point [1, 2]: |e| 1 + 0; P10 [0, 1]: 0 + .1 = .1; P50 [1, 2]: .5 + 0 = .5; P90 [2, 3]: .2 + .1 = .3;
//          covered 2; MSE .5 → RMSSE 1.
//     naive point [2, 2]: |e| 2 + 0; P10 1.8 + 0; P50 1 + 0; P90 .2 + 0; covered 1 (2 ∈ [2, 2]); MSE 2 → RMSSE 2.
//   C (lumpy): history [0, 0, 0], actual [0, 0]: both methods forecast 0 everywhere: no error, covered 2,
//     RMSSE undefined (never sold).
//   croston is perfect on A and B (point and quantiles = actual) and 0 on C.
const seriesABC: SeriesEvaluationInput[] = [
  {
    sku: "A",
    segment: "smooth",
    history: f64(2, 4),
    actual: f64(3, 5),
    forecasts: { tft: fc([3, 4], [2, 3, 4], [3, 4, 5]), naive: flat([4, 4]), croston: flat([3, 5]) },
  },
  {
    sku: "B",
    segment: "smooth",
    history: f64(1, 1, 2),
    actual: f64(0, 2),
    forecasts: { tft: fc([1, 2], [0, 1, 2], [1, 2, 3]), naive: flat([2, 2]), croston: flat([0, 2]) },
  },
  {
    sku: "C",
    segment: "lumpy",
    history: f64(0, 0, 0),
    actual: f64(0, 0),
    forecasts: { tft: flat([0, 0]), naive: flat([0, 0]), croston: flat([0, 0]) },
  },
];

function assertMetrics(
  actual: Record<string, number | null> | undefined,
  expected: Record<string, number | null>,
  where: string,
) {
  assert.ok(actual, `${where}: missing`);
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), where);
  for (const [key, want] of Object.entries(expected)) {
    const got: number | null | undefined = actual[key];
    if (want === null) assert.equal(got, null, `${where} ${key}`);
    else
      assert.ok(got !== null && got !== undefined && Math.abs(got - want) < 1e-12, `${where} ${key}: ${got} ≠ ${want}`);
  }
}

test("every metric per method, per segment and overall, from pooled sums (Σ|y| = 10 in smooth, 0 in lumpy)", () => {
  const report = evaluate(seriesABC, { levels });
  assert.deepEqual(report.methods, ["tft", "naive", "croston"]);
  assert.deepEqual(report.segments, ["lumpy", "smooth"]);
  const tftRmsse = (Math.sqrt(0.5 / 4) + 1) / 2;
  assertMetrics(
    report.metrics.tft?.smooth,
    {
      series: 2,
      observations: 4,
      mae: 2 / 4,
      wape: 2 / 10,
      rmsse: tftRmsse,
      ql50: (2 * 1) / 10,
      ql90: (2 * 0.4) / 10,
      coverage80: 1,
      pinball_p10: 0.4 / 4,
      pinball_p50: 1 / 4,
      pinball_p90: 0.4 / 4,
    },
    "tft smooth",
  );
  assertMetrics(
    report.metrics.tft?.lumpy,
    {
      series: 1,
      observations: 2,
      mae: 0,
      wape: null,
      rmsse: null,
      ql50: null,
      ql90: null,
      coverage80: 1,
      pinball_p10: 0,
      pinball_p50: 0,
      pinball_p90: 0,
    },
    "tft lumpy",
  );
  // Overall: C adds observations (and coverage) but no |y|, error or RMSSE.
  assertMetrics(
    report.metrics.tft?.overall,
    {
      series: 3,
      observations: 6,
      mae: 2 / 6,
      wape: 2 / 10,
      rmsse: tftRmsse,
      ql50: 0.2,
      ql90: 0.08,
      coverage80: 1,
      pinball_p10: 0.4 / 6,
      pinball_p50: 1 / 6,
      pinball_p90: 0.4 / 6,
    },
    "tft overall",
  );
  assertMetrics(
    report.metrics.naive?.overall,
    {
      series: 3,
      observations: 6,
      mae: 4 / 6,
      wape: 4 / 10,
      rmsse: (0.5 + 2) / 2,
      ql50: (2 * 2) / 10,
      ql90: (2 * 1.2) / 10,
      coverage80: (0 + 1 + 2) / 6,
      pinball_p10: 2.8 / 6,
      pinball_p50: 2 / 6,
      pinball_p90: 1.2 / 6,
    },
    "naive overall",
  );
  // The best baseline: croston (perfect), never the TFT, which is not a baseline.
  assert.deepEqual(report.bestBaseline, { method: "croston", ql50: 0 });
  assert.deepEqual(evaluate(seriesABC, { levels, baselines: ["naive"] }).bestBaseline, { method: "naive", ql50: 0.4 });
  assert.equal(evaluate(seriesABC, { levels, baselines: ["sba"] }).bestBaseline, null);
});

test("the report is plain JSON, and the tracker entries leave undefined metrics out", () => {
  const report = evaluate(seriesABC, { levels });
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
  const entries = new Map(metricEntries(report).map((e) => [e.key, e.value]));
  assert.equal(entries.get("tft/overall/ql50"), 0.2);
  assert.equal(entries.get("naive/smooth/series"), 2);
  assert.equal(entries.has("tft/lumpy/wape"), false);
  // 3 methods × 3 segments × 11 metrics, less the 4 undefined in lumpy per method.
  assert.equal(entries.size, 3 * 3 * 11 - 3 * 4);
  assert.ok([...entries.values()].every(Number.isFinite));
});

test("the table has a block per segment, a row per method, the best baseline starred overall, '-' for undefined", () => {
  const table = formatEvaluationTable(evaluate(seriesABC, { levels }));
  const lines = table.split("\n");
  // RMSSE of the TFT overall: (√(.5/4) + 1) / 2 ≈ 0.677.
  assert.match(lines[0] ?? "", /^overall: 3 series, 6 observations$/);
  assert.match(lines[1] ?? "", /^method +MAE +WAPE +RMSSE +QL50 +QL90 +cov80$/);
  assert.match(table, /^tft +0\.333 +0\.200 +0\.677 +0\.200 +0\.080 +1\.000$/m);
  assert.match(table, /^croston\* +0\.000 +0\.000 +0\.000 +0\.000 +0\.000 +1\.000$/m);
  assert.match(table, /^lumpy: 1 series, 2 observations\n.*\ntft +0\.000 +- +- +- +- +1\.000$/m);
  assert.match(table, /^croston +0\.000 +- +- +- +- +1\.000$/m, "starred only in the overall block");
  assert.ok(table.indexOf("lumpy:") < table.indexOf("smooth:"));
});

test("quantile levels other than P10/P50/P90 are interpolated for ql50, ql90 and the 80 % interval", () => {
  // Levels [.05, .5, .95], one row [0, 9, 18]: P10 = 0 + (.05/.45)·9 = 1, P90 = 9 + (.4/.45)·9 = 17.
  // Actuals .5 (below P10), 17 (on P90), 18 (above) → coverage 1/3.
  const report = evaluate(
    [
      {
        sku: "A",
        segment: "s",
        history: f64(1, 2),
        actual: f64(0.5, 17, 18),
        forecasts: { tft: fc([9, 9, 9], [0, 9, 18], [0, 9, 18], [0, 9, 18]) },
      },
    ],
    { levels: [0.05, 0.5, 0.95] },
  );
  const overall = report.metrics.tft?.overall ?? {};
  assert.ok(Math.abs((overall.coverage80 ?? 0) - 1 / 3) < 1e-12);
  // P90 pinball at 17: .1·(17 − .5) + 0 + .9·1 = 2.55; Σ|y| = 35.5.
  assert.ok(Math.abs((overall.ql90 ?? 0) - (2 * 2.55) / 35.5) < 1e-12, `${overall.ql90}`);
  assert.deepEqual(
    Object.keys(overall).filter((k) => k.startsWith("pinball")),
    ["pinball_p5", "pinball_p50", "pinball_p95"],
  );
  assert.equal(pinballKey(0.025), "pinball_p2.5");
  assert.equal(pinballKey(0.07), "pinball_p7");
});

test("the real baselines evaluated on a holdout: seasonal naive wins on a weekly pattern", () => {
  // Eight weeks of a clean weekly pattern; the last week is the holdout.
  const week = [5, 6, 7, 8, 9, 20, 25];
  const all = Float64Array.from({ length: 56 }, (_, t) => week[t % 7] ?? 0);
  const history = all.subarray(0, 49);
  const actual = all.subarray(49);
  const forecasts = Object.fromEntries(
    createBaselines({ seasonLength: 7 }).map((b) => [b.name, b.forecast(history, 7, [0.1, 0.5, 0.9])]),
  );
  const report = evaluate([{ sku: "x", segment: "top", history, actual, forecasts }], { levels });
  assert.equal(report.bestBaseline?.method, "seasonal_naive");
  assert.equal(report.bestBaseline?.ql50, 0);
  assert.equal(report.metrics.seasonal_naive?.overall?.coverage80, 1);
  assert.ok((report.metrics.naive?.overall?.ql50 ?? 0) > 0.3);
});

test("inconsistent input is refused naming the series and the method", () => {
  const base = seriesABC[0] as SeriesEvaluationInput;
  const refuse = (series: SeriesEvaluationInput[], pattern: RegExp, options = { levels }) =>
    assert.throws(() => evaluate(series, options), rejectsWith("METRICS_INPUT_INVALID", pattern));
  refuse([], /no series/);
  refuse([base, { ...base, sku: "B", forecasts: { tft: flat([1, 1]) } }], /Series B has forecasts from \[tft\]/);
  refuse([{ ...base, forecasts: { ...base.forecasts, naive: flat([1]) } }], /naive forecast of series A has 1 points/);
  refuse(
    [{ ...base, forecasts: { ...base.forecasts, naive: fc([1, Number.NaN], [1, 1, 1], [1, 1, 1]) } }],
    /Series A has NaN in its naive point forecast at position 1/,
  );
  refuse([{ ...base, segment: "overall" }], /reserved/);
  refuse([base], /do not reach level 0.1/, { levels: [0.25, 0.5, 0.9] });
  refuse([base], /strictly increasing/, { levels: [0.5, 0.1, 0.9] });
});

test("a holdout of zeros everywhere: ratios undefined, the best baseline still chosen on its pinball loss", () => {
  const zeros: SeriesEvaluationInput = {
    sku: "Z",
    segment: "dead",
    history: f64(0, 1, 0),
    actual: f64(0, 0),
    forecasts: { naive: flat([0, 0]), croston: flat([0.5, 0.5]) },
  };
  const report: EvaluationReport = evaluate([zeros], { levels });
  assert.deepEqual(report.bestBaseline, { method: "naive", ql50: null });
  assert.equal(report.metrics.croston?.overall?.wape, null);
  assert.equal(report.metrics.croston?.overall?.mae, 0.5);
});
