/**
 * The forecast database (DESIGN §5): the `export` task writes one inference run's forecasts; users and
 * BI tools read them back. Drivers: SQLite (embedded default, `.tdf/forecasts.db`) and PostgreSQL
 * (`DATABASE_URL`). The table is documented in docs/forecasts.md.
 */
import type { ModelType } from "../tracking/index.js";

export type { ModelType };

/** One SKU's forecast for one future period. */
export interface ForecastRow {
  sku: string;
  modelType: ModelType;
  /** The period forecast, `YYYY-MM-DD` (for weekly data, the period's first day as in the dataset). */
  forecastDate: string;
  /** 1 for the first period after the history, up to the horizon. */
  step: number;
  /**
   * Every quantile the model predicts, keyed by its level as written ("0.1", "0.5", "0.9", …). The
   * levels must cover 0.1 and 0.9 (P10/P50/P90 are interpolated between neighbouring levels when not
   * predicted exactly) and the values must not decrease as the level grows.
   */
  quantiles: Readonly<Record<string, number>>;
  /** The model never saw this SKU in training (a new launch): the forecast rests on its static features only. */
  coldStart: boolean;
}

/** The rows one model produced, with the model they came from. */
export interface ForecastBatch {
  /** The run's client and pipeline run id, the same as `writeRun`'s (checked). */
  client: string;
  pipelineRunId: string;
  /** The registered model, e.g. `acme-top_seller`. */
  modelName: string;
  modelVersion: string;
  /** The git SHA of the code that made the forecasts; undefined when run from a checkout. */
  codeSha: string | undefined;
  rows: Iterable<ForecastRow> | AsyncIterable<ForecastRow>;
}

export interface ForecastQuery {
  client: string;
  sku?: string;
  modelType?: ModelType;
  /** Default: the client's newest run (the one whose latest export began last). */
  pipelineRunId?: string;
  /** At most this many rows, in order of sku then date. */
  limit?: number;
}

/** A row as the database holds it. */
export interface StoredForecast {
  client: string;
  pipelineRunId: string;
  sku: string;
  modelType: ModelType;
  forecastDate: string;
  step: number;
  p10: number;
  p50: number;
  p90: number;
  quantiles: Record<string, number>;
  coldStart: boolean;
  modelName: string;
  modelVersion: string;
  codeSha: string | null;
  /** When the export of the run began, ISO 8601 UTC; the same for every row of a run. */
  createdAt: string;
}

export interface ForecastSink {
  readonly driver: "sqlite" | "postgres";
  /** Where the forecasts go, fit for logs: a file path, or `postgres://user@host:port/db` (never the password). */
  readonly location: string;
  /**
   * Writes every batch of one pipeline run (the unit of an export) in one transaction, replacing
   * whatever an earlier attempt of the same client and run wrote: a re-run never duplicates rows, and a failure (a bad row, a
   * source that throws, a lost connection) leaves the table as it was. The batches (and their rows)
   * are consumed once, in order, without holding them all in memory.
   */
  writeRun(
    client: string,
    pipelineRunId: string,
    batches: Iterable<ForecastBatch> | AsyncIterable<ForecastBatch>,
  ): Promise<{ rows: number }>;
  /** A run's rows in order of sku then date; `[]` when there are none (also when nothing was ever written). */
  read(query: ForecastQuery): Promise<StoredForecast[]>;
  close(): Promise<void>;
}
