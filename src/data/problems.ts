/** What validation reports: one problem per offending value, row or file, each naming the rule it broke. */

export const validationRules = [
  "missing_file",
  "ambiguous_file",
  "unreadable_file",
  "empty_file",
  "missing_column",
  "malformed_row",
  "missing_value",
  "unparseable_date",
  "invalid_number",
  "negative_quantity",
  "negative_price",
  "invalid_promo",
  "date_out_of_range",
  "duplicate_key",
  "unknown_sku",
  "frequency_mismatch",
] as const;

export type ValidationRule = (typeof validationRules)[number];

export interface ValidationProblem {
  rule: ValidationRule;
  /** The raw object's file name (`sales.csv`), or `client.json`. */
  file: string;
  /** The data row, 1 being the first row after the header (blank lines are not counted). */
  row?: number;
  column?: string;
  /** The offending value as found in the file. */
  value?: string;
  /** What is wrong and what would be right, in a few words. */
  message: string;
}

/** Problems listed by one validation run; the total is always counted in full. */
export const problemListCap = 100;
