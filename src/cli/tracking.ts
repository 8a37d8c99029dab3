/** `tdf models …`: the training runs the tracker recorded, registered models, and manual promotion. */
import { type Command, Option } from "commander";
import { TdfError, UsageError } from "../core/errors.js";
import type { CliContext } from "./main.js";

const date = (ms: number | undefined) =>
  ms === undefined ? "-" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export function registerTrackingCommands(program: Command, context: CliContext): void {
  const { io } = context;
  const open = async () => {
    const tracking = await import("../tracking/index.js");
    return { tracking, tracker: await tracking.openTracker(context.config()) };
  };
  const modelTypeOption = () =>
    new Option("--model-type <type>", "top_seller or long_tail (default: both)").choices(["top_seller", "long_tail"]);

  const models = program.command("models").description("registered models and their aliases (champion, challenger)");
  models
    .command("runs")
    .description("list the training runs the tracker recorded for a client, newest first")
    .requiredOption("--client <name>", "the client")
    .addOption(modelTypeOption())
    .addOption(new Option("--limit <n>", "runs per model type").default("20"))
    .action(async (options: { client: string; modelType?: "top_seller" | "long_tail"; limit: string }) => {
      const { tracking, tracker } = await open();
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new UsageError(`--limit must be a positive whole number, got "${options.limit}".`);
      for (const modelType of options.modelType ? [options.modelType] : tracking.modelTypes) {
        const name = tracking.experimentName(options.client, modelType);
        const experiment = await tracker.getExperimentByName(name);
        if (!experiment) {
          io.stdout.write(`${name}: no runs yet\n`);
          continue;
        }
        for (const run of await tracker.searchRuns([experiment.id], { maxResults: limit })) {
          const seconds = run.endTime === undefined ? "" : `${((run.endTime - run.startTime) / 1000).toFixed(1)}s`;
          io.stdout.write(
            `${name}  ${run.id}  ${run.status.padEnd(8)}  ${date(run.startTime)}  ${seconds.padStart(8)}  ${run.name ?? ""}\n`,
          );
        }
      }
    });

  models
    .command("ls")
    .description("list a client's registered models: latest version and aliases")
    .requiredOption("--client <name>", "the client")
    .action(async (options: { client: string }) => {
      const { tracking, tracker } = await open();
      for (const modelType of tracking.modelTypes) {
        const name = tracking.registeredModelName(options.client, modelType);
        const model = await tracker.getRegisteredModel(name);
        if (!model) {
          io.stdout.write(`${name}: not registered yet\n`);
          continue;
        }
        const latest = await tracker.latestModelVersion(name);
        const aliases = Object.entries(model.aliases).map(([alias, version]) => `${alias}=v${version}`);
        io.stdout.write(`${name}  latest v${latest?.version ?? "-"}  ${aliases.join(" ") || "(no aliases)"}\n`);
      }
    });

  models
    .command("alias")
    .description("point an alias at a version (manual promotion or rollback)")
    .argument("<name>", "the registered model, e.g. acme-top_seller")
    .argument("<version>", "the version number")
    .argument("<alias>", "e.g. champion")
    .action(async (name: string, version: string, alias: string) => {
      const { tracker } = await open();
      if (!(await tracker.getModelVersion(name, version))) {
        throw new TdfError(
          "TRACKING_NOT_FOUND",
          `Model ${name} has no version ${version}; list them with \`tdf models ls\`.`,
        );
      }
      const before = await tracker.getVersionByAlias(name, alias);
      await tracker.setAlias(name, alias, version);
      io.stdout.write(`${name}: ${alias} → v${version}${before ? ` (was v${before.version})` : ""}\n`);
    });
}
