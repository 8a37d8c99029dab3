/**
 * A small seeded random generator (sfc32, seeded through splitmix32) and the distributions synthetic
 * demand needs. Its own, so a seed gives the same data on every machine and Node version; one stream
 * per (seed, stream id), so a SKU's series does not depend on how many SKUs are generated.
 */

export interface Random {
  /** Uniform on [0, 1). */
  next(): number;
  /** Uniform integer on [min, max]. */
  int(min: number, max: number): number;
  normal(): number;
  /** Gamma(shape, scale): mean shape × scale. */
  gamma(shape: number, scale: number): number;
  poisson(mean: number): number;
  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export function createRandom(seed: number, stream = 0): Random {
  const init = splitmix32((Math.imul(seed >>> 0, 0x2545f491) ^ Math.imul(stream >>> 0, 0x9e3779b1)) >>> 0);
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  const next = (): number => {
    // sfc32
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();

  let spare: number | undefined;
  const normal = (): number => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    let u: number;
    let v: number;
    let r: number;
    do {
      u = 2 * next() - 1;
      v = 2 * next() - 1;
      r = u * u + v * v;
    } while (r >= 1 || r === 0);
    const f = Math.sqrt((-2 * Math.log(r)) / r);
    spare = v * f;
    return u * f;
  };

  // Marsaglia–Tsang; shape < 1 by the boost Gamma(a) = Gamma(a + 1) · U^(1/a).
  const gamma = (shape: number, scale: number): number => {
    if (shape < 1) return gamma(shape + 1, scale) * next() ** (1 / shape);
    const d3 = shape - 1 / 3;
    const c3 = 1 / Math.sqrt(9 * d3);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = normal();
        v = 1 + c3 * x;
      } while (v <= 0);
      v = v * v * v;
      const u = next();
      if (u < 1 - 0.0331 * x * x * x * x || Math.log(u) < 0.5 * x * x + d3 * (1 - v + Math.log(v))) {
        return d3 * v * scale;
      }
    }
  };

  // Inversion for small means; Hörmann's PTRS (transformed rejection) above.
  const poisson = (mean: number): number => {
    if (mean <= 0) return 0;
    if (mean < 10) {
      const limit = Math.exp(-mean);
      let k = 0;
      let p = next();
      while (p > limit) {
        k++;
        p *= next();
      }
      return k;
    }
    const slam = Math.sqrt(mean);
    const loglam = Math.log(mean);
    const b = 0.931 + 2.53 * slam;
    const a = -0.059 + 0.02483 * b;
    const invalpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = next() - 0.5;
      const v = next();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + mean + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -mean + k * loglam - logFactorial(k)) {
        return k;
      }
    }
  };

  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    normal,
    gamma,
    poisson,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
  };
}

const smallLogFactorials = [0];
for (let i = 1; i < 64; i++) smallLogFactorials.push((smallLogFactorials[i - 1] as number) + Math.log(i));

function logFactorial(k: number): number {
  if (k < smallLogFactorials.length) return smallLogFactorials[k] as number;
  // Stirling's series: accurate to ~1e-10 beyond 64.
  return (k + 0.5) * Math.log(k) - k + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * k) - 1 / (360 * k * k * k);
}
