import assert from "node:assert/strict";
import { test } from "node:test";
import { rejectsWith } from "../../../test/helpers/assertions.js";
import { type Baseline, type BaselineName, type BaselineOptions, baselineNames, createBaselines } from "./index.js";
import type { OriginForecasts } from "./residual-quantiles.js";
import { movingAverage, naive, seasonalNaive } from "./simple.js";

const f64 = (...xs: number[]): Float64Array => Float64Array.from(xs);

function assertClose(actual: Float64Array, expected: readonly number[], message = ""): void {
  assert.equal(actual.length, expected.length, `${message} length`);
  actual.forEach((value, i) => {
    const want = expected[i] ?? Number.NaN;
    assert.ok(Math.abs(value - want) <= 1e-12 * Math.max(1, Math.abs(want)), `${message}[${i}]: ${value} ≠ ${want}`);
  });
}

function baselineNamed(name: BaselineName, options: BaselineOptions): Baseline {
  const found = createBaselines(options).find((b) => b.name === name);
  assert.ok(found, `no baseline named ${name}`);
  return found;
}

/** mulberry32: a seeded stream, so the property tests see the same series on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Smooth demand around 10 (a sum of uniforms, roughly normal with sd 2), or intermittent (30 % of periods, sizes 1–5). */
function series(kind: "smooth" | "intermittent", length: number, seed: number): Float64Array {
  const next = random(seed);
  return Float64Array.from({ length }, () => {
    if (kind === "intermittent") return next() < 0.3 ? 1 + Math.floor(next() * 5) : 0;
    return Math.max(0, 10 + 2 * (next() + next() + next() + next() - 2) * Math.sqrt(3));
  });
}

const levels7 = [0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.98];

test("naive: the last value, with quantiles from its own one- and two-step errors", () => {
  // history [1, 3, 2, 4]: point 4.
  // step 1 errors (origins 1..3): 3−1, 2−3, 4−2 = sorted [−1, 2, 2]; type 7 at .1 (position 0.2): −1 + 0.2·3 = −0.4,
  //   at .5 (position 1): 2, at .9 (position 1.8): 2                                     → 3.6, 6, 6
  // step 2 errors (origins 1..2): 2−1, 4−3 = [1, 1]                                         → 5, 5, 5
  const forecast = baselineNamed("naive", { seasonLength: 7 }).forecast(f64(1, 3, 2, 4), 2, [0.1, 0.5, 0.9]);
  assertClose(forecast.point, [4, 4]);
  assertClose(forecast.quantiles, [3.6, 6, 6, 5, 5, 5]);
});

test("naive: quantiles below zero are clipped", () => {
  // history [5, 0, 5, 0]: point 0; errors −5, 5, −5 = sorted [−5, −5, 5]: P10 −5, P50 −5, P90 −5 + 0.8·10 = 3.
  const forecast = baselineNamed("naive", { seasonLength: 7 }).forecast(f64(5, 0, 5, 0), 1, [0.1, 0.5, 0.9]);
  assertClose(forecast.point, [0]);
  assertClose(forecast.quantiles, [0, 0, 3]);
});

test("seasonal naive: the value one season back, two seasons back beyond the first season", () => {
  // m = 3, history 1..7 (n = 7): step h forecasts y[7 + h − 1 − 3·⌈h/3⌉] = y[4], y[5], y[6], y[4] = 5, 6, 7, 5.
  // Errors from origin 3: steps 1–3 always 3 (a +1 trend over one season) → 8, 9, 10;
  // step 4 (origin 3 only): y[6] − y[0] = 6 (two seasons of trend)             → 5 + 6 = 11.
  const forecast = baselineNamed("seasonal_naive", { seasonLength: 3 }).forecast(f64(1, 2, 3, 4, 5, 6, 7), 4, [0.5]);
  assertClose(forecast.point, [5, 6, 7, 5]);
  assertClose(forecast.quantiles, [8, 9, 10, 11]);
});

test("seasonal naive: a history shorter than one season falls back to naive", () => {
  // m = 7, history [2, 4]: point 4; the one error it has (origin 1, naive) is 4 − 2 = 2, and steps 2–3 take it.
  const forecast = baselineNamed("seasonal_naive", { seasonLength: 7 }).forecast(f64(2, 4), 3, [0.5]);
  assertClose(forecast.point, [4, 4, 4]);
  assertClose(forecast.quantiles, [6, 6, 6]);
});

test("moving average: the mean of the last window, quantiles from its errors after a full window", () => {
  // w = 3, history [3, 0, 6, 3, 9]: point (6 + 3 + 9) / 3 = 6.
  // Levels per origin: 3, 3 (mean 3, 0, 6), 3 (0, 6, 3), 6. Errors from origin 3:
  //   step 1: y3 − 3 = 0, y4 − 3 = 6 → type 7 at .25 = 1.5, at .75 = 4.5 → 7.5, 10.5
  //   step 2: y4 − 3 = 6                                                 → 12, 12
  const forecast = baselineNamed("moving_average", { seasonLength: 7, movingAverageWindow: 3 }).forecast(
    f64(3, 0, 6, 3, 9),
    2,
    [0.25, 0.75],
  );
  assertClose(forecast.point, [6, 6]);
  assertClose(forecast.quantiles, [7.5, 10.5, 12, 12]);
  // The window defaults to one season (2 here: mean of 3 and 4), and is cut to the history when longer.
  assertClose(baselineNamed("moving_average", { seasonLength: 2 }).forecast(f64(1, 2, 3, 4), 1, []).point, [3.5]);
  const long = baselineNamed("moving_average", { seasonLength: 7, movingAverageWindow: 10 });
  assertClose(long.forecast(f64(2, 4), 1, []).point, [3]);
});

// Croston's recursion by hand, α = 0.5, on [0, 0, 3, 0, 5, 0, 0, 2]:
//   t = 2, demand 3 after 3 periods: z = 3, p = 3                                    (forecast 1)
//   t = 4, demand 5 after 2:         z = 3 + .5·(5 − 3) = 4, p = 3 + .5·(2 − 3) = 2.5 (forecast 1.6)
//   t = 7, demand 2 after 3:         z = 4 + .5·(2 − 4) = 3, p = 2.5 + .5·(3 − 2.5) = 2.75
//   Croston z/p = 3 / 2.75 = 12/11; SBA 12/11 · (1 − .5/2) = 9/11.
const intermittentExample = f64(0, 0, 3, 0, 5, 0, 0, 2);

test("Croston gives the textbook value; its quantiles are those of demand with probability 1/p", () => {
  const forecast = baselineNamed("croston", { seasonLength: 7, alpha: 0.5 }).forecast(
    intermittentExample,
    2,
    [0.5, 0.9],
  );
  assertClose(forecast.point, [12 / 11, 12 / 11]);
  // Probability 1/2.75 = 4/11, so no demand with 7/11 ≈ .64: P50 = 0.
  // Sizes [2, 3, 5] (mean 10/3) rescaled to mean z = 3: ×0.9 → [1.8, 2.7, 4.5].
  // P90: (.9 − 7/11) / (4/11) = .725 of the sizes, position 2·.725 = 1.45 → 2.7 + .45·1.8 = 3.51, every step.
  assertClose(forecast.quantiles, [0, 3.51, 0, 3.51]);
});

test("SBA is Croston × (1 − α/2), on the textbook series and on random intermittent ones", () => {
  const textbook = baselineNamed("sba", { seasonLength: 7, alpha: 0.5 }).forecast(intermittentExample, 1, [0.5, 0.9]);
  assertClose(textbook.point, [9 / 11]);
  // The correction goes to the probability: .75 · 4/11 = 3/11, no demand with 8/11.
  // P90: (.9 − 8/11) / (3/11) = 19/30 of [1.8, 2.7, 4.5], position 19/15 → 2.7 + (4/15)·1.8 = 3.18.
  assertClose(textbook.quantiles, [0, 3.18]);
  for (const alpha of [0.05, 0.1, 0.3]) {
    for (let seed = 1; seed <= 5; seed++) {
      const history = series("intermittent", 80, seed);
      const c = baselineNamed("croston", { seasonLength: 7, alpha }).forecast(history, 3, []).point;
      const s = baselineNamed("sba", { seasonLength: 7, alpha }).forecast(history, 3, []).point;
      assertClose(
        s,
        [...c].map((x) => x * (1 - alpha / 2)),
        `alpha ${alpha} seed ${seed}`,
      );
    }
  }
});

test("TSB: probability smoothed every period with β, size on demand with α, forecast their product", () => {
  // α = β = .5 on [0, 0, 3, 0, 5, 0, 0, 2]: p starts at 0 (no demand at t = 0), then
  //   0, .5 (demand; z = 3), .25, .625 (demand; z = 4), .3125, .15625, .578125 = 37/64 (demand; z = 3)
  //   forecast 37/64 · 3 = 1.734375. Sizes rescaled to mean 3: [1.8, 2.7, 4.5]; no demand with 27/64.
  //   P50: (.5 − 27/64) / (37/64) = 5/37, position 10/37 → 1.8 + (10/37)·.9
  //   P90: (.9 − 27/64) / (37/64) = 30.6/37, position 61.2/37 → 2.7 + (24.2/37)·1.8
  const forecast = baselineNamed("tsb", { seasonLength: 7, alpha: 0.5, beta: 0.5 }).forecast(
    intermittentExample,
    2,
    [0.5, 0.9],
  );
  assertClose(forecast.point, [1.734375, 1.734375]);
  const p50 = 1.8 + (10 / 37) * 0.9;
  const p90 = 2.7 + (24.2 / 37) * 1.8;
  assertClose(forecast.quantiles, [p50, p90, p50, p90]);
  // Demand in the first period: p starts at 1, then .5, .75; z = 4, then 3 → 2.25.
  const first = baselineNamed("tsb", { seasonLength: 7, alpha: 0.5, beta: 0.5 }).forecast(f64(4, 0, 2), 1, []);
  assertClose(first.point, [2.25]);
});

test("a single demand: Croston its rate, TSB a decaying one; the upper quantiles are that demand while it is likely enough", () => {
  const history = f64(0, 0, 5, 0, 0);
  const options = { seasonLength: 7, alpha: 0.1, beta: 0.1 };
  // Croston: z = 5, p = 3 → 5/3, no demand with 2/3: P10, P50 = 0, P90 = 5.
  // SBA: 5/3 · .95, probability .95/3 ≈ .317: P90 still 5.
  // TSB: p = 0, 0, .1, .09, .081 and z = 5 → .405; no demand with .919 > .9: every quantile 0.
  const expected: Record<string, [number, number[]]> = {
    croston: [5 / 3, [0, 0, 5]],
    sba: [(5 / 3) * 0.95, [0, 0, 5]],
    tsb: [0.405, [0, 0, 0]],
  };
  for (const [name, [point, row]] of Object.entries(expected)) {
    const forecast = baselineNamed(name as BaselineName, options).forecast(history, 2, [0.1, 0.5, 0.9]);
    assertClose(forecast.point, [point, point], name);
    assertClose(forecast.quantiles, [...row, ...row], name);
  }
});

test("all-zero and empty histories give zero forecasts and zero quantiles from every baseline", () => {
  for (const history of [new Float64Array(30), f64()]) {
    for (const b of createBaselines({ seasonLength: 7 })) {
      const forecast = b.forecast(history, 3, levels7);
      assertClose(forecast.point, [0, 0, 0], `${b.name} n=${history.length}`);
      assertClose(forecast.quantiles, new Array(21).fill(0), `${b.name} n=${history.length}`);
    }
  }
});

test("every baseline: the right shapes, finite, non-negative, rows sorted, on many kinds of history", () => {
  const baselines = createBaselines({ seasonLength: 7 });
  assert.deepEqual(
    baselines.map((b) => b.name),
    baselineNames,
  );
  let seed = 100;
  for (const kind of ["smooth", "intermittent"] as const) {
    for (const length of [1, 2, 6, 7, 8, 15, 60, 200]) {
      const history = series(kind, length, seed++);
      for (const horizon of [1, 7, 20]) {
        for (const b of baselines) {
          const { point, quantiles } = b.forecast(history, horizon, levels7);
          const where = `${b.name} ${kind} n=${length} h=${horizon}`;
          assert.equal(point.length, horizon, where);
          assert.equal(quantiles.length, horizon * levels7.length, where);
          assert.ok(
            point.every((x) => Number.isFinite(x) && x >= 0),
            `${where}: point ${point}`,
          );
          for (let step = 0; step < horizon; step++) {
            const row = quantiles.subarray(step * levels7.length, (step + 1) * levels7.length);
            assert.ok(
              row.every((x) => Number.isFinite(x) && x >= 0),
              `${where}: row ${row}`,
            );
            assert.ok(
              row.every((x, j) => j === 0 || x >= (row[j - 1] ?? 0)),
              `${where}: row ${row} not sorted`,
            );
          }
        }
      }
    }
  }
});

test("the forecast from each origin is what the method gives on that prefix alone (errors are out of sample)", () => {
  const fitters: Record<string, (h: Float64Array) => OriginForecasts> = {
    naive,
    seasonal_naive: (h) => seasonalNaive(h, 7),
    moving_average: (h) => movingAverage(h, 5),
  };
  for (const kind of ["smooth", "intermittent"] as const) {
    const history = series(kind, 40, kind === "smooth" ? 7 : 8);
    for (const [name, fit] of Object.entries(fitters)) {
      const full = fit(history);
      for (let origin = 0; origin <= history.length; origin++) {
        const prefix = fit(history.subarray(0, origin));
        for (const step of [1, 3, 9]) {
          assert.equal(full.at(origin, step), prefix.at(origin, step), `${name} ${kind} origin ${origin} step ${step}`);
        }
      }
    }
  }
});

test("the 80 % intervals are calibrated out of sample on stationary demand", () => {
  // 300 one-step forecasts from successive origins of a long series, each judged on the next value.
  const check = (kind: "smooth" | "intermittent", names: readonly BaselineName[], min: number, max: number) => {
    const history = series(kind, 700, kind === "smooth" ? 42 : 43);
    for (const name of names) {
      const b = baselineNamed(name, { seasonLength: 7 });
      let covered = 0;
      for (let origin = 400; origin < 700; origin++) {
        const { quantiles } = b.forecast(history.subarray(0, origin), 1, [0.1, 0.9]);
        const y = history[origin] ?? Number.NaN;
        if (y >= (quantiles[0] ?? 0) && y <= (quantiles[1] ?? 0)) covered += 1;
      }
      const share = covered / 300;
      assert.ok(share >= min && share <= max, `${name} on ${kind} demand covers ${share}, outside [${min}, ${max}]`);
    }
  };
  check("smooth", baselineNames, 0.72, 0.88);
  // Discrete demand: an interval with both ends on whole units covers more than its nominal 80 %.
  check("intermittent", ["croston", "sba", "tsb"], 0.72, 0.95);
});

test("bad arguments are refused with the thing to fix", () => {
  const b = baselineNamed("naive", { seasonLength: 7 });
  assert.throws(
    () => b.forecast(f64(1, Number.NaN), 1, [0.5]),
    rejectsWith("BASELINE_INPUT_INVALID", /NaN at position 1/),
  );
  assert.throws(() => b.forecast(f64(1, -2), 1, [0.5]), rejectsWith("BASELINE_INPUT_INVALID", /-2 at position 1/));
  assert.throws(() => b.forecast(f64(1), 0, [0.5]), rejectsWith("BASELINE_INPUT_INVALID", /horizon of 0/));
  assert.throws(() => b.forecast(f64(1), 1.5, [0.5]), rejectsWith("BASELINE_INPUT_INVALID", /horizon of 1.5/));
  for (const levels of [
    [0.9, 0.1],
    [0, 0.5],
    [0.5, 1],
    [0.5, 0.5],
  ]) {
    assert.throws(() => b.forecast(f64(1), 1, levels), rejectsWith("BASELINE_INPUT_INVALID", /strictly increasing/));
  }
  assert.throws(() => createBaselines({ seasonLength: 0 }), rejectsWith("BASELINE_INPUT_INVALID", /seasonLength is 0/));
  assert.throws(
    () => createBaselines({ seasonLength: 7, movingAverageWindow: 2.5 }),
    rejectsWith("BASELINE_INPUT_INVALID", /movingAverageWindow is 2.5/),
  );
  assert.throws(
    () => createBaselines({ seasonLength: 7, alpha: 0 }),
    rejectsWith("BASELINE_INPUT_INVALID", /alpha is 0/),
  );
  assert.throws(
    () => createBaselines({ seasonLength: 7, beta: 1.5 }),
    rejectsWith("BASELINE_INPUT_INVALID", /beta is 1.5/),
  );
});
