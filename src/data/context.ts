/**
 * What a data task works with, and its moves through the object store: inputs are downloaded into the
 * task's scratch folder, processed there, and results uploaded whole at the end, so a task that fails
 * midway leaves nothing behind.
 */
import { createReadStream, createWriteStream } from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Logger } from "../core/logger.js";
import type { ObjectStore } from "../storage/index.js";
import { type Engine, openEngine } from "./engine.js";
import { DataError } from "./errors.js";

export interface DataContext {
  store: ObjectStore;
  /** Bucket of the clients' raw data (`training-data`). */
  trainingBucket: string;
  /** Bucket of the pipeline's outputs (`data-pipeline`). */
  pipelineBucket: string;
  client: string;
  runId: string;
  /** Scratch folder of this task, removed after it. */
  workDir: string;
  logger: Logger;
  signal?: AbortSignal;
  codeSha?: string;
  /** DuckDB's memory limit (default 1GB) and threads (default: all cores); TDF_DUCKDB_* in a task. */
  engine?: { memoryLimit?: string; threads?: number };
  /** The clock for date-range checks (tests pin it). */
  now?: () => Date;
}

export function withEngine<T>(context: DataContext, work: (engine: Engine) => Promise<T>): Promise<T> {
  return openEngine({ workDir: context.workDir, signal: context.signal, ...context.engine }).then(async (engine) => {
    try {
      return await work(engine);
    } finally {
      engine.close();
    }
  });
}

/**
 * Downloads an object into the scratch folder, returning the file and the ETag of exactly the bytes
 * downloaded; a missing object is a DataError that says what produces it.
 */
export async function download(
  context: DataContext,
  bucket: string,
  key: string,
  name: string,
  missingHint: string,
): Promise<{ file: string; etag: string }> {
  const object = await context.store.get(bucket, key);
  if (object === null) {
    throw new DataError("DATA_MISSING", `${bucket}/${key} does not exist; ${missingHint}`, {
      context: { bucket, key },
    });
  }
  const file = path.join(context.workDir, name);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await pipeline(object.body, createWriteStream(file));
  return { file, etag: object.info.etag };
}

/** A run output produced by an earlier task of the same run. */
export async function downloadRunFile(context: DataContext, key: string, producer: string): Promise<string> {
  const { file } = await download(
    context,
    context.pipelineBucket,
    key,
    path.join("run", path.basename(key)),
    `run the ${producer} task of run ${context.runId} first.`,
  );
  return file;
}

export async function readRunJson<T>(context: DataContext, key: string, producer: string): Promise<T> {
  const bytes = await context.store.getBytes(context.pipelineBucket, key);
  if (bytes === null) {
    throw new DataError(
      "DATA_MISSING",
      `${context.pipelineBucket}/${key} does not exist; run the ${producer} task of run ${context.runId} first.`,
      { context: { key } },
    );
  }
  return JSON.parse(Buffer.from(bytes).toString("utf8")) as T;
}

export async function uploadFile(context: DataContext, key: string, file: string): Promise<void> {
  await context.store.put(context.pipelineBucket, key, createReadStream(file), {
    contentType: "application/vnd.apache.parquet",
    metadata: { "tdf-run-id": context.runId },
  });
}

export async function uploadJson(context: DataContext, key: string, value: unknown): Promise<void> {
  await context.store.put(context.pipelineBucket, key, `${JSON.stringify(value, null, 2)}\n`, {
    contentType: "application/json",
    metadata: { "tdf-run-id": context.runId },
  });
}

/** A path in the scratch folder for an output, its folder created. */
export async function scratchFile(context: DataContext, name: string): Promise<string> {
  const file = path.join(context.workDir, "out", name);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  return file;
}
