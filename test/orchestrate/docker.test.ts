/**
 * The base image, checked without a Docker engine (none runs here): docker/Dockerfile read
 * instruction by instruction for what the hybrid pattern needs of it, and its build context (what
 * Dockerfile.dockerignore lets through) proven enough by building the bootstrap bundle from it
 * exactly as the Dockerfile's bootstrap stage does, then starting it.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { walkFiles } from "../../src/codepkg/files.js";
import { containerCacheDir } from "../../src/orchestrate/airflow.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions with line continuations joined and comments dropped; ARG defaults before FROM applied. */
function parseDockerfile(text: string): { directives: string[]; stages: Stage[] } {
  const directives = text.split("\n").filter((l) => /^#\s*\w+=/.test(l));
  const logical: string[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("#") || line === "") continue;
    pending += `${line.replace(/\\$/, "").trim()} `;
    if (!line.endsWith("\\")) {
      logical.push(pending.trim());
      pending = "";
    }
  }
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword = "", ...rest] = line.split(/\s+/);
    const args = rest.join(" ");
    const upper = keyword.toUpperCase();
    if (upper === "FROM") {
      const [image = "", as, name] = args.split(/\s+/);
      const from = image.replace(/\$\{(\w+)\}/g, (_, v: string) => globalArgs.get(v) ?? "");
      stages.push({ from, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else if (stages.length === 0 && upper === "ARG") {
      const [name = "", value = ""] = args.split("=");
      globalArgs.set(name, value);
    } else {
      stages.at(-1)?.instructions.push({ keyword: upper, args });
    }
  }
  return { directives, stages };
}

/** Whether a .dockerignore (its patterns, in order) lets `file` into the build context. */
function inContext(patterns: readonly string[], file: string): boolean {
  let included = true;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const pattern = negated ? raw.slice(1) : raw;
    const regex = new RegExp(
      `^${pattern
        .split("**")
        .map((part) => part.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*"))
        .join(".*")}(/.*)?$`,
    );
    if (regex.test(file)) included = negated;
  }
  return included;
}

test("docker/Dockerfile: slim Node 20, dependencies from the lockfile, the bootstrap as entrypoint, TDF_DEPS_HASH, non-root", async () => {
  const { directives, stages } = parseDockerfile(await fsp.readFile(path.join(root, "docker/Dockerfile"), "utf8"));
  assert.deepEqual(directives, ["# syntax=docker/dockerfile:1"]);
  const final = stages.at(-1);
  assert.ok(final);
  assert.equal(final.from, "node:20-bookworm-slim");
  const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);

  const deps = stages.find((s) => s.name === "dependencies");
  assert.ok(deps, "a dependencies stage");
  assert.ok(all(deps, "COPY").some((i) => /package-lock\.json/.test(i.args)));
  assert.ok(
    all(deps, "RUN").some((i) => /npm ci --omit=dev\b/.test(i.args)),
    "npm ci --omit=dev of the lockfile",
  );
  assert.ok(
    all(final, "COPY").some((i) => i.args === "--from=dependencies /build/node_modules ./node_modules"),
    "the production node_modules reach the final image",
  );
  assert.ok(all(final, "COPY").some((i) => /--from=bootstrap \/build\/dist\/bootstrap-bundle/.test(i.args)));

  assert.deepEqual(
    all(final, "ARG").map((i) => i.args),
    ["TDF_DEPS_HASH"],
  );
  const env = all(final, "ENV")
    .map((i) => i.args)
    .join(" ");
  assert.match(env, /\bTDF_DEPS_HASH=\$\{TDF_DEPS_HASH\}/);
  assert.match(env, new RegExp(`\\bTDF_CODE_CACHE_DIR=${containerCacheDir}\\b`), "where the DAGs mount the cache");
  assert.match(
    all(final, "LABEL")
      .map((i) => i.args)
      .join(" "),
    /io\.tdf\.deps-hash="\$\{TDF_DEPS_HASH\}"/,
  );
  assert.ok(
    all(final, "RUN").some((i) => /test -n "\$\{TDF_DEPS_HASH\}"/.test(i.args)),
    "a build without the hash fails",
  );
  assert.deepEqual(JSON.parse(all(final, "VOLUME")[0]?.args ?? "[]"), [containerCacheDir]);

  const users = all(final, "USER");
  assert.equal(users.length, 1);
  assert.ok(!["root", "0"].includes(users[0]?.args.split(":")[0] ?? ""), "not root");
  const index = (i: Instruction | undefined) => final.instructions.indexOf(i as Instruction);
  assert.ok(index(users[0]) > index(all(final, "RUN").at(-1)), "nothing runs as root after USER");
  const entrypoint = JSON.parse(all(final, "ENTRYPOINT")[0]?.args ?? "null") as string[];
  assert.deepEqual(entrypoint, ["node", "/opt/tdf/bin/tdf-bootstrap.cjs"], "exec form: signals reach the bootstrap");
});

test("the build context holds what the Dockerfile copies, and builds a bootstrap that starts", async (t) => {
  const dockerfile = await fsp.readFile(path.join(root, "docker/Dockerfile"), "utf8");
  const patterns = (await fsp.readFile(path.join(root, "docker/Dockerfile.dockerignore"), "utf8"))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const { stages } = parseDockerfile(dockerfile);
  const sources = stages
    .flatMap((s) => s.instructions)
    .filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from="))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  for (const source of sources) {
    await fsp.access(path.join(root, source));
    assert.ok(inContext(patterns, source), `${source} is in the build context`);
  }
  assert.equal(inContext(patterns, "src/pipelines/tasks.ts"), false, "application code stays out of the image");
  assert.equal(inContext(patterns, "src/core/config.test.ts"), false);

  // The context, as Docker would send it, then the bootstrap stage's build in it.
  const context = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-docker-context-"));
  t.after(() => fsp.rm(context, { recursive: true, force: true }));
  const files = ["package.json", "package-lock.json", "bin/tdf-bootstrap.cjs"];
  for (const dir of ["src/bootstrap", "src/codepkg", "src/core", "src/storage"]) files.push(...walkFiles(root, dir));
  for (const file of files.filter((f) => inContext(patterns, f))) {
    await fsp.mkdir(path.dirname(path.join(context, file)), { recursive: true });
    await fsp.copyFile(path.join(root, file), path.join(context, file));
  }
  const { scripts } = JSON.parse(await fsp.readFile(path.join(root, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  execFileSync("sh", ["-c", scripts["build:bootstrap"] as string], {
    cwd: context,
    env: { ...process.env, PATH: `${path.join(root, "node_modules/.bin")}:${process.env.PATH}` },
  });
  const help = execFileSync(process.execPath, [path.join(context, "bin/tdf-bootstrap.cjs"), "--help"], {
    encoding: "utf8",
  });
  assert.match(help, /--resolve-only/);
});
