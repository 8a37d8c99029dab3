/**
 * The `consolidate` task: joins the run's normalised tables into the two training tables and the
 * future table, writes `consolidated/summary.json`, and then, last, `<client>/latest.json`, so a reader
 * following `latest.json` never sees a half-written run.
 *
 * A SKU's series runs from its first sale to the history's end (zeros after its last sale), or to its
 * last sale when it is discontinued; `time_idx` counts periods from the dataset's first period.
 * Columns (see `summary.columns`):
 * - static categoricals: `category`, `brand`, `demand_class`, and the products' text attributes with at
 *   most `maxCategories` values (`"unknown"` when missing); static reals: numeric attributes (a
 *   missing value takes the attribute's median);
 * - known reals: `price` (the period's price; before a SKU's first price row its first price; a SKU
 *   without prices takes its mean unit revenue, else 0), `price_ratio` (price over the SKU's mean
 *   price in the history), `promo`, and the calendar's features;
 * - unknown reals: lags and rolling statistics of `quantity` over the periods strictly before the row
 *   (0 before a series starts).
 * `future.parquet` holds the `horizon` periods after the history's end for every active SKU, with
 * `model_type` and the static and known columns.
 */
import { type DataContext, downloadRunFile, scratchFile, uploadFile, uploadJson, withEngine } from "./context.js";
import { periodDays } from "./dates.js";
import { type Engine, sqlIdent, sqlString } from "./engine.js";
import { latestKey, runKeys } from "./layout.js";
import { type DemandClass, type ModelType, modelTypes } from "./segment.js";
import type { Frequency } from "./settings.js";
import { calendarFeatures } from "./transform-events.js";
import { readValidation } from "./validated.js";

/** A text attribute with more distinct values than this is an identifier, not a category: left out. */
export const maxCategories = 1000;

export interface DatasetColumns {
  group: "sku";
  timeIdx: "time_idx";
  date: "date";
  target: "quantity";
  staticCategoricals: string[];
  staticReals: string[];
  knownCategoricals: string[];
  knownReals: string[];
  unknownReals: string[];
}

export interface ConsolidatedSummary {
  client: string;
  runId: string;
  createdAt: string;
  codeSha: string | null;
  frequency: Frequency;
  horizon: number;
  dateRange: { start: string; end: string; futureStart: string; futureEnd: string };
  periods: number;
  rows: Record<ModelType | "future", number>;
  skus: Record<ModelType, number> & { total: number; active: number; discontinued: number };
  /** SKUs per model type and demand class. */
  segments: Record<ModelType, Partial<Record<DemandClass, number>>>;
  /** Values that were missing and filled: history rows without a price, SKUs without category/brand/attributes. */
  missingValues: Record<string, number>;
  /** Product attributes left out, with why. */
  droppedAttributes: { name: string; reason: string }[];
  columns: DatasetColumns;
  files: Record<ModelType | "future", string>;
}

export interface LatestPointer {
  runId: string;
  createdAt: string;
  summary: string;
}

/** Lags and rolling windows (in periods) of the target, per frequency. */
const targetFeatures: Record<Frequency, { lags: number[]; means: number[]; spread: number }> = {
  daily: { lags: [1, 7, 28], means: [7, 28], spread: 28 },
  weekly: { lags: [1, 4, 52], means: [4, 13], spread: 13 },
};

function unknownRealsSql(frequency: Frequency): { names: string[]; sql: string[] } {
  const f = targetFeatures[frequency];
  const frame = (n: number) => `OVER (w ROWS BETWEEN ${n} PRECEDING AND 1 PRECEDING)`;
  const features: [string, string][] = [
    ...f.lags.map((k): [string, string] => [`lag_${k}`, `lag(quantity, ${k}, 0) OVER w`]),
    ...f.means.map((k): [string, string] => [`rolling_mean_${k}`, `coalesce(avg(quantity) ${frame(k)}, 0)`]),
    [`rolling_std_${f.spread}`, `coalesce(stddev_pop(quantity) ${frame(f.spread)}, 0)`],
    [`zero_share_${f.spread}`, `coalesce(avg((quantity = 0)::DOUBLE) ${frame(f.spread)}, 0)`],
  ];
  return { names: features.map(([n]) => n), sql: features.map(([n, e]) => `${e} AS ${n}`) };
}

interface Attribute {
  name: string;
  type: "number" | "text";
}

async function productAttributes(
  engine: Engine,
  products: string,
): Promise<{ kept: Attribute[]; dropped: { name: string; reason: string }[] }> {
  const described = await engine.rows<{ column_name: string; column_type: string }>(
    `DESCRIBE SELECT * FROM read_parquet(${sqlString(products)})`,
  );
  const attributes = described
    .filter((c) => !["sku", "category", "brand", "launch_date"].includes(c.column_name))
    .map((c): Attribute => ({ name: c.column_name, type: c.column_type === "DOUBLE" ? "number" : "text" }));
  const text = attributes.filter((a) => a.type === "text");
  if (text.length === 0) return { kept: attributes, dropped: [] };
  const [distinct = {}] = await engine.rows<Record<string, number>>(
    `SELECT ${text.map((a, i) => `count(DISTINCT ${sqlIdent(a.name)})::INTEGER AS d${i}`).join(", ")} FROM read_parquet(${sqlString(products)})`,
  );
  const dropped = text
    .filter((_, i) => (distinct[`d${i}`] ?? 0) > maxCategories)
    .map((a) => ({ name: a.name, reason: `more than ${maxCategories} distinct values` }));
  return { kept: attributes.filter((a) => !dropped.some((d) => d.name === a.name)), dropped };
}

export async function consolidate(context: DataContext): Promise<ConsolidatedSummary> {
  const report = await readValidation(context);
  const keys = runKeys(context.client, context.runId);
  return withEngine(context, async (engine) => {
    const [sales, segments, products, prices, calendar] = await Promise.all([
      downloadRunFile(context, keys.sales, "transform_sales"),
      downloadRunFile(context, keys.segments, "segment"),
      downloadRunFile(context, keys.products, "transform_products"),
      downloadRunFile(context, keys.prices, "transform_prices"),
      downloadRunFile(context, keys.calendar, "transform_events"),
    ]);

    const { settings, periods } = report;
    const frequency = settings.frequency;
    const step = periodDays(frequency);
    const interval = `INTERVAL ${step} DAY`;
    const start = `DATE ${sqlString(periods.start)}`;
    const end = `DATE ${sqlString(periods.end)}`;
    const { kept, dropped } = await productAttributes(engine, products);
    const textAttrs = kept.filter((a) => a.type === "text").map((a) => a.name);
    const realAttrs = kept.filter((a) => a.type === "number").map((a) => a.name);

    const dayIndex = (date: string) => `(date_diff('day', ${start}, ${date}) // ${step})::INTEGER`;
    const endIdx = dayIndex(end);

    // One row per SKU: an integer id in SKU order (joins and windows on integers are several times
    // faster than on text), its segment, static attributes (filled), reference prices, its series' span.
    await engine.run(
      `CREATE TEMP TABLE statics AS
       WITH price_stats AS (
         SELECT sku, arg_min(price, date) AS first_price, min(date) AS first_price_date,
                avg(price) FILTER (WHERE date <= ${end}) AS mean_price
         FROM read_parquet(${sqlString(prices)}) GROUP BY sku
       )
       SELECT (row_number() OVER (ORDER BY s.sku) - 1)::INTEGER AS sku_id, s.sku, s.model_type, s.demand_class, s.status,
              coalesce(p.category, 'unknown') AS category, coalesce(p.brand, 'unknown') AS brand,
              p.sku IS NULL AS no_product
              ${textAttrs.map((a) => `, coalesce(p.${sqlIdent(a)}, 'unknown') AS ${sqlIdent(a)}`).join("")}
              ${realAttrs.map((a) => `, coalesce(p.${sqlIdent(a)}, median(p.${sqlIdent(a)}) OVER ()) AS ${sqlIdent(a)}`).join("")},
              coalesce(ps.first_price, CASE WHEN s.volume > 0 THEN s.revenue / s.volume END, 0) AS fallback_price,
              coalesce(ps.mean_price, ps.first_price, CASE WHEN s.volume > 0 THEN s.revenue / s.volume END, 0) AS reference_price,
              ${dayIndex("s.first_date")} AS first_t, ${dayIndex("s.last_sale_date")} AS last_t,
              CASE WHEN s.status = 'active' THEN ${endIdx} ELSE ${dayIndex("s.last_sale_date")} END AS end_t,
              ${dayIndex("ps.first_price_date")} AS first_price_t
       FROM read_parquet(${sqlString(segments)}) s
       LEFT JOIN read_parquet(${sqlString(products)}) p USING (sku)
       LEFT JOIN price_stats ps USING (sku)`,
    );

    // The text columns travel through the sort as ENUMs (one or two bytes instead of a string); Parquet
    // stores them as strings again.
    const labelColumns = ["sku", "category", "brand", "demand_class", ...textAttrs];
    for (const [i, column] of labelColumns.entries()) {
      await engine.run(
        `CREATE TYPE label_${i} AS ENUM (SELECT DISTINCT ${sqlIdent(column)} FROM statics WHERE ${sqlIdent(column)} IS NOT NULL ORDER BY 1)`,
      );
    }
    await engine.run(
      `CREATE TEMP TABLE labels AS
       SELECT sku_id, ${labelColumns.map((c, i) => `${sqlIdent(c)}::label_${i} AS ${sqlIdent(c)}`).join(", ")} FROM statics`,
    );
    const statics = [
      ...["category", "brand", "demand_class", ...textAttrs].map((c) => `lb.${sqlIdent(c)}`),
      ...realAttrs.map((c) => `st.${sqlIdent(c)}`),
    ];
    const known = calendarFeatures[frequency];
    const priceSql = "coalesce(pr.price, st.fallback_price)";
    const knownSql = [
      `${priceSql} AS price`,
      `CASE WHEN st.reference_price > 0 THEN ${priceSql} / st.reference_price ELSE 1 END AS price_ratio`,
      "coalesce(pr.promo, 0)::INTEGER AS promo",
      ...known.map((c) => `cal.${c}`),
    ];
    const unknown = unknownRealsSql(frequency);
    const calendarByIndex = `(SELECT ${dayIndex("date")} AS t, * FROM read_parquet(${sqlString(calendar)}))`;
    const pricesOf = (type: string) =>
      `(SELECT st.sku_id, ${dayIndex("p.date")} AS t, p.price, p.promo
        FROM read_parquet(${sqlString(prices)}) p JOIN statics st ON st.sku = p.sku WHERE st.model_type = '${type}')`;

    const files = {
      top_seller: await scratchFile(context, "top_seller.parquet"),
      long_tail: await scratchFile(context, "long_tail.parquet"),
      future: await scratchFile(context, "future.parquet"),
    };
    // Per model type, one streaming statement: the history (the filled sales, then zeros to the end
    // for active SKUs), its known covariates, the target's lags and rolling statistics, sorted.
    for (const type of modelTypes) {
      // The prices are joined before the window and the text columns after it, so the hash table,
      // the window's partitions and the final sort never need memory at the same time.
      await engine.run(
        `COPY (
           WITH history AS (
             SELECT st.sku_id, ${dayIndex("s.date")} AS t, s.quantity
             FROM read_parquet(${sqlString(sales)}) s JOIN statics st ON st.sku = s.sku WHERE st.model_type = '${type}'
             UNION ALL
             SELECT sku_id, unnest(generate_series(last_t + 1, end_t))::INTEGER AS t, 0::DOUBLE AS quantity
             FROM statics WHERE model_type = '${type}' AND last_t < end_t
           ), priced AS (
             SELECT h.*, pr.price, pr.promo FROM history h LEFT JOIN ${pricesOf(type)} pr ON pr.sku_id = h.sku_id AND pr.t = h.t
           ), features AS (
             SELECT *, ${unknown.sql.join(", ")} FROM priced WINDOW w AS (PARTITION BY sku_id ORDER BY t)
           )
           SELECT lb.sku, (${start} + pr.t * ${interval})::DATE AS date, pr.t AS time_idx, pr.quantity,
                  ${statics.join(", ")}, ${knownSql.join(", ")}, ${unknown.names.map((n) => `pr.${n}`).join(", ")}
           FROM features pr
           JOIN statics st ON st.sku_id = pr.sku_id
           JOIN labels lb ON lb.sku_id = pr.sku_id
           JOIN ${calendarByIndex} cal ON cal.t = pr.t
           ORDER BY pr.sku_id, pr.t
         ) TO ${sqlString(files[type])} (FORMAT parquet, COMPRESSION zstd)`,
      );
    }
    await engine.run(
      `COPY (
         SELECT lb.sku, st.model_type, cal.date, cal.t AS time_idx, ${statics.join(", ")}, ${knownSql.join(", ")}
         FROM statics st
         JOIN labels lb ON lb.sku_id = st.sku_id
         CROSS JOIN (SELECT * FROM ${calendarByIndex} WHERE is_future = 1) cal
         LEFT JOIN (SELECT st.sku_id, ${dayIndex("p.date")} AS t, p.price, p.promo
                    FROM read_parquet(${sqlString(prices)}) p JOIN statics st ON st.sku = p.sku
                    WHERE p.date > ${end}) pr ON pr.sku_id = st.sku_id AND pr.t = cal.t
         WHERE st.status = 'active'
         ORDER BY st.sku_id, cal.t
       ) TO ${sqlString(files.future)} (FORMAT parquet, COMPRESSION zstd)`,
    );

    const rowsOf = async (file: string) => {
      const [{ n } = { n: 0 }] = await engine.rows<{ n: number }>(
        `SELECT coalesce(sum(num_rows), 0)::INTEGER AS n FROM parquet_file_metadata(${sqlString(file)})`,
      );
      return n;
    };
    // Prices run without gaps from a SKU's first price row through the horizon, so the history rows
    // without one are those before it (or all, for a SKU without prices).
    const [skuCounts] = await engine.rows<Record<string, number>>(
      `SELECT count(*) FILTER (WHERE model_type = 'top_seller')::INTEGER AS top_seller,
              count(*) FILTER (WHERE model_type = 'long_tail')::INTEGER AS long_tail,
              count(*) FILTER (WHERE status = 'active')::INTEGER AS active,
              count(*)::INTEGER AS total,
              count(*) FILTER (WHERE statics.category = 'unknown')::INTEGER AS category,
              count(*) FILTER (WHERE statics.brand = 'unknown')::INTEGER AS brand,
              count(*) FILTER (WHERE no_product)::INTEGER AS product,
              coalesce(sum(greatest(0, least(coalesce(first_price_t, end_t + 1), end_t + 1) - first_t)), 0)::INTEGER AS price
              ${kept.map((a, i) => `, count(*) FILTER (WHERE p.${sqlIdent(a.name)} IS NULL)::INTEGER AS a${i}`).join("")}
       FROM statics LEFT JOIN read_parquet(${sqlString(products)}) p USING (sku)`,
    );
    const segmentCounts = await engine.rows<{ model_type: ModelType; demand_class: DemandClass; n: number }>(
      "SELECT model_type, demand_class, count(*)::INTEGER AS n FROM statics GROUP BY ALL ORDER BY ALL",
    );
    const crossTab: Record<ModelType, Partial<Record<DemandClass, number>>> = { top_seller: {}, long_tail: {} };
    for (const row of segmentCounts) crossTab[row.model_type][row.demand_class] = row.n;
    const n = (key: string) => skuCounts?.[key] ?? 0;
    const createdAt = (context.now?.() ?? new Date()).toISOString();
    const summary: ConsolidatedSummary = {
      client: context.client,
      runId: context.runId,
      createdAt,
      codeSha: context.codeSha ?? null,
      frequency,
      horizon: settings.horizon,
      dateRange: {
        start: periods.start,
        end: periods.end,
        futureStart: periods.futureStart,
        futureEnd: periods.futureEnd,
      },
      periods: periods.count,
      rows: {
        top_seller: await rowsOf(files.top_seller),
        long_tail: await rowsOf(files.long_tail),
        future: await rowsOf(files.future),
      },
      skus: {
        total: n("total"),
        top_seller: n("top_seller"),
        long_tail: n("long_tail"),
        active: n("active"),
        discontinued: n("total") - n("active"),
      },
      segments: crossTab,
      missingValues: {
        price: n("price"),
        product: n("product"),
        category: n("category"),
        brand: n("brand"),
        ...Object.fromEntries(kept.map((a, i) => [a.name, n(`a${i}`)])),
      },
      droppedAttributes: dropped,
      columns: {
        group: "sku",
        timeIdx: "time_idx",
        date: "date",
        target: "quantity",
        staticCategoricals: ["category", "brand", "demand_class", ...textAttrs],
        staticReals: realAttrs,
        knownCategoricals: [],
        knownReals: ["price", "price_ratio", "promo", ...known],
        unknownReals: unknown.names,
      },
      files: { top_seller: keys.topSeller, long_tail: keys.longTail, future: keys.future },
    };

    await uploadFile(context, keys.topSeller, files.top_seller);
    await uploadFile(context, keys.longTail, files.long_tail);
    await uploadFile(context, keys.future, files.future);
    await uploadJson(context, keys.summary, summary);
    // Last: the pointer moves only once everything it points at is in place.
    const latest: LatestPointer = { runId: context.runId, createdAt, summary: keys.summary };
    await uploadJson(context, latestKey(context.client), latest);
    context.logger.info({ rows: summary.rows, skus: summary.skus }, "dataset consolidated");
    return summary;
  });
}
