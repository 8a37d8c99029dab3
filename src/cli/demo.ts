/**
 * `tdf demo`: the whole system on this machine with no services and no configuration. Synthetic sales
 * for a demo client → this checkout's code packed and published to the store → the three pipelines
 * run by the local runner, every task through `tdf-bootstrap` → a summary and `<TDF_HOME>/report.html`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Command, Option } from "commander";
import type { Env } from "../core/config.js";
import { UsageError } from "../core/errors.js";
import { isValidClientName } from "../core/names.js";
import type { CliContext } from "./main.js";
import { createCliRunner, runPipeline } from "./run.js";

/** The checkout this command runs from: the code the demo publishes. */
const packageRoot = fileURLToPath(new URL("../..", import.meta.url));

interface DemoSize {
  skus: number;
  days: number;
  epochs: string;
  batchesPerEpoch: string;
}

const sizes: Record<"default" | "small", DemoSize> = {
  default: { skus: 120, days: 730, epochs: "6", batchesPerEpoch: "30" },
  small: { skus: 24, days: 240, epochs: "2", batchesPerEpoch: "4" },
};

export function registerDemoCommand(program: Command, context: CliContext, env: Env): void {
  const { io } = context;
  program
    .command("demo")
    .description("synthetic data → publish this checkout → transform, train, forecast, export → report.html")
    .addOption(new Option("--client <name>", "the demo client").default("demo"))
    .addOption(new Option("--small", "a smaller, faster run (smoke tests)"))
    .addOption(new Option("--seed <n>", "seed of the synthetic data").default("7"))
    .action(async (options: { client: string; small?: boolean; seed: string }) => {
      if (!isValidClientName(options.client)) throw new UsageError(`"${options.client}" is not a client name.`);
      const seed = Number(options.seed);
      if (!Number.isInteger(seed)) throw new UsageError(`--seed must be a whole number, got "${options.seed}".`);
      const size = sizes[options.small ? "small" : "default"];
      const config = context.config();
      const say = (message: string) => io.stderr.write(`${message}\n`);
      const started = Date.now();

      const [{ openStore }, { synthesizeClient }, codepkg, { findPipeline }] = await Promise.all([
        import("../storage/index.js"),
        import("../data/synthesize.js"),
        import("../codepkg/index.js"),
        import("../pipelines/definitions.js"),
      ]);
      say(`1/4  synthetic sales for "${options.client}": ${size.skus} SKUs × ${size.days} days (seed ${seed})`);
      const store = await openStore(config, "runtime");
      const data = await synthesizeClient(store, config.storage.buckets.trainingData, options.client, {
        skus: size.skus,
        days: size.days,
        seed,
      });
      say(`     ${data.rows.sales} sales rows, ${data.firstDate} to ${data.lastDate}`);

      say("2/4  packing and publishing this checkout's code to the store");
      const published = await codepkg.publish({
        root: packageRoot,
        include: config.codepkg.include,
        maxBytes: config.codepkg.maxBytes,
        signingKey: config.codepkg.signingKey,
        store: await openStore(config, "cicd"),
        bucket: config.storage.buckets.code,
        // A demo runs what is checked out, edits included; the manifest records that it is dirty.
        allowDirty: true,
        onProgress: (line) => say(`     ${line}`),
      });
      const sha = published.sha;

      // The demo's training profile, unless the caller set one: few, small epochs.
      const taskEnv: Env = {
        ...env,
        TRAINING_MAX_EPOCHS: env.TRAINING_MAX_EPOCHS ?? size.epochs,
        TRAINING_BATCH_SIZE: env.TRAINING_BATCH_SIZE ?? "64",
        TRAINING_BATCHES_PER_EPOCH: env.TRAINING_BATCHES_PER_EPOCH ?? size.batchesPerEpoch,
        // The model's recommended rate: the deployment guide's 0.01 overshoots in so few epochs.
        TRAINING_LEARNING_RATE: env.TRAINING_LEARNING_RATE ?? "0.003",
      };
      const runner = await createCliRunner(context, taskEnv, config.parallelism);
      const timings: { name: string; seconds: number; status: string }[] = [];
      let inferenceRunId = "";
      for (const name of ["data_transformation", "training", "inference"]) {
        say(`3/4  ${name}`);
        const record = await runPipeline(runner, findPipeline(name), { client: options.client, codeVersion: sha });
        timings.push({ name, seconds: record.durationSeconds ?? 0, status: record.state });
        if (name === "inference") inferenceRunId = record.runId;
      }

      say("4/4  summary and report");
      const { collectReport } = await import("../report/collect.js");
      const { renderReport } = await import("../report/html.js");
      const { writeFileAtomic } = await import("../core/atomic-file.js");
      const workDir = await mkdtemp(path.join(os.tmpdir(), "tdf-demo-"));
      try {
        const report = await collectReport({
          config,
          client: options.client,
          codeSha: sha,
          pipelines: timings,
          inferenceRunId,
          workDir,
        });
        const reportPath = path.join(config.home, "report.html");
        await writeFileAtomic(reportPath, renderReport(report));
        io.stdout.write(summaryText(report, (Date.now() - started) / 1000, reportPath));
      } finally {
        await rm(workDir, { recursive: true, force: true });
      }
    });
}

function summaryText(report: import("../report/html.js").ReportData, seconds: number, reportPath: string): string {
  const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : "–");
  const lines = [`\nDemand forecasting demo for "${report.client}" (code ${report.codeSha.slice(0, 12)})`, ""];
  for (const segment of report.segments) {
    lines.push(`${segment.modelType}: ${segment.skus} SKUs forecast, model version ${segment.modelVersion ?? "–"}`);
    if (segment.verdict) lines.push(`  ${segment.verdict}`);
    lines.push("  holdout (last horizon)      WAPE   P50 QL   P90 QL   80% coverage");
    for (const s of segment.scores) {
      lines.push(
        `  ${s.method.padEnd(24)} ${f(s.wape).padStart(7)} ${f(s.ql50).padStart(8)} ${f(s.ql90).padStart(8)} ${`${f(s.coverage80 * 100, 1)} %`.padStart(14)}`,
      );
    }
    lines.push("");
  }
  lines.push(`forecast rows exported: ${report.forecastRows}`);
  for (const p of report.pipelines) lines.push(`${p.name.padEnd(22)} ${p.status.padEnd(8)} ${p.seconds.toFixed(1)} s`);
  lines.push(`total ${seconds.toFixed(1)} s`, `report: ${reportPath}`, "");
  return lines.join("\n");
}
