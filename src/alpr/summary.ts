/**
 * `summary`: writes one `vehicles` row per vehicle pass (a closed track) and raises watchlist
 * alerts.
 *
 * For a queued summary task (meta = the plate_smooth result, see dispatcher.ts):
 * 1. cuts a snapshot JPEG from the best frame of the winning plate: the vehicle box (or, with
 *    no vehicle detector, a region around the plate: 4 plate widths x 6 plate heights), plus a
 *    10 % margin, scaled to at most 640 px wide; ffmpeg (`runFfmpeg`) at nice 19, off the event loop;
 *    kept as `<data_dir>/plates/<camera_id>/<YYYY-MM-DD>/<track_id>.jpg` (written to a
 *    temporary name, then fsynced and renamed: `commitTempFile`, src/fsx.ts). A frame that is gone or unreadable gives a row without a
 *    snapshot (the read is not lost);
 * 2. in one transaction: the `vehicles` row (idempotent: UNIQUE(video_id, frame_idx,
 *    track_id), so a repeated summary is a no-op), for a new row one `event_log` row
 *    (`alpr.watchlist`, level warn) per matching watchlist plate, and the task's result;
 * 3. after the commit, publishes a LiveBus `alert` per match (and the event_log event).
 */
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { completeTaskTx, COUNTERS, type Task } from "../db/alprTasks.ts";
import { addCounter } from "../db/counters.ts";
import { insertVehicleTx } from "../db/vehicles.ts";
import { matchWatchlist } from "../db/watchlist.ts";
import { logEvent } from "../db/eventLog.ts";
import type { LiveBus, LiveEvent } from "../events.ts";
import { commitTempFile, discardTemp, TEMP_PREFIX } from "../fsx.ts";
import { runFfmpeg } from "../media/ffmpeg.ts";
import { resolveInside } from "../paths.ts";
import { lastStderrLine, lowerPriority } from "./backgroundFfmpeg.ts";
import type { SmoothResult } from "./dispatcher.ts";
import type { Box } from "./tracker.ts";

export interface SummaryOptions {
  db: Database;
  dataDir: string;
  ffmpegPath: string;
  bus?: LiveBus | null;
  /** 0 = exact watchlist match, 1 = one edit away also matches. */
  watchlistMaxEdits?: number;
  /** Run ffmpeg at nice 19 (default true). */
  nice?: boolean;
}

/** Relative path of a vehicle pass's snapshot. */
export function snapshotRelPath(cameraId: number | null, ts: number, trackId: number): string {
  const day = new Date(ts).toISOString().slice(0, 10);
  return join("plates", String(cameraId ?? 0), day, `${trackId}.jpg`);
}

/** The region of the frame the snapshot shows (pixels, clipped to the frame). */
export function snapshotRegion(car: Box | null, plate: Box, width: number, height: number): Box {
  let [x, y, w, h] = car ?? [plate[0] + plate[2] / 2 - plate[2] * 2, plate[1] + plate[3] / 2 - plate[3] * 4, plate[2] * 4, plate[3] * 6];
  x -= w * 0.1;
  y -= h * 0.1;
  w *= 1.2;
  h *= 1.2;
  const x0 = Math.max(0, Math.floor(x));
  const y0 = Math.max(0, Math.floor(y));
  const x1 = Math.min(width, Math.ceil(x + w));
  const y1 = Math.min(height, Math.ceil(y + h));
  // even sizes keep every JPEG encoder happy with 4:2:0 chroma
  const ww = Math.max(2, (x1 - x0) & ~1);
  const hh = Math.max(2, (y1 - y0) & ~1);
  return [x0, y0, Math.min(ww, width - x0), Math.min(hh, height - y0)];
}

/** Cuts the snapshot with ffmpeg; returns the relative path, or null (logged by the caller). */
export async function cutSnapshot(o: SummaryOptions, s: SmoothResult): Promise<{ path: string | null; error: string | null }> {
  const b = s.best;
  const src = resolveInside(o.dataDir, b.ref);
  if (!existsSync(src)) return { path: null, error: `frame ${b.ref} is gone` };
  const rel = snapshotRelPath(s.camera_id, b.ts, s.track_id);
  const out = resolveInside(o.dataDir, rel);
  mkdirSync(dirname(out), { recursive: true });
  // a fixed temp name (not tempPathFor's random one): a summary repeated after a crash
  // overwrites the half-written file instead of leaving it behind; it ends in .jpg like the
  // final name, so ffmpeg picks the same muxer
  const tmp = join(dirname(out), `${TEMP_PREFIX}${basename(out)}`);
  const filters: string[] = [];
  if (b.width && b.height) {
    const [x, y, w, h] = snapshotRegion(b.carBox, b.plateBox, b.width, b.height);
    if (w >= 2 && h >= 2) filters.push(`crop=${w}:${h}:${x}:${y}`);
  }
  filters.push("scale='min(640,iw)':-2");
  const args = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", src, "-vf", filters.join(","), "-frames:v", "1", "-q:v", "4", tmp];
  const run = await runFfmpeg(args, { ffmpegPath: o.ffmpegPath, onSpawn: (o.nice ?? true) ? lowerPriority : undefined });
  if (run.code !== 0 || !existsSync(tmp)) {
    discardTemp(tmp);
    return { path: null, error: `snapshot failed: ${lastStderrLine(run)}` };
  }
  commitTempFile(tmp, out);
  return { path: rel, error: null };
}

/**
 * Runs one summary task (see the module comment). Returns the vehicles row id. Safe to repeat.
 */
export async function runSummary(o: SummaryOptions, task: Task): Promise<{ vehicleId: number; inserted: boolean; alerts: number }> {
  const s = task.meta as unknown as SmoothResult;
  const snap = await cutSnapshot(o, s);
  const events: LiveEvent[] = [];
  const out = o.db.transaction(() => {
    const b = s.best;
    const v = insertVehicleTx(o.db, {
      trackId: s.track_id,
      videoId: b.videoId,
      frameIdx: b.frameIdx,
      ts: b.ts,
      finalPlate: s.final_plate,
      plateConfidence: s.confidence,
      carBbox: b.carBox,
      plateBbox: b.plateBox,
      cameraId: s.camera_id,
      snapshotPath: snap.path,
    });
    let alerts = 0;
    if (v.inserted) {
      addCounter(o.db, COUNTERS.vehicles, 1);
      for (const w of matchWatchlist(o.db, s.final_plate, o.watchlistMaxEdits ?? 0)) {
        const message = `Watchlist plate ${w.plate} seen${s.camera_key ? ` on camera ${s.camera_key}` : ""} (read ${s.final_plate}, confidence ${s.confidence.toFixed(2)})`;
        const id = logEvent(o.db, {
          kind: "alpr.watchlist",
          level: "warn",
          cameraId: s.camera_id,
          message,
          at: Date.now(),
          data: { vehicle_id: v.id, plate: s.final_plate, watched: w.plate, note: w.note, ts: b.ts, video_id: b.videoId, frame_idx: b.frameIdx },
        });
        events.push({ type: "alert", kind: "alpr.watchlist", plate: s.final_plate, watched: w.plate, cameraKey: s.camera_key, ts: b.ts, vehicleId: v.id, message });
        events.push({ type: "event_log", id, kind: "alpr.watchlist", message });
        alerts++;
      }
    }
    completeTaskTx(o.db, task.id, { vehicle_id: v.id, inserted: v.inserted, alerts, snapshot: snap.path, snapshot_error: snap.error }, "done");
    return { vehicleId: v.id, inserted: v.inserted, alerts };
  })();
  for (const e of events) o.bus?.publish(e);
  return out;
}
