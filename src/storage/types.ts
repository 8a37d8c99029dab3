import type { Readable } from "node:stream";

/** What a put accepts: bytes, text, or a stream (streamed through, never buffered whole). */
export type ObjectBody = Uint8Array | string | Readable;

export interface PutOptions {
  contentType?: string;
  /** User metadata (`x-amz-meta-*`): lowercase keys, ASCII values. */
  metadata?: Record<string, string>;
}

export interface ObjectInfo {
  key: string;
  size: number;
  /** MD5 of the content for single-part objects, quotes removed; opaque otherwise. */
  etag: string;
  lastModified: Date;
  contentType: string | undefined;
  metadata: Record<string, string>;
}

/** One entry of a listing (no content type or metadata: S3 listings do not carry them). */
export interface ObjectEntry {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface StoredObject {
  info: ObjectInfo;
  /** The content; the caller must consume or destroy it. */
  body: Readable;
}

/**
 * An S3-shaped object store. Absence is a value (`null`); every other failure is a `StorageError`
 * with a code and the underlying cause.
 */
export interface ObjectStore {
  readonly driver: "fs" | "s3";
  /** Where the store is, for messages: a folder or an endpoint URL. */
  readonly location: string;
  get(bucket: string, key: string): Promise<StoredObject | null>;
  getBytes(bucket: string, key: string): Promise<Uint8Array | null>;
  put(bucket: string, key: string, body: ObjectBody, options?: PutOptions): Promise<{ etag: string }>;
  head(bucket: string, key: string): Promise<ObjectInfo | null>;
  /** Every key under the prefix, in lexicographic (UTF-8 byte) order, fetched page by page. */
  list(bucket: string, prefix?: string): AsyncIterable<ObjectEntry>;
  /** Copies content, content type and metadata. */
  copy(fromBucket: string, fromKey: string, toBucket: string, toKey: string): Promise<void>;
  /** Deleting an absent key is not an error. */
  delete(bucket: string, key: string): Promise<void>;
  /** Creates the bucket if it does not exist. */
  ensureBucket(bucket: string): Promise<void>;
}
