/**
 * pytorch-forecasting's `VariableSelectionNetwork`: each variable is turned into a hidden-size vector
 * (embeddings by a ResampleNorm, prescaled reals by their own GRN), a GRN over all variables
 * flattened (with the static context) gives softmax weights, and the output is the weighted sum.
 * The weights are returned too: they are the variable importances.
 */
import * as tf from "@tensorflow/tfjs";
import type { Kwargs, Tensor } from "./base.js";
import { TftLayer, type TftLayerConfig } from "./base.js";
import { ResampleNorm } from "./gating.js";
import { GatedResidualNetwork, StackedGatedResidualNetwork } from "./grn.js";

export interface VariableSelectionConfig extends TftLayerConfig {
  hiddenSize: number;
  dropout: number | null;
  /** Width of the context input; null for none (the static selection). */
  contextSize: number | null;
  /** Embedding width of each categorical variable; they come first in the weights. */
  categoricalSizes: number[];
  /** How many prescaled real variables, each `realSize` wide. */
  realCount: number;
  realSize: number;
}

/**
 * Inputs, in order: the reals `[..., R, realSize]` (when R > 0), each categorical's embedding
 * `[..., size]`, then the context (when configured). Outputs `[..., hiddenSize]` and the weights
 * `[..., variables]` (ones when there is a single variable, as in pytorch-forecasting).
 */
export class VariableSelectionNetwork extends TftLayer {
  static readonly className = "TftVariableSelectionNetwork";
  readonly config: VariableSelectionConfig;
  private readonly categoricalNorms: ResampleNorm[];
  private readonly realGrns: StackedGatedResidualNetwork | undefined;
  private readonly flattenedGrn: GatedResidualNetwork | undefined;

  constructor(config: VariableSelectionConfig) {
    super(config);
    this.config = config;
    const { hiddenSize, dropout, contextSize, categoricalSizes, realCount, realSize } = config;
    const count = categoricalSizes.length + realCount;
    if (count === 0) throw new Error("a variable selection network needs at least one variable");
    if (count > 1) {
      const total = categoricalSizes.reduce((a, b) => a + b, 0) + realCount * realSize;
      this.flattenedGrn = this.child(
        new GatedResidualNetwork({
          name: "flattened_grn",
          seed: this.childSeed("flattened_grn"),
          inputSize: total,
          hiddenSize: Math.min(hiddenSize, count),
          outputSize: count,
          dropout,
          contextSize,
          residual: false,
        }),
      );
    }
    this.categoricalNorms = categoricalSizes.map((size, i) =>
      this.child(
        new ResampleNorm({
          name: `categorical_${i}`,
          seed: this.childSeed(`categorical_${i}`),
          inputSize: size,
          outputSize: hiddenSize,
          trainableAdd: true,
        }),
      ),
    );
    if (realCount > 0) {
      this.realGrns = this.child(
        new StackedGatedResidualNetwork({
          name: "real_grns",
          seed: this.childSeed("real_grns"),
          count: realCount,
          inputSize: realSize,
          hiddenSize: Math.min(realSize, hiddenSize),
          outputSize: hiddenSize,
          dropout,
        }),
      );
    }
  }

  private get variableCount(): number {
    return this.config.categoricalSizes.length + this.config.realCount;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const { categoricalSizes, realCount, realSize, contextSize } = this.config;
    const shapes = inputShape as tf.Shape[];
    const lead = leadShape(shapes[0] as tf.Shape, realCount > 0);
    const n = lead.reduce((a: number, b) => a * (b ?? 1), 1);
    categoricalSizes.forEach((size, i) => {
      this.buildChild(this.categoricalNorms[i] as ResampleNorm, [...lead, size]);
    });
    if (this.realGrns) this.buildChild(this.realGrns, [realCount, n, realSize]);
    if (this.flattenedGrn) {
      const total = categoricalSizes.reduce((a, b) => a + b, 0) + realCount * realSize;
      const x = [...lead, total];
      this.buildChild(this.flattenedGrn, contextSize === null ? x : [x, [lead[0] ?? null, contextSize]]);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape[] {
    const lead = leadShape((inputShape as tf.Shape[])[0] as tf.Shape, this.config.realCount > 0);
    return [
      [...lead, this.config.hiddenSize],
      [...lead, this.variableCount],
    ];
  }

  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor[] {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? [...inputs] : [inputs];
      const { categoricalSizes, realCount, realSize, hiddenSize, contextSize } = this.config;
      const reals = realCount > 0 ? (list.shift() as Tensor) : undefined;
      const categoricals = list.splice(0, categoricalSizes.length);
      const context = contextSize === null ? undefined : list.shift();
      const lead = reals ? reals.shape.slice(0, -2) : (categoricals[0] as Tensor).shape.slice(0, -1);
      const n = lead.reduce((a, b) => a * b, 1);

      // Each variable on its own: [variables, N, hidden].
      const perVariable: Tensor[] = categoricals.map((e, i) =>
        tf.reshape((this.categoricalNorms[i] as ResampleNorm).apply(e, kwargs) as Tensor, [1, n, hiddenSize]),
      );
      if (reals && this.realGrns) {
        const stacked = tf.transpose(tf.reshape(reals, [n, realCount, realSize]), [1, 0, 2]);
        perVariable.push(this.realGrns.apply(stacked, kwargs) as Tensor);
      }
      const outputs = perVariable.length === 1 ? (perVariable[0] as Tensor) : tf.concat(perVariable, 0);

      if (!this.flattenedGrn) {
        return [tf.reshape(outputs, [...lead, hiddenSize]), tf.ones([...lead, 1])];
      }
      const flat = tf.concat(
        [...categoricals, ...(reals ? [tf.reshape(reals, [...lead, realCount * realSize])] : [])],
        -1,
      );
      const logits = this.flattenedGrn.apply(context ? [flat, context] : flat, kwargs) as Tensor;
      const weights = tf.softmax(logits);
      const perVariableWeight = tf.expandDims(tf.transpose(tf.reshape(weights, [n, this.variableCount])), -1);
      const combined = tf.sum(tf.mul(outputs, perVariableWeight), 0);
      return [tf.reshape(combined, [...lead, hiddenSize]), weights];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.config };
  }
}

/** The batch (and time) dimensions of the first input. */
function leadShape(shape: tf.Shape, isReals: boolean): tf.Shape {
  return shape.slice(0, isReals ? -2 : -1);
}

tf.serialization.registerClass(VariableSelectionNetwork);
