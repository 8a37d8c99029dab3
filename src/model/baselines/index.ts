/**
 * The forecasting baselines the TFT is judged against on the holdout: naive, seasonal naive, moving
 * average, and for intermittent demand Croston, SBA and TSB. Pure TypeScript on Float64Array; each
 * also gives quantiles, so it can be compared on pinball loss and interval coverage too: the first
 * three from their own rolling-origin errors (residual-quantiles.ts), the intermittent ones from the
 * compound Bernoulli model they assume (intermittent.ts).
 */
import { croston, sba, tsb } from "./intermittent.js";
import { type OriginForecasts, residualQuantileForecast } from "./residual-quantiles.js";
import { movingAverage, naive, seasonalNaive } from "./simple.js";
import { type Baseline, type BaselineForecast, BaselineInputError, type BaselineName } from "./types.js";

export { type Baseline, type BaselineForecast, BaselineInputError, type BaselineName } from "./types.js";

export const baselineNames: readonly BaselineName[] = [
  "naive",
  "seasonal_naive",
  "moving_average",
  "croston",
  "sba",
  "tsb",
];

export interface BaselineOptions {
  /** Periods per season: 7 for daily data (the week), 52 for weekly (the year). */
  seasonLength: number;
  /** Periods averaged by the moving average; default one season, so the seasonal pattern averages out. */
  movingAverageWindow?: number;
  /** Smoothing of the demand size (and of Croston's interval), in (0, 1]; default 0.1. */
  alpha?: number;
  /** TSB's smoothing of the probability of demand, in (0, 1]; default 0.1. */
  beta?: number;
}

/** The season of each data frequency: the week for daily data, the year for weekly data. */
export function defaultSeasonLength(frequency: "daily" | "weekly"): number {
  return frequency === "daily" ? 7 : 52;
}

const defaultSmoothing = 0.1;

/** The six baselines, in the order of `baselineNames`. */
export function createBaselines(options: BaselineOptions): Baseline[] {
  const seasonLength = positiveInteger("seasonLength", options.seasonLength);
  const window = positiveInteger("movingAverageWindow", options.movingAverageWindow ?? seasonLength);
  const alpha = smoothing("alpha", options.alpha ?? defaultSmoothing);
  const beta = smoothing("beta", options.beta ?? defaultSmoothing);
  return [
    baseline("naive", residual(naive)),
    baseline(
      "seasonal_naive",
      residual((history) => seasonalNaive(history, seasonLength)),
    ),
    baseline(
      "moving_average",
      residual((history) => movingAverage(history, window)),
    ),
    baseline("croston", (history, horizon, levels) => croston(history, horizon, levels, alpha)),
    baseline("sba", (history, horizon, levels) => sba(history, horizon, levels, alpha)),
    baseline("tsb", (history, horizon, levels) => tsb(history, horizon, levels, alpha, beta)),
  ];
}

type Forecaster = Baseline["forecast"];

function residual(fit: (history: Float64Array) => OriginForecasts): Forecaster {
  return (history, horizon, levels) => residualQuantileForecast(fit(history), history, horizon, levels);
}

function baseline(name: BaselineName, forecast: Forecaster): Baseline {
  return {
    name,
    forecast(history: Float64Array, horizon: number, levels: readonly number[]): BaselineForecast {
      checkForecastInput(name, history, horizon, levels);
      return forecast(history, horizon, levels);
    },
  };
}

function checkForecastInput(name: BaselineName, history: Float64Array, horizon: number, levels: readonly number[]) {
  if (!Number.isInteger(horizon) || horizon < 1) {
    throw new BaselineInputError(
      `The ${name} baseline was asked for a horizon of ${horizon}; give a whole number ≥ 1.`,
      {
        baseline: name,
        horizon,
      },
    );
  }
  for (let t = 0; t < history.length; t++) {
    const y = history[t] ?? Number.NaN;
    if (!(Number.isFinite(y) && y >= 0)) {
      throw new BaselineInputError(
        `The ${name} baseline got ${y} at position ${t} of the history; demand must be finite and ≥ 0, so fix the series' quantities upstream.`,
        { baseline: name, position: t },
      );
    }
  }
  let previous = 0;
  for (const level of levels) {
    if (!(Number.isFinite(level) && level > previous && level < 1)) {
      throw new BaselineInputError(
        `The ${name} baseline got quantile levels [${levels.join(", ")}]; give levels strictly increasing between 0 and 1 (exclusive).`,
        { baseline: name, levels: [...levels] },
      );
    }
    previous = level;
  }
}

function positiveInteger(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new BaselineInputError(`The baselines' ${option} is ${value}; give a whole number ≥ 1.`, { option, value });
  }
  return value;
}

function smoothing(option: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0 && value <= 1)) {
    throw new BaselineInputError(`The baselines' ${option} is ${value}; give a smoothing weight in (0, 1].`, {
      option,
      value,
    });
  }
  return value;
}
