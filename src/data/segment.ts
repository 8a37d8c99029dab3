/**
 * The `segment` task: splits the SKUs between the two model types, from `sales.parquet`.
 *
 * - ABC on revenue (or volume: `segmentation.basis`, `auto` = revenue when the sales have it): SKUs
 *   sorted by value, largest first; a SKU is A while the SKUs before it hold less than `topShare` of
 *   the total (so the SKU that crosses the line is A), B below `midShare`, C after.
 * - Syntetos–Boylan demand classes on each SKU's history from its first to its last sale: ADI is the
 *   mean interval between non-zero periods, CV² the squared coefficient of variation (population) of
 *   the non-zero quantities. smooth: ADI < adi and CV² < cv2; erratic: ADI < adi, CV² ≥ cv2;
 *   intermittent: ADI ≥ adi, CV² < cv2; lumpy: both above; slow: fewer than two non-zero periods
 *   (neither measure exists).
 * - `top_seller` = class A and smooth or erratic; `long_tail` = the rest.
 * - `status`: discontinued when the SKU's last sale is more than max(inactiveAfter, 3 × ADI) periods
 *   before the history's end, else active. Discontinued SKUs keep their history for training and
 *   get no forecast.
 *
 * Writes `segments.parquet` (one row per SKU) and `segments-summary.json`.
 */
import { type DataContext, downloadRunFile, scratchFile, uploadFile, uploadJson, withEngine } from "./context.js";
import { periodDays } from "./dates.js";
import { sqlNumber, sqlString } from "./engine.js";
import { runKeys } from "./layout.js";
import type { SegmentationBasis } from "./settings.js";
import { readValidation } from "./validated.js";

export type DemandClass = "smooth" | "erratic" | "intermittent" | "lumpy" | "slow";
export const modelTypes = ["top_seller", "long_tail"] as const;
export type ModelType = (typeof modelTypes)[number];

export interface SegmentsSummary {
  client: string;
  runId: string;
  basis: Exclude<SegmentationBasis, "auto">;
  thresholds: { topShare: number; midShare: number; adi: number; cv2: number; inactiveAfter: number };
  skus: number;
  byModelType: Record<ModelType, number>;
  byDemandClass: Record<DemandClass, number>;
  byAbcClass: Record<"A" | "B" | "C", number>;
  /** SKUs per model type and demand class. */
  crossTab: Record<ModelType, Partial<Record<DemandClass, number>>>;
  discontinued: number;
  /** Share of the total value the top sellers carry. */
  topSellerShare: number;
}

export async function segmentSkus(context: DataContext): Promise<SegmentsSummary> {
  const report = await readValidation(context);
  const keys = runKeys(context.client, context.runId);
  return withEngine(context, async (engine) => {
    const sales = await downloadRunFile(context, keys.sales, "transform_sales");
    const { settings, periods } = report;
    const seg = settings.segmentation;
    const basis: "revenue" | "volume" =
      seg.basis === "auto" ? (report.sales.hasRevenue ? "revenue" : "volume") : seg.basis;
    const step = periodDays(settings.frequency);
    const start = `DATE ${sqlString(periods.start)}`;
    const endIdx = `(date_diff('day', ${start}, DATE ${sqlString(periods.end)}) // ${step})`;
    await engine.run(
      `CREATE TEMP TABLE segments AS
       WITH per AS (
         SELECT sku, min(date) AS first_date, max(date) AS last_sale_date, count(*)::INTEGER AS periods,
                count(*) FILTER (WHERE quantity > 0)::INTEGER AS demand_periods,
                sum(quantity) AS volume, sum(revenue) AS revenue,
                (date_diff('day', min(date), max(date)) // ${step})::INTEGER AS span
         FROM read_parquet(${sqlString(sales)}) GROUP BY sku
       ), sizes AS (
         SELECT sku, var_pop(quantity) / (avg(quantity) * avg(quantity)) AS cv2
         FROM read_parquet(${sqlString(sales)}) WHERE quantity > 0 GROUP BY sku
       ), measured AS (
         SELECT per.*, ${basis === "revenue" ? "coalesce(revenue, 0)" : "volume"} AS value,
                CASE WHEN demand_periods >= 2 THEN span / (demand_periods - 1) END AS adi,
                CASE WHEN demand_periods >= 2 THEN sizes.cv2 END AS cv2,
                ${endIdx} - (date_diff('day', ${start}, last_sale_date) // ${step}) AS periods_since_last_sale
         FROM per JOIN sizes USING (sku)
       ), ranked AS (
         SELECT *, value / sum(value) OVER () AS share,
                coalesce(sum(value) OVER (ORDER BY value DESC, sku ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                  / sum(value) OVER () AS share_before
         FROM measured
       ), classified AS (
         SELECT *,
                CASE WHEN share_before < ${sqlNumber(seg.topShare)} THEN 'A'
                     WHEN share_before < ${sqlNumber(seg.midShare)} THEN 'B' ELSE 'C' END AS abc_class,
                CASE WHEN demand_periods < 2 THEN 'slow'
                     WHEN adi < ${sqlNumber(seg.adi)} AND cv2 < ${sqlNumber(seg.cv2)} THEN 'smooth'
                     WHEN adi < ${sqlNumber(seg.adi)} THEN 'erratic'
                     WHEN cv2 < ${sqlNumber(seg.cv2)} THEN 'intermittent' ELSE 'lumpy' END AS demand_class
         FROM ranked
       )
       SELECT sku, first_date, last_sale_date, periods, demand_periods, volume, revenue, value, share,
              share_before + share AS cumulative_share, abc_class, adi, cv2, demand_class,
              CASE WHEN abc_class = 'A' AND demand_class IN ('smooth', 'erratic') THEN 'top_seller' ELSE 'long_tail' END AS model_type,
              periods_since_last_sale::INTEGER AS periods_since_last_sale,
              CASE WHEN periods_since_last_sale > greatest(${sqlNumber(settings.inactiveAfter)}, ceil(3 * coalesce(adi, 0)))
                   THEN 'discontinued' ELSE 'active' END AS status
       FROM classified`,
    );
    const file = await scratchFile(context, "segments.parquet");
    await engine.run(
      `COPY (SELECT * FROM segments ORDER BY sku) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`,
    );

    const counts = await engine.rows<{
      model_type: ModelType;
      demand_class: DemandClass;
      abc_class: "A" | "B" | "C";
      status: string;
      n: number;
      value: number;
    }>(
      "SELECT model_type, demand_class, abc_class, status, count(*)::INTEGER AS n, sum(value)::DOUBLE AS value FROM segments GROUP BY ALL",
    );
    const summary: SegmentsSummary = {
      client: context.client,
      runId: context.runId,
      basis,
      thresholds: {
        topShare: seg.topShare,
        midShare: seg.midShare,
        adi: seg.adi,
        cv2: seg.cv2,
        inactiveAfter: settings.inactiveAfter,
      },
      skus: 0,
      byModelType: { top_seller: 0, long_tail: 0 },
      byDemandClass: { smooth: 0, erratic: 0, intermittent: 0, lumpy: 0, slow: 0 },
      byAbcClass: { A: 0, B: 0, C: 0 },
      crossTab: { top_seller: {}, long_tail: {} },
      discontinued: 0,
      topSellerShare: 0,
    };
    let total = 0;
    let top = 0;
    for (const row of counts) {
      summary.skus += row.n;
      summary.byModelType[row.model_type] += row.n;
      summary.byDemandClass[row.demand_class] += row.n;
      summary.byAbcClass[row.abc_class] += row.n;
      const cell = summary.crossTab[row.model_type];
      cell[row.demand_class] = (cell[row.demand_class] ?? 0) + row.n;
      if (row.status === "discontinued") summary.discontinued += row.n;
      total += row.value;
      if (row.model_type === "top_seller") top += row.value;
    }
    summary.topSellerShare = total > 0 ? top / total : 0;
    await uploadFile(context, keys.segments, file);
    await uploadJson(context, keys.segmentsSummary, summary);
    context.logger.info({ skus: summary.skus, ...summary.byModelType }, "SKUs segmented");
    return summary;
  });
}
