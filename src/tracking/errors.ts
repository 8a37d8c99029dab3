import { TdfError, type TdfErrorOptions } from "../core/errors.js";

export type TrackingErrorCode =
  | "TRACKING_INVALID"
  | "TRACKING_NOT_FOUND"
  | "TRACKING_CONFLICT"
  | "TRACKING_UNREACHABLE"
  | "TRACKING_AUTH"
  | "TRACKING_SERVER_ERROR"
  | "TRACKING_FAILED";

export class TrackingError extends TdfError {
  declare readonly code: TrackingErrorCode;

  constructor(code: TrackingErrorCode, message: string, options?: TdfErrorOptions) {
    super(code, message, options);
  }
}
