/**
 * The holdout evaluation of a trained model: the TFT, the current champion (when there is one) and
 * the six baselines forecast the last horizon of every series from the same history, and every
 * metric is computed per demand class and overall.
 */
import { TdfError } from "../core/errors.js";
import { type BaselineForecast, createBaselines, defaultSeasonLength } from "../model/baselines/index.js";
import { type EvaluationReport, evaluate, formatEvaluationTable, metricEntries } from "../model/evaluate.js";
import type { SeriesTable, TftDatasetSpec, TftModel } from "../model/tft/index.js";
import { type Frequency, filterByTime, type LoadedTable, takeRows } from "./consolidated.js";

export interface HoldoutEvaluation {
  /** Series with a complete holdout, the ones evaluated. */
  series: number;
  report: EvaluationReport;
  /** Every metric as `<method>/<segment>/<metric>`, for the tracker. */
  flat: Record<string, number>;
  /** A text table of the overall figures, for logs and the demo. */
  table: string;
  /** What promotion decides on: the overall P50 quantile loss of each contender (lower is better). */
  decision: { tft: number; bestBaseline: { name: string; ql50: number }; champion: number | undefined };
}

export interface HoldoutOptions {
  model: TftModel;
  champion: TftModel | undefined;
  loaded: LoadedTable;
  spec: TftDatasetSpec;
  holdoutStart: number;
  frequency: Frequency;
  /** A static column to report by (the demand class); everything is one segment without it. */
  segmentColumn: string | undefined;
}

/** Row ranges of each series in a table sorted by series then time. */
export function seriesRanges(table: SeriesTable, group: string): Map<string, { start: number; end: number }> {
  const keys = table.columns[group] as string[];
  const ranges = new Map<string, { start: number; end: number }>();
  for (let i = 0; i < table.length; i++) {
    const key = keys[i] as string;
    const range = ranges.get(key);
    if (range) range.end = i + 1;
    else ranges.set(key, { start: i, end: i + 1 });
  }
  return ranges;
}

export async function evaluateHoldout(options: HoldoutOptions): Promise<HoldoutEvaluation> {
  const { model, champion, spec, holdoutStart, frequency, segmentColumn } = options;
  const horizon = spec.predictionLength;
  const history = filterByTime(options.loaded, spec.timeIdx, (t) => t < holdoutStart).table;
  const holdout = filterByTime(options.loaded, spec.timeIdx, (t) => t >= holdoutStart).table;
  // Only series present over the whole holdout are judged: a discontinued SKU has nothing to compare.
  const holdoutRanges = seriesRanges(holdout, spec.group);
  const complete = [...holdoutRanges].filter(([, r]) => r.end - r.start === horizon).map(([key]) => key);
  if (complete.length === 0) {
    throw new TdfError(
      "holdout_empty",
      `No series covers the whole holdout (the last ${horizon} periods), so the model cannot be evaluated: provide sales up to the end of the history.`,
    );
  }
  const holdoutRows: number[] = [];
  for (const key of complete) {
    const range = holdoutRanges.get(key) as { start: number; end: number };
    for (let i = range.start; i < range.end; i++) holdoutRows.push(i);
  }
  const future = takeRows(holdout, holdoutRows);

  const contenders: [string, TftModel][] = [["tft", model]];
  if (champion) contenders.push(["champion", champion]);
  const forecasts = new Map<string, Map<string, BaselineForecast>>();
  for (const [name, m] of contenders) {
    const result = await m.predict(history, future);
    const q = result.quantiles.length;
    const median = result.quantiles.indexOf(0.5);
    const perSeries = new Map<string, BaselineForecast>();
    result.series.forEach((sku, s) => {
      const quantiles = Float64Array.from(result.values.subarray(s * horizon * q, (s + 1) * horizon * q));
      const point = new Float64Array(horizon);
      for (let step = 0; step < horizon; step++) {
        // Without a 0.5 level the middle one stands in for the median.
        point[step] = quantiles[step * q + (median >= 0 ? median : Math.floor(q / 2))] as number;
      }
      perSeries.set(sku, { point, quantiles });
    });
    forecasts.set(name, perSeries);
  }

  const levels = model.hyperparameters.quantiles;
  const baselines = createBaselines({ seasonLength: defaultSeasonLength(frequency) });
  const historyRanges = seriesRanges(history, spec.group);
  const target = (table: SeriesTable) => table.columns[spec.target] as Float32Array;
  const segmentOf = (key: string) => {
    const range = historyRanges.get(key) ?? holdoutRanges.get(key);
    const source = historyRanges.has(key) ? history : holdout;
    return segmentColumn ? String((source.columns[segmentColumn] as string[])[range?.start ?? 0]) : "all";
  };
  const inputs = complete.map((sku) => {
    const h = historyRanges.get(sku);
    const seriesHistory = h ? Float64Array.from(target(history).subarray(h.start, h.end)) : new Float64Array(0);
    const r = holdoutRanges.get(sku) as { start: number; end: number };
    const methods: Record<string, BaselineForecast> = {};
    for (const [name, perSeries] of forecasts) methods[name] = perSeries.get(sku) as BaselineForecast;
    for (const baseline of baselines) methods[baseline.name] = baseline.forecast(seriesHistory, horizon, levels);
    return {
      sku,
      segment: segmentOf(sku),
      history: seriesHistory,
      actual: Float64Array.from(target(holdout).subarray(r.start, r.end)),
      forecasts: methods,
    };
  });
  const report = evaluate(inputs, { levels, baselines: baselines.map((b) => b.name) });

  // P50 quantile loss decides; on an all-zero holdout it is undefined and the mean P50 pinball ranks the same.
  const score = (method: string) => {
    const m = report.metrics[method]?.overall;
    return (m?.ql50 ?? m?.pinball_p50 ?? Number.NaN) as number;
  };
  const best = report.bestBaseline?.method ?? "naive";
  return {
    series: inputs.length,
    report,
    flat: Object.fromEntries(metricEntries(report).map((e) => [e.key, e.value])),
    table: formatEvaluationTable(report),
    decision: {
      tft: score("tft"),
      bestBaseline: { name: best, ql50: score(best) },
      champion: champion ? score("champion") : undefined,
    },
  };
}
