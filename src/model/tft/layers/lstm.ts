/**
 * A one-layer LSTM (PyTorch's gate order i, f, g, o and its initialisation) that starts from given
 * states and skips masked steps: where the mask is 0 the state is carried unchanged, so a
 * left-padded encoder ends in the state its real steps give — what pytorch-forecasting gets from
 * packed sequences.
 *
 * The input projection of all steps is one matmul. The recurrence is one custom op whose forward
 * and backward (backpropagation through time) run as plain loops over Float32Arrays: as tensor ops
 * it is ~40 tiny kernels per step, and with WebAssembly every kernel's fixed cost (and every slice,
 * which copies its whole input) outweighs the arithmetic of a 16-wide cell many times over.
 */
import * as tf from "@tensorflow/tfjs";
import type { Kwargs, LayerVariable, Tensor } from "./base.js";
import { TftLayer, type TftLayerConfig } from "./base.js";

export interface LstmConfig extends TftLayerConfig {
  inputSize: number;
  units: number;
}

/**
 * Inputs `[x [B, T, in], h0 [B, units], c0 [B, units]]`, optionally a fourth `mask [B, T]` (1 for a
 * real step, 0 for padding). Outputs `[outputs [B, T, units], hT, cT]`.
 */
export class Lstm extends TftLayer {
  static readonly className = "TftLstm";
  readonly config: LstmConfig;
  private kernel!: LayerVariable;
  private recurrentKernel!: LayerVariable;
  private bias!: LayerVariable;

  constructor(config: LstmConfig) {
    super(config);
    this.config = config;
  }

  override build(): void {
    const { inputSize, units } = this.config;
    const bound = 1 / Math.sqrt(units);
    this.kernel = this.weight("kernel", [inputSize, 4 * units], { kind: "uniform", bound });
    this.recurrentKernel = this.weight("recurrent_kernel", [units, 4 * units], { kind: "uniform", bound });
    this.bias = this.weight("bias", [4 * units], { kind: "uniformPair", bound });
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape[] {
    const [b, t] = (inputShape as tf.Shape[])[0] as tf.Shape;
    const units = this.config.units;
    return [
      [b ?? null, t ?? null, units],
      [b ?? null, units],
      [b ?? null, units],
    ];
  }

  override call(inputs: Tensor | Tensor[], _kwargs?: Kwargs): Tensor[] {
    return tf.tidy(() => {
      const [x, h0, c0, mask] = inputs as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D | undefined];
      const [batch, steps] = x.shape;
      const units = this.config.units;
      const projected = tf.reshape(
        tf.fused.matMul({
          a: tf.reshape(x, [batch * steps, this.config.inputSize]) as tf.Tensor2D,
          b: this.kernel.read() as tf.Tensor2D,
          bias: this.bias.read(),
        }),
        [batch, steps, 4 * units],
      );
      const states = recurrence(projected, h0, c0, this.recurrentKernel.read(), mask?.dataSync() as Float32Array);
      const outputs = tf.reshape(tf.slice(states, [0, 0, 0, 0], [1, batch, steps, units]), [batch, steps, units]);
      const last = (which: number) =>
        tf.reshape(tf.slice(states, [which, 0, steps - 1, 0], [1, batch, 1, units]), [batch, units]);
      return [outputs, last(0), last(1)];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.config };
  }
}

/**
 * The recurrence as one differentiable op: `projected [B, T, 4H]` (input projection plus bias), the
 * initial states `[B, H]` and the recurrent kernel `[H, 4H]` give `[2, B, T, H]`: the hidden and
 * the cell state after every step.
 */
function recurrence(projected: Tensor, h0: Tensor, c0: Tensor, recurrent: Tensor, mask?: Float32Array): Tensor {
  const op = tf.customGrad((...args: Array<Tensor | tf.GradSaveFunc>) => {
    const [xp, hInit, cInit, r] = args as [Tensor, Tensor, Tensor, Tensor];
    const [batch, steps, width] = xp.shape as [number, number, number];
    const units = width / 4;
    const forward = runForward(
      xp.dataSync() as Float32Array,
      hInit.dataSync() as Float32Array,
      cInit.dataSync() as Float32Array,
      r.dataSync() as Float32Array,
      mask,
      batch,
      steps,
      units,
    );
    return {
      value: tf.tensor4d(forward.states, [2, batch, steps, units]),
      gradFunc: (dy: Tensor | Tensor[]) => {
        const grads = runBackward(forward, (dy as Tensor).dataSync() as Float32Array, mask);
        return [
          tf.tensor3d(grads.projected, [batch, steps, width]),
          tf.tensor2d(grads.h0, [batch, units]),
          tf.tensor2d(grads.c0, [batch, units]),
          tf.tensor2d(grads.recurrent, [units, width]),
        ];
      },
    };
  });
  return op(projected, h0, c0, recurrent) as Tensor;
}

interface ForwardState {
  batch: number;
  steps: number;
  units: number;
  recurrent: Float32Array;
  h0: Float32Array;
  c0: Float32Array;
  /** Activated gates per (t, b): i, f, g, o, each `units` wide. */
  gates: Float32Array;
  /** tanh of the new cell state per (t, b). */
  tanhCell: Float32Array;
  /** `[2, B, T, H]`: hidden then cell state after each step. */
  states: Float32Array;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function runForward(
  projected: Float32Array,
  h0: Float32Array,
  c0: Float32Array,
  recurrent: Float32Array,
  mask: Float32Array | undefined,
  batch: number,
  steps: number,
  units: number,
): ForwardState {
  const width = 4 * units;
  const gates = new Float32Array(steps * batch * width);
  const tanhCell = new Float32Array(steps * batch * units);
  const states = new Float32Array(2 * batch * steps * units);
  const cellOffset = batch * steps * units;
  const h = Float32Array.from(h0);
  const c = Float32Array.from(c0);
  const z = new Float64Array(width);
  for (let t = 0; t < steps; t++) {
    for (let b = 0; b < batch; b++) {
      const hb = b * units;
      if (mask?.[b * steps + t] !== 0) {
        const xBase = (b * steps + t) * width;
        for (let j = 0; j < width; j++) z[j] = projected[xBase + j] as number;
        for (let k = 0; k < units; k++) {
          const hk = h[hb + k] as number;
          if (hk === 0) continue;
          const rBase = k * width;
          for (let j = 0; j < width; j++) z[j] = (z[j] as number) + hk * (recurrent[rBase + j] as number);
        }
        const gBase = (t * batch + b) * width;
        const tBase = (t * batch + b) * units;
        for (let k = 0; k < units; k++) {
          const i = sigmoid(z[k] as number);
          const f = sigmoid(z[units + k] as number);
          const g = Math.tanh(z[2 * units + k] as number);
          const o = sigmoid(z[3 * units + k] as number);
          gates[gBase + k] = i;
          gates[gBase + units + k] = f;
          gates[gBase + 2 * units + k] = g;
          gates[gBase + 3 * units + k] = o;
          const cNew = f * (c[hb + k] as number) + i * g;
          const tc = Math.tanh(cNew);
          tanhCell[tBase + k] = tc;
          c[hb + k] = cNew;
          h[hb + k] = o * tc;
        }
      }
      const out = (b * steps + t) * units;
      states.set(h.subarray(hb, hb + units), out);
      states.set(c.subarray(hb, hb + units), cellOffset + out);
    }
  }
  return { batch, steps, units, recurrent, h0, c0, gates, tanhCell, states };
}

function runBackward(
  state: ForwardState,
  dy: Float32Array,
  mask: Float32Array | undefined,
): { projected: Float32Array; h0: Float32Array; c0: Float32Array; recurrent: Float32Array } {
  const { batch, steps, units, recurrent, gates, tanhCell, states } = state;
  const width = 4 * units;
  const cellOffset = batch * steps * units;
  const dProjected = new Float32Array(batch * steps * width);
  const dRecurrent = new Float64Array(units * width);
  const dh = new Float64Array(batch * units);
  const dc = new Float64Array(batch * units);
  const dz = new Float64Array(width);
  // The state a step started from: the previous step's, or the initial one.
  const previous = (which: 0 | 1, b: number, t: number, k: number) =>
    t === 0
      ? ((which === 0 ? state.h0 : state.c0)[b * units + k] as number)
      : (states[which * cellOffset + (b * steps + t - 1) * units + k] as number);
  for (let t = steps - 1; t >= 0; t--) {
    for (let b = 0; b < batch; b++) {
      const hb = b * units;
      const out = (b * steps + t) * units;
      for (let k = 0; k < units; k++) {
        dh[hb + k] = (dh[hb + k] as number) + (dy[out + k] as number);
        dc[hb + k] = (dc[hb + k] as number) + (dy[cellOffset + out + k] as number);
      }
      // A masked step passed its state through: its gradient flows on unchanged.
      if (mask && mask[b * steps + t] === 0) continue;
      const gBase = (t * batch + b) * width;
      const tBase = (t * batch + b) * units;
      for (let k = 0; k < units; k++) {
        const i = gates[gBase + k] as number;
        const f = gates[gBase + units + k] as number;
        const g = gates[gBase + 2 * units + k] as number;
        const o = gates[gBase + 3 * units + k] as number;
        const tc = tanhCell[tBase + k] as number;
        const dhk = dh[hb + k] as number;
        const dck = (dc[hb + k] as number) + dhk * o * (1 - tc * tc);
        dz[k] = dck * g * i * (1 - i);
        dz[units + k] = dck * previous(1, b, t, k) * f * (1 - f);
        dz[2 * units + k] = dck * i * (1 - g * g);
        dz[3 * units + k] = dhk * tc * o * (1 - o);
        dc[hb + k] = dck * f;
      }
      const xBase = (b * steps + t) * width;
      for (let j = 0; j < width; j++) dProjected[xBase + j] = dz[j] as number;
      for (let k = 0; k < units; k++) {
        const hPrev = previous(0, b, t, k);
        const rBase = k * width;
        let sum = 0;
        for (let j = 0; j < width; j++) {
          const d = dz[j] as number;
          dRecurrent[rBase + j] = (dRecurrent[rBase + j] as number) + hPrev * d;
          sum += d * (recurrent[rBase + j] as number);
        }
        dh[hb + k] = sum;
      }
    }
  }
  return {
    projected: dProjected,
    h0: Float32Array.from(dh),
    c0: Float32Array.from(dc),
    recurrent: Float32Array.from(dRecurrent),
  };
}

tf.serialization.registerClass(Lstm);
