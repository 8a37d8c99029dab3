/**
 * pytorch-forecasting's `InterpretableMultiHeadAttention`: each head has its own query and key
 * projections, all heads share one value projection, and the heads' outputs are averaged before the
 * output projection, so the mean attention weights explain the output directly. The heads run as
 * one batched matmul instead of a loop.
 */
import * as tf from "@tensorflow/tfjs";
import { xavierUniform, zeros } from "../random.js";
import type { Kwargs, LayerVariable, Tensor } from "./base.js";
import { linear, TftLayer, type TftLayerConfig } from "./base.js";

export interface AttentionConfig extends TftLayerConfig {
  hiddenSize: number;
  heads: number;
  dropout: number | null;
}

/**
 * Inputs `[q [B, Tq, H], kv [B, Tk, H], maskBias [B | 1, 1, Tq, Tk]]`; the bias is 0 where a query
 * may attend and -1e9 where it may not (pytorch-forecasting's `masked_fill(mask, -1e9)`). Outputs
 * `[out [B, Tq, H], attention [B, heads, Tq, Tk]]`.
 */
export class InterpretableMultiHeadAttention extends TftLayer {
  static readonly className = "TftInterpretableMultiHeadAttention";
  readonly config: AttentionConfig;
  private queryKernel!: LayerVariable;
  private queryBias!: LayerVariable;
  private keyKernel!: LayerVariable;
  private keyBias!: LayerVariable;
  private valueKernel!: LayerVariable;
  private valueBias!: LayerVariable;
  private outputKernel!: LayerVariable;

  constructor(config: AttentionConfig) {
    super(config);
    this.config = config;
  }

  private get headSize(): number {
    return Math.floor(this.config.hiddenSize / this.config.heads);
  }

  override build(): void {
    const { hiddenSize: h, heads } = this.config;
    const d = this.headSize;
    // Per head `xavier_uniform_` of an [H → d] layer: the stacked kernel keeps each head's bound.
    this.queryKernel = this.weight("query/kernel", [h, heads * d], xavierUniform(h, d));
    this.queryBias = this.weight("query/bias", [heads * d], zeros);
    this.keyKernel = this.weight("key/kernel", [h, heads * d], xavierUniform(h, d));
    this.keyBias = this.weight("key/bias", [heads * d], zeros);
    this.valueKernel = this.weight("value/kernel", [h, d], xavierUniform(h, d));
    this.valueBias = this.weight("value/bias", [d], zeros);
    this.outputKernel = this.weight("output/kernel", [d, h], xavierUniform(d, h));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape[] {
    const [q, kv] = inputShape as [tf.Shape, tf.Shape];
    return [
      [q[0] ?? null, q[1] ?? null, this.config.hiddenSize],
      [q[0] ?? null, this.config.heads, q[1] ?? null, kv[1] ?? null],
    ];
  }

  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor[] {
    return tf.tidy(() => {
      const [q, kv, maskBias] = inputs as [tf.Tensor3D, tf.Tensor3D, Tensor];
      const { heads, dropout } = this.config;
      const d = this.headSize;
      const [batch, tq] = q.shape;
      const tk = kv.shape[1];
      const split = (x: Tensor, steps: number) => tf.transpose(tf.reshape(x, [batch, steps, heads, d]), [0, 2, 1, 3]);
      const queries = split(linear(q, this.queryKernel, this.queryBias), tq) as tf.Tensor4D;
      const keys = split(linear(kv, this.keyKernel, this.keyBias), tk) as tf.Tensor4D;
      const values = linear(kv, this.valueKernel, this.valueBias) as tf.Tensor3D;
      const scores = tf.add(tf.div(tf.matMul(queries, keys, false, true), Math.sqrt(d)), maskBias);
      const attention = tf.softmax(scores) as tf.Tensor4D;
      // All heads against the one shared value: [B, heads·Tq, Tk] @ [B, Tk, d].
      let perHead: Tensor = tf.reshape(
        tf.matMul(tf.reshape(attention, [batch, heads * tq, tk]) as tf.Tensor3D, values),
        [batch, heads, tq, d],
      );
      perHead = this.dropout(perHead, dropout, kwargs);
      const mean = heads > 1 ? tf.mean(perHead, 1) : tf.squeeze(perHead, [1]);
      const out = this.dropout(linear(mean, this.outputKernel), dropout, kwargs);
      return [out, attention];
    });
  }
}

tf.serialization.registerClass(InterpretableMultiHeadAttention);
