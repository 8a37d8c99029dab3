/**
 * Structured JSON logging, one line per event, with secrets removed twice: by field name (at any
 * depth: credentials objects, authorization headers) and by value on the finished line, so a secret
 * that slipped into a message or an error's text never reaches the output.
 *
 * The line format is pino's (`level` as a number, `time`, `name`, `msg`, fields beside them), so the
 * usual tools read it; the logger itself is this small file because importing pino costs ~50 ms,
 * which every container start (the bootstrap) would pay.
 */
import fs from "node:fs";
import type { LogLevel } from "./config.js";
import { createRedactor, REDACTED } from "./redact.js";

export interface LogDestination {
  write(line: string): unknown;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Secret values to remove from every line (see `secretValues`). */
  secrets?: readonly string[];
  /** Where lines go; standard error by default, so standard output stays for command output. */
  destination?: LogDestination;
  name?: string;
}

type Fields = Record<string, unknown>;
type LogMethod = (fieldsOrMessage: Fields | string, message?: string) => void;

export interface Logger {
  trace: LogMethod;
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  fatal: LogMethod;
  child(bindings: Fields): Logger;
}

const levels = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
} as const;
const secretKeys = new Set(["secretaccesskey", "password", "token", "authorization", "credentials", "secret"]);

const stderr: LogDestination = { write: (line) => fs.writeSync(2, line) };

/** JSON.stringify replacer: errors become plain objects; fields named like secrets are hidden. */
function replacer(key: string, value: unknown): unknown {
  if (key !== "" && secretKeys.has(key.toLowerCase()) && value !== undefined && value !== null) return REDACTED;
  if (value instanceof Error) {
    const { code, context } = value as Error & { code?: unknown; context?: unknown };
    return { type: value.name, message: value.message, code, context, stack: value.stack, cause: value.cause };
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const redact = createRedactor(options.secrets ?? []);
  const destination = options.destination ?? stderr;
  const threshold = levels[options.level ?? "info"];

  const make = (bindings: Fields): Logger => {
    const method =
      (level: Exclude<keyof typeof levels, "silent">): LogMethod =>
      (fieldsOrMessage, message) => {
        if (levels[level] < threshold) return;
        const fields = typeof fieldsOrMessage === "string" ? {} : fieldsOrMessage;
        const msg = typeof fieldsOrMessage === "string" ? fieldsOrMessage : message;
        const record = { level: levels[level], time: new Date().toISOString(), ...bindings, ...fields, msg };
        destination.write(`${redact(JSON.stringify(record, replacer))}\n`);
      };
    return {
      trace: method("trace"),
      debug: method("debug"),
      info: method("info"),
      warn: method("warn"),
      error: method("error"),
      fatal: method("fatal"),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return make({ name: options.name ?? "tdf" });
}
