/**
 * Synthetic raw data for a client: sales, products, prices and events that look like a retailer's,
 * deterministic for a seed. What tests and the demo run on, and the scale knob of the benchmarks.
 *
 * Each SKU's expected daily demand is its popularity (log-normal: a few SKUs sell most) × its
 * category's weekly and yearly seasonality × holiday and campaign effects × a trend × a price
 * response (constant elasticity against its regular price, plus a promotion uplift). Sales are drawn
 * from a zero-inflated gamma–Poisson (negative binomial): rarely sold SKUs are mostly zeros, so the
 * long tail is intermittent or lumpy. Some SKUs launch during the history (ramping up over 30 days),
 * some are discontinued. Prices are change points (regular changes and promotions), planned 90 days
 * past the last sale; events cover a year past it. Sales rows exist only for periods with sales, as
 * in a point-of-sale export.
 *
 * Rows are generated SKU by SKU into a streamed CSV (no table of 10 M objects is ever built); Parquet
 * output is converted from it by DuckDB.
 */
import { once } from "node:events";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ObjectStore } from "../storage/index.js";
import { toDay, toIso, weekday, weekStart } from "./dates.js";
import { openEngine, sqlString } from "./engine.js";
import { DataError } from "./errors.js";
import { holidaysOf } from "./holidays.js";
import { rawFormats, rawKey, type SourceName, settingsKey, sourceNames } from "./layout.js";
import { createRandom } from "./random.js";
import { defaultSettings, type Frequency } from "./settings.js";

export interface SynthesisOptions {
  skus: number;
  days: number;
  seed: number;
  frequency?: Frequency;
  /** The last day of sales (default 2025-12-28, a Sunday, so the data never depends on today). */
  end?: string;
  format?: "csv" | "parquet";
}

export interface SynthesisResult {
  /** The written files (paths for `writeSyntheticData`, object keys for `synthesizeClient`). */
  files: Record<SourceName | "settings", string>;
  rows: Record<SourceName, number>;
  skus: number;
  firstDate: string;
  lastDate: string;
  frequency: Frequency;
}

const defaultSynthesisEnd = "2025-12-28";
const plannedPriceDays = 90;
const plannedEventDays = 365;
const launchRampDays = 30;

const categories = [
  // name, weekly profile (Mon..Sun), yearly amplitude, yearly peak (day of year)
  { name: "beverages", week: [0.9, 0.9, 0.95, 1, 1.15, 1.35, 0.75], amplitude: 0.35, peak: 200 },
  { name: "snacks", week: [0.85, 0.9, 0.9, 1, 1.2, 1.4, 0.75], amplitude: 0.1, peak: 355 },
  { name: "dairy", week: [1, 1, 1, 1, 1.1, 1.2, 0.7], amplitude: 0.05, peak: 20 },
  { name: "bakery", week: [1, 0.95, 0.95, 1, 1.1, 1.35, 0.65], amplitude: 0.08, peak: 350 },
  { name: "frozen", week: [0.9, 0.9, 1, 1, 1.1, 1.3, 0.8], amplitude: 0.3, peak: 210 },
  { name: "household", week: [1.05, 1, 1, 1, 1, 1.2, 0.75], amplitude: 0.1, peak: 100 },
  { name: "personal_care", week: [1, 1, 1, 1, 1.05, 1.2, 0.75], amplitude: 0.05, peak: 160 },
  { name: "produce", week: [1, 0.95, 1, 1, 1.15, 1.3, 0.6], amplitude: 0.2, peak: 190 },
  { name: "pantry", week: [1, 1, 1, 1, 1.05, 1.25, 0.7], amplitude: 0.15, peak: 340 },
  { name: "pet", week: [1, 1, 1, 1, 1, 1.25, 0.75], amplitude: 0.03, peak: 0 },
  { name: "toys", week: [0.8, 0.8, 0.85, 0.9, 1.1, 1.6, 0.95], amplitude: 0.6, peak: 350 },
  { name: "garden", week: [0.9, 0.9, 0.9, 0.95, 1.05, 1.5, 0.8], amplitude: 0.7, peak: 130 },
] as const;
const brandCount = 60;
const packSizes = [1, 1, 1, 2, 4, 6, 12];

function checkOptions(options: SynthesisOptions): void {
  const problems: string[] = [];
  const int = (name: string, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max)
      problems.push(`${name} must be an integer from ${min} to ${max}`);
  };
  int("skus", options.skus, 1, 1_000_000);
  int("days", options.days, 14, 20_000);
  int("seed", options.seed, 0, 2 ** 32 - 1);
  if (options.end !== undefined && (!/^\d{4}-\d{2}-\d{2}$/.test(options.end) || Number.isNaN(toDay(options.end)))) {
    problems.push(`end must be a date such as 2025-12-28, got "${options.end}"`);
  }
  if (problems.length > 0) {
    throw new DataError("DATA_SYNTH_INVALID", `Cannot synthesise data: ${problems.join("; ")}.`);
  }
}

/** A file written in large chunks with back-pressure: `line` buffers, `drain` writes once enough is buffered. */
class ChunkedWriter {
  private buffer = "";
  rows = 0;
  private readonly stream: WriteStream;

  constructor(file: string, header: string) {
    this.stream = createWriteStream(file);
    this.buffer = `${header}\n`;
  }

  line(text: string): void {
    this.buffer += `${text}\n`;
    this.rows++;
  }

  async drain(): Promise<void> {
    if (this.buffer.length >= 1 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    const chunk = this.buffer;
    this.buffer = "";
    if (!this.stream.write(chunk)) await once(this.stream, "drain");
  }

  async close(): Promise<void> {
    await this.flush();
    this.stream.end();
    await once(this.stream, "finish");
  }
}

/** Day-by-day demand multipliers shared by all SKUs: holidays, the run-up to Christmas, campaigns. */
function calendarEffects(seed: number, firstDay: number, length: number) {
  const effect = new Float64Array(length).fill(1);
  const events: { day: number; name: string; kind: string }[] = [];
  const firstYear = Number(toIso(firstDay).slice(0, 4));
  const lastYear = Number(toIso(firstDay + length - 1).slice(0, 4));
  for (let year = firstYear; year <= lastYear; year++) {
    for (const h of holidaysOf(year)) {
      if (h.day < firstDay || h.day >= firstDay + length) continue;
      effect[h.day - firstDay] = h.effect;
      events.push({ day: h.day, name: h.name, kind: "holiday" });
    }
    // Christmas shopping builds up through December.
    const dec1 = toDay(`${year}-12-01`);
    for (let d = 0; d < 23; d++) {
      const i = dec1 + d - firstDay;
      if (i >= 0 && i < length) effect[i] = (effect[i] as number) * (1 + 0.02 * d);
    }
  }
  const random = createRandom(seed, 0x7fffffff);
  let number = 1;
  for (let i = random.int(10, 60); i < length; i += random.int(40, 90)) {
    const name = `campaign_${String(number++).padStart(3, "0")}`;
    for (let d = i; d < Math.min(i + 3, length); d++) {
      effect[d] = (effect[d] as number) * 1.25;
      events.push({ day: firstDay + d, name, kind: "campaign" });
    }
  }
  events.sort((a, b) => a.day - b.day || a.name.localeCompare(b.name));
  return { effect, events };
}

const money = (x: number) => x.toFixed(2);
/** A shelf price: .49 or .99 endings. */
const shelfPrice = (x: number) => Math.max(0.49, Math.round(x * 2) / 2 - 0.01);

/** Writes the four raw files and client.json into a folder. */
export async function writeSyntheticData(dir: string, options: SynthesisOptions): Promise<SynthesisResult> {
  checkOptions(options);
  const frequency = options.frequency ?? "daily";
  const weekly = frequency === "weekly";
  let lastDay = toDay(options.end ?? defaultSynthesisEnd);
  if (weekly) lastDay = weekStart(lastDay + 1) - 1; // the Sunday on or before
  let firstDay = lastDay - options.days + 1;
  if (weekly) firstDay = weekStart(firstDay);
  const historyLength = lastDay - firstDay + 1;
  const pathLength = historyLength + plannedPriceDays;
  const { effect, events } = calendarEffects(options.seed, firstDay, historyLength + plannedEventDays);
  const dates = Array.from({ length: historyLength + plannedEventDays }, (_, i) => toIso(firstDay + i));

  // Category-level seasonality × calendar effects, per history day.
  const season = categories.map((c) => {
    const s = new Float64Array(historyLength);
    for (let d = 0; d < historyLength; d++) {
      const day = firstDay + d;
      const doy = day - toDay(`${toIso(day).slice(0, 4)}-01-01`);
      const yearly = 1 + c.amplitude * Math.cos((2 * Math.PI * (doy - c.peak)) / 365.25);
      s[d] = (c.week[weekday(day)] as number) * yearly * (effect[d] as number);
    }
    return s;
  });

  await fsp.mkdir(dir, { recursive: true });
  const file = (name: string) => path.join(dir, `${name}.csv`);
  const sales = new ChunkedWriter(file("sales"), "date,sku,quantity,revenue");
  const products = new ChunkedWriter(file("products"), "sku,category,brand,launch_date,pack_size");
  const prices = new ChunkedWriter(file("prices"), "date,sku,price,promo");
  const width = Math.max(5, String(options.skus).length);
  const price = new Float64Array(pathLength);
  const regular = new Float64Array(pathLength);
  const promo = new Uint8Array(pathLength);

  for (let i = 0; i < options.skus; i++) {
    const random = createRandom(options.seed, i + 1);
    const sku = `SKU-${String(i + 1).padStart(width, "0")}`;
    const categoryIndex = random.int(0, categories.length - 1);
    const category = categories[categoryIndex] as (typeof categories)[number];
    const brand = `brand_${String(1 + Math.floor(brandCount * random.next() ** 2)).padStart(2, "0")}`;
    const popularity = Math.exp(Math.log(4) + 1.6 * random.normal());
    const zeroInflation = 1 / (1 + 2 * popularity ** 0.8);
    const shape = 0.5 + 7.5 * random.next();
    const trend = 0.03 + 0.25 * random.normal();
    const elasticity = 0.8 + 1.7 * random.next();
    const launched = random.next() < 0.12;
    const launch = launched ? random.int(0, Math.max(0, historyLength - 30)) : 0;
    const discontinued = random.next() < 0.06 && historyLength > 120;
    let stop = discontinued ? random.int(Math.floor(historyLength * 0.3), historyLength - 60) : pathLength;
    if (stop <= launch + 30) stop = pathLength;
    const launchDate = launched ? firstDay + launch : firstDay - random.int(30, 1000);
    products.line(
      `${sku},${category.name},${brand},${toIso(launchDate)},${packSizes[random.int(0, packSizes.length - 1)]}`,
    );

    // The price path: regular changes every 2–8 months, promotions every 1–4 months.
    let regularPrice = shelfPrice(Math.exp(Math.log(8) + 0.8 * random.normal()));
    let nextChange = launch + random.int(60, 240);
    let nextPromo = launch + random.int(25, 110);
    let promoEnd = -1;
    let discount = 0;
    for (let d = launch; d < Math.min(stop, pathLength); d++) {
      if (d === nextChange) {
        regularPrice = shelfPrice(regularPrice * Math.exp(0.02 + 0.05 * random.normal()));
        nextChange = d + random.int(60, 240);
      }
      if (d === nextPromo) {
        promoEnd = d + random.int(5, 14);
        discount = 0.1 + 0.3 * random.next();
        nextPromo = promoEnd + random.int(25, 110);
      }
      const onPromo = d < promoEnd;
      const p = onPromo ? shelfPrice(regularPrice * (1 - discount)) : regularPrice;
      regular[d] = regularPrice;
      promo[d] = onPromo ? 1 : 0;
      price[d] = p;
      if (d === launch || p !== price[d - 1] || promo[d] !== promo[d - 1]) {
        prices.line(`${dates[d]},${sku},${money(p)},${promo[d]}`);
      }
    }

    // Demand, day by day; weekly data adds up each Monday-to-Sunday week.
    let weekQuantity = 0;
    let weekRevenue = 0;
    let growth = 1;
    const dailyGrowth = Math.exp(trend / 365);
    for (let d = 0; d < historyLength; d++) {
      growth *= dailyGrowth;
      if (d >= launch && d < stop) {
        let mean =
          popularity *
          (season[categoryIndex]?.[d] as number) *
          growth *
          ((price[d] as number) / (regular[d] as number)) ** -elasticity;
        if (promo[d]) mean *= 1.15;
        if (launched && d - launch < launchRampDays) mean *= (d - launch + 1) / launchRampDays;
        let quantity = 0;
        if (mean > 0 && random.next() >= zeroInflation) {
          quantity = random.poisson(random.gamma(shape, mean / ((1 - zeroInflation) * shape)));
        }
        if (quantity > 0) {
          if (weekly) {
            weekQuantity += quantity;
            weekRevenue += quantity * (price[d] as number);
          } else {
            sales.line(`${dates[d]},${sku},${quantity},${money(quantity * (price[d] as number))}`);
          }
        }
      }
      if (weekly && weekday(firstDay + d) === 6) {
        if (weekQuantity > 0) sales.line(`${dates[d - 6]},${sku},${weekQuantity},${money(weekRevenue)}`);
        weekQuantity = 0;
        weekRevenue = 0;
      }
    }
    for (const writer of [sales, products, prices]) await writer.drain();
  }

  const eventsFile = new ChunkedWriter(file("events"), "date,event,kind");
  for (const e of events) eventsFile.line(`${toIso(e.day)},${e.name},${e.kind}`);
  for (const writer of [sales, products, prices, eventsFile]) await writer.close();

  const settingsFile = path.join(dir, "client.json");
  await fsp.writeFile(
    settingsFile,
    `${JSON.stringify({ frequency, horizon: defaultSettings(frequency).horizon }, null, 2)}\n`,
  );
  const files = {
    sales: file("sales"),
    products: file("products"),
    prices: file("prices"),
    events: file("events"),
    settings: settingsFile,
  };
  if (options.format === "parquet") {
    await toParquet(dir, files);
  }
  return {
    files,
    rows: { sales: sales.rows, products: products.rows, prices: prices.rows, events: eventsFile.rows },
    skus: options.skus,
    firstDate: toIso(firstDay),
    lastDate: toIso(lastDay),
    frequency,
  };
}

async function toParquet(dir: string, files: Record<SourceName | "settings", string>): Promise<void> {
  const engine = await openEngine({ workDir: dir });
  try {
    for (const source of sourceNames) {
      const csv = files[source];
      const parquet = path.join(dir, `${source}.parquet`);
      await engine.run(
        `COPY (SELECT * FROM read_csv(${sqlString(csv)}, header = true)) TO ${sqlString(parquet)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      await fsp.rm(csv);
      files[source] = parquet;
    }
  } finally {
    engine.close();
    await fsp.rm(path.join(dir, "duckdb-spill"), { recursive: true, force: true });
  }
}

/**
 * Synthesises a client's raw data straight into the training-data bucket (`<client>/raw/…` and
 * `<client>/client.json`), replacing raw files of the other formats so the client has one per source.
 */
export async function synthesizeClient(
  store: ObjectStore,
  bucket: string,
  client: string,
  options: SynthesisOptions,
): Promise<SynthesisResult> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-synth-"));
  try {
    const result = await writeSyntheticData(dir, options);
    const format = options.format ?? "csv";
    const files = { ...result.files };
    for (const source of sourceNames) {
      const key = rawKey(client, source, format);
      await store.put(bucket, key, createReadStream(result.files[source]), {
        contentType: format === "csv" ? "text/csv" : "application/vnd.apache.parquet",
      });
      for (const other of rawFormats) if (other !== format) await store.delete(bucket, rawKey(client, source, other));
      files[source] = key;
    }
    files.settings = settingsKey(client);
    await store.put(bucket, files.settings, await fsp.readFile(result.files.settings), {
      contentType: "application/json",
    });
    return { ...result, files };
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
