/**
 * The TFT's small building blocks, as in pytorch-forecasting's `sub_modules.py`: a linear layer
 * with PyTorch's initialisation, the gated linear unit, and the add-and-norm family (AddNorm,
 * ResampleNorm, GateAddNorm) whose optional "trainable add" gate is `sigmoid(mask) · 2`.
 */
import * as tf from "@tensorflow/tfjs";
import { type InitSpec, linearDefault, ones, xavierUniform, zeros } from "../random.js";
import {
  dense,
  interpolationMatrix,
  type Kwargs,
  type LayerVariable,
  layerNorm,
  linear,
  type Tensor,
  TftLayer,
  type TftLayerConfig,
} from "./base.js";

export interface LinearConfig extends TftLayerConfig {
  inputSize: number;
  outputSize: number;
  bias: boolean;
  /** `default` is `nn.Linear`'s own initialisation; `xavier` is `xavier_uniform_` with zero bias. */
  init: "default" | "xavier";
}

/** `nn.Linear` over the last axis. */
export class Linear extends TftLayer {
  static readonly className = "TftLinear";
  readonly config: LinearConfig;
  private kernel!: LayerVariable;
  private bias: LayerVariable | undefined;

  constructor(config: LinearConfig) {
    super(config);
    this.config = config;
  }

  override build(): void {
    const { inputSize, outputSize, init } = this.config;
    const kernelInit: InitSpec = init === "xavier" ? xavierUniform(inputSize, outputSize) : linearDefault(inputSize);
    this.kernel = this.weight("kernel", [inputSize, outputSize], kernelInit);
    if (this.config.bias) {
      this.bias = this.weight("bias", [outputSize], init === "xavier" ? zeros : linearDefault(inputSize));
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape): tf.Shape {
    return [...inputShape.slice(0, -1), this.config.outputSize];
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    return tf.tidy(() => linear(first(inputs), this.kernel, this.bias));
  }
}

export interface GatedLinearUnitConfig extends TftLayerConfig {
  inputSize: number;
  hiddenSize: number;
  /** Applied to the input; null for none. */
  dropout: number | null;
}

/** `GatedLinearUnit`: dropout, then `(x·Wa + ba) · σ(x·Wb + bb)` (PyTorch's `F.glu` of one double-width layer). */
export class GatedLinearUnit extends TftLayer {
  static readonly className = "TftGatedLinearUnit";
  readonly config: GatedLinearUnitConfig;
  private valueKernel!: LayerVariable;
  private valueBias!: LayerVariable;
  private gateKernel!: LayerVariable;
  private gateBias!: LayerVariable;

  constructor(config: GatedLinearUnitConfig) {
    super(config);
    this.config = config;
  }

  override build(): void {
    const { inputSize, hiddenSize } = this.config;
    // PyTorch has one [in → 2·hidden] layer; its two halves are kept apart (same initial bound) so
    // no split of a wide activation is needed: slicing copies whole tensors on WebAssembly.
    const init = xavierUniform(inputSize, 2 * hiddenSize);
    this.valueKernel = this.weight("value/kernel", [inputSize, hiddenSize], init);
    this.valueBias = this.weight("value/bias", [hiddenSize], zeros);
    this.gateKernel = this.weight("gate/kernel", [inputSize, hiddenSize], init);
    this.gateBias = this.weight("gate/bias", [hiddenSize], zeros);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape): tf.Shape {
    return [...inputShape.slice(0, -1), this.config.hiddenSize];
  }

  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor {
    return tf.tidy(() => {
      const x = this.dropout(first(inputs), this.config.dropout, kwargs);
      return tf.mul(linear(x, this.valueKernel, this.valueBias), tf.sigmoid(linear(x, this.gateKernel, this.gateBias)));
    });
  }
}

export interface AddNormConfig extends TftLayerConfig {
  inputSize: number;
  /** Width of the skip input; resampled (linear interpolation) to `inputSize` when different. */
  skipSize: number;
  trainableAdd: boolean;
}

/** `AddNorm`: `LayerNorm(x + gate · resample(skip))`. Inputs `[x, skip]`. */
export class AddNorm extends TftLayer {
  static readonly className = "TftAddNorm";
  readonly config: AddNormConfig;
  private readonly resample: Float32Array | undefined;
  private mask: LayerVariable | undefined;
  private gamma!: LayerVariable;
  private beta!: LayerVariable;

  constructor(config: AddNormConfig) {
    super(config);
    this.config = config;
    if (config.skipSize !== config.inputSize) this.resample = interpolationMatrix(config.skipSize, config.inputSize);
  }

  override build(): void {
    const size = this.config.inputSize;
    if (this.config.trainableAdd) this.mask = this.weight("mask", [size], zeros);
    this.gamma = this.weight("gamma", [size], ones);
    this.beta = this.weight("beta", [size], zeros);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (inputShape as tf.Shape[])[0] as tf.Shape;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    return tf.tidy(() => {
      const [x, skipInput] = inputs as [Tensor, Tensor];
      let skip = skipInput;
      if (this.resample) skip = resampleLastAxis(skip, this.resample, this.config.skipSize, this.config.inputSize);
      if (this.mask) skip = tf.mul(skip, tf.mul(tf.sigmoid(this.mask.read()), 2));
      return layerNorm(tf.add(x, skip), this.gamma.read(), this.beta.read());
    });
  }
}

export interface ResampleNormConfig extends TftLayerConfig {
  inputSize: number;
  outputSize: number;
  trainableAdd: boolean;
  /**
   * When set, the input comes as parts of these widths (summing to `inputSize`) that stand for
   * their concatenation: each part is resampled with its rows of the interpolation, so the wide
   * concatenation is never built.
   */
  inputSizes?: number[];
}

/** `ResampleNorm`: `LayerNorm(gate · resample(x))`, taking `x` from `inputSize` to `outputSize` values. */
export class ResampleNorm extends TftLayer {
  static readonly className = "TftResampleNorm";
  readonly config: ResampleNormConfig;
  private readonly resample: Float32Array | undefined;
  private mask: LayerVariable | undefined;
  private gamma!: LayerVariable;
  private beta!: LayerVariable;

  constructor(config: ResampleNormConfig) {
    super(config);
    this.config = config;
    if (config.inputSize !== config.outputSize)
      this.resample = interpolationMatrix(config.inputSize, config.outputSize);
  }

  override build(): void {
    const size = this.config.outputSize;
    if (this.config.trainableAdd) this.mask = this.weight("mask", [size], zeros);
    this.gamma = this.weight("gamma", [size], ones);
    this.beta = this.weight("beta", [size], zeros);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const first = (this.config.inputSizes ? inputShape[0] : inputShape) as tf.Shape;
    return [...first.slice(0, -1), this.config.outputSize];
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    return tf.tidy(() => {
      const { inputSize, outputSize, inputSizes } = this.config;
      let x: Tensor;
      if (inputSizes && this.resample) {
        const matrix = this.resample;
        x = tf.addN(
          partRows(inputSizes).map(({ offset, size }, i) =>
            resampleLastAxis(
              (inputs as Tensor[])[i] as Tensor,
              matrix.subarray(offset * outputSize, (offset + size) * outputSize),
              size,
              outputSize,
            ),
          ),
        );
      } else {
        x = first(inputs);
        if (this.resample) x = resampleLastAxis(x, this.resample, inputSize, outputSize);
      }
      if (this.mask) x = tf.mul(x, tf.mul(tf.sigmoid(this.mask.read()), 2));
      return layerNorm(x, this.gamma.read(), this.beta.read());
    });
  }
}

export interface GateAddNormConfig extends TftLayerConfig {
  inputSize: number;
  hiddenSize: number;
  skipSize: number;
  trainableAdd: boolean;
  dropout: number | null;
}

/** `GateAddNorm`: a gated linear unit, then AddNorm with the skip. Inputs `[x, skip]`. */
export class GateAddNorm extends TftLayer {
  static readonly className = "TftGateAddNorm";
  readonly config: GateAddNormConfig;
  private readonly glu: GatedLinearUnit;
  private readonly addNorm: AddNorm;

  constructor(config: GateAddNormConfig) {
    super(config);
    this.config = config;
    const { inputSize, hiddenSize, skipSize, trainableAdd, dropout } = config;
    this.glu = this.child(
      new GatedLinearUnit({ name: "glu", seed: this.childSeed("glu"), inputSize, hiddenSize, dropout }),
    );
    this.addNorm = this.child(
      new AddNorm({
        name: "add_norm",
        seed: this.childSeed("add_norm"),
        inputSize: hiddenSize,
        skipSize,
        trainableAdd,
      }),
    );
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [xShape] = inputShape as tf.Shape[];
    this.buildChild(this.glu, xShape as tf.Shape);
    this.buildChild(this.addNorm, inputShape);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [xShape] = inputShape as tf.Shape[];
    return [...(xShape as tf.Shape).slice(0, -1), this.config.hiddenSize];
  }

  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor {
    return tf.tidy(() => {
      const [x, skip] = inputs as [Tensor, Tensor];
      return this.addNorm.apply([this.glu.apply(x, kwargs) as Tensor, skip], kwargs) as Tensor;
    });
  }
}

/** Resamples the last axis with an interpolation matrix (see `interpolationMatrix`). */
export function resampleLastAxis(x: Tensor, matrix: Float32Array, inSize: number, outSize: number): Tensor {
  return dense(x, tf.tensor2d(matrix, [inSize, outSize]));
}

/** Where each part of a concatenation starts. */
export function partRows(sizes: readonly number[]): Array<{ offset: number; size: number }> {
  let offset = 0;
  return sizes.map((size) => {
    const part = { offset, size };
    offset += size;
    return part;
  });
}

export function first(inputs: Tensor | Tensor[]): Tensor {
  const x = Array.isArray(inputs) ? inputs[0] : inputs;
  if (!x) throw new Error("a layer was called without inputs");
  return x;
}

for (const cls of [Linear, GatedLinearUnit, AddNorm, ResampleNorm, GateAddNorm]) tf.serialization.registerClass(cls);
