/**
 * The consolidated dataset as the training and inference tasks read it: the data pipeline's newest
 * run (`<client>/latest.json`), its summary, and its Parquet tables loaded as columnar series tables.
 */
import path from "node:path";
import type { Config } from "../core/config.js";
import { TdfError } from "../core/errors.js";
import type { ConsolidatedSummary, DatasetColumns } from "../data/consolidate.js";
import type { SeriesTable, TftDatasetSpec } from "../model/tft/index.js";
import { downloadToFile, type ObjectStore } from "../storage/index.js";
import type { ModelType } from "../tracking/index.js";

// The data pipeline writes these; this module only reads them.
export type { ConsolidatedSummary, DatasetColumns } from "../data/consolidate.js";
export type { Frequency } from "../data/settings.js";

export class DatasetError extends TdfError {
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super("dataset_missing", message, options);
    this.name = "DatasetError";
  }
}

export interface LatestDataset {
  /** The data pipeline run the dataset comes from. */
  runId: string;
  summary: ConsolidatedSummary;
  /** Downloads one of the run's consolidated tables (`top_seller`, `long_tail`, `future`); returns the local file. */
  fetch(table: ModelType | "future"): Promise<string>;
}

export async function openLatestDataset(
  store: ObjectStore,
  config: Config,
  client: string,
  workDir: string,
): Promise<LatestDataset> {
  const bucket = config.storage.buckets.dataPipeline;
  const json = async <T>(key: string, missing: string): Promise<T> => {
    const bytes = await store.getBytes(bucket, key);
    if (!bytes) throw new DatasetError(missing, { context: { bucket, key } });
    try {
      return JSON.parse(Buffer.from(bytes).toString("utf8")) as T;
    } catch (cause) {
      throw new DatasetError(`${bucket}/${key} is not valid JSON; re-run the data_transformation pipeline.`, {
        cause,
      });
    }
  };
  const latest = await json<{ runId: string; summary: string }>(
    `${client}/latest.json`,
    `Client "${client}" has no consolidated dataset (${bucket}/${client}/latest.json is missing): run the data_transformation pipeline first (tdf run data_transformation --client ${client}).`,
  );
  const summary = await json<ConsolidatedSummary>(
    latest.summary,
    `${bucket}/${latest.summary}, named by ${client}/latest.json, is missing: re-run the data_transformation pipeline.`,
  );
  const prefix = path.posix.dirname(latest.summary);
  return {
    runId: latest.runId,
    summary,
    async fetch(table) {
      const key = `${prefix}/${table}.parquet`;
      const file = path.join(workDir, "dataset", `${table}.parquet`);
      if (!(await downloadToFile(store, bucket, key, file))) {
        throw new DatasetError(`${bucket}/${key} is missing from data pipeline run ${latest.runId}: re-run it.`);
      }
      return file;
    },
  };
}

/** The model's dataset spec from the summary's columns. */
export function datasetSpec(
  columns: DatasetColumns,
  lengths: { encoderLength: number; predictionLength: number },
): TftDatasetSpec {
  const { group, timeIdx, target, staticCategoricals, staticReals, knownCategoricals, knownReals, unknownReals } =
    columns;
  return {
    group,
    timeIdx,
    target,
    staticCategoricals,
    staticReals,
    knownCategoricals,
    knownReals,
    unknownReals,
    ...lengths,
  };
}

export interface LoadedTable {
  table: SeriesTable;
  /** The period each row is, `YYYY-MM-DD`. */
  dates: string[];
}

/**
 * Reads the dataset's columns from a Parquet file into a series table, rows sorted by series and
 * time. `where` is a trusted SQL condition built by the caller (never from user input).
 */
export async function readSeriesTable(
  file: string,
  columns: DatasetColumns,
  options: { where?: string; future?: boolean } = {},
): Promise<LoadedTable> {
  const where = options.where ?? "true";
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const instance = await DuckDBInstance.create(":memory:", { threads: "2" });
  const connection = await instance.connect();
  try {
    // Future rows carry only what is known ahead: the series, its time and the known covariates.
    const categorical = options.future
      ? [columns.group, ...columns.knownCategoricals]
      : [columns.group, ...columns.staticCategoricals, ...columns.knownCategoricals];
    const reals = options.future
      ? columns.knownReals
      : [columns.target, ...columns.staticReals, ...columns.knownReals, ...columns.unknownReals];
    const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
    const select = [
      ...[...new Set(categorical)].map((c) => `CAST(${quote(c)} AS VARCHAR) AS ${quote(c)}`),
      ...[...new Set(reals)].map((c) => `CAST(${quote(c)} AS DOUBLE) AS ${quote(c)}`),
      `CAST(${quote(columns.timeIdx)} AS INTEGER) AS ${quote(columns.timeIdx)}`,
      `strftime(${quote(columns.date)}, '%Y-%m-%d') AS "__date"`,
    ];
    const reader = await connection.runAndReadAll(
      `SELECT ${select.join(", ")} FROM read_parquet('${file.replaceAll("'", "''")}') WHERE ${where} ORDER BY ${quote(columns.group)}, ${quote(columns.timeIdx)}`,
    );
    const raw = reader.getColumnsObjectJS() as Record<string, unknown[]>;
    const length = reader.currentRowCount;
    const out: SeriesTable["columns"] = {};
    for (const c of new Set(categorical)) out[c] = (raw[c] ?? []).map((v) => (v === null ? "unknown" : String(v)));
    // Lags and rolling statistics are missing at a series' start; zero is what the model sees there.
    for (const c of new Set(reals)) out[c] = Float32Array.from(raw[c] ?? [], (v) => (v === null ? 0 : Number(v)));
    out[columns.timeIdx] = Int32Array.from(raw[columns.timeIdx] ?? [], Number);
    return { table: { length, columns: out }, dates: (raw.__date ?? []).map(String) };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** The rows of a table whose indices are given (in order), as a new table. */
export function takeRows(table: SeriesTable, rows: readonly number[]): SeriesTable {
  const columns: SeriesTable["columns"] = {};
  for (const [name, values] of Object.entries(table.columns)) {
    columns[name] = Array.isArray(values)
      ? rows.map((i) => values[i] as string)
      : (values.constructor as Float32ArrayConstructor).from(rows, (i) => values[i] as number);
  }
  return { length: rows.length, columns };
}

/** The rows of a loaded table whose time index passes `keep`. */
export function filterByTime(loaded: LoadedTable, timeIdx: string, keep: (t: number) => boolean): LoadedTable {
  const times = loaded.table.columns[timeIdx] as Int32Array;
  const rows: number[] = [];
  for (let i = 0; i < loaded.table.length; i++) if (keep(times[i] as number)) rows.push(i);
  return { table: takeRows(loaded.table, rows), dates: rows.map((i) => loaded.dates[i] as string) };
}
