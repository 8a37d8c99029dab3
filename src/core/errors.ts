/**
 * The project's error hierarchy. Every expected failure (bad input, missing object, permission
 * denied, unreachable server) is a `TdfError`: its message is one sentence that says what went wrong
 * and what to do, so the CLI prints it without a stack trace. Anything else is a bug.
 */

export interface TdfErrorOptions {
  cause?: unknown;
  /** Machine-readable facts about the failure (bucket, key, variable name…); never secrets. */
  context?: Record<string, unknown>;
}

export class TdfError extends Error {
  readonly code: string;
  readonly context: Record<string, unknown>;

  constructor(code: string, message: string, options: TdfErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.context = options.context ?? {};
  }
}

export interface ConfigProblem {
  /** The environment variable at fault. */
  variable: string;
  message: string;
}

/** Every configuration problem found, reported at once. */
export class ConfigError extends TdfError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  ${p.variable}: ${p.message}`);
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super("CONFIG_INVALID", `The configuration has ${count}; fix the environment and retry:\n${lines.join("\n")}`, {
      context: { variables: problems.map((p) => p.variable) },
    });
    this.problems = problems;
  }
}

/** Wrong command-line usage: the CLI prints it with a pointer to `--help`. */
export class UsageError extends TdfError {
  constructor(message: string) {
    super("USAGE", message);
  }
}

export function isTdfError(error: unknown): error is TdfError {
  return error instanceof TdfError;
}

/** How a process of this project ends: the same codes for `tdf` and `tdf-bootstrap`. */
export const exitCodes = { ok: 0, failure: 1, usage: 2, bug: 70 } as const;

/**
 * The line to print and the exit code for an error that ended a command: expected failures are one
 * sentence; anything else is a bug, shown with its stack.
 */
export function describeFailure(error: unknown, redact: (text: string) => string): { text: string; exitCode: number } {
  if (error instanceof UsageError) {
    return { text: `${redact(error.message)}\n(run with --help for usage)`, exitCode: exitCodes.usage };
  }
  if (isTdfError(error)) return { text: redact(error.message), exitCode: exitCodes.failure };
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return {
    text: `unexpected error (a bug; please report it with this output):\n${redact(text)}`,
    exitCode: exitCodes.bug,
  };
}
