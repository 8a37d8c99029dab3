/**
 * A saved model is one folder: `weights.bin` (every weight as little-endian float32, in the order
 * of `config.json`'s manifest) and `config.json` (format version, dataset spec, hyperparameters,
 * network configuration, the data encoding — category maps, scalers, per-series normalisers — and
 * the manifest with each weight's path, shape and the file's SHA-256). config.json is written last,
 * so a folder with one is complete; a loaded model predicts bit for bit as the saved one did.
 */
import { createHash } from "node:crypto";
import fsp from "node:fs/promises";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "../../core/atomic-file.js";
import { initBackend } from "../backend.js";
import type { DataEncoding } from "./encoding.js";
import { TftFileError } from "./errors.js";
import { TemporalFusionTransformer, type TftNetworkConfig } from "./layers/network.js";
import { TrainedTft } from "./model.js";
import type { TftDatasetSpec, TftHyperparameters, TftModel } from "./types.js";

export const modelFormat = "tdf-tft";
export const modelFormatVersion = 1;

export interface WeightEntry {
  path: string;
  shape: number[];
}

export interface ModelConfigFile {
  format: typeof modelFormat;
  version: number;
  spec: TftDatasetSpec;
  hyperparameters: TftHyperparameters;
  network: TftNetworkConfig;
  encoding: DataEncoding;
  weights: { file: string; sha256: string; tensors: WeightEntry[] };
}

/** The network's weights as one buffer plus their manifest. */
export function packWeights(network: TemporalFusionTransformer): { bytes: Buffer; tensors: WeightEntry[] } {
  const named = network.namedWeights();
  const parts = named.map(({ variable }) => variable.read().dataSync() as Float32Array);
  const bytes = Buffer.alloc(parts.reduce((n, p) => n + p.length * 4, 0));
  let offset = 0;
  for (const part of parts) {
    for (const value of part) {
      bytes.writeFloatLE(value, offset);
      offset += 4;
    }
  }
  return {
    bytes,
    tensors: named.map(({ path: p, variable }) => ({ path: p, shape: [...variable.shape] as number[] })),
  };
}

/** Sets the network's weights from a buffer written by `packWeights`; `what` names the source in errors. */
export function unpackWeights(
  network: TemporalFusionTransformer,
  bytes: Uint8Array,
  tensors: WeightEntry[],
  what: string,
): void {
  const named = new Map(network.namedWeights().map((w) => [w.path, w.variable]));
  const expected = tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (bytes.length !== expected || tensors.length !== named.size) {
    throw new TftFileError(
      `${what} does not match its manifest (${bytes.length} bytes for ${tensors.length} tensors, the network has ${named.size}); save the model again.`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  for (const entry of tensors) {
    const variable = named.get(entry.path);
    if (!variable || variable.shape.join("x") !== entry.shape.join("x")) {
      throw new TftFileError(
        `${what} has weight ${entry.path} [${entry.shape}] that the network does not; save it again.`,
      );
    }
    const size = entry.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++, offset += 4) values[i] = view.getFloat32(offset, true);
    tf.tidy(() => {
      variable.write(tf.tensor(values, entry.shape, "float32"));
    });
  }
}

export async function saveModel(model: TrainedTft, dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const { bytes, tensors } = packWeights(model.network);
  await writeFileAtomic(path.join(dir, "weights.bin"), bytes);
  const config: ModelConfigFile = {
    format: modelFormat,
    version: modelFormatVersion,
    spec: model.spec,
    hyperparameters: model.hyperparameters,
    network: model.network.config,
    encoding: model.encoding,
    weights: { file: "weights.bin", sha256: createHash("sha256").update(bytes).digest("hex"), tensors },
  };
  await writeFileAtomic(path.join(dir, "config.json"), `${JSON.stringify(config)}\n`);
}

export async function loadModel(dir: string): Promise<TftModel> {
  await initBackend();
  const configPath = path.join(dir, "config.json");
  let config: ModelConfigFile;
  try {
    config = JSON.parse(await fsp.readFile(configPath, "utf8")) as ModelConfigFile;
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === "ENOENT";
    throw new TftFileError(
      missing
        ? `${configPath} does not exist: point to a folder written by TftModel.save.`
        : `${configPath} is not valid JSON: the saved model is damaged; save or download it again.`,
      { cause },
    );
  }
  if (config.format !== modelFormat || config.version !== modelFormatVersion) {
    throw new TftFileError(
      `${configPath} is not a TFT model of format ${modelFormat} v${modelFormatVersion} (found ${config.format} v${config.version}); retrain or use the code version that saved it.`,
    );
  }
  const weightsPath = path.join(dir, config.weights.file);
  const bytes = await fsp.readFile(weightsPath).catch((cause: unknown) => {
    throw new TftFileError(`${weightsPath} cannot be read: the saved model is incomplete; save or download it again.`, {
      cause,
    });
  });
  if (createHash("sha256").update(bytes).digest("hex") !== config.weights.sha256) {
    throw new TftFileError(
      `${weightsPath} does not match the checksum in config.json: the saved model is damaged; save or download it again.`,
    );
  }
  const network = new TemporalFusionTransformer(config.network);
  network.build();
  try {
    unpackWeights(network, bytes, config.weights.tensors, weightsPath);
  } catch (error) {
    network.releaseWeights();
    throw error;
  }
  return new TrainedTft(config.spec, config.hyperparameters, config.encoding, network);
}
