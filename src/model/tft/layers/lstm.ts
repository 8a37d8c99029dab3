/**
 * A one-layer LSTM (PyTorch's gate order i, f, g, o and its initialisation) that starts from given
 * states and skips masked steps: where the mask is 0 the state is carried unchanged, so a
 * left-padded encoder ends in the state its real steps give — what pytorch-forecasting gets from
 * packed sequences.
 *
 * The input projection of all steps is one matmul. The recurrence is one custom op with its
 * backpropagation through time written out as loops over Float32Arrays (the recurrent kernel's
 * gradient, a sum over all steps, is one backend matmul at the end). As tensor ops the cell is ~40 tiny kernels
 * per step, and on WebAssembly each kernel's fixed cost (and each slice, which copies its whole
 * input) outweighs the arithmetic of a 16-wide cell many times over.
 */
import * as tf from "@tensorflow/tfjs";
import type { Kwargs, LayerVariable, Tensor } from "./base.js";
import { linear, TftLayer, type TftLayerConfig } from "./base.js";

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
      const projected = linear(x, this.kernel, this.bias);
      const states = recurrence(projected, h0, c0, this.recurrentKernel.read(), mask?.dataSync() as Float32Array);
      const outputs = tf.reshape(tf.slice(states, [0, 0, 0, 0], [1, batch, steps, units]), [batch, steps, units]);
      const last = (which: number) =>
        tf.reshape(tf.slice(states, [which, 0, steps - 1, 0], [1, batch, 1, units]), [batch, units]);
      return [outputs, last(0), last(1)];
    });
  }
}

/**
 * The recurrence as one differentiable op: `projected [B, T, 4H]` (input projection plus bias), the
 * initial states `[B, H]` and the recurrent kernel `[H, 4H]` give `[2, B, T, H]`: the hidden and
 * the cell state after every step.
 */
function recurrence(projected: Tensor, h0: Tensor, c0: Tensor, recurrent: Tensor, mask?: Float32Array): Tensor {
  const op = tf.customGrad((...args: Array<Tensor | tf.GradSaveFunc>) => {
    const [xp, hInit, cInit, r] = args as [Tensor, Tensor, Tensor, tf.Tensor2D];
    const [batch, steps, width] = xp.shape as [number, number, number];
    const units = width / 4;
    const forward = runForward(
      xp.dataSync() as Float32Array,
      hInit.dataSync() as Float32Array,
      cInit.dataSync() as Float32Array,
      r,
      mask,
      batch,
      steps,
      units,
    );
    return {
      value: tf.tensor4d(forward.states, [2, batch, steps, units]),
      gradFunc: (dy: Tensor | Tensor[]) => {
        const grads = runBackward(forward, (dy as Tensor).dataSync() as Float32Array, r, mask);
        return [
          grads.projected,
          tf.tensor2d(grads.h0, [batch, units]),
          tf.tensor2d(grads.c0, [batch, units]),
          grads.recurrent,
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
  h0: Float32Array;
  c0: Float32Array;
  /** Activated gates per (t, b): i, f, g, o, each `units` wide. */
  gates: Float32Array;
  /** tanh of the new cell state per (t, b). */
  tanhCell: Float32Array;
  /** `[2, B, T, H]`: hidden then cell state after each step. */
  states: Float32Array;
}

function runForward(
  projected: Float32Array,
  h0: Float32Array,
  c0: Float32Array,
  recurrent: tf.Tensor2D,
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
  // Transposed, so each gate pre-activation is one contiguous dot product.
  const rT = transposed(recurrent.dataSync() as Float32Array, units, width);
  const z = new Float64Array(width);
  for (let t = 0; t < steps; t++) {
    for (let b = 0; b < batch; b++) {
      const hb = b * units;
      if (mask === undefined || mask[b * steps + t] !== 0) {
        const xBase = (b * steps + t) * width;
        for (let j = 0; j < width; j++) {
          let acc = projected[xBase + j] as number;
          const rBase = j * units;
          for (let k = 0; k < units; k++) acc += (h[hb + k] as number) * (rT[rBase + k] as number);
          z[j] = acc;
        }
        const zBase = 0 as number;
        const gBase = (t * batch + b) * width;
        const tBase = (t * batch + b) * units;
        for (let k = 0; k < units; k++) {
          const i = 1 / (1 + Math.exp(-(z[zBase + k] as number)));
          const f = 1 / (1 + Math.exp(-(z[zBase + units + k] as number)));
          const g = tanh(z[zBase + 2 * units + k] as number);
          const o = 1 / (1 + Math.exp(-(z[zBase + 3 * units + k] as number)));
          gates[gBase + k] = i;
          gates[gBase + units + k] = f;
          gates[gBase + 2 * units + k] = g;
          gates[gBase + 3 * units + k] = o;
          const cNew = f * (c[hb + k] as number) + i * g;
          const tc = tanh(cNew);
          tanhCell[tBase + k] = tc;
          c[hb + k] = cNew;
          h[hb + k] = o * tc;
        }
      }
      const out = (b * steps + t) * units;
      for (let k = 0; k < units; k++) {
        states[out + k] = h[hb + k] as number;
        states[cellOffset + out + k] = c[hb + k] as number;
      }
    }
  }
  return { batch, steps, units, h0, c0, gates, tanhCell, states };
}

function runBackward(
  state: ForwardState,
  dy: Float32Array,
  recurrent: tf.Tensor2D,
  mask: Float32Array | undefined,
): { projected: Tensor; h0: Float32Array; c0: Float32Array; recurrent: Tensor } {
  const { batch, steps, units, gates, tanhCell, states, h0, c0 } = state;
  const width = 4 * units;
  const cellOffset = batch * steps * units;
  const dProjected = new Float32Array(batch * steps * width);
  // The hidden state each step started from, to form the recurrent kernel's gradient at the end.
  const hPrevious = new Float32Array(batch * steps * units);
  const dh = new Float32Array(batch * units);
  const dc = new Float32Array(batch * units);
  const dzStep = new Float32Array(batch * width);
  const r = recurrent.dataSync() as Float32Array;
  for (let t = steps - 1; t >= 0; t--) {
    for (let b = 0; b < batch; b++) {
      const hb = b * units;
      const out = (b * steps + t) * units;
      for (let k = 0; k < units; k++) {
        dh[hb + k] = (dh[hb + k] as number) + (dy[out + k] as number);
        dc[hb + k] = (dc[hb + k] as number) + (dy[cellOffset + out + k] as number);
      }
      const zBase = b * width;
      // A masked step passed its state through: its gradient flows on unchanged.
      if (mask !== undefined && mask[b * steps + t] === 0) {
        dzStep.fill(0, zBase, zBase + width);
        continue;
      }
      // The state this step started from: the previous step's, or the initial one.
      const previous = t === 0 ? hb : out - units;
      const hSource = t === 0 ? h0 : states;
      const cStart = t === 0 ? previous : cellOffset + previous;
      const cSource = t === 0 ? c0 : states;
      const gBase = (t * batch + b) * width;
      const tBase = (t * batch + b) * units;
      const xBase = (b * steps + t) * width;
      for (let k = 0; k < units; k++) {
        const i = gates[gBase + k] as number;
        const f = gates[gBase + units + k] as number;
        const g = gates[gBase + 2 * units + k] as number;
        const o = gates[gBase + 3 * units + k] as number;
        const tc = tanhCell[tBase + k] as number;
        const dhk = dh[hb + k] as number;
        const dck = (dc[hb + k] as number) + dhk * o * (1 - tc * tc);
        const di = dck * g * i * (1 - i);
        const df = dck * (cSource[cStart + k] as number) * f * (1 - f);
        const dg = dck * i * (1 - g * g);
        const dO = dhk * tc * o * (1 - o);
        dzStep[zBase + k] = di;
        dzStep[zBase + units + k] = df;
        dzStep[zBase + 2 * units + k] = dg;
        dzStep[zBase + 3 * units + k] = dO;
        dProjected[xBase + k] = di;
        dProjected[xBase + units + k] = df;
        dProjected[xBase + 2 * units + k] = dg;
        dProjected[xBase + 3 * units + k] = dO;
        dc[hb + k] = dck * f;
        hPrevious[out + k] = hSource[previous + k] as number;
      }
    }
    for (let b = 0; b < batch; b++) {
      if (mask !== undefined && mask[b * steps + t] === 0) continue;
      const zBase = b * width;
      for (let k = 0; k < units; k++) {
        const rBase = k * width;
        let sum = 0;
        for (let j = 0; j < width; j++) sum += (dzStep[zBase + j] as number) * (r[rBase + j] as number);
        dh[b * units + k] = sum;
      }
    }
  }
  const dProjectedTensor = tf.tensor3d(dProjected, [batch, steps, width]);
  const dRecurrent = tf.tidy(() =>
    tf.matMul(
      tf.tensor2d(transposed(hPrevious, batch * steps, units), [units, batch * steps]),
      tf.reshape(dProjectedTensor, [batch * steps, width]) as tf.Tensor2D,
    ),
  );
  return { projected: dProjectedTensor, h0: dh, c0: dc, recurrent: dRecurrent };
}

tf.serialization.registerClass(Lstm);

function transposed(m: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < columns; j++) out[j * rows + i] = m[i * columns + j] as number;
  return out;
}

/** tanh through one exp (`Math.tanh` is about twice as slow here, and this is the hot loop). */
function tanh(x: number): number {
  return 2 / (1 + Math.exp(-2 * x)) - 1;
}
