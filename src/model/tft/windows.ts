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

/** A batch as flat arrays; reals are variable-major (one contiguous block per variable). */
export interface BatchArrays {
  size: number;
  /** `[1 + known reals + unknown reals][B × E]`: relative time, known reals, unknown reals. */
  encoderReals: Float32Array;
  /** `[1 + known reals][B × P]`. */
  decoderReals: Float32Array;
  /** `[static reals][B]`. */
  staticReals: Float32Array;
  encoderMask: Float32Array;
  targetScale: Float32Array;
  staticCodes: Int32Array;
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
  const ck = layout.knownCategoricals;
  const cs = layout.staticCategoricals;
  const sr = layout.staticReals;
  const arrays: BatchArrays = {
    size: b,
    encoderReals: new Float32Array((1 + kr + ur) * b * e),
    decoderReals: new Float32Array((1 + kr) * b * p),
    staticReals: new Float32Array(sr * b),
    encoderMask: new Float32Array(b * e),
    targetScale: new Float32Array(b * 2),
    staticCodes: new Int32Array(b * cs),
    encoderCodes: new Int32Array(b * e * ck),
    decoderCodes: new Int32Array(b * p * ck),
    target: windows.every((w) => w.decoder.target) ? new Float32Array(b * p) : undefined,
  };
  const encoderBlock = b * e;
  const decoderBlock = b * p;
  windows.forEach((w, i) => {
    arrays.staticCodes.set(w.series.staticCodes, i * cs);
    if (hideSeries?.(i)) arrays.staticCodes[i * cs] = 0;
    for (let k = 0; k < sr - 1; k++) arrays.staticReals[k * b + i] = w.series.staticReals[k] as number;
    arrays.staticReals[(sr - 1) * b + i] = (w.encoderLength - 0.5 * e) / (0.5 * e);
    arrays.targetScale[i * 2] = w.series.center;
    arrays.targetScale[i * 2 + 1] = w.series.scale;
    const { encoder, decoder } = w;
    for (let j = 0; j < w.encoderLength; j++) {
      const position = e - w.encoderLength + j;
      const row = w.encoderEnd - w.encoderLength + j;
      const at = i * e + position;
      arrays.encoderReals[at] = (position - e) / e;
      for (let k = 0; k < kr; k++)
        arrays.encoderReals[(1 + k) * encoderBlock + at] = encoder.knownReals[row * kr + k] as number;
      for (let k = 0; k < ur; k++) {
        arrays.encoderReals[(1 + kr + k) * encoderBlock + at] = encoder.unknownReals[row * ur + k] as number;
      }
      for (let k = 0; k < ck; k++) arrays.encoderCodes[at * ck + k] = encoder.knownCodes[row * ck + k] as number;
      arrays.encoderMask[at] = 1;
    }
    for (let j = 0; j < p; j++) {
      const row = w.decoderStart + j;
      const at = i * p + j;
      arrays.decoderReals[at] = j / e;
      for (let k = 0; k < kr; k++)
        arrays.decoderReals[(1 + k) * decoderBlock + at] = decoder.knownReals[row * kr + k] as number;
      for (let k = 0; k < ck; k++) arrays.decoderCodes[at * ck + k] = decoder.knownCodes[row * ck + k] as number;
      if (arrays.target) arrays.target[at] = (decoder.target as Float64Array)[row] as number;
    }
  });
  return arrays;
}

/** The network's input tensors for a batch (the caller disposes them). */
export function batchTensors(tf: typeof TF, arrays: BatchArrays, layout: Layout): TftInputs {
  const { encoderLength: e, predictionLength: p } = layout;
  const b = arrays.size;
  const ck = layout.knownCategoricals;
  const blocks = (values: Float32Array, count: number, shape: number[]) => {
    const size = shape.reduce((x, y) => x * y, 1);
    return Array.from({ length: count }, (_, k) => tf.tensor(values.subarray(k * size, (k + 1) * size), shape));
  };
  return {
    encoderReals: blocks(arrays.encoderReals, 1 + layout.knownReals + layout.unknownReals, [b, e]),
    decoderReals: blocks(arrays.decoderReals, 1 + layout.knownReals, [b, p]),
    staticReals: blocks(arrays.staticReals, layout.staticReals, [b]),
    encoderMask: tf.tensor2d(arrays.encoderMask, [b, e]),
    targetScale: tf.tensor2d(arrays.targetScale, [b, 2]),
    staticCategoricals: tf.tensor2d(arrays.staticCodes, [b, layout.staticCategoricals], "int32"),
    ...(ck > 0
      ? {
          encoderCategoricals: tf.tensor3d(arrays.encoderCodes, [b, e, ck], "int32"),
          decoderCategoricals: tf.tensor3d(arrays.decoderCodes, [b, p, ck], "int32"),
        }
      : {}),
  };
}
