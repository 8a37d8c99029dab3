/**
 * How raw inputs become vectors: categorical embeddings (pytorch-forecasting's `MultiEmbedding`) and
 * the per-variable linear prescalers of real inputs (`prescalers`), the latter for all variables at
 * once by broadcasting.
 */
import * as tf from "@tensorflow/tfjs";
import { linearDefault } from "../random.js";
import type { Kwargs, LayerVariable, Tensor } from "./base.js";
import { TftLayer, type TftLayerConfig } from "./base.js";
import { first } from "./gating.js";

/**
 * pytorch-forecasting's `get_embedding_size`, capped at the hidden size as its `MultiEmbedding`
 * does (`max_embedding_size=hidden_size`). `cardinality` counts the unknown slot.
 */
export function embeddingSize(cardinality: number, hiddenSize: number): number {
  const size = cardinality > 2 ? Math.min(Math.round(1.6 * cardinality ** 0.56), 100) : 1;
  return Math.min(size, hiddenSize);
}

export interface EmbeddingConfig extends TftLayerConfig {
  /** Per variable: its number of classes, slot 0 (unknown) included. */
  cardinalities: number[];
  embeddingSizes: number[];
}

/** Input `[..., C]` int32 codes; outputs one `[..., size_c]` embedding per variable. */
export class Embedding extends TftLayer {
  static readonly className = "TftEmbedding";
  readonly config: EmbeddingConfig;
  private tables: LayerVariable[] = [];

  constructor(config: EmbeddingConfig) {
    super(config);
    this.config = config;
  }

  override build(): void {
    this.tables = this.config.cardinalities.map((n, i) =>
      this.weight(`table_${i}`, [n, this.config.embeddingSizes[i] as number], { kind: "normal", std: 1 }),
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape): tf.Shape[] {
    return this.config.embeddingSizes.map((size) => [...inputShape.slice(0, -1), size]);
  }

  override call(inputs: Tensor | Tensor[]): Tensor[] {
    return tf.tidy(() => {
      const codes = first(inputs);
      const lead = codes.shape.slice(0, -1);
      const columns = tf.unstack(tf.reshape(codes, [-1, this.tables.length]), 1);
      return this.tables.map((table, i) =>
        tf.reshape(gatherRows(table.read(), columns[i] as tf.Tensor1D), [...lead, table.shape[1] as number]),
      );
    });
  }
}

/**
 * `gather` whose gradient is a scatter-add: tfjs's own gather gradient needs `UnsortedSegmentSum`,
 * which the WebAssembly backend lacks.
 */
function gatherRows(table: Tensor, indices: tf.Tensor1D): Tensor {
  const op = tf.customGrad((...args: Array<Tensor | tf.GradSaveFunc>) => {
    const [t, save] = args as [Tensor, tf.GradSaveFunc];
    save([indices]);
    return {
      value: tf.gather(t, indices),
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) =>
        tf.scatterND(tf.expandDims(saved[0] as Tensor, 1), dy as Tensor, t.shape),
    };
  });
  return op(table) as Tensor;
}

export interface PrescalerConfig extends TftLayerConfig {
  /** How many real variables. */
  count: number;
  /** Width each is scaled up to (`hidden_continuous_size`). */
  size: number;
}

/**
 * `nn.Linear(1, size)` per real variable: inputs one `[...]` tensor per variable, outputs one
 * `[..., size]` each. Given fewer than `count` inputs, the first prescalers apply (the decoder's
 * known reals share the encoder's, as pytorch-forecasting's `prescalers` are shared).
 */
export class Prescaler extends TftLayer {
  static readonly className = "TftPrescaler";
  readonly config: PrescalerConfig;
  private kernels: LayerVariable[] = [];
  private biases: LayerVariable[] = [];

  constructor(config: PrescalerConfig) {
    super(config);
    this.config = config;
  }

  override build(): void {
    const { count, size } = this.config;
    for (let v = 0; v < count; v++) {
      this.kernels.push(this.weight(`${v}/kernel`, [size], linearDefault(1)));
      this.biases.push(this.weight(`${v}/bias`, [size], linearDefault(1)));
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape[] {
    const shapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as tf.Shape[];
    return shapes.map((shape) => [...shape, this.config.size]);
  }

  override call(inputs: Tensor | Tensor[], _kwargs?: Kwargs): Tensor[] {
    return tf.tidy(() =>
      (Array.isArray(inputs) ? inputs : [inputs]).map((x, v) =>
        tf.add(
          tf.mul(tf.expandDims(x, -1), (this.kernels[v] as LayerVariable).read()),
          (this.biases[v] as LayerVariable).read(),
        ),
      ),
    );
  }
}

for (const cls of [Embedding, Prescaler]) tf.serialization.registerClass(cls);
