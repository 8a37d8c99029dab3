/**
 * The benchmarks every forecast must beat to be worth its cost: the last value (naive), the value one
 * season back (seasonal naive) and the recent level (moving average). Each gives its forecast from
 * every origin of the history in O(1), so the rolling-origin errors behind its quantiles stay cheap.
 */
import type { OriginForecasts } from "./residual-quantiles.js";

/** ŷ(T+h) = y(T). No history: 0. */
export function naive(history: Float64Array): OriginForecasts {
  return { warmup: 1, at: (origin) => (origin > 0 ? (history[origin - 1] ?? 0) : 0) };
}

/**
 * ŷ(T+h) = y(T + h − m·⌈h/m⌉): the same position in the last observed season. A history shorter than
 * one season has no such position, so it falls back to the naive forecast.
 */
export function seasonalNaive(history: Float64Array, seasonLength: number): OriginForecasts {
  return {
    warmup: seasonLength,
    at(origin, step) {
      if (origin < seasonLength) return origin > 0 ? (history[origin - 1] ?? 0) : 0;
      return history[origin + step - 1 - seasonLength * Math.ceil(step / seasonLength)] ?? 0;
    },
  };
}

/** ŷ(T+h) = mean of the last `window` values (of all of them when the history is shorter). No history: 0. */
export function movingAverage(history: Float64Array, window: number): OriginForecasts {
  // Summed afresh per origin rather than as a running sum, so a long series accumulates no rounding
  // drift (a window of zeros after large values is exactly 0, not −1e-12).
  const levels = new Float64Array(history.length + 1);
  for (let origin = 1; origin <= history.length; origin++) {
    const from = Math.max(0, origin - window);
    let sum = 0;
    for (let t = from; t < origin; t++) sum += history[t] ?? 0;
    levels[origin] = sum / (origin - from);
  }
  return { warmup: window, at: (origin) => levels[origin] ?? 0 };
}
