/**
 * Gated residual networks (pytorch-forecasting's `GatedResidualNetwork`):
 * `GateAddNorm(fc2(ELU(fc1(x) + context·W)), residual)`, the residual resampled and normalised when
 * the input and output widths differ. `StackedGatedResidualNetwork` runs V independent GRNs of the
 * same shape as one: their weights are stacked and every product is one batched matmul, where
 * pytorch-forecasting loops over a small network per variable.
 */
import * as tf from "@tensorflow/tfjs";
import { kaimingNormal, ones, xavierUniform, zeros } from "../random.js";
import {
  interpolationMatrix,
  type Kwargs,
  type LayerVariable,
  layerNorm,
  linear,
  type Tensor,
  TftLayer,
  type TftLayerConfig,
} from "./base.js";
import { GateAddNorm, ResampleNorm } from "./gating.js";

export interface GatedResidualNetworkConfig extends TftLayerConfig {
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  dropout: number | null;
  /** Width of the optional context input; null for none. */
  contextSize: number | null;
  /** pytorch-forecasting's `residual` flag: when true the skip is not resampled. */
  residual: boolean;
}

/**
 * Inputs `[x]` or `[x, context]`. A context of lower rank than `x` (a static context `[B, C]` for
 * `x` of `[B, T, F]`) is projected once and broadcast over time: the same as pytorch-forecasting
 * expanding it to every time step first, for a T-th of the work.
 */
export class GatedResidualNetwork extends TftLayer {
  static readonly className = "TftGatedResidualNetwork";
  readonly config: GatedResidualNetworkConfig;
  private readonly resampleNorm: ResampleNorm | undefined;
  private readonly gateNorm: GateAddNorm;
  private fc1Kernel!: LayerVariable;
  private fc1Bias!: LayerVariable;
  private contextKernel: LayerVariable | undefined;
  private fc2Kernel!: LayerVariable;
  private fc2Bias!: LayerVariable;

  constructor(config: GatedResidualNetworkConfig) {
    super(config);
    this.config = config;
    const { inputSize, hiddenSize, outputSize, dropout, residual } = config;
    if (inputSize !== outputSize && !residual) {
      this.resampleNorm = this.child(
        new ResampleNorm({
          name: "resample_norm",
          seed: this.childSeed("resample_norm"),
          inputSize,
          outputSize,
          trainableAdd: true,
        }),
      );
    }
    this.gateNorm = this.child(
      new GateAddNorm({
        name: "gate_norm",
        seed: this.childSeed("gate_norm"),
        inputSize: hiddenSize,
        hiddenSize: outputSize,
        skipSize: outputSize,
        trainableAdd: false,
        dropout,
      }),
    );
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const { inputSize, hiddenSize, outputSize, contextSize } = this.config;
    this.fc1Kernel = this.weight("fc1/kernel", [inputSize, hiddenSize], kaimingNormal(inputSize));
    this.fc1Bias = this.weight("fc1/bias", [hiddenSize], zeros);
    if (contextSize !== null) {
      this.contextKernel = this.weight(
        "context/kernel",
        [contextSize, hiddenSize],
        xavierUniform(contextSize, hiddenSize),
      );
    }
    this.fc2Kernel = this.weight("fc2/kernel", [hiddenSize, hiddenSize], kaimingNormal(hiddenSize));
    this.fc2Bias = this.weight("fc2/bias", [hiddenSize], zeros);
    const xShape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    if (this.resampleNorm) this.buildChild(this.resampleNorm, xShape);
    const hidden = [...xShape.slice(0, -1), hiddenSize];
    const out = [...xShape.slice(0, -1), outputSize];
    this.buildChild(this.gateNorm, [hidden, out]);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const xShape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...xShape.slice(0, -1), this.config.outputSize];
  }

  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor {
    return tf.tidy(() => {
      const [x, context] = (Array.isArray(inputs) ? inputs : [inputs]) as [Tensor, Tensor | undefined];
      const residual = this.resampleNorm ? (this.resampleNorm.apply(x, kwargs) as Tensor) : x;
      let h = linear(x, this.fc1Kernel, this.fc1Bias);
      if (context && this.contextKernel) {
        let c = linear(context, this.contextKernel);
        while (c.rank < h.rank) c = tf.expandDims(c, 1);
        h = tf.add(h, c);
      }
      h = linear(tf.elu(h), this.fc2Kernel, this.fc2Bias);
      return this.gateNorm.apply([h, residual], kwargs) as Tensor;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.config };
  }
}

export interface StackedGatedResidualNetworkConfig extends TftLayerConfig {
  /** How many independent networks. */
  count: number;
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  dropout: number | null;
}

/**
 * V gated residual networks without context, each with its own weights, computed together: input
 * `[V, N, inputSize]`, output `[V, N, outputSize]`. Per network the arithmetic is exactly
 * `GatedResidualNetwork`'s (resample-norm skip, fc1, ELU, fc2, dropout, GLU, add and norm).
 */
export class StackedGatedResidualNetwork extends TftLayer {
  static readonly className = "TftStackedGatedResidualNetwork";
  readonly config: StackedGatedResidualNetworkConfig;
  private readonly resample: Float32Array | undefined;
  private w: Record<string, LayerVariable> = {};

  constructor(config: StackedGatedResidualNetworkConfig) {
    super(config);
    this.config = config;
    if (config.inputSize !== config.outputSize)
      this.resample = interpolationMatrix(config.inputSize, config.outputSize);
  }

  override build(): void {
    const { count: v, inputSize: i, hiddenSize: h, outputSize: o } = this.config;
    const w = (key: string, shape: number[], init: Parameters<TftLayer["weight"]>[2]) => {
      this.w[key] = this.weight(key, shape, init);
    };
    if (this.resample) {
      w("resample_norm/mask", [v, 1, o], zeros);
      w("resample_norm/gamma", [v, 1, o], ones);
      w("resample_norm/beta", [v, 1, o], zeros);
    }
    w("fc1/kernel", [v, i, h], kaimingNormal(i));
    w("fc1/bias", [v, 1, h], zeros);
    w("fc2/kernel", [v, h, h], kaimingNormal(h));
    w("fc2/bias", [v, 1, h], zeros);
    w("gate_norm/glu/value/kernel", [v, h, o], xavierUniform(h, 2 * o));
    w("gate_norm/glu/value/bias", [v, 1, o], zeros);
    w("gate_norm/glu/gate/kernel", [v, h, o], xavierUniform(h, 2 * o));
    w("gate_norm/glu/gate/bias", [v, 1, o], zeros);
    w("gate_norm/add_norm/gamma", [v, 1, o], ones);
    w("gate_norm/add_norm/beta", [v, 1, o], zeros);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape): tf.Shape {
    return [...inputShape.slice(0, -1), this.config.outputSize];
  }

  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
      const { inputSize, outputSize } = this.config;
      const w = (key: string) => (this.w[key] as LayerVariable).read() as tf.Tensor3D;
      let residual: Tensor = x;
      if (this.resample) {
        const [v, n] = x.shape;
        const flat = tf.reshape(x, [v * n, inputSize]) as tf.Tensor2D;
        residual = tf.reshape(tf.matMul(flat, tf.tensor2d(this.resample, [inputSize, outputSize])), [v, n, outputSize]);
        residual = tf.mul(residual, tf.mul(tf.sigmoid(w("resample_norm/mask")), 2));
        residual = layerNorm(residual, w("resample_norm/gamma"), w("resample_norm/beta"));
      }
      let h: Tensor = tf.add(tf.matMul(x, w("fc1/kernel")), w("fc1/bias"));
      h = tf.add(tf.matMul(tf.elu(h) as tf.Tensor3D, w("fc2/kernel")), w("fc2/bias"));
      h = this.dropout(h, this.config.dropout, kwargs);
      const value = tf.add(tf.matMul(h as tf.Tensor3D, w("gate_norm/glu/value/kernel")), w("gate_norm/glu/value/bias"));
      const gate = tf.add(tf.matMul(h as tf.Tensor3D, w("gate_norm/glu/gate/kernel")), w("gate_norm/glu/gate/bias"));
      const glu = tf.mul(value, tf.sigmoid(gate));
      return layerNorm(tf.add(glu, residual), w("gate_norm/add_norm/gamma"), w("gate_norm/add_norm/beta"));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.config };
  }
}

for (const cls of [GatedResidualNetwork, StackedGatedResidualNetwork]) tf.serialization.registerClass(cls);
