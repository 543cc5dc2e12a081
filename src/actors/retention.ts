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
import { perDatabase } from "../db/prepared.ts";
import { statfsSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { CameraConfig } from "../config.ts";
import { logEvent } from "../db/eventLog.ts";
import { fsyncDirIfPresent } from "../db/segments.ts";
import { markTripEvicted } from "../db/trips.ts";
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

interface Candidate {
  id: number;
  absolute_index: number;
  rel_path: string;
  bytes: number | null;
}

const statements = perDatabase((db) => ({
  usage: db.prepare(
    `SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM segments
     WHERE camera_id = $camera_id AND evidence_locked = 0`,
  ),
  candidates: db.prepare(
    `SELECT id, absolute_index, rel_path, bytes FROM segments
     WHERE camera_id = $camera_id AND locked = 0 AND evidence_locked = 0
     ORDER BY absolute_index LIMIT $limit`,
  ),
  deleteRow: db.prepare("DELETE FROM segments WHERE id = $id AND locked = 0 AND evidence_locked = 0"),
  insertGarbage: db.prepare(
    `INSERT INTO garbage (camera_id, rel_path, created_at) VALUES ($camera_id, $rel_path, $now)
     ON CONFLICT(rel_path) DO UPDATE SET created_at = excluded.created_at
     RETURNING id`,
  ),
  deleteGarbage: db.prepare("DELETE FROM garbage WHERE id = $id"),
  evictable: db.prepare(
    `SELECT t.id FROM trips t
     WHERE t.camera_id = $camera_id AND t.end_time_utc IS NOT NULL AND t.fully_evicted = 0
       AND NOT EXISTS (SELECT 1 FROM segments s WHERE s.camera_id = t.camera_id
                       AND s.absolute_index BETWEEN t.start_absolute AND t.last_absolute)`,
  ),
}));

/** Bytes available to the program on the file system holding `dir` (statfs bavail x bsize). */
export function freeBytes(dir: string): number {
  const st = statfsSync(dir);
  return Number(st.bavail) * Number(st.bsize);
}

/** How far over capacity the camera's ring is right now. */
function overage(db: Database, dataDir: string, camera: CameraConfig, cameraId: number) {
  const u = statements(db).usage.get({ camera_id: cameraId }) as { n: number; bytes: number };
  const count = Math.max(0, u.n - camera.ring_segments);
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
  const s = statements(db);
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
    const candidates = s.candidates.all({ camera_id: cameraId, limit: BATCH }) as Candidate[];
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
    const chosen: Candidate[] = [];
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
      for (const c of chosen) {
        if (s.deleteRow.run({ id: c.id }).changes === 0) continue; // locked meanwhile
        const g = s.insertGarbage.get({ camera_id: cameraId, rel_path: c.rel_path, now }) as { id: number };
        garbage.push({ id: g.id, rel_path: c.rel_path, bytes: c.bytes ?? 0, abs: c.absolute_index });
      }
      for (const t of s.evictable.all({ camera_id: cameraId }) as { id: number }[]) {
        if (markTripEvicted(db, t.id, now)) evicted.push(t.id);
      }
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
    db.transaction(() => {
      for (const g of garbage) s.deleteGarbage.run({ id: g.id });
    })();
    for (const g of garbage) {
      deleted++;
      freedBytes += g.bytes;
      if (firstAbs === null || g.abs < firstAbs) firstAbs = g.abs;
      if (lastAbs === null || g.abs > lastAbs) lastAbs = g.abs;
    }
  }

  // trips whose segments went some other way (e.g. closed after their last segment was deleted)
  if (deleted === 0) {
    const late = s.evictable.all({ camera_id: cameraId }) as { id: number }[];
    if (late.length) {
      const now = Date.now();
      db.transaction(() => {
        for (const t of late) if (markTripEvicted(db, t.id, now)) evicted.push(t.id);
      })();
    }
  }

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
