/**
 * The gated residual network (pytorch-forecasting's `GatedResidualNetwork`):
 * `GateAddNorm(fc2(ELU(fc1(x) + context·W)), residual)`, the residual resampled and normalised when
 * the input and output widths differ.
 */
import * as tf from "@tensorflow/tfjs";
import { kaimingNormal, xavierUniform, zeros } from "../random.js";
import { dense, type Kwargs, type LayerVariable, linear, type Tensor, TftLayer, type TftLayerConfig } from "./base.js";
import { GateAddNorm, partRows, ResampleNorm } from "./gating.js";

export interface GatedResidualNetworkConfig extends TftLayerConfig {
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  dropout: number | null;
  /** Width of the optional context input; null for none. */
  contextSize: number | null;
  /** pytorch-forecasting's `residual` flag: when true the skip is not resampled. */
  residual: boolean;
  /** When set, `x` comes as parts of these widths standing for their concatenation (see ResampleNorm). */
  inputSizes?: number[];
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
    const { inputSize, hiddenSize, outputSize, dropout, residual, inputSizes } = config;
    if (inputSize !== outputSize && !residual) {
      this.resampleNorm = this.child(
        new ResampleNorm({
          name: "resample_norm",
          seed: this.childSeed("resample_norm"),
          inputSize,
          outputSize,
          trainableAdd: true,
          ...(inputSizes ? { inputSizes } : {}),
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
    if (this.resampleNorm) this.buildChild(this.resampleNorm, [...xShape.slice(0, -1), inputSize]);
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
      const list = Array.isArray(inputs) ? inputs : [inputs];
      const sizes = this.config.inputSizes;
      const parts = sizes ? list.slice(0, sizes.length) : list.slice(0, 1);
      const context = list[parts.length];
      const x = parts[0] as Tensor;
      const residual = this.resampleNorm ? (this.resampleNorm.apply(sizes ? parts : x, kwargs) as Tensor) : x;
      let h = sizes
        ? tf.add(
            tf.addN(
              partRows(sizes).map(({ offset, size }, i) =>
                dense(parts[i] as Tensor, tf.slice(this.fc1Kernel.read(), [offset, 0], [size, -1])),
              ),
            ),
            this.fc1Bias.read(),
          )
        : linear(x, this.fc1Kernel, this.fc1Bias);
      if (context && this.contextKernel) {
        let c = linear(context, this.contextKernel);
        while (c.rank < h.rank) c = tf.expandDims(c, 1);
        h = tf.add(h, c);
      }
      h = linear(tf.elu(h), this.fc2Kernel, this.fc2Bias);
      return this.gateNorm.apply([h, residual], kwargs) as Tensor;
    });
  }
}

tf.serialization.registerClass(GatedResidualNetwork);
