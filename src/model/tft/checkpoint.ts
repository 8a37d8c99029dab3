/**
 * The training checkpoint: one file, `checkpoint.bin`, replaced atomically after every epoch, so a
 * crash leaves the previous epoch's intact. It holds the training state (epochs done, history, best
 * epoch, epochs since the best), the current and the best weights, and Adam's moments; with the
 * seeded window order and dropout (random.ts) a resumed run continues exactly where the killed one
 * was. Layout: "TDFCKPT1", a uint32 header length, the JSON header, then the arrays in header order
 * (little-endian float32 weights, float64 optimizer state).
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../../core/atomic-file.js";
import { TftFileError } from "./errors.js";
import type { EpochMetrics } from "./types.js";

const magic = "TDFCKPT1";
export const checkpointFile = "checkpoint.bin";

export interface TrainingState {
  /** What the run was started with: a checkpoint resumes only the same data and settings. */
  fingerprint: string;
  epochsDone: number;
  history: EpochMetrics[];
  bestEpoch: number;
  bestLoss: number | null;
  epochsSinceBest: number;
  stopped: boolean;
}

export interface NamedArray {
  name: string;
  shape: number[];
  dtype: "float32" | "float64";
  values: Float32Array | Float64Array;
}

const bytesOf = (dtype: NamedArray["dtype"]) => (dtype === "float64" ? 8 : 4);

export interface Checkpoint {
  state: TrainingState;
  weights: NamedArray[];
  best: NamedArray[];
  optimizer: NamedArray[];
}

export async function writeCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const groups = { weights: checkpoint.weights, best: checkpoint.best, optimizer: checkpoint.optimizer };
  const header = Buffer.from(
    JSON.stringify({
      state: checkpoint.state,
      tensors: Object.fromEntries(
        Object.entries(groups).map(([group, list]) => [
          group,
          list.map(({ name, shape, dtype }) => ({ name, shape, dtype })),
        ]),
      ),
    }),
  );
  const arrays = Object.values(groups).flat();
  const body = Buffer.alloc(arrays.reduce((n, a) => n + a.values.length * bytesOf(a.dtype), 0));
  let offset = 0;
  for (const { values, dtype } of arrays) {
    for (const v of values) {
      if (dtype === "float64") body.writeDoubleLE(v, offset);
      else body.writeFloatLE(v, offset);
      offset += bytesOf(dtype);
    }
  }
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  await writeFileAtomic(path.join(dir, checkpointFile), Buffer.concat([Buffer.from(magic), length, header, body]));
}

/** The checkpoint in `dir`, or undefined when there is none. */
export async function readCheckpoint(dir: string): Promise<Checkpoint | undefined> {
  const file = path.join(dir, checkpointFile);
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new TftFileError(`The checkpoint ${file} cannot be read; fix its permissions or delete it.`, {
      cause: error,
    });
  }
  const damaged = () =>
    new TftFileError(`The checkpoint ${file} is damaged; delete it to start training over.`, { context: { file } });
  if (bytes.length < 12 || bytes.subarray(0, 8).toString() !== magic) throw damaged();
  const headerLength = bytes.readUInt32LE(8);
  let header: { state: TrainingState; tensors: Record<"weights" | "best" | "optimizer", Omit<NamedArray, "values">[]> };
  try {
    header = JSON.parse(bytes.subarray(12, 12 + headerLength).toString());
  } catch {
    throw damaged();
  }
  let offset = 12 + headerLength;
  const read = (list: Omit<NamedArray, "values">[]): NamedArray[] =>
    list.map(({ name, shape, dtype }) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const width = bytesOf(dtype);
      if (offset + size * width > bytes.length) throw damaged();
      const values = dtype === "float64" ? new Float64Array(size) : new Float32Array(size);
      for (let i = 0; i < size; i++, offset += width) {
        values[i] = dtype === "float64" ? bytes.readDoubleLE(offset) : bytes.readFloatLE(offset);
      }
      return { name, shape, dtype, values };
    });
  const checkpoint = {
    state: header.state,
    weights: read(header.tensors.weights),
    best: read(header.tensors.best),
    optimizer: read(header.tensors.optimizer),
  };
  if (offset !== bytes.length) throw damaged();
  return checkpoint;
}
