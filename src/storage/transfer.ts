/** Moving whole objects between the store and local files (tasks work on local copies). */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { ObjectStore, PutOptions } from "./types.js";

/** Downloads an object to `file` (written whole, then renamed into place); false when it is absent. */
export async function downloadToFile(store: ObjectStore, bucket: string, key: string, file: string): Promise<boolean> {
  const object = await store.get(bucket, key);
  if (!object) return false;
  await mkdir(path.dirname(file), { recursive: true });
  const partial = `${file}.partial`;
  try {
    await pipeline(object.body, createWriteStream(partial));
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return true;
}

export async function uploadFile(
  store: ObjectStore,
  bucket: string,
  key: string,
  file: string,
  options?: PutOptions,
): Promise<void> {
  await store.put(bucket, key, createReadStream(file), options);
}
