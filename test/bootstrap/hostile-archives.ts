/**
 * A corpus of hostile `.tar.gz` code archives for the bootstrap's unpacker, plus one benign archive
 * made by the real packer. Most are built with tar-stream's `pack()`; what tar-stream will not write
 * (empty names, GNU long names, bad checksums, lying sizes, unknown types) is hand-written as raw
 * 512-byte ustar headers.
 *
 * Layout the archives assume: the test unpacks into `<tmp>/stage/`, next to `<tmp>/outside/`, which
 * holds `victim.txt` (content {@link victimContent}). Relative escapes aim at `<tmp>`, `<tmp>/outside`,
 * or, with two `..`, at `os.tmpdir()`. Absolute attacks aim at names under `os.tmpdir()` that carry
 * {@link corpusToken}, so a test can check afterwards that they do not exist. Nothing in the corpus
 * aims at an existing system file with a write (the tests run as root in CI containers).
 */
import { randomBytes } from "node:crypto";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { constants, createGzip, gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { writeDeterministicTarGz } from "../../src/codepkg/tarball.js";

export interface HostileArchive {
  /** Short, unique, file-name-safe. */
  name: string;
  /** The attack, in one sentence. */
  why: string;
  /** The gzip'd tar bytes. */
  build(): Promise<Buffer>;
  /** The entry name the refusal must quote, when a single entry is at fault. */
  offending?: string;
  /** Paths the archive tries to write, absolute or relative to the unpack folder; none may exist afterwards. */
  aims?: string[];
  /** Limits to unpack with; otherwise the unpacker's defaults. */
  limits?: { maxEntries?: number; maxBytes?: number };
  /** True for archives whose whole point is size: the test also watches the process's memory. */
  bomb?: boolean;
}

/** Unique per run: absolute targets carry it so that their absence afterwards proves something. */
export const corpusToken = randomBytes(6).toString("hex");
/** Content of `<tmp>/outside/victim.txt`, which the hard-link attack tries to overwrite. */
export const victimContent = "the victim file, which must never change\n";

const MiB = 1024 * 1024;
const absRoot = path.join(os.tmpdir(), `tdf-hostile-${corpusToken}`);
const mtime = new Date("2000-01-01T00:00:00Z");

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

type PackEntry = Parameters<ReturnType<typeof pack>["entry"]>[0];

/** A tar.gz from tar-stream entries (content defaults to empty). */
async function packed(entries: Array<{ header: PackEntry; content?: string | Buffer }>): Promise<Buffer> {
  const tar = pack();
  const done = collect(tar.pipe(createGzip()));
  for (const { header, content } of entries) {
    await new Promise<void>((resolve, reject) => {
      const callback = (error?: Error | null) => (error ? reject(error) : resolve());
      const full: PackEntry = { mode: 0o644, mtime, uid: 0, gid: 0, ...header };
      tar.entry(full, content ?? Buffer.alloc(0), callback);
    });
  }
  tar.finalize();
  return done;
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const file = (name: string, content: string | Buffer = "x\n", extra: Partial<PackEntry> = {}) => ({
  header: { name, type: "file" as const, ...extra },
  content,
});

export interface RawHeader {
  /** Raw bytes allowed, so a NUL or a non-UTF-8 byte can be written as is. */
  name: string | Buffer;
  /** Typeflag character: "0" file, "1" hard link, "2" symlink, "5" folder, "L" GNU long name, "x" pax… */
  typeflag?: string;
  size?: number;
  /** Overrides the size field with raw bytes (12 of them), to write sizes that are not octal numbers. */
  sizeField?: Buffer;
  mode?: number;
  linkname?: string;
  /** The ustar prefix field (prepended to the name with a "/" by readers). */
  prefix?: string;
  /** "ustar" is POSIX `ustar\0` + `00`, "gnu" is `ustar  \0`. */
  magic?: "ustar" | "gnu";
  /** Added to the computed checksum, to corrupt it. */
  checksumSkew?: number;
}

function putString(buf: Buffer, value: string | Buffer, offset: number, length: number): void {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  if (bytes.length > length) throw new Error(`field of ${bytes.length} bytes does not fit in ${length}`);
  bytes.copy(buf, offset);
}

function putOctal(buf: Buffer, value: number, offset: number, length: number): void {
  putString(buf, `${value.toString(8).padStart(length - 1, "0")}\0`, offset, length);
}

/** One 512-byte header block with a correct (or deliberately skewed) checksum. */
export function rawHeader(h: RawHeader): Buffer {
  const buf = Buffer.alloc(512);
  putString(buf, h.name, 0, 100);
  putOctal(buf, h.mode ?? 0o644, 100, 8);
  putOctal(buf, 0, 108, 8);
  putOctal(buf, 0, 116, 8);
  if (h.sizeField) h.sizeField.copy(buf, 124, 0, 12);
  else putOctal(buf, h.size ?? 0, 124, 12);
  putOctal(buf, mtime.getTime() / 1000, 136, 12);
  buf.fill(0x20, 148, 156); // the checksum field counts as spaces while summing
  buf.write(h.typeflag ?? "0", 156, "latin1");
  if (h.linkname) putString(buf, h.linkname, 157, 100);
  if ((h.magic ?? "ustar") === "ustar") putString(buf, "ustar\u000000", 257, 8);
  else putString(buf, "ustar  \0", 257, 8);
  putOctal(buf, 0, 329, 8);
  putOctal(buf, 0, 337, 8);
  if (h.prefix) putString(buf, h.prefix, 345, 155);
  let sum = 0;
  for (const byte of buf) sum += byte;
  sum += h.checksumSkew ?? 0;
  putString(buf, `${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
  return buf;
}

/** Data padded to a whole number of 512-byte blocks. */
export function blocks(data: string | Buffer): Buffer {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const padded = Buffer.alloc(Math.ceil(bytes.length / 512) * 512);
  bytes.copy(padded);
  return padded;
}

/** A pax record: `<length> <key>=<value>\n`, where length counts itself. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length)
    length = String(length).length + Buffer.byteLength(body);
  return `${length}${body}`;
}

const endOfArchive = Buffer.alloc(1024);

/** A gzip'd tar from raw parts (headers and padded data), with or without the end-of-archive blocks. */
function rawTarGz(parts: Buffer[], { end = true } = {}): Buffer {
  return gzipSync(Buffer.concat(end ? [...parts, endOfArchive] : parts));
}

/** A raw regular-file entry: header plus padded content. */
function rawFile(name: string | Buffer, content = "x\n", extra: Partial<RawHeader> = {}): Buffer[] {
  const data = Buffer.from(content, "utf8");
  return [rawHeader({ name, size: data.length, ...extra }), blocks(data)];
}

/** Gzips a stream of `total` zero bytes (reusing one 1 MiB buffer) behind `before`, followed by `after`. */
async function gzipZeros(before: Buffer, total: number, after: Buffer): Promise<Buffer> {
  const zeros = Buffer.alloc(MiB);
  async function* source() {
    yield before;
    for (let left = total; left > 0; left -= MiB) yield left >= MiB ? zeros : zeros.subarray(0, left);
    yield after;
  }
  const chunks: Buffer[] = [];
  await pipeline(Readable.from(source()), createGzip({ level: constants.Z_BEST_COMPRESSION }), async (gz) => {
    for await (const chunk of gz) chunks.push(chunk as Buffer);
  });
  return Buffer.concat(chunks);
}

/** A tar.gz whose single file is `size` zero bytes, streamed through tar-stream's pack() and gzip. */
async function zeroFileArchive(name: string, size: number): Promise<Buffer> {
  const tar = pack();
  const done = collect(tar.pipe(createGzip({ level: constants.Z_BEST_COMPRESSION })));
  const zeros = Buffer.alloc(MiB);
  await new Promise<void>((resolve, reject) => {
    const sink = tar.entry({ name, size, mode: 0o644, mtime, type: "file" }, (error) =>
      error ? reject(error) : resolve(),
    );
    let left = size;
    const write = () => {
      while (left > 0) {
        const chunk = left >= MiB ? zeros : zeros.subarray(0, left);
        left -= chunk.length;
        if (left === 0) {
          sink.end(chunk);
          return;
        }
        if (!sink.write(chunk)) {
          sink.once("drain", write);
          return;
        }
      }
    };
    write();
  });
  tar.finalize();
  return done;
}

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

const absTarget = path.join(absRoot, "absolute.txt");
const prefixTarget = path.join(absRoot, "prefix");
const gnuTarget = `../../tdf-hostile-${corpusToken}-gnu-long-name`;
const etcTarget = `tdf-hostile-${corpusToken}`;
const nulTarget = `../../tdf-hostile-${corpusToken}-nul.txt`;
const longSegment = "a".repeat(300);

export const hostileArchives: HostileArchive[] = [
  // --- Paths -------------------------------------------------------------------------------------
  {
    name: "absolute-path",
    why: "An absolute entry name writes wherever the archive says, outside the unpack folder.",
    build: () => packed([file(absTarget, "pwned\n")]),
    offending: absTarget,
    aims: [absRoot],
  },
  {
    name: "absolute-via-ustar-prefix",
    why: "An absolute path split across the ustar prefix and name fields, so the name field alone looks relative.",
    build: async () => rawTarGz(rawFile("x.txt", "pwned\n", { prefix: prefixTarget })),
    offending: `${prefixTarget}/x.txt`,
    aims: [absRoot],
  },
  {
    name: "dotdot-escape",
    why: "A `../` entry name writes next to the unpack folder.",
    build: () => packed([file("../outside/escaped.txt", "pwned\n")]),
    offending: "../outside/escaped.txt",
    aims: ["../outside/escaped.txt"],
  },
  {
    name: "dotdot-escape-big",
    why: "The same with 64 KiB of content, more than the tar reader buffers: the refusal must not crash the process.",
    build: () => packed([file("../outside/escaped.bin", Buffer.alloc(64 * 1024, 0x41))]),
    offending: "../outside/escaped.bin",
    aims: ["../outside/escaped.bin"],
  },
  {
    name: "nested-dotdot-escape",
    why: "A `..` hidden after a real folder (`a/../../x`) escapes once the path is normalised.",
    build: () => packed([file("a/../../nested-escape.txt", "pwned\n")]),
    offending: "a/../../nested-escape.txt",
    aims: ["../nested-escape.txt"],
  },
  {
    name: "dotdot-folder",
    why: "A folder entry named `..` would make the parent of the unpack folder part of the tree.",
    build: () => packed([{ header: { name: "..", type: "directory", mode: 0o755 } }]),
    offending: "..",
  },
  {
    name: "windows-drive-path",
    why: "A Windows drive path (`C:\\x`) is absolute on Windows and a trap for any path code that normalises it.",
    build: () => packed([file("C:\\tdf-hostile.txt", "pwned\n")]),
    offending: "C:\\tdf-hostile.txt",
    aims: ["C:\\tdf-hostile.txt"],
  },
  {
    name: "backslash-dotdot",
    why: "A backslash traversal (`..\\..\\x`) escapes on Windows and on any code that treats `\\` as a separator.",
    build: () => packed([file("..\\..\\backslash-escape.txt", "pwned\n")]),
    offending: "..\\..\\backslash-escape.txt",
    aims: ["..\\..\\backslash-escape.txt"],
  },
  {
    name: "pax-path-dotdot",
    why: "The ustar name is harmless (`PaxHeader`) but the pax `path` attribute, which wins, is `../escape`.",
    build: () => packed([file("../pax-escape.txt", "pwned\n", { pax: {} })]),
    offending: "../pax-escape.txt",
    aims: ["../pax-escape.txt"],
  },
  {
    name: "pax-global-path",
    why: "A pax global header sets `path=../escape` for every later pax header, which then names a harmless-looking file.",
    build: async () => {
      const global = Buffer.from(paxRecord("path", "../pax-global-escape.txt"));
      const local = Buffer.from(paxRecord("mtime", "946684800"));
      return rawTarGz([
        rawHeader({ name: "pax_global_header", typeflag: "g", size: global.length }),
        blocks(global),
        rawHeader({ name: "PaxHeader/ok.txt", typeflag: "x", size: local.length }),
        blocks(local),
        ...rawFile("ok.txt", "pwned\n"),
      ]);
    },
    offending: "../pax-global-escape.txt",
    aims: ["../pax-global-escape.txt"],
  },
  {
    name: "gnu-long-name-dotdot",
    why: "A GNU `L` long-name record replaces the next entry's name with `../../x`.",
    build: async () => {
      const long = Buffer.from(`${gnuTarget}\0`);
      return rawTarGz([
        rawHeader({ name: "././@LongLink", typeflag: "L", size: long.length, magic: "gnu" }),
        blocks(long),
        ...rawFile("harmless.txt", "pwned\n", { magic: "gnu" }),
      ]);
    },
    offending: gnuTarget,
    aims: [gnuTarget],
  },
  {
    name: "nul-in-pax-path",
    why: "A NUL inside a name (possible in a pax `path`) makes the name the checks see differ from the one the OS uses.",
    build: async () => {
      const pax = Buffer.from(paxRecord("path", `evil.txt\0/${nulTarget}`));
      return rawTarGz([
        rawHeader({ name: "PaxHeader/evil", typeflag: "x", size: pax.length }),
        blocks(pax),
        ...rawFile("evil.txt", "pwned\n"),
      ]);
    },
    offending: `evil.txt\0/${nulTarget}`,
    aims: ["evil.txt", nulTarget],
  },
  {
    name: "empty-name",
    why: "An entry with an empty name would resolve to the unpack folder itself.",
    build: async () => rawTarGz(rawFile("", "pwned\n")),
    offending: "",
  },
  {
    name: "dot-name-file",
    why: "A file named `.` (or `./`) resolves to the unpack folder itself.",
    build: async () => rawTarGz(rawFile(".", "pwned\n")),
    offending: ".",
  },
  {
    name: "name-too-long",
    why: "A 300-byte path segment (via pax) cannot be created; the refusal must still name the entry, not leak an errno.",
    build: () => packed([file(`dir/${longSegment}.txt`, "x\n", { pax: {} })]),
    offending: `dir/${longSegment}.txt`,
  },
  {
    name: "huge-pax-name",
    why: "A 600 KB pax path: whatever happens, the refusal must stay one readable sentence, not a 600 KB log line.",
    build: () => packed([file(`${"d/".repeat(300_000)}f.txt`, "x\n", { pax: {} })]),
  },

  {
    name: "huge-absolute-name",
    why: "A 1 MB absolute pax path: the refusal that quotes it must still be a short sentence, not a 1 MB log line.",
    build: () => packed([file(`/${"x".repeat(1_000_000)}`, "x\n", { pax: {} })]),
  },

  // --- Links and special files ----------------------------------------------------------------
  {
    name: "symlink-to-etc-then-write",
    why: "A symlink `link -> /etc` followed by a file `link/<name>` writes into /etc through the link.",
    build: () =>
      packed([{ header: { name: "link", type: "symlink", linkname: "/etc" } }, file(`link/${etcTarget}`, "pwned\n")]),
    offending: "link",
    aims: [`/etc/${etcTarget}`, "link"],
  },
  {
    name: "symlink-relative-outside-then-write",
    why: "A symlink `link -> ../outside` followed by `link/planted.txt` plants a file next to the unpack folder.",
    build: () =>
      packed([
        { header: { name: "link", type: "symlink", linkname: "../outside" } },
        file("link/planted.txt", "pwned\n"),
      ]),
    offending: "link",
    aims: ["../outside/planted.txt", "link"],
  },
  {
    name: "symlink-inside",
    why: "A symlink to a sibling inside the archive is harmless in itself, but the unpacker refuses every link by design.",
    build: () =>
      packed([file("real/config.json", "{}\n"), { header: { name: "alias", type: "symlink", linkname: "real" } }]),
    offending: "alias",
    aims: ["alias"],
  },
  {
    name: "symlink-huge-target",
    why: "A symlink whose (pax) target is 1 MB with a newline in it: quoting the target must not flood the log.",
    build: () =>
      packed([{ header: { name: "l", type: "symlink", linkname: `/etc\n${"y".repeat(1_000_000)}`, pax: {} } }]),
    offending: "l",
    aims: ["l"],
  },
  {
    name: "hardlink-to-etc-passwd",
    why: "A hard link to /etc/passwd would expose (and, with a later write, modify) a file outside the folder.",
    build: () => packed([{ header: { name: "passwd", type: "link", linkname: "/etc/passwd" } }]),
    offending: "passwd",
    aims: ["passwd"],
  },
  {
    name: "hardlink-outside-then-overwrite",
    why: "A hard link `hl -> ../outside/victim.txt` followed by a file `hl` overwrites the victim through the link.",
    build: () =>
      packed([{ header: { name: "hl", type: "link", linkname: "../outside/victim.txt" } }, file("hl", "pwned\n")]),
    offending: "hl",
    aims: ["hl"],
  },
  {
    name: "character-device",
    why: "A character device (here /dev/null's 1,3; could be /dev/mem) gives raw access to kernel devices.",
    build: () =>
      packed([{ header: { name: "devnull", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 } }]),
    offending: "devnull",
    aims: ["devnull"],
  },
  {
    name: "block-device",
    why: "A block device (8,0 is the first disk) gives raw access to a disk.",
    build: () => packed([{ header: { name: "sda", type: "block-device", devmajor: 8, devminor: 0, mode: 0o660 } }]),
    offending: "sda",
    aims: ["sda"],
  },
  {
    name: "fifo",
    why: "A FIFO blocks forever whoever opens it for reading, hanging the task.",
    build: () => packed([{ header: { name: "pipe", type: "fifo", mode: 0o644 } }]),
    offending: "pipe",
    aims: ["pipe"],
  },
  {
    name: "unknown-typeflag",
    why: "A typeflag no reader knows (`Z`) must be refused in plain words, not as a `null` type.",
    build: async () => rawTarGz(rawFile("mystery.bin", "x\n", { typeflag: "Z" })),
    offending: "mystery.bin",
    aims: ["mystery.bin"],
  },

  // --- Clashes -------------------------------------------------------------------------------
  {
    name: "same-file-twice",
    why: "The same file twice: the second copy would silently replace the first (the content that was verified).",
    build: () => packed([file("app.js", "good\n"), file("app.js", "evil\n")]),
    offending: "app.js",
  },
  {
    name: "same-file-twice-then-more",
    why: "A duplicate followed by more files: the refusal must not surface as an unhandled rejection while later files are read.",
    build: () =>
      packed([
        file("app.js", "good\n"),
        file("app.js", "evil\n"),
        ...Array.from({ length: 40 }, (_, i) => file(`more/f${i}.js`, "x\n")),
        file("big.bin", Buffer.alloc(2 * MiB, 7)),
      ]),
    offending: "app.js",
  },
  {
    name: "pax-header-flood",
    why: "Thousands of pax headers before one entry: each one parsed and merged would take minutes of CPU.",
    build: async () => {
      const record = Buffer.from(paxRecord("comment", "x".repeat(900)));
      const parts: Buffer[] = [];
      for (let i = 0; i < 5000; i++)
        parts.push(rawHeader({ name: "PaxHeader/a", typeflag: "x", size: record.length }), blocks(record));
      return rawTarGz([...parts, ...rawFile("a.txt", "x\n")]);
    },
    offending: "PaxHeader/a",
  },
  {
    name: "pax-header-huge",
    why: "One pax header of 900 KB, held in memory to be parsed.",
    build: async () => {
      const record = Buffer.from(paxRecord("comment", "y".repeat(900_000)));
      return rawTarGz([
        rawHeader({ name: "PaxHeader/a", typeflag: "x", size: record.length + 2 * 1024 * 1024 }),
        blocks(record),
      ]);
    },
    offending: "PaxHeader/a",
  },
  {
    name: "file-then-folder",
    why: "A file and then a folder of the same name.",
    build: () => packed([file("thing", "x\n"), { header: { name: "thing", type: "directory", mode: 0o755 } }]),
    offending: "thing",
  },
  {
    name: "folder-then-file",
    why: "A folder and then a file of the same name.",
    build: () => packed([{ header: { name: "thing", type: "directory", mode: 0o755 } }, file("thing", "x\n")]),
    offending: "thing",
  },
  {
    name: "file-then-file-under-it",
    why: "A file `thing` and then `thing/inner.txt`, which needs `thing` to be a folder.",
    build: () => packed([file("thing", "x\n"), file("thing/inner.txt", "x\n")]),
    offending: "thing/inner.txt",
  },

  // --- Resource exhaustion -------------------------------------------------------------------
  {
    name: "too-many-entries",
    why: "More entries than the limit (51 against 50): an inode flood.",
    build: () => packed(Array.from({ length: 51 }, (_, i) => file(`f/${String(i).padStart(3, "0")}.txt`, ""))),
    offending: "f/050.txt",
    limits: { maxEntries: 50 },
  },
  {
    name: "gzip-bomb",
    why: "One file of 200 MiB of zeros, about 200 KB compressed, against a 10 MiB limit.",
    build: () => zeroFileArchive("bomb.bin", 200 * MiB),
    offending: "bomb.bin",
    limits: { maxBytes: 10 * MiB },
    bomb: true,
  },
  {
    name: "many-files-over-bytes",
    why: "Twenty 1 MiB files, each under the 10 MiB limit, that add up past it.",
    build: () => packed(Array.from({ length: 20 }, (_, i) => file(`chunk-${i}.bin`, Buffer.alloc(MiB)))),
    offending: "chunk-10.bin",
    limits: { maxBytes: 10 * MiB },
    bomb: true,
  },

  // --- Corruption ----------------------------------------------------------------------------
  {
    name: "size-larger-than-data",
    why: "A header declares 1 MiB but the archive ends after 100 bytes (a truncated archive).",
    build: async () => rawTarGz([rawHeader({ name: "cut.bin", size: MiB }), blocks("y".repeat(100))], { end: false }),
    offending: "cut.bin",
  },
  {
    name: "size-larger-than-data-big",
    why: "The same with a declared 8 MiB, which takes the unpacker's streaming path for big files.",
    build: async () =>
      rawTarGz([rawHeader({ name: "cut-big.bin", size: 8 * MiB }), blocks("y".repeat(100))], { end: false }),
    offending: "cut-big.bin",
  },
  {
    name: "size-smaller-than-data",
    why: "A header declares 10 bytes but 2000 follow; the rest is read as a (garbage) header.",
    build: async () => rawTarGz([rawHeader({ name: "short.bin", size: 10 }), blocks("z".repeat(2000))]),
  },
  {
    name: "size-not-octal",
    why: "A size field that is not an octal number.",
    build: async () =>
      rawTarGz([rawHeader({ name: "nan.bin", sizeField: Buffer.from("zzzzzzzzzzz\0", "latin1") }), blocks("x")]),
  },
  {
    name: "size-negative",
    why: "A negative size in base-256 (the GNU extension for big numbers).",
    build: async () =>
      rawTarGz([rawHeader({ name: "neg.bin", sizeField: Buffer.from([...Array(11).fill(0xff), 0xfe]) }), blocks("x")]),
  },
  {
    name: "bad-checksum",
    why: "A header whose checksum does not match (a corrupted or doctored header).",
    build: async () => rawTarGz(rawFile("tampered.txt", "x\n", { checksumSkew: 1 })),
  },
  {
    name: "not-gzip",
    why: "Random bytes, not gzip at all.",
    build: async () => {
      const bytes = randomBytes(4096);
      bytes[0] = 0x42; // never the gzip magic
      return bytes;
    },
  },
  {
    name: "plain-tar",
    why: "An uncompressed tar where a tar.gz is expected.",
    build: async () => Buffer.concat([...rawFile("plain.txt", "x\n"), endOfArchive]),
  },
  {
    name: "truncated-gzip",
    why: "A gzip stream cut in the middle (a partial download).",
    build: async () => {
      const whole = await packed([file("a.txt", randomBytes(64 * 1024).toString("hex"))]);
      return whole.subarray(0, Math.floor(whole.length / 2));
    },
  },
];

// ---------------------------------------------------------------------------------------------
// The benign archive
// ---------------------------------------------------------------------------------------------

export interface BenignFile {
  path: string;
  content: string;
  executable: boolean;
}

export const benignFiles: BenignFile[] = [
  { path: "README.md", content: "# demo\n", executable: false },
  { path: "bin/run.sh", content: "#!/bin/sh\necho hello\n", executable: true },
  { path: "dist/index.js", content: "export const x = 1;\n", executable: false },
  { path: "dist/lib/util.js", content: `export const big = "${"u".repeat(5000)}";\n`, executable: false },
  { path: "dist/lib/empty.txt", content: "", executable: false },
];

/** A normal code archive, made by the real packer (src/codepkg/tarball.ts) from {@link benignFiles}. */
export async function benignArchive(): Promise<Buffer> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), "tdf-benign-"));
  try {
    const target = path.join(root, "code.tar.gz");
    const files = [...benignFiles]
      .sort((a, b) => (a.path < b.path ? -1 : 1))
      .map((f) => ({ path: f.path, content: Buffer.from(f.content), mode: f.executable ? 0o755 : 0o644 }));
    await writeDeterministicTarGz(files, target);
    return await fsp.readFile(target);
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
}

/**
 * 100 MiB of zero blocks after the end of the archive: no file grows. A reader that inflated and
 * parsed it all would spend the CPU; the unpacker must stop at the end-of-archive marker instead.
 */
export const paddingBomb = () => gzipZeros(Buffer.concat(rawFile("small.txt", "x\n")), 100 * MiB, Buffer.alloc(0));
