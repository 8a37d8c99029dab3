/**
 * Adam (PyTorch's update: bias-corrected moments, eps added to the root) with gradient clipping by
 * global norm (PyTorch's `clip_grad_norm_`), on plain arrays. The network has a few hundred small
 * weights; tfjs's optimizer and a tensor-op clip cost ~15 kernels per weight per step, each with a
 * fixed overhead that dwarfs its arithmetic. Here each weight costs one read and one write, and the
 * state is plain arrays that a checkpoint stores exactly (a resumed run continues bit for bit).
 */
import * as tf from "@tensorflow/tfjs";
import type { NamedArray } from "./checkpoint.js";

export interface AdamOptions {
  learningRate: number;
  /** Gradients are scaled so their global norm is at most this; 0 turns clipping off. */
  clipNorm: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export class Adam {
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly first: Float64Array[];
  private readonly second: Float64Array[];
  private steps = 0;

  constructor(
    private readonly variables: tf.Variable[],
    private readonly options: AdamOptions,
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.first = variables.map((v) => new Float64Array(v.size));
    this.second = variables.map((v) => new Float64Array(v.size));
  }

  /** One update from `grads`, aligned with the variables (a missing gradient counts as zero). */
  step(grads: Array<tf.Tensor | undefined>): void {
    const values = grads.map((g) => (g ? (g.dataSync() as Float32Array) : undefined));
    let squares = 0;
    for (const g of values) if (g) for (const x of g) squares += x * x;
    const norm = Math.sqrt(squares);
    const clip = this.options.clipNorm;
    const factor = clip > 0 && norm > clip ? clip / (norm + 1e-6) : 1;
    this.steps++;
    const correction1 = 1 - this.beta1 ** this.steps;
    const correction2 = 1 - this.beta2 ** this.steps;
    const rate = this.options.learningRate;
    this.variables.forEach((variable, i) => {
      const g = values[i];
      const m = this.first[i] as Float64Array;
      const v = this.second[i] as Float64Array;
      const params = Float32Array.from(variable.dataSync() as Float32Array);
      for (let k = 0; k < params.length; k++) {
        const gk = g ? (g[k] as number) * factor : 0;
        const mk = this.beta1 * (m[k] as number) + (1 - this.beta1) * gk;
        const vk = this.beta2 * (v[k] as number) + (1 - this.beta2) * gk * gk;
        m[k] = mk;
        v[k] = vk;
        params[k] = (params[k] as number) - (rate * (mk / correction1)) / (Math.sqrt(vk / correction2) + this.epsilon);
      }
      const next = tf.tensor(params, variable.shape, "float32");
      variable.assign(next);
      next.dispose();
    });
  }

  /** The moments and the step count, for a checkpoint. */
  state(): NamedArray[] {
    const moments = (kind: string, list: Float64Array[]) =>
      list.map((values, i) => ({
        name: `${kind}/${i}`,
        shape: [values.length],
        dtype: "float64" as const,
        values,
      }));
    return [
      { name: "steps", shape: [1], dtype: "float64", values: Float64Array.of(this.steps) },
      ...moments("m", this.first),
      ...moments("v", this.second),
    ];
  }

  restore(state: NamedArray[]): void {
    const byName = new Map(state.map((a) => [a.name, a.values]));
    this.steps = (byName.get("steps")?.[0] as number | undefined) ?? 0;
    const fill = (kind: string, list: Float64Array[]) =>
      list.forEach((target, i) => {
        const saved = byName.get(`${kind}/${i}`);
        if (!saved || saved.length !== target.length) throw new Error(`optimizer state ${kind}/${i} does not fit`);
        target.set(saved);
      });
    fill("m", this.first);
    fill("v", this.second);
  }
}
