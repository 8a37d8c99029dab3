/**
 * A read-only S3 driver without the AWS SDK. The bootstrap uses it alone: every container start that
 * has to fetch code would otherwise spend ~150–250 ms importing the SDK before its first request,
 * longer than the whole download of a code package over a local network. The S3 driver (s3.ts) reads
 * through it too: a request costs about a third of the SDK's CPU.
 *
 * GET, HEAD and ListObjectsV2 with path-style URLs, signed with AWS Signature Version 4 (unsigned
 * payload, as reads have none), on node:http(s) with kept-alive connections. Transient failures (429,
 * 5xx, timeouts, connection resets and refusals) are retried with exponential backoff and jitter; errors
 * become the same StorageErrors as the SDK driver's. Writing methods refuse: the runtime key needs
 * only read access to the code bucket.
 */
import { createHash, createHmac } from "node:crypto";
import http, { type IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import { StorageError } from "./errors.js";
import { assertBucket, assertKey, assertPrefix } from "./keys.js";
import { type SdkError, s3ErrorMapper } from "./s3-errors.js";
import { readAll, withTypedErrors } from "./stream.js";
import type { ObjectEntry, ObjectInfo, ObjectStore } from "./types.js";

export interface S3ReaderOptions {
  endpoint: string;
  region?: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Total attempts per request, retries included (default 4). */
  maxAttempts?: number;
  /** Milliseconds to wait for a connection (default 5,000). */
  connectionTimeoutMs?: number;
  /** Milliseconds a socket may stay idle mid-request (default 30,000). */
  socketTimeoutMs?: number;
}

const UNSIGNED = "UNSIGNED-PAYLOAD";
const retryableStatus = new Set([429, 500, 502, 503, 504]);
const retryableCodes = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "TimeoutError"]);

/** RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data, "utf8").digest();
const sha256 = (data: string) => createHash("sha256").update(data, "utf8").digest("hex");

const entities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
function xmlText(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, name: string) => {
    if (name[0] === "#")
      return String.fromCodePoint(
        name[1] === "x" || name[1] === "X" ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1)),
      );
    return entities[name] ?? whole;
  });
}
const xmlField = (xml: string, tag: string) => {
  const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return match ? xmlText(match[1] as string) : undefined;
};

export function s3ReaderStore(options: S3ReaderOptions): ObjectStore {
  const endpoint = options.endpoint.replace(/\/+$/, "");
  const base = new URL(endpoint);
  const region = options.region ?? "garage";
  const maxAttempts = options.maxAttempts ?? 4;
  // node:https loads TLS, a few ms of every cold container start (2.5 ms here, median of 41); an
  // http:// endpoint (Garage inside the cluster, usually) never needs it: loaded for https:// only.
  const transport: typeof http = base.protocol === "https:" ? createRequire(import.meta.url)("node:https") : http;
  const agent = new transport.Agent({ keepAlive: true, maxSockets: 64 });
  // The server's clock minus ours, learned from a refusal for clock skew (as the SDK does): a host
  // whose clock drifted still reads.
  let clockOffsetMs = 0;
  const toStorageError = s3ErrorMapper(endpoint, options.accessKeyId);

  /** The SigV4 Authorization header and its companions for one request. */
  const sign = (method: string, canonicalPath: string, query: Array<[string, string]>) => {
    const now = new Date(Date.now() + clockOffsetMs);
    const amzDate = now
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d{3}/, "");
    const day = amzDate.slice(0, 8);
    const host = base.host;
    const canonicalQuery = query
      .map(([k, v]) => [uriEncode(k), uriEncode(v)])
      .sort(([a], [b]) => ((a as string) < (b as string) ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join("&");
    const signedHeaders = "host;x-amz-content-sha256;x-amz-date";
    const canonicalRequest = [
      method,
      canonicalPath,
      canonicalQuery,
      `host:${host}\nx-amz-content-sha256:${UNSIGNED}\nx-amz-date:${amzDate}\n`,
      signedHeaders,
      UNSIGNED,
    ].join("\n");
    const scope = `${day}/${region}/s3/aws4_request`;
    const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonicalRequest)].join("\n");
    const key = hmac(hmac(hmac(hmac(`AWS4${options.secretAccessKey}`, day), region), "s3"), "aws4_request");
    const signature = createHmac("sha256", key).update(stringToSign, "utf8").digest("hex");
    return {
      query: canonicalQuery,
      headers: {
        host,
        "x-amz-content-sha256": UNSIGNED,
        "x-amz-date": amzDate,
        authorization: `AWS4-HMAC-SHA256 Credential=${options.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
      },
    };
  };

  const sendOnce = (method: string, bucket: string, key: string | undefined, query: Array<[string, string]>) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const prefix = base.pathname.replace(/\/+$/, "");
      const canonicalPath = `${prefix}/${uriEncode(bucket)}${key === undefined ? "" : `/${key.split("/").map(uriEncode).join("/")}`}`;
      const signed = sign(method, canonicalPath, query);
      const request = transport.request(
        {
          method,
          host: base.hostname.replace(/^\[|\]$/g, ""), // an IPv6 literal without its URL brackets
          port: base.port || undefined,
          path: signed.query ? `${canonicalPath}?${signed.query}` : canonicalPath,
          headers: signed.headers,
          agent,
        },
        resolve,
      );
      // Timed from when a new connection starts, not while the request waits for a free socket.
      let connectTimer: NodeJS.Timeout | undefined;
      request.once("socket", (socket) => {
        if (!socket.connecting) return;
        connectTimer = setTimeout(() => {
          request.destroy(Object.assign(new Error("connection timed out"), { code: "ETIMEDOUT" }));
        }, options.connectionTimeoutMs ?? 5_000);
        socket.once("connect", () => clearTimeout(connectTimer));
      });
      request.once("close", () => clearTimeout(connectTimer));
      request.setTimeout(options.socketTimeoutMs ?? 30_000, () => {
        request.destroy(Object.assign(new Error("socket idle too long"), { code: "ETIMEDOUT", name: "TimeoutError" }));
      });
      request.once("error", reject);
      request.end();
    });

  /** One request with retries: a 2xx response (body unread), or an SDK-shaped error for `toStorageError`. */
  const send = async (
    method: string,
    bucket: string,
    key: string | undefined,
    query: Array<[string, string]> = [],
  ): Promise<IncomingMessage> => {
    for (let attempt = 1; ; attempt++) {
      let error: SdkError & Error;
      try {
        const response = await sendOnce(method, bucket, key, query);
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) return response;
        const body = method === "HEAD" ? "" : Buffer.from(await readAll(response)).toString("utf8");
        if (method === "HEAD") response.resume();
        const code =
          xmlField(body, "Code") ?? (status === 404 ? "NotFound" : status === 403 ? "Forbidden" : String(status));
        error = Object.assign(new Error(xmlField(body, "Message") ?? `HTTP ${status}`), {
          name: code,
          Code: code,
          $metadata: { httpStatusCode: status },
        });
        // A refusal from a server whose clock is minutes from ours (RequestTimeTooSkewed; a HEAD says
        // only 403): signed again on the server's time, once.
        const serverTime = Date.parse(String(response.headers.date));
        const skewed = Math.abs(serverTime - (Date.now() + clockOffsetMs)) > 5 * 60_000;
        if (status === 403 && skewed && attempt < maxAttempts) {
          clockOffsetMs = serverTime - Date.now();
          continue;
        }
      } catch (caught) {
        error = caught as SdkError & Error; // no answer: refused, reset, timed out
      }
      const status = error.$metadata?.httpStatusCode;
      const transient =
        status === undefined ? retryableCodes.has(error.code ?? error.name ?? "") : retryableStatus.has(status);
      error.$metadata = { ...error.$metadata, attempts: attempt };
      if (!transient || attempt >= maxAttempts) throw error;
      // Throttling waits longer, as in the SDK's standard strategy (500 ms base instead of 100).
      const throttled = status === 429 || error.name === "SlowDown";
      const delay = (throttled ? 500 : 100) * 2 ** (attempt - 1);
      await new Promise((resolve) => setTimeout(resolve, delay / 2 + Math.random() * (delay / 2)));
    }
  };

  const isNotFound = (error: unknown) => (error as SdkError).$metadata?.httpStatusCode === 404;

  const infoOf = (key: string, response: IncomingMessage): ObjectInfo => {
    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (name.startsWith("x-amz-meta-") && typeof value === "string")
        metadata[name.slice("x-amz-meta-".length)] = value;
    }
    return {
      key,
      size: Number(response.headers["content-length"] ?? 0),
      etag: String(response.headers.etag ?? "").replace(/^"|"$/g, ""),
      lastModified: new Date(String(response.headers["last-modified"] ?? 0)),
      contentType: response.headers["content-type"],
      metadata,
    };
  };

  const assertBucketExists = async (bucket: string): Promise<void> => {
    try {
      (await send("HEAD", bucket, undefined)).resume();
    } catch (error) {
      if (isNotFound(error)) throw toStorageError({ name: "NoSuchBucket" }, "open", bucket);
      throw toStorageError(error, "open", bucket);
    }
  };

  const readOnly = (action: string, bucket: string): never => {
    throw new StorageError(
      "STORAGE_FAILED",
      `Cannot ${action} in bucket "${bucket}": this store was opened read-only (the bootstrap only reads code).`,
      { context: { bucket } },
    );
  };

  const store: ObjectStore = {
    driver: "s3",
    location: endpoint,

    async get(bucket, key) {
      assertKey(bucket, key);
      try {
        const response = await send("GET", bucket, key);
        const body = withTypedErrors(response, (error) => toStorageError(error, "download", bucket, key));
        return { info: infoOf(key, response), body };
      } catch (error) {
        if ((error as SdkError).name === "NoSuchKey") return null;
        throw toStorageError(error, "read", bucket, key);
      }
    },

    async getBytes(bucket, key) {
      const object = await store.get(bucket, key);
      return object === null ? null : readAll(object.body);
    },

    async head(bucket, key) {
      assertKey(bucket, key);
      try {
        const response = await send("HEAD", bucket, key);
        response.resume();
        return infoOf(key, response);
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
        const query: Array<[string, string]> = [["list-type", "2"]];
        if (prefix) query.push(["prefix", prefix]);
        if (token) query.push(["continuation-token", token]);
        let xml: string;
        try {
          xml = Buffer.from(await readAll(await send("GET", bucket, undefined, query))).toString("utf8");
        } catch (error) {
          throw toStorageError(error, "list", bucket, prefix || undefined);
        }
        for (const [, item] of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
          const entry: ObjectEntry = {
            key: xmlField(item as string, "Key") ?? "",
            size: Number(xmlField(item as string, "Size") ?? 0),
            etag: (xmlField(item as string, "ETag") ?? "").replace(/^"|"$/g, ""),
            lastModified: new Date(xmlField(item as string, "LastModified") ?? 0),
          };
          yield entry;
        }
        token = xmlField(xml, "IsTruncated") === "true" ? xmlField(xml, "NextContinuationToken") : undefined;
      } while (token !== undefined);
    },

    put: async (bucket) => readOnly("write", bucket),
    copy: async (_fromBucket, _fromKey, toBucket) => readOnly("copy", toBucket),
    delete: async (bucket) => readOnly("delete", bucket),
    ensureBucket: async (bucket) => {
      assertBucket(bucket);
      return readOnly("create a bucket", bucket);
    },
  };
  return store;
}
