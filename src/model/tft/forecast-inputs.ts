/**
 * The windows of a forecast: for each series of the future table, its last `encoderLength` history
 * rows (fewer, padded, when its history is short; none for a series that is new) and its future rows.
 */
import { checkTarget, codeLookup, type DataEncoding } from "./encoding.js";
import { TftDataError } from "./errors.js";
import { indexSeries, type SeriesIndex } from "./table.js";
import type { SeriesTable, TftDatasetSpec } from "./types.js";
import { encodeRows, seriesInputs, type Window } from "./windows.js";

export interface ForecastWindows {
  series: string[];
  windows: Window[];
  /** `[series × P]`. */
  timeIdx: Int32Array;
  coldStart: boolean[];
}

const noSeries: SeriesIndex = {
  names: [],
  start: new Int32Array(),
  length: new Int32Array(),
  firstTime: new Int32Array(),
};

export function forecastWindows(
  history: SeriesTable,
  future: SeriesTable,
  spec: TftDatasetSpec,
  encoding: DataEncoding,
): ForecastWindows {
  const p = spec.predictionLength;
  const historyWhat = "The forecast's history table";
  const futureWhat = "The forecast's future table";
  const futureIndex = indexSeries(future, spec.group, spec.timeIdx, futureWhat);
  futureIndex.names.forEach((name, f) => {
    if (futureIndex.length[f] !== p) {
      throw new TftDataError(
        `${futureWhat} has ${futureIndex.length[f]} rows for series "${name}"; the model forecasts ${p} periods, so give exactly ${p} rows of known covariates per series.`,
        { series: name },
      );
    }
  });
  const historyIndex = history.length > 0 ? indexSeries(history, spec.group, spec.timeIdx, historyWhat) : noSeries;
  const historyEnd = Int32Array.from(historyIndex.start, (start, s) => start + (historyIndex.length[s] as number));
  if (history.length > 0) checkTarget(historyTarget(history, spec), 0, history.length, spec.target, historyWhat);
  const historyInputs = seriesInputs(history, spec, encoding, historyIndex, historyEnd, historyWhat);
  const futureInputs = seriesInputs(future, spec, encoding, futureIndex, futureIndex.start, futureWhat);
  const historyRows =
    history.length > 0
      ? encodeRows(
          history,
          spec,
          encoding,
          historyIndex,
          (s) => historyInputs[s] as Window["series"],
          true,
          historyWhat,
        )
      : undefined;
  const futureRows = encodeRows(future, spec, encoding, futureIndex, () => encoding.missingTarget, false, futureWhat);
  const historyOf = new Map(historyIndex.names.map((name, s) => [name, s]));
  const known = codeLookup(encoding.classes[spec.group] ?? []);

  const timeIdx = new Int32Array(futureIndex.names.length * p);
  const windows = futureIndex.names.map((name, f): Window => {
    const start = futureIndex.start[f] as number;
    for (let j = 0; j < p; j++) timeIdx[f * p + j] = (futureIndex.firstTime[f] as number) + j;
    const s = historyOf.get(name);
    if (s === undefined || !historyRows) {
      return {
        series: futureInputs[f] as Window["series"],
        encoder: futureRows,
        encoderEnd: 0,
        encoderLength: 0,
        decoder: futureRows,
        decoderStart: start,
      };
    }
    const lastTime = (historyIndex.firstTime[s] as number) + (historyIndex.length[s] as number) - 1;
    if (futureIndex.firstTime[f] !== lastTime + 1) {
      throw new TftDataError(
        `Series "${name}": its future starts at time index ${futureIndex.firstTime[f]} but its history ends at ${lastTime}; the future must follow the history directly.`,
        { series: name },
      );
    }
    return {
      series: historyInputs[s] as Window["series"],
      encoder: historyRows,
      encoderEnd: historyEnd[s] as number,
      encoderLength: Math.min(spec.encoderLength, historyIndex.length[s] as number),
      decoder: futureRows,
      decoderStart: start,
    };
  });
  return { series: futureIndex.names, windows, timeIdx, coldStart: futureIndex.names.map((n) => known(n) === 0) };
}

function historyTarget(history: SeriesTable, spec: TftDatasetSpec): ArrayLike<number> {
  const values = history.columns[spec.target];
  if (values === undefined || Array.isArray(values)) {
    throw new TftDataError(
      `The forecast's history table has no numeric target column "${spec.target}"; the encoder needs the target's history.`,
    );
  }
  return values;
}
