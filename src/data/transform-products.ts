/**
 * The `transform_products` task: validated raw products → `products.parquet`, one row per SKU with
 * `category`, `brand` (`"unknown"` when missing), `launch_date`, and any extra attribute columns:
 * numeric when every value is a number, text otherwise. A SKU listed twice keeps its last row (the
 * `reject` policy refused such files in validation). Without a products file the table is empty.
 */
import { type DataContext, scratchFile, uploadFile, withEngine } from "./context.js";
import { type Engine, sqlIdent, sqlString } from "./engine.js";
import { runKeys, sourceSpecs } from "./layout.js";
import { stageRaw, typed } from "./raw-inputs.js";
import { openValidatedSource, readValidation } from "./validated.js";

/** Extra attribute names become snake_case; a name the data tables already use gets a `product_` prefix. */
const reserved = new Set([
  "sku",
  "date",
  "time_idx",
  "quantity",
  "revenue",
  "category",
  "brand",
  "launch_date",
  "demand_class",
  "model_type",
  "status",
  "price",
  "price_ratio",
  "promo",
  "events",
  "is_event",
  "is_holiday",
  "is_future",
  "day_of_week",
  "day_of_month",
  "week_of_year",
  "month",
]);
const reservedPattern = /^(\d|lag_|rolling_|zero_share_)/;

function attributeName(column: string): string {
  const name = column.replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "") || "attribute";
  return reserved.has(name) || reservedPattern.test(name) ? `product_${name}` : name;
}

export interface ProductsTransformResult {
  rows: number;
  attributes: { name: string; type: "number" | "text" }[];
}

export async function transformProducts(context: DataContext): Promise<ProductsTransformResult> {
  const report = await readValidation(context);
  return withEngine(context, async (engine) => {
    const file = await scratchFile(context, "products.parquet");
    const table = await openValidatedSource(context, engine, report, "products");
    let result: ProductsTransformResult;
    if (!table) {
      await engine.run(
        `COPY (SELECT NULL::VARCHAR AS sku, NULL::VARCHAR AS category, NULL::VARCHAR AS brand, NULL::DATE AS launch_date LIMIT 0)
         TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      result = { rows: 0, attributes: [] };
    } else {
      await stageRaw(engine, table, "products_raw");
      const known = sourceSpecs.products.columns.map((c) => c.name);
      const extras = table.columns.filter((c) => !known.includes(c));
      const attributes = await classifyAttributes(engine, extras);
      const used = new Set<string>();
      const select = attributes.map((a) => {
        let name = attributeName(a.column);
        while (used.has(name)) name = `${name}_`;
        used.add(name);
        a.name = name;
        return `${typed(a.column, a.type)} AS ${sqlIdent(name)}`;
      });
      const optional = (column: string, kind: "text" | "date", fallback: string) =>
        table.columns.includes(column) ? typed(column, kind) : fallback;
      await engine.run(
        `COPY (
           SELECT ${typed("sku", "text")} AS sku,
                  coalesce(${optional("category", "text", "NULL")}, 'unknown') AS category,
                  coalesce(${optional("brand", "text", "NULL")}, 'unknown') AS brand,
                  ${optional("launch_date", "date", "NULL::DATE")} AS launch_date
                  ${select.map((s) => `, ${s}`).join("")}
           FROM products_raw
           QUALIFY row_number() OVER (PARTITION BY ${typed("sku", "text")} ORDER BY rowid DESC) = 1
           ORDER BY sku
         ) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      const [{ rows } = { rows: 0 }] = await engine.rows<{ rows: number }>(
        `SELECT count(*)::INTEGER AS rows FROM read_parquet(${sqlString(file)})`,
      );
      result = { rows, attributes: attributes.map((a) => ({ name: a.name, type: a.type })) };
    }
    await uploadFile(context, runKeys(context.client, context.runId).products, file);
    context.logger.info({ ...result }, "products transformed");
    return result;
  });
}

async function classifyAttributes(
  engine: Engine,
  columns: string[],
): Promise<{ column: string; name: string; type: "number" | "text" }[]> {
  if (columns.length === 0) return [];
  const [counts = {}] = await engine.rows<Record<string, number>>(
    `SELECT ${columns
      .map(
        (c, i) =>
          `count(${typed(c, "text")})::INTEGER AS t${i}, count(*) FILTER (WHERE isfinite(${typed(c, "number")}))::INTEGER AS n${i}`,
      )
      .join(", ")} FROM products_raw`,
  );
  return columns.map((column, i) => {
    const present = counts[`t${i}`] ?? 0;
    const numeric = present > 0 && counts[`n${i}`] === present;
    return { column, name: column, type: numeric ? "number" : "text" };
  });
}
