/**
 * A small push parser for tar: ustar headers (with the prefix field), pax extended headers (`x` and
 * global `g`: path, linkpath, size) and GNU long names (`L`, `K`), checksums verified. It reports
 * every entry as it is; deciding what is safe is the unpacker's job. Written here rather than taken
 * from a package because the bootstrap loads it on every cold container start, and a reader that
 * only has to understand what the packer writes (and to name what it does not) is small.
 *
 * It is synchronous on purpose: the bootstrap runs in a fresh, un-JIT-ed process, where an await per
 * header or per piece of data costs more than the parsing itself. The caller pushes inflated chunks
 * of any size; every header and piece of data complete within a chunk is handled before `push`
 * returns, and what a chunk ends in the middle of (a header, an entry's data) carries over.
 */

export type TarEntryType =
  | "file"
  | "directory"
  | "symlink"
  | "link"
  | "character-device"
  | "block-device"
  | "fifo"
  | "contiguous-file"
  | "unknown";

export interface TarEntry {
  name: string;
  type: TarEntryType;
  /** The raw type flag, for messages about unknown types. */
  typeflag: string;
  size: number;
  mode: number;
  linkname: string;
}

/** Where an entry's data goes: `write` for each piece as it arrives, in order, then `end` once. */
export interface TarEntrySink {
  write(data: Buffer): void;
  end(): void;
}

/**
 * Called for each entry when its header has been read. Returns where its data goes, or nothing to
 * skip the data. Throwing stops the reader: the error leaves `push`, and nothing more is read.
 */
export type TarEntryHandler = (entry: TarEntry) => TarEntrySink | undefined;

/** Why the archive cannot be read; `entry` is the one being read (or the last one read whole). */
export class TarFormatError extends Error {
  constructor(
    readonly problem: "truncated" | "damaged",
    readonly entry: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

const BLOCK = 512;
const MAX_EXTENDED_BYTES = 1024 * 1024;
const MAX_EXTENDED_HEADERS = 64;
const types: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "": "file",
  "1": "link",
  "2": "symlink",
  "3": "character-device",
  "4": "block-device",
  "5": "directory",
  "6": "fifo",
  "7": "contiguous-file",
};

/** A NUL-terminated string field (or the whole field when it has no NUL). */
function text(block: Buffer, start: number, length: number): string {
  if (block[start] === 0) return "";
  const nul = block.indexOf(0, start);
  return block.toString("utf8", start, nul === -1 || nul > start + length ? start + length : nul);
}

/** A numeric header field: octal digits, or GNU base-256 for numbers too big for octal. */
function octal(block: Buffer, start: number, length: number, entry: string | undefined): number {
  const end = start + length;
  const first = block[start] as number;
  if (first & 0x80) {
    // Base-256: positive values only.
    if (first & 0x40) throw new TarFormatError("damaged", entry, "a negative number in a header");
    let value = first & 0x3f;
    for (let i = start + 1; i < end; i++) value = value * 256 + (block[i] as number);
    if (!Number.isSafeInteger(value)) throw new TarFormatError("damaged", entry, "a number too large in a header");
    return value;
  }
  // The usual form, read byte by byte: digits between optional spaces, ended by a NUL or the field's end.
  let at = start;
  while (at < end && block[at] === 0x20) at++;
  let value = 0;
  for (; at < end; at++) {
    const byte = block[at] as number;
    if (byte < 0x30 || byte > 0x37) break;
    value = value * 8 + (byte - 0x30);
  }
  for (; at < end && block[at] !== 0; at++) if (block[at] !== 0x20) return unusualOctal(block, start, length, entry);
  return value;
}

/** A field that is not plainly octal: either a number in an unusual layout, or damage to report. */
function unusualOctal(block: Buffer, start: number, length: number, entry: string | undefined): number {
  const digits = text(block, start, length).trim();
  if (digits === "") return 0;
  if (!/^[0-7]+$/.test(digits))
    throw new TarFormatError("damaged", entry, `a header number that is not octal ("${digits.slice(0, 20)}")`);
  return Number.parseInt(digits, 8);
}

/** pax records: `<length> <key>=<value>\n`, the length counting the whole record. */
function paxRecords(data: Buffer, entry: string | undefined): Record<string, string> {
  const records: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1 || space - at > 20)
      throw new TarFormatError("damaged", entry, "a pax extended header that cannot be parsed");
    const length = Number(data.subarray(at, space).toString("ascii"));
    if (!Number.isSafeInteger(length) || length <= 0 || at + length > data.length) {
      throw new TarFormatError("damaged", entry, "a pax extended header that cannot be parsed");
    }
    const record = data.subarray(space + 1, at + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return records;
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** The header checksum: the sum of all bytes, the checksum field (bytes 148–155) counting as spaces. */
function checksumOf(block: Buffer): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += block[i] as number;
  for (let i = 156; i < BLOCK; i++) sum += block[i] as number;
  return sum;
}

/** What the reader expects next: a header, an entry's data, an extended header's data, or padding. */
type Phase = "header" | "data" | "extended" | "padding" | "done";

/**
 * Reads an (uncompressed) tar archive pushed to it in chunks, calling `onEntry` for each entry and
 * handing the entry's data to the sink it returns. Stops at the first all-zero block (a second one
 * usually follows; whatever comes after is ignored).
 */
export class TarReader {
  private phase: Phase = "header";
  /** Size of the current data or extended data, and bytes left of it (or of its padding). */
  private size = 0;
  private left = 0;
  /** The header being read, gathered across chunks when one ends in its middle. */
  private readonly header = Buffer.alloc(BLOCK);
  private headerLength = 0;
  private sink: TarEntrySink | undefined;
  /** The entry (or extended header) whose data or padding is being read. */
  private reading: string | undefined;
  /** The last entry read whole, for messages about the header after it. */
  private previous: string | undefined;
  private readonly global: Record<string, string> = {};
  private local: Record<string, string> = {};
  private extendedHeaders = 0; // since the last real entry
  private extendedType = "";
  private extendedParts: Buffer[] = [];
  private longName: string | undefined;
  private longLink: string | undefined;

  constructor(private readonly onEntry: TarEntryHandler) {}

  /** Reads what `chunk` completes; true once the end-of-archive marker has been read. */
  push(chunk: Buffer): boolean {
    let at = 0;
    while (at < chunk.length && this.phase !== "done") {
      if (this.phase === "header") {
        const n = Math.min(BLOCK - this.headerLength, chunk.length - at);
        chunk.copy(this.header, this.headerLength, at, at + n);
        this.headerLength += n;
        at += n;
        if (this.headerLength === BLOCK) {
          this.headerLength = 0;
          this.readHeader(this.header);
        }
        continue;
      }
      const n = Math.min(this.left, chunk.length - at);
      const piece = chunk.subarray(at, at + n);
      at += n;
      this.left -= n;
      if (this.phase === "data") this.sink?.write(piece);
      else if (this.phase === "extended") this.extendedParts.push(piece);
      if (this.left === 0) this.finishPhase();
    }
    return this.phase === "done";
  }

  /** The input has ended: throws unless the end-of-archive marker was read. */
  end(): void {
    if (this.phase === "done") return;
    if (this.phase !== "header")
      throw new TarFormatError("truncated", this.reading, "the archive ends in the middle of an entry");
    if (this.headerLength > 0)
      throw new TarFormatError("truncated", this.previous, "the archive ends in the middle of a header");
    throw new TarFormatError("truncated", this.previous, "the archive ends without its end-of-archive blocks");
  }

  private readHeader(block: Buffer): void {
    if (isZeroBlock(block)) {
      this.phase = "done";
      return;
    }
    const previous = this.previous;
    const stored = octal(block, 148, 8, previous);
    if (checksumOf(block) !== stored)
      throw new TarFormatError("damaged", previous, "a header whose checksum does not match");

    const typeflag = block[156] === 0 ? "" : String.fromCharCode(block[156] as number);
    const size = octal(block, 124, 12, previous);
    // Only POSIX ustar ("ustar\0") has the prefix field; GNU's "ustar  " keeps times there.
    const ustar = block.toString("latin1", 257, 263) === "ustar\0";
    const prefix = ustar ? text(block, 345, 155) : "";
    const headerName = prefix ? `${prefix}/${text(block, 0, 100)}` : text(block, 0, 100);

    if (typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K") {
      // Held in memory and parsed whole, so bounded: a real one is a few hundred bytes.
      this.extendedHeaders += 1;
      if (size > MAX_EXTENDED_BYTES || this.extendedHeaders > MAX_EXTENDED_HEADERS) {
        throw new TarFormatError("damaged", headerName, "an oversized run of extended (pax or GNU) headers");
      }
      this.extendedType = typeflag;
      this.reading = headerName;
      this.startPhase("extended", size);
      return;
    }
    this.extendedHeaders = 0;

    const name = this.local.path ?? this.global.path ?? this.longName ?? headerName;
    const paxSize = this.local.size ?? this.global.size;
    const entrySize = paxSize !== undefined ? Number(paxSize) : size;
    if (!Number.isSafeInteger(entrySize) || entrySize < 0)
      throw new TarFormatError("damaged", name, "an entry size that is not a number");
    // Old (v7) archives mark folders only by a trailing slash.
    const type: TarEntryType = typeflag === "" && name.endsWith("/") ? "directory" : (types[typeflag] ?? "unknown");
    const dataSize = type === "directory" || type === "symlink" || type === "link" ? 0 : entrySize;
    const entry: TarEntry = {
      name,
      type,
      typeflag,
      size: dataSize,
      mode: octal(block, 100, 8, name),
      linkname: this.local.linkpath ?? this.global.linkpath ?? this.longLink ?? text(block, 157, 100),
    };
    this.local = {};
    this.longName = undefined;
    this.longLink = undefined;
    this.reading = name;
    this.sink = this.onEntry(entry);
    this.startPhase("data", dataSize);
  }

  private startPhase(phase: "data" | "extended", size: number): void {
    this.phase = phase;
    this.size = size;
    this.left = size;
    if (size === 0) this.finishPhase();
  }

  /** The current data, extended data or padding has all been read. */
  private finishPhase(): void {
    if (this.phase === "padding") {
      this.phase = "header";
      return;
    }
    if (this.phase === "data") {
      const sink = this.sink;
      this.sink = undefined;
      sink?.end();
      this.previous = this.reading;
    } else {
      this.readExtended(Buffer.concat(this.extendedParts));
      this.extendedParts = [];
    }
    const padding = (BLOCK - (this.size % BLOCK)) % BLOCK;
    this.phase = padding > 0 ? "padding" : "header";
    this.left = padding;
  }

  private readExtended(data: Buffer): void {
    const type = this.extendedType;
    if (type === "x") Object.assign(this.local, paxRecords(data, this.reading));
    else if (type === "g") Object.assign(this.global, paxRecords(data, this.reading));
    else if (type === "L") this.longName = text(data, 0, data.length);
    else this.longLink = text(data, 0, data.length);
  }
}
