/**
 * Bun Worker running the vision stages for `createVisionPool` (pool.ts). Each worker owns one
 * single-threaded ONNX Runtime WASM instance and its sessions.
 *
 * Protocol (structured-clone messages):
 *   in:  { id, method, args }  where method is a key of METHODS, or { id, method: "configure", args: [VisionOptions] }
 *   out: { id, ok: true, result } | { id, ok: false, error: { name, message, file? } }
 *
 * For `bun build --compile` this file must be listed as an extra entrypoint (see pool.ts).
 */
import { decodeImage, type Box, type RgbImage } from "./image.ts";
import { configureVision, type VisionOptions, ModelLoadError } from "./runtime.ts";
import { detectPlates, detectVehicles, recognizePlate, stageTimes } from "./stages.ts";
import { readCandidates, readPlates, type CandidateInput } from "./reader.ts";

declare const self: Worker;

const METHODS = {
  configure: async (opts: VisionOptions) => configureVision(opts),
  detectVehicles: (img: RgbImage) => detectVehicles(img),
  detectPlates: (img: RgbImage, region?: Box) => detectPlates(img, region),
  recognizePlate: (img: RgbImage, box: Box) => recognizePlate(img, box),
  readCandidates: (img: RgbImage, cands: CandidateInput[]) => readCandidates(img, cands),
  readPlates: (img: RgbImage) => readPlates(img),
  readPlatesFromBytes: (bytes: Uint8Array) => readPlates(decodeImage(bytes)),
  decodeImage: async (bytes: Uint8Array) => decodeImage(bytes),
  stageTimes: async () => structuredClone(stageTimes),
} as const;

export type WorkerMethod = keyof typeof METHODS;

self.onmessage = async (ev: MessageEvent) => {
  const { id, method, args } = ev.data as { id: number; method: WorkerMethod; args: unknown[] };
  try {
    const fn = METHODS[method] as ((...a: unknown[]) => Promise<unknown>) | undefined;
    if (!fn) throw new Error(`unknown vision worker method ${String(method)}`);
    const result = await fn(...args);
    self.postMessage({ id, ok: true, result });
  } catch (err) {
    const e = err as Error;
    self.postMessage({
      id,
      ok: false,
      error: { name: e?.name ?? "Error", message: String(e?.message ?? err), file: err instanceof ModelLoadError ? err.file : undefined },
    });
  }
};
