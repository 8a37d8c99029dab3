import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { createCodeCache } from "../../src/bootstrap/cache.js";

async function addVersion(dir: string, sha: string, bytes: number, usedAt: Date): Promise<void> {
  await fsp.mkdir(path.join(dir, sha, ".tdf-cache"), { recursive: true });
  await fsp.writeFile(path.join(dir, sha, ".tdf-cache", "size"), String(bytes));
  await fsp.mkdir(path.join(dir, ".used"), { recursive: true });
  await fsp.writeFile(path.join(dir, ".used", sha), "");
  await fsp.utimes(path.join(dir, ".used", sha), usedAt, usedAt);
}

test("trims running at the same time remove each old version once and never fail", async (t) => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-cache-trim-"));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const shas = ["a", "b", "c", "d"].map((c) => c.repeat(40));
  for (const [i, sha] of shas.entries()) await addVersion(dir, sha, 1000, new Date(Date.UTC(2020, 0, 1 + i)));
  const cache = createCodeCache({ dir });
  const removed = (await Promise.all(Array.from({ length: 6 }, () => cache.trim(2000, new Set())))).flat();
  assert.deepEqual([...new Set(removed)].sort(), [shas[0], shas[1]]);
  assert.equal(removed.length, 2, "each version removed by exactly one trim");
  assert.deepEqual((await fsp.readdir(dir)).filter((n) => /^[0-9a-f]{40}$/.test(n)).sort(), [shas[2], shas[3]]);
});

test("a version in use is never trimmed, whatever its age", async (t) => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-cache-inuse-"));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const old = "e".repeat(40);
  const recent = "f".repeat(40);
  await addVersion(dir, old, 1000, new Date(Date.UTC(2020, 0, 1)));
  await addVersion(dir, recent, 1000, new Date());
  const cache = createCodeCache({ dir });
  const held = await cache.markInUse(old);
  assert.deepEqual(await cache.trim(1000, new Set()), [recent]);
  await held.release();
  assert.deepEqual(await cache.trim(0, new Set()), [old]);
});
