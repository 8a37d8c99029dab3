import assert from "node:assert/strict";
import { test } from "node:test";
import { empiricalQuantile, type OriginForecasts, residualQuantileForecast } from "./residual-quantiles.js";

const f64 = (...xs: number[]) => Float64Array.from(xs);

function assertClose(actual: Float64Array, expected: number[], message?: string) {
  assert.equal(actual.length, expected.length, message);
  actual.forEach((value, i) => {
    assert.ok(
      Math.abs(value - (expected[i] ?? Number.NaN)) < 1e-12,
      `${message ?? ""} [${i}]: ${value} ≠ ${expected[i]}`,
    );
  });
}

/** A method that always forecasts 2, whatever the origin. */
const constantTwo = (warmup: number): OriginForecasts => ({ warmup, at: () => 2 });

test("empirical quantiles interpolate linearly between order statistics (type 7)", () => {
  const sorted = f64(1, 2, 3, 4);
  // position (n − 1)·p = 3p: p = 0 → 1, p = 0.25 → 1.75, p = 0.5 → 2.5, p = 1 → 4.
  assert.equal(empiricalQuantile(sorted, 0), 1);
  assert.equal(empiricalQuantile(sorted, 0.25), 1.75);
  assert.equal(empiricalQuantile(sorted, 0.5), 2.5);
  assert.equal(empiricalQuantile(sorted, 1), 4);
  assert.equal(empiricalQuantile(f64(5), 0.9), 5);
});

test("each step's quantiles are the point plus the quantiles of that step's rolling-origin errors", () => {
  // history [0, 4, 2, 1], forecast always 2, errors from origin 1:
  //   step 1 (origins 1..3): 4−2, 2−2, 1−2 = [−1, 0, 2]; type 7 at .25/.5/.75 → −0.5, 0, 1   → 1.5, 2, 3
  //   step 2 (origins 1..2): 2−2, 1−2     = [−1, 0];    at .25/.5/.75 → −0.75, −0.5, −0.25 → 1.25, 1.5, 1.75
  //   step 3 (origin 1):     1−2          = [−1]                                          → 1, 1, 1
  //   step 4: no error of its own; it takes step 3's                                      → 1, 1, 1
  const forecast = residualQuantileForecast(constantTwo(1), f64(0, 4, 2, 1), 4, [0.25, 0.5, 0.75]);
  assertClose(forecast.point, [2, 2, 2, 2]);
  assertClose(forecast.quantiles, [1.5, 2, 3, 1.25, 1.5, 1.75, 1, 1, 1, 1, 1, 1]);
});

test("errors start at the method's warm-up, or at origin 1 when the history is shorter than it", () => {
  // warm-up 2: step 1 uses origins 2..3 only: 2−2, 1−2 = [−1, 0]; median −0.5 → 1.5.
  assertClose(residualQuantileForecast(constantTwo(2), f64(0, 4, 2, 1), 1, [0.5]).quantiles, [1.5]);
  // warm-up 10 > n − 1: origins 1..3 as with warm-up 1: [−1, 0, 2], median 0 → 2.
  assertClose(residualQuantileForecast(constantTwo(10), f64(0, 4, 2, 1), 1, [0.5]).quantiles, [2]);
});

test("with no error to learn from, the quantiles collapse onto the point; below zero they are clipped", () => {
  assertClose(residualQuantileForecast(constantTwo(1), f64(7), 2, [0.1, 0.9]).quantiles, [2, 2, 2, 2]);
  assertClose(residualQuantileForecast(constantTwo(1), f64(), 1, [0.5]).quantiles, [2]);
  // history of zeros: errors [−2, −2, −2], so 2 − 2 = 0 at every level.
  assertClose(residualQuantileForecast(constantTwo(1), f64(0, 0, 0, 0), 1, [0.1, 0.9]).quantiles, [0, 0]);
  const tall = residualQuantileForecast(constantTwo(1), f64(0, 0, 0, 10), 1, [0.1, 0.9]);
  // sorted errors [−2, −2, 8]: P10 at position 0.2 → −2 → 0; P90 at 1.8 → −2 + 0.8·10 = 6 → 8.
  assertClose(tall.quantiles, [0, 8]);
});
