import { TdfError, type TdfErrorOptions } from "../core/errors.js";

export type SinkErrorCode =
  /** A row or query the table cannot hold: bad date, quantiles missing or crossing, a duplicate. */
  | "SINK_INVALID"
  /** The database server cannot be reached (refused, unknown host, timeout). */
  | "SINK_UNREACHABLE"
  /** The server refused the user or password. */
  | "SINK_AUTH"
  /** The server has no database of that name. */
  | "SINK_NO_DATABASE"
  /** The database's schema is newer than this code, or not one this code made. */
  | "SINK_SCHEMA"
  | "SINK_FAILED";

export class SinkError extends TdfError {
  declare readonly code: SinkErrorCode;

  constructor(code: SinkErrorCode, message: string, options?: TdfErrorOptions) {
    super(code, message, options);
  }
}
