/**
 * Synthetic demand with known structure, shaped like the consolidated dataset: per SKU a level
 * (heavy-tailed popularity), a weekly profile, promotions that lift demand (known in advance, with
 * a price cut), Poisson noise; static category and brand, calendar features, and lag features as
 * unknown reals. Deterministic for a seed.
 */

import type { SeriesTable, TftDatasetSpec } from "../../../src/model/tft/index.js";
import { Random } from "../../../src/model/tft/random.js";

export interface SyntheticOptions {
  series: number;
  periods: number;
  seed?: number;
  /** Share of periods on promotion. */
  promoRate?: number;
  /** Demand multiplier on promotion days. */
  promoLift?: number;
  /** Some series start late (new launches) when true. */
  staggered?: boolean;
}

export const syntheticSpec = (encoderLength: number, predictionLength: number): TftDatasetSpec => ({
  group: "sku",
  timeIdx: "time_idx",
  target: "quantity",
  staticCategoricals: ["category", "brand"],
  staticReals: [],
  knownCategoricals: ["day_of_week"],
  knownReals: ["price", "promo"],
  unknownReals: ["lag_7", "rolling_mean_7"],
  encoderLength,
  predictionLength,
});

export function syntheticSeries(options: SyntheticOptions): SeriesTable {
  const random = new Random(options.seed ?? 1);
  const promoRate = options.promoRate ?? 0.1;
  const promoLift = options.promoLift ?? 2.5;
  const weekly = [0.8, 0.9, 0.95, 1.0, 1.15, 1.45, 1.25];
  const rows: Array<Record<string, number | string>> = [];
  for (let s = 0; s < options.series; s++) {
    const level = Math.exp(1 + 1.2 * random.normal());
    const basePrice = 2 + 8 * random.next();
    const category = `c${s % 4}`;
    const brand = `b${s % 7}`;
    const start = options.staggered && s % 5 === 4 ? Math.floor(options.periods * 0.6 * random.next()) : 0;
    const history: number[] = [];
    for (let t = start; t < options.periods; t++) {
      const dow = t % 7;
      const promo = random.next() < promoRate ? 1 : 0;
      const mean = level * (weekly[dow] as number) * (promo ? promoLift : 1);
      const quantity = poisson(random, mean);
      history.push(quantity);
      const n = history.length;
      const last7 = history.slice(Math.max(0, n - 8), n - 1);
      rows.push({
        sku: `sku-${String(s).padStart(4, "0")}`,
        time_idx: t,
        quantity,
        category,
        brand,
        day_of_week: String(dow),
        price: basePrice * (promo ? 0.8 : 1),
        promo,
        lag_7: n > 7 ? (history[n - 8] as number) : Number.NaN,
        rolling_mean_7: last7.length > 0 ? last7.reduce((a, b) => a + b, 0) / last7.length : Number.NaN,
      });
    }
  }
  return toTable(rows);
}

function toTable(rows: Array<Record<string, number | string>>): SeriesTable {
  const first = rows[0] ?? {};
  const columns: SeriesTable["columns"] = {};
  for (const name of Object.keys(first)) {
    if (typeof first[name] === "string") columns[name] = rows.map((r) => r[name] as string);
    else if (name === "time_idx") columns[name] = Int32Array.from(rows, (r) => r[name] as number);
    else columns[name] = Float64Array.from(rows, (r) => r[name] as number);
  }
  return { length: rows.length, columns };
}

function poisson(random: Random, mean: number): number {
  if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * random.normal()));
  const limit = Math.exp(-mean);
  let k = 0;
  let p = random.next();
  while (p > limit) {
    k++;
    p *= random.next();
  }
  return k;
}

/** Rows of `table` whose time index passes `keep`. */
export function filterRows(table: SeriesTable, timeIdx: string, keep: (t: number) => boolean): SeriesTable {
  const time = table.columns[timeIdx] as Int32Array;
  const selected: number[] = [];
  for (let i = 0; i < table.length; i++) if (keep(time[i] as number)) selected.push(i);
  const columns: SeriesTable["columns"] = {};
  for (const [name, values] of Object.entries(table.columns)) {
    if (Array.isArray(values)) columns[name] = selected.map((i) => values[i] as string);
    else {
      const out = new (values.constructor as Float64ArrayConstructor)(selected.length);
      selected.forEach((row, j) => {
        out[j] = values[row] as number;
      });
      columns[name] = out;
    }
  }
  return { length: selected.length, columns };
}
