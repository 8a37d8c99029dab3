/**
 * What `tdf run` shows while it runs. On a terminal: the run's task table, redrawn in place as states
 * change and twice a second for the clocks. Elsewhere (CI, a pipe, a log file): one plain line per
 * change of a task's state.
 */
import { runHeadline, taskLines } from "./report.js";
import type { RunRecord, TaskRunRecord } from "./types.js";

export interface ProgressView {
  update(record: RunRecord): void;
  /** Draws the final state and stops the clock. */
  close(record: RunRecord): void;
}

export interface ProgressOptions {
  stream: NodeJS.WritableStream;
  /** Redraw in place (a terminal) or print plain lines. */
  interactive: boolean;
}

export function createProgressView(options: ProgressOptions): ProgressView {
  return options.interactive ? terminalView(options.stream) : plainView(options.stream);
}

function terminalView(stream: NodeJS.WritableStream): ProgressView {
  let drawn = 0;
  let latest: RunRecord | undefined;
  const draw = () => {
    if (!latest) return;
    // A wrapped line would throw off the count of lines to move up: cut each to the terminal's width.
    const width = (stream as NodeJS.WriteStream).columns;
    const fit = (line: string) => (width && line.length >= width ? `${line.slice(0, width - 2)}…` : line);
    const lines = [runHeadline(latest), ...taskLines(latest)].map(fit);
    // Up to the first line drawn last time, then each line cleared and rewritten.
    const up = drawn > 0 ? `\x1b[${drawn}A` : "";
    stream.write(`${up}${lines.map((line) => `\r\x1b[2K${line}`).join("\n")}\n`);
    drawn = lines.length;
  };
  const clock = setInterval(draw, 500);
  clock.unref();
  return {
    update(record) {
      latest = record;
      draw();
    },
    close(record) {
      clearInterval(clock);
      latest = record;
      draw();
    },
  };
}

function plainView(stream: NodeJS.WritableStream): ProgressView {
  const seen = new Map<string, string>();
  let started = false;
  const describe = (t: TaskRunRecord): string => {
    const attempt = t.attempts.at(-1);
    switch (t.state) {
      case "running":
        return `started (attempt ${t.attempts.length} of ${t.maxAttempts})`;
      case "up_for_retry":
        return `attempt ${t.attempts.length} ${attempt?.state === "timed_out" ? "timed out" : `failed (exit ${attempt?.exitCode ?? attempt?.signal})`}; retrying at ${t.nextAttemptAt}`;
      case "success":
        return `succeeded in ${t.durationSeconds ?? 0} s`;
      case "failed":
        return `failed after ${t.attempts.length} attempt(s)`;
      default:
        return t.state;
    }
  };
  const update = (record: RunRecord) => {
    if (!started) {
      started = true;
      stream.write(`tdf run: ${runHeadline(record)}\n`);
    }
    for (const t of record.tasks) {
      const key = `${t.state}/${t.attempts.length}`;
      if (seen.get(t.name) === key || (t.state === "pending" && !seen.has(t.name))) continue;
      seen.set(t.name, key);
      stream.write(`tdf run: ${t.name} ${describe(t)}\n`);
    }
  };
  return {
    update,
    close(record) {
      update(record);
      stream.write(`tdf run: run ${record.runId} ${record.state} in ${record.durationSeconds ?? 0} s\n`);
    },
  };
}
