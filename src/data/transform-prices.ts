/**
 * The `transform_prices` task: validated raw prices → `prices.parquet`, one row per (sku, period) with
 * `price` and `promo`, from the SKU's first price row to the end of the forecast horizon.
 *
 * A price row holds from its date until the SKU's next row (forward fill); `promo` is 0 when the
 * column is missing or empty; two rows of one SKU and date keep the last. Prices are known in advance,
 * so they are future covariates; in the future periods:
 * - a SKU with price rows dated after the history follows them (the fill continues as in the past);
 * - otherwise its last regular (non-promo) price is carried forward with promo 0: an open promotion
 *   is not assumed to go on (the last price of any kind when the SKU never had a regular one).
 * Weekly periods take the mean daily price of the week, and promo 1 when any day of it was on promotion.
 */
import { type DataContext, scratchFile, uploadFile, withEngine } from "./context.js";
import { sqlString } from "./engine.js";
import { runKeys } from "./layout.js";
import { stageRaw, typed } from "./raw-inputs.js";
import { openValidatedSource, readValidation } from "./validated.js";

export interface PricesTransformResult {
  rows: number;
  skus: number;
}

export async function transformPrices(context: DataContext): Promise<PricesTransformResult> {
  const report = await readValidation(context);
  return withEngine(context, async (engine) => {
    const file = await scratchFile(context, "prices.parquet");
    const table = await openValidatedSource(context, engine, report, "prices");
    let result: PricesTransformResult = { rows: 0, skus: 0 };
    if (!table) {
      await engine.run(
        `COPY (SELECT NULL::VARCHAR AS sku, NULL::DATE AS date, NULL::DOUBLE AS price, NULL::INTEGER AS promo LIMIT 0)
         TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`,
      );
    } else {
      await stageRaw(engine, table, "prices_raw");
      const { periods } = report;
      const start = `DATE ${sqlString(periods.start)}`;
      const historyEnd = `DATE ${sqlString(periods.historyEndDay)}`;
      const futureEnd = `DATE ${sqlString(periods.futureEndDay)}`;
      const promo = table.columns.includes("promo") ? `coalesce(${typed("promo", "flag")}, 0)` : "0";
      await engine.run(
        `CREATE TEMP TABLE price_rows AS
         SELECT ${typed("sku", "text")} AS sku, ${typed("date", "date")} AS date, ${typed("price", "number")} AS price,
                ${promo}::INTEGER AS promo
         FROM prices_raw
         QUALIFY row_number() OVER (PARTITION BY ${typed("sku", "text")}, ${typed("date", "date")} ORDER BY rowid DESC) = 1`,
      );
      // Each row's validity: from its date to the day before the next row, or to the end when none;
      // a SKU without rows after the history stops at the history's end and carries forward.
      const day = "INTERVAL 1 DAY";
      await engine.run(
        `CREATE TEMP TABLE price_spans AS
         WITH ordered AS (
           SELECT *, lead(date) OVER (PARTITION BY sku ORDER BY date) AS next,
                  max(date) OVER (PARTITION BY sku) > ${historyEnd} AS planned
           FROM price_rows
         ), carried AS (
           SELECT sku, arg_max(price, date) FILTER (WHERE promo = 0) AS regular, arg_max(price, date) AS any_price
           FROM price_rows WHERE date <= ${historyEnd} GROUP BY sku
         )
         SELECT sku, greatest(date, ${start}) AS first,
                CASE WHEN next IS NOT NULL THEN (next - ${day})::DATE WHEN planned THEN ${futureEnd} ELSE ${historyEnd} END AS last,
                price, promo
         FROM ordered
         UNION ALL
         SELECT o.sku, (${historyEnd} + ${day})::DATE, ${futureEnd}, coalesce(c.regular, c.any_price), 0
         FROM (SELECT DISTINCT sku FROM ordered WHERE NOT planned) o JOIN carried c USING (sku)`,
      );
      const daily = `SELECT sku, unnest(generate_series(first, last, ${day}))::DATE AS date, price, promo
                     FROM price_spans WHERE first <= last AND first <= ${futureEnd}`;
      const select =
        report.settings.frequency === "weekly"
          ? `SELECT sku, date_trunc('week', date)::DATE AS date, avg(price) AS price, max(promo)::INTEGER AS promo
             FROM (${daily}) WHERE date <= ${futureEnd} GROUP BY 1, 2`
          : `SELECT sku, date, price, promo FROM (${daily}) WHERE date <= ${futureEnd}`;
      await engine.run(`COPY (${select}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`);
      [result = result] = await engine.rows<PricesTransformResult>(
        `SELECT count(*)::INTEGER AS rows, count(DISTINCT sku)::INTEGER AS skus FROM read_parquet(${sqlString(file)})`,
      );
    }
    await uploadFile(context, runKeys(context.client, context.runId).prices, file);
    context.logger.info({ ...result }, "prices transformed");
    return result;
  });
}
