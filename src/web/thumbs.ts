/**
 * Trip and export thumbnails. Trips: the first frame of a trip's oldest segment still in the ring (`snapshotAt`
 * of src/media/snapshot.ts, which holds a read-lock on the segment while ffmpeg reads it),
 * scaled to THUMB_WIDTH px wide (a second small ffmpeg run on the JPEG, so a 1080p camera does
 * not send 300 KB per list item), cached on disk as `<data_dir>/thumbs/trip-<id>.jpg`
 * (`writeFileAtomic` of src/fsx.ts, so a cache file is always a whole JPEG). A trip's first frame never changes, so the
 * cache never goes stale; a trip whose footage is all overwritten keeps its cached picture.
 *
 * The file path comes only from the trip id (digits), never from the request. Concurrent
 * requests for one trip share one ffmpeg run; all thumbnail and snapshot work goes through
 * the app's `Gate` (bounded concurrency).
 */
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { snapshotAt } from "../media/snapshot.ts";
import { removeTempFiles, writeFileAtomic } from "../fsx.ts";
import { runFfmpeg } from "../media/ffmpeg.ts";
import { firstTripSegment, tripById } from "../db/views.ts";
import type { Gate } from "./gate.ts";

export const THUMBS_DIR = "thumbs";
/** Thumbnail width in pixels (the list shows it at 96-160 CSS px; 2x for sharp phone screens). */
export const THUMB_WIDTH = 320;

const inflight = new Map<string, Promise<string | null>>();

/** Deletes `<data_dir>/thumbs/.tmp-*` left by a crash mid-write; returns how many. Call at start-up. */
export function cleanThumbTemps(dataDir: string): number {
  return removeTempFiles(join(dataDir, THUMBS_DIR));
}

/** Path of a trip's cached thumbnail (may not exist yet). */
export const thumbPath = (dataDir: string, tripId: number) => join(dataDir, THUMBS_DIR, `trip-${Math.trunc(tripId)}.jpg`);

/** Scales a JPEG to THUMB_WIDTH wide (never up), MJPEG quality 5. */
async function scaleJpeg(jpeg: Uint8Array): Promise<Uint8Array> {
  const run = await runFfmpeg(
    [
      "-hide_banner", "-nostdin", "-loglevel", "error",
      "-f", "image2pipe", "-c:v", "mjpeg", "-i", "pipe:0",
      "-vf", `scale='min(${THUMB_WIDTH},iw)':-2`,
      "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "5", "-f", "image2pipe", "pipe:1",
    ],
    { input: jpeg, captureStdout: true },
  );
  const bytes = run.stdout;
  if (run.code !== 0 || bytes.length < 2 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new Error(`thumbnail scale failed: ${run.stderr.slice(0, 200)}`);
  return bytes;
}

/** Path of an export's cached thumbnail (may not exist yet); `exportId` is 16 hex digits. */
export const exportThumbPath = (dataDir: string, exportId: string) => join(dataDir, THUMBS_DIR, `export-${exportId.replace(/[^0-9a-f]/g, "")}.jpg`);

/**
 * The absolute path of an export's thumbnail (its first frame: an MP4's first picture or the
 * snapshot JPEG itself, THUMB_WIDTH wide), made on first use from the finished file at `file`
 * and cached as `<data_dir>/thumbs/export-<id>.jpg`. The file never changes under its name,
 * so the cache never goes stale. Errors of ffmpeg propagate (Error, GateFullError).
 */
export async function exportThumbnail(dataDir: string, exportId: string, file: string, gate: Gate): Promise<string> {
  const path = exportThumbPath(dataDir, exportId);
  if (existsSync(path)) return path;
  const running = inflight.get(path);
  if (running) return (await running)!;
  const work = (async () => {
    const jpeg = await gate.run(async () => {
      const run = await runFfmpeg(
        [
          "-hide_banner", "-nostdin", "-loglevel", "error",
          "-i", file,
          "-map", "0:v:0", "-frames:v", "1", "-an",
          "-vf", `scale='min(${THUMB_WIDTH},iw)':-2`,
          "-c:v", "mjpeg", "-q:v", "5", "-f", "image2pipe", "pipe:1",
        ],
        { captureStdout: true },
      );
      const bytes = run.stdout;
      if (run.code !== 0 || bytes.length < 2 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new Error(`export thumbnail failed: ${run.stderr.slice(0, 200)}`);
      return bytes;
    });
    mkdirSync(join(dataDir, THUMBS_DIR), { recursive: true });
    writeFileAtomic(path, jpeg, { syncDir: false });
    return path;
  })();
  inflight.set(path, work);
  try {
    return (await work)!;
  } finally {
    inflight.delete(path);
  }
}

/**
 * The absolute path of trip `tripId`'s thumbnail, made on first use; null when the trip is
 * unknown or has no footage left and no cached thumbnail. Errors of ffmpeg propagate
 * (ExportFailedError, MediaRequestError, GateFullError).
 */
export async function tripThumbnail(db: Database, dataDir: string, tripId: number, gate: Gate): Promise<string | null> {
  const path = thumbPath(dataDir, tripId);
  if (existsSync(path)) return path;
  const key = path;
  const running = inflight.get(key);
  if (running) return running;
  const work = (async () => {
    const trip = tripById(db, tripId);
    if (!trip) return null;
    const seg = firstTripSegment(db, trip);
    if (!seg) return null;
    const jpeg = await gate.run(async () => scaleJpeg((await snapshotAt(db, dataDir, { cameraId: trip.camera_id, atUtc: seg.start_utc })).jpeg));
    mkdirSync(join(dataDir, THUMBS_DIR), { recursive: true });
    // a cache file: a power cut may lose the new name (it is made again), never leave half a JPEG
    writeFileAtomic(path, jpeg, { syncDir: false });
    return path;
  })();
  inflight.set(key, work);
  try {
    return await work;
  } finally {
    inflight.delete(key);
  }
}
