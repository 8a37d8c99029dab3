import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { loadConfig, secretValues } from "./config.js";
import { ConfigError, TdfError } from "./errors.js";
import { createLogger } from "./logger.js";
import { createRedactor } from "./redact.js";

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

const secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRET"quoted';
const env = {
  GARAGE_ENDPOINT: "http://127.0.0.1:3900",
  GARAGE_AIRFLOW_ACCESS_KEY_ID: "GKruntime",
  GARAGE_AIRFLOW_SECRET_ACCESS_KEY: secret,
};

test("a configured secret never appears in any log line, however it is logged", () => {
  const config = loadConfig(env);
  const { lines, stream } = capture();
  const logger = createLogger({ level: "trace", secrets: secretValues(env), destination: stream });
  logger.info({ config }, "resolved configuration");
  logger.info(`connecting with ${secret}`);
  logger.warn({ url: `http://x/?sig=${encodeURIComponent(secret)}` }, "presigned");
  logger.error({ err: new TdfError("X", `bad key ${secret}`, { cause: new Error(secret) }) }, "failed");
  logger.debug({ nested: { deeper: { value: secret } } }, "nested");
  logger.child({ credentials: { accessKeyId: "GKruntime", secretAccessKey: secret } }).info("child");

  assert.equal(lines.length, 6);
  for (const line of lines) {
    JSON.parse(line); // still valid JSON after redaction
    assert.ok(!line.includes(secret), line);
    assert.ok(!line.includes(JSON.stringify(secret).slice(1, -1)), line);
    assert.ok(!line.includes(encodeURIComponent(secret)), line);
  }
  assert.ok(
    lines.some((l) => l.includes("GKruntime")),
    "key ids identify and are kept",
  );
  assert.ok(lines.every((l) => l.includes('"level"') || l.includes('"msg"')));
});

test("the redactor removes secrets from error text, and a secret in a bad value is never echoed", () => {
  const redact = createRedactor(secretValues(env));
  assert.equal(redact(`Error: signature ${secret} mismatch`), "Error: signature [REDACTED] mismatch");
  // Even a config problem whose value is a secret is shown redacted by the CLI.
  try {
    loadConfig({ ...env, GARAGE_REGION: "garage", TRAINING_BATCH_SIZE: secret });
    assert.fail("expected a ConfigError");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.ok(!redact(error.message).includes(secret));
  }
});

test("a secret with surrounding whitespace (as read from a file) is redacted too", () => {
  const padded = { ...env, GARAGE_AIRFLOW_SECRET_ACCESS_KEY: "  padded-secret-value-xyz\n" };
  const config = loadConfig(padded);
  const { lines, stream } = capture();
  const logger = createLogger({ secrets: secretValues(padded), destination: stream });
  logger.info({ config }, "resolved");
  logger.info("using padded-secret-value-xyz");
  assert.equal(lines.length, 2);
  for (const line of lines) assert.ok(!line.includes("padded-secret-value-xyz"), line);
});

test("a configuration error never echoes a secret, even one set in the wrong variable", () => {
  const secret = "wrong-place-secret-123";
  try {
    loadConfig({ ...env, GARAGE_AIRFLOW_SECRET_ACCESS_KEY: secret, TRAINING_MAX_EPOCHS: secret });
    assert.fail("expected a ConfigError");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /TRAINING_MAX_EPOCHS/);
    assert.ok(!error.message.includes(secret), error.message);
  }
});
