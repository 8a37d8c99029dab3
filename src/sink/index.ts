/**
 * The forecast database, chosen by configuration: PostgreSQL when DATABASE_URL is set, otherwise the
 * embedded SQLite file `<TDF_HOME>/forecasts.db`. Drivers are imported lazily, so commands that never
 * touch forecasts never load `pg` or SQLite.
 */
import type { Config } from "../core/config.js";
import type { ForecastSink } from "./types.js";

export { SinkError, type SinkErrorCode } from "./errors.js";
export type * from "./types.js";

export async function openSink(config: Config): Promise<ForecastSink> {
  if (config.database.url !== undefined) {
    const { postgresSink } = await import("./postgres.js");
    return postgresSink({ url: config.database.url });
  }
  const { sqliteSink } = await import("./sqlite.js");
  return sqliteSink({ path: config.database.sqlitePath });
}
