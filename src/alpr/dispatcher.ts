/**
 * The dispatcher of seed 001: polls `results` with `handled = 0`, queues the next tasks of the
 * graph `vehicle_detect -> plate_detect -> ocr -> plate_smooth -> summary`, marks the result
 * handled (one transaction per result), then deletes every frame file no unfinished task
 * depends on any more (the seed's cleanup query, `countFrameDependents`).
 *
 * Per category, on a result:
 * - `vehicle_detect`: one `plate_detect` per vehicle box (best `MAX_VEHICLES`), or one on the
 *   whole frame when there is no vehicle (or no vehicle model, or the model failed to load);
 * - `plate_detect`: one `ocr` task for the region carrying its picked candidates (reader.ts
 *   `pickCandidates`: the best `MAX_READS_PER_FRAME` that do not overlap a better one), which
 *   the runner reads as `readPlates` does (`readCandidates`: a screening read of each, close
 *   reads of the best);
 * - `ocr`: the region's best read (`readRank`, the ranking of src/vision/reader.ts
 *   `readPlates`) becomes a plate read; reads below `min_confidence` are dropped. A read joins a vehicle track
 *   (tracker.ts) or opens one. An open track IS a queued `plate_smooth` task (its `track_id` is
 *   its own id): its `meta` holds the readings and its `dependencies` the frames of its best
 *   readings, so those frames stay on disk (the seed's query sees a task that is not done)
 *   until the summary has cut the snapshot;
 * - `plate_smooth` (done by `closeTracks` when no reading can join any more): one `summary`
 *   depending on the best frame of the winning plate;
 * - `summary`: nothing further (summary.ts wrote the `vehicles` row).
 * Errors: a result with `error` is logged to event_log (`alpr.task_failed`, at most once a
 * minute per distinct message) and counted; a `failed` task keeps its frame for the retry.
 */
import type { Database } from "bun:sqlite";
import { rmSync } from "node:fs";
import {
  completeTaskTx,
  countFrameDependents,
  COUNTERS,
  insertTaskTx,
  markResultHandled,
  oldestUnfinishedFrames,
  queuedTasks,
  setDependenciesTx,
  setTaskMeta,
  setTaskTrack,
  unhandledResults,
  type PendingResult,
  type Task,
} from "../db/alprTasks.ts";
import { addCounter, getCounter } from "../db/counters.ts";
import { hasSegmentAfter } from "../db/alprSampling.ts";
import { logEvent } from "../db/eventLog.ts";
import { resolveInside } from "../paths.ts";
import { MAX_VEHICLES, pickCandidates, readRank } from "../vision/reader.ts";
import type { RotRect } from "../vision/dbpost.ts";
import { votePlate } from "./smoothing.ts";
import { normalizePlate } from "../plateText.ts";
import {
  addReading,
  iou,
  matchTrack,
  newTrack,
  trackClosed,
  type Box,
  type CameraProgress,
  type OpenTrack,
  type TrackMeta,
  type TrackReading,
} from "./tracker.ts";

export interface DispatcherOptions {
  db: Database;
  dataDir: string;
  /** [alpr] track_gap_ms, track_iou, track_flush_ms, min_confidence. */
  trackGapMs: number;
  trackIou: number;
  trackFlushMs: number;
  minConfidence: number;
  now?: () => number;
}

/** Frame task meta as the sampler and dispatcher write it. */
export interface FrameMeta {
  camera_id: number;
  camera_key: string | null;
  ts: number;
  payload_ref: string;
  width?: number | null;
  height?: number | null;
  car_bbox?: Box | null;
  region?: Box | null;
  /** ocr tasks: the region's picked plate candidates (box, plate-likeness, detector line). */
  candidates?: { box: Box; score: number; line: RotRect | null }[];
  parent?: number;
}

/** What a finished `plate_smooth` task records (and its `summary` task carries in meta). */
export interface SmoothResult {
  final_plate: string;
  confidence: number;
  support: number;
  total: number;
  groups: { texts: string[]; score: number; size: number }[];
  track_id: number;
  camera_id: number;
  camera_key: string | null;
  best: TrackReading;
}

const ERROR_LOG_INTERVAL_MS = 60_000;

export class Dispatcher {
  private readonly now: () => number;
  /** Last wall-clock activity per camera (frames queued or finished), for the idle flush. */
  private readonly activity = new Map<number, number>();
  private readonly startedAt: number;
  private readonly errorLogged = new Map<string, number>();

  constructor(private readonly o: DispatcherOptions) {
    this.now = o.now ?? Date.now;
    this.startedAt = this.now();
  }

  /** Notes activity on a camera (the sampler calls this when it queues or skips frames). */
  touch(cameraId: number): void {
    this.activity.set(cameraId, this.now());
  }

  /**
   * Handles up to `limit` unhandled results, one transaction each; deletes released frames.
   * Returns how many results were handled.
   */
  handleResults(limit = 200): number {
    const pending = unhandledResults(this.o.db, limit);
    for (const p of pending) {
      const release = this.o.db.transaction(() => this.handleOne(p))();
      for (const ref of release) this.deleteFrame(ref);
    }
    return pending.length;
  }

  /** The transaction body for one result; returns the frame refs that became free. */
  private handleOne(p: PendingResult): string[] {
    const { task, result } = p;
    const db = this.o.db;
    const meta = task.meta as unknown as FrameMeta;
    if (typeof meta.camera_id === "number") this.touch(meta.camera_id);
    const candidates = new Set<string>(task.dependencies);
    if (typeof result.error === "string") this.recordError(task, result);
    switch (task.category) {
      case "vehicle_detect":
        this.afterVehicles(task, result);
        break;
      case "plate_detect":
        if (!result.error) this.afterPlates(task, result);
        break;
      case "ocr":
        if (task.status === "done" && !result.error) for (const ref of this.afterOcr(task, result)) candidates.add(ref);
        break;
      case "plate_smooth":
        if (!result.error) this.afterSmooth(task, result as unknown as SmoothResult);
        break;
      case "summary":
        break;
    }
    markResultHandled(db, p.resultId);
    // A failed task will be retried: its frame must stay.
    if (task.status === "failed") return [];
    return [...candidates].filter((ref) => countFrameDependents(db, ref, task.id) === 0);
  }

  private recordError(task: Task, result: Record<string, unknown>): void {
    const db = this.o.db;
    addCounter(db, COUNTERS.failedTasks, 1);
    const message = String(result.error);
    const key = `${task.category}:${result.kind}:${message.replace(/frames\/\S+/g, "")}`;
    const last = this.errorLogged.get(key);
    const now = this.now();
    if (last !== undefined && now - last < ERROR_LOG_INTERVAL_MS) return;
    this.errorLogged.set(key, now);
    const meta = task.meta as unknown as FrameMeta;
    logEvent(db, {
      kind: "alpr.task_failed",
      level: result.kind === "input" ? "warn" : "error",
      cameraId: typeof meta.camera_id === "number" ? meta.camera_id : null,
      message: `ALPR ${task.category} task ${task.id} failed (${result.kind}): ${message}`,
      data: { task_id: task.id, category: task.category, kind: result.kind, error: message, payload_ref: meta.payload_ref ?? null, retry: task.status === "failed" },
    });
  }

  private child(task: Task, category: "plate_detect" | "ocr", extra: Partial<FrameMeta>): number {
    const meta = { ...(task.meta as unknown as FrameMeta), ...extra };
    return insertTaskTx(this.o.db, {
      category,
      payload: { payload_ref: meta.payload_ref },
      videoId: task.video_id,
      frameIdx: task.frame_idx,
      meta: meta as unknown as Record<string, unknown>,
      dependencies: [meta.payload_ref],
    });
  }

  private afterVehicles(task: Task, result: Record<string, unknown>): void {
    // A frame that could not be decoded has nothing to search; a vehicle model that failed to
    // load falls back to the whole frame (the failure is logged, plates are still read).
    if (result.error && result.kind !== "model") return;
    const width = (result.width as number | null) ?? null;
    const height = (result.height as number | null) ?? null;
    const vehicles = ((result.vehicles as { box: Box; score: number }[] | undefined) ?? []).slice(0, MAX_VEHICLES);
    if (vehicles.length === 0) this.child(task, "plate_detect", { width, height, car_bbox: null, region: null });
    else for (const v of vehicles) this.child(task, "plate_detect", { width, height, car_bbox: v.box, region: v.box });
  }

  private afterPlates(task: Task, result: Record<string, unknown>): void {
    const picked = pickCandidates((result.plates as { box: Box; score: number; line?: RotRect | null }[] | undefined) ?? []);
    if (picked.length === 0) return;
    const candidates = picked.map((c) => ({ box: c.box, score: c.score, line: c.line ?? null }));
    this.child(task, "ocr", { candidates, parent: task.id, region: undefined });
  }

  /** The region's best read becomes a plate reading (tracks). Returns frame refs released by track changes. */
  private afterOcr(task: Task, result: Record<string, unknown>): string[] {
    const meta = task.meta as unknown as FrameMeta;
    const best = bestRead((result.reads as RegionRead[] | undefined) ?? [], meta.width ?? null, meta.height ?? null);
    if (!best || best.confidence < this.o.minConfidence) return [];
    const reading: TrackReading = {
      taskId: task.id,
      ts: meta.ts,
      text: best.text,
      confidence: best.confidence,
      carBox: meta.car_bbox ?? null,
      plateBox: best.plateBox ?? best.box,
      ref: meta.payload_ref,
      videoId: task.video_id ?? "",
      frameIdx: task.frame_idx ?? 0,
      width: meta.width ?? null,
      height: meta.height ?? null,
    };
    return this.track(reading, meta.camera_id, meta.camera_key);
  }

  /** Open tracks: the queued plate_smooth tasks. */
  openTracks(): OpenTrack[] {
    return queuedTasks(this.o.db, "plate_smooth").map((t) => ({ id: t.id, meta: t.meta as unknown as TrackMeta }));
  }

  /** Adds a reading to its track (or opens one); returns frame refs the track no longer holds. */
  private track(r: TrackReading, cameraId: number, cameraKey: string | null): string[] {
    const db = this.o.db;
    const tracks = this.openTracks();
    // the same plate found again in the same frame (overlapping vehicle boxes): keep the first
    for (const t of tracks)
      if (t.meta.readings.some((x) => x.ref === r.ref && iou(x.plateBox, r.plateBox) > 0.3)) return [];
    const match = matchTrack(r, cameraId, tracks, { gapMs: this.o.trackGapMs, iou: this.o.trackIou });
    if (!match) {
      const meta = newTrack(r, cameraId, cameraKey);
      const id = insertTaskTx(db, {
        category: "plate_smooth",
        payload: { track: true },
        videoId: r.videoId,
        frameIdx: r.frameIdx,
        meta: meta as unknown as Record<string, unknown>,
        dependencies: heldFrames(meta),
      });
      setTaskTrack(db, id, id);
      setTaskTrack(db, r.taskId, id);
      return [];
    }
    const before = heldFrames(match.meta);
    const meta = addReading(match.meta, r);
    const after = heldFrames(meta);
    setTaskMeta(db, match.id, meta as unknown as Record<string, unknown>);
    setDependenciesTx(db, match.id, after);
    setTaskTrack(db, r.taskId, match.id);
    return before.filter((ref) => !after.includes(ref));
  }

  private afterSmooth(task: Task, s: SmoothResult): void {
    if (!s.final_plate) return;
    insertTaskTx(this.o.db, {
      category: "summary",
      payload: { payload_ref: s.best.ref },
      videoId: s.best.videoId,
      frameIdx: s.best.frameIdx,
      trackId: s.track_id,
      meta: { ...s, ts: s.best.ts, payload_ref: s.best.ref } as unknown as Record<string, unknown>,
      dependencies: [s.best.ref],
    });
  }

  /** Per-camera progress for the track-closing rule (tracker.ts `trackClosed`). */
  progress(cameraIds: Iterable<number>, samplerBusy: ReadonlySet<number>): Map<number, CameraProgress> {
    const db = this.o.db;
    const unfinished = new Map<number, number>();
    for (const r of oldestUnfinishedFrames(db)) unfinished.set(r.cam, Math.min(unfinished.get(r.cam) ?? Infinity, r.ts));
    const out = new Map<number, CameraProgress>();
    const now = this.now();
    for (const cam of cameraIds) {
      const min = unfinished.get(cam) ?? null;
      const watermark = getCounter(db, COUNTERS.sampled(cam));
      const waiting = watermark !== null && hasSegmentAfter(db, cam, watermark);
      const last = this.activity.get(cam) ?? this.startedAt;
      out.set(cam, {
        minUnfinishedTs: min,
        horizon: getCounter(db, COUNTERS.horizon(cam)),
        idle: min === null && !waiting && !samplerBusy.has(cam) && now - last >= this.o.trackFlushMs,
      });
    }
    return out;
  }

  /**
   * Closes every track no reading can join any more: votes over its readings (smoothing.ts)
   * and completes its plate_smooth task with the result, one transaction per track.
   * Returns how many tracks were closed.
   */
  closeTracks(samplerBusy: ReadonlySet<number> = new Set()): number {
    const tracks = this.openTracks();
    if (tracks.length === 0) return 0;
    const progress = this.progress(new Set(tracks.map((t) => t.meta.camera_id)), samplerBusy);
    let closed = 0;
    for (const t of tracks) {
      const p = progress.get(t.meta.camera_id)!;
      if (!trackClosed(t.meta, p, this.o.trackGapMs)) continue;
      this.o.db.transaction(() => {
        const vote = votePlate(t.meta.readings);
        const best = vote.group[0] ?? t.meta.readings[0];
        const result: SmoothResult = {
          final_plate: vote.text,
          confidence: Math.round(vote.confidence * 1e4) / 1e4,
          support: vote.support,
          total: vote.total,
          groups: vote.groups,
          track_id: t.id,
          camera_id: t.meta.camera_id,
          camera_key: t.meta.camera_key,
          best,
        };
        completeTaskTx(this.o.db, t.id, result as unknown as Record<string, unknown>, "done");
      })();
      closed++;
    }
    return closed;
  }

  /** Deletes a frame file (already released by the cleanup query); a missing file is fine. */
  deleteFrame(ref: string): void {
    try {
      rmSync(resolveInside(this.o.dataDir, ref), { force: true });
    } catch {
      // a path outside data_dir is never a frame of ours
    }
  }
}

/** One `ocr` outcome of a region: the candidate (box, plate-likeness) and what was read. */
export interface RegionRead {
  text: string;
  confidence: number;
  /** The candidate's search box (ranking, as readPlates ranks). */
  box: Box;
  score: number;
  /** The plate's own bounding box (reader.ts RankedRead.plateBox); absent in results of older versions. */
  plateBox?: Box;
}

/**
 * The region's plate read: texts normalised (A-Z0-9), shorter than 2 characters dropped, the
 * highest `readRank` wins. Null when nothing legible was read.
 */
export function bestRead<R extends RegionRead>(reads: readonly R[], width: number | null, height: number | null): (R & { rank: number }) | null {
  let best: (R & { rank: number }) | null = null;
  for (const r of reads) {
    const text = normalizePlate(r.text);
    if (text.length < 2) continue;
    const rank = readRank(text, r.confidence, r.box, r.score, width, height);
    if (!best || rank > best.rank) best = { ...r, text, rank };
  }
  return best;
}

/**
 * Frames an open track keeps on disk: the best reading of each of its three strongest text
 * groups (whichever group wins, its best frame is still there for the snapshot).
 */
export function heldFrames(m: TrackMeta): string[] {
  const vote = votePlate(m.readings);
  const refs = new Set<string>();
  if (vote.group[0]) refs.add(vote.group[0].ref);
  for (const g of vote.groups.slice(0, 3)) {
    let best: TrackReading | null = null;
    for (const r of m.readings) if (g.texts.includes(r.text) && (!best || r.confidence > best.confidence)) best = r;
    if (best) refs.add(best.ref);
  }
  return [...refs];
}
