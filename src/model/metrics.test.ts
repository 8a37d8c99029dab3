import assert from "node:assert/strict";
import { test } from "node:test";
import { rejectsWith } from "../../test/helpers/assertions.js";
import {
  coverage,
  mae,
  normalisedQuantileLoss,
  pinball,
  pinballLoss,
  quantileColumn,
  ratio,
  rmsse,
  rmsseScale,
  wape,
} from "./metrics.js";

const f64 = (...xs: number[]): Float64Array => Float64Array.from(xs);
const close = (actual: number | null, expected: number, message?: string) => {
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-12, `${message ?? ""} ${actual} ≠ ${expected}`);
};

// One worked example for the point and quantile metrics:
//   actual y = [2, 0, 4], forecast ŷ = [1, 1, 6]; y − ŷ = [1, −1, −2]; Σ|y| = 6.
const y = f64(2, 0, 4);
const yhat = f64(1, 1, 6);

test("MAE and WAPE", () => {
  // |e| = 1, 1, 2: Σ = 4; MAE 4/3, WAPE 4/6.
  close(mae(y, yhat), 4 / 3);
  close(wape(y, yhat), 2 / 3);
});

test("pinball loss: q·(y − ŷ) above the forecast, (1 − q)·(ŷ − y) below", () => {
  assert.equal(pinball(5, 3, 0.9), 0.9 * 2);
  assert.ok(Math.abs(pinball(3, 5, 0.9) - 0.1 * 2) < 1e-15);
  assert.equal(pinball(4, 4, 0.3), 0);
  // q = .9: .9·1 + .1·1 + .1·2 = 1.2 → mean .4; q = .5: .5·(1 + 1 + 2) = 2 → mean 2/3.
  close(pinballLoss(y, yhat, 0.9), 0.4);
  close(pinballLoss(y, yhat, 0.5), 2 / 3);
});

test("normalised quantile loss is 2·Σ pinball / Σ|y| (the TFT paper's q-risk); at P50 it equals WAPE", () => {
  close(normalisedQuantileLoss(y, yhat, 0.9), (2 * 1.2) / 6);
  close(normalisedQuantileLoss(y, yhat, 0.5), 2 / 3);
  close(normalisedQuantileLoss(y, yhat, 0.5), wape(y, yhat) ?? Number.NaN);
});

test("RMSSE is scaled by the in-sample naive MSE from the first non-zero value, as in M5", () => {
  // MSE of the forecast: (1 + 1 + 4) / 3 = 2.
  // History [0, 0, 1, 3, 2] → from the first sale [1, 3, 2]: differences 2, −1 → scale (4 + 1) / 2 = 2.5.
  close(rmsseScale(f64(0, 0, 1, 3, 2)), 2.5);
  close(rmsse(y, yhat, f64(0, 0, 1, 3, 2)), Math.sqrt(2 / 2.5));
  // Seasonal scale, m = 2: [1, 3, 2, 4] → 2 − 1, 4 − 3 → scale 1, RMSSE √2.
  close(rmsseScale(f64(0, 1, 3, 2, 4), 2), 1);
  close(rmsse(y, yhat, f64(0, 1, 3, 2, 4), 2), Math.sqrt(2));
});

test("coverage counts actuals inside [lower, upper], bounds included", () => {
  // 2 ∈ [0, 2] yes (on the bound), 0 ∈ [1, 2] no, 4 ∈ [3, 4] yes → 2/3.
  close(coverage(y, f64(0, 1, 3), f64(2, 2, 4)), 2 / 3);
});

test("a zero denominator makes the metric undefined (null), never NaN or Infinity", () => {
  const zeros = f64(0, 0);
  assert.equal(wape(zeros, f64(1, 0)), null);
  assert.equal(wape(zeros, zeros), null);
  assert.equal(normalisedQuantileLoss(zeros, f64(1, 1), 0.9), null);
  assert.equal(mae(f64(), f64()), null);
  assert.equal(pinballLoss(f64(), f64(), 0.5), null);
  assert.equal(coverage(f64(), f64(), f64()), null);
  assert.equal(rmsse(y, yhat, f64(3, 3, 3)), null, "constant history: zero scale");
  assert.equal(rmsse(y, yhat, f64(0, 0, 5)), null, "one value after the first sale: no difference");
  assert.equal(rmsse(y, yhat, f64(0, 0, 0)), null, "never sold");
  assert.equal(rmsse(f64(), f64(), f64(1, 2)), null, "no actuals");
  assert.equal(rmsse(zeros, zeros, f64(1, 2)), 0, "a perfect forecast with a defined scale is 0");
  assert.equal(ratio(0, 0), null);
  assert.equal(ratio(3, 4), 0.75);
});

test("quantile columns: exact levels are read, levels between two are interpolated, levels outside refused", () => {
  // Two steps, levels [.1, .5, .9]: rows [1, 2, 3] and [4, 5, 6].
  const q = f64(1, 2, 3, 4, 5, 6);
  const levels = [0.1, 0.5, 0.9];
  assert.deepEqual([...quantileColumn(q, levels, 0.5)], [2, 5]);
  // .3 is halfway between .1 and .5.
  assert.deepEqual([...quantileColumn(q, levels, 0.3)], [1.5, 4.5]);
  // P10 from P2 = 0 and P25 = 23: (.1 − .02) / .23 of the way → 8.
  close(quantileColumn(f64(0, 23, 40), [0.02, 0.25, 0.5], 0.1)[0] ?? null, 8);
  assert.throws(() => quantileColumn(q, levels, 0.05), rejectsWith("METRICS_INPUT_INVALID", /do not reach level 0.05/));
  assert.throws(() => quantileColumn(q, levels, 0.95), rejectsWith("METRICS_INPUT_INVALID", /do not reach level 0.95/));
  assert.throws(
    () => quantileColumn(f64(1, 2), levels, 0.5),
    rejectsWith("METRICS_INPUT_INVALID", /2 values for 3 levels/),
  );
});

test("arrays of different lengths and a season of no length are refused", () => {
  assert.throws(() => mae(y, f64(1, 2)), rejectsWith("METRICS_INPUT_INVALID", /2 values for 3 actuals/));
  assert.throws(() => coverage(y, y, f64(1)), rejectsWith("METRICS_INPUT_INVALID", /upper bound has 1 values/));
  assert.throws(() => rmsseScale(y, 0), rejectsWith("METRICS_INPUT_INVALID", /season length is 0/));
});
