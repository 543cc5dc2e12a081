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
 * `saved_trips` has one row per saved trip (primary key `trip_id`), so writing it again (a save
 * resumed after a crash, the MP4 rebuilt when an open trip closes) updates that row and never
 * adds a second one. `saved_dir` and `mp4_path` are relative to data_dir; `saved_at_utc` is the
 * time of the first completed save (ms UTC) and is kept on later rewrites.
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";
import { logEvent } from "./eventLog.ts";

/** The incident id under which a saved trip's segments are evidence-locked. */
export const tripIncidentId = (tripId: number) => `trip-${tripId}`;

/** One `saved_trips` row. */
export interface SavedTripRow {
  trip_id: number;
  saved_dir: string;
  saved_at_utc: number;
  mp4_path: string | null;
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
    `INSERT INTO saved_trips (trip_id, saved_dir, saved_at_utc, mp4_path)
     VALUES ($trip_id, $saved_dir, $saved_at_utc, $mp4_path)
     ON CONFLICT(trip_id) DO UPDATE SET saved_dir = excluded.saved_dir, mp4_path = excluded.mp4_path`,
  ),
  byTrip: db.prepare("SELECT trip_id, saved_dir, saved_at_utc, mp4_path FROM saved_trips WHERE trip_id = $trip_id"),
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
 * Writes the `saved_trips` row of a trip (insert, or update of `saved_dir`/`mp4_path` keeping the
 * first `saved_at_utc`). Paths relative to data_dir.
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
