import { TdfError, type TdfErrorOptions } from "../core/errors.js";

export type CodePackageErrorCode =
  | "PACK_NOT_BUILT"
  | "PACK_NOT_A_REPOSITORY"
  | "PACK_SECRETS"
  | "PACK_TOO_LARGE"
  | "PUBLISH_DIRTY"
  | "PUBLISH_VALIDATION_FAILED"
  | "MANIFEST_INVALID"
  | "SIGNATURE_INVALID"
  | "SIGNING_KEY_INVALID"
  | "VERSION_NOT_FOUND"
  | "VERSION_AMBIGUOUS";

export class CodePackageError extends TdfError {
  declare readonly code: CodePackageErrorCode;

  constructor(code: CodePackageErrorCode, message: string, options?: TdfErrorOptions) {
    super(code, message, options);
  }
}
