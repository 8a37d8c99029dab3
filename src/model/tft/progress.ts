/**
 * The training progress bar: one line redrawn in place on a terminal (epoch, batches, running loss,
 * speed), left as a summary line per epoch. Nothing is drawn when the stream is not a terminal —
 * logs get the epoch metrics through `onEpoch` instead.
 */
import type { EpochMetrics } from "./types.js";

export interface Progress {
  batch(epoch: number, done: number, total: number, loss: number, samplesPerSecond: number): void;
  epoch(metrics: EpochMetrics): void;
}

const width = 24;
const redrawEveryMs = 100;

export function createProgress(stream: NodeJS.WritableStream | undefined, maxEpochs: number): Progress {
  const tty = stream as (NodeJS.WritableStream & { isTTY?: boolean }) | undefined;
  if (!tty?.isTTY) return { batch() {}, epoch() {} };
  let last = 0;
  const line = (text: string) => tty.write(`\r\u001b[2K${text}`);
  return {
    batch(epoch, done, total, loss, samplesPerSecond) {
      const now = Date.now();
      if (done < total && now - last < redrawEveryMs) return;
      last = now;
      const filled = Math.round((done / total) * width);
      const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
      line(
        `epoch ${epoch}/${maxEpochs} ${bar} ${done}/${total} loss ${loss.toPrecision(4)} · ${Math.round(samplesPerSecond)} samples/s`,
      );
    },
    epoch(m) {
      const validation = m.validationLoss === undefined ? "" : ` · validation ${m.validationLoss.toPrecision(4)}`;
      line(
        `epoch ${m.epoch}/${maxEpochs} · train ${m.trainLoss.toPrecision(4)}${validation} · ${m.seconds.toFixed(1)} s\n`,
      );
    },
  };
}
