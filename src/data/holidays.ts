/** Retail holidays with fixed rules, for synthetic data: their dates in a year and their effect on demand. */
import { toDay } from "./dates.js";

export interface Holiday {
  name: string;
  /** Days since 1970-01-01. */
  day: number;
  /** Demand multiplier on the day (0: shops closed). */
  effect: number;
}

const iso = (year: number, month: number, day: number) =>
  `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;

/** Western Easter Sunday (the anonymous Gregorian algorithm). */
function easter(year: number): number {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return toDay(iso(year, month, day));
}

/** The n-th given weekday (0 = Monday) of a month. */
function nthWeekday(year: number, month: number, weekdayIndex: number, n: number): number {
  const first = toDay(iso(year, month, 1));
  const firstWeekday = (((first + 3) % 7) + 7) % 7;
  return first + ((weekdayIndex - firstWeekday + 7) % 7) + 7 * (n - 1);
}

export function holidaysOf(year: number): Holiday[] {
  const e = easter(year);
  return [
    { name: "new_year", day: toDay(iso(year, 1, 1)), effect: 0.4 },
    { name: "valentines_day", day: toDay(iso(year, 2, 14)), effect: 1.3 },
    { name: "easter", day: e, effect: 0.5 },
    { name: "easter_saturday", day: e - 1, effect: 1.6 },
    { name: "mothers_day", day: nthWeekday(year, 5, 6, 2), effect: 1.2 },
    { name: "black_friday", day: nthWeekday(year, 11, 3, 4) + 1, effect: 2.4 },
    { name: "christmas_eve", day: toDay(iso(year, 12, 24)), effect: 1.8 },
    { name: "christmas", day: toDay(iso(year, 12, 25)), effect: 0 },
    { name: "boxing_day", day: toDay(iso(year, 12, 26)), effect: 1.5 },
  ].sort((x, y) => x.day - y.day);
}
