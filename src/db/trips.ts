/**
 * Trip rows (seed 000 `trips`, plus absolute bounds and a status).
 *
 * A trip groups one camera's recording of one boot. It is OPEN while `end_time_utc IS NULL`;
 * the indexer (src/db/segments.ts) opens and extends it; `closeTrip` closes it at its last
 * segment. Ring indexes repeat when the ring wraps, so membership uses the absolute bounds
 * `start_absolute..last_absolute`; the seed's ring-index columns (`start_segment`/`start_gen`,
 * `final_segment`/`end_gen`) are kept filled for compatibility.
 *
 * Status changes other than open -> closed belong to the trip machine (src/machines/trip.ts),
 * which journals them through `setTripStatus`; this module never closes trips of older boots on
 * its own.
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";
import { logEvent } from "./eventLog.ts";
import type { TripStatus } from "../machines/trip.ts";

/** `trips.status`: the trip machine's persisted state (src/machines/trip.ts owns the names). */
export type { TripStatus };

/** One `trips` row. Times are Unix ms UTC. */
export interface TripRow {
  id: number;
  camera_id: number;
  boot_id: string;
  start_time_utc: number;
  end_time_utc: number | null;
  start_segment: number;
  final_segment: number | null;
  start_clock_source: string | null;
  end_clock_source: string | null;
  note: string | null;
  start_gen: number;
  end_gen: number | null;
  fully_evicted: number;
  evicted_at_utc: number | null;
  start_absolute: number;
  last_absolute: number;
  last_time_utc: number;
  status: TripStatus;
  /** Recording of the trip stopped before the drive ended (e.g. `disk_full`); null otherwise. */
  cut_reason: string | null;
  /** When that happened (ms UTC). */
  cut_at_utc: number | null;
}

const TRIP_COLUMNS =
  "id, camera_id, boot_id, start_time_utc, end_time_utc, start_segment, final_segment, start_clock_source, end_clock_source, note, start_gen, end_gen, fully_evicted, evicted_at_utc, start_absolute, last_absolute, last_time_utc, status, cut_reason, cut_at_utc";

const statements = perDatabase((db) => ({
  close: db.prepare(
    `UPDATE trips SET
       end_time_utc = last_time_utc,
       final_segment = last_absolute % (SELECT ring_capacity FROM camera_state WHERE camera_id = trips.camera_id),
       end_gen = last_absolute / (SELECT ring_capacity FROM camera_state WHERE camera_id = trips.camera_id),
       status = CASE WHEN status = 'open' THEN 'closed' ELSE status END
     WHERE id = $id AND end_time_utc IS NULL
     RETURNING id, camera_id, last_absolute, end_time_utc`,
  ),
  // a trip that never got a segment (opened as recording started, camera never recorded)
  dropEmpty: db.prepare(
    `DELETE FROM trips WHERE id = $id AND end_time_utc IS NULL AND status = 'open' AND last_absolute < start_absolute
     RETURNING id, camera_id`,
  ),
  otherBoots: db.prepare(
    "SELECT id, camera_id FROM trips WHERE end_time_utc IS NULL AND boot_id <> $boot_id ORDER BY id",
  ),
  openOf: db.prepare(
    `SELECT ${TRIP_COLUMNS} FROM trips WHERE camera_id = $camera_id AND boot_id = $boot_id AND end_time_utc IS NULL
     ORDER BY id DESC LIMIT 1`,
  ),
  unfinished: db.prepare(
    `SELECT t.id, c.key, t.status, t.boot_id, t.end_time_utc, t.last_time_utc
     FROM trips t JOIN cameras c ON c.id = t.camera_id
     WHERE t.end_time_utc IS NULL OR t.status = 'saving' ORDER BY t.id`,
  ),
  insertEmpty: db.prepare(
    `INSERT INTO trips (camera_id, boot_id, start_time_utc, start_segment, start_gen, start_absolute,
       last_absolute, last_time_utc, status)
     SELECT $camera_id, $boot_id, $at, absolute_segments % ring_capacity, absolute_segments / ring_capacity,
       absolute_segments, absolute_segments - 1, $at, 'open'
     FROM camera_state WHERE camera_id = $camera_id
     RETURNING id, start_absolute`,
  ),
  evict: db.prepare(
    `UPDATE trips SET fully_evicted = 1, evicted_at_utc = COALESCE(evicted_at_utc, $at)
     WHERE id = $id AND fully_evicted = 0`,
  ),
  evictable: db.prepare(
    `SELECT t.id FROM trips t
     WHERE t.camera_id = $camera_id AND t.end_time_utc IS NOT NULL AND t.fully_evicted = 0
       AND NOT EXISTS (SELECT 1 FROM segments s WHERE s.camera_id = t.camera_id
                       AND s.absolute_index BETWEEN t.start_absolute AND t.last_absolute)`,
  ),
  holding: db.prepare(
    `SELECT id FROM trips WHERE camera_id = $camera_id AND start_absolute <= $abs AND last_absolute >= $abs
     ORDER BY id DESC LIMIT 1`,
  ),
  // a trip opened when recording started (openTripForRecording) has no segment yet
  // (last_absolute < start_absolute): its first segment also sets where and when it starts
  extend: db.prepare(
    `UPDATE trips SET
       start_absolute = CASE WHEN last_absolute < start_absolute THEN $abs ELSE start_absolute END,
       start_segment = CASE WHEN last_absolute < start_absolute THEN $segment_index ELSE start_segment END,
       start_gen = CASE WHEN last_absolute < start_absolute THEN $segment_gen ELSE start_gen END,
       start_time_utc = CASE WHEN last_absolute < start_absolute THEN $start_utc ELSE start_time_utc END,
       last_time_utc = CASE WHEN last_absolute < start_absolute THEN $end_utc ELSE MAX(last_time_utc, $end_utc) END,
       last_absolute = MAX(last_absolute, $abs)
     WHERE id = $id`,
  ),
  insertOpen: db.prepare(
    `INSERT INTO trips (camera_id, boot_id, start_time_utc, start_segment, start_gen, start_absolute,
       last_absolute, last_time_utc, status)
     VALUES ($camera_id, $boot_id, $start_utc, $segment_index, $segment_gen, $abs, $abs, $end_utc, 'open')`,
  ),
  setStatus: db.prepare("UPDATE trips SET status = $status WHERE id = $id AND status <> $status"),
  camera: db.prepare("SELECT c.key, t.camera_id FROM trips t JOIN cameras c ON c.id = t.camera_id WHERE t.id = $id"),
  newestOpenBoot: db.prepare(
    "SELECT boot_id FROM trips WHERE camera_id = $camera_id AND end_time_utc IS NULL ORDER BY id DESC LIMIT 1",
  ),
  otherBootsWithKeys: db.prepare(
    `SELECT t.id, t.boot_id, c.key FROM trips t JOIN cameras c ON c.id = t.camera_id
     WHERE t.end_time_utc IS NULL AND t.boot_id <> $boot_id ORDER BY t.id`,
  ),
}));

/**
 * Closes an open trip at its last segment: end_time_utc = last_time_utc,
 * final_segment = last_absolute % ring_capacity, end_gen = floor(last_absolute / ring_capacity),
 * status 'open' -> 'closed' (a trip already 'saving'/'saved' keeps that status), and one
 * `trip.close` event_log row dated `at` (ms). A trip that is already closed (or unknown) is left
 * unchanged. An open trip that never got a segment (see `openTripForRecording`: the camera
 * recorded nothing this boot) and is not being saved is deleted instead: there is no drive to
 * show. Safe inside a caller's transaction (bun:sqlite nests transactions as savepoints).
 */
export function closeTrip(db: Database, tripId: number, at: number): void {
  const s = statements(db);
  db.transaction(() => {
    const empty = s.dropEmpty.get({ id: tripId }) as { id: number; camera_id: number } | null;
    if (empty) {
      logEvent(db, {
        kind: "trip.close",
        cameraId: empty.camera_id,
        at,
        message: `trip ${empty.id} closed without footage and removed`,
        data: { trip_id: empty.id, removed: true },
      });
      return;
    }
    const row = s.close.get({ id: tripId }) as { id: number; camera_id: number; last_absolute: number; end_time_utc: number } | null;
    if (!row) return;
    logEvent(db, {
      kind: "trip.close",
      cameraId: row.camera_id,
      at,
      message: `trip ${row.id} closed at segment ${row.last_absolute}`,
      data: { trip_id: row.id, last_absolute: row.last_absolute, end_time_utc: row.end_time_utc },
    });
  })();
}

/** Open trips (end_time_utc IS NULL) whose boot is not `bootId`, oldest first. */
export function openTripsOfOtherBoots(db: Database, bootId: string): { id: number; camera_id: number }[] {
  return statements(db).otherBoots.all({ boot_id: bootId }) as { id: number; camera_id: number }[];
}

/** Like `openTripsOfOtherBoots`, with each trip's boot id and camera key (for reports). */
export function openTripsOfOtherBootsWithKeys(db: Database, bootId: string): { id: number; boot_id: string; key: string }[] {
  return statements(db).otherBootsWithKeys.all({ boot_id: bootId }) as { id: number; boot_id: string; key: string }[];
}

/** The boot id of the camera's newest open trip (whatever its boot), or null when none is open. */
export function newestOpenTripBoot(db: Database, cameraId: number): string | null {
  return (statements(db).newestOpenBoot.get({ camera_id: cameraId }) as { boot_id: string } | null)?.boot_id ?? null;
}

/** The newest open trip of a camera in boot `bootId`, or null. */
export function openTripOf(db: Database, cameraId: number, bootId: string): TripRow | null {
  return (statements(db).openOf.get({ camera_id: cameraId, boot_id: bootId }) as TripRow | null) ?? null;
}

/**
 * Opens the trip of camera `cameraId` for boot `bootId` as recording starts, so a save pressed
 * in the first second keeps this drive and not the previous one: an EMPTY trip (no segment yet:
 * start_absolute = the ring's next index, last_absolute = start_absolute - 1, times = `at`, ms
 * UTC) that the indexer fills from its first segment. Does nothing when the camera already has
 * an open trip of this boot (e.g. one a start-up salvage opened) or no `camera_state` row.
 * Returns the open trip's id, or null. One transaction, with a `trip.open` event_log row.
 */
export function openTripForRecording(db: Database, cameraId: number, bootId: string, at: number): number | null {
  const s = statements(db);
  return db.transaction((): number | null => {
    const open = s.openOf.get({ camera_id: cameraId, boot_id: bootId }) as TripRow | null;
    if (open) return open.id;
    const row = s.insertEmpty.get({ camera_id: cameraId, boot_id: bootId, at }) as { id: number; start_absolute: number } | null;
    if (!row) return null;
    logEvent(db, {
      kind: "trip.open",
      cameraId,
      at,
      message: `trip ${row.id} opened as recording starts (from segment ${row.start_absolute})`,
      data: { trip_id: row.id, absolute_index: row.start_absolute, boot_id: bootId },
    });
    return row.id;
  })();
}

/** A trip that still needs an actor at start-up (open, or being saved), with its camera's key. */
export interface UnfinishedTrip {
  id: number;
  key: string;
  status: TripStatus;
  boot_id: string;
  end_time_utc: number | null;
  last_time_utc: number;
}

/** Trips that are open (end_time_utc IS NULL) or still `saving`, oldest first: the trip actors to run at start-up. */
export function unfinishedTrips(db: Database): UnfinishedTrip[] {
  return statements(db).unfinished.all() as UnfinishedTrip[];
}

/* A trip by id (`tripById`), a page of trips (`listTrips`) and a trip's segments (`tripSegments`), joined
   with the camera and saved_trips rows, are in src/db/views.ts. */

/**
 * Marks a trip fully evicted from the ring: fully_evicted = 1, evicted_at_utc = `at` (ms, kept
 * if already set). Does not change `status` (the trip machine does, on EVICTED).
 * Returns true when the row changed.
 */
export function markTripEvicted(db: Database, tripId: number, at: number): boolean {
  return statements(db).evict.run({ id: tripId, at }).changes > 0;
}

/**
 * Marks every closed trip of the camera whose segments have all left the ring as fully evicted
 * (`markTripEvicted` with `at`, ms), in one transaction (a savepoint inside a caller's, e.g. the
 * one that turned the segments into garbage; none when no trip qualifies). Open trips are left:
 * they may still grow. Returns the ids of the trips that changed.
 */
export function markEvictableTrips(db: Database, cameraId: number, at: number): number[] {
  const candidates = (statements(db).evictable.all({ camera_id: cameraId }) as { id: number }[]).map((t) => t.id);
  if (candidates.length === 0) return [];
  return db.transaction(() => candidates.filter((id) => markTripEvicted(db, id, at)))();
}

/** The newest trip of the camera whose absolute range holds segment `absoluteIndex`, or null. */
export function tripHolding(db: Database, cameraId: number, absoluteIndex: number): number | null {
  return (statements(db).holding.get({ camera_id: cameraId, abs: absoluteIndex }) as { id: number } | null)?.id ?? null;
}

/**
 * The indexer's step for a segment of an open trip: the trip now reaches segment `absoluteIndex`
 * ending at `endUtc` (ms); neither bound ever moves back. When the trip has no segment yet
 * (opened by `openTripForRecording`), this one is its first: `first` (its start, ms UTC, ring
 * slot and generation) becomes the trip's start.
 */
export function extendTrip(
  db: Database,
  tripId: number,
  absoluteIndex: number,
  endUtc: number,
  first: { startUtc: number; segmentIndex: number; segmentGen: number },
): void {
  statements(db).extend.run({
    id: tripId,
    abs: absoluteIndex,
    end_utc: endUtc,
    start_utc: first.startUtc,
    segment_index: first.segmentIndex,
    segment_gen: first.segmentGen,
  });
}

/** The first segment of a new trip: its ring slot and generation, absolute index and times (ms UTC). */
export interface NewTripInput {
  cameraId: number;
  bootId: string;
  startUtc: number;
  endUtc: number;
  segmentIndex: number;
  segmentGen: number;
  absoluteIndex: number;
}

/** Opens a trip (status `open`, no end) at its first segment; returns the trip id. */
export function insertOpenTrip(db: Database, t: NewTripInput): number {
  const r = statements(db).insertOpen.run({
    camera_id: t.cameraId,
    boot_id: t.bootId,
    start_utc: t.startUtc,
    segment_index: t.segmentIndex,
    segment_gen: t.segmentGen,
    abs: t.absoluteIndex,
    end_utc: t.endUtc,
  });
  return Number(r.lastInsertRowid);
}

/** Sets `trips.status` (no-op when unchanged); returns true when the row changed. */
export function setTripStatus(db: Database, tripId: number, status: TripStatus): boolean {
  return statements(db).setStatus.run({ id: tripId, status }).changes > 0;
}

/** The camera of a trip: its key and id, or null for an unknown trip. */
export function tripCamera(db: Database, tripId: number): { key: string; camera_id: number } | null {
  return (statements(db).camera.get({ id: tripId }) as { key: string; camera_id: number } | null) ?? null;
}
