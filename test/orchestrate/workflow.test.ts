/**
 * .github/workflows/deploy.yml, checked without GitHub: parsed as YAML (the system Python's PyYAML;
 * actionlint is not packaged here) for its triggers, jobs, conditions and secrets, and its two shell
 * steps that decide things run for real: the dependency hash and image name, and the registry lookup
 * (against a fake `docker` that answers like `docker manifest inspect`).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { baseImageRef, dependencyHash } from "../../src/codepkg/deps-hash.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const workflowFile = path.join(root, ".github/workflows/deploy.yml");

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  shell?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}
interface Job {
  needs?: string | string[];
  steps: Step[];
  env?: Record<string, string>;
  outputs?: Record<string, string>;
}
interface Workflow {
  name: string;
  on: {
    push: { branches: string[] };
    workflow_dispatch: { inputs: Record<string, { type: string; default: unknown }> };
  };
  jobs: Record<string, Job>;
}

const yamlPython = ["/usr/bin/python3", "python3"].find(
  (p) => spawnSync(p, ["-c", "import yaml"], { stdio: "ignore" }).status === 0,
);

async function loadWorkflow(): Promise<Workflow> {
  assert.ok(yamlPython, "a Python 3 with PyYAML (Debian's python3-yaml)");
  // YAML 1.1 reads the key `on` as true; GitHub reads it as "on".
  const json = execFileSync(
    yamlPython,
    [
      "-c",
      "import json, sys, yaml; d = yaml.safe_load(open(sys.argv[1])); d['on'] = d.pop(True, d.get('on')); print(json.dumps(d))",
      workflowFile,
    ],
    { encoding: "utf8" },
  );
  return JSON.parse(json) as Workflow;
}

/** A GitHub Actions expression as the workflow spells it: `${{ <expression> }}`. */
const gh = (expression: string) => `$${"{{"} ${expression} }}`;

const step = (job: Job, id: string): Step => {
  const found = job.steps.find((s) => s.id === id);
  assert.ok(found, `step ${id}`);
  return found;
};

/** Runs a step's script with bash as GitHub does, returning what it wrote to $GITHUB_OUTPUT. */
async function runStep(script: string, env: Record<string, string>): Promise<Record<string, string>> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-step-"));
  try {
    const output = path.join(dir, "output");
    await fsp.writeFile(output, "");
    execFileSync("bash", ["-eo", "pipefail", "-c", script], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        GITHUB_OUTPUT: output,
        GITHUB_STEP_SUMMARY: path.join(dir, "summary"),
        ...env,
      },
    });
    const lines = (await fsp.readFile(output, "utf8")).split("\n").filter(Boolean);
    return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

test("deploy.yml: triggers, the image job's lookup-then-build, the publish job's order and secrets", async () => {
  const workflow = await loadWorkflow();
  assert.equal(workflow.name, "Deploy to Garage - Hybrid Pattern");
  assert.deepEqual(workflow.on.push.branches, ["main"]);
  assert.deepEqual(workflow.on.workflow_dispatch.inputs.force_rebuild, {
    description: "Build and push the base image even if one with this dependency hash exists",
    type: "boolean",
    default: false,
  });
  assert.deepEqual(Object.keys(workflow.jobs), ["base-image", "publish-code"]);

  const image = workflow.jobs["base-image"] as Job;
  assert.match(step(image, "lookup").run ?? "", /docker manifest inspect "\$IMAGE"/);
  const build = step(image, "build");
  assert.equal(build.uses, "docker/build-push-action@v6");
  assert.equal(build.if, "steps.lookup.outputs.exists != 'true' || inputs.force_rebuild");
  assert.equal(build.with?.file, "docker/Dockerfile");
  assert.equal(build.with?.push, true);
  assert.match(String(build.with?.["build-args"]), /^TDF_DEPS_HASH=\$\{\{ steps\.hash\.outputs\.deps-hash \}\}$/m);
  assert.match(String(build.with?.tags), /^\$\{\{ steps\.hash\.outputs\.image \}\}$/m);
  assert.match(String(build.with?.tags), /^\$\{\{ steps\.hash\.outputs\.bootstrap-image \}\}$/m);
  assert.equal(step(image, "lookup").env?.IMAGE, gh("steps.hash.outputs.bootstrap-image"), "a new bootstrap rebuilds");
  assert.equal(step(image, "hash").shell, "bash", "GitHub runs `shell: bash` with pipefail: a missing bundle fails");

  const publish = workflow.jobs["publish-code"] as Job;
  assert.equal(publish.needs, "base-image", "code is published only once its image exists");
  const order = ["bash .ci/run", "npm run build", "npx tdf code pack", "npx tdf code publish"].map((command) =>
    publish.steps.findIndex((s) => s.run?.includes(command)),
  );
  assert.ok(
    order.every((i, n) => i >= 0 && (n === 0 || i > (order[n - 1] as number))),
    `tests, build, pack, publish in that order: ${order}`,
  );
  const publishStep = publish.steps.find((s) => s.run === "npx tdf code publish");
  assert.deepEqual(publishStep?.env, {
    GARAGE_CICD_ACCESS_KEY_ID: gh("secrets.GARAGE_CICD_ACCESS_KEY_ID"),
    GARAGE_CICD_SECRET_ACCESS_KEY: gh("secrets.GARAGE_CICD_SECRET_ACCESS_KEY"),
    TDF_SIGNING_KEY: gh("secrets.TDF_SIGNING_KEY"),
  });
  assert.equal(publish.env?.GARAGE_ENDPOINT, gh("vars.GARAGE_ENDPOINT"));

  const text = await fsp.readFile(workflowFile, "utf8");
  const secrets = new Set([...text.matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1]));
  assert.deepEqual([...secrets].sort(), [
    "DOCKER_REGISTRY_PASSWORD",
    "DOCKER_REGISTRY_USERNAME",
    "GARAGE_CICD_ACCESS_KEY_ID",
    "GARAGE_CICD_SECRET_ACCESS_KEY",
    "TDF_SIGNING_KEY",
  ]);
  for (const [name, job] of Object.entries(workflow.jobs)) {
    const ids = new Set(job.steps.map((s) => s.id).filter(Boolean));
    for (const s of job.steps) {
      assert.doesNotMatch(s.run ?? "", /secrets\./, `${name}: secrets reach scripts only through env`);
      for (const m of JSON.stringify(s).matchAll(/steps\.([a-z-]+)\.out/g))
        assert.ok(ids.has(m[1]), `${name}: step ${m[1]}`);
    }
  }
});

test("the hash step names the image the bootstrap asks for, and the lookup decides the build", async (t) => {
  const workflow = await loadWorkflow();
  const image = workflow.jobs["base-image"] as Job;
  const hashed = await runStep(step(image, "hash").run ?? "", {
    DOCKER_REGISTRY_URL: "registry.example.com:5000",
    IMAGE_PREFIX: "tft-demand-forecasting",
  });
  const hash = await dependencyHash(root);
  const imageRef = baseImageRef(hash, "tft-demand-forecasting", "registry.example.com:5000");
  // What the image carries of the bootstrap: its bin and the bundle the Dockerfile copies.
  const bundle = path.join(root, "dist/bootstrap-bundle");
  const bootstrapFiles = [
    path.join(root, "bin/tdf-bootstrap.cjs"),
    ...(await fsp.readdir(bundle)).sort().map((f) => path.join(bundle, f)),
  ];
  const bootstrap = createHash("sha256");
  for (const file of bootstrapFiles) bootstrap.update(await fsp.readFile(file));
  assert.deepEqual(hashed, {
    "deps-hash": hash,
    image: imageRef,
    "bootstrap-image": `${imageRef}-bootstrap-${bootstrap.digest("hex").slice(0, 12)}`,
  });

  const bin = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-fake-docker-"));
  t.after(() => fsp.rm(bin, { recursive: true, force: true }));
  // fake docker: `docker manifest inspect <image>` succeeds only for FAKE_DOCKER_EXISTING.
  await fsp.writeFile(
    path.join(bin, "docker"),
    '#!/bin/sh\n[ "$1 $2" = "manifest inspect" ] && [ "$3" = "$FAKE_DOCKER_EXISTING" ]\n',
    { mode: 0o755 },
  );
  const lookup = step(image, "lookup").run ?? "";
  const env = { PATH: `${bin}:${process.env.PATH}`, IMAGE: hashed["bootstrap-image"] as string };
  const found = (existing: string) => runStep(lookup, { ...env, FAKE_DOCKER_EXISTING: existing });
  assert.deepEqual(await found(hashed["bootstrap-image"] as string), { exists: "true" });
  // The dependency tag alone (an image with an older bootstrap) is not enough.
  assert.deepEqual(await found(hashed.image as string), { exists: "false" });
});
