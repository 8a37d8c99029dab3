/**
 * A small streaming tar reader: ustar headers (with the prefix field), pax extended headers (`x` and
 * global `g`: path, linkpath, size) and GNU long names (`L`, `K`), checksums verified. It reports
 * every entry as it is; deciding what is safe is the unpacker's job. Written here rather than taken
 * from a package because the bootstrap loads it on every cold container start, and a reader that
 * only has to understand what the packer writes (and to name what it does not) is small.
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

/** Reads exact byte counts from a stream of chunks. */
class Bytes {
  private chunks: Buffer[] = [];
  private length = 0;
  private done = false;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.length < n && !this.done) {
      const next = await this.source.next();
      if (next.done) this.done = true;
      else {
        this.chunks.push(next.value);
        this.length += next.value.length;
      }
    }
    return this.length >= n;
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const out = all.subarray(0, Math.min(n, all.length));
    const rest = all.subarray(out.length);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    return out;
  }

  /** Up to n bytes in the pieces they arrive in; ends early only at the end of the stream. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.length === 0 && !(await this.fill(1))) return;
      const chunk = await this.read(Math.min(left, this.length));
      left -= chunk.length;
      yield chunk;
    }
  }
}

const text = (block: Buffer, start: number, length: number): string => {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString("utf8");
};

function octal(block: Buffer, start: number, length: number, entry: string | undefined): number {
  const field = block.subarray(start, start + length);
  // GNU base-256 for numbers too big for octal: positive values only.
  if ((field[0] ?? 0) & 0x80) {
    if ((field[0] ?? 0) & 0x40) throw new TarFormatError("damaged", entry, "a negative number in a header");
    let value = (field[0] ?? 0) & 0x3f;
    for (const byte of field.subarray(1)) value = value * 256 + byte;
    if (!Number.isSafeInteger(value)) throw new TarFormatError("damaged", entry, "a number too large in a header");
    return value;
  }
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

/**
 * The entries of an (uncompressed) tar stream. Each entry's body must be read or abandoned before
 * asking for the next entry; what is left of it is skipped.
 */
export async function* readTar(
  source: AsyncIterable<Buffer>,
): AsyncGenerator<{ entry: TarEntry; body: AsyncGenerator<Buffer> }> {
  const bytes = new Bytes(source[Symbol.asyncIterator]());
  const global: Record<string, string> = {};
  let local: Record<string, string> = {};
  let extended = 0; // extended headers since the last real entry
  let longName: string | undefined;
  let longLink: string | undefined;
  let previous: string | undefined;

  const readExact = async (n: number, entry: string | undefined): Promise<Buffer> => {
    const data = await bytes.read(n);
    if (data.length < n) throw new TarFormatError("truncated", entry, "the archive ends in the middle of an entry");
    return data;
  };
  const skipPadding = async (size: number, entry: string) => {
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (padding > 0) await readExact(padding, entry);
  };

  for (;;) {
    const block = await bytes.read(BLOCK);
    if (block.length === 0)
      throw new TarFormatError("truncated", previous, "the archive ends without its end-of-archive blocks");
    if (block.length < BLOCK)
      throw new TarFormatError("truncated", previous, "the archive ends in the middle of a header");
    // An all-zero block ends the archive (a second one usually follows; what comes after is ignored).
    if (block.every((byte) => byte === 0)) return;

    const stored = octal(block, 148, 8, previous);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    if (sum !== stored) throw new TarFormatError("damaged", previous, "a header whose checksum does not match");

    const typeflag = String.fromCharCode(block[156] as number).replace("\0", "");
    const size = octal(block, 124, 12, previous);
    // Only POSIX ustar ("ustar\0") has the prefix field; GNU's "ustar  " keeps times there.
    const ustar = block.subarray(257, 263).toString("latin1") === "ustar\0";
    const prefix = ustar ? text(block, 345, 155) : "";
    const headerName = prefix ? `${prefix}/${text(block, 0, 100)}` : text(block, 0, 100);

    if (typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K") {
      // Held in memory and parsed whole, so bounded: a real one is a few hundred bytes.
      extended += 1;
      if (size > MAX_EXTENDED_BYTES || extended > MAX_EXTENDED_HEADERS) {
        throw new TarFormatError("damaged", headerName, "an oversized run of extended (pax or GNU) headers");
      }
      const data = await readExact(size, headerName);
      await skipPadding(size, headerName);
      if (typeflag === "x") Object.assign(local, paxRecords(data, headerName));
      else if (typeflag === "g") Object.assign(global, paxRecords(data, headerName));
      else if (typeflag === "L") longName = text(data, 0, data.length);
      else longLink = text(data, 0, data.length);
      continue;
    }
    extended = 0;

    const attributes = { ...global, ...local };
    const name = attributes.path ?? longName ?? headerName;
    const entrySize = attributes.size !== undefined ? Number(attributes.size) : size;
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
      linkname: attributes.linkpath ?? longLink ?? text(block, 157, 100),
    };
    local = {};
    longName = undefined;
    longLink = undefined;

    let consumed = 0;
    const body = (async function* () {
      for await (const chunk of bytes.stream(dataSize)) {
        consumed += chunk.length;
        yield chunk;
      }
    })();
    yield { entry, body };
    // Whatever the consumer left unread is skipped.
    for await (const chunk of bytes.stream(dataSize - consumed)) consumed += chunk.length;
    if (consumed < dataSize) throw new TarFormatError("truncated", name, "the archive ends in the middle of an entry");
    await skipPadding(dataSize, name);
    previous = name;
  }
}
