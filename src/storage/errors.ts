import { TdfError, type TdfErrorOptions } from "../core/errors.js";

export type StorageErrorCode =
  | "STORAGE_INVALID_KEY"
  | "STORAGE_ACCESS_DENIED"
  | "STORAGE_NO_SUCH_BUCKET"
  | "STORAGE_NO_SUCH_KEY"
  | "STORAGE_UNREACHABLE"
  | "STORAGE_SERVER_ERROR"
  | "STORAGE_FAILED";

export class StorageError extends TdfError {
  declare readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options?: TdfErrorOptions) {
    super(code, message, options);
  }
}
