/**
 * Saved trips (seed 000 `saved_trips`) and the evidence locks a save puts on a trip's segments
 * (seed 002).
 *
 * A trip being saved (status `saving`) or saved (`saved`) keeps every one of its segments
 * evidence-locked (`evidence_locked = 1`), so retention never deletes them. The lock is tagged
 * with the trip's incident id `trip-<id>` unless the segment already carries a tag (an
 * incident clip's id is never overwritten; the seed's COALESCE rule, applied the other way
 * round: an existing tag wins over the trip's).
 *
 * A saved trip is stored ONCE: its footage is its evidence-locked ring segments (layout `ring`),
 * plus, for trips saved before schema upgrade 3, the copies under `saved/trip-<id>/` that the
 * start-up migration had to keep because the ring no longer held that segment
 * (`saved_trip_files`). Its MP4 is made when it is downloaded (src/media/tripMp4.ts).
 *
 * `saved_trips` has one row per saved trip (primary key `trip_id`), so writing it again (a save
 * resumed after a crash, re-checked when an open trip closes) updates that row and never adds a
 * second one. `saved_dir` and `mp4_path` are relative to data_dir (`saved_dir` is the camera's
 * ring directory for layout `ring`; `mp4_path` is NULL except for a legacy MP4 the migration had
 * to keep); `saved_at_utc` is the time of the first completed save (ms UTC), kept on rewrites.
 *
 * What a saved trip keeps and what it lacks (`keptFootage`) is computed from the rows, never
 * stored: segments of the trip's range with an evidence lock, copies, and the trip's cut (the
 * camera stopped for a full disk while the trip was open, `markTripCut`).
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";
import { logEvent } from "./eventLog.ts";

/** The incident id under which a saved trip's segments are evidence-locked. */
export const tripIncidentId = (tripId: number) => `trip-${tripId}`;

/** Where a saved trip's footage lives: `ring` (evidence-locked segments) or `copies` (before upgrade 3, not migrated yet). */
export type SavedLayout = "ring" | "copies";

/** One `saved_trips` row. */
export interface SavedTripRow {
  trip_id: number;
  saved_dir: string;
  saved_at_utc: number;
  mp4_path: string | null;
  layout: SavedLayout;
}

/** One `saved_trip_files` row: a copy under saved/ that is the only copy of a segment. */
export interface SavedTripFile {
  trip_id: number;
  absolute_index: number;
  /** Relative to data_dir. */
  rel_path: string;
  bytes: number;
  duration_ms: number;
}

const statements = perDatabase((db) => ({
  lockTrip: db.prepare(
    `UPDATE segments SET evidence_locked = 1, incident_id = COALESCE(incident_id, $tag)
     WHERE (evidence_locked = 0 OR incident_id IS NULL)
       AND camera_id = (SELECT camera_id FROM trips WHERE id = $trip_id)
       AND absolute_index BETWEEN (SELECT start_absolute FROM trips WHERE id = $trip_id)
                              AND (SELECT last_absolute FROM trips WHERE id = $trip_id)`,
  ),
  lockOne: db.prepare(
    `UPDATE segments SET evidence_locked = 1, incident_id = COALESCE(incident_id, $tag)
     WHERE id = $id AND (evidence_locked = 0 OR incident_id IS NULL)`,
  ),
  tripStatus: db.prepare("SELECT status, camera_id FROM trips WHERE id = $id"),
  upsert: db.prepare(
    `INSERT INTO saved_trips (trip_id, saved_dir, saved_at_utc, mp4_path, layout)
     VALUES ($trip_id, $saved_dir, $saved_at_utc, $mp4_path, 'ring')
     ON CONFLICT(trip_id) DO UPDATE SET saved_dir = excluded.saved_dir, mp4_path = COALESCE(excluded.mp4_path, saved_trips.mp4_path)`,
  ),
  byTrip: db.prepare("SELECT trip_id, saved_dir, saved_at_utc, mp4_path, layout FROM saved_trips WHERE trip_id = $trip_id"),
  legacy: db.prepare("SELECT trip_id, saved_dir, saved_at_utc, mp4_path, layout FROM saved_trips WHERE layout = 'copies' ORDER BY trip_id"),
  files: db.prepare("SELECT * FROM saved_trip_files WHERE trip_id = $trip_id ORDER BY absolute_index"),
  keepFile: db.prepare(
    `INSERT INTO saved_trip_files (trip_id, absolute_index, rel_path, bytes, duration_ms)
     VALUES ($trip_id, $absolute_index, $rel_path, $bytes, $duration_ms)
     ON CONFLICT(trip_id, absolute_index) DO UPDATE SET rel_path = excluded.rel_path, bytes = excluded.bytes, duration_ms = excluded.duration_ms`,
  ),
  migrated: db.prepare("UPDATE saved_trips SET layout = 'ring', mp4_path = $mp4_path WHERE trip_id = $trip_id"),
  cut: db.prepare(
    `UPDATE trips SET cut_reason = $reason, cut_at_utc = last_time_utc
     WHERE camera_id = $camera_id AND end_time_utc IS NULL AND cut_reason IS NULL RETURNING id`,
  ),
  ringKept: db.prepare(
    `SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes, COALESCE(SUM(end_utc - start_utc), 0) AS ms
     FROM segments WHERE camera_id = $camera_id AND absolute_index BETWEEN $from AND $to AND evidence_locked = 1`,
  ),
  copiesKept: db.prepare(
    `SELECT COUNT(*) AS n, COALESCE(SUM(f.bytes), 0) AS bytes, COALESCE(SUM(f.duration_ms), 0) AS ms
     FROM saved_trip_files f
     WHERE f.trip_id = $trip_id AND NOT EXISTS (
       SELECT 1 FROM segments s WHERE s.camera_id = $camera_id AND s.absolute_index = f.absolute_index AND s.evidence_locked = 1)`,
  ),
  unlockTrip: db.prepare(
    `UPDATE segments SET evidence_locked = 0
     WHERE camera_id = $camera_id AND absolute_index BETWEEN $from AND $to AND evidence_locked = 1 AND incident_id = $tag`,
  ),
  dropFiles: db.prepare("DELETE FROM saved_trip_files WHERE trip_id = $trip_id RETURNING rel_path"),
  dropSaved: db.prepare("DELETE FROM saved_trips WHERE trip_id = $trip_id RETURNING mp4_path"),
  unsaveStatus: db.prepare("UPDATE trips SET status = CASE WHEN end_time_utc IS NULL THEN 'open' ELSE 'closed' END WHERE id = $id AND status = 'saved'"),
  segmentAt: db.prepare("SELECT id, rel_path, bytes, evidence_locked FROM segments WHERE camera_id = $camera_id AND absolute_index = $abs"),
  pointAt: db.prepare(
    `UPDATE segments SET rel_path = $rel_path, bytes = $bytes, evidence_locked = 1, incident_id = COALESCE(incident_id, $tag) WHERE id = $id`,
  ),
  lastSaveEvent: db.prepare(
    `SELECT kind, at, message FROM event_log
     WHERE camera_id = $camera_id AND kind IN ('trip.saving', 'trip.saved', 'trip.save_error', 'trip.unsaved')
       AND json_extract(data, '$.tripId') = $trip_id
     ORDER BY at DESC, id DESC LIMIT 1`,
  ),
  tripRange: db.prepare("SELECT camera_id, start_absolute, last_absolute, end_time_utc, status FROM trips WHERE id = $id"),
  cameraOf: db.prepare("SELECT camera_id FROM trips WHERE id = $id"),
  openPerCamera: db.prepare(
    `SELECT MAX(t.id) AS id FROM trips t JOIN cameras c ON c.id = t.camera_id
     WHERE t.end_time_utc IS NULL GROUP BY t.camera_id ORDER BY c.key`,
  ),
  newest: db.prepare("SELECT id FROM trips WHERE status <> 'evicted' ORDER BY id DESC LIMIT 1"),
}));

/**
 * Evidence-locks every segment of trip `tripId` still in the ring (absolute index in
 * start_absolute..last_absolute), tagging untagged ones `trip-<id>`. Idempotent; returns the
 * number of segments that changed. Writes one `segment.evidence_lock` event row when any did.
 * Safe inside a caller's transaction.
 */
export function lockTripSegments(db: Database, tripId: number, at = Date.now()): number {
  const s = statements(db);
  return db.transaction(() => {
    const changes = s.lockTrip.run({ trip_id: tripId, tag: tripIncidentId(tripId) }).changes;
    if (changes > 0) {
      const cam = s.cameraOf.get({ id: tripId }) as { camera_id: number } | null;
      logEvent(db, {
        kind: "segment.evidence_lock",
        cameraId: cam?.camera_id ?? null,
        at,
        message: `evidence-locked ${changes} segment${changes === 1 ? "" : "s"} of trip ${tripId} (saving it)`,
        data: { tripId, segments: changes, incidentId: tripIncidentId(tripId) },
      });
    }
    return changes;
  })();
}

/**
 * The indexing path: when segment `segmentId` was just added to trip `tripId` and that trip is
 * being saved or saved (status `saving`/`saved`), evidence-lock it too. Returns true when it
 * locked the segment. Meant to run in the same transaction as the segment row.
 */
export function lockIfTripSaved(db: Database, tripId: number, segmentId: number): boolean {
  const s = statements(db);
  const trip = s.tripStatus.get({ id: tripId }) as { status: string; camera_id: number } | null;
  if (!trip || (trip.status !== "saving" && trip.status !== "saved")) return false;
  return s.lockOne.run({ id: segmentId, tag: tripIncidentId(tripId) }).changes > 0;
}

/**
 * Writes the `saved_trips` row of a trip (insert with layout `ring`, or update of `saved_dir`
 * keeping the first `saved_at_utc` and any legacy `mp4_path` the migration kept). Paths relative
 * to data_dir.
 */
export function upsertSavedTrip(db: Database, row: { tripId: number; savedDir: string; savedAtUtc: number; mp4Path: string | null }): void {
  statements(db).upsert.run({ trip_id: row.tripId, saved_dir: row.savedDir, saved_at_utc: row.savedAtUtc, mp4_path: row.mp4Path });
}

/** The `saved_trips` row of a trip, or null. */
export function savedTripOf(db: Database, tripId: number): SavedTripRow | null {
  return (statements(db).byTrip.get({ trip_id: tripId }) as SavedTripRow | null) ?? null;
}

/**
 * The "current" trips, as `dashcam trips save --current` and the GPIO button mean it: each
 * camera's newest open trip (end_time_utc NULL), ordered by camera key; when no camera has an
 * open trip, the newest trip that is not evicted (the one just driven). Empty when there is none.
 */
export function currentTripIds(db: Database): number[] {
  const s = statements(db);
  const open = (s.openPerCamera.all() as { id: number }[]).map((r) => r.id);
  if (open.length > 0) return open;
  const newest = s.newest.get() as { id: number } | null;
  return newest ? [newest.id] : [];
}

/** The copies kept for a saved trip (`saved_trip_files`), oldest segment first. */
export function savedTripFiles(db: Database, tripId: number): SavedTripFile[] {
  return statements(db).files.all({ trip_id: tripId }) as SavedTripFile[];
}

/** Saved trips written before upgrade 3 that the start-up migration has not moved yet (layout `copies`). */
export function legacySavedTrips(db: Database): SavedTripRow[] {
  return statements(db).legacy.all() as SavedTripRow[];
}

/** Records a copy the migration keeps because it is the only copy of segment `absolute_index` (idempotent). */
export function keepSavedTripFile(db: Database, f: SavedTripFile): void {
  statements(db).keepFile.run({ ...f });
}

/** The migration of a legacy saved trip is done: layout `ring`, `mp4_path` = a kept legacy MP4 or null. */
export function markSavedTripMigrated(db: Database, tripId: number, mp4Path: string | null): void {
  statements(db).migrated.run({ trip_id: tripId, mp4_path: mp4Path });
}

/**
 * Camera `cameraId` stopped recording before the drive ended (`reason`, e.g. `disk_full`): its
 * open trip is marked cut at the end of its newest segment (the first cut wins). Returns the trip
 * ids marked. Meant for the transaction that writes the camera's stopped state.
 */
export function markTripCut(db: Database, cameraId: number, reason: string): number[] {
  return (statements(db).cut.all({ camera_id: cameraId, reason }) as { id: number }[]).map((r) => r.id);
}

/** What a trip keeps (evidence-locked ring segments and kept copies) against what it recorded. */
export interface KeptFootage {
  /** Segments the trip recorded (its absolute range). */
  expected: number;
  /** Segments kept: evidence-locked in the ring, or a kept copy. */
  kept: number;
  /** Bytes and recorded time (ms) of what is kept. */
  keptBytes: number;
  keptMs: number;
  /** The trip's length (ms): start to end (or to its newest segment while open). */
  tripMs: number;
}

/** Counts what trip `trip` keeps (see KeptFootage). Two indexed queries. */
export function keptFootage(
  db: Database,
  trip: { id: number; camera_id: number; start_absolute: number; last_absolute: number; start_time_utc: number; end_time_utc: number | null; last_time_utc: number },
): KeptFootage {
  const s = statements(db);
  const ring = s.ringKept.get({ camera_id: trip.camera_id, from: trip.start_absolute, to: trip.last_absolute }) as { n: number; bytes: number; ms: number };
  const copies = s.copiesKept.get({ trip_id: trip.id, camera_id: trip.camera_id }) as { n: number; bytes: number; ms: number };
  return {
    expected: trip.last_absolute - trip.start_absolute + 1,
    kept: ring.n + copies.n,
    keptBytes: ring.bytes + copies.bytes,
    keptMs: ring.ms + copies.ms,
    tripMs: (trip.end_time_utc ?? trip.last_time_utc) - trip.start_time_utc,
  };
}

/** What `unsaveTrip` released. */
export interface UnsaveResult {
  /** Segments whose `trip-<id>` evidence lock was removed (retention may now reclaim them). */
  unlocked: number;
  /** Files (relative to data_dir) no row refers to any more: kept copies and a legacy MP4; the caller deletes them. */
  files: string[];
}

/**
 * Deletes a saved trip (the driver frees space): in one transaction, removes the evidence lock
 * of the trip's segments tagged `trip-<id>` (segments of an incident inside the trip keep
 * theirs), drops its `saved_trips` and `saved_trip_files` rows, sets the status back to
 * `closed` (`open` for a trip still recording), and logs `trip.unsaved`. Throws when the trip is
 * unknown or not saved, or still recording unless `stillRecording` (only the trip's own actor,
 * in `savedOpen`, may do that: it stops locking new segments in the same step).
 */
export function unsaveTrip(db: Database, tripId: number, by: string, at = Date.now(), stillRecording = false): UnsaveResult {
  const s = statements(db);
  return db.transaction(() => {
    const t = s.tripRange.get({ id: tripId }) as { camera_id: number; start_absolute: number; last_absolute: number; end_time_utc: number | null; status: string } | null;
    if (!t) throw new Error(`no trip ${tripId}`);
    if (t.status !== "saved") throw new Error(`trip ${tripId} is not saved (it is ${t.status})`);
    if (t.end_time_utc === null && !stillRecording) throw new Error(`trip ${tripId} is still recording; its actor deletes it`);
    const unlocked = s.unlockTrip.run({ camera_id: t.camera_id, from: t.start_absolute, to: t.last_absolute, tag: tripIncidentId(tripId) }).changes;
    const files = (s.dropFiles.all({ trip_id: tripId }) as { rel_path: string }[]).map((r) => r.rel_path);
    const mp4 = (s.dropSaved.all({ trip_id: tripId }) as { mp4_path: string | null }[]).map((r) => r.mp4_path).filter((p): p is string => !!p);
    s.unsaveStatus.run({ id: tripId });
    logEvent(db, {
      kind: "trip.unsaved",
      cameraId: t.camera_id,
      at,
      message: `${by} deleted saved trip ${tripId}: ${unlocked} segment${unlocked === 1 ? "" : "s"} unlocked for the ring to reclaim${files.length ? `, ${files.length} kept cop${files.length === 1 ? "y" : "ies"} deleted` : ""}`,
      data: { tripId, unlocked, files: files.length, by },
    });
    return { unlocked, files: [...files, ...mp4] };
  })();
}

/** The segment row of camera `cameraId` at `absoluteIndex` (what the migration compares a copy with), or null. */
export function segmentRowAt(db: Database, cameraId: number, absoluteIndex: number): { id: number; rel_path: string; bytes: number | null; evidence_locked: number } | null {
  return (statements(db).segmentAt.get({ camera_id: cameraId, abs: absoluteIndex }) as { id: number; rel_path: string; bytes: number | null; evidence_locked: number } | null) ?? null;
}

/**
 * Makes segment row `segmentId` (of saved trip `tripId`) refer to `relPath` (a kept copy under
 * saved/, `bytes` long) and evidence-locks it: the copy becomes the segment's one file.
 */
export function pointSegmentAt(db: Database, segmentId: number, tripId: number, relPath: string, bytes: number): void {
  statements(db).pointAt.run({ id: segmentId, rel_path: relPath, bytes, tag: tripIncidentId(tripId) });
}

/** Evidence-locks one segment for saved trip `tripId` (an existing tag is kept). */
export function lockSegmentForTrip(db: Database, segmentId: number, tripId: number): void {
  statements(db).lockOne.run({ id: segmentId, tag: tripIncidentId(tripId) });
}

/**
 * Why the last save of trip `tripId` failed (the `trip.save_error` event row's message and time),
 * or null when its newest save event is not a failure (saved, saving, deleted, or none).
 */
export function lastSaveError(db: Database, trip: { id: number; camera_id: number }): { message: string; at: number } | null {
  const row = statements(db).lastSaveEvent.get({ camera_id: trip.camera_id, trip_id: trip.id }) as { kind: string; at: number; message: string } | null;
  return row && row.kind === "trip.save_error" ? { message: row.message, at: row.at } : null;
}
