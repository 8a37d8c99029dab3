/**
 * The Temporal Fusion Transformer's public contract: the data it reads, its hyperparameters, what
 * training reports and what a trained model answers. Free of TensorFlow.js, so importing these types
 * costs nothing.
 */

/**
 * A columnar table of many series: rows sorted by series (`group`) then time index, the time index
 * contiguous (+1 per row) within each series. Categorical columns are strings (or numbers, read as
 * their decimal text); real columns are numeric arrays.
 */
export interface SeriesTable {
  length: number;
  columns: Record<string, Float32Array | Float64Array | Int32Array | string[]>;
}

/** Which column plays which role, and the window lengths. */
export interface TftDatasetSpec {
  /** The series key (the SKU); it is also embedded as a static categorical. */
  group: string;
  timeIdx: string;
  /** The quantity forecast (≥ 0); its normalised history is an encoder input. */
  target: string;
  staticCategoricals: string[];
  staticReals: string[];
  /** Known for the future too (calendar, price, promotions, events): encoder and decoder inputs. */
  knownCategoricals: string[];
  knownReals: string[];
  /** Known only up to the present (lags, rolling statistics): encoder inputs. */
  unknownReals: string[];
  encoderLength: number;
  predictionLength: number;
}

export interface TftHyperparameters {
  /** Width of every layer (pytorch-forecasting's `hidden_size`). */
  hiddenSize: number;
  attentionHeads: number;
  dropout: number;
  /** Width each real input is scaled up to before variable selection (`hidden_continuous_size`). */
  hiddenContinuousSize: number;
  /** Strictly increasing, in (0, 1). */
  quantiles: number[];
  learningRate: number;
  batchSize: number;
  maxEpochs: number;
  /** Cap on the batches of one epoch (a random sample of the windows); all windows when absent. */
  batchesPerEpoch?: number;
  /** Epochs without a better validation loss before training stops. */
  patience: number;
  /** Gradients are scaled so their global norm is at most this; 0 turns clipping off. */
  gradientClipNorm: number;
  seed: number;
}

export interface EpochMetrics {
  /** 1-based. */
  epoch: number;
  trainLoss: number;
  validationLoss: number | undefined;
  seconds: number;
  samplesPerSecond: number;
}

export interface TrainTftOptions {
  table: SeriesTable;
  spec: TftDatasetSpec;
  hyperparameters: TftHyperparameters;
  /**
   * A time index: per series, the window whose decoder starts here is the validation window (early
   * stopping); training decoders end before it, and the normalisers are fitted on the rows before it.
   * Without it every window trains and the last epoch is kept.
   */
  validationStart?: number;
  /** A checkpoint is written here after every epoch; training resumes from it when present. */
  checkpointDir?: string;
  onEpoch?: (metrics: EpochMetrics) => void | Promise<void>;
  /** Stops training between batches (the last checkpoint stays). */
  signal?: AbortSignal;
  /** Where the progress bar goes; drawn only when it is a terminal. */
  progress?: NodeJS.WritableStream;
}

export interface TrainTftResult {
  model: TftModel;
  history: EpochMetrics[];
  /** The epoch whose weights the model has (1-based). */
  bestEpoch: number;
}

export interface TftForecast {
  series: string[];
  quantiles: number[];
  predictionLength: number;
  /** `[series][step][quantile]`, de-normalised, non-decreasing over quantiles, ≥ 0. */
  values: Float32Array;
  /** `[series][step]`. */
  timeIdx: Int32Array;
  /** Per series: true when the model never saw it in training (its embedding is the unknown slot). */
  coldStart: boolean[];
}

export interface TftInterpretation {
  /** Mean variable selection weight per input, summing to 1 within each group. */
  staticImportance: Record<string, number>;
  encoderImportance: Record<string, number>;
  decoderImportance: Record<string, number>;
  /**
   * Mean attention of the first forecast step on each encoder step, oldest first (the last entry is
   * the period just before the forecast), averaged over heads and series.
   */
  attention: number[];
}

export interface PredictOptions {
  /** Series per forward pass (default 256). */
  batchSize?: number;
}

export interface TftModel {
  spec: TftDatasetSpec;
  hyperparameters: TftHyperparameters;
  /**
   * Forecasts every series of `future`, which holds the known covariates of the next
   * `predictionLength` periods of each series; `history` holds the periods before them. A series with
   * a shorter history than `encoderLength` (or none) is padded and masked.
   */
  predict(history: SeriesTable, future: SeriesTable, options?: PredictOptions): Promise<TftForecast>;
  /** Variable importances and attention over `future`'s series, as JSON-ready numbers. */
  interpret(history: SeriesTable, future: SeriesTable): Promise<TftInterpretation>;
  /** Writes the model as one folder: config.json and weights.bin. */
  save(dir: string): Promise<void>;
  /** Frees the weights. */
  dispose(): void;
}
