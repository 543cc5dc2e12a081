/**
 * Runs the frame stages of the seed 001 graph (`vehicle_detect`, `plate_detect`, `ocr`) on the
 * vision worker pool (src/vision/pool.ts, Bun Workers): claims queued tasks (status -> running),
 * loads the frame named by `payload.payload_ref` (relative to data_dir), calls the stage, and
 * writes the outcome as one `results` row plus the task's status in one transaction.
 *
 * Outcomes:
 * - success: status `done`, result = the stage's output, unrounded (boxes in frame pixels; the
 *   next stage gets exactly what this one found, so the pipeline reads what `readPlates` reads).
 *   `plate_detect` -> `{ plates: [{ box, score, line }] }`; `ocr` (one task per region, its
 *   meta's `candidates`) -> `{ reads: [{ text, confidence, box, score }] }` best first;
 * - bad input (frame missing, zero-size, truncated, corrupt: ImageDecodeError / RangeError /
 *   ENOENT): status `done`, result `{ error, kind: "input" }`. Repeating cannot help; the
 *   dispatcher logs it and the frame is released;
 * - a missing/broken model (ModelLoadError) on `vehicle_detect`: status `done`, result
 *   `{ error, kind: "model", width, height }` (the dispatcher falls back to whole-frame plate
 *   search, so plates are still read);
 * - any other runtime failure (worker crash, model error in plate_detect/ocr): status `failed`,
 *   result `{ error, kind: "runtime" }`; the task is requeued later and its frame kept.
 *
 * Decoded frames are cached (a few, LRU by payload_ref) because a frame's plate_detect and ocr
 * tasks run close together (later stages have higher priority). Decoding itself happens in a
 * worker (`pool.decodeImage`), never on the caller's thread.
 */
import type { Database } from "bun:sqlite";
import { claimTasks, completeTask, FRAME_CATEGORIES, type Task } from "../db/alprTasks.ts";
import { resolveInside } from "../paths.ts";
import type { Box, RgbImage } from "../vision/image.ts";
import type { RotRect } from "../vision/dbpost.ts";
import type { CandidateInput } from "../vision/reader.ts";

/** The part of the vision pool (src/vision/pool.ts) the pipeline uses; tests may pass their own. */
export interface StagePool {
  readonly workers: number;
  decodeImage(bytes: Uint8Array): Promise<RgbImage>;
  detectVehicles(img: RgbImage): Promise<{ box: Box; score: number; cls: string }[]>;
  detectPlates(img: RgbImage, region?: Box): Promise<{ box: Box; score: number; line: RotRect | null }[]>;
  /** Reads picked candidates of one region, best first (reader.ts readCandidates). */
  readCandidates(img: RgbImage, cands: CandidateInput[]): Promise<{ text: string; confidence: number; box: Box; score: number; plateBox?: Box }[]>;
  close(): Promise<void>;
}

export type ErrorKind = "input" | "model" | "runtime";

/** Classifies a stage error (see the module comment). */
export function errorKind(err: unknown): ErrorKind {
  const e = err as { name?: string; code?: string };
  if (e?.name === "ImageDecodeError" || e?.name === "RangeError" || e?.code === "ENOENT" || e?.name === "FrameMissingError") return "input";
  if (e?.name === "ModelLoadError") return "model";
  return "runtime";
}

class FrameMissingError extends Error {
  override name = "FrameMissingError";
}

export interface RunnerOptions {
  db: Database;
  dataDir: string;
  pool: StagePool;
  /** Tasks in flight at once (default: 2 per worker, so each worker always has the next call queued). */
  concurrency?: number;
  /** Called after each task completes (wakes the dispatcher). */
  onComplete?: (task: Task) => void;
  /** Decoded frames kept (default 6). */
  cacheSize?: number;
}

/** Executes frame tasks on the pool; `pump()` starts as many as there are free slots. */
export class TaskRunner {
  private inFlight = new Set<Promise<void>>();
  private cache = new Map<string, Promise<RgbImage>>();
  private readonly concurrency: number;
  private stopped = false;

  constructor(private readonly o: RunnerOptions) {
    this.concurrency = o.concurrency ?? Math.max(1, o.pool.workers * 2);
  }

  /** Tasks running now. */
  get active(): number {
    return this.inFlight.size;
  }

  /** Claims and starts queued frame tasks up to the concurrency limit; returns how many started. */
  pump(): number {
    if (this.stopped) return 0;
    const free = this.concurrency - this.inFlight.size;
    if (free <= 0) return 0;
    const tasks = claimTasks(this.o.db, FRAME_CATEGORIES, free);
    for (const t of tasks) {
      const p = this.run(t).finally(() => {
        this.inFlight.delete(p);
        this.o.onComplete?.(t);
      });
      this.inFlight.add(p);
    }
    return tasks.length;
  }

  /** Stops claiming; resolves when the tasks in flight have finished and been recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
    this.cache.clear();
  }

  private frame(ref: string): Promise<RgbImage> {
    let p = this.cache.get(ref);
    if (p) {
      this.cache.delete(ref);
      this.cache.set(ref, p);
      return p;
    }
    p = (async () => {
      const path = resolveInside(this.o.dataDir, ref);
      const file = Bun.file(path);
      if (!(await file.exists())) throw new FrameMissingError(`frame file missing: ${ref}`);
      return this.o.pool.decodeImage(new Uint8Array(await file.arrayBuffer()));
    })();
    this.cache.set(ref, p);
    p.catch(() => this.cache.delete(ref));
    while (this.cache.size > (this.o.cacheSize ?? 6)) this.cache.delete(this.cache.keys().next().value!);
    return p;
  }

  private async run(t: Task): Promise<void> {
    const ref = (t.payload?.payload_ref as string | undefined) ?? (t.meta.payload_ref as string | undefined);
    let width: number | null = null;
    let height: number | null = null;
    try {
      if (!ref) throw new FrameMissingError(`task ${t.id} has no payload_ref`);
      const img = await this.frame(ref);
      width = img.width;
      height = img.height;
      let result: Record<string, unknown>;
      if (t.category === "vehicle_detect") {
        const vehicles = await this.o.pool.detectVehicles(img);
        result = { width, height, vehicles: vehicles.map((v) => ({ box: v.box, score: v.score, cls: v.cls })) };
      } else if (t.category === "plate_detect") {
        const region = (t.meta.region as Box | null | undefined) ?? undefined;
        const plates = await this.o.pool.detectPlates(img, region);
        result = { plates: plates.map((p) => ({ box: p.box, score: p.score, line: p.line })) };
      } else {
        const cands = t.meta.candidates as CandidateInput[] | undefined;
        if (!Array.isArray(cands)) throw new RangeError(`ocr task ${t.id} has no plate candidates`);
        const reads = await this.o.pool.readCandidates(img, cands);
        result = { reads: reads.map((r) => ({ text: r.text, confidence: r.confidence, box: r.box, score: r.score, ...(r.plateBox ? { plateBox: r.plateBox } : {}) })) };
      }
      completeTask(this.o.db, t.id, result, "done");
    } catch (err) {
      const kind = errorKind(err);
      const message = String((err as Error)?.message ?? err).split("\n")[0];
      const error = { error: `${t.category}: ${message}`, kind, width, height };
      if (kind === "input" || (kind === "model" && t.category === "vehicle_detect")) completeTask(this.o.db, t.id, error, "done");
      else completeTask(this.o.db, t.id, error, "failed");
    }
  }
}
