/**
 * `tdf-bootstrap --code-version <latest|sha|prefix> [--cache-dir DIR] -- <task command…>`: the
 * entrypoint of the base image. Like `tdf`, it is a process edge: it reads the environment, and it
 * alone decides how the process ends. `--resolve-only` prints the resolution as one JSON line instead.
 */

import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadConfig, secretValues } from "../core/config.js";
import { describeFailure, exitCodes, UsageError } from "../core/errors.js";
import { createLogger } from "../core/logger.js";
import { createRedactor } from "../core/redact.js";
import { bootstrap, resolveOnly } from "./bootstrap.js";

const usage = `usage: tdf-bootstrap --code-version <latest|sha|prefix> [--cache-dir DIR] -- <task command...>
       tdf-bootstrap --code-version <latest|sha|prefix> --resolve-only

Downloads (or reuses from the cache), verifies and unpacks the code version, then runs the task
command with the code's entry. With --resolve-only it downloads nothing but the manifest and prints
{"sha","depsHash","imageTag"} as the last line of standard output (Airflow's resolve_code task).
Configuration comes from the environment (see the README).
`;

// The bootstrap's own dependencies: the same relative path from src/bootstrap and from the bundle
// the build makes of it (dist/bootstrap-bundle/bin.cjs, one CommonJS file to load: every container
// start pays for module loading; see import-meta-url.ts).
const ownNodeModules = fileURLToPath(new URL("../../node_modules", import.meta.url));

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const redact = createRedactor(secretValues(process.env));

async function main(argv: string[]): Promise<number> {
  const separator = argv.indexOf("--");
  const own = separator === -1 ? argv : argv.slice(0, separator);
  const command = separator === -1 ? [] : argv.slice(separator + 1);
  let values: { "code-version"?: string; "cache-dir"?: string; "resolve-only"?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: own,
      options: {
        "code-version": { type: "string" },
        "cache-dir": { type: "string" },
        "resolve-only": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(usage);
    return exitCodes.ok;
  }
  if (!values["code-version"]) throw new UsageError("--code-version is required (latest, a git SHA, or a prefix).");
  if (values["resolve-only"] && command.length > 0) throw new UsageError("--resolve-only runs no task command.");
  if (!values["resolve-only"] && command.length === 0)
    throw new UsageError("give the task command after --, e.g. `-- store ls code-repository`.");

  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel, secrets: secretValues(process.env), name: "tdf-bootstrap" });
  const openStore = async () => (await import("../storage/index.js")).openStore(config, "runtime", "read-only");
  if (values["resolve-only"]) {
    const resolution = await resolveOnly({
      codeVersion: values["code-version"],
      openStore,
      bucket: config.storage.buckets.code,
      verifyKey: config.codepkg.verifyKey,
      logger,
    });
    // The last line of output: DockerOperator pushes it to XCom (logs go to stderr, all written by now).
    process.stdout.write(`${JSON.stringify(resolution)}\n`);
    return exitCodes.ok;
  }
  const cacheDir = values["cache-dir"] ? path.resolve(values["cache-dir"]) : config.bootstrap.cacheDir;
  const result = await bootstrap({
    codeVersion: values["code-version"],
    command,
    openStore,
    bucket: config.storage.buckets.code,
    cacheDir,
    cacheMaxBytes: config.bootstrap.cacheMaxBytes,
    verifyKey: config.codepkg.verifyKey,
    depsHash: config.bootstrap.depsHash,
    allowDepsMismatch: config.bootstrap.allowDepsMismatch,
    imagePrefix: config.docker.imagePrefix,
    registryUrl: config.docker.registryUrl,
    nodeModules: config.bootstrap.nodeModules ?? ownNodeModules,
    metricsFile: config.enableMetrics
      ? path.join(
          config.bootstrap.metricsDir,
          `bootstrap-${new Date().toISOString().replace(/[:.]/g, "")}-${process.pid}.json`,
        )
      : undefined,
    logger,
  });
  return result.exitCode;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const failure = describeFailure(error, redact);
    process.stderr.write(`tdf-bootstrap: ${failure.text}\n`);
    process.exitCode = failure.exitCode;
  },
);
