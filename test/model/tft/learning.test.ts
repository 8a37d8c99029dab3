/**
 * The TFT learns known structure: on synthetic demand with a weekly profile and promotions known in
 * advance (see synthetic.ts), the trained model's P50 quantile loss on the held-out last horizon is
 * below seasonal naive's (the value one week back), which cannot anticipate a promotion.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { initBackend } from "../../../src/model/backend.js";
import { defaultHyperparameters, trainTft } from "../../../src/model/tft/index.js";
import { filterRows, syntheticSeries, syntheticSpec } from "./synthetic.js";

before(async () => {
  await initBackend();
});

test("the trained TFT beats seasonal naive's P50 loss on the holdout and anticipates promotions", async (t) => {
  const periods = 168;
  const horizon = 7;
  const spec = syntheticSpec(21, horizon);
  const table = syntheticSeries({ series: 24, periods, seed: 9, promoRate: 0.15, promoLift: 2.5 });
  const holdoutStart = periods - horizon;
  const history = filterRows(table, "time_idx", (t) => t < holdoutStart);
  const holdout = filterRows(table, "time_idx", (t) => t >= holdoutStart);
  const { model } = await trainTft({
    table: history,
    spec,
    validationStart: holdoutStart - horizon,
    hyperparameters: {
      ...defaultHyperparameters("daily"),
      hiddenSize: 16,
      attentionHeads: 2,
      hiddenContinuousSize: 8,
      learningRate: 0.01,
      batchSize: 64,
      maxEpochs: 4,
      batchesPerEpoch: 8,
      patience: 2,
      seed: 3,
    },
  });
  const forecast = await model.predict(history, holdout);
  model.dispose();

  const median = forecast.quantiles.indexOf(0.5);
  const q = forecast.quantiles.length;
  const actual = holdout.columns.quantity as Float64Array;
  const past = history.columns.quantity as Float64Array;
  const pastLength = holdoutStart;
  let tftLoss = 0;
  let naiveLoss = 0;
  let total = 0;
  forecast.series.forEach((_, s) => {
    for (let step = 0; step < horizon; step++) {
      const y = actual[s * horizon + step] as number;
      // Seasonal naive: the same weekday in the last observed week.
      const naive = past[s * pastLength + pastLength - 7 + step] as number;
      tftLoss += pinball(y, forecast.values[(s * horizon + step) * q + median] as number);
      naiveLoss += pinball(y, naive);
      total += y;
    }
  });
  // Normalised as in the TFT paper: 2·ΣQL / Σ|y|.
  const tftQl = (2 * tftLoss) / total;
  const naiveQl = (2 * naiveLoss) / total;
  t.diagnostic(`P50 QL: TFT ${tftQl.toFixed(4)}, seasonal naive ${naiveQl.toFixed(4)}`);
  assert.ok(tftQl < naiveQl, `P50 QL: TFT ${tftQl.toFixed(4)}, seasonal naive ${naiveQl.toFixed(4)}`);

  // And it anticipates promotions (a known input): its median on promotion days, relative to the
  // same series' other days, shows a lift (the data's is 2.5, blurred by the weekly profile).
  const promo = holdout.columns.promo as Float64Array;
  let onPromotion = 0;
  let expectedWithout = 0;
  let days = 0;
  forecast.series.forEach((_, s) => {
    const p50 = (step: number) => forecast.values[(s * horizon + step) * q + median] as number;
    const steps = Array.from({ length: horizon }, (_, step) => step);
    const regular = steps.filter((step) => promo[s * horizon + step] === 0);
    const base = regular.reduce((sum, step) => sum + p50(step), 0) / regular.length;
    for (const step of steps.filter((step) => promo[s * horizon + step] === 1)) {
      onPromotion += p50(step);
      expectedWithout += base;
      days++;
    }
  });
  const lift = onPromotion / expectedWithout;
  t.diagnostic(`forecast promotion lift ${lift.toFixed(2)} over ${days} promotion days`);
  assert.ok(days > 5 && lift > 1.5, `lift ${lift}`);
});

function pinball(y: number, prediction: number): number {
  return Math.max(0.5 * (y - prediction), -0.5 * (y - prediction));
}
