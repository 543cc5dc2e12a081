/**
 * Vehicle tracks: plate readings of one vehicle across sampled frames, grouped by time and
 * box overlap (IoU), the usual greedy tracking-by-detection association (as in SORT, Bewley et
 * al. 2016, without the motion model: at 1-2 sampled frames per second a plate moves little
 * relative to its size, and a text check separates different vehicles that overlap).
 *
 * A reading joins an open track of the same camera when all hold:
 * - time: the reading is within `gapMs` of the track's span [first_ts, last_ts];
 * - geometry: against the track's reading nearest in time, IoU of the vehicle boxes >= `iou`
 *   (when both have one) or IoU of the plate boxes >= `iou`;
 * - text: at most `maxTextEdits` edits (default 2) from a text already in the track;
 * - the track has no reading of the same frame (two plates in one frame are two vehicles);
 * - the track would not span more than `maxSpanMs` (a car parked in view yields one pass per
 *   span instead of a track that never closes).
 * The best candidate is the one with the largest IoU. Pure functions, no I/O; the state lives
 * in the `plate_smooth` task's `meta` (see dispatcher.ts).
 */
import { editDistance } from "../plateText.ts";

/** `[x, y, w, h]` in pixels, top-left origin. */
export type Box = [number, number, number, number];

export interface TrackReading {
  /** The `ocr` task that produced it. */
  taskId: number;
  /** Frame time, ms UTC. */
  ts: number;
  text: string;
  confidence: number;
  carBox: Box | null;
  plateBox: Box;
  /** Frame file (payload_ref), its video_id and frame_idx. */
  ref: string;
  videoId: string;
  frameIdx: number;
  width: number | null;
  height: number | null;
}

/** What a `plate_smooth` task's meta holds while its track is open. */
export interface TrackMeta {
  camera_id: number;
  camera_key: string | null;
  first_ts: number;
  last_ts: number;
  readings: TrackReading[];
}

export interface OpenTrack {
  id: number;
  meta: TrackMeta;
}

export interface TrackOptions {
  gapMs: number;
  iou: number;
  maxTextEdits?: number;
  maxSpanMs?: number;
  /** Readings kept per track (lowest confidence dropped beyond it). */
  maxReadings?: number;
}

/** Intersection over union of two boxes; 0 when either is empty. */
export function iou(a: Box | null | undefined, b: Box | null | undefined): number {
  if (!a || !b) return 0;
  const [ax, ay, aw, ah] = a;
  const [bx, by, bw, bh] = b;
  if (aw <= 0 || ah <= 0 || bw <= 0 || bh <= 0) return 0;
  const ix = Math.max(0, Math.min(ax + aw, bx + bw) - Math.max(ax, bx));
  const iy = Math.max(0, Math.min(ay + ah, by + bh) - Math.max(ay, by));
  const inter = ix * iy;
  return inter / (aw * ah + bw * bh - inter);
}

/** The open track a reading belongs to, or null (start a new one). */
export function matchTrack(r: TrackReading, cameraId: number, tracks: readonly OpenTrack[], o: TrackOptions): OpenTrack | null {
  const maxEdits = o.maxTextEdits ?? 2;
  const maxSpan = o.maxSpanMs ?? 60_000;
  let best: OpenTrack | null = null;
  let bestScore = -1;
  for (const t of tracks) {
    const m = t.meta;
    if (m.camera_id !== cameraId) continue;
    if (r.ts < m.first_ts - o.gapMs || r.ts > m.last_ts + o.gapMs) continue;
    if (Math.max(m.last_ts, r.ts) - Math.min(m.first_ts, r.ts) > maxSpan) continue;
    if (m.readings.some((x) => x.ref === r.ref)) continue;
    if (!m.readings.some((x) => editDistance(x.text, r.text, maxEdits) <= maxEdits)) continue;
    let nearest = m.readings[0];
    for (const x of m.readings) if (Math.abs(x.ts - r.ts) < Math.abs(nearest.ts - r.ts)) nearest = x;
    const geo = Math.max(r.carBox && nearest.carBox ? iou(r.carBox, nearest.carBox) : 0, iou(r.plateBox, nearest.plateBox));
    if (geo < o.iou) continue;
    if (geo > bestScore) {
      best = t;
      bestScore = geo;
    }
  }
  return best;
}

/** A new track's meta from its first reading. */
export function newTrack(r: TrackReading, cameraId: number, cameraKey: string | null): TrackMeta {
  return { camera_id: cameraId, camera_key: cameraKey, first_ts: r.ts, last_ts: r.ts, readings: [r] };
}

/** The track's meta with one more reading (a new object). */
export function addReading(m: TrackMeta, r: TrackReading, maxReadings = 100): TrackMeta {
  let readings = [...m.readings, r].sort((a, b) => a.ts - b.ts);
  if (readings.length > maxReadings) {
    const weakest = readings.reduce((w, x) => (x.confidence < w.confidence ? x : w));
    readings = readings.filter((x) => x !== weakest);
  }
  return { ...m, first_ts: Math.min(m.first_ts, r.ts), last_ts: Math.max(m.last_ts, r.ts), readings };
}

/** Per-camera progress of the pipeline, as the dispatcher sees it. */
export interface CameraProgress {
  /** Smallest frame time (ms) of a frame task not finished yet (or with an unhandled result). */
  minUnfinishedTs: number | null;
  /** Every frame up to this time (ms) has been sampled into tasks (or skipped). */
  horizon: number | null;
  /** Nothing pending for the camera (no unfinished task, no segment waiting) for `track_flush_ms`. */
  idle: boolean;
}

/**
 * A track is closed (ready for plate_smooth) when no reading can join it any more: every frame
 * up to `last_ts + gapMs` is finished, and either the sampled footage reaches past that time or
 * the camera has been idle (recording stopped) for the flush delay.
 */
export function trackClosed(m: TrackMeta, p: CameraProgress, gapMs: number): boolean {
  const bound = m.last_ts + gapMs;
  if (p.minUnfinishedTs !== null && p.minUnfinishedTs <= bound) return false;
  if (p.horizon !== null && p.horizon > bound) return true;
  return p.idle && p.minUnfinishedTs === null;
}
