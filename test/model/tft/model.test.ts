/**
 * The TFT end to end through its public API on small synthetic data: training (callbacks,
 * checkpoints, reproducibility, resume, abort, early stopping with the best weights restored),
 * forecasting (padding, cold starts, sorted quantiles), interpretation, save/load bit for bit, the
 * errors bad input gets, and no leaked tensors.
 */
import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../src/model/backend.js";
import { readCheckpoint } from "../../../src/model/tft/checkpoint.js";
import {
  defaultHyperparameters,
  loadTft,
  type SeriesTable,
  type TftHyperparameters,
  type TftModel,
  trainTft,
} from "../../../src/model/tft/index.js";
import type { TrainedTft } from "../../../src/model/tft/model.js";
import { evaluate } from "../../../src/model/tft/train.js";
import { prepareTraining } from "../../../src/model/tft/training-data.js";
import { layoutOf } from "../../../src/model/tft/windows.js";
import { rejectsWith } from "../../helpers/assertions.js";
import { filterRows, syntheticSeries, syntheticSpec } from "./synthetic.js";

const periods = 70;
const spec = syntheticSpec(14, 7);
const holdoutStart = periods - 7;
const validationStart = holdoutStart - 7;
const table = syntheticSeries({ series: 8, periods, seed: 2, staggered: true });
const training = filterRows(table, "time_idx", (t) => t < holdoutStart);
const history = training;
const future = filterRows(table, "time_idx", (t) => t >= holdoutStart);
const hp: TftHyperparameters = {
  ...defaultHyperparameters("daily"),
  hiddenSize: 8,
  attentionHeads: 2,
  hiddenContinuousSize: 4,
  learningRate: 0.01,
  batchSize: 32,
  maxEpochs: 3,
  batchesPerEpoch: 4,
  seed: 1,
};

let dir: string;
before(async () => {
  await initBackend();
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tft-model-"));
});
after(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const train = (options: Partial<Parameters<typeof trainTft>[0]> = {}) =>
  trainTft({ table: training, spec, hyperparameters: hp, validationStart, ...options });

describe("training", () => {
  test("reports each epoch, checkpoints it, repeats itself for a seed and resumes exactly", async () => {
    const seen: number[] = [];
    const terminal = Object.assign(new PassThrough(), { isTTY: true });
    const drawn: string[] = [];
    terminal.on("data", (chunk: Buffer) => drawn.push(chunk.toString()));
    const first = await train({
      checkpointDir: path.join(dir, "a"),
      progress: terminal,
      onEpoch: async (m) => {
        seen.push(m.epoch);
        const saved = await readCheckpoint(path.join(dir, "a"));
        assert.equal(saved?.state.epochsDone, m.epoch, "the checkpoint is written before onEpoch");
      },
    });
    assert.deepEqual(seen, [1, 2, 3]);
    const bar = drawn.join("");
    assert.match(bar, /epoch 1\/3 █+░* \d+\/4 loss [\d.]+ · \d+ samples\/s/);
    assert.match(bar, /epoch 3\/3 · train [\d.]+ · validation [\d.]+ · [\d.]+ s\n$/);
    assert.equal(first.history.length, 3);
    for (const m of first.history) {
      assert.ok(Number.isFinite(m.trainLoss) && Number.isFinite(m.validationLoss) && m.samplesPerSecond > 0);
    }
    assert.ok(
      (first.history[2]?.trainLoss as number) < (first.history[0]?.trainLoss as number),
      "training lowers the loss",
    );

    const pipe = new PassThrough();
    const piped: string[] = [];
    pipe.on("data", (chunk: Buffer) => piped.push(chunk.toString()));
    const again = await train({ progress: pipe });
    assert.deepEqual(piped, [], "no bar when the stream is not a terminal");
    assert.deepEqual(losses(again.history), losses(first.history));
    assert.deepEqual(
      (await again.model.predict(history, future)).values,
      (await first.model.predict(history, future)).values,
    );
    const otherSeed = await trainTft({
      table: training,
      spec,
      hyperparameters: { ...hp, seed: 2, maxEpochs: 1 },
      validationStart,
    });
    assert.notEqual(otherSeed.history[0]?.trainLoss, first.history[0]?.trainLoss);

    const resumedDir = path.join(dir, "b");
    const interrupted = await trainTft({
      table: training,
      spec,
      hyperparameters: { ...hp, maxEpochs: 2 },
      validationStart,
      checkpointDir: resumedDir,
    });
    interrupted.model.dispose();
    const resumed = await train({ checkpointDir: resumedDir });
    assert.deepEqual(losses(resumed.history), losses(first.history));
    assert.deepEqual(
      (await resumed.model.predict(history, future)).values,
      (await first.model.predict(history, future)).values,
    );
    for (const r of [first, again, otherSeed, resumed]) r.model.dispose();
  });

  test("an aborted run stops between batches and its checkpoint resumes it", async () => {
    const controller = new AbortController();
    const checkpointDir = path.join(dir, "aborted");
    await assert.rejects(
      train({ checkpointDir, signal: controller.signal, onEpoch: () => controller.abort() }),
      rejectsWith("TRAINING_ABORTED", /epoch 2.*resumes it from epoch 1/),
    );
    assert.equal((await readCheckpoint(checkpointDir))?.state.epochsDone, 1);
    const resumed = await train({ checkpointDir });
    assert.deepEqual(
      resumed.history.map((m) => m.epoch),
      [1, 2, 3],
    );
    resumed.model.dispose();
  });

  test("early stopping keeps the best epoch's weights", async () => {
    const result = await trainTft({
      table: training,
      spec,
      hyperparameters: { ...hp, learningRate: 0.08, maxEpochs: 8, patience: 2 },
      validationStart,
    });
    const validation = result.history.map((m) => m.validationLoss as number);
    const best = Math.min(...validation);
    assert.equal(result.bestEpoch, validation.indexOf(best) + 1);
    assert.ok(result.bestEpoch < result.history.length, "the scenario ends past its best epoch");
    if (result.history.length < 8) {
      assert.ok(
        validation.slice(-2).every((v) => v >= best),
        "stopped after `patience` epochs without a better loss",
      );
    }
    const data = prepareTraining(training, spec, validationStart);
    const model = result.model as TrainedTft;
    const loss = evaluate(model.network, data.validation, layoutOf(spec, data.encoding), hp);
    assert.ok(Math.abs(loss - best) <= 1e-5 * best, `the returned model's validation loss ${loss} is the best ${best}`);
    result.model.dispose();
  });

  test("settings out of range are refused, each named", async () => {
    await assert.rejects(
      trainTft({
        table: training,
        spec,
        hyperparameters: { ...hp, hiddenSize: 10, attentionHeads: 4, quantiles: [0.5, 0.1] },
        validationStart,
      }),
      rejectsWith("TFT_CONFIG_INVALID", /hiddenSize \(10\) must be a multiple of attentionHeads \(4\).*quantiles/),
    );
  });

  test("a checkpoint of other settings is refused rather than resumed", async () => {
    const checkpointDir = path.join(dir, "other-settings");
    const result = await trainTft({ table: training, spec, hyperparameters: { ...hp, maxEpochs: 1 }, checkpointDir });
    result.model.dispose();
    await assert.rejects(
      trainTft({ table: training, spec, hyperparameters: { ...hp, hiddenSize: 16 }, checkpointDir }),
      rejectsWith("TFT_FILE_INVALID", /other data or settings; delete it/),
    );
  });
});

describe("a trained model", () => {
  let model: TftModel;
  before(async () => {
    model = (await train({ hyperparameters: { ...hp, maxEpochs: 1 } })).model;
  });
  after(() => model.dispose());

  test("forecasts every future series: sorted quantiles ≥ 0 at the periods after its history", async () => {
    const forecast = await model.predict(history, future);
    const q = forecast.quantiles.length;
    assert.deepEqual(forecast.quantiles, hp.quantiles);
    assert.equal(forecast.series.length, 8);
    assert.equal(forecast.values.length, 8 * 7 * q);
    for (let i = 0; i < forecast.values.length; i += q) {
      const row = Array.from(forecast.values.subarray(i, i + q));
      assert.ok(
        row.every((v, j) => v >= 0 && (j === 0 || v >= (row[j - 1] as number))),
        `row ${row}`,
      );
    }
    assert.deepEqual(Array.from(forecast.timeIdx.subarray(0, 7)), [63, 64, 65, 66, 67, 68, 69]);
    assert.ok(forecast.coldStart.every((c) => !c));
  });

  test("short and missing histories are padded; unseen series are cold starts", async () => {
    const short = filterRows(history, "time_idx", (t) => t >= holdoutStart - 3);
    const newSeries = renamed(future, "sku-0001", "sku-new");
    const forecast = await model.predict(short, newSeries);
    assert.equal(forecast.series.length, 8);
    assert.deepEqual(
      forecast.coldStart,
      forecast.series.map((s) => s === "sku-new"),
    );
    assert.ok(forecast.values.every((v) => Number.isFinite(v) && v >= 0));
  });

  test("interpretation: importances and attention are distributions over the spec's variables", async () => {
    const interpretation = await model.interpret(history, future);
    const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    assert.deepEqual(Object.keys(interpretation.staticImportance), [
      "sku",
      "category",
      "brand",
      "quantity_center",
      "quantity_scale",
      "encoder_length",
    ]);
    assert.deepEqual(Object.keys(interpretation.decoderImportance), [
      "day_of_week",
      "relative_time_idx",
      "price",
      "promo",
    ]);
    assert.ok(Object.keys(interpretation.encoderImportance).includes("lag_7"));
    for (const group of [
      interpretation.staticImportance,
      interpretation.encoderImportance,
      interpretation.decoderImportance,
    ]) {
      assert.ok(Math.abs(sum(group) - 1) < 1e-6);
    }
    assert.equal(interpretation.attention.length, spec.encoderLength);
    assert.ok(Math.abs(interpretation.attention.reduce((a, b) => a + b, 0) - 1) < 1e-6);
    assert.doesNotThrow(() => JSON.stringify(interpretation));
  });

  test("save and load: bit-identical forecasts and interpretation", async () => {
    const saved = path.join(dir, "saved");
    await model.save(saved);
    assert.deepEqual((await fsp.readdir(saved)).sort(), ["config.json", "weights.bin"]);
    const loaded = await loadTft(saved);
    const [a, b] = [await model.predict(history, future), await loaded.predict(history, future)];
    assert.deepEqual(b, a);
    assert.deepEqual(await loaded.interpret(history, future), await model.interpret(history, future));
    assert.deepEqual(loaded.spec, model.spec);
    assert.deepEqual(loaded.hyperparameters, model.hyperparameters);
    loaded.dispose();
  });

  test("a damaged or missing saved model is refused with the fix", async () => {
    const saved = path.join(dir, "damaged");
    await model.save(saved);
    const weights = await fsp.readFile(path.join(saved, "weights.bin"));
    weights[10] = (weights[10] as number) ^ 0xff;
    await fsp.writeFile(path.join(saved, "weights.bin"), weights);
    await assert.rejects(
      loadTft(saved),
      rejectsWith("TFT_FILE_INVALID", /does not match the checksum.*save or download it again/),
    );
    await assert.rejects(loadTft(path.join(dir, "nowhere")), rejectsWith("TFT_FILE_INVALID", /does not exist/));
  });

  test("bad tables fail naming the row or series and the fix", async () => {
    const swapped = filterRows(history, "time_idx", () => true);
    const skus = swapped.columns.sku as string[];
    skus[0] = "sku-0005";
    await assert.rejects(
      model.predict(swapped, future),
      rejectsWith("TFT_DATA_INVALID", /appears again .* sort the rows/),
    );
    const gap = filterRows(history, "time_idx", (t) => t !== 30);
    await assert.rejects(model.predict(gap, future), rejectsWith("TFT_DATA_INVALID", /jumps from time index 29 to 31/));
    const { price: _price, ...rest } = future.columns;
    await assert.rejects(
      model.predict(history, { length: future.length, columns: rest }),
      rejectsWith("TFT_DATA_INVALID", /has no column "price"/),
    );
    const shortFuture = filterRows(future, "time_idx", (t) => t < holdoutStart + 3);
    await assert.rejects(model.predict(history, shortFuture), rejectsWith("TFT_DATA_INVALID", /give exactly 7 rows/));
    const late = filterRows(history, "time_idx", (t) => t < holdoutStart - 2);
    await assert.rejects(
      model.predict(late, future),
      rejectsWith("TFT_DATA_INVALID", /must follow the history directly/),
    );
    const negative = filterRows(history, "time_idx", () => true);
    (negative.columns.quantity as Float64Array)[5] = -1;
    await assert.rejects(model.predict(negative, future), rejectsWith("TFT_DATA_INVALID", /-1 at row 5.*≥ 0/));
  });

  test("forecasting leaks no tensors", async () => {
    const count = tf.memory().numTensors;
    await model.predict(history, future, { batchSize: 3 });
    await model.interpret(history, future);
    assert.equal(tf.memory().numTensors, count);
  });
});

test("training leaks no tensors: after dispose the count is back", async () => {
  const count = tf.memory().numTensors;
  const result = await train({ hyperparameters: { ...hp, maxEpochs: 1 } });
  result.model.dispose();
  assert.equal(tf.memory().numTensors, count);
});

test("a table too short to train on says how long it must be", async () => {
  const tiny = filterRows(table, "time_idx", (t) => t < 12);
  await assert.rejects(
    trainTft({ table: tiny, spec, hyperparameters: hp }),
    rejectsWith("TFT_DATA_INVALID", /each needs 14 rows/),
  );
});

function losses(history: Array<{ trainLoss: number; validationLoss: number | undefined }>) {
  return history.map((m) => [m.trainLoss, m.validationLoss]);
}

function renamed(t: SeriesTable, from: string, to: string): SeriesTable {
  const copy = filterRows(t, "time_idx", () => true);
  copy.columns.sku = (copy.columns.sku as string[]).map((s) => (s === from ? to : s));
  return copy;
}
