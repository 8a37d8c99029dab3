/**
 * Bucket and key rules shared by every driver. They are stricter than S3's own so that a key that
 * works on Garage also works as a path under the filesystem store, and no key can escape its bucket.
 */
import { isValidBucketName } from "../core/names.js";
import { StorageError } from "./errors.js";

const MAX_KEY_BYTES = 1024;
// Most filesystems' limit on one path component.
const MAX_SEGMENT_BYTES = 255;

export function assertBucket(bucket: string): void {
  if (!isValidBucketName(bucket)) {
    throw new StorageError(
      "STORAGE_INVALID_KEY",
      `"${bucket}" is not a valid bucket name: use 3–63 lowercase letters, digits, dots or hyphens.`,
      { context: { bucket } },
    );
  }
}

function invalid(bucket: string, key: string, why: string): StorageError {
  const shown = JSON.stringify(key).slice(1, -1);
  return new StorageError("STORAGE_INVALID_KEY", `The object key "${shown}" in bucket "${bucket}" ${why}.`, {
    context: { bucket, key },
  });
}

/** A key is `/`-separated segments; none empty, none `.` or `..`, no NUL, not absolute. */
export function assertKey(bucket: string, key: string): void {
  assertBucket(bucket);
  if (key.length === 0) throw invalid(bucket, key, "is empty; give a key such as client/raw/sales.csv");
  if (key.includes("\0")) throw invalid(bucket, key, "contains a NUL character");
  // Control characters break listings and logs; lone surrogates have no UTF-8 form, so two different
  // keys would name the same file or be refused by S3.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  if (/[\x01-\x1f\x7f]/.test(key)) throw invalid(bucket, key, "contains a control character");
  if (!key.isWellFormed()) throw invalid(bucket, key, "is not valid Unicode (a lone surrogate)");
  if (key.startsWith("/") || /^[A-Za-z]:[\\/]/.test(key))
    throw invalid(bucket, key, "is an absolute path; remove the leading slash");
  if (key.includes("\\")) throw invalid(bucket, key, "contains a backslash; separate folders with /");
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES)
    throw invalid(bucket, key, `is longer than ${MAX_KEY_BYTES} bytes`);
  for (const segment of key.split("/")) {
    if (segment === "..") throw invalid(bucket, key, 'contains a ".." segment, which could escape the bucket');
    if (segment === ".") throw invalid(bucket, key, 'contains a "." segment');
    if (segment === "") throw invalid(bucket, key, "has an empty segment (a leading, trailing or doubled /)");
    if (Buffer.byteLength(segment, "utf8") > MAX_SEGMENT_BYTES) {
      throw invalid(bucket, key, `has a segment longer than ${MAX_SEGMENT_BYTES} bytes`);
    }
  }
}

/** A prefix may end with `/` (a "folder"), otherwise follows the key rules. */
export function assertPrefix(bucket: string, prefix: string): void {
  assertBucket(bucket);
  if (prefix === "") return;
  assertKey(bucket, prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
}

/** Splits `bucket/key/with/slashes` as the CLI writes it. */
export function parseObjectPath(text: string): { bucket: string; key: string } {
  const slash = text.indexOf("/");
  const bucket = slash === -1 ? text : text.slice(0, slash);
  const key = slash === -1 ? "" : text.slice(slash + 1);
  assertBucket(bucket);
  return { bucket, key };
}

// S3 sends user metadata as HTTP headers: names are token characters (lowercased by servers), values
// printable ASCII, and the whole set at most 2 KiB.
const metadataName = /^[a-z0-9][a-z0-9_-]*$/;
const metadataValue = /^[\x20-\x7e]*$/;
const MAX_METADATA_BYTES = 2048;

export function assertMetadata(bucket: string, key: string, metadata: Record<string, string>): void {
  let bytes = 0;
  for (const [name, value] of Object.entries(metadata)) {
    if (!metadataName.test(name)) {
      throw new StorageError(
        "STORAGE_INVALID_KEY",
        `The metadata name "${name}" for ${bucket}/${key} is invalid: use lowercase letters, digits, "-" and "_".`,
        { context: { bucket, key, name } },
      );
    }
    if (typeof value !== "string" || !metadataValue.test(value)) {
      throw new StorageError(
        "STORAGE_INVALID_KEY",
        `The metadata value of "${name}" for ${bucket}/${key} must be printable ASCII text.`,
        { context: { bucket, key, name } },
      );
    }
    bytes += name.length + value.length;
  }
  if (bytes > MAX_METADATA_BYTES) {
    throw new StorageError(
      "STORAGE_INVALID_KEY",
      `The metadata for ${bucket}/${key} is ${bytes} bytes; S3 allows at most ${MAX_METADATA_BYTES}.`,
      { context: { bucket, key } },
    );
  }
}
