/**
 * Forecast accuracy metrics, point and quantile, on Float64Array.
 *
 * Every ratio has one rule for a zero denominator: the metric is undefined and returned as `null`
 * (never NaN or Infinity, which a tracker cannot store): WAPE and the normalised quantile losses of
 * an all-zero actual, RMSSE of a history without variation, anything over zero observations. The
 * numerators and denominators are exported too, so aggregates sum them (evaluate.ts) instead of
 * averaging per-series ratios.
 */
import { TdfError } from "../core/errors.js";

/** Metrics were asked of arrays that do not fit together (a caller's bug or a corrupt forecast). */
export class MetricsInputError extends TdfError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super("METRICS_INPUT_INVALID", message, { context });
  }
}

/** numerator / denominator, or null when the denominator is 0 (the metric is undefined). */
export function ratio(numerator: number, denominator: number): number | null {
  return denominator === 0 ? null : numerator / denominator;
}

/** The pinball (quantile) loss of one prediction at `level`: q·(y − ŷ) above, (1 − q)·(ŷ − y) below. */
export function pinball(actual: number, predicted: number, level: number): number {
  const diff = actual - predicted;
  return diff >= 0 ? level * diff : (level - 1) * diff;
}

function sameLength(actual: Float64Array, other: Float64Array, what: string): void {
  if (actual.length !== other.length) {
    throw new MetricsInputError(
      `The ${what} has ${other.length} values for ${actual.length} actuals; give one per actual.`,
      { actual: actual.length, [what]: other.length },
    );
  }
}

export function absoluteErrorSum(actual: Float64Array, predicted: Float64Array): number {
  sameLength(actual, predicted, "forecast");
  let sum = 0;
  for (let i = 0; i < actual.length; i++) sum += Math.abs((actual[i] ?? 0) - (predicted[i] ?? 0));
  return sum;
}

export function squaredErrorSum(actual: Float64Array, predicted: Float64Array): number {
  sameLength(actual, predicted, "forecast");
  let sum = 0;
  for (let i = 0; i < actual.length; i++) sum += ((actual[i] ?? 0) - (predicted[i] ?? 0)) ** 2;
  return sum;
}

export function absoluteSum(values: Float64Array): number {
  let sum = 0;
  for (const value of values) sum += Math.abs(value);
  return sum;
}

export function pinballSum(actual: Float64Array, predicted: Float64Array, level: number): number {
  sameLength(actual, predicted, "quantile forecast");
  let sum = 0;
  for (let i = 0; i < actual.length; i++) sum += pinball(actual[i] ?? 0, predicted[i] ?? 0, level);
  return sum;
}

/** How many actuals lie in their interval [lower, upper], bounds included (a P10 of 0 covers a 0). */
export function coveredCount(actual: Float64Array, lower: Float64Array, upper: Float64Array): number {
  sameLength(actual, lower, "lower bound");
  sameLength(actual, upper, "upper bound");
  let count = 0;
  for (let i = 0; i < actual.length; i++) {
    const y = actual[i] ?? 0;
    if (y >= (lower[i] ?? 0) && y <= (upper[i] ?? 0)) count += 1;
  }
  return count;
}

/** Mean absolute error. */
export function mae(actual: Float64Array, predicted: Float64Array): number | null {
  return ratio(absoluteErrorSum(actual, predicted), actual.length);
}

/** Weighted absolute percentage error, Σ|y − ŷ| / Σ|y|. */
export function wape(actual: Float64Array, predicted: Float64Array): number | null {
  return ratio(absoluteErrorSum(actual, predicted), absoluteSum(actual));
}

/**
 * RMSSE's scale, as in the M5 competition: the mean squared error of the in-sample naive forecast
 * (seasonal when `seasonLength` > 1) over the history from its first non-zero value (leading zeros
 * are periods before the item was sold). Null when fewer than `seasonLength` + 1 values remain.
 */
export function rmsseScale(history: Float64Array, seasonLength = 1): number | null {
  if (!Number.isInteger(seasonLength) || seasonLength < 1) {
    throw new MetricsInputError(`RMSSE's season length is ${seasonLength}; give a whole number ≥ 1.`, { seasonLength });
  }
  let first = 0;
  while (first < history.length && history[first] === 0) first += 1;
  let sum = 0;
  for (let t = first + seasonLength; t < history.length; t++) {
    sum += ((history[t] ?? 0) - (history[t - seasonLength] ?? 0)) ** 2;
  }
  return ratio(sum, Math.max(0, history.length - first - seasonLength));
}

/**
 * Root mean squared scaled error (M5): √(MSE of the forecast / `rmsseScale`). Null when the scale
 * is undefined or 0 (a constant history), or there are no actuals.
 */
export function rmsse(
  actual: Float64Array,
  predicted: Float64Array,
  history: Float64Array,
  seasonLength = 1,
): number | null {
  const scale = rmsseScale(history, seasonLength);
  const mse = ratio(squaredErrorSum(actual, predicted), actual.length);
  if (scale === null || mse === null) return null;
  const scaled = ratio(mse, scale);
  return scaled === null ? null : Math.sqrt(scaled);
}

/** Mean pinball loss at `level`. */
export function pinballLoss(actual: Float64Array, predicted: Float64Array, level: number): number | null {
  return ratio(pinballSum(actual, predicted, level), actual.length);
}

/** The TFT paper's normalised quantile loss (q-risk): 2 · Σ pinball / Σ|y|. */
export function normalisedQuantileLoss(actual: Float64Array, predicted: Float64Array, level: number): number | null {
  return ratio(2 * pinballSum(actual, predicted, level), absoluteSum(actual));
}

/** The share of actuals inside [lower, upper]. */
export function coverage(actual: Float64Array, lower: Float64Array, upper: Float64Array): number | null {
  return ratio(coveredCount(actual, lower, upper), actual.length);
}

/**
 * One quantile's forecast over the horizon from a `[step][level]` row-major matrix (`levels`
 * ascending). A level between
 * two forecast levels is interpolated linearly in the level (P10 from P2 and P25, say); a level
 * outside them cannot be and is refused, since extrapolating a tail would invent it.
 */
export function quantileColumn(quantiles: Float64Array, levels: readonly number[], level: number): Float64Array {
  const width = levels.length;
  const steps = width === 0 ? 0 : quantiles.length / width;
  if (width === 0 || !Number.isInteger(steps)) {
    throw new MetricsInputError(
      `A quantile forecast has ${quantiles.length} values for ${width} levels; give levels × horizon values, row-major by step.`,
      { values: quantiles.length, levels: width },
    );
  }
  const exact = levels.findIndex((l) => Math.abs(l - level) <= 1e-12);
  const upper = exact === -1 ? levels.findIndex((l) => l > level) : exact;
  const lower = exact === -1 ? upper - 1 : exact;
  if (lower < 0) {
    throw new MetricsInputError(
      `The forecasts' quantile levels [${levels.join(", ")}] do not reach level ${level}; forecast levels at or on both sides of it.`,
      { levels: [...levels], level },
    );
  }
  const lo = levels[lower] ?? level;
  const hi = levels[upper] ?? level;
  const weight = upper === lower ? 0 : (level - lo) / (hi - lo);
  const column = new Float64Array(steps);
  for (let step = 0; step < steps; step++) {
    const a = quantiles[step * width + lower] ?? 0;
    const b = quantiles[step * width + upper] ?? 0;
    column[step] = a + weight * (b - a);
  }
  return column;
}
