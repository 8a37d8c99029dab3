/** The TFT's expected failures: each message says what was wrong and what to do. */
import { TdfError } from "../../core/errors.js";

/** A series table that cannot be trained on or forecast from (missing column, unsorted rows…). */
export class TftDataError extends TdfError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super("TFT_DATA_INVALID", message, { context });
  }
}

/** Hyperparameters or a dataset spec out of range. */
export class TftConfigError extends TdfError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super("TFT_CONFIG_INVALID", message, { context });
  }
}

/** A saved model or checkpoint that is missing, corrupt or written for something else. */
export class TftFileError extends TdfError {
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super("TFT_FILE_INVALID", message, options);
  }
}

/** Training stopped because its signal was aborted; the last checkpoint resumes it. */
export class TrainingAbortedError extends TdfError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super("TRAINING_ABORTED", message, { context });
  }
}
