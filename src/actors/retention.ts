/**
 * Ring retention: keeps one camera's ring within its capacity by deleting its OLDEST deletable
 * segments (DESIGN.md invariants 2-4).
 *
 * Capacity (src/config.ts):
 * - `ring_segments`: number of segments without an evidence lock;
 * - `ring_bytes` (optional): total bytes of those segments;
 * - `min_free_bytes` (optional): free space of the data disk (`statfs`, blocks available to
 *   unprivileged users x block size) must stay at or above it.
 *
 * Only segments with `locked = 0 AND evidence_locked = 0` are ever deleted: a transient
 * read-lock (a reader is using the file) or an evidence lock (seed 002) protects a segment.
 * When the byte limit or the free-space floor is still violated and nothing deletable is left,
 * `blocked` says why: the camera then stops recording rather than delete evidence. When only the
 * segment count is exceeded by locked segments, they are simply left.
 *
 * Deletion is crash-safe in the style of Moonfire NVR: (1) one transaction turns the rows into
 * `garbage` rows (delete from segments + insert into garbage); (2) the files are unlinked;
 * (3) the ring directory is fsynced; (4) a second transaction deletes the garbage rows. A crash
 * anywhere leaves garbage rows that start-up reconciliation finishes. One `retention` event_log
 * row per sweep (not per file).
 *
 * Closed trips whose segments are all gone get `fully_evicted = 1`, `evicted_at_utc` (in the
 * same transaction as the row deletion); their ids are returned so the trip machines can be sent
 * EVICTED (this module does not change `trips.status`).
 */
import type { Database } from "bun:sqlite";
import { statfsSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { CameraConfig } from "../config.ts";
import { logEvent } from "../db/eventLog.ts";
import { fsyncDirIfPresent } from "../fsx.ts";
import { deleteGarbageRows, segmentsToGarbage } from "../db/garbage.ts";
import { oldestDeletable, ringUsage, type DeletableSegment } from "../db/segments.ts";
import { markEvictableTrips } from "../db/trips.ts";
import { resolveInside, ringDirRel } from "../paths.ts";
import { log } from "../log.ts";

export interface RetentionResult {
  /** Segments deleted in this sweep. */
  deleted: number;
  /** Their bytes (from the rows). */
  freedBytes: number;
  /** Why the ring cannot be brought within its byte / free-space limit (only locked footage left), else null. */
  blocked: string | null;
  /** Closed trips that became fully evicted in this sweep. */
  evictedTripIds: number[];
}

/** Rows turned into garbage per transaction. */
const BATCH = 500;

/** Bytes available to the program on the file system holding `dir` (statfs bavail x bsize). */
export function freeBytes(dir: string): number {
  const st = statfsSync(dir);
  return Number(st.bavail) * Number(st.bsize);
}

/** How far over capacity the camera's ring is right now. */
function overage(db: Database, dataDir: string, camera: CameraConfig, cameraId: number) {
  const u = ringUsage(db, cameraId);
  const count = Math.max(0, u.count - camera.ring_segments);
  const bytes = camera.ring_bytes !== undefined ? Math.max(0, u.bytes - camera.ring_bytes) : 0;
  let free = 0;
  let freeNow: number | null = null;
  if (camera.min_free_bytes !== undefined) {
    freeNow = freeBytes(dataDir);
    free = Math.max(0, camera.min_free_bytes - freeNow);
  }
  return { count, bytes, free, usedBytes: u.bytes, freeNow };
}

/**
 * Enforces the ring capacity of one camera (see the module comment). Synchronous; a sweep over
 * N deletions costs 2 transactions per 500 segments, N unlinks and one directory fsync per batch.
 * Throws only on database errors; a file already missing is fine.
 */
export function enforceRing(db: Database, dataDir: string, camera: CameraConfig, cameraId: number): RetentionResult {
  const ringDir = join(dataDir, ringDirRel(camera.key));
  let deleted = 0;
  let freedBytes = 0;
  let firstAbs: number | null = null;
  let lastAbs: number | null = null;
  const evicted: number[] = [];
  let blocked: string | null = null;

  for (;;) {
    const over = overage(db, dataDir, camera, cameraId);
    if (over.count === 0 && over.bytes === 0 && over.free === 0) break;
    const candidates = oldestDeletable(db, cameraId, BATCH);
    if (candidates.length === 0) {
      if (over.bytes > 0) {
        blocked = `ring of camera ${camera.key} holds ${over.usedBytes} bytes, over ring_bytes ${camera.ring_bytes}, and every remaining segment is locked`;
      } else if (over.free > 0) {
        blocked = `data disk has ${over.freeNow} bytes free, below min_free_bytes ${camera.min_free_bytes}, and every remaining segment of camera ${camera.key} is locked`;
      }
      break;
    }
    // choose the oldest candidates until every limit is met
    let needCount = over.count;
    let needBytes = over.bytes;
    let needFree = over.free;
    const chosen: DeletableSegment[] = [];
    for (const c of candidates) {
      if (needCount <= 0 && needBytes <= 0 && needFree <= 0) break;
      chosen.push(c);
      needCount--;
      needBytes -= c.bytes ?? 0;
      needFree -= c.bytes ?? 0;
    }
    if (chosen.length === 0) break;

    // (1) rows -> garbage, and trips that lost their last segment, in one transaction
    const now = Date.now();
    const garbage: { id: number; rel_path: string; bytes: number; abs: number }[] = [];
    db.transaction(() => {
      // a segment locked since it was chosen is skipped
      for (const { garbageId, segment: c } of segmentsToGarbage(db, cameraId, chosen, now)) {
        garbage.push({ id: garbageId, rel_path: c.rel_path, bytes: c.bytes ?? 0, abs: c.absolute_index });
      }
      evicted.push(...markEvictableTrips(db, cameraId, now));
    })();
    if (garbage.length === 0) break;

    // (2) unlink, (3) fsync the directory
    for (const g of garbage) {
      try {
        unlinkSync(resolveInside(dataDir, g.rel_path));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "ENOENT") log.warn(`camera ${camera.key}: cannot delete segment ${g.abs}: ${code ?? (err as Error).message}`);
      }
    }
    fsyncDirIfPresent(ringDir);

    // (4) garbage rows done
    deleteGarbageRows(db, garbage.map((g) => g.id));
    for (const g of garbage) {
      deleted++;
      freedBytes += g.bytes;
      if (firstAbs === null || g.abs < firstAbs) firstAbs = g.abs;
      if (lastAbs === null || g.abs > lastAbs) lastAbs = g.abs;
    }
  }

  // trips whose segments went some other way (e.g. closed after their last segment was deleted)
  if (deleted === 0) evicted.push(...markEvictableTrips(db, cameraId, Date.now()));

  if (deleted > 0 || blocked || evicted.length > 0) {
    const parts: string[] = [];
    if (deleted > 0) parts.push(`deleted ${deleted} oldest segments (${firstAbs}..${lastAbs}, ${freedBytes} bytes)`);
    if (evicted.length) parts.push(`trips fully evicted: ${evicted.join(", ")}`);
    if (blocked) parts.push(`blocked: ${blocked}`);
    logEvent(db, {
      kind: "retention",
      level: blocked ? "error" : "info",
      cameraId,
      message: `retention: ${parts.join("; ")}`,
      data: { deleted, freed_bytes: freedBytes, first_absolute: firstAbs, last_absolute: lastAbs, evicted_trip_ids: evicted, blocked },
    });
  }
  return { deleted, freedBytes, blocked, evictedTripIds: evicted };
}
