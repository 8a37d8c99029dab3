/**
 * A fault injector around a real ObjectStore: it runs every call against the wrapped store, except
 * those `fault` chooses to fail or to tamper with. Used to prove what an interruption leaves behind.
 */
import type { ObjectBody, ObjectStore, PutOptions } from "../../src/storage/types.js";

export interface Faults {
  /** Throw to fail the call before it reaches the store. */
  before?(operation: "put" | "copy" | "delete", key: string): void;
  /** Replace the body of a put (tampering in transit). */
  rewrite?(key: string, body: Buffer): Buffer | undefined;
}

async function bytesOf(body: ObjectBody): Promise<Buffer> {
  if (typeof body === "string") return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function withFaults(store: ObjectStore, faults: Faults): ObjectStore {
  return {
    ...store,
    async put(bucket: string, key: string, body: ObjectBody, options?: PutOptions) {
      faults.before?.("put", key);
      if (faults.rewrite) {
        const bytes = await bytesOf(body);
        return store.put(bucket, key, faults.rewrite(key, bytes) ?? bytes, options);
      }
      return store.put(bucket, key, body, options);
    },
    async copy(fromBucket: string, fromKey: string, toBucket: string, toKey: string) {
      faults.before?.("copy", toKey);
      return store.copy(fromBucket, fromKey, toBucket, toKey);
    },
    async delete(bucket: string, key: string) {
      faults.before?.("delete", key);
      return store.delete(bucket, key);
    },
  };
}
