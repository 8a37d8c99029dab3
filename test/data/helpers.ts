/** A client's data pipeline on a throw-away filesystem store: raw files in, tasks run, outputs read back. */
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger } from "../../src/core/logger.js";
import type { DataContext } from "../../src/data/context.js";
import { openEngine, sqlString } from "../../src/data/engine.js";
import { fsStore } from "../../src/storage/fs.js";
import type { ObjectStore } from "../../src/storage/index.js";

export const trainingBucket = "training-data";
export const pipelineBucket = "data-pipeline";

export interface DataFixture {
  root: string;
  store: ObjectStore;
  client: string;
  /** A context for one task of a run (each gets its own scratch folder). */
  context(runId: string, overrides?: Partial<DataContext>): Promise<DataContext>;
  /** Writes raw files (name → content) under `<client>/raw/`, and `client.json` when given. */
  raw(files: Record<string, string | Uint8Array>, settings?: unknown): Promise<void>;
  /** Every key in the data-pipeline bucket under the client. */
  outputs(): Promise<string[]>;
  /** Rows of a query over a run's Parquet output (`$file` stands for its path). */
  query<T = Record<string, unknown>>(runId: string, name: string, sql: string): Promise<T[]>;
  json<T>(key: string): Promise<T>;
  remove(): Promise<void>;
}

export async function createDataFixture(client = "acme"): Promise<DataFixture> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-data-"));
  const store = fsStore({ root: path.join(root, "store") });
  await store.ensureBucket(trainingBucket);
  await store.ensureBucket(pipelineBucket);
  const logger = createLogger({ level: "silent" });
  return {
    root,
    store,
    client,
    async context(runId, overrides = {}) {
      const workDir = await fsp.mkdtemp(path.join(root, "work-"));
      return {
        store,
        trainingBucket,
        pipelineBucket,
        client,
        runId,
        workDir,
        logger,
        engine: { threads: 2, memoryLimit: "512MB" },
        ...overrides,
      };
    },
    async raw(files, settings) {
      for (const [name, content] of Object.entries(files)) {
        await store.put(trainingBucket, `${client}/raw/${name}`, content);
      }
      if (settings !== undefined) {
        await store.put(trainingBucket, `${client}/client.json`, JSON.stringify(settings));
      }
    },
    async outputs() {
      const keys: string[] = [];
      for await (const entry of store.list(pipelineBucket, `${client}/`)) keys.push(entry.key);
      return keys;
    },
    async query<T>(runId: string, name: string, sql: string) {
      const bytes = await store.getBytes(pipelineBucket, `${client}/${runId}/${name}`);
      if (bytes === null) throw new Error(`no output ${name} in run ${runId}`);
      const file = path.join(root, `read-${Math.random().toString(16).slice(2)}.parquet`);
      await fsp.writeFile(file, bytes);
      const engine = await openEngine({ workDir: root, threads: 1 });
      try {
        return await engine.rows<T>(sql.replaceAll("$file", `read_parquet(${sqlString(file)})`));
      } finally {
        engine.close();
        await fsp.rm(file, { force: true });
      }
    },
    async json<T>(key: string) {
      const bytes = await store.getBytes(pipelineBucket, key);
      if (bytes === null) throw new Error(`no object ${key}`);
      return JSON.parse(Buffer.from(bytes).toString("utf8")) as T;
    },
    remove: () => fsp.rm(root, { recursive: true, force: true }),
  };
}

/** CSV text from a header and rows. */
export function csv(header: string, rows: readonly (readonly (string | number)[])[]): string {
  return `${header}\n${rows.map((r) => r.join(",")).join("\n")}\n`;
}

/** ISO dates from `start`, `count` days long. */
export function days(start: string, count: number): string[] {
  const first = Date.parse(`${start}T00:00:00Z`);
  return Array.from({ length: count }, (_, i) => new Date(first + i * 86_400_000).toISOString().slice(0, 10));
}
