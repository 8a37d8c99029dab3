/**
 * The `tdf` command: parses arguments and the environment, calls the library, and maps errors to
 * exit codes. It is the only place that reads `process.env` or decides how the process ends.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { type Config, type Env, loadConfig, redactedConfig, secretValues } from "../core/config.js";
import { describeFailure, exitCodes } from "../core/errors.js";
import { createRedactor } from "../core/redact.js";
import { registerAirflowCommands } from "./airflow.js";
import { registerCodeCommands } from "./code.js";
import { registerDataCommands } from "./data.js";
import { registerDemoCommand } from "./demo.js";
import { registerDoctorCommand } from "./doctor.js";
import { registerForecastCommands } from "./forecasts.js";
import { registerRunCommands } from "./run.js";
import { registerStoreCommands } from "./store.js";
import { registerTaskCommand } from "./task.js";
import { registerTrackingCommands } from "./tracking.js";

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  cwd: string;
}

/** What every command gets: the configuration, parsed on first use. */
export interface CliContext {
  io: CliIo;
  config(): Config;
}

// The same relative path from src/cli and dist/cli.
const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

export async function main(argv: readonly string[], env: Env, io: CliIo): Promise<number> {
  const redact = createRedactor(secretValues(env));
  let config: Config | undefined;
  const context: CliContext = {
    io,
    config: () => {
      config ??= loadConfig(env, io.cwd);
      return config;
    },
  };

  const program = new Command("tdf")
    .description("Demand forecasting with Temporal Fusion Transformers, deployed with the hybrid pattern.")
    .version(version, "-v, --version")
    .showHelpAfterError("(run `tdf --help` for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(redact(text)),
    });

  program
    .command("config")
    .description("print the resolved configuration (secrets redacted)")
    .addOption(new Option("--json", "one JSON object instead of indented JSON"))
    .action((options: { json?: boolean }) => {
      const shown = redactedConfig(context.config());
      io.stdout.write(`${JSON.stringify(shown, null, options.json ? undefined : 2)}\n`);
    });

  // Help lists commands in this order: the main job first, the plumbing last.
  registerDemoCommand(program, context, env);
  registerRunCommands(program, context, env);
  registerForecastCommands(program, context);
  registerTrackingCommands(program, context);
  registerDataCommands(program, context);
  registerTaskCommand(program, context, env);
  registerCodeCommands(program, context, env);
  registerStoreCommands(program, context);
  registerAirflowCommands(program, context);
  registerDoctorCommand(program, context);

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCodes.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, successfully.
      return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    }
    const failure = describeFailure(error, redact);
    io.stderr.write(`tdf: ${failure.text}\n`);
    return failure.exitCode;
  }
}
