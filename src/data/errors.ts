/** The data pipeline's expected failures: bad raw data, bad client settings, missing or changed inputs. */
import { TdfError, type TdfErrorOptions } from "../core/errors.js";
import type { ValidationProblem } from "./problems.js";

export type DataErrorCode =
  | "DATA_INVALID"
  | "DATA_SETTINGS_INVALID"
  | "DATA_MISSING"
  | "DATA_CHANGED"
  | "DATA_ENGINE_FAILED"
  | "DATA_SYNTH_INVALID";

export class DataError extends TdfError {
  declare readonly code: DataErrorCode;

  constructor(code: DataErrorCode, message: string, options?: TdfErrorOptions) {
    super(code, message, options);
  }
}

/** How many problems the message of a failed validation shows; the error's `problems` hold more. */
const shownInMessage = 10;

/** The raw data broke rules: every problem found (up to a cap) and how many there were in all. */
export class DataValidationError extends DataError {
  readonly problems: readonly ValidationProblem[];
  readonly total: number;

  constructor(where: string, problems: readonly ValidationProblem[], total: number) {
    const shown = problems.slice(0, shownInMessage).map((p) => `  - ${describeProblem(p)}`);
    const rest = total - shown.length;
    const count = total === 1 ? "1 problem" : `${total} problems`;
    super(
      "DATA_INVALID",
      `The raw data in ${where} has ${count}; nothing was written. Fix the files and rerun the pipeline.\n${shown.join("\n")}${rest > 0 ? `\n  … and ${rest} more` : ""}`,
      { context: { total, problems } },
    );
    this.problems = problems;
    this.total = total;
  }
}

/** One line a person can act on: where (file, row, column), what was found, and the rule it broke. */
function describeProblem(problem: ValidationProblem): string {
  const where = [problem.file];
  if (problem.row !== undefined) where.push(`row ${problem.row}`);
  if (problem.column !== undefined) where.push(`column "${problem.column}"`);
  const value = problem.value === undefined || problem.value === "" ? "" : ` ${JSON.stringify(problem.value)}:`;
  return `${where.join(", ")}:${value} ${problem.message} [${problem.rule}]`;
}
