/**
 * How S3 failures become StorageErrors, shared by the SDK driver and the SDK-free reader: one
 * sentence naming the endpoint, bucket, key and access key id (never the secret) and what to do.
 */
import { StorageError } from "./errors.js";

/** The shape of an S3 failure: the SDK's errors, and the reader's, which mimic them. */
export interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "TimeoutError",
]);

export function s3ErrorMapper(endpoint: string, keyId: string) {
  return (error: unknown, action: string, bucket: string, key?: string): StorageError => {
    if (error instanceof StorageError) return error;
    const e = (error ?? {}) as SdkError;
    const code = e.Code ?? e.code ?? e.name ?? "";
    const status = e.$metadata?.httpStatusCode;
    const attempts = e.$metadata?.attempts;
    const where = key === undefined ? `bucket "${bucket}"` : `s3://${bucket}/${key}`;
    const context = { endpoint, bucket, key, accessKeyId: keyId, status, attempts, s3Code: code || undefined };
    if (code === "SignatureDoesNotMatch") {
      return new StorageError(
        "STORAGE_ACCESS_DENIED",
        `Access denied to ${action} ${where} at ${endpoint}: the secret key does not match access key id ${keyId}; check that key pair.`,
        { cause: error, context },
      );
    }
    if (code === "InvalidAccessKeyId") {
      return new StorageError(
        "STORAGE_ACCESS_DENIED",
        `Access denied to ${action} ${where} at ${endpoint}: the server does not know access key id ${keyId}; check the configured key id.`,
        { cause: error, context },
      );
    }
    if (status === 403 || code === "AccessDenied" || code === "Forbidden") {
      return new StorageError(
        "STORAGE_ACCESS_DENIED",
        `Access denied to ${action} ${where} at ${endpoint} with access key id ${keyId}; check that this key has permission on bucket "${bucket}".`,
        { cause: error, context },
      );
    }
    if (code === "NoSuchBucket") {
      return new StorageError(
        "STORAGE_NO_SUCH_BUCKET",
        `The bucket "${bucket}" does not exist at ${endpoint}; create it (\`tdf store init\`) or check the bucket name in the configuration.`,
        { cause: error, context },
      );
    }
    if (code === "NoSuchKey") {
      return new StorageError(
        "STORAGE_NO_SUCH_KEY",
        `Cannot ${action} ${where}: the object does not exist at ${endpoint}.`,
        {
          cause: error,
          context,
        },
      );
    }
    if (action === "download" && status === undefined) {
      return new StorageError(
        "STORAGE_UNREACHABLE",
        `The download of ${where} from ${endpoint} was cut short (${code || e.message}); retry, and check the network and the server if it happens again.`,
        { cause: error, context },
      );
    }
    if (networkCodes.has(code) || (status === undefined && networkCodes.has(e.name ?? ""))) {
      const tries = attempts === undefined ? "" : ` after ${attempts} attempt${attempts === 1 ? "" : "s"}`;
      return new StorageError(
        "STORAGE_UNREACHABLE",
        `Cannot reach the object store at ${endpoint} (${code})${tries}; check GARAGE_ENDPOINT and that the server is running.`,
        { cause: error, context },
      );
    }
    if (status !== undefined && status >= 500) {
      return new StorageError(
        "STORAGE_SERVER_ERROR",
        `The object store at ${endpoint} failed to ${action} ${where} with HTTP ${status}${code ? ` (${code})` : ""} after ${attempts ?? 1} attempts; retry later or check the server's logs.`,
        { cause: error, context },
      );
    }
    return new StorageError(
      "STORAGE_FAILED",
      `Failed to ${action} ${where} at ${endpoint}: ${code || "error"}${e.message ? `: ${e.message}` : ""}.`,
      { cause: error, context },
    );
  };
}
