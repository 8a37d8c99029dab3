/**
 * The unpacker against a corpus of hostile archives (./hostile-archives.ts). Each one is unpacked into
 * `<tmp>/stage/` next to `<tmp>/outside/`; it must be refused with ARCHIVE_UNSAFE, in one sentence that
 * names the entry at fault, and nothing may appear or change outside the stage, nor at the absolute
 * paths the archive aims at. The stage itself may hold partial output (the caller throws it away) but
 * never a link, a device or a FIFO, nor more bytes than the limit.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import type { Stats } from "node:fs";
import { createReadStream, readdirSync } from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { BootstrapError } from "../../src/bootstrap/errors.js";
import { type TarEntry, TarReader } from "../../src/bootstrap/tar-reader.js";
import { unpackArchive } from "../../src/bootstrap/unpack.js";
import {
  benignArchive,
  benignFiles,
  blocks,
  corpusToken,
  type HostileArchive,
  hostileArchives,
  paddingBomb,
  rawHeader,
  victimContent,
} from "./hostile-archives.js";

const MiB = 1024 * 1024;

/**
 * Collects uncaught exceptions and unhandled rejections until `restore()`, so that one raised by the
 * unpacker fails the test that caused it (in production it would kill the process). The runner's own
 * listeners are set aside meanwhile and put back afterwards.
 */
function captureUncaught(): { errors: unknown[]; restore(): void } {
  const errors: unknown[] = [];
  const onError = (error: unknown) => errors.push(error);
  const savedExceptions = process.listeners("uncaughtException");
  const savedRejections = process.listeners("unhandledRejection");
  process.removeAllListeners("uncaughtException");
  process.removeAllListeners("unhandledRejection");
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  return {
    errors,
    restore() {
      process.removeListener("uncaughtException", onError);
      process.removeListener("unhandledRejection", onError);
      for (const listener of savedExceptions) process.on("uncaughtException", listener);
      for (const listener of savedRejections) process.on("unhandledRejection", listener);
    },
  };
}

const uncaughtSummary = (errors: unknown[]) => errors.map((e) => String((e as Error)?.message ?? e).slice(0, 200));

interface Layout {
  tmp: string;
  stage: string;
  outside: string;
}

async function makeLayout(): Promise<Layout> {
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-unpack-"));
  const stage = path.join(tmp, "stage");
  const outside = path.join(tmp, "outside");
  await fsp.mkdir(stage);
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(outside, "victim.txt"), victimContent);
  return { tmp, stage, outside };
}

function describeStats(stats: Stats): string {
  const kind = stats.isFile()
    ? "file"
    : stats.isDirectory()
      ? "dir"
      : stats.isSymbolicLink()
        ? "symlink"
        : stats.isFIFO()
          ? "fifo"
          : stats.isCharacterDevice()
            ? "chardev"
            : stats.isBlockDevice()
              ? "blockdev"
              : "other";
  return `${kind} mode=${(stats.mode & 0o7777).toString(8)} size=${stats.isFile() ? stats.size : "-"} nlink=${stats.nlink} mtime=${stats.mtimeMs}`;
}

/** Everything under `root` (relative path → type, mode, size, content hash, link target), skipping `skip`. */
async function snapshot(root: string, skip?: string): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await fsp.readdir(dir)).sort()) {
      const full = path.join(dir, name);
      const stats = await fsp.lstat(full);
      // The stage's own mtime and link count follow its content, which is not under test here.
      let line = full === skip ? "dir (stage)" : describeStats(stats);
      if (stats.isSymbolicLink()) line += ` -> ${await fsp.readlink(full)}`;
      if (stats.isFile()) {
        line += ` sha256=${createHash("sha256")
          .update(await fsp.readFile(full))
          .digest("hex")}`;
      }
      result.set(path.relative(root, full), line);
      if (stats.isDirectory() && full !== skip) await walk(full);
    }
  };
  await walk(root);
  return result;
}

/** Every entry under `dir`, with its lstat. */
async function walkAll(dir: string): Promise<Array<{ rel: string; stats: Stats }>> {
  const out: Array<{ rel: string; stats: Stats }> = [];
  const walk = async (d: string): Promise<void> => {
    for (const name of await fsp.readdir(d)) {
      const full = path.join(d, name);
      const stats = await fsp.lstat(full);
      out.push({ rel: path.relative(dir, full), stats });
      if (stats.isDirectory()) await walk(full);
    }
  };
  await walk(dir);
  return out;
}

async function exists(file: string): Promise<boolean> {
  return fsp.lstat(file).then(
    () => true,
    () => false,
  );
}

/** The refusal must be one readable sentence that names the entry (escaped, so NULs and newlines show). */
function assertClearRefusal(message: string, entry: string | undefined): void {
  const shown = message.length > 400 ? `${message.slice(0, 400)}… (${message.length} characters)` : message;
  let rest = message;
  if (entry !== undefined) {
    // Long names are cut to 200 characters in messages (a 1 MB name must not flood a log).
    const full = JSON.stringify(entry).slice(1, -1);
    const escaped = full.length > 200 ? `"${full.slice(0, 200)}…"` : `"${full}"`;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for raw control characters is the point
    const plainOk = !/[\u0000-\u001f]/.test(entry) && message.includes(`"${entry}"`);
    assert.ok(message.includes(escaped) || plainOk, `the message should name the entry ${escaped}: ${shown}`);
    rest = message.includes(escaped) ? message.replace(escaped, '""') : message.replace(`"${entry}"`, '""');
  }
  const check = (ok: boolean, what: string) => assert.ok(ok, `the message should ${what}: ${shown}`);
  check(rest.length <= 300, "be short");
  check(!rest.includes("\n"), "be one line");
  check(/^[A-Z]/.test(rest) && rest.endsWith("."), "be a sentence");
  check(!/[.!?]\s+[A-Z]/.test(rest), "be one sentence");
  check(!/\b(null|undefined|NaN)\b|\[object /.test(rest), "not leak a JS value");
  check(!/Maximum call stack|is not a function|Cannot read prop/.test(rest), "not leak a crash");
}

const etcPasswdBefore = await fsp.stat("/etc/passwd").then(describeStats, () => "absent");

async function runHostile(archive: HostileArchive): Promise<void> {
  const bytes = await archive.build();
  const layout = await makeLayout();
  const aims = (archive.aims ?? []).map((aim) => path.resolve(layout.stage, aim));
  try {
    for (const aim of aims) assert.equal(await exists(aim), false, `${aim} exists before the test`);
    const before = await snapshot(layout.tmp, layout.stage);

    const rssBefore = process.memoryUsage().rss;
    const uncaught = captureUncaught();
    let outcome: { result: unknown } | { error: unknown };
    let rssGrowth: number;
    try {
      outcome = await unpackArchive(Readable.from(bytes), layout.stage, archive.limits).then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      );
      rssGrowth = process.memoryUsage().rss - rssBefore;
      // A write still in flight, or an error emitted late, shows up now.
      await sleep(30);
    } finally {
      uncaught.restore();
    }

    // Refused, with the right error and a clear message.
    assert.ok(
      "error" in outcome,
      `unpacked without complaint: ${JSON.stringify("result" in outcome && outcome.result)}`,
    );
    const { error } = outcome;
    assert.ok(error instanceof BootstrapError, `not a BootstrapError: ${String(error)}`);
    assert.equal(error.code, "ARCHIVE_UNSAFE", error.message);
    assertClearRefusal(error.message, archive.offending);

    // Nothing created, changed or removed outside the stage; nothing at the targets.
    assert.deepEqual([...(await snapshot(layout.tmp, layout.stage))], [...before], "something changed outside stage");
    for (const aim of aims) assert.equal(await exists(aim), false, `${aim} was created`);
    assert.equal(await fsp.stat("/etc/passwd").then(describeStats, () => "absent"), etcPasswdBefore);

    // Whatever partial output the stage holds: only plain files and folders, no special bits, within limits.
    let staged = 0;
    for (const { rel, stats } of await walkAll(layout.stage)) {
      assert.ok(stats.isFile() || stats.isDirectory(), `stage/${rel} is ${describeStats(stats)}`);
      assert.equal(stats.mode & 0o7000, 0, `stage/${rel} has setuid/setgid/sticky bits`);
      if (stats.isFile()) {
        assert.equal(stats.nlink, 1, `stage/${rel} is hard-linked`);
        staged += stats.size;
      }
    }
    if (archive.limits?.maxBytes !== undefined) assert.ok(staged <= archive.limits.maxBytes, `${staged} bytes staged`);
    if (archive.bomb) assert.ok(rssGrowth < 100 * MiB, `RSS grew by ${Math.round(rssGrowth / MiB)} MiB`);

    // Last, so that the checks above still run for archives that trip it.
    assert.deepEqual(uncaughtSummary(uncaught.errors), [], "the unpacker raised an uncaught error");
  } finally {
    await fsp.rm(layout.tmp, { recursive: true, force: true });
    // Clean up after a broken unpacker, but only what carries this run's token.
    for (const aim of aims) if (aim.includes(corpusToken)) await fsp.rm(aim, { recursive: true, force: true });
  }
}

describe("unpackArchive refuses hostile archives", () => {
  after(async () => {
    for (const name of await fsp.readdir(os.tmpdir())) {
      if (name.includes(corpusToken)) await fsp.rm(path.join(os.tmpdir(), name), { recursive: true, force: true });
    }
  });

  for (const archive of hostileArchives) {
    test(`${archive.name}: ${archive.why}`, () => runHostile(archive));
  }

  test("every link is refused, even one that points inside the folder (by design)", async () => {
    const archive = hostileArchives.find((a) => a.name === "symlink-inside");
    assert.ok(archive);
    const { stage, tmp } = await makeLayout();
    try {
      await assert.rejects(unpackArchive(Readable.from(await archive.build()), stage), (error: unknown) => {
        assert.ok(error instanceof BootstrapError);
        assert.equal(error.code, "ARCHIVE_UNSAFE");
        assert.match(error.message, /"alias" is a symlink to "real"/);
        return true;
      });
      assert.equal(await exists(path.join(stage, "alias")), false);
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  });
});

describe("unpackArchive fails cleanly", () => {
  const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

  test("a refusal does not crash the process", async () => {
    // In its own process, without the test runner's safety net: as the bootstrap would run it.
    const { tmp, stage } = await makeLayout();
    try {
      const script = path.join(tmp, "refuse.mts");
      const url = (file: string) => JSON.stringify(new URL(file, import.meta.url).href);
      await fsp.writeFile(
        script,
        [
          `import { Readable } from "node:stream";`,
          `import { unpackArchive } from ${url("../../src/bootstrap/unpack.ts")};`,
          `import { hostileArchives } from ${url("./hostile-archives.ts")};`,
          `const archive = hostileArchives.find((a) => a.name === "many-files-over-bytes");`,
          `try {`,
          `  await unpackArchive(Readable.from(await archive.build()), process.argv[2], archive.limits);`,
          `  console.log("unpacked");`,
          `} catch (error) {`,
          `  console.log("refused", error.code);`,
          `}`,
          `await new Promise((resolve) => setTimeout(resolve, 100));`,
          `console.log("alive");`,
        ].join("\n"),
      );
      const child = spawnSync(process.execPath, ["--import", "tsx", script, stage], {
        cwd: repoRoot,
        encoding: "utf8",
        timeout: 30_000,
      });
      const stderr = child.stderr
        .split("\n")
        .filter((line) => line.trim() !== "" && !line.startsWith("    at "))
        .join("\n");
      assert.equal(child.stdout, "refused ARCHIVE_UNSAFE\nalive\n", `the child died: ${stderr}`);
      assert.equal(child.status, 0, child.stderr);
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  });

  test("a failed download is final: nothing is written after the promise settles", async () => {
    // The object-store stream fails after part of a file, at various points; the caller deletes the
    // stage as soon as the promise settles, so nothing may still be on its way to it.
    const data = randomBytes(100_000);
    const tar = Buffer.concat([
      rawHeader({ name: "late.bin", prefix: "a/".repeat(40).slice(0, -1), size: data.length }),
      blocks(data),
      Buffer.alloc(1024),
    ]);
    const gz = gzipSync(tar);
    const problems: string[] = [];
    for (let spins = 0; spins < 16; spins++) {
      const { tmp, stage } = await makeLayout();
      const uncaught = captureUncaught();
      try {
        async function* download() {
          yield gz.subarray(0, 30_000);
          for (let i = 0; i < spins; i++) await new Promise((resolve) => setImmediate(resolve));
          throw new Error("socket hang up");
        }
        const error = await unpackArchive(Readable.from(download()), stage).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (!(error instanceof Error)) problems.push(`spins ${spins}: the unpack succeeded`);
        const atSettle = (await walkAll(stage)).length;
        await sleep(30);
        const later = (await walkAll(stage)).length;
        if (later !== atSettle)
          problems.push(`spins ${spins}: ${later - atSettle} entries appeared after the promise settled`);
      } finally {
        uncaught.restore();
        await fsp.rm(tmp, { recursive: true, force: true });
      }
      for (const message of uncaughtSummary(uncaught.errors)) problems.push(`spins ${spins}: uncaught ${message}`);
    }
    assert.deepEqual(problems, []);
  });
});

describe("unpackArchive unpacks a normal code archive", () => {
  test("files, folders, contents, the executable bit and the counts", async () => {
    const { stage, tmp } = await makeLayout();
    try {
      const result = await unpackArchive(Readable.from(await benignArchive()), stage);
      const bytes = benignFiles.reduce((sum, f) => sum + Buffer.byteLength(f.content), 0);
      assert.deepEqual(result, { files: benignFiles.length, bytes });

      const found = (await walkAll(stage)).filter((e) => !e.stats.isDirectory()).map((e) => e.rel);
      assert.deepEqual(found.sort(), benignFiles.map((f) => f.path).sort());
      for (const f of benignFiles) {
        const full = path.join(stage, f.path);
        assert.equal(await fsp.readFile(full, "utf8"), f.content, f.path);
        const mode = (await fsp.stat(full)).mode;
        assert.equal((mode & 0o100) !== 0, f.executable, `${f.path} has mode ${(mode & 0o777).toString(8)}`);
        assert.equal(mode & 0o7000, 0, `${f.path} has special bits`);
      }
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  });

  test("limits that the archive fits exactly are not refused", async () => {
    const { stage, tmp } = await makeLayout();
    try {
      const bytes = benignFiles.reduce((sum, f) => sum + Buffer.byteLength(f.content), 0);
      const limits = { maxEntries: benignFiles.length, maxBytes: bytes };
      const result = await unpackArchive(Readable.from(await benignArchive()), stage, limits);
      assert.deepEqual(result, { files: benignFiles.length, bytes });
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  });

  test("names at the length limits: plain names and others, a 255-byte segment passes and a 256-byte one does not", async () => {
    // Plain ASCII names take a shortcut past the rule-by-rule checks; both ways must agree on the limits.
    for (const [name, ok] of [
      [`a/${"s".repeat(255)}`, true],
      [`a/${"s".repeat(256)}`, false],
      [`.dot/${"s".repeat(255)}`, true],
      [`.dot/${"s".repeat(256)}`, false],
      [`a/${"é".repeat(127)}x`, true], // 255 bytes in UTF-8
      [`a/${"é".repeat(128)}`, false], // 256 bytes
      ["./dist/x.js", true],
      ["dist//x.js", true],
    ] as const) {
      const { stage, tmp } = await makeLayout();
      try {
        const archive = gzipSync(
          Buffer.concat([
            ...[rawHeader({ name: "L", typeflag: "L", size: Buffer.byteLength(name) + 1 }), blocks(`${name}\0`)],
            ...[rawHeader({ name: "placeholder", size: 2 }), blocks("x\n")],
            Buffer.alloc(1024),
          ]),
        );
        const outcome = await unpackArchive(Readable.from([archive]), stage).then(
          () => "unpacked",
          (error: unknown) => (error as Error).message,
        );
        if (ok) {
          assert.equal(outcome, "unpacked", name);
          const segments = name.split("/").filter((s) => s !== "" && s !== ".");
          assert.equal(await fsp.readFile(path.join(stage, ...segments), "utf8"), "x\n", name);
        } else {
          assert.match(outcome, /has a path segment longer than 255 bytes/, name);
        }
      } finally {
        await fsp.rm(tmp, { recursive: true, force: true });
      }
    }
  });
});

test("zero padding after the end of the archive is never inflated: unpacking stops at the end marker", async () => {
  const bytes = await paddingBomb();
  const layout = await makeLayout();
  try {
    const chunkSize = 4096;
    const total = Math.ceil(bytes.length / chunkSize);
    let pulled = 0;
    const source = Readable.from(
      (function* () {
        for (let at = 0; at < bytes.length; at += chunkSize) {
          pulled += 1;
          yield bytes.subarray(at, at + chunkSize);
        }
      })(),
    );
    const result = await unpackArchive(source, layout.stage, { maxBytes: 10 * MiB });
    assert.deepEqual(result, { files: 1, bytes: 2 });
    assert.ok(pulled < total / 2, `read ${pulled} of ${total} compressed chunks: the padding was inflated`);
  } finally {
    await fsp.rm(layout.tmp, { recursive: true, force: true });
  }
});

test("archives from GNU tar in every format unpack with the right names", async (t) => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-gnu-tar-"));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const long = `${"é".repeat(60)}.txt`; // 124 bytes: only formats with long names can hold it
  for (const format of ["gnu", "oldgnu", "posix", "ustar", "v7"]) {
    const src = path.join(dir, `src-${format}`);
    await fsp.mkdir(path.join(src, "dist", "cli"), { recursive: true });
    await fsp.writeFile(path.join(src, "dist", "cli", "bin.js"), "console.log(1);\n");
    const withLong = format === "gnu" || format === "oldgnu" || format === "posix";
    if (withLong) await fsp.writeFile(path.join(src, long), "long utf-8 name\n");
    const archive = path.join(dir, `${format}.tgz`);
    execFileSync("tar", [`--format=${format}`, "-czf", archive, "-C", src, "."]);
    const stage = path.join(dir, `stage-${format}`);
    await fsp.mkdir(stage);
    await unpackArchive(createReadStream(archive), stage);
    assert.equal(await fsp.readFile(path.join(stage, "dist", "cli", "bin.js"), "utf8"), "console.log(1);\n", format);
    if (withLong) assert.equal(await fsp.readFile(path.join(stage, long), "utf8"), "long utf-8 name\n", format);
  }
});

describe("the reader carries partial headers and data across chunks", () => {
  /**
   * A small archive made by GNU tar in `format`, with what a reader must carry across a cut: pax
   * headers or GNU long names (a name over 100 bytes), folders, and files of 0, 1, 511, 512, 513 and
   * 1,500 bytes (which end before, at and after a block boundary).
   */
  async function gnuTar(format: "posix" | "gnu", dir: string): Promise<Buffer> {
    const src = path.join(dir, `src-${format}`);
    const long = path.join("dist", `${"long-name-".repeat(12)}é.js`);
    await fsp.mkdir(path.join(src, "dist", "lib"), { recursive: true });
    await fsp.writeFile(path.join(src, long), "long\n");
    for (const size of [0, 1, 511, 512, 513, 1500]) {
      await fsp.writeFile(path.join(src, "dist", "lib", `f${size}.js`), randomBytes(size));
    }
    await fsp.writeFile(path.join(src, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
    const archive = path.join(dir, `${format}.tgz`);
    execFileSync("tar", [`--format=${format}`, "-czf", archive, "-C", src, "."]);
    return fsp.readFile(archive);
  }

  /** Every entry the reader reports, with a hash of its data, for the tar cut into the given pieces. */
  function readPieces(tar: Buffer, cuts: number[]): Array<{ entry: TarEntry; sha256: string }> {
    const seen: Array<{ entry: TarEntry; sha256: string }> = [];
    const reader = new TarReader((entry) => {
      const hash = createHash("sha256");
      return {
        write: (data) => void hash.update(data),
        end: () => void seen.push({ entry, sha256: hash.digest("hex") }),
      };
    });
    let ended = false;
    let at = 0;
    // Pushing stops at the end-of-archive marker, as the unpacker does; GNU tar pads beyond it.
    for (const cut of [...cuts, tar.length]) {
      if (cut <= at) continue;
      ended = reader.push(tar.subarray(at, cut));
      at = cut;
      if (ended) break;
    }
    assert.equal(ended, true, "the reader did not reach the end-of-archive marker");
    return seen;
  }

  const everyN = (length: number, n: number) => Array.from({ length: Math.ceil(length / n) }, (_, i) => i * n);

  test("a tar cut in two at every byte offset reads as one piece does", async (t) => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-tar-cuts-"));
    t.after(() => fsp.rm(dir, { recursive: true, force: true }));
    for (const format of ["posix", "gnu"] as const) {
      const tar = gunzipSync(await gnuTar(format, dir));
      const whole = readPieces(tar, []);
      assert.ok(whole.length >= 10, `${format}: only ${whole.length} entries`);
      assert.ok(
        whole.some((e) => e.entry.name.length > 100),
        `${format}: the long name did not come through: ${whole.map((e) => e.entry.name)}`,
      );
      // Up to the end of the end-of-archive marker; GNU tar's zero padding after it is never read.
      const used = Math.ceil((tar.findLastIndex((byte) => byte !== 0) + 1) / 512) * 512 + 1024;
      assert.ok(used <= tar.length, `${format}: no end-of-archive marker`);
      for (let cut = 1; cut < used; cut++) {
        assert.deepEqual(readPieces(tar, [cut]), whole, `${format}: cut at byte ${cut}`);
      }
      for (const size of [1, 7, 511, 512, 513]) {
        assert.deepEqual(readPieces(tar, everyN(tar.length, size)), whole, `${format}: pieces of ${size} bytes`);
      }
    }
  });

  test("unpacking an archive that inflates in pieces of 1, 7, 511, 512 and 513 bytes gives the same tree", async (t) => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-unpack-pieces-"));
    t.after(() => fsp.rm(dir, { recursive: true, force: true }));
    /** Path → kind, mode and content hash of everything under `root`. */
    const tree = async (root: string) => {
      const entries = await walkAll(root);
      const lines = await Promise.all(
        entries.map(async ({ rel, stats }) => {
          if (stats.isDirectory()) return `${rel} dir`;
          const sha = createHash("sha256")
            .update(await fsp.readFile(path.join(root, rel)))
            .digest("hex");
          return `${rel} ${describeStats(stats).split(" ")[0]} mode=${(stats.mode & 0o777).toString(8)} ${sha}`;
        }),
      );
      return lines.sort();
    };
    for (const format of ["posix", "gnu"] as const) {
      // Stored (level 0) gzip inflates each piece of input into as many bytes of tar, so the reader is
      // pushed pieces of at most the size fed in, cut at every offset the size allows.
      const tar = gunzipSync(await gnuTar(format, dir));
      const stored = gzipSync(tar, { level: 0 });
      const wholeStage = path.join(dir, `${format}-whole`);
      await fsp.mkdir(wholeStage);
      const wholeResult = await unpackArchive(Readable.from([stored]), wholeStage);
      const expected = await tree(wholeStage);
      assert.ok(expected.length >= 10, `${format}: ${expected.join(", ")}`);
      for (const size of [1, 7, 511, 512, 513]) {
        const stage = path.join(dir, `${format}-${size}`);
        await fsp.mkdir(stage);
        const pieces = everyN(stored.length, size).map((at) => stored.subarray(at, at + size));
        const result = await unpackArchive(Readable.from(pieces), stage);
        assert.deepEqual(result, wholeResult, `${format}: pieces of ${size} bytes`);
        assert.deepEqual(await tree(stage), expected, `${format}: pieces of ${size} bytes`);
      }
    }
  });
});

describe("files over the small-file size are written as they arrive", () => {
  const openDescriptors = () => readdirSync("/proc/self/fd").length;

  test("a big file between small ones is unpacked byte for byte", async () => {
    const { tmp, stage } = await makeLayout();
    try {
      const big = randomBytes(3 * MiB + 77);
      const tar = Buffer.concat([
        ...[rawHeader({ name: "a.txt", size: 2 }), blocks("a\n")],
        ...[rawHeader({ name: "data/big.bin", size: big.length }), blocks(big)],
        ...[rawHeader({ name: "z.txt", size: 2 }), blocks("z\n")],
        Buffer.alloc(1024),
      ]);
      const descriptors = openDescriptors();
      const result = await unpackArchive(Readable.from([gzipSync(tar)]), stage);
      assert.deepEqual(result, { files: 3, bytes: big.length + 4 });
      assert.ok(big.equals(await fsp.readFile(path.join(stage, "data", "big.bin"))), "big.bin differs");
      assert.equal(await fsp.readFile(path.join(stage, "z.txt"), "utf8"), "z\n");
      assert.equal(openDescriptors(), descriptors, "a file descriptor was left open");
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  });

  test("a big file cut short is refused, written only in part, and closed", async () => {
    const { tmp, stage } = await makeLayout();
    try {
      const part = randomBytes(2 * MiB);
      const tar = Buffer.concat([rawHeader({ name: "cut.bin", size: 4 * MiB }), part]);
      const descriptors = openDescriptors();
      await assert.rejects(unpackArchive(Readable.from([gzipSync(tar)]), stage), (error: unknown) => {
        assert.ok(error instanceof BootstrapError);
        assert.equal(error.code, "ARCHIVE_UNSAFE");
        assert.match(error.message, /cut short: .* \(at entry "cut\.bin"\)/);
        return true;
      });
      assert.equal(openDescriptors(), descriptors, "the big file's descriptor was left open");
      // Written as it arrived: what came before the cut is on disk (the caller throws the stage away).
      const written = await fsp.readFile(path.join(stage, "cut.bin"));
      assert.ok(written.length > 0 && part.subarray(0, written.length).equals(written), `${written.length} bytes`);
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  });
});
