/**
 * How columns become network inputs, fitted on the training part and saved with the model:
 * category codes (0 is the unknown slot), standard scalers for real inputs, and the per-series target
 * normaliser — pytorch-forecasting's `GroupNormalizer(transformation="softplus")`: the target is
 * mapped by the inverse softplus, centred and scaled per series (mean, sample standard deviation),
 * and predictions come back through `softplus(ŷ·scale + centre)`. The centre and scale are inputs
 * too (static reals, as `add_target_scales`), with the encoder length and the relative time index.
 */
import { TftConfigError, TftDataError } from "./errors.js";
import { categoricalColumn, realColumn, type SeriesIndex } from "./table.js";
import type { SeriesTable, TftDatasetSpec } from "./types.js";

export interface Scaler {
  mean: number;
  std: number;
}

export interface NetworkVariables {
  staticCategoricals: string[];
  staticReals: string[];
  knownCategoricals: string[];
  knownReals: string[];
  unknownReals: string[];
}

/** JSON-ready; everything prediction needs besides the weights. */
export interface DataEncoding {
  variables: NetworkVariables;
  /** Per categorical variable its classes; a value's code is its index + 1 (0: unknown). */
  classes: Record<string, string[]>;
  /** Per real input (user columns, and the target centre and scale across series). */
  scalers: Record<string, Scaler>;
  /** Target normaliser of each trained series, aligned with `classes[group]`. */
  targetCenter: number[];
  targetScale: number[];
  /** For a series with no usable history: the medians (pytorch-forecasting's `missing_`). */
  missingTarget: { center: number; scale: number };
}

export const relativeTimeIdx = "relative_time_idx";
export const encoderLengthName = "encoder_length";
export const centerName = (target: string) => `${target}_center`;
export const scaleName = (target: string) => `${target}_scale`;

/** pytorch-forecasting adds `np.finfo(np.float16).eps` to every scale. */
const scaleEpsilon = 2 ** -10;
/** Float64 machine epsilon: the floor of the inverse softplus (`torch.finfo(float64).eps`). */
const float64Epsilon = 2 ** -52;

/** `softplus_inv` as pytorch-forecasting computes it (identity above 20). */
export function softplusInverse(y: number): number {
  return y > 20 ? y : y + Math.log(-Math.expm1(-(y + float64Epsilon)));
}

export function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

/** The model's variables in network order: the spec's, plus the derived inputs. */
export function networkVariables(spec: TftDatasetSpec): NetworkVariables {
  const derived = [relativeTimeIdx, encoderLengthName, centerName(spec.target), scaleName(spec.target)];
  const used = [
    spec.group,
    ...spec.staticCategoricals,
    ...spec.staticReals,
    ...spec.knownCategoricals,
    ...spec.knownReals,
    ...spec.unknownReals,
  ];
  for (const name of derived) {
    if (used.includes(name)) {
      throw new TftConfigError(`The dataset spec uses "${name}", a name the model derives itself; rename that column.`);
    }
  }
  return {
    staticCategoricals: [spec.group, ...spec.staticCategoricals.filter((c) => c !== spec.group)],
    staticReals: [...spec.staticReals, centerName(spec.target), scaleName(spec.target), encoderLengthName],
    knownCategoricals: [...spec.knownCategoricals],
    knownReals: [relativeTimeIdx, ...spec.knownReals],
    unknownReals: [spec.target, ...spec.unknownReals.filter((c) => c !== spec.target)],
  };
}

export interface FitInput {
  table: SeriesTable;
  spec: TftDatasetSpec;
  index: SeriesIndex;
  /** Per series, the row after its training part (its first row at or after validation). */
  trainingEnd: Int32Array;
  /** Per series, whether it has a training window (only those series are "known"). */
  trained: boolean[];
}

/** Fits the encoding on the training rows of the trained series. */
export function fitEncoding(input: FitInput): DataEncoding {
  const { table, spec, index, trainingEnd, trained } = input;
  const what = "The training table";
  const variables = networkVariables(spec);
  const trainedSeries = index.names.map((_, s) => s).filter((s) => trained[s]);
  const forRows = (visit: (row: number) => void) => {
    for (const s of trainedSeries) {
      for (let row = index.start[s] as number; row < (trainingEnd[s] as number); row++) visit(row);
    }
  };

  const classes: Record<string, string[]> = { [spec.group]: trainedSeries.map((s) => index.names[s] as string) };
  for (const name of spec.staticCategoricals.filter((c) => c !== spec.group)) {
    const value = categoricalColumn(table, name, what);
    classes[name] = sortedUnique(trainedSeries.map((s) => value(index.start[s] as number)));
  }
  for (const name of spec.knownCategoricals) {
    const value = categoricalColumn(table, name, what);
    const seen = new Set<string>();
    forRows((row) => seen.add(value(row)));
    classes[name] = [...seen].sort();
  }

  const scalers: Record<string, Scaler> = {};
  for (const name of spec.staticReals) {
    const values = realColumn(table, name, what);
    scalers[name] = fitScaler(trainedSeries.map((s) => values[index.start[s] as number] as number));
  }
  for (const name of [...spec.knownReals, ...variables.unknownReals.slice(1)]) {
    const values = realColumn(table, name, what);
    const sample: number[] = [];
    forRows((row) => sample.push(values[row] as number));
    scalers[name] = fitScaler(sample);
  }

  const target = realColumn(table, spec.target, what);
  const targetCenter: number[] = [];
  const targetScale: number[] = [];
  for (const s of trainedSeries) {
    const fitted = fitTargetNormalizer(target, index.start[s] as number, trainingEnd[s] as number);
    targetCenter.push(fitted?.center ?? Number.NaN);
    targetScale.push(fitted?.scale ?? Number.NaN);
  }
  const missingTarget = { center: median(targetCenter), scale: median(targetScale) };
  for (let i = 0; i < targetCenter.length; i++) {
    if (Number.isNaN(targetCenter[i])) targetCenter[i] = missingTarget.center;
    if (Number.isNaN(targetScale[i])) targetScale[i] = missingTarget.scale;
  }
  scalers[centerName(spec.target)] = fitScaler(targetCenter);
  scalers[scaleName(spec.target)] = fitScaler(targetScale);
  return { variables, classes, scalers, targetCenter, targetScale, missingTarget };
}

/**
 * The centre and scale of one series' target rows [start, end): mean and sample standard deviation
 * (pandas' `std`) of the inverse softplus; undefined with fewer than two rows.
 */
export function fitTargetNormalizer(
  target: ArrayLike<number>,
  start: number,
  end: number,
): { center: number; scale: number } | undefined {
  const n = end - start;
  if (n < 2) return undefined;
  let sum = 0;
  for (let row = start; row < end; row++) sum += softplusInverse(target[row] as number);
  const center = sum / n;
  let squares = 0;
  for (let row = start; row < end; row++) squares += (softplusInverse(target[row] as number) - center) ** 2;
  return { center, scale: Math.sqrt(squares / (n - 1)) + scaleEpsilon };
}

/** Checks the target rows [start, end) are finite and ≥ 0 (the softplus normaliser needs it). */
export function checkTarget(target: ArrayLike<number>, start: number, end: number, name: string, what: string): void {
  for (let row = start; row < end; row++) {
    const y = target[row] as number;
    if (!Number.isFinite(y) || y < 0) {
      throw new TftDataError(
        `${what}: the target "${name}" is ${y} at row ${row}; it must be a finite number ≥ 0 (fill or clip it upstream).`,
        { row, column: name },
      );
    }
  }
}

/** Standard scaler over the finite values; a constant or empty input scales by 1. */
export function fitScaler(values: ArrayLike<number>): Scaler {
  let n = 0;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) {
      n++;
      sum += v;
    }
  }
  const mean = n > 0 ? sum / n : 0;
  let squares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) squares += (v - mean) ** 2;
  }
  const std = n > 0 ? Math.sqrt(squares / n) : 0;
  return { mean, std: std > 1e-12 ? std : 1 };
}

/** A scaled value; a missing one becomes 0, the training mean. */
export function scale(value: number, scaler: Scaler): number {
  return Number.isFinite(value) ? (value - scaler.mean) / scaler.std : 0;
}

/** Code lookup for a categorical variable: index + 1, or 0 for a value never seen in training. */
export function codeLookup(classes: readonly string[]): (value: string) => number {
  const codes = new Map(classes.map((c, i) => [c, i + 1]));
  return (value) => codes.get(value) ?? 0;
}

function sortedUnique(values: string[]): string[] {
  return [...new Set(values)].sort();
}

function median(values: number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 ? (finite[mid] as number) : ((finite[mid - 1] as number) + (finite[mid] as number)) / 2;
}
