/**
 * Windows: an encoder stretch of a series' history and the decoder stretch after it. The table's
 * rows are encoded once (codes, scaled reals, normalised target); a batch of windows is then copied
 * out of them into flat arrays only when it is needed, so no more than one batch of windows ever
 * exists. Encoders shorter than the encoder length are left-padded and masked.
 */
import type * as TF from "@tensorflow/tfjs";
import { codeLookup, type DataEncoding, fitTargetNormalizer, scale, softplusInverse } from "./encoding.js";
import type { TftInputs } from "./layers/network.js";
import { categoricalColumn, hasColumn, realColumn, type SeriesIndex } from "./table.js";
import type { SeriesTable, TftDatasetSpec } from "./types.js";

/** The rows of a table, encoded. */
export interface EncodedRows {
  /** `[rows × known categoricals]`. */
  knownCodes: Int32Array;
  /** `[rows × user known reals]`, scaled (the relative time index is added per window). */
  knownReals: Float32Array;
  /** `[rows × unknown reals]`, the normalised target first; empty for rows of the future. */
  unknownReals: Float32Array;
  /** The raw target, when the rows have it. */
  target: Float64Array | undefined;
}

/** What a window takes from its series as a whole. */
export interface SeriesInputs {
  /** `[static categoricals]`, the series' own code first. */
  staticCodes: Int32Array;
  /** `[static reals − 1]`: user static reals, then target centre and scale, scaled (the encoder length comes per window). */
  staticReals: Float32Array;
  center: number;
  scale: number;
  /** Whether the model was trained on this series. */
  known: boolean;
}

export interface Window {
  series: SeriesInputs;
  encoder: EncodedRows;
  /** The row after the encoder's last; its real length is `encoderLength` ≤ the encoder length. */
  encoderEnd: number;
  encoderLength: number;
  decoder: EncodedRows;
  decoderStart: number;
}

export interface Layout {
  encoderLength: number;
  predictionLength: number;
  staticCategoricals: number;
  /** Including the encoder length. */
  staticReals: number;
  knownCategoricals: number;
  /** User known reals (without the relative time index). */
  knownReals: number;
  unknownReals: number;
}

export function layoutOf(spec: TftDatasetSpec, encoding: DataEncoding): Layout {
  const v = encoding.variables;
  return {
    encoderLength: spec.encoderLength,
    predictionLength: spec.predictionLength,
    staticCategoricals: v.staticCategoricals.length,
    staticReals: v.staticReals.length,
    knownCategoricals: v.knownCategoricals.length,
    knownReals: v.knownReals.length - 1,
    unknownReals: v.unknownReals.length,
  };
}

/** Per series, the target normaliser rows are scaled with (see `seriesInputs`). */
export type NormalizerOf = (series: number) => { center: number; scale: number };

/** Encodes every row of `table`; `withHistory` rows carry the target and the unknown reals. */
export function encodeRows(
  table: SeriesTable,
  spec: TftDatasetSpec,
  encoding: DataEncoding,
  index: SeriesIndex,
  normalizerOf: NormalizerOf,
  withHistory: boolean,
  what: string,
): EncodedRows {
  const rows = table.length;
  const v = encoding.variables;
  const knownCodes = new Int32Array(rows * v.knownCategoricals.length);
  v.knownCategoricals.forEach((name, k) => {
    const value = categoricalColumn(table, name, what);
    const code = codeLookup(encoding.classes[name] ?? []);
    for (let row = 0; row < rows; row++) knownCodes[row * v.knownCategoricals.length + k] = code(value(row));
  });
  const userKnown = spec.knownReals;
  const knownReals = new Float32Array(rows * userKnown.length);
  userKnown.forEach((name, k) => {
    const values = realColumn(table, name, what);
    const scaler = encoding.scalers[name] as { mean: number; std: number };
    for (let row = 0; row < rows; row++) knownReals[row * userKnown.length + k] = scale(values[row] as number, scaler);
  });
  if (!withHistory) return { knownCodes, knownReals, unknownReals: new Float32Array(0), target: undefined };

  const width = v.unknownReals.length;
  const unknownReals = new Float32Array(rows * width);
  const targetValues = realColumn(table, spec.target, what);
  const target = Float64Array.from(targetValues);
  for (let s = 0; s < index.names.length; s++) {
    const { center, scale: spread } = normalizerOf(s);
    const end = (index.start[s] as number) + (index.length[s] as number);
    for (let row = index.start[s] as number; row < end; row++) {
      unknownReals[row * width] = (softplusInverse(target[row] as number) - center) / spread;
    }
  }
  v.unknownReals.slice(1).forEach((name, k) => {
    const values = realColumn(table, name, what);
    const scaler = encoding.scalers[name] as { mean: number; std: number };
    for (let row = 0; row < rows; row++) unknownReals[row * width + k + 1] = scale(values[row] as number, scaler);
  });
  return { knownCodes, knownReals, unknownReals, target };
}

/**
 * The static inputs of each series of `table`. A series the model was trained on keeps its fitted
 * normaliser; another is normalised on its own history (`historyEnd`) when it has two rows or more,
 * else with the medians. Static values come from the series' first row, or are unknown/missing
 * when `table` lacks the column (future rows of a series with no history).
 */
export function seriesInputs(
  table: SeriesTable,
  spec: TftDatasetSpec,
  encoding: DataEncoding,
  index: SeriesIndex,
  historyEnd: Int32Array,
  what: string,
): SeriesInputs[] {
  const v = encoding.variables;
  const groupCode = codeLookup(encoding.classes[spec.group] ?? []);
  const codes = v.staticCategoricals.map((name) => ({
    value: hasColumn(table, name) ? categoricalColumn(table, name, what) : undefined,
    code: codeLookup(encoding.classes[name] ?? []),
  }));
  const reals = spec.staticReals.map((name) => ({
    values: hasColumn(table, name) ? realColumn(table, name, what) : undefined,
    scaler: encoding.scalers[name] as { mean: number; std: number },
  }));
  const target = hasColumn(table, spec.target) ? realColumn(table, spec.target, what) : undefined;
  const centerScaler = encoding.scalers[`${spec.target}_center`] as { mean: number; std: number };
  const scaleScaler = encoding.scalers[`${spec.target}_scale`] as { mean: number; std: number };

  return index.names.map((name, s) => {
    const first = index.start[s] as number;
    const code = groupCode(name);
    const staticCodes = Int32Array.from(codes, (c) => (c.value ? c.code(c.value(first)) : 0));
    staticCodes[0] = code;
    let normalizer: { center: number; scale: number } | undefined;
    if (code > 0) {
      normalizer = {
        center: encoding.targetCenter[code - 1] as number,
        scale: encoding.targetScale[code - 1] as number,
      };
    } else if (target) {
      normalizer = fitTargetNormalizer(target, first, historyEnd[s] as number);
    }
    normalizer ??= encoding.missingTarget;
    const staticReals = new Float32Array(reals.length + 2);
    reals.forEach((r, k) => {
      staticReals[k] = r.values ? scale(r.values[first] as number, r.scaler) : 0;
    });
    staticReals[reals.length] = scale(normalizer.center, centerScaler);
    staticReals[reals.length + 1] = scale(normalizer.scale, scaleScaler);
    return { staticCodes, staticReals, center: normalizer.center, scale: normalizer.scale, known: code > 0 };
  });
}

export interface BatchArrays {
  size: number;
  /** `[B × E × (1 + known reals + unknown reals)]`: relative time, known reals, unknown reals. */
  encoderReals: Float32Array;
  /** `[B × P × (1 + known reals)]`. */
  decoderReals: Float32Array;
  encoderMask: Float32Array;
  targetScale: Float32Array;
  staticCodes: Int32Array;
  staticReals: Float32Array;
  encoderCodes: Int32Array;
  decoderCodes: Int32Array;
  /** `[B × P]` raw targets of the decoder, when its rows have them. */
  target: Float32Array | undefined;
}

/**
 * Copies a batch of windows into flat arrays. `hideSeries(i)` true replaces window i's own series
 * code by the unknown slot (training does so for a few windows, so that slot learns "a series
 * never seen" instead of staying at its random initial value).
 */
export function fillBatch(windows: Window[], layout: Layout, hideSeries?: (i: number) => boolean): BatchArrays {
  const { encoderLength: e, predictionLength: p } = layout;
  const b = windows.length;
  const kr = layout.knownReals;
  const ur = layout.unknownReals;
  const encoderWidth = 1 + kr + ur;
  const decoderWidth = 1 + kr;
  const ck = layout.knownCategoricals;
  const cs = layout.staticCategoricals;
  const sr = layout.staticReals;
  const arrays: BatchArrays = {
    size: b,
    encoderReals: new Float32Array(b * e * encoderWidth),
    decoderReals: new Float32Array(b * p * decoderWidth),
    encoderMask: new Float32Array(b * e),
    targetScale: new Float32Array(b * 2),
    staticCodes: new Int32Array(b * cs),
    staticReals: new Float32Array(b * sr),
    encoderCodes: new Int32Array(b * e * ck),
    decoderCodes: new Int32Array(b * p * ck),
    target: windows.every((w) => w.decoder.target) ? new Float32Array(b * p) : undefined,
  };
  windows.forEach((w, i) => {
    arrays.staticCodes.set(w.series.staticCodes, i * cs);
    if (hideSeries?.(i)) arrays.staticCodes[i * cs] = 0;
    arrays.staticReals.set(w.series.staticReals, i * sr);
    arrays.staticReals[i * sr + sr - 1] = (w.encoderLength - 0.5 * e) / (0.5 * e);
    arrays.targetScale[i * 2] = w.series.center;
    arrays.targetScale[i * 2 + 1] = w.series.scale;
    for (let j = 0; j < w.encoderLength; j++) {
      const position = e - w.encoderLength + j;
      const row = w.encoderEnd - w.encoderLength + j;
      const base = (i * e + position) * encoderWidth;
      arrays.encoderReals[base] = (position - e) / e;
      arrays.encoderReals.set(w.encoder.knownReals.subarray(row * kr, (row + 1) * kr), base + 1);
      arrays.encoderReals.set(w.encoder.unknownReals.subarray(row * ur, (row + 1) * ur), base + 1 + kr);
      arrays.encoderCodes.set(w.encoder.knownCodes.subarray(row * ck, (row + 1) * ck), (i * e + position) * ck);
      arrays.encoderMask[i * e + position] = 1;
    }
    for (let j = 0; j < p; j++) {
      const row = w.decoderStart + j;
      const base = (i * p + j) * decoderWidth;
      arrays.decoderReals[base] = j / e;
      arrays.decoderReals.set(w.decoder.knownReals.subarray(row * kr, (row + 1) * kr), base + 1);
      arrays.decoderCodes.set(w.decoder.knownCodes.subarray(row * ck, (row + 1) * ck), (i * p + j) * ck);
      if (arrays.target) arrays.target[i * p + j] = (w.decoder.target as Float64Array)[row] as number;
    }
  });
  return arrays;
}

/** The network's input tensors for a batch (the caller disposes them). */
export function batchTensors(tf: typeof TF, arrays: BatchArrays, layout: Layout): TftInputs {
  const { encoderLength: e, predictionLength: p } = layout;
  const b = arrays.size;
  const ck = layout.knownCategoricals;
  return {
    encoderReals: tf.tensor3d(arrays.encoderReals, [b, e, 1 + layout.knownReals + layout.unknownReals]),
    decoderReals: tf.tensor3d(arrays.decoderReals, [b, p, 1 + layout.knownReals]),
    encoderMask: tf.tensor2d(arrays.encoderMask, [b, e]),
    targetScale: tf.tensor2d(arrays.targetScale, [b, 2]),
    staticCategoricals: tf.tensor2d(arrays.staticCodes, [b, layout.staticCategoricals], "int32"),
    staticReals: tf.tensor2d(arrays.staticReals, [b, layout.staticReals]),
    ...(ck > 0
      ? {
          encoderCategoricals: tf.tensor3d(arrays.encoderCodes, [b, e, ck], "int32"),
          decoderCategoricals: tf.tensor3d(arrays.decoderCodes, [b, p, ck], "int32"),
        }
      : {}),
  };
}
