/**
 * `forecast_top_seller`, `forecast_long_tail` and `export`: forecast every SKU of a segment with the
 * champion model over the horizon, keep the forecasts in the object store under the pipeline run,
 * then load both segments into the forecast database in one idempotent transaction.
 */
import path from "node:path";
import { TdfError } from "../core/errors.js";
import type { ForecastBatch, ForecastRow } from "../sink/index.js";
import type { ModelType } from "../tracking/index.js";
import { openLatestDataset, readSeriesTable } from "./consolidated.js";
import type { TaskContext, TaskDefinition } from "./task.js";

export class InferenceError extends TdfError {
  constructor(code: string, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = "InferenceError";
  }
}

/** What a forecast task leaves for `export`: one segment's forecasts and the model that made them. */
export interface SegmentForecasts {
  modelType: ModelType;
  modelName: string;
  modelVersion: string;
  codeSha: string | undefined;
  dataRunId: string;
  quantiles: number[];
  rows: ForecastRow[];
}

export const forecastsKey = (client: string, runId: string, modelType: ModelType) =>
  `${client}/${runId}/forecasts/${modelType}.json`;

function forecastTask(modelType: ModelType): TaskDefinition {
  return {
    name: `forecast_${modelType}`,
    description: `forecast every ${modelType} SKU over the horizon with the champion model`,
    run: (context) => forecast(context, modelType),
  };
}

async function forecast(context: TaskContext, modelType: ModelType): Promise<void> {
  const { config, logger, client, runId, workDir } = context;
  const [{ openStore }, tracking, { loadTft }] = await Promise.all([
    import("../storage/index.js"),
    import("../tracking/index.js"),
    import("../model/tft/index.js"),
  ]);
  const store = await openStore(config);
  const dataset = await openLatestDataset(store, config, client, workDir);
  const { summary } = dataset;
  const history = await readSeriesTable(await dataset.fetch(modelType), summary.columns);
  if (history.table.length === 0) {
    logger.warn(
      { dataRun: dataset.runId },
      `the ${modelType} segment has no SKUs in this dataset; nothing to forecast`,
    );
    return;
  }

  const tracker = await tracking.openTracker(config);
  const name = tracking.registeredModelName(client, modelType);
  let version = await tracker.getVersionByAlias(name, "champion");
  if (!version) {
    version = await tracker.latestModelVersion(name);
    if (!version) {
      throw new InferenceError(
        "no_model",
        `There is no ${name} model to forecast with: run the training pipeline first (tdf run training --client ${client}).`,
      );
    }
    logger.warn({ model: name, version: version.version }, `${name} has no champion alias; using its newest version`);
  }
  if (!version.runId) {
    throw new InferenceError("no_model", `${name} version ${version.version} has no training run to load it from.`);
  }
  const model = await loadTft(await tracker.downloadArtifacts(version.runId, "model", path.join(workDir, "model")));
  try {
    const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;
    const future = await readSeriesTable(await dataset.fetch("future"), summary.columns, {
      future: true,
      where: `model_type = ${quote(modelType)}`,
    });
    const result = await model.predict(history.table, future.table, { batchSize: 256 });

    // The period of each (sku, time index) the forecast covers, from the future table's dates.
    const dateOf = new Map<string, string>();
    const groups = future.table.columns[summary.columns.group] as string[];
    const futureTimes = future.table.columns[summary.columns.timeIdx] as Int32Array;
    for (let i = 0; i < future.table.length; i++)
      dateOf.set(`${groups[i]}\u0000${futureTimes[i]}`, future.dates[i] as string);

    const rows: ForecastRow[] = [];
    const q = result.quantiles.length;
    for (let s = 0; s < result.series.length; s++) {
      const sku = result.series[s] as string;
      for (let step = 0; step < result.predictionLength; step++) {
        const t = result.timeIdx[s * result.predictionLength + step] as number;
        const forecastDate = dateOf.get(`${sku}\u0000${t}`);
        if (forecastDate === undefined) continue;
        const offset = (s * result.predictionLength + step) * q;
        const quantiles: Record<string, number> = {};
        result.quantiles.forEach((level, k) => {
          quantiles[String(level)] = result.values[offset + k] as number;
        });
        rows.push({ sku, modelType, forecastDate, step: step + 1, quantiles, coldStart: result.coldStart[s] === true });
      }
    }
    const coldStarts = result.coldStart.filter(Boolean).length;
    const output: SegmentForecasts = {
      modelType,
      modelName: name,
      modelVersion: version.version,
      codeSha: context.codeSha,
      dataRunId: dataset.runId,
      quantiles: result.quantiles,
      rows,
    };
    await store.put(
      config.storage.buckets.dataPipeline,
      forecastsKey(client, runId, modelType),
      JSON.stringify(output),
      {
        contentType: "application/json",
      },
    );
    logger.info(
      { model: name, version: version.version, skus: result.series.length, coldStarts, rows: rows.length },
      `forecast ${result.series.length} ${modelType} SKUs (${coldStarts} cold-start) over ${result.predictionLength} periods`,
    );
  } finally {
    model.dispose();
  }
}

async function exportForecasts(context: TaskContext): Promise<void> {
  const { config, logger, client, runId } = context;
  const [{ openStore }, tracking, { openSink }] = await Promise.all([
    import("../storage/index.js"),
    import("../tracking/index.js"),
    import("../sink/index.js"),
  ]);
  const store = await openStore(config);
  const batches: ForecastBatch[] = [];
  for (const modelType of tracking.modelTypes) {
    const key = forecastsKey(client, runId, modelType);
    const bytes = await store.getBytes(config.storage.buckets.dataPipeline, key);
    if (!bytes) {
      logger.warn({ key }, `no ${modelType} forecasts in this run`);
      continue;
    }
    const segment = JSON.parse(Buffer.from(bytes).toString("utf8")) as SegmentForecasts;
    batches.push({
      client,
      pipelineRunId: runId,
      modelName: segment.modelName,
      modelVersion: segment.modelVersion,
      codeSha: segment.codeSha,
      rows: segment.rows,
    });
  }
  if (batches.length === 0) {
    throw new InferenceError(
      "no_forecasts",
      `Inference run ${runId} of ${client} produced no forecasts to export: check the forecast tasks' logs.`,
    );
  }
  const sink = await openSink(config);
  try {
    const { rows } = await sink.writeRun(client, runId, batches);
    logger.info({ rows, sink: sink.location }, `exported ${rows} forecast rows to ${sink.driver}`);
  } finally {
    await sink.close();
  }
}

export const inferenceTasks: readonly TaskDefinition[] = [
  forecastTask("top_seller"),
  forecastTask("long_tail"),
  {
    name: "export",
    description: "load the run's forecasts into the forecast database (idempotent)",
    run: exportForecasts,
  },
];
