/**
 * What both drivers write: the batches of a run, checked row by row and turned into the table's
 * columns. Checking happens here, before the database sees a row, so a bad row is reported in words
 * (which SKU, which date, what is wrong) and fails the export before anything is committed.
 */
import { modelTypes } from "../tracking/index.js";
import { SinkError } from "./errors.js";
import type { ForecastBatch, ForecastRow, StoredForecast } from "./types.js";

/** The quantile levels that have their own columns. */
export const columnLevels = [0.1, 0.5, 0.9] as const;

/** One row in the table's terms, without the run's columns (client, run id, created at). */
export interface PreparedRow extends Omit<StoredForecast, "client" | "pipelineRunId" | "createdAt" | "quantiles"> {
  /** Every quantile as a JSON object, keys in order of level (`{"0.1":…,"0.5":…,"0.9":…}`). */
  quantilesJson: string;
}

function invalid(message: string, context?: Record<string, unknown>): SinkError {
  return new SinkError("SINK_INVALID", message, { context });
}

// PostgreSQL's text cannot hold NUL; refusing it here keeps both drivers alike.
const nonEmpty = (value: unknown): value is string =>
  typeof value === "string" && value.trim() !== "" && !value.includes("\u0000");

/** The unit of an export: written atomically, replaced on a re-run. */
export interface ForecastRun {
  client: string;
  pipelineRunId: string;
}

export function assertRun(run: ForecastRun): void {
  if (!nonEmpty(run?.client)) throw invalid("A forecast export needs a client name (not empty, no NUL characters).");
  if (!nonEmpty(run.pipelineRunId)) {
    throw invalid(
      `The forecast export of client ${run.client} needs a pipeline run id (not empty, no NUL characters).`,
    );
  }
}

export function assertLimit(limit: number | undefined): void {
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw invalid(`A forecast query's limit must be a whole number ≥ 1, got ${limit}.`);
  }
}

function assertBatch(
  run: ForecastRun,
  batch: ForecastBatch,
): { modelName: string; modelVersion: string; codeSha: string | null } {
  if (!nonEmpty(batch?.modelName)) throw invalid("A forecast batch needs the name of the model that made it.");
  if (batch.client !== run.client || batch.pipelineRunId !== run.pipelineRunId) {
    throw invalid(
      `The forecast batch of model ${batch.modelName} belongs to client ${batch.client}, run ${batch.pipelineRunId}, not to the export of client ${run.client}, run ${run.pipelineRunId}.`,
    );
  }
  if (!nonEmpty(batch.modelVersion)) throw invalid(`The forecast batch of model ${batch.modelName} needs its version.`);
  // null too: a batch read back from JSON may carry it.
  if (batch.codeSha != null && !nonEmpty(batch.codeSha)) {
    throw invalid(`The forecast batch of model ${batch.modelName} has an empty code SHA; leave it undefined instead.`);
  }
  return { modelName: batch.modelName, modelVersion: batch.modelVersion, codeSha: batch.codeSha ?? null };
}

/** The levels of a row's quantiles, parsed and sorted once per distinct set of keys. */
interface Levels {
  /** The keys as given, in order of level. */
  keys: string[];
  /** Their levels, ascending. */
  levels: number[];
  /** What precedes each value in the JSON: `{"0.1":`, then `,"0.5":`, … (keys normalised, "0.10" → "0.1"). */
  prefixes: string[];
  /**
   * The keys as given are already normalised and in order of level, as a model writes them: then
   * `JSON.stringify` of the row's quantiles is the JSON, and about three times faster than building it
   * (formatting the numbers is most of an export's work in this process).
   */
  canonical: boolean;
}

const levelCache = new Map<string, Levels | string>();
/** The last rows' keys and their levels: every row of a model has the same keys, so this usually answers. */
let lastKeys: string[] = [];
let lastLevels: Levels | string = "has no quantiles";

/** The row's levels, or why they are unusable (as a sentence fragment). */
function levelsOf(quantiles: Readonly<Record<string, number>>): Levels | string {
  const given = Object.keys(quantiles);
  if (sameKeys(given, lastKeys)) return lastLevels;
  lastKeys = given;
  lastLevels = levelsFor(given);
  return lastLevels;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function levelsFor(given: string[]): Levels | string {
  const signature = given.join("\u0000");
  const cached = levelCache.get(signature);
  if (cached !== undefined) return cached;
  let result: Levels | string;
  const parsed = given.map((key) => ({ key, level: Number(key) }));
  const bad = parsed.find(({ level }) => !(level > 0 && level < 1));
  if (given.length === 0) result = "has no quantiles";
  else if (bad) result = `has the quantile level "${bad.key}", which is not a number between 0 and 1`;
  else {
    parsed.sort((a, b) => a.level - b.level);
    const twice = parsed.find((p, i) => i > 0 && p.level === parsed[i - 1]?.level);
    const low = parsed[0]?.level as number;
    const high = parsed[parsed.length - 1]?.level as number;
    if (twice) result = `has the quantile level ${twice.level} twice`;
    else if (low > columnLevels[0] || high < columnLevels[2]) {
      result = `has quantile levels from ${low} to ${high}; P10 and P90 need levels at or beyond 0.1 and 0.9`;
    } else {
      result = {
        keys: parsed.map((p) => p.key),
        levels: parsed.map((p) => p.level),
        prefixes: parsed.map((p, i) => `${i === 0 ? "{" : ","}${JSON.stringify(String(p.level))}:`),
        canonical: parsed.every((p, i) => p.key === given[i] && p.key === String(p.level)),
      };
    }
  }
  // Models predict one fixed set of levels, so the cache stays tiny; the bound guards odd callers.
  if (levelCache.size < 64) levelCache.set(signature, result);
  return result;
}

/** Linear interpolation between the neighbouring levels (exact when the level was predicted). */
function quantileAt(levels: readonly number[], values: readonly number[], level: number): number {
  let i = 0;
  while ((levels[i] as number) < level) i++;
  const upper = levels[i] as number;
  if (upper === level || i === 0) return values[i] as number;
  const lower = levels[i - 1] as number;
  const a = values[i - 1] as number;
  const b = values[i] as number;
  return a + ((b - a) * (level - lower)) / (upper - lower);
}

const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/;
// A run repeats the same horizon of dates for every SKU: each is checked once.
const validDates = new Set<string>();

function isDate(value: unknown): value is string {
  if (typeof value !== "string") return false;
  if (validDates.has(value)) return true;
  const match = datePattern.exec(value);
  if (match === null) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  const valid = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  if (valid && validDates.size < 10_000) validDates.add(value);
  return valid;
}

/** "Forecast row 12 (model acme-top_seller, sku A-1, date 2024-01-02) <problem>." */
function rowError(row: ForecastRow, model: { modelName: string }, index: number, problem: string): SinkError {
  const sku = nonEmpty(row?.sku) ? `, sku ${row.sku}` : "";
  const date = typeof row?.forecastDate === "string" ? `, date ${row.forecastDate}` : "";
  return invalid(`Forecast row ${index + 1} (model ${model.modelName}${sku}${date}) ${problem}.`, { index });
}

const MAX_STEP = 2 ** 31 - 1;

// One array for every row's values (prepareRow is synchronous): an export may hold millions of rows.
const scratch: number[] = [];

function prepareRow(row: ForecastRow, model: ReturnType<typeof assertBatch>, index: number): PreparedRow {
  if (!nonEmpty(row?.sku)) throw rowError(row, model, index, `has an empty sku or one with a NUL character`);
  if (!(modelTypes as readonly string[]).includes(row.modelType)) {
    throw rowError(row, model, index, `has the model type "${row.modelType}"; use ${modelTypes.join(" or ")}`);
  }
  if (!isDate(row.forecastDate)) throw rowError(row, model, index, `needs a forecast date written YYYY-MM-DD`);
  // The column is a 32-bit integer in PostgreSQL.
  if (!Number.isSafeInteger(row.step) || row.step < 1 || row.step > MAX_STEP) {
    throw rowError(
      row,
      model,
      index,
      `has the horizon step ${row.step}; steps are whole numbers from 1 to ${MAX_STEP}`,
    );
  }
  if (typeof row.coldStart !== "boolean") throw rowError(row, model, index, `needs coldStart true or false`);
  const levels =
    row.quantiles !== null && typeof row.quantiles === "object" ? levelsOf(row.quantiles) : "has no quantiles";
  if (typeof levels === "string") throw rowError(row, model, index, levels);
  const values = scratch;
  values.length = levels.keys.length;
  // An inherited toJSON would make JSON.stringify write something else.
  const canonical = levels.canonical && typeof (row.quantiles as { toJSON?: unknown }).toJSON !== "function";
  let json = "";
  for (let i = 0; i < values.length; i++) {
    const value = row.quantiles[levels.keys[i] as string] as number;
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw rowError(
        row,
        model,
        index,
        `has the quantile ${levels.keys[i]} = ${value}; quantiles must be finite numbers`,
      );
    }
    if (i > 0 && value < (values[i - 1] as number)) {
      throw rowError(
        row,
        model,
        index,
        `has crossing quantiles (${levels.keys[i - 1]} = ${values[i - 1]} > ${levels.keys[i]} = ${value}); sort them before export`,
      );
    }
    values[i] = value;
    if (!canonical) json += (levels.prefixes[i] as string) + value;
  }
  return {
    sku: row.sku,
    modelType: row.modelType,
    forecastDate: row.forecastDate,
    step: row.step,
    p10: quantileAt(levels.levels, values, columnLevels[0]),
    p50: quantileAt(levels.levels, values, columnLevels[1]),
    p90: quantileAt(levels.levels, values, columnLevels[2]),
    quantilesJson: canonical ? JSON.stringify(row.quantiles) : `${json}}`,
    coldStart: row.coldStart,
    modelName: model.modelName,
    modelVersion: model.modelVersion,
    codeSha: model.codeSha,
  };
}

/**
 * The run's rows, checked and converted, in chunks of about `chunkSize` (one await per chunk, not
 * per row: an export may hold millions of rows). Reads the batches and their rows once, lazily.
 */
export async function* preparedChunks(
  run: ForecastRun,
  batches: Iterable<ForecastBatch> | AsyncIterable<ForecastBatch>,
  chunkSize = 2000,
): AsyncGenerator<PreparedRow[]> {
  let chunk: PreparedRow[] = [];
  let index = 0;
  for await (const batch of batches) {
    const model = assertBatch(run, batch);
    const rows = batch.rows;
    if (rows === null || typeof rows !== "object") {
      throw invalid(`The forecast batch of model ${model.modelName} has no rows iterable.`);
    }
    if (Symbol.asyncIterator in rows) {
      for await (const row of rows) {
        chunk.push(prepareRow(row, model, index++));
        if (chunk.length >= chunkSize) {
          yield chunk;
          chunk = [];
        }
      }
    } else {
      for (const row of rows) {
        chunk.push(prepareRow(row, model, index++));
        if (chunk.length >= chunkSize) {
          yield chunk;
          chunk = [];
        }
      }
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** Refuses an export without rows: replacing a run's forecasts with nothing is never what a run means. */
export function assertSomeRows(run: ForecastRun, rows: number): void {
  if (rows === 0) {
    throw invalid(
      `The forecast export of client ${run.client}, run ${run.pipelineRunId} has no rows; nothing was written (earlier rows of the run are kept).`,
    );
  }
}
