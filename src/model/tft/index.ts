/**
 * The Temporal Fusion Transformer (pytorch-forecasting's `TemporalFusionTransformer`, in
 * TensorFlow.js): train it on a series table, forecast quantiles, interpret, save and load. This
 * module is light; TensorFlow.js loads only when a function here first needs it.
 */
import type { TftHyperparameters, TftModel, TrainTftOptions, TrainTftResult } from "./types.js";

export type {
  EpochMetrics,
  PredictOptions,
  SeriesTable,
  TftDatasetSpec,
  TftForecast,
  TftHyperparameters,
  TftInterpretation,
  TftModel,
  TrainTftOptions,
  TrainTftResult,
} from "./types.js";

/**
 * Recommended settings for real data of a frequency (docs/model.md explains each). The deployment
 * guide's TRAINING_MAX_EPOCHS / TRAINING_BATCH_SIZE / TRAINING_LEARNING_RATE (5 / 10 / 0.01) are a
 * smoke profile that callers lay over these.
 */
export function defaultHyperparameters(
  frequency: "daily" | "weekly",
): TftHyperparameters & { encoderLength: number; predictionLength: number } {
  const daily = frequency === "daily";
  return {
    // Eight weeks of days, or a year of weeks: room for the weekly or the yearly pattern.
    encoderLength: daily ? 56 : 52,
    predictionLength: daily ? 14 : 8,
    hiddenSize: 16,
    attentionHeads: 4,
    dropout: 0.1,
    hiddenContinuousSize: 8,
    quantiles: [0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.98],
    learningRate: 0.003,
    batchSize: 128,
    maxEpochs: 30,
    batchesPerEpoch: 100,
    patience: 5,
    gradientClipNorm: 0.1,
    seed: 42,
  };
}

/** Trains a TFT (Adam, clipping, early stopping, checkpoints); see TrainTftOptions. */
export async function trainTft(options: TrainTftOptions): Promise<TrainTftResult> {
  const { train } = await import("./train.js");
  return train(options);
}

/** Loads a model written by `TftModel.save`. */
export async function loadTft(dir: string): Promise<TftModel> {
  const { loadModel } = await import("./persist.js");
  return loadModel(dir);
}
