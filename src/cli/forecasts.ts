/** `tdf forecasts show`: a client's exported forecasts, from SQLite or the PostgreSQL at DATABASE_URL. */
import { type Command, Option } from "commander";
import { TdfError, UsageError } from "../core/errors.js";
import type { StoredForecast } from "../sink/types.js";
import type { CliContext } from "./main.js";

interface ShowOptions {
  client: string;
  sku?: string;
  modelType?: "top_seller" | "long_tail";
  run?: string;
  limit?: string;
  json?: boolean;
}

/** Rows the table shows when --limit is not given (JSON lines show all). */
const TABLE_ROWS = 100;

const quantity = (value: number) => value.toFixed(2);

function table(rows: readonly StoredForecast[]): string {
  const header = ["SKU", "DATE", "STEP", "P10", "P50", "P90", "MODEL", "COLD START"];
  const cells = rows.map((r) => [
    r.sku,
    r.forecastDate,
    String(r.step),
    quantity(r.p10),
    quantity(r.p50),
    quantity(r.p90),
    `${r.modelName} v${r.modelVersion}`,
    r.coldStart ? "yes" : "no",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  // Numbers right-aligned, text left-aligned.
  const numeric = new Set([2, 3, 4, 5]);
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return `${[line(header), ...cells.map(line)].join("\n")}\n`;
}

export function registerForecastCommands(program: Command, context: CliContext): void {
  const { io } = context;
  const forecasts = program
    .command("forecasts")
    .description("forecasts exported by the inference pipeline (SQLite, or PostgreSQL at DATABASE_URL)");

  forecasts
    .command("show")
    .description("print a client's forecasts, from its newest inference run unless --run names one")
    .requiredOption("--client <name>", "the client")
    .option("--sku <sku>", "one SKU only")
    .addOption(new Option("--model-type <type>", "one segment only").choices(["top_seller", "long_tail"]))
    .option("--run <id>", "the pipeline run id (default: the client's newest export)")
    .option("--limit <n>", `rows at most (default: ${TABLE_ROWS} in the table, all with --json)`)
    .option("--json", "one JSON object per line instead of a table")
    .action(async (options: ShowOptions) => {
      let limit: number | undefined;
      if (options.limit !== undefined) {
        limit = Number(options.limit);
        if (!Number.isSafeInteger(limit) || limit < 1) {
          throw new UsageError(`--limit must be a whole number ≥ 1, got "${options.limit}".`);
        }
      } else if (!options.json) {
        limit = TABLE_ROWS;
      }
      const { openSink } = await import("../sink/index.js");
      const sink = await openSink(context.config());
      try {
        // One row more than shown tells whether there are more.
        const rows = await sink.read({
          client: options.client,
          sku: options.sku,
          modelType: options.modelType,
          pipelineRunId: options.run,
          limit: limit === undefined ? undefined : limit + 1,
        });
        if (rows.length === 0) {
          const filters = [
            options.run === undefined ? "" : `run ${options.run}`,
            options.sku === undefined ? "" : `sku ${options.sku}`,
            options.modelType ?? "",
          ].filter(Boolean);
          throw new TdfError(
            "FORECASTS_NOT_FOUND",
            `No forecasts for client ${options.client}${filters.length > 0 ? ` (${filters.join(", ")})` : ""} in ${sink.location}; run the inference pipeline for the client, or check the names.`,
          );
        }
        const more = limit !== undefined && rows.length > limit;
        const shown = more ? rows.slice(0, limit) : rows;
        if (options.json) {
          io.stdout.write(shown.map((r) => `${JSON.stringify(r)}\n`).join(""));
        } else {
          const first = shown[0] as StoredForecast;
          io.stdout.write(
            `client ${first.client} · run ${first.pipelineRunId} · exported ${first.createdAt} · ${sink.location}\n\n`,
          );
          io.stdout.write(table(shown));
        }
        if (more) io.stderr.write(`(${limit === 1 ? "1 row" : `${limit} rows`} shown; raise --limit to see more)\n`);
      } finally {
        await sink.close();
      }
    });
}
