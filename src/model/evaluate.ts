/**
 * The holdout evaluation: every method (the TFT, the baselines, a champion) on every metric, per
 * segment and overall, and the best baseline by P50 quantile loss — the bar a new model must clear.
 *
 * Aggregates are the metric of the pooled observations (sums of numerators over sums of
 * denominators), not means of per-series ratios, which would let a series selling 1 unit weigh as
 * much as one selling 1,000. RMSSE is the exception: it is scale-free by construction, and its
 * aggregate is the mean over the series whose scale is defined (M5 weights that mean by revenue;
 * there are no prices here, so the weights are equal).
 */
import { baselineNames } from "./baselines/index.js";
import type { BaselineForecast } from "./baselines/types.js";
import {
  absoluteErrorSum,
  absoluteSum,
  coveredCount,
  MetricsInputError,
  pinballSum,
  quantileColumn,
  ratio,
  rmsse,
} from "./metrics.js";

export interface SeriesEvaluationInput {
  sku: string;
  /** The group the series is reported in (a demand class, say); "overall" is reserved. */
  segment: string;
  /** What the forecasts were made from (RMSSE's scale). */
  history: Float64Array;
  /** The holdout. */
  actual: Float64Array;
  /** Method name → its forecast of `actual`, quantiles at `EvaluateOptions.levels`. */
  forecasts: Readonly<Record<string, BaselineForecast>>;
}

export interface EvaluateOptions {
  /** The quantile levels of every forecast's rows, strictly increasing in (0, 1); they must span 0.1–0.9. */
  levels: readonly number[];
  /** The methods that may be the best baseline; default the six baselines' names. */
  baselines?: readonly string[];
  /** The season of RMSSE's scale; default 1, the one-step naive forecast, as M5. */
  rmsseSeasonLength?: number;
}

/**
 * `series`, `observations`, `mae`, `wape`, `rmsse`, `ql50`, `ql90` (2·Σ pinball / Σ|y| at P50 and
 * P90), `coverage80` (share of actuals in [P10, P90]) and `pinball_p<level·100>` (mean pinball loss
 * at each forecast level). Null: undefined here (a zero denominator, see metrics.ts).
 */
export type MethodMetrics = Record<string, number | null>;

export const overall = "overall";

export interface EvaluationReport {
  levels: number[];
  /** In the order of the first series' forecasts. */
  methods: string[];
  /** Sorted, without "overall". */
  segments: string[];
  /** `metrics[method][segment | "overall"][metric]`. */
  metrics: Record<string, Record<string, MethodMetrics>>;
  /** The baseline with the lowest overall P50 loss (ties: the earlier method); null when none was evaluated. */
  bestBaseline: { method: string; ql50: number | null } | null;
}

interface Sums {
  series: number;
  observations: number;
  absError: number;
  absActual: number;
  pinball: Float64Array;
  pinball50: number;
  pinball90: number;
  covered: number;
  rmsseSum: number;
  rmsseSeries: number;
}

function emptySums(width: number): Sums {
  return {
    series: 0,
    observations: 0,
    absError: 0,
    absActual: 0,
    pinball: new Float64Array(width),
    pinball50: 0,
    pinball90: 0,
    covered: 0,
    rmsseSum: 0,
    rmsseSeries: 0,
  };
}

/** The metric key of the mean pinball loss at `level`: 0.1 → `pinball_p10`, 0.025 → `pinball_p2.5`. */
export function pinballKey(level: number): string {
  return `pinball_p${Number((level * 100).toPrecision(12))}`;
}

export function evaluate(series: Iterable<SeriesEvaluationInput>, options: EvaluateOptions): EvaluationReport {
  const levels = checkLevels(options.levels);
  const seasonLength = options.rmsseSeasonLength ?? 1;
  const width = levels.length;
  let methods: string[] | undefined;
  const sums = new Map<string, Map<string, Sums>>();
  const sumsOf = (method: string, segment: string): Sums => {
    let bySegment = sums.get(method);
    if (!bySegment) {
      bySegment = new Map();
      sums.set(method, bySegment);
    }
    let found = bySegment.get(segment);
    if (!found) {
      found = emptySums(width);
      bySegment.set(segment, found);
    }
    return found;
  };
  const segments = new Set<string>();

  for (const s of series) {
    if (s.segment === overall) {
      throw new MetricsInputError(`Series ${s.sku} is in a segment named "${overall}", which is reserved; rename it.`, {
        sku: s.sku,
      });
    }
    checkFinite(s.sku, "history", s.history);
    checkFinite(s.sku, "actual", s.actual);
    const names = Object.keys(s.forecasts);
    methods ??= names;
    if (names.length !== methods.length || methods.some((m) => !(m in s.forecasts))) {
      throw new MetricsInputError(
        `Series ${s.sku} has forecasts from [${names.join(", ")}] but the first series from [${methods.join(", ")}]; every series needs the same methods.`,
        { sku: s.sku },
      );
    }
    segments.add(s.segment);
    const absActual = absoluteSum(s.actual);
    for (const method of methods) {
      const forecast = s.forecasts[method] as BaselineForecast;
      checkForecast(s.sku, method, forecast, s.actual.length, width);
      const absError = absoluteErrorSum(s.actual, forecast.point);
      const pinballs = levels.map((level) =>
        pinballSum(s.actual, quantileColumn(forecast.quantiles, levels, level), level),
      );
      const pinball50 = pinballSum(s.actual, quantileColumn(forecast.quantiles, levels, 0.5), 0.5);
      const pinball90 = pinballSum(s.actual, quantileColumn(forecast.quantiles, levels, 0.9), 0.9);
      const covered = coveredCount(
        s.actual,
        quantileColumn(forecast.quantiles, levels, 0.1),
        quantileColumn(forecast.quantiles, levels, 0.9),
      );
      const scaled = rmsse(s.actual, forecast.point, s.history, seasonLength);
      for (const target of [sumsOf(method, s.segment), sumsOf(method, overall)]) {
        target.series += 1;
        target.observations += s.actual.length;
        target.absError += absError;
        target.absActual += absActual;
        for (let j = 0; j < width; j++) target.pinball[j] = (target.pinball[j] ?? 0) + (pinballs[j] ?? 0);
        target.pinball50 += pinball50;
        target.pinball90 += pinball90;
        target.covered += covered;
        if (scaled !== null) {
          target.rmsseSum += scaled;
          target.rmsseSeries += 1;
        }
      }
    }
  }
  if (!methods) throw new MetricsInputError("There are no series to evaluate; give at least one.");

  const segmentList = [...segments].sort();
  const metrics: EvaluationReport["metrics"] = {};
  for (const method of methods) {
    metrics[method] = {};
    for (const segment of [overall, ...segmentList]) {
      metrics[method][segment] = finish(sumsOf(method, segment), levels);
    }
  }
  return { levels, methods, segments: segmentList, metrics, bestBaseline: best(methods, sums, options.baselines) };
}

function finish(s: Sums, levels: number[]): MethodMetrics {
  const result: MethodMetrics = {
    series: s.series,
    observations: s.observations,
    mae: ratio(s.absError, s.observations),
    wape: ratio(s.absError, s.absActual),
    rmsse: ratio(s.rmsseSum, s.rmsseSeries),
    ql50: ratio(2 * s.pinball50, s.absActual),
    ql90: ratio(2 * s.pinball90, s.absActual),
    coverage80: ratio(s.covered, s.observations),
  };
  levels.forEach((level, j) => {
    result[pinballKey(level)] = ratio(s.pinball[j] ?? 0, s.observations);
  });
  return result;
}

// Ranked on the summed P50 pinball loss: every method shares the denominator Σ|y|, so this is the
// ranking by P50 quantile loss, and it stays defined when the holdout is all zeros.
function best(
  methods: string[],
  sums: Map<string, Map<string, Sums>>,
  eligible: readonly string[] = baselineNames,
): EvaluationReport["bestBaseline"] {
  let winner: { method: string; loss: number; ql50: number | null } | undefined;
  for (const method of methods) {
    if (!eligible.includes(method)) continue;
    const s = sums.get(method)?.get(overall);
    if (!s) continue;
    if (!winner || s.pinball50 < winner.loss) {
      winner = { method, loss: s.pinball50, ql50: ratio(2 * s.pinball50, s.absActual) };
    }
  }
  return winner ? { method: winner.method, ql50: winner.ql50 } : null;
}

function checkLevels(levels: readonly number[]): number[] {
  let previous = 0;
  for (const level of levels) {
    if (!(Number.isFinite(level) && level > previous && level < 1)) {
      throw new MetricsInputError(
        `The evaluation's quantile levels [${levels.join(", ")}] must be strictly increasing between 0 and 1 (exclusive).`,
        { levels: [...levels] },
      );
    }
    previous = level;
  }
  // Refused here, once, rather than per series: ql50, ql90 and coverage80 need these levels.
  for (const needed of [0.1, 0.5, 0.9]) quantileColumn(new Float64Array(levels.length), levels, needed);
  return [...levels];
}

function checkFinite(sku: string, what: string, values: Float64Array): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new MetricsInputError(
        `Series ${sku} has ${values[i]} in its ${what} at position ${i}; give finite values.`,
        {
          sku,
          what,
          position: i,
        },
      );
    }
  }
}

function checkForecast(sku: string, method: string, forecast: BaselineForecast, steps: number, width: number): void {
  if (forecast.point.length !== steps || forecast.quantiles.length !== steps * width) {
    throw new MetricsInputError(
      `The ${method} forecast of series ${sku} has ${forecast.point.length} points and ${forecast.quantiles.length} quantile values for a holdout of ${steps} and ${width} levels; give ${steps} and ${steps * width}.`,
      { sku, method },
    );
  }
  checkFinite(sku, `${method} point forecast`, forecast.point);
  checkFinite(sku, `${method} quantile forecast`, forecast.quantiles);
}

/** The report's metrics as tracker entries, `<method>/<segment>/<metric>`; undefined (null) ones left out. */
export function metricEntries(report: EvaluationReport): { key: string; value: number }[] {
  const entries: { key: string; value: number }[] = [];
  for (const [method, bySegment] of Object.entries(report.metrics)) {
    for (const [segment, values] of Object.entries(bySegment)) {
      for (const [metric, value] of Object.entries(values)) {
        if (value !== null) entries.push({ key: `${method}/${segment}/${metric}`, value });
      }
    }
  }
  return entries;
}

const tableColumns = [
  ["mae", "MAE"],
  ["wape", "WAPE"],
  ["rmsse", "RMSSE"],
  ["ql50", "QL50"],
  ["ql90", "QL90"],
  ["coverage80", "cov80"],
] as const;

/**
 * A plain-text table per segment (overall first): one row per method, the best baseline starred in
 * the overall block. Undefined metrics print as "-".
 */
export function formatEvaluationTable(report: EvaluationReport): string {
  const blocks: string[] = [];
  const nameWidth = Math.max(6, ...report.methods.map((m) => m.length + 1));
  for (const segment of [overall, ...report.segments]) {
    const first = report.metrics[report.methods[0] ?? ""]?.[segment];
    const lines = [`${segment}: ${first?.series ?? 0} series, ${first?.observations ?? 0} observations`];
    lines.push(["method".padEnd(nameWidth), ...tableColumns.map(([, title]) => title.padStart(9))].join(" "));
    for (const method of report.methods) {
      const values = report.metrics[method]?.[segment] ?? {};
      const label = segment === overall && method === report.bestBaseline?.method ? `${method}*` : method;
      const cells = tableColumns.map(([key]) => {
        const value = values[key];
        return (value === null || value === undefined ? "-" : value.toFixed(3)).padStart(9);
      });
      lines.push([label.padEnd(nameWidth), ...cells].join(" "));
    }
    blocks.push(lines.join("\n"));
  }
  const note = report.bestBaseline
    ? "\n\n* the best baseline overall by P50 quantile loss: the bar a model must clear"
    : "";
  return `${blocks.join("\n\n")}${note}\n`;
}
