/**
 * Quantile forecasts for point-forecasting baselines, from each method's own errors: the method is
 * run from every origin of the history (a rolling origin: it forecasts from `history[0 .. o)` for
 * o = warm-up … n − h), its h-step-ahead errors are collected per step h, and the empirical quantiles
 * of those errors (Hyndman–Fan type 7, numpy's and R's default) are added to the point forecast and
 * clipped at zero. No distributional assumption, and the spread grows with the step as the method's
 * errors do. (The intermittent methods use their own model instead; see intermittent.ts.)
 */
import type { BaselineForecast } from "./types.js";

/** A method's point forecasts from every origin of one history. */
export interface OriginForecasts {
  /** The forecast of `history[origin + step − 1]` made from `history[0 .. origin)` (step ≥ 1), ≥ 0. */
  at(origin: number, step: number): number;
  /**
   * The first origin from which the method is fully itself (a whole season seen, a whole window, a
   * first demand). Errors are collected from there when the history leaves at least one one-step
   * error; otherwise from origin 1, where the method runs its own short-history fallback.
   */
  warmup: number;
}

/** Type 7 empirical quantile of ascending `sorted` (non-empty) at level `p`. */
export function empiricalQuantile(sorted: Float64Array, p: number): number {
  const position = (sorted.length - 1) * p;
  const below = Math.floor(position);
  const lower = sorted[below] ?? 0;
  const upper = sorted[below + 1];
  return upper === undefined ? lower : lower + (position - below) * (upper - lower);
}

/**
 * Point and quantile forecasts for `horizon` steps after `history`. A step too far ahead for the
 * history to hold even one error of its own takes the error quantiles of the furthest step that has
 * some; with no error at all (a history of one value or none) the quantiles equal the point forecast.
 */
export function residualQuantileForecast(
  fitted: OriginForecasts,
  history: Float64Array,
  horizon: number,
  levels: readonly number[],
): BaselineForecast {
  const n = history.length;
  const width = levels.length;
  const point = new Float64Array(horizon);
  for (let step = 1; step <= horizon; step++) point[step - 1] = Math.max(0, fitted.at(n, step));

  const start = n - 1 >= fitted.warmup ? fitted.warmup : 1;
  const errors = new Float64Array(Math.max(0, n - start));
  const spread = new Float64Array(width);
  let measured = false;
  const quantiles = new Float64Array(horizon * width);
  for (let step = 1; step <= horizon; step++) {
    const count = n - step - start + 1;
    if (count > 0) {
      for (let i = 0; i < count; i++) {
        const origin = start + i;
        errors[i] = (history[origin + step - 1] ?? 0) - fitted.at(origin, step);
      }
      const sorted = errors.subarray(0, count).sort();
      for (let j = 0; j < width; j++) spread[j] = empiricalQuantile(sorted, levels[j] ?? 0.5);
      measured = true;
    }
    const centre = point[step - 1] ?? 0;
    // The running maximum only absorbs rounding: the error quantiles are already non-decreasing.
    let floor = 0;
    for (let j = 0; j < width; j++) {
      const value = Math.max(floor, centre + (measured ? (spread[j] ?? 0) : 0));
      quantiles[(step - 1) * width + j] = value;
      floor = value;
    }
  }
  return { point, quantiles };
}
