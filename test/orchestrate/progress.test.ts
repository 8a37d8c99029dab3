import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { createProgressView } from "../../src/orchestrate/progress.js";
import type { RunRecord, TaskRunRecord } from "../../src/orchestrate/types.js";

function capture(columns?: number) {
  const stream = Object.assign(new PassThrough(), { columns });
  let text = "";
  stream.on("data", (chunk) => {
    text += chunk;
  });
  return { stream, text: () => text };
}

const taskRecord = (name: string, state: TaskRunRecord["state"], attempts = 0): TaskRunRecord => ({
  name,
  upstream: [],
  state,
  maxAttempts: 3,
  timeoutSeconds: 60,
  attempts: Array.from({ length: attempts }, (_, i) => ({
    attempt: i + 1,
    state: i + 1 < attempts || state === "failed" ? "failed" : state === "success" ? "success" : "running",
    startedAt: "2026-01-05T10:00:00.000Z",
    exitCode: i + 1 < attempts || state === "failed" ? 1 : undefined,
    log: `logs/${name}.${i + 1}.log`,
  })),
  durationSeconds: state === "success" ? 2.5 : undefined,
});

const record = (tasks: TaskRunRecord[], state: RunRecord["state"] = "running"): RunRecord => ({
  formatVersion: 1,
  runId: "20260105T100000Z-abcdef",
  pipeline: "training",
  params: { client_name: "acme", code_version: "latest" },
  code: { sha: "a".repeat(40), depsHash: "b".repeat(64), imageTag: "deps-bbbbbbbbbbbb" },
  state,
  parallelism: 2,
  startedAt: "2026-01-05T10:00:00.000Z",
  runner: { pid: process.pid, host: "here" },
  tasks,
  durationSeconds: state === "running" ? undefined : 12,
});

test("off a terminal, one plain line per change of a task's state", () => {
  const out = capture();
  const view = createProgressView({ stream: out.stream, interactive: false });
  view.update(record([taskRecord("resolve_code", "running", 1), taskRecord("promote", "pending")]));
  view.update(record([taskRecord("resolve_code", "running", 1), taskRecord("promote", "pending")]));
  view.update(record([taskRecord("resolve_code", "success", 1), taskRecord("promote", "running", 1)]));
  view.close(record([taskRecord("resolve_code", "success", 1), taskRecord("promote", "failed", 3)], "failed"));
  assert.deepEqual(out.text().trimEnd().split("\n"), [
    "tdf run: run 20260105T100000Z-abcdef · training · client acme · code aaaaaaaaaaaa (latest)",
    "tdf run: resolve_code started (attempt 1 of 3)",
    "tdf run: resolve_code succeeded in 2.5 s",
    "tdf run: promote started (attempt 1 of 3)",
    "tdf run: promote failed after 3 attempt(s)",
    "tdf run: run 20260105T100000Z-abcdef failed in 12 s",
  ]);
});

test("on a terminal, the table is redrawn in place, each line cut to the terminal's width", () => {
  const out = capture(40);
  const view = createProgressView({ stream: out.stream, interactive: true });
  view.update(record([taskRecord("resolve_code", "running", 1), taskRecord("train_top_seller", "pending")]));
  view.close(record([taskRecord("resolve_code", "success", 1), taskRecord("train_top_seller", "up_for_retry", 1)]));
  const [first, second] = out.text().split("\x1b[3A");
  assert.ok(second !== undefined, "the second drawing moves up over the three lines of the first");
  assert.match(first ?? "", /● resolve_code/);
  assert.match(second, /✓ resolve_code/);
  assert.match(second, /↻ train_top_seller/);
  for (const line of out.text().split("\n")) {
    const visible = line.replace(new RegExp(`${"\u001b"}\\[\\d*[A-Z]|\r`, "g"), "");
    assert.ok(visible.length < 40, `"${visible}" fits`);
  }
});
