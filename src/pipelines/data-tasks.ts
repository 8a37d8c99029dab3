/**
 * The data_transformation pipeline's tasks (after `resolve_code`): `validate` → the four transforms
 * in parallel → `segment` (after `transform_sales`) → `consolidate`. Each reads and writes only
 * through the object store, keyed by client and run id; the work itself is in `src/data/`, loaded
 * when a task runs so that listing tasks never loads DuckDB.
 */
import type { DataContext } from "../data/context.js";
import { openStore } from "../storage/index.js";
import type { TaskContext, TaskDefinition } from "./task.js";

/** What a data task gets: the stores, its scratch folder, and DuckDB sized by TDF_DUCKDB_*. */
export async function dataContext(context: TaskContext): Promise<DataContext> {
  const store = await openStore(context.config, "runtime");
  const buckets = context.config.storage.buckets;
  return {
    store,
    trainingBucket: buckets.trainingData,
    pipelineBucket: buckets.dataPipeline,
    client: context.client,
    runId: context.runId,
    workDir: context.workDir,
    logger: context.logger,
    signal: context.signal,
    codeSha: context.codeSha,
    engine: { memoryLimit: `${context.config.duckdb.memoryMiB}MiB`, threads: context.config.duckdb.threads },
  };
}

function dataTask(name: string, description: string, run: (context: DataContext) => Promise<unknown>): TaskDefinition {
  return { name, description, run: async (context) => void (await run(await dataContext(context))) };
}

export const dataTasks: readonly TaskDefinition[] = [
  dataTask(
    "validate",
    "check the client's raw files against every rule; write validation.json, or nothing when a rule is broken",
    async (c) => (await import("../data/validate.js")).validateRawData(c),
  ),
  dataTask(
    "transform_sales",
    "dedupe, net returns, calendar-fill (and aggregate to weeks) the sales into sales.parquet",
    async (c) => (await import("../data/transform-sales.js")).transformSales(c),
  ),
  dataTask("transform_products", "normalise the products' static attributes into products.parquet", async (c) =>
    (await import("../data/transform-products.js")).transformProducts(c),
  ),
  dataTask(
    "transform_prices",
    "forward-fill prices and promotions per period, through the forecast horizon, into prices.parquet",
    async (c) => (await import("../data/transform-prices.js")).transformPrices(c),
  ),
  dataTask(
    "transform_events",
    "build the calendar (calendar features, event and holiday flags) into calendar.parquet",
    async (c) => (await import("../data/transform-events.js")).transformEvents(c),
  ),
  dataTask(
    "segment",
    "classify SKUs (ABC, Syntetos–Boylan) into top_seller and long_tail: segments.parquet and its summary",
    async (c) => (await import("../data/segment.js")).segmentSkus(c),
  ),
  dataTask(
    "consolidate",
    "join everything into the training tables and the future table, write the summary, then latest.json",
    async (c) => (await import("../data/consolidate.js")).consolidate(c),
  ),
];
