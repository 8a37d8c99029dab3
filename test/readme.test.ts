import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import { test } from "node:test";
import { configVariables } from "../src/core/config.js";

test("the README's configuration table lists every variable the configuration reads", async () => {
  const readme = await fsp.readFile(new URL("../README.md", import.meta.url), "utf8");
  const documented = new Set([...readme.matchAll(/^\|\s*`([A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]));
  assert.deepEqual(
    configVariables.map((v) => v.name).filter((name) => !documented.has(name)),
    [],
  );
});
