/** Stream plumbing shared by the drivers. */
import { PassThrough, type Readable } from "node:stream";
import { StorageError } from "./errors.js";
import type { ObjectBody } from "./types.js";

/** The whole content of a stream. */
export async function readAll(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * Makes a body stream fail with a StorageError (naming the object) instead of a bare "aborted" or
 * ECONNRESET, so a download interrupted midway is an expected failure the caller can report.
 */
export function withTypedErrors(source: Readable, toError: (error: unknown) => StorageError): Readable {
  const out = new PassThrough({ highWaterMark: source.readableHighWaterMark });
  source.on("error", (error) => out.destroy(error instanceof StorageError ? error : toError(error)));
  // A consumer that stops early releases the source (a file handle, a socket).
  out.on("close", () => source.destroy());
  source.pipe(out);
  return out;
}

/** Releases a stream body the store will not read (a put refused before it started). */
export function discardBody(body: ObjectBody): void {
  if (typeof body !== "string" && !(body instanceof Uint8Array)) body.destroy();
}
