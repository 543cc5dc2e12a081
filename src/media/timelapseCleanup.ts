/**
 * Deleting timelapse files crash-safely, with the garbage protocol segments use (Moonfire NVR's,
 * src/db/garbage.ts): (1) one transaction deletes the rows and adds `garbage` rows for their
 * files, (2) unlink, (3) fsync the directories, (4) delete the garbage rows. A crash in between
 * leaves garbage rows, which start-up reconciliation finishes; never a row without its file.
 *
 * - `sweepTimelapseImages`: images older than their camera's `keep_images_days` (default 30)
 *   that no pending/processing batch and no checkpoint/manual batch uses (seed 004: "remove old
 *   images not referenced by active batches"), nor a batch shown by a gallery share that is
 *   active and not expired (the gallery shows those stills); a completed continuous video keeps
 *   playing, its next regeneration simply has fewer images. Capture attempts older than that which name no
 *   image (failures, and successes whose image went) go too.
 * - `deleteTimelapseBatch`: a batch's row, its junction rows (cascade) and its video.
 */
import type { Database } from "bun:sqlite";
import { existsSync, readdirSync, rmdirSync, statSync, unlinkSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { CameraConfig } from "../config.ts";
import { listCameras } from "../db/cameras.ts";
import { deleteGarbageRows } from "../db/garbage.ts";
import { logEvent } from "../db/eventLog.ts";
import {
  allBatchOutputs,
  allImageFiles,
  batchById,
  batchToGarbage,
  expiredImages,
  imageById,
  imagesToGarbage,
  pruneCaptureAttempts,
  timelapseFileKnown,
} from "../db/timelapse.ts";
import { fsyncDirIfPresent, TEMP_PREFIX } from "../fsx.ts";
import { log } from "../log.ts";
import { IMAGES_DIR, VIDEOS_DIR } from "./timelapse.ts";

/** Default image retention when a camera has no `keep_images_days`, days. */
export const DEFAULT_KEEP_IMAGES_DAYS = 30;

/** Steps (2)-(4) for garbage rows made by step (1): unlink each file, fsync each directory once, delete the rows. */
function finishGarbage(db: Database, dataDir: string, rows: readonly { id: number; rel_path: string }[]): void {
  const dirs = new Set<string>();
  for (const g of rows) {
    const abs = join(dataDir, g.rel_path);
    try {
      unlinkSync(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    dirs.add(dirname(abs));
  }
  for (const d of dirs) fsyncDirIfPresent(d);
  deleteGarbageRows(
    db,
    rows.map((r) => r.id),
  );
  // an emptied day folder of images goes too (best effort)
  for (const d of dirs) {
    if (!d.includes(`/${IMAGES_DIR}/`)) continue;
    try {
      if (readdirSync(d).length === 0) {
        rmdirSync(d);
        fsyncDirIfPresent(dirname(d));
      }
    } catch {
      /* not empty after all, or gone */
    }
  }
}

/**
 * Deletes expired images of every camera (see the module comment), `now` in Unix ms. Returns the
 * number deleted. Logs one `timelapse.cleanup` event row when it deleted any.
 */
export function sweepTimelapseImages(db: Database, dataDir: string, cameras: ReadonlyMap<string, CameraConfig>, now = Date.now()): number {
  let deleted = 0;
  for (const cam of listCameras(db)) {
    const days = cameras.get(cam.key)?.timelapse?.keep_images_days ?? DEFAULT_KEEP_IMAGES_DAYS;
    const before = now - days * 86_400_000;
    for (;;) {
      const expired = expiredImages(db, cam.id, before, 500, now);
      if (expired.length === 0) break;
      const garbage = imagesToGarbage(db, expired, now);
      finishGarbage(db, dataDir, garbage);
      deleted += garbage.length;
      if (garbage.length === 0) break;
    }
    pruneCaptureAttempts(db, cam.id, before);
  }
  if (deleted > 0) logEvent(db, { kind: "timelapse.cleanup", at: now, message: `timelapse: ${deleted} expired image(s) deleted`, data: { deleted } });
  return deleted;
}

/** `sweepTimelapseImages` for the maintenance run: never throws (errors are logged). */
export function sweepTimelapse(db: Database, dataDir: string, cameras: ReadonlyMap<string, CameraConfig>, now = Date.now()): number {
  try {
    return sweepTimelapseImages(db, dataDir, cameras, now);
  } catch (err) {
    log.warn(`maintenance: timelapse image cleanup failed: ${(err as Error).message}`);
    return 0;
  }
}

/**
 * Deletes batch `batchId`: its row and junction rows, and its video file (garbage protocol).
 * The caller has cancelled a render under way first. Returns false for an unknown batch.
 */
export function deleteTimelapseBatch(db: Database, dataDir: string, batchId: number, now = Date.now()): boolean {
  const r = batchToGarbage(db, batchId, now);
  if (!r.found) return false;
  if (r.garbage) finishGarbage(db, dataDir, [r.garbage]);
  return true;
}

/** What `scanTimelapseFiles` found. Paths relative to data_dir. */
export interface TimelapseFindings {
  images: number;
  videos: number;
  /** Image rows whose file is missing or has another size. */
  imageProblems: string[];
  /** Completed batches whose video is missing or has another size. */
  videoProblems: string[];
  /** Image or video files no row names. */
  filesWithoutRows: string[];
  /** Temp files of a write in progress (or left by a crash; start-up removes those). */
  temps: string[];
}

function listTree(dir: string, depth: number): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory() && depth > 0) out.push(...listTree(p, depth - 1));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/**
 * Read-only comparison of the timelapse rows and files (`dashcam check`): image rows without
 * their file (or with another size), completed batches without their video, and image/video
 * files no row names. Safe while capturing: a finding is confirmed against the database after
 * the files were listed (a file is durable before its row, a row is gone before its file).
 */
export function scanTimelapseFiles(db: Database, dataDir: string): TimelapseFindings {
  const f: TimelapseFindings = { images: 0, videos: 0, imageProblems: [], videoProblems: [], filesWithoutRows: [], temps: [] };
  const size = (rel: string): number | null => {
    try {
      return statSync(join(dataDir, rel)).size;
    } catch {
      return null;
    }
  };
  const images = allImageFiles(db);
  const outputs = allBatchOutputs(db).filter((b) => b.status === "completed");
  const files = [...listTree(join(dataDir, IMAGES_DIR), 2), ...listTree(join(dataDir, VIDEOS_DIR), 1)].map((p) => relative(dataDir, p));
  f.images = images.length;
  f.videos = outputs.length;
  for (const img of images) {
    const n = size(img.file_path);
    if (n === null) {
      if (imageById(db, img.id)) f.imageProblems.push(`image ${img.id} has a row but no file (${img.file_path})`);
    } else if (n !== img.file_size_bytes) f.imageProblems.push(`image ${img.id} row says ${img.file_size_bytes} bytes, ${img.file_path} has ${n}`);
  }
  for (const b of outputs) {
    const n = size(b.output_path);
    if (n === null) {
      if (batchById(db, b.id)?.status === "completed") f.videoProblems.push(`timelapse batch ${b.id} is completed but its video ${b.output_path} is missing`);
    } else if (b.file_size_bytes !== null && n !== b.file_size_bytes && batchById(db, b.id)?.status === "completed")
      f.videoProblems.push(`timelapse batch ${b.id} row says ${b.file_size_bytes} bytes, ${b.output_path} has ${n}`);
  }
  for (const rel of files) {
    const name = rel.slice(rel.lastIndexOf("/") + 1);
    if (name.startsWith(TEMP_PREFIX)) {
      f.temps.push(rel);
      continue;
    }
    if (!timelapseFileKnown(db, rel) && existsSync(join(dataDir, rel))) f.filesWithoutRows.push(rel);
  }
  return f;
}
