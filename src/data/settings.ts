/**
 * Per-client settings: `training-data/<client>/client.json`, optional. Every key has a default; a file
 * that sets an unknown key or a wrong value is refused with every problem listed at once, so a typo
 * never silently falls back to a default.
 */
import { DataError } from "./errors.js";

export const frequencies = ["daily", "weekly"] as const;
export type Frequency = (typeof frequencies)[number];

/** What to do with rows that repeat a key (date, sku, location): add them, keep the last, or refuse. */
export const duplicatePolicies = ["sum", "last", "reject"] as const;
export type DuplicatePolicy = (typeof duplicatePolicies)[number];

/** Negative quantities: refuse them, drop them (demand = gross sales), or net them against sales. */
export const returnsPolicies = ["reject", "drop", "net"] as const;
export type ReturnsPolicy = (typeof returnsPolicies)[number];

export const segmentationBases = ["auto", "revenue", "volume"] as const;
export type SegmentationBasis = (typeof segmentationBases)[number];

export interface SegmentationSettings {
  /** ABC on `revenue`, on `volume`, or `auto`: revenue when the sales have a revenue column. */
  basis: SegmentationBasis;
  /** Class A: the SKUs that together carry this share of revenue (or volume), largest first. */
  topShare: number;
  /** Class B: up to this cumulative share; the rest is C. */
  midShare: number;
  /** Syntetos–Boylan cut-off on the average inter-demand interval, in periods. */
  adi: number;
  /** Syntetos–Boylan cut-off on the squared coefficient of variation of non-zero demand sizes. */
  cv2: number;
}

export interface ClientSettings {
  frequency: Frequency;
  /** Periods to forecast: the future table's length, and the holdout and validation length in training. */
  horizon: number;
  duplicates: DuplicatePolicy;
  returns: ReturnsPolicy;
  /** A SKU without a sale for more than max(this, 3 × its ADI) periods at the end is discontinued. */
  inactiveAfter: number;
  segmentation: SegmentationSettings;
}

const defaultHorizon: Record<Frequency, number> = { daily: 28, weekly: 8 };
const defaultInactiveAfter: Record<Frequency, number> = { daily: 56, weekly: 8 };

export const defaultSegmentation: SegmentationSettings = {
  basis: "auto",
  topShare: 0.8,
  midShare: 0.95,
  adi: 1.32,
  cv2: 0.49,
};

export function defaultSettings(frequency: Frequency = "daily"): ClientSettings {
  return {
    frequency,
    horizon: defaultHorizon[frequency],
    duplicates: "sum",
    returns: "reject",
    inactiveAfter: defaultInactiveAfter[frequency],
    segmentation: { ...defaultSegmentation },
  };
}

const topKeys = ["frequency", "horizon", "duplicates", "returns", "inactiveAfter", "segmentation"];
const segmentationKeys = Object.keys(defaultSegmentation);

/**
 * Parses `client.json` text (or `undefined` when the file is absent) into complete settings.
 * `source` names the file in messages.
 */
export function parseClientSettings(text: string | undefined, source: string): ClientSettings {
  if (text === undefined) return defaultSettings();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new DataError("DATA_SETTINGS_INVALID", `${source} is not valid JSON (${(error as Error).message}); fix it.`, {
      cause: error,
      context: { source },
    });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new DataError("DATA_SETTINGS_INVALID", `${source} must hold a JSON object such as {"frequency": "weekly"}.`, {
      context: { source },
    });
  }
  const problems: string[] = [];
  const input = raw as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!topKeys.includes(key)) problems.push(`"${key}" is not a setting (the settings are ${topKeys.join(", ")})`);
  }

  const choice = <T extends string>(key: string, value: unknown, allowed: readonly T[], fallback: T): T => {
    if (value === undefined) return fallback;
    if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
    problems.push(`${key} must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${JSON.stringify(value)}`);
    return fallback;
  };
  const integer = (key: string, value: unknown, min: number, max: number, fallback: number): number => {
    if (value === undefined) return fallback;
    if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) return value;
    problems.push(`${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    return fallback;
  };
  const fraction = (key: string, value: unknown, fallback: number, open: { above: number; upTo: number }): number => {
    if (value === undefined) return fallback;
    if (typeof value === "number" && value > open.above && value <= open.upTo) return value;
    problems.push(`${key} must be a number above ${open.above} and at most ${open.upTo}, got ${JSON.stringify(value)}`);
    return fallback;
  };

  const frequency = choice("frequency", input.frequency, frequencies, "daily");
  const base = defaultSettings(frequency);
  const settings: ClientSettings = {
    frequency,
    horizon: integer("horizon", input.horizon, 1, frequency === "daily" ? 366 : 104, base.horizon),
    duplicates: choice("duplicates", input.duplicates, duplicatePolicies, base.duplicates),
    returns: choice("returns", input.returns, returnsPolicies, base.returns),
    inactiveAfter: integer("inactiveAfter", input.inactiveAfter, 1, 10_000, base.inactiveAfter),
    segmentation: base.segmentation,
  };

  const seg = input.segmentation;
  if (seg !== undefined) {
    if (typeof seg !== "object" || seg === null || Array.isArray(seg)) {
      problems.push('segmentation must be an object such as {"topShare": 0.8}');
    } else {
      const s = seg as Record<string, unknown>;
      for (const key of Object.keys(s)) {
        if (!segmentationKeys.includes(key)) {
          problems.push(`"segmentation.${key}" is not a setting (they are ${segmentationKeys.join(", ")})`);
        }
      }
      const d = defaultSegmentation;
      settings.segmentation = {
        basis: choice("segmentation.basis", s.basis, segmentationBases, d.basis),
        topShare: fraction("segmentation.topShare", s.topShare, d.topShare, { above: 0, upTo: 1 }),
        midShare: fraction("segmentation.midShare", s.midShare, d.midShare, { above: 0, upTo: 1 }),
        adi: fraction("segmentation.adi", s.adi, d.adi, { above: 1, upTo: 1_000 }),
        cv2: fraction("segmentation.cv2", s.cv2, d.cv2, { above: 0, upTo: 1_000 }),
      };
      if (settings.segmentation.midShare < settings.segmentation.topShare) {
        problems.push(
          `segmentation.midShare (${settings.segmentation.midShare}) must not be below segmentation.topShare (${settings.segmentation.topShare})`,
        );
      }
    }
  }

  if (problems.length > 0) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    throw new DataError(
      "DATA_SETTINGS_INVALID",
      `${source} has ${count}; fix it and rerun:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
      { context: { source, problems } },
    );
  }
  return settings;
}
