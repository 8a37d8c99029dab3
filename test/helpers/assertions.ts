import assert from "node:assert/strict";
import { TdfError } from "../../src/core/errors.js";

/**
 * For `assert.rejects` / `assert.throws`: the failure is one of the project's expected errors, with
 * this code (codes are unique across the error classes) and, optionally, a message matching `pattern`.
 */
export function rejectsWith(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof TdfError, `expected a TdfError with code ${code}, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}
