/**
 * Chooses TensorFlow.js's compute backend once per process: the native `tensorflow` backend when
 * `@tensorflow/tfjs-node` is installed (the production image), else WebAssembly (about 3× the plain
 * JavaScript backend here), else the plain JavaScript `cpu` backend.
 */
import type * as TF from "@tensorflow/tfjs";

export type BackendName = "tensorflow" | "wasm" | "cpu";

let ready: Promise<BackendName> | undefined;

/** Resolves to the backend in use; safe to call any number of times, concurrently. */
export function initBackend(): Promise<BackendName> {
  ready ??= choose();
  return ready;
}

async function choose(): Promise<BackendName> {
  const tf: typeof TF = await import("@tensorflow/tfjs");
  try {
    // A specifier in a variable: the package is optional, so the type checker must not require it.
    const native = "@tensorflow/tfjs-node";
    await import(native);
    if (await tf.setBackend("tensorflow")) return "tensorflow";
  } catch {
    // Not installed (or its native library does not load): fall through to WebAssembly.
  }
  try {
    await import("@tensorflow/tfjs-backend-wasm");
    if (await tf.setBackend("wasm")) return "wasm";
  } catch {
    // The WebAssembly module failed to load: the JavaScript backend always works.
  }
  await tf.setBackend("cpu");
  return "cpu";
}
