/**
 * `resolve_code`, the first task of every pipeline: it fixes the code version of the run. Airflow runs
 * it as `tdf-bootstrap --resolve-only` (the image is chosen before the code's dependency hash is
 * known); the local runner resolves before it starts anything and runs this task through the
 * bootstrap like every other, so its download warms the cache for the tasks after it. Both print the
 * same line: `{"sha","depsHash","imageTag"}`.
 */
import { resolveOnly } from "../bootstrap/bootstrap.js";
import type { TaskContext, TaskDefinition } from "./task.js";

export const resolveCodeTask: TaskDefinition = {
  name: "resolve_code",
  description: "fix the run's code version: its SHA, dependency hash and base image tag",
  async run(context: TaskContext): Promise<void> {
    const { config } = context;
    const resolution = await resolveOnly({
      // Inside the bootstrap this is the SHA it verified and runs; in a checkout, what latest is now.
      codeVersion: context.codeSha ?? "latest",
      openStore: async () => (await import("../storage/index.js")).openStore(config, "runtime", "read-only"),
      bucket: config.storage.buckets.code,
      verifyKey: config.codepkg.verifyKey,
      logger: context.logger,
    });
    process.stdout.write(`${JSON.stringify(resolution)}\n`);
  },
};
