import { TdfError, type TdfErrorOptions } from "../core/errors.js";

export type OrchestrateErrorCode =
  | "RUN_FAILED"
  | "RUN_CANCELLED"
  | "RUN_NOT_FOUND"
  | "RUN_RECORD_INVALID"
  | "RUN_RECORD_UNWRITABLE"
  | "DAG_RENDER_REFUSED";

export class OrchestrateError extends TdfError {
  declare readonly code: OrchestrateErrorCode;

  constructor(code: OrchestrateErrorCode, message: string, options?: TdfErrorOptions) {
    super(code, message, options);
  }
}
