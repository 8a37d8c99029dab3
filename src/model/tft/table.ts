/**
 * Reading a series table safely: its columns by role, and the index of its series (where each starts,
 * how long it is, its first time index), checking the contract on the way — sorted by series then
 * time, time contiguous within a series — so a bad table fails with the row and the fix.
 */
import { TftDataError } from "./errors.js";
import type { SeriesTable } from "./types.js";

export interface SeriesIndex {
  names: string[];
  /** First row of each series. */
  start: Int32Array;
  length: Int32Array;
  /** Time index of each series' first row. */
  firstTime: Int32Array;
}

type Column = SeriesTable["columns"][string];

function column(table: SeriesTable, name: string, what: string): Column {
  const values = table.columns[name];
  if (values === undefined) {
    const found = Object.keys(table.columns).join(", ") || "none";
    throw new TftDataError(`${what} has no column "${name}" (columns: ${found}); add it or fix the dataset spec.`, {
      column: name,
    });
  }
  if (values.length !== table.length) {
    throw new TftDataError(
      `${what}: column "${name}" has ${values.length} values for ${table.length} rows; every column needs one value per row.`,
      { column: name },
    );
  }
  return values;
}

/** A real column as numbers (NaN where missing). */
export function realColumn(table: SeriesTable, name: string, what: string): ArrayLike<number> {
  const values = column(table, name, what);
  if (Array.isArray(values)) {
    throw new TftDataError(`${what}: column "${name}" holds text but is used as a real input; make it numeric.`, {
      column: name,
    });
  }
  return values;
}

/** A categorical column read as text (numbers as their decimal text). */
export function categoricalColumn(table: SeriesTable, name: string, what: string): (row: number) => string {
  const values = column(table, name, what);
  if (Array.isArray(values)) return (row) => String(values[row] ?? "");
  return (row) => String(values[row]);
}

/** Whether the table has the column (used for optional static columns in forecast inputs). */
export function hasColumn(table: SeriesTable, name: string): boolean {
  return table.columns[name] !== undefined;
}

export function indexSeries(table: SeriesTable, group: string, timeIdx: string, what: string): SeriesIndex {
  const key = categoricalColumn(table, group, what);
  const time = realColumn(table, timeIdx, what);
  const names: string[] = [];
  const starts: number[] = [];
  const seen = new Set<string>();
  for (let row = 0; row < table.length; row++) {
    const t = time[row] as number;
    if (!Number.isInteger(t)) {
      throw new TftDataError(`${what}: row ${row} has time index ${t}; time indices must be integers.`, { row });
    }
    const name = key(row);
    if (row > 0 && name === names[names.length - 1]) {
      const previous = time[row - 1] as number;
      if (t !== previous + 1) {
        throw new TftDataError(
          `${what}: series "${name}" jumps from time index ${previous} to ${t} at row ${row}; rows must be sorted by time with no gaps (calendar-fill the series).`,
          { row, series: name },
        );
      }
      continue;
    }
    if (seen.has(name)) {
      throw new TftDataError(
        `${what}: series "${name}" appears again at row ${row} after other series; sort the rows by ${group}, then ${timeIdx}.`,
        { row, series: name },
      );
    }
    seen.add(name);
    names.push(name);
    starts.push(row);
  }
  const start = Int32Array.from(starts);
  const length = new Int32Array(names.length);
  const firstTime = new Int32Array(names.length);
  for (let s = 0; s < names.length; s++) {
    const begin = starts[s] as number;
    length[s] = (s + 1 < starts.length ? (starts[s + 1] as number) : table.length) - begin;
    firstTime[s] = time[begin] as number;
  }
  return { names, start, length, firstTime };
}
