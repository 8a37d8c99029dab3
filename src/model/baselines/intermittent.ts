/**
 * Forecasts for intermittent demand (most periods zero): Croston's method, its bias-corrected
 * variant SBA, and TSB. Each estimates a probability of demand per period and a demand size; the
 * point forecast is the flat demand rate, probability × size.
 *
 * Initialisation follows Nixtla's statsforecast (`croston_classic`, `croston_sba`, `tsb`): the size
 * starts at the first non-zero demand, Croston's interval at that demand's 1-based position, TSB's
 * probability at whether the first period had demand. With no demand yet every forecast is 0.
 *
 * Quantiles come from the model these methods assume, a compound Bernoulli: each period has demand
 * with the estimated probability p, and then a size drawn from the history's own non-zero demands,
 * rescaled so their mean is the estimated size. So the quantile at level τ is 0 while τ ≤ 1 − p
 * (an intermittent item's P50 is usually 0, as its demand is), and above it the sizes' type 7
 * quantile at (τ − (1 − p)) / p. Additive errors would not do here: a P10 a little above 0 excludes
 * the zeros that are most of the periods.
 */
import { empiricalQuantile } from "./residual-quantiles.js";
import type { BaselineForecast } from "./types.js";

interface DemandModel {
  /** The point forecast per period. */
  rate: number;
  /** The chance of a non-zero demand in a period. */
  probability: number;
  /** The mean size of a non-zero demand. */
  size: number;
}

const noDemand: DemandModel = { rate: 0, probability: 0, size: 0 };

/**
 * Croston (1972): the demand size z and the interval between demands p are smoothed with α, updated
 * only in periods with demand; the rate is z / p, the probability 1 / p.
 */
function crostonModel(history: Float64Array, alpha: number): DemandModel {
  let size = 0;
  let interval = 0;
  let sinceDemand = 0;
  let seen = false;
  for (const y of history) {
    sinceDemand += 1;
    if (y <= 0) continue;
    if (seen) {
      size += alpha * (y - size);
      interval += alpha * (sinceDemand - interval);
    } else {
      size = y;
      interval = sinceDemand;
      seen = true;
    }
    sinceDemand = 0;
  }
  return seen ? { rate: size / interval, probability: 1 / interval, size } : noDemand;
}

/**
 * Teunter, Syntetos & Babai (2011): the probability of demand is smoothed with β every period
 * (towards 1 with demand, towards 0 without), the size with α only when demand occurs. Unlike
 * Croston's, the forecast decays while no demand comes, so it suits items that die.
 */
function tsbModel(history: Float64Array, alpha: number, beta: number): DemandModel {
  let size = 0;
  let probability = 0;
  let seen = false;
  history.forEach((y, t) => {
    const occurred = y > 0 ? 1 : 0;
    probability = t === 0 ? occurred : probability + beta * (occurred - probability);
    if (y <= 0) return;
    size = seen ? size + alpha * (y - size) : y;
    seen = true;
  });
  return seen ? { rate: probability * size, probability, size } : noDemand;
}

function compoundForecast(
  model: DemandModel,
  history: Float64Array,
  horizon: number,
  levels: readonly number[],
): BaselineForecast {
  const sizes = history.filter((y) => y > 0).sort();
  let total = 0;
  for (const y of sizes) total += y;
  const scale = sizes.length === 0 ? 0 : model.size / (total / sizes.length);
  const zeroMass = 1 - model.probability;
  const row = new Float64Array(levels.length);
  let floor = 0;
  levels.forEach((level, j) => {
    const within = model.probability > 0 ? Math.min(1, (level - zeroMass) / model.probability) : 0;
    // The running maximum only absorbs rounding: the mixture's quantiles are non-decreasing.
    floor = Math.max(floor, level <= zeroMass ? 0 : empiricalQuantile(sizes, within) * scale);
    row[j] = floor;
  });
  const quantiles = new Float64Array(horizon * levels.length);
  for (let step = 0; step < horizon; step++) quantiles.set(row, step * levels.length);
  return { point: new Float64Array(horizon).fill(model.rate), quantiles };
}

export function croston(
  history: Float64Array,
  horizon: number,
  levels: readonly number[],
  alpha: number,
): BaselineForecast {
  return compoundForecast(crostonModel(history, alpha), history, horizon, levels);
}

/**
 * Syntetos & Boylan (2005): Croston's z / p is biased upwards (E[z/p] ≠ E[z]/E[p], through the
 * interval); multiplying by (1 − α/2) removes most of that bias. The correction goes to the
 * probability of demand, where the bias comes from; the sizes stay as observed.
 */
export function sba(
  history: Float64Array,
  horizon: number,
  levels: readonly number[],
  alpha: number,
): BaselineForecast {
  const model = crostonModel(history, alpha);
  const factor = 1 - alpha / 2;
  return compoundForecast(
    { rate: model.rate * factor, probability: model.probability * factor, size: model.size },
    history,
    horizon,
    levels,
  );
}

export function tsb(
  history: Float64Array,
  horizon: number,
  levels: readonly number[],
  alpha: number,
  beta: number,
): BaselineForecast {
  return compoundForecast(tsbModel(history, alpha, beta), history, horizon, levels);
}
