/**
 * The S3 driver (Garage in production, any S3-protocol server): AWS SDK v3, path-style URLs,
 * streaming in both directions, multipart for large objects.
 *
 * Transient failures (5xx, throttling, timeouts, connection resets and refusals) are retried by the
 * SDK's standard strategy: bounded attempts with exponential backoff and jitter. What is left after
 * that becomes a `StorageError` that names the endpoint, bucket, key and access key id, never the
 * secret.
 */
import { Agent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Readable } from "node:stream";
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { assertBucket, assertKey, assertMetadata, assertPrefix } from "./keys.js";
import { type SdkError, s3ErrorMapper } from "./s3-errors.js";
import { discardBody, readAll, withTypedErrors } from "./stream.js";
import type { ObjectInfo, ObjectStore, PutOptions } from "./types.js";

export interface S3StoreOptions {
  endpoint: string;
  /** Must match the server's region (Garage: `s3_region`, usually `garage`). */
  region?: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Total attempts per request, retries included (default 4). */
  maxAttempts?: number;
  /** Milliseconds to wait for a connection (default 5,000). */
  connectionTimeoutMs?: number;
  /** Milliseconds a socket may stay idle mid-request (default 30,000). */
  socketTimeoutMs?: number;
  /** Multipart part size in bytes (default 8 MiB; S3's minimum is 5 MiB). */
  partSize?: number;
  /** Parts uploaded at once; memory use is about `partSize × queueSize` (default 3). */
  queueSize?: number;
}

const MiB = 1024 * 1024;

export function s3Store(options: S3StoreOptions): ObjectStore {
  const endpoint = options.endpoint.replace(/\/+$/, "");
  const keyId = options.accessKeyId;
  const agentOptions = { keepAlive: true, maxSockets: 64 };
  const client = new S3Client({
    endpoint,
    region: options.region ?? "garage",
    forcePathStyle: true,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    // The SDK's default CRC32 request checksums (2025) are rejected by Garage and other non-AWS
    // stores; compute and check checksums only where an operation requires them.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: options.maxAttempts ?? 4,
    retryMode: "standard",
    requestHandler: new NodeHttpHandler({
      connectionTimeout: options.connectionTimeoutMs ?? 5_000,
      socketTimeout: options.socketTimeoutMs ?? 30_000,
      httpAgent: new Agent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
    }),
  });

  const toStorageError = s3ErrorMapper(endpoint, keyId);

  const isNotFound = (error: unknown): boolean => {
    const e = error as SdkError;
    return e?.$metadata?.httpStatusCode === 404 || e?.name === "NotFound" || e?.name === "NoSuchKey";
  };

  /** A 404 on an object is ambiguous (no key, or no bucket): ask about the bucket to tell which. */
  const assertBucketExists = async (bucket: string): Promise<void> => {
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (error) {
      if (isNotFound(error)) throw toStorageError({ name: "NoSuchBucket" }, "open", bucket);
      throw toStorageError(error, "open", bucket);
    }
  };

  const unquote = (etag: string | undefined): string => (etag ?? "").replace(/^"|"$/g, "");

  const store: ObjectStore = {
    driver: "s3",
    location: endpoint,

    async get(bucket, key) {
      assertKey(bucket, key);
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const info: ObjectInfo = {
          key,
          size: out.ContentLength ?? 0,
          etag: unquote(out.ETag),
          lastModified: out.LastModified ?? new Date(0),
          contentType: out.ContentType,
          metadata: out.Metadata ?? {},
        };
        const body = withTypedErrors(out.Body as Readable, (error) => toStorageError(error, "download", bucket, key));
        return { info, body };
      } catch (error) {
        if ((error as SdkError).name === "NoSuchKey") return null;
        throw toStorageError(error, "read", bucket, key);
      }
    },

    async getBytes(bucket, key) {
      const object = await store.get(bucket, key);
      return object === null ? null : readAll(object.body);
    },

    async put(bucket, key, body, putOptions: PutOptions = {}) {
      try {
        assertKey(bucket, key);
        assertMetadata(bucket, key, putOptions.metadata ?? {});
      } catch (error) {
        discardBody(body);
        throw error;
      }
      // Upload sends one PutObject for bodies smaller than a part and a multipart upload otherwise,
      // holding at most queueSize parts in memory; a failed multipart upload is aborted.
      const upload = new Upload({
        client,
        params: {
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: putOptions.contentType,
          Metadata: putOptions.metadata,
        },
        partSize: options.partSize ?? 8 * MiB,
        queueSize: options.queueSize ?? 3,
        leavePartsOnError: false,
      });
      try {
        const out = await upload.done();
        let etag = unquote(out.ETag);
        // Some servers (Ceph's radosgw among them) answer a multipart completion without an ETag.
        if (etag === "") etag = (await store.head(bucket, key))?.etag ?? "";
        return { etag };
      } catch (error) {
        throw toStorageError(error, "write", bucket, key);
      }
    },

    async head(bucket, key) {
      assertKey(bucket, key);
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return {
          key,
          size: out.ContentLength ?? 0,
          etag: unquote(out.ETag),
          lastModified: out.LastModified ?? new Date(0),
          contentType: out.ContentType,
          metadata: out.Metadata ?? {},
        };
      } catch (error) {
        if (!isNotFound(error)) throw toStorageError(error, "read", bucket, key);
        await assertBucketExists(bucket);
        return null;
      }
    },

    async *list(bucket, prefix = "") {
      assertPrefix(bucket, prefix);
      let token: string | undefined;
      do {
        let page: ListObjectsV2CommandOutput;
        try {
          page = await client.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }),
          );
        } catch (error) {
          throw toStorageError(error, "list", bucket, prefix || undefined);
        }
        for (const item of page.Contents ?? []) {
          if (item.Key === undefined) continue;
          yield {
            key: item.Key,
            size: item.Size ?? 0,
            etag: unquote(item.ETag),
            lastModified: item.LastModified ?? new Date(0),
          };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    },

    async copy(fromBucket, fromKey, toBucket, toKey) {
      assertKey(fromBucket, fromKey);
      assertKey(toBucket, toKey);
      try {
        await client.send(
          new CopyObjectCommand({
            Bucket: toBucket,
            Key: toKey,
            CopySource: `${fromBucket}/${encodeURIComponent(fromKey)}`,
            MetadataDirective: "COPY",
          }),
        );
      } catch (error) {
        const code = (error as SdkError).name;
        if (code === "NoSuchKey") throw toStorageError(error, "copy", fromBucket, fromKey);
        // The answer does not say which of the two buckets is missing or forbidden: find out.
        if (code === "NoSuchBucket") await assertBucketExists(fromBucket);
        throw toStorageError(error, `copy s3://${fromBucket}/${fromKey} to`, toBucket, toKey);
      }
    },

    async delete(bucket, key) {
      assertKey(bucket, key);
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (error) {
        throw toStorageError(error, "delete", bucket, key);
      }
    },

    async ensureBucket(bucket) {
      assertBucket(bucket);
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
        return;
      } catch (error) {
        if (!isNotFound(error)) throw toStorageError(error, "open", bucket);
      }
      try {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
      } catch (error) {
        if ((error as SdkError).name === "BucketAlreadyOwnedByYou") return;
        throw toStorageError(error, "create", bucket);
      }
    },
  };
  return store;
}
