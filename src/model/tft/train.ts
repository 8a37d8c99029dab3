/**
 * Training, as pytorch-forecasting (with Lightning) does it: Adam, gradients clipped by global norm,
 * shuffled windows (optionally a capped number of batches per epoch), validation loss after every
 * epoch, early stopping with patience and the best epoch's weights restored at the end. Everything
 * random comes from the seed, and a checkpoint after every epoch makes a killed run resumable.
 */
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend.js";
import { type NamedArray, readCheckpoint, type TrainingState, writeCheckpoint } from "./checkpoint.js";
import type { DataEncoding } from "./encoding.js";
import { TftConfigError, TftFileError, TrainingAbortedError } from "./errors.js";
import { DropoutNoise } from "./layers/base.js";
import { TemporalFusionTransformer, type TftNetworkConfig } from "./layers/network.js";
import { quantileLoss } from "./loss.js";
import { TrainedTft } from "./model.js";
import { Adam } from "./optimizer.js";
import { createProgress } from "./progress.js";
import { deriveSeed, Random } from "./random.js";
import { prepareTraining, trainingWindow } from "./training-data.js";
import type {
  EpochMetrics,
  SeriesTable,
  TftDatasetSpec,
  TftHyperparameters,
  TrainTftOptions,
  TrainTftResult,
} from "./types.js";
import { batchTensors, fillBatch, type Layout, layoutOf, type Window } from "./windows.js";

/**
 * Share of training windows whose series code is replaced by the unknown slot, so that forecasts of
 * series never seen (cold starts) come from a trained embedding rather than a random one.
 */
export const coldStartRate = 0.05;

export async function train(options: TrainTftOptions): Promise<TrainTftResult> {
  const { table, spec, hyperparameters: hp, validationStart, checkpointDir, signal } = options;
  checkSettings(spec, hp);
  await initBackend();
  const data = prepareTraining(table, spec, validationStart);
  const layout = layoutOf(spec, data.encoding);
  const network = new TemporalFusionTransformer(networkConfig(spec, hp, data.encoding));
  network.build();
  const variables = network.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = new Adam(variables, { learningRate: hp.learningRate, clipNorm: hp.gradientClipNorm });
  let finished = false;
  try {
    const fingerprint = fingerprintOf(table, spec, hp, validationStart);
    let state: TrainingState = {
      fingerprint,
      epochsDone: 0,
      history: [],
      bestEpoch: 0,
      bestLoss: null,
      epochsSinceBest: 0,
      stopped: false,
    };
    let best: NamedArray[] = [];
    if (checkpointDir) {
      const saved = await readCheckpoint(checkpointDir);
      if (saved) {
        if (saved.state.fingerprint !== fingerprint) {
          throw new TftFileError(
            `The checkpoint in ${checkpointDir} was written for other data or settings; delete it to train from scratch.`,
          );
        }
        setWeights(network, saved.weights);
        optimizer.restore(saved.optimizer);
        state = saved.state;
        best = saved.best;
      }
    }

    const progress = createProgress(options.progress, hp.maxEpochs);
    const windowCount = data.windowSeries.length;
    const batchCount = Math.min(Math.ceil(windowCount / hp.batchSize), hp.batchesPerEpoch ?? Number.POSITIVE_INFINITY);
    while (!state.stopped && state.epochsDone < hp.maxEpochs) {
      const epoch = state.epochsDone + 1;
      const started = performance.now();
      const order = new Random(deriveSeed(hp.seed, "windows", epoch)).shuffle(
        Int32Array.from({ length: windowCount }, (_, i) => i),
      );
      let lossSum = 0;
      let samples = 0;
      for (let b = 0; b < batchCount; b++) {
        if (signal?.aborted) {
          const resume = !checkpointDir
            ? ""
            : state.epochsDone > 0
              ? `; the checkpoint in ${checkpointDir} resumes it from epoch ${state.epochsDone}`
              : "; no epoch had finished, so a new run starts over";
          throw new TrainingAbortedError(`Training stopped in epoch ${epoch} because it was asked to${resume}.`, {
            epoch,
          });
        }
        const ids = order.subarray(b * hp.batchSize, (b + 1) * hp.batchSize);
        const windows = Array.from(ids, (i) => trainingWindow(data, i, spec.encoderLength));
        const loss = trainStep(network, variables, optimizer, windows, layout, hp, epoch, b);
        lossSum += loss * windows.length;
        samples += windows.length;
        progress.batch(epoch, b + 1, batchCount, lossSum / samples, samples / ((performance.now() - started) / 1000));
      }
      const trainSeconds = (performance.now() - started) / 1000;
      const validationLoss = data.validation.length > 0 ? evaluate(network, data.validation, layout, hp) : undefined;
      const metrics: EpochMetrics = {
        epoch,
        trainLoss: lossSum / samples,
        validationLoss,
        seconds: (performance.now() - started) / 1000,
        samplesPerSecond: samples / trainSeconds,
      };
      const improved = validationLoss === undefined || state.bestLoss === null || validationLoss < state.bestLoss;
      const current = snapshot(network);
      if (improved) best = current;
      const epochsSinceBest = improved ? 0 : state.epochsSinceBest + 1;
      state = {
        ...state,
        epochsDone: epoch,
        history: [...state.history, metrics],
        bestEpoch: improved ? epoch : state.bestEpoch,
        bestLoss: improved ? (validationLoss ?? null) : state.bestLoss,
        epochsSinceBest,
        stopped: validationLoss !== undefined && epochsSinceBest >= hp.patience,
      };
      if (checkpointDir) {
        await writeCheckpoint(checkpointDir, {
          state,
          weights: current,
          best,
          optimizer: optimizer.state(),
        });
      }
      progress.epoch(metrics);
      await options.onEpoch?.(metrics);
    }
    if (best.length > 0) setWeights(network, best);
    finished = true;
    return {
      model: new TrainedTft(spec, { ...hp }, data.encoding, network),
      history: state.history,
      bestEpoch: state.bestEpoch,
    };
  } finally {
    if (!finished) network.releaseWeights();
  }
}

/** One optimisation step on a batch; returns the batch's loss. */
function trainStep(
  network: TemporalFusionTransformer,
  variables: tf.Variable[],
  optimizer: Adam,
  windows: Window[],
  layout: Layout,
  hp: TftHyperparameters,
  epoch: number,
  batch: number,
): number {
  const hide = new Random(deriveSeed(hp.seed, "cold-start", epoch, batch));
  const arrays = fillBatch(windows, layout, () => hide.next() < coldStartRate);
  const noise = new DropoutNoise(deriveSeed(hp.seed, "dropout", epoch, batch));
  return tf.tidy(() => {
    const inputs = batchTensors(tf, arrays, layout);
    const target = tf.tensor2d(arrays.target as Float32Array, [arrays.size, layout.predictionLength]);
    const { value, grads } = tf.variableGrads(
      () => quantileLoss(network.forward(inputs, { training: true, noise }).prediction, target, hp.quantiles),
      variables,
    );
    optimizer.step(variables.map((v) => grads[v.name]));
    return value.dataSync()[0] as number;
  });
}

/** The mean loss over windows (inference mode), weighting every window alike. */
export function evaluate(
  network: TemporalFusionTransformer,
  windows: Window[],
  layout: Layout,
  hp: TftHyperparameters,
): number {
  let sum = 0;
  for (let offset = 0; offset < windows.length; offset += hp.batchSize) {
    const batch = windows.slice(offset, offset + hp.batchSize);
    const arrays = fillBatch(batch, layout);
    sum += tf.tidy(() => {
      const inputs = batchTensors(tf, arrays, layout);
      const target = tf.tensor2d(arrays.target as Float32Array, [arrays.size, layout.predictionLength]);
      const prediction = network.forward(inputs, { training: false }).prediction;
      return (quantileLoss(prediction, target, hp.quantiles).dataSync()[0] as number) * batch.length;
    });
  }
  return sum / windows.length;
}

export function networkConfig(spec: TftDatasetSpec, hp: TftHyperparameters, encoding: DataEncoding): TftNetworkConfig {
  const v = encoding.variables;
  const categorical = (name: string) => ({ name, cardinality: (encoding.classes[name]?.length ?? 0) + 1 });
  return {
    name: "tft",
    seed: deriveSeed(hp.seed, "network"),
    hiddenSize: hp.hiddenSize,
    attentionHeads: hp.attentionHeads,
    dropout: hp.dropout,
    hiddenContinuousSize: hp.hiddenContinuousSize,
    outputSize: hp.quantiles.length,
    encoderLength: spec.encoderLength,
    predictionLength: spec.predictionLength,
    staticCategoricals: v.staticCategoricals.map(categorical),
    staticReals: v.staticReals,
    knownCategoricals: v.knownCategoricals.map(categorical),
    knownReals: v.knownReals,
    unknownReals: v.unknownReals,
    causalAttention: true,
  };
}

function snapshot(network: TemporalFusionTransformer): NamedArray[] {
  return network.namedWeights().map(({ path, variable }) => ({
    name: path,
    shape: [...variable.shape] as number[],
    dtype: "float32",
    values: Float32Array.from(variable.read().dataSync() as Float32Array),
  }));
}

function setWeights(network: TemporalFusionTransformer, arrays: NamedArray[]): void {
  const byName = new Map(arrays.map((a) => [a.name, a]));
  for (const { path, variable } of network.namedWeights()) {
    const saved = byName.get(path);
    if (!saved) throw new TftFileError(`The checkpoint lacks weight ${path}; delete it to train from scratch.`);
    tf.tidy(() => {
      variable.write(tf.tensor(saved.values, saved.shape, "float32"));
    });
  }
}

/** What a checkpoint must match to be resumed: the data and every setting but the epoch budget. */
function fingerprintOf(
  table: SeriesTable,
  spec: TftDatasetSpec,
  hp: TftHyperparameters,
  validationStart: number | undefined,
): string {
  const { maxEpochs: _maxEpochs, patience: _patience, ...settings } = hp;
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ spec, settings, validationStart: validationStart ?? null, rows: table.length }));
  for (const name of Object.keys(table.columns).sort()) {
    const values = table.columns[name];
    if (Array.isArray(values)) {
      // In chunks: one joined string of a large table's keys would be hundreds of megabytes.
      for (let i = 0; i < values.length; i += 65536) hash.update(`${values.slice(i, i + 65536).join("\u0000")}\u0000`);
    } else if (values) {
      hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    }
  }
  return hash.digest("hex");
}

function checkSettings(spec: TftDatasetSpec, hp: TftHyperparameters): void {
  const problems: string[] = [];
  const positiveInteger = (name: string, value: number | undefined) => {
    if (value !== undefined && !(Number.isInteger(value) && value >= 1))
      problems.push(`${name} must be an integer ≥ 1 (got ${value})`);
  };
  positiveInteger("encoderLength", spec.encoderLength);
  positiveInteger("predictionLength", spec.predictionLength);
  positiveInteger("hiddenSize", hp.hiddenSize);
  positiveInteger("attentionHeads", hp.attentionHeads);
  positiveInteger("hiddenContinuousSize", hp.hiddenContinuousSize);
  positiveInteger("batchSize", hp.batchSize);
  positiveInteger("maxEpochs", hp.maxEpochs);
  positiveInteger("batchesPerEpoch", hp.batchesPerEpoch);
  positiveInteger("patience", hp.patience);
  if (
    Number.isInteger(hp.hiddenSize) &&
    Number.isInteger(hp.attentionHeads) &&
    hp.hiddenSize % hp.attentionHeads !== 0
  ) {
    problems.push(`hiddenSize (${hp.hiddenSize}) must be a multiple of attentionHeads (${hp.attentionHeads})`);
  }
  if (!(hp.dropout >= 0 && hp.dropout < 1)) problems.push(`dropout must be in [0, 1) (got ${hp.dropout})`);
  if (!(hp.learningRate > 0)) problems.push(`learningRate must be > 0 (got ${hp.learningRate})`);
  if (!(hp.gradientClipNorm >= 0)) problems.push(`gradientClipNorm must be ≥ 0 (got ${hp.gradientClipNorm})`);
  if (!Number.isInteger(hp.seed)) problems.push(`seed must be an integer (got ${hp.seed})`);
  const q = hp.quantiles;
  if (q.length === 0 || q.some((v, i) => !(v > 0 && v < 1) || (i > 0 && v <= (q[i - 1] as number)))) {
    problems.push(`quantiles must be strictly increasing values in (0, 1) (got ${JSON.stringify(q)})`);
  }
  if (problems.length > 0) {
    throw new TftConfigError(`The TFT settings are invalid: ${problems.join("; ")}.`, { problems });
  }
}
