/**
 * TFT training throughput at the two shapes pytorch-forecasting's TFT was measured at (torch 1.13,
 * 2 threads, a machine like this one): (a) daily, 500 series × 730 days, encoder 60, horizon 14;
 * (b) monthly, 350 series × 60 months, encoder 24, horizon 6; hidden 16, batch 128, 50 batches per
 * epoch, 7 quantiles. Each shape runs in its own process (so its peak RSS is its own): one warm-up
 * epoch, then the median samples/s and epoch time over the next epochs, and samples per second of
 * the process's CPU time (which the shared machine's other load does not change). One JSON line,
 * with the ratios of samples/s to the pytorch-forecasting figures.
 */
import { spawnSync } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { initBackend } from "../src/model/backend.js";
import { defaultHyperparameters, type EpochMetrics, trainTft } from "../src/model/tft/index.js";
import { monthly, syntheticSeries, syntheticSpec, weekly } from "../test/model/tft/synthetic.js";
import { median, round } from "./common.js";

const measuredEpochs = 3;
const batchesPerEpoch = 50;
const batchSize = 128;

const shapes = {
  a: { series: 500, periods: 730, encoder: 60, horizon: 14, heads: 4, profile: weekly, pytorchSamplesPerSecond: 270 },
  b: { series: 350, periods: 60, encoder: 24, horizon: 6, heads: 2, profile: monthly, pytorchSamplesPerSecond: 420 },
} as const;
type ShapeName = keyof typeof shapes;

interface ShapeResult {
  samplesPerSecond: number;
  /** Samples per second of this process's CPU time: what the machine's other load does not change. */
  samplesPerCpuSecond: number;
  epochSeconds: number;
  peakRssMb: number;
  epochs: number;
}

async function runShape(name: ShapeName): Promise<ShapeResult> {
  const shape = shapes[name];
  const backend = await initBackend();
  const table = syntheticSeries({ series: shape.series, periods: shape.periods, seed: 1, profile: [...shape.profile] });
  const history: EpochMetrics[] = [];
  let cpuAfterWarmUp: NodeJS.CpuUsage | undefined;
  const { model } = await trainTft({
    table,
    spec: syntheticSpec(shape.encoder, shape.horizon),
    hyperparameters: {
      ...defaultHyperparameters("daily"),
      hiddenSize: 16,
      attentionHeads: shape.heads,
      hiddenContinuousSize: 8,
      batchSize,
      batchesPerEpoch,
      maxEpochs: 1 + measuredEpochs,
      seed: 1,
    },
    onEpoch: (m) => {
      history.push(m);
      if (m.epoch === 1) cpuAfterWarmUp = process.cpuUsage();
    },
  });
  const cpu = process.cpuUsage(cpuAfterWarmUp);
  model.dispose();
  const measured = history.slice(1);
  const samples = measured.length * batchesPerEpoch * batchSize;
  if (backend !== "wasm" && backend !== "tensorflow") process.stderr.write(`note: running on the ${backend} backend\n`);
  return {
    samplesPerSecond: median(measured.map((m) => m.samplesPerSecond)),
    samplesPerCpuSecond: samples / ((cpu.user + cpu.system) / 1e6),
    epochSeconds: median(measured.map((m) => m.seconds)),
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    epochs: measured.length,
  };
}

const only = process.argv[2] as ShapeName | undefined;
if (only) {
  process.stdout.write(`${JSON.stringify(await runShape(only))}\n`);
} else {
  const backend = await initBackend();
  const load = os.loadavg()[0] ?? 0;
  const results: Record<string, unknown> = {};
  for (const name of Object.keys(shapes) as ShapeName[]) {
    const child = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), name], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      maxBuffer: 1 << 20,
    });
    if (child.status !== 0) throw new Error(`shape ${name} failed (exit ${child.status})`);
    const result = JSON.parse(child.stdout.trim().split("\n").pop() as string) as ShapeResult;
    const baseline = shapes[name].pytorchSamplesPerSecond;
    results[name] = {
      samplesPerSecond: round(result.samplesPerSecond, 1),
      samplesPerCpuSecond: round(result.samplesPerCpuSecond, 1),
      epochSeconds: round(result.epochSeconds, 2),
      peakRssMb: round(result.peakRssMb, 0),
      measuredEpochs: result.epochs,
      pytorchForecastingSamplesPerSecond: baseline,
      ratio: round(result.samplesPerSecond / baseline, 2),
    };
  }
  process.stdout.write(
    `${JSON.stringify({
      bench: "train",
      backend,
      cpus: os.cpus().length,
      loadAverageAtStart: round(load, 2),
      note: "the machine is shared with other workers; the pytorch-forecasting figures are from a separate measurement (torch 1.13, 2 threads)",
      shapes: results,
    })}\n`,
  );
}
