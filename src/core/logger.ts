/**
 * Structured JSON logging (pino) with secrets removed twice: by field name (credentials objects,
 * authorization headers) and by value, on the final serialised line, so a secret that slipped into a
 * message or an error's text never reaches the output.
 */
import { type DestinationStream, type Logger, pino } from "pino";
import type { LogLevel } from "./config.js";
import { createRedactor, REDACTED } from "./redact.js";

export type { Logger } from "pino";

export interface LoggerOptions {
  level?: LogLevel;
  /** Secret values to remove from every line (see `secretValues`). */
  secrets?: readonly string[];
  /** Where lines go; standard error by default, so standard output stays for command output. */
  destination?: DestinationStream;
  name?: string;
}

const redactPaths = [
  "*.secretAccessKey",
  "*.password",
  "*.token",
  "*.authorization",
  "*.headers.authorization",
  "*.credentials",
  "secretAccessKey",
  "password",
  "token",
  "credentials",
];

export function createLogger(options: LoggerOptions = {}): Logger {
  const redact = createRedactor(options.secrets ?? []);
  return pino(
    {
      level: options.level ?? "info",
      name: options.name ?? "tdf",
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths, censor: REDACTED },
      hooks: { streamWrite: redact },
    },
    options.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}
