/**
 * Seeded randomness for reproducible training: one generator per purpose, each derived from the run's
 * seed and a label (a weight's path, an epoch, a batch), so the same seed gives the same weights,
 * the same window order and the same dropout masks — also after a resume from a checkpoint, which
 * needs no generator state because every stream is derived, never carried.
 */

/** A 32-bit seed derived from a parent seed and a label (FNV-1a, then murmur3's finaliser). */
export function deriveSeed(seed: number, ...labels: Array<string | number>): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (const label of labels) {
    const text = `${String(label)}\u0000`;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32: small, fast and good enough for initialisation, shuffling and dropout masks. */
export class Random {
  private state: number;
  private spare: number | undefined;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== undefined) {
      const value = this.spare;
      this.spare = undefined;
      return value;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fisher–Yates, in place. */
  shuffle<T extends { length: number; [i: number]: number }>(values: T): T {
    for (let i = values.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = values[i] as number;
      values[i] = values[j] as number;
      values[j] = tmp;
    }
    return values;
  }
}

/** How a weight starts; the helpers below give PyTorch's choices. */
export type InitSpec =
  | { kind: "zeros" }
  | { kind: "ones" }
  | { kind: "uniform"; bound: number }
  /** The sum of two uniform draws: PyTorch's LSTM has two biases that always add up. */
  | { kind: "uniformPair"; bound: number }
  | { kind: "normal"; std: number };

export const zeros: InitSpec = { kind: "zeros" };
export const ones: InitSpec = { kind: "ones" };

/** `torch.nn.init.xavier_uniform_`. */
export function xavierUniform(fanIn: number, fanOut: number): InitSpec {
  return { kind: "uniform", bound: Math.sqrt(6 / (fanIn + fanOut)) };
}

/** `torch.nn.init.kaiming_normal_(a=0, mode="fan_in")`. */
export function kaimingNormal(fanIn: number): InitSpec {
  return { kind: "normal", std: Math.sqrt(2 / fanIn) };
}

/** `torch.nn.Linear`'s default (weights and bias alike): U(±1/√fan_in). */
export function linearDefault(fanIn: number): InitSpec {
  return { kind: "uniform", bound: 1 / Math.sqrt(fanIn) };
}

export function initialValues(spec: InitSpec, size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  if (spec.kind === "zeros") return out;
  if (spec.kind === "ones") return out.fill(1);
  const random = new Random(seed);
  for (let i = 0; i < size; i++) {
    switch (spec.kind) {
      case "uniform":
        out[i] = (2 * random.next() - 1) * spec.bound;
        break;
      case "uniformPair":
        out[i] = (2 * random.next() - 1) * spec.bound + (2 * random.next() - 1) * spec.bound;
        break;
      case "normal":
        out[i] = random.normal() * spec.std;
        break;
    }
  }
  return out;
}
