/**
 * The client's raw files: finding them in the training-data bucket, downloading them, reading their
 * columns, and the SQL that reads them. Column names are matched trimmed and case-insensitively
 * (`Date` is `date`). CSV is read as text and typed in SQL, so validation and the transforms parse
 * every value the same way, and a bad value is reported with the text found in the file.
 */
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { type DataContext, download } from "./context.js";
import { type Engine, sqlIdent, sqlString } from "./engine.js";
import { DataError } from "./errors.js";
import { type ColumnKind, type RawFormat, rawFormats, rawKey, type SourceName, sourceNames } from "./layout.js";
import type { ValidationProblem } from "./problems.js";

export interface RawInput {
  source: SourceName;
  key: string;
  /** The object's file name, as problems name it (`sales.csv`). */
  file: string;
  format: RawFormat;
  etag: string;
  size: number;
}

export interface RawTable {
  input: RawInput;
  /** The downloaded copy. */
  path: string;
  /** Column names as normalised (trimmed, lowercase), in file order. */
  columns: string[];
  /** The names as written in the file, in the same order. */
  originalColumns: string[];
  /** CSV only: the field separator found in the header. */
  delimiter?: string;
}

/** Finds each source's raw object under `<client>/raw/`; two formats of one source is a problem. */
export async function locateRawInputs(
  context: DataContext,
): Promise<{ inputs: Partial<Record<SourceName, RawInput>>; problems: ValidationProblem[] }> {
  const inputs: Partial<Record<SourceName, RawInput>> = {};
  const problems: ValidationProblem[] = [];
  const entries = new Map<string, { etag: string; size: number }>();
  for await (const entry of context.store.list(context.trainingBucket, `${context.client}/raw/`)) {
    entries.set(entry.key, { etag: entry.etag, size: entry.size });
  }
  for (const source of sourceNames) {
    const found = rawFormats.flatMap((format) => {
      const key = rawKey(context.client, source, format);
      const entry = entries.get(key);
      return entry ? [{ source, key, file: `${source}.${format}`, format, ...entry }] : [];
    });
    if (found.length > 1) {
      problems.push({
        rule: "ambiguous_file",
        file: found.map((f) => f.file).join(", "),
        message: `there are ${found.length} ${source} files; keep exactly one`,
      });
    } else if (found[0]) {
      inputs[source] = found[0];
    }
  }
  return { inputs, problems };
}

/**
 * Downloads a raw input; its ETag becomes that of the bytes downloaded. `expectedEtag` (from
 * validation) makes a file that changed since it was validated an error instead of a silently
 * different dataset.
 */
export async function downloadRaw(context: DataContext, input: RawInput, expectedEtag?: string): Promise<string> {
  const { file, etag } = await download(
    context,
    context.trainingBucket,
    input.key,
    `raw/${input.file}`,
    `it disappeared while run ${context.runId} was reading it; rerun the whole pipeline.`,
  );
  if (expectedEtag !== undefined && etag !== expectedEtag) {
    throw new DataError(
      "DATA_CHANGED",
      `${context.trainingBucket}/${input.key} changed after run ${context.runId} validated it; rerun the whole pipeline so every task reads the same data.`,
      { context: { key: input.key } },
    );
  }
  input.etag = etag;
  return file;
}

async function firstLine(path: string, gzip: boolean): Promise<string> {
  const stream = gzip ? createReadStream(path).pipe(createGunzip()) : createReadStream(path);
  let text = "";
  try {
    for await (const chunk of stream) {
      text += (chunk as Buffer).toString("utf8");
      const end = text.search(/\r?\n/);
      if (end >= 0) return text.slice(0, end);
      if (text.length > 1_000_000) break;
    }
  } finally {
    stream.destroy();
  }
  return text;
}

/** Splits a CSV header line (quotes allowed, no newlines inside names). */
function splitHeader(line: string, delimiter: string): string[] {
  const names: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        current += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else current += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) {
      names.push(current);
      current = "";
    } else current += ch;
  }
  names.push(current);
  return names;
}

const normaliseColumn = (name: string) => name.trim().toLowerCase();

/**
 * Reads a raw file's columns. Throws a DataError (`unreadable` in its context) for a file that is not
 * CSV or Parquet at all; validation turns that into a problem.
 */
export async function describeRaw(engine: Engine, input: RawInput, path: string): Promise<RawTable> {
  let originalColumns: string[];
  let delimiter: string | undefined;
  if (input.format === "parquet") {
    try {
      const rows = await engine.rows<{ column_name: string }>(
        `DESCRIBE SELECT * FROM read_parquet(${sqlString(path)})`,
      );
      originalColumns = rows.map((r) => r.column_name);
    } catch (error) {
      throw new DataError("DATA_INVALID", `${input.file} is not a readable Parquet file.`, {
        cause: error,
        context: { unreadable: true },
      });
    }
  } else {
    let line: string;
    try {
      line = (await firstLine(path, input.format === "csv.gz")).replace(/^\uFEFF/, "");
    } catch (error) {
      throw new DataError("DATA_INVALID", `${input.file} is not a readable gzip file.`, {
        cause: error,
        context: { unreadable: true },
      });
    }
    if (line.trim() === "") {
      originalColumns = [];
    } else {
      // The separator is whichever of , ; tab | the header uses most (a comma on a tie).
      const candidates = [",", ";", "\t", "|"];
      const counts = candidates.map((d) => splitHeader(line, d).length);
      delimiter = candidates[counts.indexOf(Math.max(...counts))] ?? ",";
      originalColumns = splitHeader(line, delimiter);
    }
  }
  return { input, path, columns: originalColumns.map(normaliseColumn), originalColumns, delimiter };
}

/**
 * SQL that reads a raw file (a FROM item) with normalised column names: CSV columns as text, Parquet
 * columns in their stored types. `rejects` collects malformed CSV rows into `<rejects>_errors`
 * instead of failing.
 */
export function rawRelation(table: RawTable, options: { rejects?: string } = {}): string {
  if (table.input.format === "parquet") {
    const select = table.originalColumns.map((c, i) => `${sqlIdent(c)} AS ${sqlIdent(table.columns[i] as string)}`);
    return `(SELECT ${select.join(", ")} FROM read_parquet(${sqlString(table.path)}))`;
  }
  const columns = table.columns.map((c) => `${sqlString(c)}: 'VARCHAR'`).join(", ");
  const args = [
    sqlString(table.path),
    "header = true",
    "auto_detect = false",
    `delim = ${sqlString(table.delimiter ?? ",")}`,
    `quote = '"'`,
    `escape = '"'`,
    `columns = {${columns}}`,
    `compression = ${table.input.format === "csv.gz" ? "'gzip'" : "'none'"}`,
  ];
  if (options.rejects) {
    args.push(
      "store_rejects = true",
      `rejects_table = ${sqlString(`${options.rejects}_errors`)}`,
      `rejects_scan = ${sqlString(`${options.rejects}_scans`)}`,
    );
  }
  return `read_csv(${args.join(", ")})`;
}

/**
 * Copies a raw file into a table of text columns, the file's order kept, so that `rowid + 1` is the
 * data row (1 = the first row after the header): what validation reports and what "last row wins"
 * needs. For CSV the row counts only rows that parsed; `rejects` names where malformed rows go.
 */
export async function stageRaw(engine: Engine, table: RawTable, name: string, rejects?: string): Promise<void> {
  const text = table.columns.map((c) => `CAST(${sqlIdent(c)} AS VARCHAR) AS ${sqlIdent(c)}`).join(", ");
  // rowid follows the file's order only while DuckDB preserves insertion order; the engine turns that off.
  await engine.run("SET preserve_insertion_order = true");
  try {
    await engine.run(`CREATE OR REPLACE TABLE ${name} AS SELECT ${text} FROM ${rawRelation(table, { rejects })}`);
  } finally {
    await engine.run("SET preserve_insertion_order = false");
  }
}

/** The data row of a staged table's row (see `stageRaw`). */
export const stagedRow = "(rowid + 1)";

/** SQL turning a raw column (text or stored type) into its typed value; NULL when empty or unparseable. */
export function typed(column: string, kind: ColumnKind): string {
  const c = sqlIdent(column);
  switch (kind) {
    case "date":
      return `TRY_CAST(${c} AS DATE)`;
    case "number":
      return `TRY_CAST(${c} AS DOUBLE)`;
    case "text":
      return `NULLIF(trim(CAST(${c} AS VARCHAR)), '')`;
    case "flag":
      return `(CASE lower(trim(CAST(${c} AS VARCHAR))) WHEN '1' THEN 1 WHEN 'true' THEN 1 WHEN '1.0' THEN 1 WHEN '0' THEN 0 WHEN 'false' THEN 0 WHEN '0.0' THEN 0 END)`;
  }
}
