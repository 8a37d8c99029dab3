/** `tdf data synth …`: realistic synthetic raw data for a client, deterministic for a seed. */
import path from "node:path";
import { type Command, Option } from "commander";
import { UsageError } from "../core/errors.js";
import { isValidClientName } from "../core/names.js";
import type { CliContext } from "./main.js";

interface SynthOptions {
  client: string;
  skus: string;
  days: string;
  seed: string;
  frequency: "daily" | "weekly";
  format: "csv" | "parquet";
  end?: string;
  out?: string;
}

function integer(name: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
    throw new UsageError(`--${name} must be a whole number, got "${text}".`);
  }
  return value;
}

export function registerDataCommands(program: Command, context: CliContext): void {
  const data = program.command("data").description("the data pipeline's inputs: synthetic clients");

  data
    .command("synth")
    .description(
      "write realistic raw inputs (sales, products, prices, events, client.json) for a client, into the training-data bucket or --out",
    )
    .requiredOption("--client <name>", "the client")
    .requiredOption("--skus <n>", "number of SKUs")
    .requiredOption("--days <n>", "days of sales history")
    .option("--seed <n>", "random seed: the same seed gives the same files", "1")
    .addOption(new Option("--frequency <f>", "daily or weekly sales").choices(["daily", "weekly"]).default("daily"))
    .addOption(new Option("--format <f>", "file format").choices(["csv", "parquet"]).default("csv"))
    .option("--end <date>", "last day of sales, YYYY-MM-DD (default 2025-12-28)")
    .option("--out <dir>", "write the files into this folder instead of the store")
    .action(async (options: SynthOptions) => {
      if (!isValidClientName(options.client)) {
        throw new UsageError(
          `"${options.client}" is not a client name: use lowercase letters, digits, "-" and "_" (at most 63).`,
        );
      }
      const synthesis = {
        skus: integer("skus", options.skus),
        days: integer("days", options.days),
        seed: integer("seed", options.seed),
        frequency: options.frequency,
        format: options.format,
        end: options.end,
      };
      const { synthesizeClient, writeSyntheticData } = await import("../data/synthesize.js");
      let result: Awaited<ReturnType<typeof writeSyntheticData>>;
      if (options.out !== undefined) {
        result = await writeSyntheticData(path.resolve(context.io.cwd, options.out), synthesis);
      } else {
        const config = context.config();
        const { openStore } = await import("../storage/index.js");
        const store = await openStore(config, "runtime");
        result = await synthesizeClient(store, config.storage.buckets.trainingData, options.client, synthesis);
      }
      context.io.stdout.write(`${JSON.stringify(result)}\n`);
    });
}
