/** Calendar dates as whole UTC days: what the data pipeline's periods are made of. */
import type { Frequency } from "./settings.js";

const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of an ISO date (`YYYY-MM-DD`). */
export function toDay(iso: string): number {
  return Math.floor(Date.parse(`${iso.slice(0, 10)}T00:00:00Z`) / DAY_MS);
}

export function toIso(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday). */
export function weekday(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}

/** The Monday of the ISO week holding the day. */
export function weekStart(day: number): number {
  return day - weekday(day);
}

export const periodDays = (frequency: Frequency): number => (frequency === "daily" ? 1 : 7);

export function addDays(iso: string, days: number): string {
  return toIso(toDay(iso) + days);
}
