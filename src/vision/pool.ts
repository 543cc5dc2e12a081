/**
 * Inference off the main thread: a fixed pool of Bun Workers (worker.ts), each with its own
 * single-threaded ONNX Runtime, so the web UI and the recorder never wait on a model. Calls are
 * queued FIFO and handed to the first idle worker; one call runs per worker at a time.
 *
 * Errors keep their kind across the thread boundary: ModelLoadError (with `file`),
 * ImageDecodeError, RangeError, else Error, with the worker's message. A worker that dies
 * fails its current call and is replaced.
 *
 * Compiled binary: `bun build --compile src/main.ts src/vision/worker.ts ...` (Bun bundles a
 * Worker only when its file is an entrypoint of the build).
 */
import { type Box, type RgbImage, ImageDecodeError } from "./image.ts";
import { ModelLoadError, type VisionOptions } from "./runtime.ts";
import type { CandidateInput, PlateRead, RankedRead } from "./reader.ts";
import type { RotRect } from "./dbpost.ts";
import type { WorkerMethod } from "./worker.ts";

export interface VisionPool {
  readonly workers: number;
  detectVehicles(img: RgbImage): Promise<{ box: Box; score: number; cls: string }[]>;
  detectPlates(img: RgbImage, region?: Box): Promise<{ box: Box; score: number; line: RotRect }[]>;
  recognizePlate(img: RgbImage, box: Box): Promise<{ text: string; confidence: number }>;
  /** reader.ts readCandidates: screening + close reading of picked candidates, best rank first. */
  readCandidates(img: RgbImage, cands: CandidateInput[]): Promise<RankedRead[]>;
  readPlates(img: RgbImage): Promise<PlateRead[]>;
  /** Decodes (JPEG/PNG) and reads in the worker: nothing image-sized runs on the caller's thread. */
  readPlatesFromBytes(bytes: Uint8Array): Promise<PlateRead[]>;
  /** Decodes a JPEG/PNG in a worker (throws ImageDecodeError). */
  decodeImage(bytes: Uint8Array): Promise<RgbImage>;
  /** Calls queued or running now. */
  pending(): number;
  /** Per-stage wall time summed over the workers, ms (for the bench). */
  stageTimes(): Promise<Record<string, { ms: number; calls: number }>>;
  /** Lets every submitted call finish, then stops the workers; later calls reject. */
  close(): Promise<void>;
}

interface Job {
  id: number;
  method: WorkerMethod;
  args: unknown[];
  resolve: (v: any) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  ready: Promise<void>;
}

const WORKER_URL = new URL("./worker.ts", import.meta.url).href;

/**
 * Starts `workers` (>= 1) vision workers, each configured with `vehicleModelPath` (none by
 * default) and one WASM thread. Models load lazily on each worker's first call.
 */
export function createVisionPool(opts: { workers: number; vehicleModelPath?: string | null } & Omit<VisionOptions, "threads">): VisionPool {
  const n = opts.workers;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`workers must be a positive integer, got ${n}`);
  const config: VisionOptions = { ...opts, threads: 1 };
  delete (config as { workers?: number }).workers;
  let nextId = 1;
  let closed = false;
  const queue: Job[] = [];
  const slots: Slot[] = [];
  let idleWaiters: (() => void)[] = [];

  const spawn = (): Slot => {
    const worker = new Worker(WORKER_URL);
    const slot: Slot = { worker, job: null, ready: Promise.resolve() };
    worker.onmessage = (ev: MessageEvent) => {
      const msg = ev.data as { id: number; ok: boolean; result?: unknown; error?: { name: string; message: string; file?: string } };
      const job = slot.job;
      if (!job || job.id !== msg.id) return; // configure acknowledgements
      slot.job = null;
      if (msg.ok) job.resolve(msg.result);
      else job.reject(reviveError(msg.error!));
      pump();
    };
    worker.onerror = (ev: ErrorEvent) => {
      const job = slot.job;
      slot.job = null;
      job?.reject(new Error(`vision worker crashed: ${ev.message}`));
      worker.terminate();
      const i = slots.indexOf(slot);
      if (i >= 0 && !closed) slots[i] = spawn();
      pump();
    };
    worker.postMessage({ id: 0, method: "configure", args: [config] });
    return slot;
  };
  for (let i = 0; i < n; i++) slots.push(spawn());

  const pump = () => {
    for (const slot of slots) {
      if (slot.job || queue.length === 0) continue;
      const job = queue.shift()!;
      slot.job = job;
      try {
        slot.worker.postMessage({ id: job.id, method: job.method, args: job.args });
      } catch (err) {
        slot.job = null;
        job.reject(err as Error);
      }
    }
    if (queue.length === 0 && slots.every((s) => !s.job)) {
      const w = idleWaiters;
      idleWaiters = [];
      w.forEach((f) => f());
    }
  };

  const call = <T>(method: WorkerMethod, ...args: unknown[]): Promise<T> => {
    if (closed) return Promise.reject(new Error("vision pool is closed"));
    return new Promise<T>((resolve, reject) => {
      queue.push({ id: nextId++, method, args, resolve, reject });
      pump();
    });
  };

  return {
    workers: n,
    detectVehicles: (img) => call("detectVehicles", img),
    detectPlates: (img, region) => call("detectPlates", img, region),
    recognizePlate: (img, box) => call("recognizePlate", img, box),
    readCandidates: (img, cands) => call("readCandidates", img, cands),
    readPlates: (img) => call("readPlates", img),
    readPlatesFromBytes: (bytes) => call("readPlatesFromBytes", bytes),
    decodeImage: (bytes) => call("decodeImage", bytes),
    pending: () => queue.length + slots.filter((s) => s.job).length,
    async stageTimes() {
      // One call per worker: queue them so each idle worker takes one, then sum.
      const all = await Promise.all(slots.map(() => call<Record<string, { ms: number; calls: number }>>("stageTimes")));
      const sum: Record<string, { ms: number; calls: number }> = {};
      for (const t of all) for (const [k, v] of Object.entries(t)) {
        const s = (sum[k] ??= { ms: 0, calls: 0 });
        s.ms += v.ms;
        s.calls += v.calls;
      }
      return sum;
    },
    async close() {
      if (!closed) {
        if (queue.length || slots.some((s) => s.job)) await new Promise<void>((r) => idleWaiters.push(r));
        closed = true;
        for (const s of slots) s.worker.terminate();
      }
    },
  };
}

/** Rebuilds an error of the right class from its name and message. */
function reviveError(e: { name: string; message: string; file?: string }): Error {
  let err: Error;
  if (e.name === "ModelLoadError") err = new ModelLoadError(e.message, e.file ?? "");
  else if (e.name === "ImageDecodeError") err = new ImageDecodeError(e.message);
  else if (e.name === "RangeError") err = new RangeError(e.message);
  else {
    err = new Error(e.message);
    err.name = e.name;
  }
  return err;
}
