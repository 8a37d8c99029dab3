/**
 * pytorch-forecasting's `VariableSelectionNetwork`: each variable is turned into a hidden-size vector
 * (embeddings by a ResampleNorm, prescaled reals by their own GRN), a GRN over all variables
 * flattened (with the static context) gives softmax weights, and the output is the weighted sum.
 * The weights are returned too: they are the variable importances.
 *
 * Every variable keeps its own tensors (no `[..., V, F]` stack): on WebAssembly a matmul is fast
 * only unbatched, and slicing or concatenating a stacked tensor copies it whole, so V small networks
 * on the fast path beat one batched network (measured: see docs/model.md).
 */
import * as tf from "@tensorflow/tfjs";
import type { Kwargs, Tensor } from "./base.js";
import { dense, TftLayer, type TftLayerConfig } from "./base.js";
import { ResampleNorm } from "./gating.js";
import { GatedResidualNetwork } from "./grn.js";

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
 * Inputs, in order: each categorical's embedding `[..., size]`, each real's prescaled vector
 * `[..., realSize]`, then the context `[B, contextSize]` (when configured). Outputs
 * `[..., hiddenSize]` and the weights `[..., variables]` (ones for a single variable, as in
 * pytorch-forecasting).
 */
export class VariableSelectionNetwork extends TftLayer {
  static readonly className = "TftVariableSelectionNetwork";
  readonly config: VariableSelectionConfig;
  private readonly singleVariable: TftLayer[];
  private readonly flattenedGrn: GatedResidualNetwork | undefined;

  constructor(config: VariableSelectionConfig) {
    super(config);
    this.config = config;
    const { hiddenSize, dropout, contextSize, categoricalSizes, realCount, realSize } = config;
    const count = categoricalSizes.length + realCount;
    if (count === 0) throw new Error("a variable selection network needs at least one variable");
    const inputSizes = [...categoricalSizes, ...Array.from({ length: realCount }, () => realSize)];
    if (count > 1) {
      // Its input is the concatenation of every variable's vector, given as parts.
      this.flattenedGrn = this.child(
        new GatedResidualNetwork({
          name: "flattened_grn",
          seed: this.childSeed("flattened_grn"),
          inputSize: inputSizes.reduce((a, b) => a + b, 0),
          hiddenSize: Math.min(hiddenSize, count),
          outputSize: count,
          dropout,
          contextSize,
          residual: false,
          inputSizes,
        }),
      );
    }
    this.singleVariable = inputSizes.map((size, i) => {
      const name = `single_variable_${i}`;
      return this.child(
        i < categoricalSizes.length
          ? new ResampleNorm({
              name,
              seed: this.childSeed(name),
              inputSize: size,
              outputSize: hiddenSize,
              trainableAdd: true,
            })
          : new GatedResidualNetwork({
              name,
              seed: this.childSeed(name),
              inputSize: size,
              hiddenSize: Math.min(size, hiddenSize),
              outputSize: hiddenSize,
              dropout,
              contextSize: null,
              residual: false,
            }),
      );
    });
  }

  private get variableCount(): number {
    return this.config.categoricalSizes.length + this.config.realCount;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const { contextSize } = this.config;
    const shapes = inputShape as tf.Shape[];
    const variables = shapes.slice(0, this.variableCount);
    const lead = (variables[0] as tf.Shape).slice(0, -1);
    variables.forEach((shape, i) => {
      this.buildChild(this.singleVariable[i] as TftLayer, shape);
    });
    if (this.flattenedGrn) {
      const total = variables.reduce((n, shape) => n + (shape[shape.length - 1] as number), 0);
      const x = [...lead, total];
      this.buildChild(this.flattenedGrn, contextSize === null ? x : [x, [lead[0] ?? null, contextSize]]);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape[] {
    const lead = ((inputShape as tf.Shape[])[0] as tf.Shape).slice(0, -1);
    return [
      [...lead, this.config.hiddenSize],
      [...lead, this.variableCount],
    ];
  }

  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor[] {
    return tf.tidy(() => {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      const count = this.variableCount;
      const variables = list.slice(0, count);
      const context = this.config.contextSize === null ? undefined : list[count];
      const lead = (variables[0] as Tensor).shape.slice(0, -1);
      const h = this.config.hiddenSize;
      const n = lead.reduce((a, b) => a * b, 1);
      const outputs = variables.map(
        (x, i) => tf.reshape((this.singleVariable[i] as TftLayer).apply(x, kwargs) as Tensor, [n, h]) as Tensor,
      );
      if (!this.flattenedGrn) return [tf.reshape(outputs[0] as Tensor, [...lead, h]), tf.ones([...lead, 1])];

      const logits = this.flattenedGrn.apply(context ? [...variables, context] : variables, kwargs) as Tensor;
      const weights = tf.reshape(tf.softmax(logits), [n, count]);
      // Each variable's weight column by a product with a constant one-hot column: slicing would
      // copy the whole weight tensor for every variable.
      const terms = outputs.map((out, i) => {
        const pick = new Float32Array(count);
        pick[i] = 1;
        return tf.mul(out, dense(weights, tf.tensor2d(pick, [count, 1])));
      });
      return [tf.reshape(tf.addN(terms), [...lead, h]), tf.reshape(weights, [...lead, count])];
    });
  }
}

tf.serialization.registerClass(VariableSelectionNetwork);
