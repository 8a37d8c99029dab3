/**
 * Gathers what the demo summary and report show from where the pipelines left it: the tracker (the
 * new model versions, their holdout evaluation, loss history and importances), the forecast database
 * (the inference run's rows) and the consolidated dataset (recent history of the top SKUs).
 */
import path from "node:path";
import type { Config } from "../core/config.js";
import type { EvaluationReport } from "../model/evaluate.js";
import type { EpochMetrics, TftInterpretation } from "../model/tft/index.js";
import { openLatestDataset, readSeriesTable } from "../pipelines/consolidated.js";
import { seriesRanges } from "../pipelines/holdout.js";
import { trainingTags } from "../pipelines/training-tasks.js";
import type { StoredForecast } from "../sink/index.js";
import type { MethodScores, ReportData, SegmentReport, SeriesChart } from "./html.js";

export interface CollectOptions {
  config: Config;
  client: string;
  codeSha: string;
  pipelines: ReportData["pipelines"];
  inferenceRunId: string;
  workDir: string;
  /** SKUs charted per segment (the largest by recent volume). */
  topSkus?: number;
  /** Periods of history shown before the forecast. */
  historyPeriods?: number;
}

export async function collectReport(options: CollectOptions): Promise<ReportData> {
  const { config, client, workDir } = options;
  const [tracking, { openStore }, { openSink }] = await Promise.all([
    import("../tracking/index.js"),
    import("../storage/index.js"),
    import("../sink/index.js"),
  ]);
  const tracker = await tracking.openTracker(config);
  const store = await openStore(config);
  const dataset = await openLatestDataset(store, config, client, workDir);
  const sink = await openSink(config);
  let forecasts: StoredForecast[];
  try {
    forecasts = await sink.read({ client, pipelineRunId: options.inferenceRunId });
  } finally {
    await sink.close();
  }

  const segments: SegmentReport[] = [];
  for (const modelType of tracking.modelTypes) {
    const name = tracking.registeredModelName(client, modelType);
    const version = await tracker.latestModelVersion(name);
    const run = version?.runId ? await tracker.getRun(version.runId) : null;
    const artifact = async <T>(file: string): Promise<T | undefined> => {
      if (!version?.runId) return undefined;
      try {
        const local = await tracker.downloadArtifacts(version.runId, file, path.join(workDir, modelType));
        const { readFile } = await import("node:fs/promises");
        return JSON.parse(await readFile(local, "utf8")) as T;
      } catch {
        return undefined;
      }
    };
    const evaluation = await artifact<{ report: EvaluationReport }>("evaluation.json");
    const history = (await artifact<EpochMetrics[]>("history.json")) ?? [];
    const interpretation = await artifact<TftInterpretation>("interpretation.json");

    const rows = forecasts.filter((f) => f.modelType === modelType);
    const loaded = await readSeriesTable(await dataset.fetch(modelType), dataset.summary.columns);
    segments.push({
      modelType,
      modelVersion: version?.version,
      verdict: run?.tags[trainingTags.reason],
      skus: new Set(rows.map((r) => r.sku)).size,
      scores: evaluation ? scoresOf(evaluation.report) : [],
      epochs: history.map(({ epoch, trainLoss, validationLoss }) => ({ epoch, trainLoss, validationLoss })),
      importances: interpretation
        ? [
            { title: "Static variables", weights: interpretation.staticImportance },
            { title: "Encoder variables (the past)", weights: interpretation.encoderImportance },
            { title: "Decoder variables (known future)", weights: interpretation.decoderImportance },
          ]
        : [],
      series: charts(loaded, dataset.summary.columns, rows, options.topSkus ?? 4, options.historyPeriods ?? 56),
    });
  }
  return {
    client,
    generatedAt: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    codeSha: options.codeSha,
    pipelines: options.pipelines,
    forecastRows: forecasts.length,
    segments,
  };
}

/** Overall holdout scores per method, the TFT first. */
export function scoresOf(report: EvaluationReport): MethodScores[] {
  const methods = [...report.methods].sort((a, b) => (a === "tft" ? -1 : b === "tft" ? 1 : 0));
  return methods.map((method) => {
    const m = report.metrics[method]?.overall ?? {};
    const n = (key: string) => (typeof m[key] === "number" ? (m[key] as number) : Number.NaN);
    return { method, wape: n("wape"), ql50: n("ql50"), ql90: n("ql90"), coverage80: n("coverage80") };
  });
}

function charts(
  loaded: Awaited<ReturnType<typeof readSeriesTable>>,
  columns: { group: string; target: string },
  rows: StoredForecast[],
  top: number,
  historyPeriods: number,
): SeriesChart[] {
  const ranges = seriesRanges(loaded.table, columns.group);
  const target = loaded.table.columns[columns.target] as Float32Array;
  const recent = (r: { start: number; end: number }) => ({
    start: Math.max(r.start, r.end - historyPeriods),
    end: r.end,
  });
  const volume = (r: { start: number; end: number }) => {
    let sum = 0;
    const { start, end } = recent(r);
    for (let i = start; i < end; i++) sum += target[i] as number;
    return sum;
  };
  const bySku = new Map<string, StoredForecast[]>();
  for (const row of rows) bySku.set(row.sku, [...(bySku.get(row.sku) ?? []), row]);
  return [...ranges]
    .filter(([sku]) => bySku.has(sku))
    .sort((a, b) => volume(b[1]) - volume(a[1]))
    .slice(0, top)
    .map(([sku, range]) => {
      const { start, end } = recent(range);
      const forecast = (bySku.get(sku) ?? []).sort((a, b) => a.step - b.step);
      return {
        sku,
        coldStart: forecast.some((f) => f.coldStart),
        history: Array.from({ length: end - start }, (_, k) => ({
          date: loaded.dates[start + k] as string,
          value: target[start + k] as number,
        })),
        forecast: forecast.map((f) => ({ date: f.forecastDate, p10: f.p10, p50: f.p50, p90: f.p90 })),
      };
    });
}
