/**
 * A trained TFT: its network, its data encoding and what it was trained with; it forecasts,
 * interprets and saves itself.
 */
import * as tf from "@tensorflow/tfjs";
import type { DataEncoding } from "./encoding.js";
import { forecastWindows } from "./forecast-inputs.js";
import type { TemporalFusionTransformer } from "./layers/network.js";
import type {
  PredictOptions,
  SeriesTable,
  TftDatasetSpec,
  TftForecast,
  TftHyperparameters,
  TftInterpretation,
  TftModel,
} from "./types.js";
import { batchTensors, fillBatch, type Layout, layoutOf, type Window } from "./windows.js";

const defaultPredictBatch = 256;

export class TrainedTft implements TftModel {
  readonly layout: Layout;
  private disposed = false;

  constructor(
    readonly spec: TftDatasetSpec,
    readonly hyperparameters: TftHyperparameters,
    readonly encoding: DataEncoding,
    readonly network: TemporalFusionTransformer,
  ) {
    this.layout = layoutOf(spec, encoding);
  }

  async predict(history: SeriesTable, future: SeriesTable, options: PredictOptions = {}): Promise<TftForecast> {
    this.assertUsable();
    const prepared = forecastWindows(history, future, this.spec, this.encoding);
    const p = this.spec.predictionLength;
    const quantiles = this.hyperparameters.quantiles;
    const q = quantiles.length;
    const values = new Float32Array(prepared.windows.length * p * q);
    await this.inBatches(prepared.windows, options.batchSize, async (offset, outputs) => {
      const batch = await outputs.prediction.data();
      for (let row = 0; row < batch.length; row += q) {
        // Sorted so quantiles never cross; softplus keeps them ≥ 0, the clip guards rounding.
        const sorted = Array.from(batch.subarray(row, row + q), (v) => Math.max(0, v)).sort((a, b) => a - b);
        values.set(sorted, offset * p * q + row);
      }
    });
    return {
      series: prepared.series,
      quantiles: [...quantiles],
      predictionLength: p,
      values,
      timeIdx: prepared.timeIdx,
      coldStart: prepared.coldStart,
    };
  }

  async interpret(history: SeriesTable, future: SeriesTable): Promise<TftInterpretation> {
    this.assertUsable();
    const prepared = forecastWindows(history, future, this.spec, this.encoding);
    const { encoderLength: e } = this.layout;
    const v = this.encoding.variables;
    const staticSum = new Float64Array(v.staticCategoricals.length + v.staticReals.length);
    const encoderSum = new Float64Array(v.knownCategoricals.length + v.knownReals.length + v.unknownReals.length);
    const decoderSum = new Float64Array(v.knownCategoricals.length + v.knownReals.length);
    const attentionSum = new Float64Array(e);
    const attentionCount = new Float64Array(e);
    await this.inBatches(prepared.windows, undefined, async (_offset, outputs, inputs) => {
      const [staticW, encoderW, decoderW, attention] = tf.tidy(() => {
        const mask = inputs.encoderMask;
        const lengths = tf.maximum(tf.sum(mask, 1, true), 1);
        // Encoder weights averaged over real steps only (pytorch-forecasting's `interpret_output`).
        const encoder = tf.div(tf.sum(tf.mul(outputs.encoderWeights, tf.expandDims(mask, -1)), 1), lengths);
        const firstStep = tf.mean(tf.squeeze(tf.slice(outputs.attention, [0, 0, 0, 0], [-1, -1, 1, e]), [2]), 1);
        return [
          tf.sum(outputs.staticWeights, 0),
          tf.sum(encoder, 0),
          tf.sum(tf.mean(outputs.decoderWeights, 1), 0),
          tf.mul(firstStep, mask),
        ];
      });
      const add = (target: Float64Array, values: ArrayLike<number>) => {
        for (let i = 0; i < target.length; i++) target[i] = (target[i] as number) + (values[i] as number);
      };
      add(staticSum, await (staticW as tf.Tensor).data());
      add(encoderSum, await (encoderW as tf.Tensor).data());
      add(decoderSum, await (decoderW as tf.Tensor).data());
      const attentionValues = await (attention as tf.Tensor).data();
      const maskValues = await inputs.encoderMask.data();
      for (let i = 0; i < attentionValues.length; i++) {
        attentionSum[i % e] = (attentionSum[i % e] as number) + (attentionValues[i] as number);
        attentionCount[i % e] = (attentionCount[i % e] as number) + (maskValues[i] as number);
      }
      tf.dispose([staticW, encoderW, decoderW, attention] as tf.Tensor[]);
    });
    const named = (names: string[], sums: Float64Array) => {
      const total = sums.reduce((a, b) => a + b, 0) || 1;
      return Object.fromEntries(names.map((name, i) => [name, (sums[i] as number) / total]));
    };
    const meanAttention = Array.from(attentionSum, (sum, i) => {
      const count = attentionCount[i] as number;
      return count > 0 ? sum / count : 0;
    });
    const attentionTotal = meanAttention.reduce((a, b) => a + b, 0) || 1;
    return {
      staticImportance: named([...v.staticCategoricals, ...v.staticReals], staticSum),
      encoderImportance: named([...v.knownCategoricals, ...v.knownReals, ...v.unknownReals], encoderSum),
      decoderImportance: named([...v.knownCategoricals, ...v.knownReals], decoderSum),
      attention: meanAttention.map((a) => a / attentionTotal),
    };
  }

  async save(dir: string): Promise<void> {
    this.assertUsable();
    const { saveModel } = await import("./persist.js");
    await saveModel(this, dir);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.network.releaseWeights();
  }

  /** Runs the network (inference mode) over the windows, a batch at a time. */
  private async inBatches(
    windows: Window[],
    batchSize: number | undefined,
    visit: (
      offset: number,
      outputs: ReturnType<TemporalFusionTransformer["forward"]>,
      inputs: ReturnType<typeof batchTensors>,
    ) => Promise<void>,
  ): Promise<void> {
    const size = Math.max(1, Math.floor(batchSize ?? defaultPredictBatch));
    for (let offset = 0; offset < windows.length; offset += size) {
      const arrays = fillBatch(windows.slice(offset, offset + size), this.layout);
      const inputs = batchTensors(tf, arrays, this.layout);
      const outputs = this.network.forward(inputs, { training: false });
      try {
        await visit(offset, outputs, inputs);
      } finally {
        tf.dispose([...Object.values(outputs), ...Object.values(inputs)]);
      }
    }
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error("this TFT model was disposed");
  }
}
