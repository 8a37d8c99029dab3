/**
 * What the decoder may see. The causal mask: changing a decoder input at step k changes no forecast
 * before step k (and a network built without the mask fails the same check, so the check can fail).
 * The padding mask: encoder steps marked as padding change nothing. And the windows never carry a
 * future target into the network's inputs.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../src/model/backend.js";
import {
  TemporalFusionTransformer,
  type TftInputs,
  type TftNetworkConfig,
} from "../../../src/model/tft/layers/network.js";
import { prepareTraining, trainingWindow } from "../../../src/model/tft/training-data.js";
import { fillBatch, layoutOf } from "../../../src/model/tft/windows.js";
import { syntheticSeries, syntheticSpec } from "./synthetic.js";

before(async () => {
  await initBackend();
});

const E = 6;
const P = 5;
const B = 4;

const config = (causalAttention: boolean): TftNetworkConfig => ({
  name: "tft",
  seed: 11,
  hiddenSize: 8,
  attentionHeads: 2,
  dropout: 0.1,
  hiddenContinuousSize: 4,
  outputSize: 3,
  encoderLength: E,
  predictionLength: P,
  staticCategoricals: [{ name: "sku", cardinality: 5 }],
  staticReals: ["center", "scale"],
  knownCategoricals: [{ name: "dow", cardinality: 8 }],
  knownReals: ["relative_time_idx", "promo"],
  unknownReals: ["y"],
  causalAttention,
});

function inputs(change?: { decoderStep?: number; paddedEncoderStep?: number }): TftInputs {
  const decoderPromo = Array.from({ length: B * P }, (_, i) => Math.sin(i));
  const decoderDow = Array.from({ length: B * P }, (_, i) => (i * 3) % 8);
  if (change?.decoderStep !== undefined) {
    for (let b = 0; b < B; b++) {
      decoderPromo[b * P + change.decoderStep] = (decoderPromo[b * P + change.decoderStep] as number) + 3;
      decoderDow[b * P + change.decoderStep] = ((decoderDow[b * P + change.decoderStep] as number) + 1) % 8;
    }
  }
  const y = Array.from({ length: B * E }, (_, i) => Math.cos(i));
  // Row 1 has two padded encoder steps.
  if (change?.paddedEncoderStep !== undefined) y[1 * E + change.paddedEncoderStep] = 100;
  return {
    encoderReals: [
      tf.tensor2d(
        Array.from({ length: B * E }, (_, i) => ((i % E) - E) / E),
        [B, E],
      ),
      tf.tensor2d(
        Array.from({ length: B * E }, (_, i) => Math.sin(3 * i)),
        [B, E],
      ),
      tf.tensor2d(y, [B, E]),
    ],
    decoderReals: [
      tf.tensor2d(
        Array.from({ length: B * P }, (_, i) => (i % P) / E),
        [B, P],
      ),
      tf.tensor2d(decoderPromo, [B, P]),
    ],
    staticReals: [tf.tensor1d([0.1, -0.3, 0.5, 1]), tf.tensor1d([1, 0.2, -1, 0])],
    encoderMask: tf.tensor2d(
      Array.from({ length: B * E }, (_, i) => (Math.floor(i / E) === 1 && i % E < 2 ? 0 : 1)),
      [B, E],
    ),
    targetScale: tf.tensor2d([0, 1, 1, 0.5, -1, 2, 0.3, 1], [B, 2]),
    staticCategoricals: tf.tensor2d([1, 2, 3, 4], [B, 1], "int32"),
    encoderCategoricals: tf.tensor3d(
      Array.from({ length: B * E }, (_, i) => i % 8),
      [B, E, 1],
      "int32",
    ),
    decoderCategoricals: tf.tensor3d(decoderDow, [B, P, 1], "int32"),
  };
}

function forecast(network: TemporalFusionTransformer, change?: Parameters<typeof inputs>[0]): Float32Array {
  return tf.tidy(() => network.forward(inputs(change)).prediction.dataSync() as Float32Array);
}

/** The largest change per decoder step, over windows and quantiles. */
function changeByStep(a: Float32Array, b: Float32Array): number[] {
  const q = a.length / (B * P);
  const byStep = new Array<number>(P).fill(0);
  for (let i = 0; i < a.length; i++) {
    const step = Math.floor(i / q) % P;
    byStep[step] = Math.max(byStep[step] as number, Math.abs((a[i] as number) - (b[i] as number)));
  }
  return byStep;
}

test("causal attention: a decoder input at step k changes no forecast before k, and changes step k", () => {
  const network = new TemporalFusionTransformer(config(true));
  network.build();
  const k = 2;
  const changes = changeByStep(forecast(network), forecast(network, { decoderStep: k }));
  for (let step = 0; step < k; step++) assert.equal(changes[step], 0, `step ${step} changed by ${changes[step]}`);
  for (let step = k; step < P; step++) assert.ok((changes[step] as number) > 1e-4, `step ${step} did not change`);
  network.releaseWeights();
});

test("the same check fails without the causal mask (so it can fail)", () => {
  const network = new TemporalFusionTransformer(config(false));
  network.build();
  const changes = changeByStep(forecast(network), forecast(network, { decoderStep: 2 }));
  assert.ok(Math.max(changes[0] as number, changes[1] as number) > 1e-6, `earlier steps unchanged: ${changes}`);
  network.releaseWeights();
});

test("padded encoder steps change nothing; real ones do", () => {
  const network = new TemporalFusionTransformer(config(true));
  network.build();
  const base = forecast(network);
  assert.deepEqual(forecast(network, { paddedEncoderStep: 1 }), base);
  assert.notDeepEqual(forecast(network, { paddedEncoderStep: 3 }), base);
  network.releaseWeights();
});

test("windows carry no decoder-period target into the network's inputs", () => {
  const table = syntheticSeries({ series: 3, periods: 40, seed: 5 });
  const spec = syntheticSpec(8, 4);
  const data = prepareTraining(table, spec);
  const layout = layoutOf(spec, data.encoding);
  const window = trainingWindow(data, 10, spec.encoderLength);
  const original = fillBatch([window], layout);
  // The target (and its lags) over the decoder's rows set to something else entirely.
  const rows = window.decoder;
  const perturbed = { ...rows, target: rows.target?.slice(), unknownReals: rows.unknownReals.slice() };
  for (let j = 0; j < spec.predictionLength; j++) {
    const row = window.decoderStart + j;
    (perturbed.target as Float64Array)[row] = 1e6;
    for (let k = 0; k < layout.unknownReals; k++) perturbed.unknownReals[row * layout.unknownReals + k] = 1e6;
  }
  const changed = fillBatch([{ ...window, encoder: perturbed, decoder: perturbed }], layout);
  assert.deepEqual(changed.encoderReals, original.encoderReals);
  assert.deepEqual(changed.decoderReals, original.decoderReals);
  assert.deepEqual(changed.staticReals, original.staticReals);
  assert.notDeepEqual(changed.target, original.target);
});
