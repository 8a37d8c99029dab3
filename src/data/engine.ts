/**
 * DuckDB, the analytical engine every data task runs its SQL in. One in-memory database per task,
 * with a memory limit and a spill folder inside the task's scratch folder, so a large input is sorted
 * and joined out of core instead of growing the process. Loaded lazily: `tdf --help` never pays for it.
 */
import os from "node:os";
import path from "node:path";
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { DataError } from "./errors.js";

export interface EngineOptions {
  /** Scratch folder; DuckDB spills to `<workDir>/duckdb-spill`. */
  workDir: string;
  /** DuckDB's `memory_limit` (default `1GB`): its buffers stay under it, spilling beyond. */
  memoryLimit?: string;
  /** Worker threads (default: the cores available). */
  threads?: number;
  /** Stops the running statement when aborted. */
  signal?: AbortSignal;
}

export interface Engine {
  run(sql: string): Promise<void>;
  /** The result rows as plain JSON values (numbers for INTEGER/DOUBLE, strings for BIGINT/DATE). */
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): void;
}

const defaultMemoryLimit = "1GB";

export async function openEngine(options: EngineOptions): Promise<Engine> {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  try {
    instance = await DuckDBInstance.create(":memory:", {
      memory_limit: options.memoryLimit ?? defaultMemoryLimit,
      threads: String(options.threads ?? os.availableParallelism()),
      temp_directory: path.join(options.workDir, "duckdb-spill"),
      // Output order is always explicit (ORDER BY); without this DuckDB buffers less.
      preserve_insertion_order: "false",
    });
    connection = await instance.connect();
  } catch (error) {
    throw new DataError("DATA_ENGINE_FAILED", `DuckDB could not start: ${(error as Error).message}`, { cause: error });
  }
  const interrupt = () => connection.interrupt();
  options.signal?.addEventListener("abort", interrupt, { once: true });

  const failed = (error: unknown, sql: string): DataError => {
    if (options.signal?.aborted) {
      return new DataError("DATA_ENGINE_FAILED", "The data task was stopped before it finished.", { cause: error });
    }
    const message = (error as Error).message ?? String(error);
    const outOfSpace = /No space left on device|Out of Memory|could not allocate/i.test(message);
    return new DataError(
      "DATA_ENGINE_FAILED",
      outOfSpace
        ? `DuckDB ran out of memory or disk space (${message.split("\n")[0]}); free disk space in ${options.workDir} or raise TDF_DUCKDB_MEMORY_MIB.`
        : `DuckDB failed: ${message.split("\n")[0]}`,
      // `resource`: the machine, not the data, is at fault; callers never turn that into a data problem.
      { cause: error, context: { sql: sql.slice(0, 2000), resource: outOfSpace } },
    );
  };

  return {
    async run(sql) {
      try {
        await connection.run(sql);
      } catch (error) {
        throw failed(error, sql);
      }
    },
    async rows<T>(sql: string) {
      try {
        const reader = await connection.runAndReadAll(sql);
        return reader.getRowObjectsJson() as T[];
      } catch (error) {
        throw failed(error, sql);
      }
    },
    close() {
      options.signal?.removeEventListener("abort", interrupt);
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** A SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A SQL identifier (column names come from client files). */
export function sqlIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A finite number as SQL (settings are validated numbers; this guards against NaN reaching SQL). */
export function sqlNumber(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  return String(value);
}
