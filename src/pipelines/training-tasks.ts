/**
 * `train_top_seller`, `train_long_tail` and `promote`: train a TFT on the segment's consolidated data,
 * evaluate it against the baselines (and the current champion) on the held-out last horizon, record
 * everything in the tracker, register a model version; then promote it only when it wins.
 */
import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { TdfError } from "../core/errors.js";
import type { TftModel } from "../model/tft/index.js";
import { downloadToFile, type ObjectStore, uploadFile } from "../storage/index.js";
import type { ModelType, Tracker } from "../tracking/index.js";
import { datasetSpec, filterByTime, openLatestDataset, readSeriesTable } from "./consolidated.js";
import { evaluateHoldout, type HoldoutEvaluation } from "./holdout.js";
import type { TaskContext, TaskDefinition } from "./task.js";

/**
 * Tags the training run carries for `promote` and for people reading the tracker; the registered
 * model version carries the run ids and `codeSha` too (`tdf code gc` keeps that code).
 */
export const trainingTags = {
  pipelineRun: "tdf.pipeline_run_id",
  dataRun: "tdf.data_run_id",
  codeSha: "tdf.code_sha",
  verdict: "tdf.promotion",
  reason: "tdf.promotion_reason",
} as const;

/** The holdout figures `promote` decides on (P50 quantile loss, lower is better). */
export const decisionMetrics = {
  tft: "holdout_ql50_tft",
  bestBaseline: "holdout_ql50_best_baseline",
  champion: "holdout_ql50_champion",
} as const;

export class TrainingError extends TdfError {
  constructor(code: string, message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.name = "TrainingError";
  }
}

function trainTask(modelType: ModelType): TaskDefinition {
  return {
    name: `train_${modelType}`,
    description: `train the ${modelType} TFT, evaluate it on the holdout and register a model version`,
    run: (context) => train(context, modelType),
  };
}

async function uploadFolder(store: ObjectStore, bucket: string, prefix: string, folder: string): Promise<void> {
  for (const entry of await readdir(folder, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const key = `${prefix}/${path.relative(folder, file).split(path.sep).join("/")}`;
    await uploadFile(store, bucket, key, file);
  }
}

async function downloadFolder(store: ObjectStore, bucket: string, prefix: string, folder: string): Promise<number> {
  let count = 0;
  for await (const entry of store.list(bucket, `${prefix}/`)) {
    await downloadToFile(store, bucket, entry.key, path.join(folder, entry.key.slice(prefix.length + 1)));
    count++;
  }
  return count;
}

async function train(context: TaskContext, modelType: ModelType): Promise<void> {
  const { config, logger, client, runId, workDir, signal } = context;
  const [{ openStore }, tracking, tft] = await Promise.all([
    import("../storage/index.js"),
    import("../tracking/index.js"),
    import("../model/tft/index.js"),
  ]);
  const store = await openStore(config);
  const dataset = await openLatestDataset(store, config, client, workDir);
  const { summary } = dataset;
  const loaded = await readSeriesTable(await dataset.fetch(modelType), summary.columns);
  if (loaded.table.length === 0) {
    logger.warn({ dataRun: dataset.runId }, `the ${modelType} segment has no SKUs in this dataset; nothing to train`);
    return;
  }

  const defaults = tft.defaultHyperparameters(summary.frequency);
  const { encoderLength, predictionLength: _defaultHorizon, ...tuned } = defaults;
  const hyperparameters = {
    ...tuned,
    maxEpochs: config.training.maxEpochs,
    batchSize: config.training.batchSize,
    learningRate: config.training.learningRate,
    batchesPerEpoch: config.training.batchesPerEpoch ?? tuned.batchesPerEpoch,
  };
  const horizon = summary.horizon;
  const spec = datasetSpec(summary.columns, { encoderLength, predictionLength: horizon });
  const times = loaded.table.columns[spec.timeIdx] as Int32Array;
  const lastTime = times.reduce((a, b) => Math.max(a, b), 0);
  const holdoutStart = lastTime - horizon + 1;
  const validationStart = holdoutStart - horizon;
  // The model trains on windows with at least half an encoder of history before their decoder.
  const shortest = Math.ceil(encoderLength / 2) + horizon;
  if (validationStart < shortest) {
    throw new TrainingError(
      "history_too_short",
      `The ${modelType} data of ${client} spans ${lastTime + 1} periods; training needs at least ${shortest + 2 * horizon} (half an encoder of ${encoderLength} and one horizon of ${horizon} to train on, then validation and holdout of ${horizon} each): provide a longer sales history.`,
    );
  }
  const history = filterByTime(loaded, spec.timeIdx, (t) => t < holdoutStart);

  const tracker = await tracking.openTracker(config);
  const experiment = await tracker.getOrCreateExperiment(tracking.experimentName(client, modelType), {
    client,
    model_type: modelType,
  });
  const modelPrefix = `${client}/${modelType}/${runId}`;
  const checkpointDir = path.join(workDir, "checkpoint");
  // A retried attempt of this task (same pipeline run) resumes from the last epoch the store kept.
  const resumed = await downloadFolder(store, config.storage.buckets.model, `${modelPrefix}/checkpoint`, checkpointDir);
  if (resumed > 0) logger.info({ files: resumed }, "resuming from the checkpoint of an earlier attempt");

  await tracking.withRun(
    tracker,
    experiment.id,
    {
      taskKey: `${runId}/train_${modelType}`,
      name: `${modelType}-${runId}`,
      tags: {
        [trainingTags.pipelineRun]: runId,
        [trainingTags.dataRun]: dataset.runId,
        ...(context.codeSha ? { [trainingTags.codeSha]: context.codeSha } : {}),
      },
    },
    async (run) => {
      await tracker.logBatch(run.id, {
        params: {
          ...Object.fromEntries(Object.entries(hyperparameters).map(([k, v]) => [k, JSON.stringify(v)])),
          encoderLength: String(encoderLength),
          predictionLength: String(horizon),
          frequency: summary.frequency,
          series: String(new Set(loaded.table.columns[spec.group] as string[]).size),
          rows: String(loaded.table.length),
          validationStart: String(validationStart),
          holdoutStart: String(holdoutStart),
        },
      });
      const result = await tft.trainTft({
        table: history.table,
        spec,
        hyperparameters,
        validationStart,
        checkpointDir,
        signal,
        progress: process.stderr,
        onEpoch: async (epoch) => {
          logger.info({ ...epoch }, `epoch ${epoch.epoch}`);
          const metrics = [
            { key: "train_loss", value: epoch.trainLoss },
            ...(epoch.validationLoss === undefined ? [] : [{ key: "val_loss", value: epoch.validationLoss }]),
            { key: "samples_per_second", value: epoch.samplesPerSecond },
          ];
          await tracker.logBatch(run.id, {
            metrics: metrics.map((m) => ({ ...m, timestamp: Date.now(), step: epoch.epoch })),
          });
          await uploadFolder(store, config.storage.buckets.model, `${modelPrefix}/checkpoint`, checkpointDir);
        },
      });
      const model = result.model;
      try {
        const champion = await loadChampion(tracker, tracking.registeredModelName(client, modelType), workDir, logger);
        const evaluation = await evaluateHoldout({
          model,
          champion: champion?.model,
          loaded,
          spec,
          holdoutStart,
          frequency: summary.frequency,
          segmentColumn: summary.columns.staticCategoricals.includes("demand_class") ? "demand_class" : undefined,
        });
        champion?.model.dispose();
        await logEvaluation(tracker, run.id, evaluation, champion?.version);

        const modelDir = path.join(workDir, "model");
        await model.save(modelDir);
        const artifactsDir = path.join(workDir, "artifacts");
        await mkdir(artifactsDir, { recursive: true });
        await writeFile(path.join(artifactsDir, "evaluation.json"), JSON.stringify(evaluation, null, 2));
        await writeFile(path.join(artifactsDir, "history.json"), JSON.stringify(result.history, null, 2));
        const interpretation = await model.interpret(
          history.table,
          filterByTime(loaded, spec.timeIdx, (t) => t >= holdoutStart).table,
        );
        await writeFile(path.join(artifactsDir, "interpretation.json"), JSON.stringify(interpretation, null, 2));
        await uploadFolder(store, config.storage.buckets.model, `${modelPrefix}/model`, modelDir);
        await tracker.logArtifacts(run.id, modelDir, "model");
        await tracker.logArtifacts(run.id, artifactsDir);

        const name = tracking.registeredModelName(client, modelType);
        await tracker.getOrCreateRegisteredModel(name, { client, model_type: modelType });
        const version = await tracker.createModelVersion(name, {
          runId: run.id,
          artifactPath: "model",
          tags: {
            [trainingTags.pipelineRun]: runId,
            [trainingTags.dataRun]: dataset.runId,
            ...(context.codeSha ? { [trainingTags.codeSha]: context.codeSha } : {}),
          },
        });
        logger.info(
          {
            version: version.version,
            bestEpoch: result.bestEpoch,
            holdoutQl50: evaluation.decision,
          },
          `registered ${name} version ${version.version}`,
        );
      } finally {
        model.dispose();
      }
    },
  );
}

/** The current champion (or nothing): compared with the new model on the same holdout. */
async function loadChampion(
  tracker: Tracker,
  name: string,
  workDir: string,
  logger: TaskContext["logger"],
): Promise<{ version: string; model: TftModel } | undefined> {
  const version = await tracker.getVersionByAlias(name, "champion");
  if (!version?.runId) return undefined;
  const { loadTft } = await import("../model/tft/index.js");
  try {
    const dir = await tracker.downloadArtifacts(version.runId, "model", path.join(workDir, "champion"));
    return { version: version.version, model: await loadTft(dir) };
  } catch (error) {
    // A champion trained on other columns cannot forecast this data; the baselines still judge.
    logger.warn({ err: error, version: version.version }, "the current champion cannot be evaluated on this holdout");
    return undefined;
  }
}

async function logEvaluation(
  tracker: Tracker,
  runId: string,
  evaluation: HoldoutEvaluation,
  championVersion: string | undefined,
): Promise<void> {
  const timestamp = Date.now();
  const metrics = Object.entries(evaluation.flat).map(([key, value]) => ({ key, value, timestamp, step: 0 }));
  metrics.push({ key: decisionMetrics.tft, value: evaluation.decision.tft, timestamp, step: 0 });
  metrics.push({ key: decisionMetrics.bestBaseline, value: evaluation.decision.bestBaseline.ql50, timestamp, step: 0 });
  if (evaluation.decision.champion !== undefined) {
    metrics.push({ key: decisionMetrics.champion, value: evaluation.decision.champion, timestamp, step: 0 });
  }
  await tracker.logBatch(runId, {
    metrics,
    tags: {
      "tdf.best_baseline": evaluation.decision.bestBaseline.name,
      ...(championVersion ? { "tdf.evaluated_champion_version": championVersion } : {}),
    },
  });
}

/**
 * Sets `champion` to this pipeline run's new version of each model type only when it beats the best
 * baseline and the current champion on the holdout's P50 quantile loss; otherwise records why not.
 */
async function promote(context: TaskContext): Promise<void> {
  const { config, logger, client, runId } = context;
  const tracking = await import("../tracking/index.js");
  const tracker = await tracking.openTracker(config);
  for (const modelType of tracking.modelTypes) {
    const name = tracking.registeredModelName(client, modelType);
    const candidate = await tracker.latestModelVersion(name);
    if (!candidate?.runId || candidate.tags[trainingTags.pipelineRun] !== runId) {
      logger.warn({ model: name }, `training run ${runId} registered no ${modelType} version; nothing to promote`);
      continue;
    }
    const run = await tracker.getRun(candidate.runId);
    const metric = (key: string) => run?.metrics[key]?.value;
    const tft = metric(decisionMetrics.tft);
    const baseline = metric(decisionMetrics.bestBaseline);
    if (tft === undefined || baseline === undefined) {
      throw new TrainingError(
        "evaluation_missing",
        `${name} version ${candidate.version} has no holdout evaluation in run ${candidate.runId}; re-run its training task.`,
      );
    }
    const verdict = judge({
      tft,
      baseline,
      baselineName: run?.tags["tdf.best_baseline"] ?? "best baseline",
      champion: await tracker.getVersionByAlias(name, "champion"),
      evaluatedChampion: run?.tags["tdf.evaluated_champion_version"],
      championQl: metric(decisionMetrics.champion),
      candidate: candidate.version,
    });
    if (verdict.promote) await tracker.setAlias(name, "champion", candidate.version);
    await tracker.logBatch(candidate.runId, {
      tags: { [trainingTags.verdict]: verdict.promote ? "champion" : "kept", [trainingTags.reason]: verdict.reason },
    });
    logger.info({ model: name, version: candidate.version, promoted: verdict.promote }, verdict.reason);
  }
}

export interface Verdict {
  promote: boolean;
  reason: string;
}

/** The promotion rule, on its own so it can be tested without a tracker. */
export function judge(input: {
  tft: number;
  baseline: number;
  baselineName: string;
  champion: { version: string } | null;
  evaluatedChampion: string | undefined;
  championQl: number | undefined;
  candidate: string;
}): Verdict {
  const f = (x: number) => x.toFixed(4);
  const v = `version ${input.candidate}`;
  if (!(input.tft < input.baseline)) {
    return {
      promote: false,
      reason: `${v} kept out: ${input.baselineName} (P50 QL ${f(input.baseline)}) beats the TFT (${f(input.tft)}) on the holdout`,
    };
  }
  const champion = input.champion;
  if (!champion || champion.version === input.candidate) {
    return {
      promote: true,
      reason: `${v} is champion: the TFT (${f(input.tft)}) beats ${input.baselineName} (${f(input.baseline)}); there was no champion`,
    };
  }
  if (input.evaluatedChampion !== champion.version) {
    return {
      promote: input.evaluatedChampion === undefined && input.championQl === undefined,
      reason:
        input.evaluatedChampion === undefined
          ? `${v} is champion: it beats ${input.baselineName}, and champion ${champion.version} could not be evaluated on this data`
          : `${v} kept out: the champion changed to ${champion.version} after ${input.evaluatedChampion} was evaluated; re-run training to compare`,
    };
  }
  if (input.championQl !== undefined && !(input.tft < input.championQl)) {
    return {
      promote: false,
      reason: `${v} kept out: champion ${champion.version} (P50 QL ${f(input.championQl)}) is at least as good as the new TFT (${f(input.tft)})`,
    };
  }
  return {
    promote: true,
    reason: `${v} is champion: the TFT (${f(input.tft)}) beats champion ${champion.version} (${f(input.championQl ?? Number.NaN)}) and ${input.baselineName} (${f(input.baseline)})`,
  };
}

export const trainingTasks: readonly TaskDefinition[] = [
  trainTask("top_seller"),
  trainTask("long_tail"),
  {
    name: "promote",
    description: "make each new model version champion when it beats the baselines and the champion",
    run: promote,
  },
];
