/**
 * The training and validation windows of a table. Training windows are every (series, decoder
 * start) whose decoder ends before `validationStart` and whose encoder has at least half the encoder
 * length of history (shorter ones are padded, so the model learns short histories too); they are
 * kept as two integers each and become arrays only per batch. The validation window of a series is
 * the one whose decoder starts at `validationStart`. Normalisers and scalers see only rows before it.
 */
import { checkTarget, type DataEncoding, fitEncoding } from "./encoding.js";
import { TftDataError } from "./errors.js";
import { indexSeries, realColumn } from "./table.js";
import type { SeriesTable, TftDatasetSpec } from "./types.js";
import { type EncodedRows, encodeRows, type SeriesInputs, seriesInputs, type Window } from "./windows.js";

export interface TrainingData {
  encoding: DataEncoding;
  rows: EncodedRows;
  series: SeriesInputs[];
  seriesStart: Int32Array;
  /** Training window i: series `windowSeries[i]`, decoder from row `windowDecoder[i]`. */
  windowSeries: Int32Array;
  windowDecoder: Int32Array;
  validation: Window[];
}

export function minimumEncoderLength(encoderLength: number): number {
  return Math.max(1, Math.ceil(encoderLength / 2));
}

export function prepareTraining(table: SeriesTable, spec: TftDatasetSpec, validationStart?: number): TrainingData {
  const what = "The training table";
  const index = indexSeries(table, spec.group, spec.timeIdx, what);
  checkTarget(realColumn(table, spec.target, what), 0, table.length, spec.target, what);
  const e = spec.encoderLength;
  const p = spec.predictionLength;
  const minEncoder = minimumEncoderLength(e);
  const count = index.names.length;
  const trainingEnd = new Int32Array(count);
  const windowsPerSeries = new Int32Array(count);
  for (let s = 0; s < count; s++) {
    const start = index.start[s] as number;
    const length = index.length[s] as number;
    const beforeValidation =
      validationStart === undefined
        ? length
        : Math.max(0, Math.min(length, validationStart - (index.firstTime[s] as number)));
    trainingEnd[s] = start + beforeValidation;
    windowsPerSeries[s] = Math.max(0, beforeValidation - minEncoder - p + 1);
  }
  const total = windowsPerSeries.reduce((a, b) => a + b, 0);
  if (total === 0) {
    const where = validationStart === undefined ? "" : ` before time index ${validationStart} (the validation start)`;
    throw new TftDataError(
      `No series is long enough to train on: each needs ${minEncoder + p} rows${where} (half the encoder length ${e} plus the prediction length ${p}); give a longer history or shorter lengths.`,
      { series: count, rows: table.length },
    );
  }
  const trained = Array.from(windowsPerSeries, (n) => n > 0);
  const encoding = fitEncoding({ table, spec, index, trainingEnd, trained });
  const series = seriesInputs(table, spec, encoding, index, trainingEnd, what);
  const rows = encodeRows(table, spec, encoding, index, (s) => series[s] as SeriesInputs, true, what);

  const windowSeries = new Int32Array(total);
  const windowDecoder = new Int32Array(total);
  let w = 0;
  for (let s = 0; s < count; s++) {
    const first = (index.start[s] as number) + minEncoder;
    for (let k = 0; k < (windowsPerSeries[s] as number); k++, w++) {
      windowSeries[w] = s;
      windowDecoder[w] = first + k;
    }
  }

  const validation: Window[] = [];
  if (validationStart !== undefined) {
    for (let s = 0; s < count; s++) {
      const start = index.start[s] as number;
      const offset = validationStart - (index.firstTime[s] as number);
      if (offset < 1 || offset + p > (index.length[s] as number)) continue;
      validation.push({
        series: series[s] as SeriesInputs,
        encoder: rows,
        encoderEnd: start + offset,
        encoderLength: Math.min(e, offset),
        decoder: rows,
        decoderStart: start + offset,
      });
    }
  }
  return { encoding, rows, series, seriesStart: index.start, windowSeries, windowDecoder, validation };
}

/** Training window `i` as a window. */
export function trainingWindow(data: TrainingData, i: number, encoderLength: number): Window {
  const s = data.windowSeries[i] as number;
  const decoderStart = data.windowDecoder[i] as number;
  return {
    series: data.series[s] as SeriesInputs,
    encoder: data.rows,
    encoderEnd: decoderStart,
    encoderLength: Math.min(encoderLength, decoderStart - (data.seriesStart[s] as number)),
    decoder: data.rows,
    decoderStart,
  };
}
