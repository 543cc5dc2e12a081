/**
 * Frame sampler: turns CLOSED segments (rows of `segments`, which the recorder's indexer
 * inserts when ffmpeg closes a file) into JPEG frames and `vehicle_detect` tasks.
 *
 * - Per camera a watermark in `counters` (`alpr.sampled.<camera_id>`) holds the last absolute
 *   segment index read; the next segment is the first row past it. On the very first start the
 *   watermark is set `backfill_segments` below the newest segment (0 = new footage only).
 *   The oldest pending segment over all cameras goes first.
 * - Frames are extracted by ffmpeg at `sample_fps` (`-vf fps=R`, frame k at offset k/R s), one
 *   ffmpeg at a time (`runFfmpeg`), at nice 19 with one decoder thread, reading the segment under a
 *   transient read-lock (`acquireReadLock`, src/db/locks.ts: retention does not delete it meanwhile). The
 *   recorder is never waited on.
 * - Frame files: `frames/<camera_id>/<absolute_index>-<k>.jpg` (payload_ref, relative to
 *   data_dir; digits only, so the seed's LIKE cleanup query has no wildcard to misread);
 *   video_id = `<camera_key>:<absolute_index>`, frame_idx = k, ts = start_utc + k * 1000 / R.
 *   Files are made durable under their final names (src/fsx.ts commitTempFile) before the transaction that inserts their tasks and moves
 *   the watermark; a crash in between leaves files no task depends on, which `sweepFrames`
 *   deletes at start-up.
 * - Backpressure: when unfinished frame tasks (queued/running/failed) reach `max_queue`, the
 *   segment is skipped without running ffmpeg; its frames (duration x R, rounded up) are
 *   counted in `alpr.skipped_frames` and `alpr.skipped.<camera_id>`, and an `alpr.backlog`
 *   event is logged when skipping starts. A segment whose file is gone is skipped the same way.
 */
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { COUNTERS, countFrameDependents, frameBacklog, insertTaskTx } from "../db/alprTasks.ts";
import { addCounter, getCounter, setCounter } from "../db/counters.ts";
import { logEvent } from "../db/eventLog.ts";
import { acquireReadLock } from "../db/locks.ts";
import { countSegmentsAfter, firstSegmentAfter, newestSegmentIndex } from "../db/alprSampling.ts";
import { listCameras } from "../db/cameras.ts";
import type { SegmentRow } from "../db/segments.ts";
import { commitTempFile, fsyncPath } from "../fsx.ts";
import { runFfmpeg, type FfmpegRun } from "../media/ffmpeg.ts";
import { resolveInside } from "../paths.ts";
import { lastStderrLine, lowerPriority } from "./backgroundFfmpeg.ts";

export interface SamplerOptions {
  db: Database;
  dataDir: string;
  ffmpegPath: string;
  sampleFps: number;
  maxQueue: number;
  backfillSegments: number;
  /** Run ffmpeg at nice 19 (default true). */
  nice?: boolean;
  /** Called with the camera id whenever frames are queued or skipped. */
  onActivity?: (cameraId: number) => void;
}

/** A closed segment with its camera's key (for video_id and messages). */
type CameraSegment = SegmentRow & { camera_key: string };

export interface SampleOutcome {
  cameraId: number;
  absoluteIndex: number;
  frames: number;
  skipped: number;
  reason: "sampled" | "backlog" | "missing" | "ffmpeg_failed";
}

/** Every camera (disabled ones too: their footage is still read), by id, so ties go to the older camera. */
const camerasById = (db: Database) => listCameras(db).sort((a, b) => a.id - b.id);

/** Relative path of sampled frame k of segment `abs` of camera `cameraId`. */
export const frameRelPath = (cameraId: number, abs: number, k: number) => `frames/${cameraId}/${abs}-${k}.jpg`;

/** One sampled frame, as `queueFrameTx` records it. */
export interface FrameInput {
  cameraId: number;
  cameraKey: string;
  absoluteIndex: number;
  frameIdx: number;
  /** Frame time, ms UTC. */
  ts: number;
  /** The frame file relative to data_dir (already on disk). */
  ref: string;
}

/** Queues the `vehicle_detect` task of a frame that is on disk (inside a transaction); returns the task id. */
export function queueFrameTx(db: Database, f: FrameInput): number {
  return insertTaskTx(db, {
    category: "vehicle_detect",
    payload: { payload_ref: f.ref },
    videoId: `${f.cameraKey}:${f.absoluteIndex}`,
    frameIdx: f.frameIdx,
    meta: { camera_id: f.cameraId, camera_key: f.cameraKey, ts: f.ts, payload_ref: f.ref },
    dependencies: [f.ref],
  });
}

/** Reads closed segments into frames and tasks, one segment per `step()`. */
export class FrameSampler {
  /** Camera whose segment is being read now (the dispatcher must not flush its tracks). */
  readonly busy = new Set<number>();
  private skipping = false;

  constructor(private readonly o: SamplerOptions) {}

  /** The watermark of a camera, initialised on first use (see the module comment). */
  watermark(cameraId: number): number {
    const name = COUNTERS.sampled(cameraId);
    const w = getCounter(this.o.db, name);
    if (w !== null) return w;
    const max = newestSegmentIndex(this.o.db, cameraId);
    const init = max === null ? -1 : max - this.o.backfillSegments;
    setCounter(this.o.db, name, init);
    return init;
  }

  /** The oldest closed segment not read yet over all cameras, or null. */
  nextSegment(): CameraSegment | null {
    let best: CameraSegment | null = null;
    for (const cam of camerasById(this.o.db)) {
      const seg = firstSegmentAfter(this.o.db, cam.id, this.watermark(cam.id));
      if (seg && (!best || seg.start_utc < best.start_utc)) best = { ...seg, camera_key: cam.key };
    }
    return best;
  }

  /** Segments waiting to be read, over all cameras. */
  pendingSegments(): number {
    let n = 0;
    for (const cam of camerasById(this.o.db)) n += countSegmentsAfter(this.o.db, cam.id, this.watermark(cam.id));
    return n;
  }

  /** Reads (or skips) the next segment; null when there is none. */
  async step(): Promise<SampleOutcome | null> {
    const seg = this.nextSegment();
    if (!seg) return null;
    this.busy.add(seg.camera_id);
    try {
      return await this.sample(seg);
    } finally {
      this.busy.delete(seg.camera_id);
      this.o.onActivity?.(seg.camera_id);
    }
  }

  private expectedFrames(seg: CameraSegment): number {
    return Math.max(1, Math.ceil(((seg.end_utc - seg.start_utc) / 1000) * this.o.sampleFps));
  }

  /** Advances the watermark and counts a skipped segment (one transaction). */
  private skip(seg: CameraSegment, reason: SampleOutcome["reason"], detail: string): SampleOutcome {
    const db = this.o.db;
    const n = this.expectedFrames(seg);
    db.transaction(() => {
      addCounter(db, COUNTERS.skippedFrames, n);
      addCounter(db, COUNTERS.skippedCamera(seg.camera_id), n);
      setCounter(db, COUNTERS.sampled(seg.camera_id), seg.absolute_index);
      setCounter(db, COUNTERS.horizon(seg.camera_id), seg.end_utc);
      if (reason !== "backlog" || !this.skipping)
        logEvent(db, {
          kind: reason === "backlog" ? "alpr.backlog" : "alpr.segment_skipped",
          level: "warn",
          cameraId: seg.camera_id,
          message: `ALPR skipped ${n} frame(s) of segment ${seg.absolute_index} of camera ${seg.camera_key}: ${detail}`,
          data: { absolute_index: seg.absolute_index, frames: n, reason },
        });
    })();
    if (reason === "backlog") this.skipping = true;
    return { cameraId: seg.camera_id, absoluteIndex: seg.absolute_index, frames: 0, skipped: n, reason };
  }

  private async sample(seg: CameraSegment): Promise<SampleOutcome> {
    const db = this.o.db;
    const backlog = frameBacklog(db);
    if (backlog >= this.o.maxQueue) return this.skip(seg, "backlog", `${backlog} frame tasks waiting (max_queue ${this.o.maxQueue})`);
    this.skipping = false;
    // read-lock first, then check the file: retention never deletes a locked segment
    const lock = acquireReadLock(db, [seg.id]);
    const src = resolveInside(this.o.dataDir, seg.rel_path);
    if (lock.segmentIds.length === 0 || !existsSync(src)) {
      lock.release();
      return this.skip(seg, "missing", "segment file is gone");
    }
    const dirRel = `frames/${seg.camera_id}`;
    const dir = resolveInside(this.o.dataDir, dirRel);
    const tmp = join(dir, `tmp-${seg.absolute_index}`);
    let run: FfmpegRun;
    try {
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      const args = [
        "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1",
        "-i", src, "-an", "-sn", "-dn", "-vf", `fps=${this.o.sampleFps}`, "-q:v", "2",
        "-start_number", "0", "-f", "image2", join(tmp, "%06d.jpg"),
      ];
      run = await runFfmpeg(args, { ffmpegPath: this.o.ffmpegPath, onSpawn: (this.o.nice ?? true) ? lowerPriority : undefined });
    } finally {
      lock.release();
    }
    const files = readdirSync(tmp).filter((f) => /^\d{6}\.jpg$/.test(f)).sort();
    if (files.length === 0) {
      rmSync(tmp, { recursive: true, force: true });
      return this.skip(seg, "ffmpeg_failed", `ffmpeg produced no frame (exit ${run.code}): ${lastStderrLine(run)}`);
    }
    // each frame made durable under its final name (fsync, rename), one directory fsync for all,
    // before the transaction that queues tasks on them
    let frameDir = "";
    const frames = files.map((f) => {
      const k = Number(f.slice(0, 6));
      const ref = frameRelPath(seg.camera_id, seg.absolute_index, k);
      const finalPath = resolveInside(this.o.dataDir, ref);
      commitTempFile(join(tmp, f), finalPath, { syncDir: false });
      frameDir = dirname(finalPath);
      return { k, ref };
    });
    if (frameDir) fsyncPath(frameDir);
    rmSync(tmp, { recursive: true, force: true });
    db.transaction(() => {
      for (const { k, ref } of frames)
        queueFrameTx(db, {
          cameraId: seg.camera_id,
          cameraKey: seg.camera_key,
          absoluteIndex: seg.absolute_index,
          frameIdx: k,
          ts: Math.round(seg.start_utc + (k * 1000) / this.o.sampleFps),
          ref,
        });
      addCounter(db, COUNTERS.sampledFrames, frames.length);
      setCounter(db, COUNTERS.sampled(seg.camera_id), seg.absolute_index);
      setCounter(db, COUNTERS.horizon(seg.camera_id), seg.end_utc);
      if (run.code !== 0)
        logEvent(db, {
          kind: "alpr.segment_partial",
          level: "warn",
          cameraId: seg.camera_id,
          message: `ALPR read ${frames.length} frame(s) of damaged segment ${seg.absolute_index} of camera ${seg.camera_key}: ${lastStderrLine(run)}`,
        });
    })();
    return { cameraId: seg.camera_id, absoluteIndex: seg.absolute_index, frames: frames.length, skipped: 0, reason: "sampled" };
  }
}

/**
 * Start-up repair of `<data_dir>/frames`: deletes every frame file no unfinished task depends
 * on (crash leftovers) and temporary extraction folders. Returns how many files were deleted.
 */
export function sweepFrames(db: Database, dataDir: string): number {
  const root = resolveInside(dataDir, "frames");
  if (!existsSync(root)) return 0;
  let deleted = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      const st = statSync(full);
      if (st.isDirectory()) {
        if (name.startsWith("tmp-")) rmSync(full, { recursive: true, force: true });
        else walk(full);
      } else {
        const ref = relative(resolve(dataDir), full).split("\\").join("/");
        if (countFrameDependents(db, ref) === 0) {
          rmSync(full, { force: true });
          deleted++;
        }
      }
    }
  };
  walk(root);
  return deleted;
}
