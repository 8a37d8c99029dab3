/**
 * The `transform_sales` task: validated raw sales → `sales.parquet`, one row per (sku, period) from each
 * SKU's first to its last sale, with explicit zeros in between.
 *
 * In order: returns (negative quantities) are dropped under `returns: "drop"`; rows repeating a
 * (date, sku, location) key are added up (`sum`) or the last one in the file is kept (`last`; a
 * return and a sale on the same day are not duplicates of each other); locations are added up; days
 * become periods (ISO weeks for weekly, dated by their Monday; partial weeks at the ends of daily data
 * are left out); a period's net quantity (and revenue) below zero is counted as zero.
 */
import { type DataContext, scratchFile, uploadFile, withEngine } from "./context.js";
import { sqlString } from "./engine.js";
import { runKeys } from "./layout.js";
import { rawRelation, stageRaw, typed } from "./raw-inputs.js";
import type { ValidationReport } from "./validate.js";
import { openValidatedSource, readValidation } from "./validated.js";

export interface SalesTransformResult {
  rows: number;
}

/** SQL for a date's period start. */
function periodOf(dateSql: string, report: ValidationReport): string {
  return report.settings.frequency === "weekly" ? `date_trunc('week', ${dateSql})::DATE` : dateSql;
}

export async function transformSales(context: DataContext): Promise<SalesTransformResult> {
  const report = await readValidation(context);
  return withEngine(context, async (engine) => {
    const table = await openValidatedSource(context, engine, report, "sales");
    if (!table) throw new Error("validation.json lists no sales file"); // validate refuses that: a bug
    const { settings, periods } = report;
    const quantity = typed("quantity", "number");
    const date = typed("date", "date");
    const revenue = report.sales.hasRevenue ? typed("revenue", "number") : "NULL::DOUBLE";
    const location = report.sales.hasLocation ? typed("location", "text") : "NULL::VARCHAR";

    let from = rawRelation(table);
    let dedupe = "";
    if (settings.duplicates === "last") {
      // The file's order decides which row is last, so the rows are staged in that order first.
      await stageRaw(engine, table, "sales_raw");
      from = "sales_raw";
      dedupe = `QUALIFY row_number() OVER (PARTITION BY ${typed("sku", "text")}, ${date}, ${location}, ${quantity} < 0 ORDER BY rowid DESC) = 1`;
    }
    const keep = [`${date} BETWEEN DATE ${sqlString(periods.start)} AND DATE ${sqlString(periods.historyEndDay)}`];
    if (settings.returns === "drop") keep.push(`${quantity} >= 0`);

    const step = settings.frequency === "weekly" ? 7 : 1;
    const revenueOut = report.sales.hasRevenue ? "revenue" : "NULL::DOUBLE";
    const file = await scratchFile(context, "sales.parquet");
    // Rows of one SKU and period are added up by a window over their peers (sorting once serves both
    // that and the fill, where a hash aggregation of millions of keys would cost more); then each
    // period with sales carries the zero periods up to the next one, so the calendar is filled
    // without joining a grid of every period.
    await engine.run(
      `COPY (
         WITH rows AS (
           SELECT ${typed("sku", "text")} AS sku, ${periodOf(date, report)} AS date, ${quantity} AS quantity, ${revenue} AS revenue
           FROM ${from} WHERE ${keep.join(" AND ")} ${dedupe}
         ), dated AS (
           SELECT sku, date, sum(quantity) OVER peers AS quantity, sum(revenue) OVER peers AS revenue,
                  lead(date) OVER w AS following
           FROM rows WINDOW w AS (PARTITION BY sku ORDER BY date), peers AS (w RANGE BETWEEN CURRENT ROW AND CURRENT ROW)
         ), periods AS (
           SELECT sku, date, quantity, greatest(revenue, 0) AS revenue
           FROM dated WHERE following IS DISTINCT FROM date AND quantity > 0
         ), spans AS (
           SELECT *, ((coalesce(lead(date) OVER (PARTITION BY sku ORDER BY date), date + ${step}) - date) // ${step})::INTEGER AS span
           FROM periods
         )
         SELECT sku, unnest(generate_series(date, date + (span - 1) * ${step}, INTERVAL ${step} DAY))::DATE AS date,
                unnest(list_concat([quantity], list_resize([]::DOUBLE[], span - 1, 0.0))) AS quantity,
                unnest(list_concat([${revenueOut}], list_resize([]::DOUBLE[], span - 1, ${report.sales.hasRevenue ? "0.0" : "NULL"}))) AS revenue
         FROM spans
       ) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    const [stats = { rows: 0 }] = await engine.rows<SalesTransformResult>(
      `SELECT sum(num_rows)::INTEGER AS rows FROM parquet_file_metadata(${sqlString(file)})`,
    );
    await uploadFile(context, runKeys(context.client, context.runId).sales, file);
    context.logger.info({ ...stats }, "sales transformed");
    return stats;
  });
}
