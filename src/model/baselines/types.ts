/**
 * The contract every forecasting baseline meets, so the training task can put each of them next to
 * the TFT on the same holdout and the same metrics (point and quantile).
 */
import { TdfError } from "../../core/errors.js";

export type BaselineName = "naive" | "seasonal_naive" | "moving_average" | "croston" | "sba" | "tsb";

export interface BaselineForecast {
  /** One value per horizon step, ≥ 0. */
  point: Float64Array;
  /** `[step][quantile]` row-major (`horizon × levels`), each row non-decreasing, every value ≥ 0. */
  quantiles: Float64Array;
}

export interface Baseline {
  name: BaselineName;
  /**
   * Forecasts `horizon` steps after `history` (finite, ≥ 0, oldest first) at the quantile `levels`
   * (strictly increasing, in (0, 1)). Never returns NaN.
   */
  forecast(history: Float64Array, horizon: number, levels: readonly number[]): BaselineForecast;
}

/** A baseline was given arguments it cannot forecast from (a caller's bug or corrupt data). */
export class BaselineInputError extends TdfError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super("BASELINE_INPUT_INVALID", message, { context });
  }
}
