/**
 * Synthetic demand with known structure, shaped like the consolidated dataset: per SKU a level
 * (heavy-tailed popularity), a seasonal profile (weekly by default), promotions that lift demand
 * (known in advance, with a price cut), Poisson noise; static category and brand, the season
 * position as a known categorical, and lags as unknown reals. Columnar from the start (the
 * benchmark builds 365,000 rows). Deterministic for a seed.
 */
import type { SeriesTable, TftDatasetSpec } from "../../../src/model/tft/index.js";
import { Random } from "../../../src/model/tft/random.js";

export interface SyntheticOptions {
  series: number;
  periods: number;
  seed?: number;
  /** Share of periods on promotion. */
  promoRate?: number;
  /** Demand multiplier on promotion periods. */
  promoLift?: number;
  /** Multipliers over one season; the season position is the `day_of_week` column. */
  profile?: number[];
  /** Some series start late (new launches) when true. */
  staggered?: boolean;
}

export const weekly = [0.8, 0.9, 0.95, 1.0, 1.15, 1.45, 1.25];
export const monthly = [0.85, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.05, 1.0, 1.05, 1.25, 1.5];

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
  const profile = options.profile ?? weekly;
  const starts = Array.from({ length: options.series }, (_, s) =>
    options.staggered && s % 5 === 4 ? Math.floor(options.periods * 0.6 * random.next()) : 0,
  );
  const rows = starts.reduce((n, start) => n + options.periods - start, 0);
  const sku: string[] = new Array(rows);
  const category: string[] = new Array(rows);
  const brand: string[] = new Array(rows);
  const season: string[] = new Array(rows);
  const timeIdx = new Int32Array(rows);
  const quantity = new Float64Array(rows);
  const price = new Float64Array(rows);
  const promo = new Float64Array(rows);
  const lag7 = new Float64Array(rows);
  const rolling7 = new Float64Array(rows);
  let row = 0;
  for (let s = 0; s < options.series; s++) {
    const level = Math.exp(1 + 1.2 * random.normal());
    const basePrice = 2 + 8 * random.next();
    const first = row;
    for (let t = starts[s] as number; t < options.periods; t++, row++) {
      const position = t % profile.length;
      const onPromotion = random.next() < promoRate ? 1 : 0;
      sku[row] = `sku-${String(s).padStart(4, "0")}`;
      category[row] = `c${s % 4}`;
      brand[row] = `b${s % 7}`;
      season[row] = String(position);
      timeIdx[row] = t;
      quantity[row] = poisson(random, level * (profile[position] as number) * (onPromotion ? promoLift : 1));
      price[row] = basePrice * (onPromotion ? 0.8 : 1);
      promo[row] = onPromotion;
      const n = row - first;
      lag7[row] = n >= 7 ? (quantity[row - 7] as number) : Number.NaN;
      let sum = 0;
      const window = Math.min(7, n);
      for (let k = 1; k <= window; k++) sum += quantity[row - k] as number;
      rolling7[row] = window > 0 ? sum / window : Number.NaN;
    }
  }
  return {
    length: rows,
    columns: {
      sku,
      time_idx: timeIdx,
      quantity,
      category,
      brand,
      day_of_week: season,
      price,
      promo,
      lag_7: lag7,
      rolling_mean_7: rolling7,
    },
  };
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

/** Rows of `table` whose time index passes `keep` (a copy). */
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
