/**
 * The `validate` task: checks a client's raw files against every rule before anything is transformed.
 * It reports every problem it finds (the first `problemListCap` listed, all of them counted) with the
 * file, row, column, value and rule, and writes nothing when there is one. On success it writes
 * `validation.json`: the resolved settings, the inputs (with their ETags, so later tasks read exactly
 * what was validated) and the dataset's periods, which the parallel transforms share.
 */
import { type DataContext, uploadJson, withEngine } from "./context.js";
import { addDays, periodDays, toDay, toIso, weekday, weekStart } from "./dates.js";
import { type Engine, sqlIdent, sqlString } from "./engine.js";
import { DataError, DataValidationError } from "./errors.js";
import { type ColumnSpec, runKeys, type SourceName, settingsKey, sourceNames, sourceSpecs } from "./layout.js";
import { problemListCap, type ValidationProblem, type ValidationRule, validationRules } from "./problems.js";
import {
  describeRaw,
  downloadRaw,
  locateRawInputs,
  type RawInput,
  type RawTable,
  rawRelation,
  stagedRow,
  stageRaw,
  typed,
} from "./raw-inputs.js";
import { type ClientSettings, parseClientSettings } from "./settings.js";

export interface ValidatedInput extends RawInput {
  rows: number;
  columns: string[];
}

/** The dataset's periods: history `start`…`end`, then `horizon` future periods (dates are period starts). */
export interface Periods {
  start: string;
  end: string;
  futureStart: string;
  futureEnd: string;
  /** The last day the history covers (`end` for daily, its Sunday for weekly). */
  historyEndDay: string;
  /** The last day the future covers. */
  futureEndDay: string;
  /** History periods. */
  count: number;
}

export interface ValidationReport {
  client: string;
  runId: string;
  createdAt: string;
  codeSha: string | null;
  settings: ClientSettings;
  inputs: Partial<Record<SourceName, ValidatedInput>>;
  sales: {
    rows: number;
    skus: number;
    firstDate: string;
    lastDate: string;
    hasRevenue: boolean;
    hasLocation: boolean;
    /** Whether the raw sales are daily (dates on several weekdays), whatever the frequency. */
    dailyInput: boolean;
  };
  periods: Periods;
  /** Harmless oddities worth knowing (e.g. products without sales). */
  warnings: string[];
}

/** Sales may not be dated after tomorrow (time zones); other dates are plans, allowed 10 years ahead. */
const earliestDate = "1970-01-01";
const salesDaysAhead = 1;
const plansDaysAhead = 3653;

interface Check {
  rule: ValidationRule;
  column: string;
  /** SQL condition on the staged row that marks the problem. */
  where: string;
  message: string;
}

interface Found {
  problem: ValidationProblem;
  /** Sort key: source order, then row. */
  order: [number, number];
}

class ProblemCollector {
  total = 0;
  readonly found: Found[] = [];

  add(problem: ValidationProblem, sourceIndex = -1, count = 1): void {
    this.total += count;
    this.found.push({ problem, order: [sourceIndex, problem.row ?? 0] });
  }

  /** Counts problems of which only some (`listed`) are kept. */
  addMany(listed: ValidationProblem[], sourceIndex: number, count: number): void {
    this.total += count;
    for (const problem of listed) this.found.push({ problem, order: [sourceIndex, problem.row ?? 0] });
  }

  list(): ValidationProblem[] {
    const rank = (rule: ValidationRule) => validationRules.indexOf(rule);
    return [...this.found]
      .sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1] || rank(a.problem.rule) - rank(b.problem.rule))
      .slice(0, problemListCap)
      .map((f) => f.problem);
  }
}

async function loadSettings(context: DataContext): Promise<ClientSettings> {
  const key = settingsKey(context.client);
  const bytes = await context.store.getBytes(context.trainingBucket, key);
  return parseClientSettings(
    bytes === null ? undefined : Buffer.from(bytes).toString("utf8"),
    `${context.trainingBucket}/${key}`,
  );
}

interface Staged {
  input: RawInput;
  table: string;
  columns: string[];
  rows: number;
  /** Row numbers of malformed CSV rows, to turn "n-th parsed row" into the row in the file. */
  rejectedRows: number[];
}

const textValue = (column: string) => `NULLIF(trim(CAST(${sqlIdent(column)} AS VARCHAR)), '')`;

function columnChecks(source: SourceName, spec: ColumnSpec, settings: ClientSettings, now: Date): Check[] {
  const c = spec.name;
  const text = textValue(c);
  const checks: Check[] = [];
  if (spec.required) {
    checks.push({
      rule: "missing_value",
      column: c,
      where: `${text} IS NULL`,
      message: `is empty; every row needs a ${c}`,
    });
  }
  if (spec.kind === "date") {
    const value = typed(c, "date");
    const ahead = source === "sales" ? salesDaysAhead : plansDaysAhead;
    const latest = toIso(Math.floor(now.getTime() / 86_400_000) + ahead);
    checks.push(
      {
        rule: "unparseable_date",
        column: c,
        where: `${text} IS NOT NULL AND ${value} IS NULL`,
        message: "is not a date; write dates as YYYY-MM-DD",
      },
      {
        rule: "date_out_of_range",
        column: c,
        where: `${value} < DATE ${sqlString(earliestDate)} OR ${value} > DATE ${sqlString(latest)}`,
        message:
          source === "sales"
            ? `is outside ${earliestDate} … ${latest}; sales cannot be dated in the future or before ${earliestDate.slice(0, 4)}`
            : `is outside ${earliestDate} … ${latest}; check the year`,
      },
    );
  }
  if (spec.kind === "number") {
    const value = typed(c, "number");
    checks.push({
      rule: "invalid_number",
      column: c,
      where: `${text} IS NOT NULL AND (${value} IS NULL OR NOT isfinite(${value}))`,
      message: "is not a number",
    });
    if (c === "quantity" && settings.returns === "reject") {
      checks.push({
        rule: "negative_quantity",
        column: c,
        where: `${value} < 0`,
        message: 'is negative; if these are returns, set "returns" to "net" or "drop" in client.json',
      });
    }
    if (c === "price") {
      checks.push({ rule: "negative_price", column: c, where: `${value} < 0`, message: "is negative" });
    }
  }
  if (spec.kind === "flag") {
    checks.push({
      rule: "invalid_promo",
      column: c,
      where: `${text} IS NOT NULL AND ${typed(c, "flag")} IS NULL`,
      message: "must be 0 or 1 (or true/false)",
    });
  }
  return checks;
}

/** The row in the file of the n-th row that parsed, counting the malformed rows before it. */
function fileRow(parsedRow: number, rejectedRows: readonly number[]): number {
  let row = parsedRow;
  for (const rejected of rejectedRows) {
    if (rejected <= row) row++;
    else break;
  }
  return row;
}

const rejectsListedMax = 100_000;

/** Reads a raw file's header: undefined (with a problem) when it cannot be checked at all. */
async function openSource(
  engine: Engine,
  input: RawInput,
  path: string,
  sourceIndex: number,
  problems: ProblemCollector,
): Promise<RawTable | undefined> {
  const fail = (message: string, rule: ValidationRule = "unreadable_file") => {
    problems.add({ rule, file: input.file, message }, sourceIndex);
    return undefined;
  };
  let raw: RawTable;
  try {
    raw = await describeRaw(engine, input, path);
  } catch (error) {
    if (error instanceof DataError) return fail(error.message.replace(`${input.file} `, ""));
    throw error;
  }
  if (raw.columns.length === 0) return fail("is empty: not even a header row", "empty_file");
  const seen = new Set<string>();
  for (const column of raw.columns) {
    if (column === "") return fail("has a column without a name in its header");
    if (seen.has(column)) return fail(`has the column "${column}" twice`);
    seen.add(column);
  }
  for (const column of sourceSpecs[input.source].columns) {
    if (column.required && !raw.columns.includes(column.name)) {
      problems.add(
        {
          rule: "missing_column",
          file: input.file,
          column: column.name,
          message: `has no "${column.name}" column; the columns found are: ${raw.columns.join(", ")}`,
        },
        sourceIndex,
      );
    }
  }
  return raw;
}

/** Copies a raw file into a table in file order, listing its malformed CSV rows. */
async function stageSource(
  engine: Engine,
  raw: RawTable,
  sourceIndex: number,
  problems: ProblemCollector,
): Promise<Staged | undefined> {
  const { input } = raw;
  const table = `stage_${input.source}`;
  try {
    await stageRaw(engine, raw, table, `rejects_${input.source}`);
  } catch (error) {
    if (!(error instanceof DataError) || error.context.resource) throw error;
    const first = ((error as Error).message ?? "").split("\n").find((l) => l.trim() !== "") ?? "";
    problems.add(
      {
        rule: "unreadable_file",
        file: input.file,
        message: `could not be read (${first.replace(/^DuckDB failed: /, "")})`,
      },
      sourceIndex,
    );
    return undefined;
  }
  const rejectedRows: number[] = [];
  if (input.format !== "parquet") {
    const errors = `rejects_${input.source}_errors`;
    const [{ n } = { n: 0 }] = await engine.rows<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ${errors}`);
    if (n > 0) {
      const listed = await engine.rows<{ line: number; message: string; text: string | null }>(
        `SELECT line::INTEGER AS line, error_message AS message, csv_line AS text FROM ${errors} ORDER BY line LIMIT ${problemListCap}`,
      );
      problems.addMany(
        listed.map((r) => ({
          rule: "malformed_row" as const,
          file: input.file,
          row: r.line - 1,
          value: (r.text ?? "").trim().slice(0, 200),
          message: `could not be parsed as CSV (${r.message})`,
        })),
        sourceIndex,
        n,
      );
      // Beyond this many malformed rows the file is not CSV as expected; its values are not checked.
      if (n > rejectsListedMax) return undefined;
      const lines = await engine.rows<{ line: number }>(`SELECT line::INTEGER AS line FROM ${errors} ORDER BY line`);
      for (const { line } of lines) rejectedRows.push(line - 1);
    }
  }
  const [{ rows } = { rows: 0 }] = await engine.rows<{ rows: number }>(
    `SELECT count(*)::INTEGER AS rows FROM ${table}`,
  );
  return { input, table, columns: raw.columns, rows, rejectedRows };
}

/** Runs the checks of one staged source: one scan counts every rule, then the first offenders are listed. */
async function runChecks(
  engine: Engine,
  staged: Staged,
  checks: Check[],
  sourceIndex: number,
  problems: ProblemCollector,
): Promise<void> {
  if (checks.length === 0) return;
  const counts = await engine.rows<Record<string, number>>(
    `SELECT ${checks.map((check, i) => `count(*) FILTER (WHERE ${check.where})::INTEGER AS c${i}`).join(", ")} FROM ${staged.table}`,
  );
  for (const [i, check] of checks.entries()) {
    const count = counts[0]?.[`c${i}`] ?? 0;
    if (count === 0) continue;
    const listed = await engine.rows<{ row: number; value: string | null }>(
      `SELECT ${stagedRow}::DOUBLE AS row, CAST(${sqlIdent(check.column)} AS VARCHAR) AS value FROM ${staged.table} WHERE ${check.where} ORDER BY rowid LIMIT ${problemListCap}`,
    );
    problems.addMany(
      listed.map((r) => ({
        rule: check.rule,
        file: staged.input.file,
        row: fileRow(r.row, staged.rejectedRows),
        column: check.column,
        value: r.value ?? "",
        message: check.message,
      })),
      sourceIndex,
      count,
    );
  }
}

/** The key a row may not repeat under the `reject` policy (a return and a sale of one day differ). */
function duplicateKey(source: SourceName, columns: string[]): { specs: ColumnSpec[]; partition: string[] } | undefined {
  const keys: Record<SourceName, string[]> = {
    sales: ["date", "sku"],
    products: ["sku"],
    prices: ["date", "sku"],
    events: [],
  };
  const names = keys[source];
  const specs = sourceSpecs[source].columns.filter((c) => names.includes(c.name));
  if (specs.length === 0 || !specs.every((k) => columns.includes(k.name))) return undefined;
  const partition = specs.map((k) => typed(k.name, k.kind));
  if (source === "sales" && columns.includes("quantity")) partition.push(`${typed("quantity", "number")} < 0`);
  if (source === "sales" && columns.includes("location")) partition.push(typed("location", "text"));
  return { specs, partition };
}

async function countDuplicates(engine: Engine, from: string, key: { specs: ColumnSpec[]; partition: string[] }) {
  const valid = key.specs.map((k) => `${typed(k.name, k.kind)} IS NOT NULL`).join(" AND ");
  const [{ n } = { n: 0 }] = await engine.rows<{ n: number }>(
    `SELECT coalesce(sum(n - 1), 0)::INTEGER AS n FROM (
       SELECT count(*) AS n FROM ${from} WHERE ${valid} GROUP BY ${key.partition.join(", ")}) WHERE n > 1`,
  );
  return n;
}

/** Lists every row repeating an earlier row's key. */
async function listDuplicates(
  engine: Engine,
  staged: Staged,
  key: { specs: ColumnSpec[]; partition: string[] },
  sourceIndex: number,
  problems: ProblemCollector,
): Promise<void> {
  const { specs, partition } = key;
  const valid = specs.map((k) => `${typed(k.name, k.kind)} IS NOT NULL`).join(" AND ");
  const table = `dup_${staged.input.source}`;
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE ${table} AS SELECT * FROM (
       SELECT ${stagedRow} AS __row, ${specs.map((k) => `CAST(${sqlIdent(k.name)} AS VARCHAR) AS ${sqlIdent(k.name)}`).join(", ")},
              min(${stagedRow}) OVER (PARTITION BY ${partition.join(", ")}) AS first_row
       FROM ${staged.table} WHERE ${valid}) WHERE __row > first_row`,
  );
  const [{ n } = { n: 0 }] = await engine.rows<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ${table}`);
  if (n === 0) return;
  const listed = await engine.rows<Record<string, string | number>>(
    `SELECT __row::DOUBLE AS row, first_row::DOUBLE AS first_row, * EXCLUDE (__row, first_row) FROM ${table} ORDER BY __row LIMIT ${problemListCap}`,
  );
  const keyText = specs.map((k) => k.name).join(", ");
  problems.addMany(
    listed.map((r) => ({
      rule: "duplicate_key" as const,
      file: staged.input.file,
      row: fileRow(Number(r.row), staged.rejectedRows),
      column: keyText,
      value: specs.map((k) => String(r[k.name])).join(", "),
      message: `repeats the ${keyText} of row ${fileRow(Number(r.first_row), staged.rejectedRows)}; the duplicates policy is "reject" (use "sum" or "last" in client.json to accept them)`,
    })),
    sourceIndex,
    n,
  );
}

/**
 * The sales, summarised per SKU in one scan (`sales_by_sku`): rows, offending rows per check, first
 * and last date, weekdays seen. What the report's facts and the unknown-SKU check read.
 */
async function summariseSales(engine: Engine, from: string, checks: Check[], columns: string[]): Promise<number[]> {
  const date = typed("date", "date");
  const sold = columns.includes("quantity") ? `count(*) FILTER (WHERE ${typed("quantity", "number")} > 0)` : "0";
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE sales_by_sku AS
     SELECT ${typed("sku", "text")} AS sku, count(*)::INTEGER AS n, ${sold}::INTEGER AS sold,
            ${checks.map((check, i) => `count(*) FILTER (WHERE ${check.where})::INTEGER AS c${i}, `).join("")}
            min(${date}) AS first, max(${date}) AS last, bit_or(1 << (isodow(${date}) - 1)) AS weekdays
     FROM ${from} GROUP BY 1`,
  );
  if (checks.length === 0) return [];
  const [sums = {}] = await engine.rows<Record<string, number>>(
    `SELECT ${checks.map((_, i) => `sum(c${i})::INTEGER AS c${i}`).join(", ")} FROM sales_by_sku`,
  );
  return checks.map((_, i) => sums[`c${i}`] ?? 0);
}

export async function validateRawData(context: DataContext): Promise<ValidationReport> {
  const settings = await loadSettings(context);
  const now = context.now?.() ?? new Date();
  const problems = new ProblemCollector();
  const { inputs, problems: located } = await locateRawInputs(context);
  for (const p of located) problems.add(p);
  const where = `${context.trainingBucket}/${context.client}/raw/`;
  if (!inputs.sales && !located.some((p) => p.file.startsWith("sales."))) {
    problems.add({
      rule: "missing_file",
      file: "sales.csv",
      message: `is missing: put the sales history at ${where}sales.csv (or sales.parquet) with the columns date, sku, quantity`,
    });
  }

  return withEngine(context, async (engine) => {
    const opened: Partial<Record<SourceName, RawTable>> = {};
    const staged: Partial<Record<SourceName, Staged>> = {};
    let salesSummarised = false;
    for (const [index, source] of sourceNames.entries()) {
      const input = inputs[source];
      if (!input) continue;
      const raw = await openSource(engine, input, await downloadRaw(context, input), index, problems);
      if (!raw) continue;
      opened[source] = raw;
      const checks = sourceSpecs[source].columns
        .filter((c) => raw.columns.includes(c.name))
        .flatMap((c) => columnChecks(source, c, settings, now));
      const key = settings.duplicates === "reject" ? duplicateKey(source, raw.columns) : undefined;
      const salesReadable = source === "sales" && ["date", "sku"].every((c) => raw.columns.includes(c));

      // The sales can be millions of rows: one scan of the file counts every rule, and only a file
      // with problems is copied to find their rows. The other sources are small and always copied.
      if (salesReadable) {
        try {
          const counts = await summariseSales(engine, rawRelation(raw), checks, raw.columns);
          const duplicates = key ? await countDuplicates(engine, rawRelation(raw), key) : 0;
          salesSummarised = counts.every((n) => n === 0) && duplicates === 0;
        } catch (error) {
          // A malformed CSV row stops the scan; the copy below finds and lists every one.
          if (!(error instanceof DataError) || error.context.resource) throw error;
        }
        if (salesSummarised) continue;
      }
      const result = await stageSource(engine, raw, index, problems);
      if (!result) continue;
      staged[source] = result;
      if (salesReadable) {
        await summariseSales(engine, result.table, checks, raw.columns);
        salesSummarised = true;
      }
      await runChecks(engine, result, checks, index, problems);
      if (key) await listDuplicates(engine, result, key, index, problems);
    }

    const sales = opened.sales;
    const hasRevenue = sales?.columns.includes("revenue") ?? false;
    if (sales && settings.segmentation.basis === "revenue" && !hasRevenue) {
      problems.add(
        {
          rule: "missing_column",
          file: sales.input.file,
          column: "revenue",
          message: `has no "revenue" column, which segmentation.basis "revenue" needs (use "volume" or "auto"); the columns found are: ${sales.columns.join(", ")}`,
        },
        0,
      );
    }
    const warnings: string[] = [];
    const sku = typed("sku", "text");
    const knownSkus = "(SELECT sku FROM sales_by_sku WHERE sku IS NOT NULL)";
    const prices = staged.prices;
    if (salesSummarised && prices?.columns.includes("sku")) {
      await engine.run(
        `CREATE OR REPLACE TEMP TABLE unknown_prices AS
         SELECT ${sku} AS sku, min(${stagedRow}) AS row, count(*)::INTEGER AS n FROM ${prices.table}
         WHERE ${sku} IS NOT NULL AND ${sku} NOT IN ${knownSkus} GROUP BY 1`,
      );
      const [{ n } = { n: 0 }] = await engine.rows<{ n: number }>("SELECT count(*)::INTEGER AS n FROM unknown_prices");
      if (n > 0) {
        const listed = await engine.rows<{ sku: string; row: number; n: number }>(
          `SELECT sku, row::DOUBLE AS row, n FROM unknown_prices ORDER BY row LIMIT ${problemListCap}`,
        );
        problems.addMany(
          listed.map((r) => ({
            rule: "unknown_sku" as const,
            file: prices.input.file,
            row: fileRow(r.row, prices.rejectedRows),
            column: "sku",
            value: r.sku,
            message: `has prices (${r.n} row${r.n === 1 ? "" : "s"}) but no sales; fix the SKU or remove its prices`,
          })),
          2,
          n,
        );
      }
    }
    const products = staged.products;
    if (salesSummarised && products?.columns.includes("sku")) {
      const [{ n } = { n: 0 }] = await engine.rows<{ n: number }>(
        `SELECT count(DISTINCT ${sku})::INTEGER AS n FROM ${products.table} WHERE ${sku} NOT IN ${knownSkus}`,
      );
      if (n > 0) {
        const one = n === 1;
        warnings.push(
          `${n} SKU${one ? "" : "s"} in ${products.input.file} ${one ? "has" : "have"} no sales and ${one ? "is" : "are"} ignored.`,
        );
      }
    }

    let facts = { rows: 0, sold: 0, skus: 0, first: null as string | null, last: null as string | null, weekdays: 0 };
    if (salesSummarised) {
      [facts = facts] = await engine.rows<typeof facts>(
        `SELECT coalesce(sum(n), 0)::INTEGER AS rows, coalesce(sum(sold), 0)::INTEGER AS sold, count(sku)::INTEGER AS skus,
                min(first)::VARCHAR AS first, max(last)::VARCHAR AS last, coalesce(bit_or(weekdays), 0)::INTEGER AS weekdays
         FROM sales_by_sku`,
      );
    }
    if (sales && salesSummarised && facts.rows === 0) {
      problems.add({ rule: "empty_file", file: sales.input.file, message: "has a header but no rows" }, 0);
    } else if (sales?.columns.includes("quantity") && salesSummarised && facts.sold === 0) {
      problems.add(
        {
          rule: "empty_file",
          file: sales.input.file,
          message: "has no row with a positive quantity: there is no demand to learn from",
        },
        0,
      );
    }
    const weekdayCount = [...facts.weekdays.toString(2)].filter((b) => b === "1").length;
    const dailyInput = weekdayCount > 1;
    if (sales && facts.first && facts.last) {
      if (settings.frequency === "daily" && weekdayCount === 1 && toDay(facts.last) - toDay(facts.first) >= 21) {
        const day = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"][
          weekday(toDay(facts.first))
        ];
        problems.add(
          {
            rule: "frequency_mismatch",
            file: sales.input.file,
            column: "date",
            message: `every date is a ${day}: the sales look weekly while the frequency is daily; set "frequency": "weekly" in client.json`,
          },
          0,
        );
      }
    }
    const periods =
      facts.first && facts.last ? computePeriods(settings, facts.first, facts.last, dailyInput) : undefined;
    if (sales && periods && periods.count < 1) {
      problems.add(
        {
          rule: "frequency_mismatch",
          file: sales.input.file,
          column: "date",
          message: `the daily sales (${facts.first} … ${facts.last}) do not cover one whole Monday-to-Sunday week, the least weekly data needs`,
        },
        0,
      );
    }

    if (problems.total > 0) throw new DataValidationError(where, problems.list(), problems.total);
    if (!sales || !periods || !facts.first || !facts.last) {
      throw new DataError("DATA_INVALID", `The sales in ${where} have no valid rows; add the sales history.`);
    }

    const report: ValidationReport = {
      client: context.client,
      runId: context.runId,
      createdAt: now.toISOString(),
      codeSha: context.codeSha ?? null,
      settings,
      inputs: {},
      sales: {
        rows: facts.rows,
        skus: facts.skus,
        firstDate: facts.first,
        lastDate: facts.last,
        hasRevenue,
        hasLocation: sales.columns.includes("location"),
        dailyInput,
      },
      periods,
      warnings,
    };
    for (const [source, raw] of Object.entries(opened) as [SourceName, RawTable][]) {
      const rows = staged[source]?.rows ?? (source === "sales" ? facts.rows : 0);
      report.inputs[source] = { ...raw.input, rows, columns: raw.columns };
    }
    await uploadJson(context, runKeys(context.client, context.runId).validation, report);
    context.logger.info(
      { rows: facts.rows, skus: facts.skus, periods: periods.count, warnings: warnings.length },
      "raw data validated",
    );
    return report;
  });
}

/**
 * The history's periods. Weekly periods are ISO weeks (Monday to Sunday, dated by their Monday); when
 * the raw sales are daily, a partial first or last week is left out rather than undercounted.
 */
export function computePeriods(settings: ClientSettings, first: string, last: string, dailyInput: boolean): Periods {
  const step = periodDays(settings.frequency);
  let start = toDay(first);
  let end = toDay(last);
  if (settings.frequency === "weekly") {
    start = dailyInput && weekday(start) !== 0 ? weekStart(start) + 7 : weekStart(start);
    end = dailyInput && weekday(end) !== 6 ? weekStart(end) - 7 : weekStart(end);
  }
  const futureEnd = end + settings.horizon * step;
  return {
    start: toIso(start),
    end: toIso(end),
    futureStart: toIso(end + step),
    futureEnd: toIso(futureEnd),
    historyEndDay: addDays(toIso(end), step - 1),
    futureEndDay: addDays(toIso(futureEnd), step - 1),
    count: Math.floor((end - start) / step) + 1,
  };
}
