/**
 * JPEG snapshots from the ring (one decoded frame; the only decoding the device does on demand).
 *
 * - `snapshotAt(db, dataDir, { cameraId, atUtc })`: the frame at `atUtc` — the segment holding
 *   that instant is read from the byte offset of its keyframe at or before `atUtc`
 *   (`-skip_initial_bytes`; an input `-ss` on MPEG-TS can land after that keyframe, see
 *   `keyframes` in export.ts), then decoded forward with an output `-ss` to the exact frame;
 *   one frame, MJPEG quality 3 (`-q:v`, 2 best .. 31 worst).
 * - `snapshotLive(db, dataDir, { cameraId })`: the last keyframe of the newest closed segment
 *   (`-skip_frame nokey`: only keyframes are decoded, cheap on a Pi); `atUtc` is that
 *   keyframe's time, from ffmpeg's `showinfo` pts relative to the segment's first frame.
 *
 * The segment is read-locked while ffmpeg reads it (src/db/locks.ts). Results are returned in
 * memory (a JPEG is ~20-300 KB); `saveSnapshot` writes one to `exports/` crash-safely
 * (`writeFileAtomic` of src/fsx.ts: temp name, fsync, rename, directory fsync). Errors: MediaRequestError (bad time 400, unknown camera 404, no footage at
 * that time 404) and ExportFailedError (ffmpeg failed or was cancelled), as in export.ts.
 */
import type { Database } from "bun:sqlite";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { logEvent } from "../db/eventLog.ts";
import { acquireRangeReadLock, acquireReadLock } from "../db/locks.ts";
import { latestSegment } from "../db/segments.ts";
import { discardTemp, tempPathFor, writeFileAtomic } from "../fsx.ts";
import { redact } from "../log.ts";
import { resolveInside } from "../paths.ts";
import { EXPORTS_DIR, ExportFailedError, MediaRequestError, cameraKeyOf, keyframeAtOrBefore, keyframes, parseUtc } from "./export.ts";
import { runFfmpeg } from "./ffmpeg.ts";

export interface Snapshot {
  jpeg: Uint8Array;
  /** Time of the frame (ms UTC). */
  atUtc: number;
  cameraId: number;
  /** The segment it was read from; null for a frame of the live stream (the current-frame service). */
  segmentId: number | null;
}

/** True when `bytes` starts with a JPEG start-of-image marker (FF D8). */
const isJpeg = (bytes: Uint8Array) => bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8;

/** The frame of camera `cameraId` at `atUtc` (ms UTC). */
export async function snapshotAt(db: Database, dataDir: string, req: { cameraId: number; atUtc: number; signal?: AbortSignal }): Promise<Snapshot> {
  const at = parseUtc(req.atUtc, "at");
  const key = cameraKeyOf(db, req.cameraId);
  using lock = acquireRangeReadLock(db, req.cameraId, at, at + 1);
  const seg = lock.segments[0];
  if (!seg) throw new MediaRequestError("no_footage", `camera ${key} has no footage at ${new Date(at).toISOString()}`, 404);
  const path = resolveInside(dataDir, seg.rel_path);
  const offsetMs = Math.max(0, at - seg.start_utc);
  // read from the keyframe before `at` (byte offset), then decode forward to the exact frame
  const kf = keyframeAtOrBefore(await keyframes(path), offsetMs);
  const run = await runFfmpeg(
    [
      "-hide_banner", "-nostdin", "-loglevel", "error",
      "-skip_initial_bytes", String(kf.pos),
      "-i", path,
      "-ss", ((offsetMs - kf.ms) / 1000).toFixed(3),
      "-map", "0:v:0", "-frames:v", "1", "-an",
      "-c:v", "mjpeg", "-q:v", "3",
      "-f", "image2pipe", "pipe:1",
    ],
    { signal: req.signal, captureStdout: true },
  );
  const jpeg = run.stdout;
  if (run.code !== 0 || !isJpeg(jpeg)) {
    throw new ExportFailedError(`snapshot failed: ${run.aborted ? "cancelled" : `ffmpeg exited with ${run.code}: ${run.stderr}`}`, run.aborted);
  }
  return { jpeg, atUtc: at, cameraId: req.cameraId, segmentId: seg.id };
}

/** The last keyframe of the camera's newest closed segment. */
export async function snapshotLive(db: Database, dataDir: string, req: { cameraId: number; signal?: AbortSignal }): Promise<Snapshot> {
  const key = cameraKeyOf(db, req.cameraId);
  // select + lock in one transaction so retention cannot slip in between
  const picked = db.transaction(() => {
    const row = latestSegment(db, req.cameraId);
    return row ? { row, lock: acquireReadLock(db, [row.id]) } : null;
  })();
  if (!picked) throw new MediaRequestError("no_footage", `camera ${key} has no recorded segment yet`, 404);
  using _lock = picked.lock;
  const seg = picked.row;
  const dir = join(dataDir, EXPORTS_DIR);
  mkdirSync(dir, { recursive: true });
  // ffmpeg's image2 muxer overwrites one file per keyframe (`-update 1`); this scratch file is
  // read back and deleted, never made final
  const tmp = tempPathFor(join(dir, `live-${key}`), ".jpg");
  let lastPts: number | null = null;
  let firstPts: number | null = null;
  try {
    const run = await runFfmpeg(
      [
        "-hide_banner", "-nostdin", "-loglevel", "info",
        "-skip_frame", "nokey",
        "-i", resolveInside(dataDir, seg.rel_path),
        "-map", "0:v:0", "-an", "-vf", "showinfo", "-vsync", "0",
        "-c:v", "mjpeg", "-q:v", "3",
        "-update", "1", "-f", "image2", "-y", tmp,
      ],
      { signal: req.signal },
    );
    const { code, stderrText: err } = run;
    for (const m of err.matchAll(/Parsed_showinfo.*?pts_time:\s*(-?[\d.]+)/g)) {
      const t = Number(m[1]);
      if (firstPts === null) firstPts = t;
      lastPts = t;
    }
    let jpeg: Uint8Array;
    try {
      jpeg = new Uint8Array(readFileSync(tmp));
    } catch {
      jpeg = new Uint8Array();
    }
    if (code !== 0 || !isJpeg(jpeg)) {
      const tail = err.trim().split("\n").filter((l) => !l.includes("showinfo")).slice(-2).join(" | ").slice(0, 300);
      throw new ExportFailedError(`live snapshot failed: ${run.aborted ? "cancelled" : `ffmpeg exited with ${code}: ${redact(tail)}`}`, run.aborted);
    }
    const atUtc = firstPts !== null && lastPts !== null ? Math.min(seg.end_utc, seg.start_utc + Math.round((lastPts - firstPts) * 1000)) : seg.end_utc;
    return { jpeg, atUtc, cameraId: req.cameraId, segmentId: seg.id };
  } finally {
    discardTemp(tmp);
  }
}

/**
 * Writes a snapshot to `exports/<camera>-<time>.jpg` crash-safely (`writeFileAtomic`: temp,
 * fsync, rename, fsync dir) and logs `export.snapshot`. Returns the path relative to data_dir.
 */
export function saveSnapshot(db: Database, dataDir: string, snap: Snapshot): string {
  const key = cameraKeyOf(db, snap.cameraId);
  const dir = join(dataDir, EXPORTS_DIR);
  mkdirSync(dir, { recursive: true });
  const name = `${key}-${new Date(snap.atUtc).toISOString().replace(/[-:]/g, "").replace("T", "-").replace(/Z$/, "Z")}.jpg`;
  const rel = join(EXPORTS_DIR, name);
  writeFileAtomic(join(dataDir, rel), snap.jpeg);
  logEvent(db, { kind: "export.snapshot", cameraId: snap.cameraId, message: `snapshot ${rel} (${snap.jpeg.length} bytes)`, data: { relPath: rel, atUtc: snap.atUtc } });
  return rel;
}

