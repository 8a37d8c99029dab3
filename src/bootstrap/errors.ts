import { TdfError, type TdfErrorOptions } from "../core/errors.js";

export type BootstrapErrorCode = "ARCHIVE_UNSAFE" | "ARCHIVE_MISMATCH" | "DEPS_MISMATCH" | "DOWNLOAD_FAILED" | "USAGE";

export class BootstrapError extends TdfError {
  declare readonly code: BootstrapErrorCode;

  constructor(code: BootstrapErrorCode, message: string, options?: TdfErrorOptions) {
    super(code, message, options);
  }
}
