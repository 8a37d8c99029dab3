/** TDF_DUCKDB_MEMORY_MIB and TDF_DUCKDB_THREADS, from the environment to the settings DuckDB runs with. */
import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { loadConfig } from "../../src/core/config.js";
import { ConfigError } from "../../src/core/errors.js";
import { createLogger } from "../../src/core/logger.js";
import { withEngine } from "../../src/data/context.js";
import { dataContext } from "../../src/pipelines/data-tasks.js";

test("defaults: 1024 MiB and every core; a bad value is named", () => {
  const config = loadConfig({}, os.tmpdir());
  assert.deepEqual(config.duckdb, { memoryMiB: 1024, threads: os.availableParallelism() });
  assert.throws(
    () => loadConfig({ TDF_DUCKDB_MEMORY_MIB: "lots", TDF_DUCKDB_THREADS: "0" }, os.tmpdir()),
    (error: unknown) =>
      error instanceof ConfigError &&
      /TDF_DUCKDB_MEMORY_MIB/.test(error.message) &&
      /TDF_DUCKDB_THREADS/.test(error.message),
  );
});

test("a data task's DuckDB runs with the configured memory limit and threads", async (t) => {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-duckdb-settings-"));
  t.after(() => fsp.rm(home, { recursive: true, force: true }));
  const config = loadConfig({ TDF_HOME: home, TDF_DUCKDB_MEMORY_MIB: "96", TDF_DUCKDB_THREADS: "1" }, home);
  const context = await dataContext({
    config,
    logger: createLogger({ level: "error", secrets: [], name: "test" }),
    client: "acme",
    runId: "run-1",
    codeSha: undefined,
    signal: new AbortController().signal,
    workDir: home,
  });
  const [settings] = await withEngine(context, (engine) =>
    engine.rows<{ memory: string; threads: number }>(
      "SELECT current_setting('memory_limit') AS memory, current_setting('threads')::INTEGER AS threads",
    ),
  );
  assert.deepEqual(settings, { memory: "96.0 MiB", threads: 1 });
});
