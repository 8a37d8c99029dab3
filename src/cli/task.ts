/**
 * `tdf task <name> --client C --run-id R`: runs one pipeline task. This is the command the local runner
 * and Airflow's containers run (through `tdf-bootstrap`), and how a person runs one step alone.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { secretValues } from "../core/config.js";
import { UsageError } from "../core/errors.js";
import { createLogger } from "../core/logger.js";
import { isValidClientName } from "../core/names.js";
import type { CliContext } from "./main.js";

const runIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A fresh run id for a task run by hand: sortable by time, unique enough for one machine. */
export function newRunId(now: Date = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  return `${stamp}-${Math.random().toString(16).slice(2, 8)}`;
}

export function registerTaskCommand(program: Command, context: CliContext, env: NodeJS.ProcessEnv): void {
  program
    .command("task")
    .description("run one pipeline task (what the runner and Airflow run inside tdf-bootstrap)")
    .argument("<name>", "the task, e.g. transform_sales (transform-sales works too)")
    .requiredOption("--client <name>", "the client")
    .option("--run-id <id>", "the pipeline run the task belongs to (default: a new one)")
    .action(async (name: string, options: { client: string; runId?: string }) => {
      const { findTask, tasks } = await import("../pipelines/tasks.js");
      const task = findTask(name.replaceAll("-", "_"));
      if (!task) {
        const known = tasks.map((t) => t.name).join(", ") || "none yet";
        throw new UsageError(`There is no task "${name}"; the tasks are: ${known}.`);
      }
      if (!isValidClientName(options.client)) {
        throw new UsageError(
          `"${options.client}" is not a client name: use lowercase letters, digits, "-" and "_" (at most 63).`,
        );
      }
      const runId = options.runId ?? newRunId();
      if (!runIdPattern.test(runId)) {
        throw new UsageError(`"${runId}" is not a run id: use letters, digits, ".", "_" and "-" (at most 128).`);
      }
      const config = context.config();
      const codeSha = env.TDF_CODE_SHA?.trim() || undefined;
      const logger = createLogger({ level: config.logLevel, secrets: secretValues(env), name: "tdf-task" }).child({
        task: task.name,
        client: options.client,
        runId,
        codeSha,
      });
      const controller = new AbortController();
      const stop = (signal: NodeJS.Signals) => {
        logger.warn({ signal }, "stopping at the next safe point");
        controller.abort(new Error(`task stopped by ${signal}`));
      };
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      const workDir = await mkdtemp(path.join(os.tmpdir(), `tdf-${task.name}-`));
      const started = Date.now();
      logger.info("task started");
      try {
        await task.run({ config, logger, client: options.client, runId, codeSha, signal: controller.signal, workDir });
        logger.info({ seconds: (Date.now() - started) / 1000 }, "task finished");
      } finally {
        process.off("SIGTERM", stop);
        process.off("SIGINT", stop);
        await rm(workDir, { recursive: true, force: true });
      }
    });
}
