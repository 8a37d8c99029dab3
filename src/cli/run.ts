/**
 * `tdf run <pipeline> --client C [--code-version V] [--parallelism N]`: runs a pipeline on this machine,
 * each task through `tdf-bootstrap` in a child process; `tdf runs ls|show` print past runs.
 */
import { type Command, Option } from "commander";
import type { Env } from "../core/config.js";
import { UsageError } from "../core/errors.js";
import type { CliContext } from "./main.js";

const positiveInteger = (value: string, flag: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a whole number ≥ 1, got "${value}".`);
  return n;
};

export function registerRunCommands(program: Command, context: CliContext, env: Env): void {
  const { io } = context;

  program
    .command("run")
    .description("run a pipeline here: each task through tdf-bootstrap in a child process")
    .argument("<pipeline>", "data_transformation, training or inference")
    .requiredOption("--client <name>", "the client (client_name)")
    .addOption(new Option("--code-version <version>", "latest, a git SHA or a SHA prefix").default("latest"))
    .addOption(new Option("--parallelism <n>", "tasks at once (default: TDF_PARALLELISM, else the number of cores)"))
    .action(async (name: string, options: { client: string; codeVersion: string; parallelism?: string }) => {
      const { findPipeline } = await import("../pipelines/definitions.js");
      const pipeline = findPipeline(name);
      const parallelism =
        options.parallelism === undefined
          ? context.config().parallelism
          : positiveInteger(options.parallelism, "--parallelism");
      const runner = await createCliRunner(context, env, parallelism);
      const record = await runPipeline(runner, pipeline, { client: options.client, codeVersion: options.codeVersion });
      io.stdout.write(`${record.runId}\n`);
    });

  const runs = program.command("runs").description("pipeline runs of the local runner (`tdf run`)");
  runs
    .command("ls")
    .description("list past runs, newest first")
    .addOption(new Option("--limit <n>", "how many").default("20"))
    .addOption(new Option("--client <name>", "only this client's runs"))
    .addOption(new Option("--pipeline <name>", "only this pipeline's runs"))
    .addOption(new Option("--json", "one JSON record per line"))
    .action(async (options: { limit: string; client?: string; pipeline?: string; json?: boolean }) => {
      const { listRuns, runListLine } = await import("../orchestrate/index.js");
      const limit = positiveInteger(options.limit, "--limit");
      const pipeline = options.pipeline?.replaceAll("-", "_");
      const found = (await listRuns(context.config().home))
        .filter(
          (r) =>
            (options.client === undefined || r.params.client_name === options.client) &&
            (pipeline === undefined || r.pipeline === pipeline),
        )
        .slice(0, limit);
      if (found.length === 0)
        io.stderr.write("no runs recorded yet; start one with `tdf run <pipeline> --client <name>`\n");
      for (const record of found) io.stdout.write(`${options.json ? JSON.stringify(record) : runListLine(record)}\n`);
    });
  runs
    .command("show")
    .description("print a past run: its tasks, attempts, durations and log files")
    .argument("<run>", "the run id (or a unique start of it)")
    .addOption(new Option("--json", "the run record as JSON"))
    .action(async (id: string, options: { json?: boolean }) => {
      const { findRun, runDetails } = await import("../orchestrate/index.js");
      const home = context.config().home;
      const record = await findRun(home, id);
      io.stdout.write(options.json ? `${JSON.stringify(record, null, 2)}\n` : runDetails(record, home));
    });
}

export interface CliRunner {
  runner: import("../orchestrate/index.js").Runner;
  view: import("../orchestrate/index.js").ProgressView;
  home: string;
}

/** The local runner as the CLI uses it: tasks through tdf-bootstrap, progress on standard error. */
export async function createCliRunner(context: CliContext, env: Env, parallelism: number): Promise<CliRunner> {
  const { io } = context;
  const [{ tasks }, orchestrate, { resolveOnly }, { createLogger }, { secretValues }] = await Promise.all([
    import("../pipelines/tasks.js"),
    import("../orchestrate/index.js"),
    import("../bootstrap/bootstrap.js"),
    import("../core/logger.js"),
    import("../core/config.js"),
  ]);
  const config = context.config();
  // The progress view already shows the resolved version; the resolver's own lines only when asked for.
  const level = config.logLevel === "info" ? "warn" : config.logLevel;
  const logger = createLogger({ level, secrets: secretValues(env), name: "tdf-run" });
  const view = orchestrate.createProgressView({
    stream: io.stderr,
    interactive: (io.stderr as NodeJS.WriteStream).isTTY === true,
  });
  const runner = orchestrate.createLocalRunner({
    home: config.home,
    parallelism,
    knownTasks: tasks.map((t) => t.name),
    resolve: (codeVersion) =>
      resolveOnly({
        codeVersion,
        openStore: async () => (await import("../storage/index.js")).openStore(config, "runtime", "read-only"),
        bucket: config.storage.buckets.code,
        verifyKey: config.codepkg.verifyKey,
        logger,
      }),
    taskProcess: orchestrate.bootstrapProcess({ cacheDir: config.bootstrap.cacheDir }),
    env: { ...env },
    onChange: (record) => view.update(record),
  });
  return { runner, view, home: config.home };
}

/**
 * Runs a pipeline to its end with progress shown; Ctrl-C (or SIGTERM) stops the running tasks
 * cleanly and records the run as cancelled. A run that did not succeed throws, naming the failed task.
 */
export async function runPipeline(
  cli: CliRunner,
  pipeline: import("../pipelines/definitions.js").PipelineDefinition,
  params: { client: string; codeVersion: string },
): Promise<import("../orchestrate/index.js").RunRecord> {
  const orchestrate = await import("../orchestrate/index.js");
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => controller.abort(signal);
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const record = await cli.runner.run(pipeline, params, { signal: controller.signal });
    cli.view.close(record);
    if (record.state !== "success") throw await orchestrate.runFailure(record, cli.home);
    return record;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
