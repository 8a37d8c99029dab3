/**
 * The tfjs-layers checklist for every custom TFT layer: output shapes (and that `computeOutputShape`
 * agrees), serialisation round trip (config through JSON, same outputs with the same weights), one
 * training step lowers a loss, and no leaked tensors. Plus the hand-written gradients (dense, layer
 * norm, the LSTM recurrence) against finite differences.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../src/model/backend.js";
import { InterpretableMultiHeadAttention } from "../../../src/model/tft/layers/attention.js";
import { dense, layerFromConfig, layerNorm, type TftLayer } from "../../../src/model/tft/layers/base.js";
import { AddNorm, GateAddNorm, GatedLinearUnit, Linear, ResampleNorm } from "../../../src/model/tft/layers/gating.js";
import { GatedResidualNetwork } from "../../../src/model/tft/layers/grn.js";
import { Embedding, embeddingSize, Prescaler } from "../../../src/model/tft/layers/inputs.js";
import { Lstm } from "../../../src/model/tft/layers/lstm.js";
import { TemporalFusionTransformer } from "../../../src/model/tft/layers/network.js";
import { VariableSelectionNetwork } from "../../../src/model/tft/layers/variable-selection.js";

before(async () => {
  await initBackend();
});

interface Case {
  name: string;
  make: () => TftLayer;
  inputs: () => tf.Tensor[];
  /** Expected shape of each output. */
  shapes: number[][];
}

const B = 3;
const normal = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);
const codes = (shape: number[], max: number, seed: number) => tf.randomUniform(shape, 0, max, "int32", seed);

const smallNetwork = {
  name: "tft",
  seed: 7,
  hiddenSize: 8,
  attentionHeads: 2,
  dropout: 0.1,
  hiddenContinuousSize: 4,
  outputSize: 3,
  encoderLength: 5,
  predictionLength: 3,
  staticCategoricals: [
    { name: "sku", cardinality: 6 },
    { name: "brand", cardinality: 3 },
  ],
  staticReals: ["center", "scale", "encoder_length"],
  knownCategoricals: [{ name: "dow", cardinality: 8 }],
  knownReals: ["relative_time_idx", "price"],
  unknownReals: ["y", "lag"],
  causalAttention: true,
};

function networkInputs(seed: number): tf.Tensor[] {
  const net = new TemporalFusionTransformer(smallNetwork);
  const list = net.inputList({
    encoderReals: [0, 1, 2, 3].map((i) => normal([B, 5], seed + i)),
    decoderReals: [0, 1].map((i) => normal([B, 3], seed + 10 + i)),
    staticReals: [0, 1, 2].map((i) => normal([B], seed + 20 + i)),
    encoderMask: tf.tensor2d([1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1], [B, 5]),
    targetScale: tf.tensor2d([0.5, 1, 0, 2, 1.5, 0.3], [B, 2]),
    staticCategoricals: codes([B, 2], 3, seed + 30),
    encoderCategoricals: codes([B, 5, 1], 8, seed + 31),
    decoderCategoricals: codes([B, 3, 1], 8, seed + 32),
  });
  return list;
}

const cases: Case[] = [
  {
    name: "Linear",
    make: () => new Linear({ name: "linear", seed: 1, inputSize: 4, outputSize: 6, bias: true, init: "default" }),
    inputs: () => [normal([B, 5, 4], 1)],
    shapes: [[B, 5, 6]],
  },
  {
    name: "GatedLinearUnit",
    make: () => new GatedLinearUnit({ name: "glu", seed: 1, inputSize: 4, hiddenSize: 6, dropout: 0.1 }),
    inputs: () => [normal([B, 5, 4], 2)],
    shapes: [[B, 5, 6]],
  },
  {
    name: "AddNorm (resampled skip)",
    make: () => new AddNorm({ name: "add_norm", seed: 1, inputSize: 6, skipSize: 4, trainableAdd: true }),
    inputs: () => [normal([B, 5, 6], 3), normal([B, 5, 4], 4)],
    shapes: [[B, 5, 6]],
  },
  {
    name: "ResampleNorm",
    make: () => new ResampleNorm({ name: "resample_norm", seed: 1, inputSize: 3, outputSize: 8, trainableAdd: true }),
    inputs: () => [normal([B, 3], 5)],
    shapes: [[B, 8]],
  },
  {
    name: "ResampleNorm (input in parts)",
    make: () =>
      new ResampleNorm({
        name: "resample_norm",
        seed: 1,
        inputSize: 7,
        outputSize: 5,
        trainableAdd: true,
        inputSizes: [3, 4],
      }),
    inputs: () => [normal([B, 2, 3], 6), normal([B, 2, 4], 7)],
    shapes: [[B, 2, 5]],
  },
  {
    name: "GateAddNorm",
    make: () =>
      new GateAddNorm({
        name: "gate",
        seed: 1,
        inputSize: 4,
        hiddenSize: 6,
        skipSize: 6,
        trainableAdd: false,
        dropout: 0.1,
      }),
    inputs: () => [normal([B, 5, 4], 8), normal([B, 5, 6], 9)],
    shapes: [[B, 5, 6]],
  },
  {
    name: "GatedResidualNetwork with a static context",
    make: () =>
      new GatedResidualNetwork({
        name: "grn",
        seed: 1,
        inputSize: 4,
        hiddenSize: 5,
        outputSize: 6,
        dropout: 0.1,
        contextSize: 3,
        residual: false,
      }),
    inputs: () => [normal([B, 5, 4], 10), normal([B, 3], 11)],
    shapes: [[B, 5, 6]],
  },
  {
    name: "GatedResidualNetwork (input in parts)",
    make: () =>
      new GatedResidualNetwork({
        name: "grn",
        seed: 1,
        inputSize: 5,
        hiddenSize: 3,
        outputSize: 3,
        dropout: null,
        contextSize: null,
        residual: false,
        inputSizes: [2, 3],
      }),
    inputs: () => [normal([B, 2], 12), normal([B, 3], 13)],
    shapes: [[B, 3]],
  },
  {
    name: "Embedding",
    make: () => new Embedding({ name: "embedding", seed: 1, cardinalities: [5, 40], embeddingSizes: [2, 6] }),
    inputs: () => [codes([B, 4, 2], 5, 14)],
    shapes: [
      [B, 4, 2],
      [B, 4, 6],
    ],
  },
  {
    name: "Prescaler",
    make: () => new Prescaler({ name: "prescaler", seed: 1, count: 3, size: 4 }),
    inputs: () => [normal([B, 5], 15), normal([B, 5], 16)],
    shapes: [
      [B, 5, 4],
      [B, 5, 4],
    ],
  },
  {
    name: "VariableSelectionNetwork",
    make: () =>
      new VariableSelectionNetwork({
        name: "vsn",
        seed: 1,
        hiddenSize: 6,
        dropout: 0.1,
        contextSize: 6,
        categoricalSizes: [3],
        realCount: 2,
        realSize: 4,
      }),
    inputs: () => [normal([B, 5, 3], 17), normal([B, 5, 4], 18), normal([B, 5, 4], 19), normal([B, 6], 20)],
    shapes: [
      [B, 5, 6],
      [B, 5, 3],
    ],
  },
  {
    name: "Lstm (masked)",
    make: () => new Lstm({ name: "lstm", seed: 1, inputSize: 4, units: 6 }),
    inputs: () => [
      normal([B, 5, 4], 21),
      normal([B, 6], 22),
      normal([B, 6], 23),
      tf.tensor2d([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], [B, 5]),
    ],
    shapes: [
      [B, 5, 6],
      [B, 6],
      [B, 6],
    ],
  },
  {
    name: "InterpretableMultiHeadAttention",
    make: () =>
      new InterpretableMultiHeadAttention({ name: "attention", seed: 1, hiddenSize: 8, heads: 2, dropout: 0.1 }),
    inputs: () => [normal([B, 3, 8], 24), normal([B, 7, 8], 25), tf.zeros([B, 1, 3, 7])],
    shapes: [
      [B, 3, 8],
      [B, 2, 3, 7],
    ],
  },
  {
    name: "TemporalFusionTransformer",
    make: () => new TemporalFusionTransformer(smallNetwork),
    inputs: () => networkInputs(26),
    shapes: [
      [B, 3, 3],
      [B, 5],
      [B, 5, 5],
      [B, 3, 3],
      [B, 2, 3, 8],
    ],
  },
];

const asList = (out: tf.Tensor | tf.Tensor[]) => (Array.isArray(out) ? out : [out]);
const run = (layer: TftLayer, inputs: tf.Tensor[], kwargs: Record<string, unknown> = {}) =>
  asList(layer.apply(inputs.length === 1 ? (inputs[0] as tf.Tensor) : inputs, kwargs) as tf.Tensor | tf.Tensor[]);
const shapeOf = (inputs: tf.Tensor[]) =>
  inputs.length === 1 ? (inputs[0] as tf.Tensor).shape : inputs.map((t) => t.shape);

for (const c of cases) {
  describe(c.name, () => {
    test("output shapes, as computeOutputShape says", () => {
      const layer = c.make();
      const inputs = c.inputs();
      const outputs = run(layer, inputs);
      assert.deepEqual(
        outputs.map((t) => t.shape),
        c.shapes,
      );
      const declared = layer.computeOutputShape(shapeOf(inputs));
      const declaredList = (Array.isArray(declared[0]) ? declared : [declared]) as number[][];
      assert.deepEqual(declaredList, c.shapes);
      tf.dispose([...inputs, ...outputs]);
      layer.dispose();
    });

    test("serialisation round trip: same config, same outputs with the same weights", () => {
      const layer = c.make();
      const inputs = c.inputs();
      const expected = run(layer, inputs);
      const json = JSON.stringify({
        className: (layer.constructor as unknown as { className: string }).className,
        config: layer.getConfig(),
      });
      const { className, config } = JSON.parse(json);
      const copy = layerFromConfig(className, config);
      assert.equal(copy.constructor, layer.constructor);
      assert.deepEqual(copy.getConfig(), layer.getConfig());
      run(copy, inputs).forEach((t) => {
        t.dispose();
      });
      copy.setWeights(layer.getWeights());
      const actual = run(copy, inputs);
      actual.forEach((t, i) => {
        assert.deepEqual(t.dataSync(), (expected[i] as tf.Tensor).dataSync());
      });
      assert.deepEqual(
        copy.namedWeights().map((w) => w.path),
        layer.namedWeights().map((w) => w.path),
      );
      tf.dispose([...inputs, ...expected, ...actual]);
      layer.dispose();
      copy.dispose();
    });

    test("one training step lowers the loss", () => {
      const layer = c.make();
      const inputs = c.inputs();
      run(layer, inputs).forEach((t) => {
        t.dispose();
      });
      const target = tf.tidy(() => normal((run(layer, inputs)[0] as tf.Tensor).shape, 99));
      const variables = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      assert.ok(variables.length > 0);
      const loss = () =>
        tf.tidy(() => tf.mean(tf.square(tf.sub(run(layer, inputs)[0] as tf.Tensor, target))) as tf.Scalar);
      const before = loss().dataSync()[0] as number;
      tf.tidy(() => {
        const { grads } = tf.variableGrads(loss, variables);
        for (const v of variables) {
          const g = grads[v.name];
          if (g) v.assign(tf.sub(v, tf.mul(g, 0.01)));
        }
      });
      const after = loss().dataSync()[0] as number;
      assert.ok(after < before, `loss ${before} → ${after}`);
      tf.dispose([...inputs, target]);
      layer.dispose();
    });

    test("no tensors leak over a training step and an inference call", () => {
      const layer = c.make();
      const inputs = c.inputs();
      run(layer, inputs).forEach((t) => {
        t.dispose();
      });
      const variables = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const count = tf.memory().numTensors;
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(run(layer, inputs, { training: true })[0] as tf.Tensor) as tf.Scalar,
          variables,
        );
        tf.dispose([value, ...Object.values(grads)]);
      });
      run(layer, inputs).forEach((t) => {
        t.dispose();
      });
      assert.equal(tf.memory().numTensors, count);
      tf.dispose(inputs);
      layer.dispose();
    });
  });
}

describe("hand-written gradients match finite differences", () => {
  /** Central differences of `f` (a scalar function of `x`) against `analytic`, the gradient at `x`. */
  function check(f: (x: tf.Tensor) => tf.Scalar, x: tf.Tensor, analytic: tf.Tensor, tolerance: number) {
    const base = x.dataSync();
    const grad = analytic.dataSync();
    const eps = 1e-2;
    for (let i = 0; i < base.length; i++) {
      const plus = Float32Array.from(base);
      const minus = Float32Array.from(base);
      plus[i] = (plus[i] as number) + eps;
      minus[i] = (minus[i] as number) - eps;
      const numeric = tf.tidy(
        () =>
          ((f(tf.tensor(plus, x.shape)).dataSync()[0] as number) -
            (f(tf.tensor(minus, x.shape)).dataSync()[0] as number)) /
          (2 * eps),
      );
      assert.ok(
        Math.abs(numeric - (grad[i] as number)) < tolerance,
        `element ${i}: numeric ${numeric}, analytic ${grad[i]}`,
      );
    }
  }

  test("dense", () => {
    const x = normal([4, 3], 1);
    const k = normal([3, 5], 2);
    const b = normal([5], 3);
    const w = normal([4, 5], 4);
    const loss = (x: tf.Tensor, k: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(dense(x, k, b), w)) as tf.Scalar;
    const [gx, gk, gb] = tf.grads(loss)([x, k, b]) as [tf.Tensor, tf.Tensor, tf.Tensor];
    check((t) => loss(t, k, b), x, gx, 2e-3);
    check((t) => loss(x, t, b), k, gk, 2e-3);
    check((t) => loss(x, k, t), b, gb, 2e-3);
  });

  test("layer norm, with per-network parameters", () => {
    const x = normal([3, 2, 5], 5);
    const gamma = tf.add(normal([2, 5], 6), 1);
    const beta = normal([2, 5], 7);
    const w = normal([3, 2, 5], 8);
    const loss = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(layerNorm(x, g, b), w)) as tf.Scalar;
    const [gx, gg, gb] = tf.grads(loss)([x, gamma, beta]) as [tf.Tensor, tf.Tensor, tf.Tensor];
    check((t) => loss(t, gamma, beta), x, gx, 5e-3);
    check((t) => loss(x, t, beta), gamma, gg, 5e-3);
    check((t) => loss(x, gamma, t), beta, gb, 5e-3);
  });

  test("the LSTM recurrence, with a padded row and both final states used", () => {
    const lstm = new Lstm({ name: "lstm", seed: 3, inputSize: 3, units: 4 });
    lstm.build();
    const x = normal([2, 5, 3], 9);
    const h0 = normal([2, 4], 10);
    const c0 = normal([2, 4], 11);
    const mask = tf.tensor2d([0, 0, 1, 1, 1, 1, 1, 1, 1, 1], [2, 5]);
    const [wo, wh, wc] = [normal([2, 5, 4], 12), normal([2, 4], 13), normal([2, 4], 14)];
    const loss = (x: tf.Tensor, h: tf.Tensor, c: tf.Tensor) => {
      const [o, hT, cT] = lstm.apply([x, h, c, mask]) as tf.Tensor[];
      return tf.addN([
        tf.sum(tf.mul(o as tf.Tensor, wo)),
        tf.sum(tf.mul(hT as tf.Tensor, wh)),
        tf.sum(tf.mul(cT as tf.Tensor, wc)),
      ]) as tf.Scalar;
    };
    const [gx, gh, gc] = tf.grads(loss)([x, h0, c0]) as [tf.Tensor, tf.Tensor, tf.Tensor];
    check((t) => loss(t, h0, c0), x, gx, 2e-3);
    check((t) => loss(x, t, c0), h0, gh, 2e-3);
    check((t) => loss(x, h0, t), c0, gc, 2e-3);
    const variables = lstm.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => loss(x, h0, c0), variables);
    for (const v of variables) {
      const original = v.clone();
      check(
        (t) => {
          v.assign(t);
          const value = loss(x, h0, c0);
          v.assign(original);
          return value;
        },
        original,
        grads[v.name] as tf.Tensor,
        3e-3,
      );
    }
  });

  test("a padded LSTM step leaves the state as it was", () => {
    const lstm = new Lstm({ name: "lstm", seed: 4, inputSize: 2, units: 3 });
    const h0 = normal([1, 3], 15);
    const c0 = normal([1, 3], 16);
    const [outputs, hT, cT] = lstm.apply([normal([1, 4, 2], 17), h0, c0, tf.zeros([1, 4])]) as tf.Tensor[];
    assert.deepEqual((hT as tf.Tensor).dataSync(), h0.dataSync());
    assert.deepEqual((cT as tf.Tensor).dataSync(), c0.dataSync());
    assert.deepEqual(Array.from((outputs as tf.Tensor).dataSync().slice(0, 3)), Array.from(h0.dataSync()));
  });
});

test("embedding sizes follow pytorch-forecasting: min(round(1.6·n^0.56), 100), 1 for n ≤ 2, capped at the hidden size", () => {
  assert.equal(embeddingSize(2, 16), 1);
  assert.equal(embeddingSize(8, 16), Math.round(1.6 * 8 ** 0.56));
  assert.equal(embeddingSize(8, 3), 3);
  assert.equal(embeddingSize(100_000, 512), 100);
});
