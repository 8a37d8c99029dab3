/**
 * What every TFT layer shares: tfjs-layers' anatomy (weights made in `build`, `call` inside `tidy`,
 * `getConfig`, registered classes) plus three things tfjs-layers lacks — sublayers whose weights
 * count as the parent's (as in Keras), PyTorch's initialisations from a seed, and dropout masks from
 * a seeded stream (so training is reproducible, see random.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { deriveSeed, type InitSpec, initialValues } from "../random.js";

export type Tensor = tf.Tensor;
export type LayerVariable = tf.LayerVariable;
export type Kwargs = Parameters<tf.layers.Layer["call"]>[1];
type Initializer = ReturnType<typeof tf.initializers.zeros>;

export interface TftLayerConfig {
  name: string;
  /** Every weight's initial value derives from this and the weight's name. */
  seed: number;
}

/**
 * Dropout masks for one training step, from a seeded stream (xorshift32: a mask needs millions of
 * draws per step, so the generator is inlined in the loop).
 */
export class DropoutNoise {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** `x` with each element zeroed with probability `rate` and the rest scaled by 1/(1-rate). */
  apply(x: Tensor, rate: number): Tensor {
    const keep = 1 / (1 - rate);
    const threshold = rate * 4294967296;
    const mask = new Float32Array(x.size);
    let s = this.state;
    for (let i = 0; i < mask.length; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      mask[i] = s >>> 0 < threshold ? 0 : keep;
    }
    this.state = s;
    return tf.mul(x, tf.tensor(mask, x.shape, "float32"));
  }
}

/** What `call` reads from its kwargs: training mode and, then, the step's dropout noise. */
export interface CallArgs {
  training?: boolean;
  noise?: DropoutNoise;
}

export abstract class TftLayer extends tf.layers.Layer {
  readonly seed: number;
  /** The layer's whole config (each subclass's extends TftLayerConfig): what `getConfig` saves. */
  private readonly savedConfig: TftLayerConfig;
  private readonly children: TftLayer[] = [];
  private readonly own: Array<{ key: string; variable: LayerVariable }> = [];

  constructor(config: TftLayerConfig) {
    super({ name: config.name, trainable: true });
    this.seed = config.seed;
    this.savedConfig = config;
  }

  /** Registers a sublayer: its weights become this layer's, in registration order. */
  protected child<L extends TftLayer>(layer: L): L {
    this.children.push(layer);
    return layer;
  }

  /** A seed for a sublayer's config, derived from this layer's seed and the sublayer's name. */
  protected childSeed(name: string): number {
    return deriveSeed(this.seed, name);
  }

  /** A trainable weight with a PyTorch-style initial value drawn from this layer's seed. */
  protected weight(key: string, shape: number[], init: InitSpec): LayerVariable {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = initialValues(init, size, deriveSeed(this.seed, key));
    const initializer = { apply: () => tf.tensor(values, shape, "float32") } as unknown as Initializer;
    const variable = this.addWeight(key, shape, "float32", initializer);
    this.own.push({ key, variable });
    return variable;
  }

  override get trainableWeights(): LayerVariable[] {
    return [...super.trainableWeights, ...this.children.flatMap((c) => c.trainableWeights)];
  }

  override set trainableWeights(weights: LayerVariable[]) {
    super.trainableWeights = weights;
  }

  /** Every weight with a stable path (`layer/sublayer/key`): the names a saved model uses. */
  namedWeights(prefix = this.name): Array<{ path: string; variable: LayerVariable }> {
    return [
      ...this.own.map(({ key, variable }) => ({ path: `${prefix}/${key}`, variable })),
      ...this.children.flatMap((c) => c.namedWeights(`${prefix}/${c.name}`)),
    ];
  }

  /** Frees every weight, the sublayers' too. */
  releaseWeights(): number {
    return this.disposeWeights();
  }

  /** Builds the sublayers that take `shape`'s last dimension (they need nothing else). */
  protected buildChild(layer: TftLayer, shape: tf.Shape | tf.Shape[]): void {
    if (!layer.built) {
      layer.build(shape);
      layer.built = true;
    }
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.savedConfig } as unknown as tf.serialization.ConfigDict;
  }

  protected dropout(x: Tensor, rate: number | null, kwargs: Kwargs): Tensor {
    const { training, noise } = kwargs as CallArgs;
    return training && noise && rate ? noise.apply(x, rate) : x;
  }
}

/** `x @ kernel + bias` over the last axis of `x`, any rank (see `dense`). */
export function linear(x: Tensor, kernel: LayerVariable, bias?: LayerVariable): Tensor {
  return dense(x, kernel.read(), bias?.read());
}

/**
 * `x @ kernel + bias` over the last axis of `x`, with its gradient written as plain products of
 * explicit transposes. The WebAssembly backend runs a matmul on its fast (XNNPACK) path only
 * unbatched and untransposed; tfjs's own gradient (`dy @ kernelᵀ`, `xᵀ @ dy` as transposed
 * matmuls) took the slow path, several times slower than transposing first.
 */
export function dense(x: Tensor, kernel: Tensor, bias?: Tensor): Tensor {
  const [inSize, outSize] = kernel.shape as [number, number];
  const flat = x.rank === 2 ? x : tf.reshape(x, [-1, inSize]);
  const y = bias ? denseWithBias(flat, kernel, bias) : denseWithoutBias(flat, kernel);
  return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), outSize]);
}

const denseWithBias = tf.customGrad((...args: Array<Tensor | tf.GradSaveFunc>) => {
  const [x, kernel, bias, save] = args as [tf.Tensor2D, tf.Tensor2D, Tensor, tf.GradSaveFunc];
  save([x, kernel]);
  return {
    value: tf.fused.matMul({ a: x, b: kernel, bias }),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const [a, b] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [tf.matMul(g, tf.transpose(b)), tf.matMul(tf.transpose(a), g), tf.sum(g, 0)];
    },
  };
});

const denseWithoutBias = tf.customGrad((...args: Array<Tensor | tf.GradSaveFunc>) => {
  const [x, kernel, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, kernel]);
  return {
    value: tf.matMul(x, kernel),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const [a, b] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [tf.matMul(g, tf.transpose(b)), tf.matMul(tf.transpose(a), g)];
    },
  };
});

/**
 * Layer normalisation over the last axis (PyTorch's `nn.LayerNorm`, eps 1e-5); `gamma` and `beta`
 * broadcast against `x` (`[F]`, or `[V, 1, F]` for stacked networks). One op with its gradient
 * written out: as a dozen taped ops, each saving a copy of its inputs, it cost several times more.
 */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor): Tensor {
  const op = tf.customGrad((...args: Array<Tensor | tf.GradSaveFunc>) => {
    const [input, g, b, save] = args as [Tensor, Tensor, Tensor, tf.GradSaveFunc];
    const mean = tf.mean(input, -1, true);
    const centered = tf.sub(input, mean);
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), 1e-5));
    const normalised = tf.mul(centered, rstd);
    const betaShape = b.shape;
    save([normalised, rstd, g]);
    return {
      value: tf.add(tf.mul(normalised, g), b),
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
        const [xhat, r, scale] = saved as [Tensor, Tensor, Tensor];
        const dyT = dy as Tensor;
        const dxhat = tf.mul(dyT, scale);
        const dx = tf.mul(
          tf.sub(tf.sub(dxhat, tf.mean(dxhat, -1, true)), tf.mul(xhat, tf.mean(tf.mul(dxhat, xhat), -1, true))),
          r,
        );
        return [dx, reduceTo(tf.mul(dyT, xhat), scale.shape), reduceTo(dyT, betaShape)];
      },
    };
  });
  return op(x, gamma, beta) as Tensor;
}

/** Sums `t` over the axes `shape` broadcast along (the gradient of a broadcast parameter). */
function reduceTo(t: Tensor, shape: number[]): Tensor {
  const offset = t.rank - shape.length;
  const axes: number[] = [];
  for (let axis = 0; axis < t.rank; axis++) {
    if (axis < offset || shape[axis - offset] === 1) axes.push(axis);
  }
  return tf.reshape(tf.sum(t, axes), shape);
}

/**
 * PyTorch's `F.interpolate(mode="linear", align_corners=True)` from `inSize` to `outSize` values, as
 * an `[inSize, outSize]` matrix: resampling is then one matmul.
 */
export function interpolationMatrix(inSize: number, outSize: number): Float32Array {
  const m = new Float32Array(inSize * outSize);
  for (let j = 0; j < outSize; j++) {
    const position = outSize === 1 ? 0 : (j * (inSize - 1)) / (outSize - 1);
    const lower = Math.min(Math.floor(position), inSize - 1);
    const upper = Math.min(lower + 1, inSize - 1);
    const w = position - lower;
    m[lower * outSize + j] = (m[lower * outSize + j] ?? 0) + (1 - w);
    if (w > 0) m[upper * outSize + j] = (m[upper * outSize + j] ?? 0) + w;
  }
  return m;
}

/** The class of a registered layer by name, for `fromConfig` round trips. */
export function layerFromConfig(className: string, config: tf.serialization.ConfigDict): TftLayer {
  const cls = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (!cls) throw new Error(`no layer class ${className} is registered`);
  const [layerClass, fromConfig] = cls;
  return fromConfig(layerClass, config) as TftLayer;
}

export function outputs(result: Tensor | Tensor[]): Tensor[] {
  return Array.isArray(result) ? result : [result];
}
