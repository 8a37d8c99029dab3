/**
 * The forecasts table as both drivers hold it: the migrations that make it, the check that a
 * database's schema is one this code knows, and a row as a SELECT returns it, turned into the API's
 * `StoredForecast`. Each driver keeps its own SQL (the dialects differ); what is the same lives here.
 */
import { SinkError } from "./errors.js";
import type { ModelType, StoredForecast } from "./types.js";

/** One step of a driver's schema, append only: a database records the versions it has in `tdf_schema_migrations`. */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const latestVersionOf = (migrations: readonly Migration[]): number =>
  migrations[migrations.length - 1]?.version ?? 0;

/** Refuses a database a newer tdf migrated: this code cannot know what the newer schema means. */
export function assertSchemaKnown(
  version: number,
  latestVersion: number,
  location: string,
  context: Record<string, unknown>,
): void {
  if (version > latestVersion) {
    throw new SinkError(
      "SINK_SCHEMA",
      `The forecast database ${location} has schema version ${version}, newer than this tdf knows (${latestVersion}); upgrade tdf.`,
      { context: { ...context, schemaVersion: version } },
    );
  }
}

/**
 * A row as a driver's SELECT returns it, by column name. The drivers differ only in how the quantiles
 * (JSON text or a parsed object) and cold_start (0/1 or a boolean) come back.
 */
export interface ForecastRecord<Quantiles, ColdStart> {
  client: string;
  pipeline_run_id: string;
  sku: string;
  forecast_date: string;
  model_type: ModelType;
  horizon_step: number;
  p10: number;
  p50: number;
  p90: number;
  quantiles: Quantiles;
  cold_start: ColdStart;
  model_name: string;
  model_version: string;
  code_sha: string | null;
  created_at: string;
}

/** The record in the API's terms, given its quantiles and cold_start as the driver decoded them. */
export function storedForecast(
  r: ForecastRecord<unknown, unknown>,
  quantiles: Record<string, number>,
  coldStart: boolean,
): StoredForecast {
  return {
    client: r.client,
    pipelineRunId: r.pipeline_run_id,
    sku: r.sku,
    modelType: r.model_type,
    forecastDate: r.forecast_date,
    step: r.horizon_step,
    p10: r.p10,
    p50: r.p50,
    p90: r.p90,
    quantiles,
    coldStart,
    modelName: r.model_name,
    modelVersion: r.model_version,
    codeSha: r.code_sha,
    createdAt: r.created_at,
  };
}
