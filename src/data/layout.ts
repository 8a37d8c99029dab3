/**
 * Where the data pipeline reads and writes (DESIGN §3), and what each raw source must contain. Raw
 * inputs live in the training-data bucket under `<client>/raw/`; a run's outputs in the data-pipeline
 * bucket under `<client>/<run_id>/`, and `<client>/latest.json` points at the newest complete run.
 */

export const sourceNames = ["sales", "products", "prices", "events"] as const;
export type SourceName = (typeof sourceNames)[number];

export type ColumnKind = "date" | "text" | "number" | "flag";

export interface ColumnSpec {
  name: string;
  kind: ColumnKind;
  /** A required column must be present and have a value on every row. */
  required: boolean;
}

export interface SourceSpec {
  name: SourceName;
  required: boolean;
  columns: readonly ColumnSpec[];
}

const col = (name: string, kind: ColumnKind, required = false): ColumnSpec => ({ name, kind, required });

export const sourceSpecs: Record<SourceName, SourceSpec> = {
  sales: {
    name: "sales",
    required: true,
    columns: [
      col("date", "date", true),
      col("sku", "text", true),
      col("quantity", "number", true),
      col("revenue", "number"),
      col("location", "text"),
    ],
  },
  products: {
    name: "products",
    required: false,
    columns: [col("sku", "text", true), col("category", "text"), col("brand", "text"), col("launch_date", "date")],
  },
  prices: {
    name: "prices",
    required: false,
    columns: [col("date", "date", true), col("sku", "text", true), col("price", "number", true), col("promo", "flag")],
  },
  events: {
    name: "events",
    required: false,
    columns: [col("date", "date", true), col("event", "text", true), col("kind", "text")],
  },
};

export const rawFormats = ["csv", "csv.gz", "parquet"] as const;
export type RawFormat = (typeof rawFormats)[number];

export const rawKey = (client: string, source: SourceName, format: RawFormat) => `${client}/raw/${source}.${format}`;
export const settingsKey = (client: string) => `${client}/client.json`;
export const latestKey = (client: string) => `${client}/latest.json`;

/** The keys one run writes, relative to the data-pipeline bucket. */
export function runKeys(client: string, runId: string) {
  const at = (name: string) => `${client}/${runId}/${name}`;
  return {
    prefix: at(""),
    validation: at("validation.json"),
    sales: at("sales.parquet"),
    products: at("products.parquet"),
    prices: at("prices.parquet"),
    calendar: at("calendar.parquet"),
    segments: at("segments.parquet"),
    segmentsSummary: at("segments-summary.json"),
    topSeller: at("consolidated/top_seller.parquet"),
    longTail: at("consolidated/long_tail.parquet"),
    future: at("consolidated/future.parquet"),
    summary: at("consolidated/summary.json"),
  };
}

export type RunKeys = ReturnType<typeof runKeys>;
