/**
 * Read-only queries that join several tables: what the web UI shows, and the trip lookups the
 * actors and the CLI share with it (`tripById` with the camera and saved_trips columns,
 * `tripSegments`, `listTrips`; `segmentsInWindow` for a camera's footage in a time window).
 * Nothing here writes: it only reads what the recorder, indexer and actors stored (cameras,
 * camera_status, camera_state, segments, recording_gaps, trips, saved_trips, event_log). Statements are prepared once per Database (`perDatabase`).
 *
 * All times are integer Unix milliseconds UTC; sizes are bytes. Camera source URLs are never
 * selected (only key/name), so nothing built from these rows can leak them.
 *
 * Cost notes (they matter for `/healthz`, which must answer within 300 ms with 100,000
 * segment rows): `healthCameras` reads only `cameras` + `camera_status` (counters the indexer
 * keeps), never `segments`; segment lookups go through the `(camera_id, absolute_index)` and
 * `(camera_id, start_utc, end_utc)` indexes.
 */
import type { Database, Statement } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";
import { GAP_THRESHOLD_MS, type SegmentRow } from "./segments.ts";
import { tripHolding, type TripRow, type TripStatus } from "./trips.ts";
import type { CameraStatusRow } from "./cameraStatus.ts";

export { GAP_THRESHOLD_MS };
export type { SegmentRow, TripStatus };

/**
 * A camera with its status row (a camera without one reads as `stopped`, zero counters) and
 * ring figures.
 */
export interface CameraSummary extends Omit<CameraStatusRow, "camera_id" | "updated_at"> {
  id: number;
  key: string;
  name: string;
  enabled: number;
  /** `camera_status.updated_at`; null while the camera has no status row. */
  status_updated_at: number | null;
  ring_capacity: number;
  absolute_segments: number;
  segment_generation: number;
  /** Segment rows currently in the ring (locked ones included). */
  ring_segments: number;
  /** Sum of `segments.bytes` currently in the ring. */
  ring_bytes: number;
  /** Segments holding an evidence lock. */
  evidence_locked: number;
}

export interface HealthCamera {
  key: string;
  state: string;
  last_segment_at: number | null;
  segment_count: number;
}

export interface GapRow {
  id: number;
  camera_id: number;
  gap_start: number;
  gap_end: number;
  detected_at: number;
}

/** A `trips` row with its camera's key and name and its saved_trips columns. */
export interface TripSummary extends TripRow {
  camera_key: string;
  camera_name: string;
  saved_dir: string | null;
  saved_at_utc: number | null;
  /** `saved_trips.mp4_path`: the finished MP4 of a saved trip (relative to data_dir, or absolute). */
  saved_mp4: string | null;
}

export interface EventRow {
  id: number;
  at: number;
  level: "debug" | "info" | "warn" | "error";
  kind: string;
  camera_id: number | null;
  camera_key: string | null;
  message: string;
  data: string | null;
}

export interface EventFilter {
  kind?: string;
  cameraId?: number;
  level?: string;
  /** Only events with id < before (cursor paging, newest first). */
  before?: number;
  /** Only events whose message or kind contains this text (case-insensitive for ASCII). */
  text?: string;
  /** Leave out `debug`-level events (the driver's default view). */
  hideDebug?: boolean;
  /** Leave out events of these kinds (the driver's default view hides the recorder's bookkeeping). */
  hideKinds?: readonly string[];
  limit: number;
}

const CAMERA_SUMMARY_SQL = `
  SELECT c.id, c.key, c.name, c.enabled,
         COALESCE(s.state, 'stopped') AS state, s.pid, COALESCE(s.reconnect_count, 0) AS reconnect_count,
         s.last_error, s.last_started_at, COALESCE(s.segment_count, 0) AS segment_count,
         s.last_segment_at, s.observed_bitrate, s.updated_at AS status_updated_at,
         COALESCE(st.ring_capacity, 1) AS ring_capacity,
         COALESCE(st.absolute_segments, 0) AS absolute_segments,
         COALESCE(st.segment_generation, 0) AS segment_generation,
         (SELECT COUNT(*) FROM segments g WHERE g.camera_id = c.id) AS ring_segments,
         (SELECT COALESCE(SUM(g.bytes), 0) FROM segments g WHERE g.camera_id = c.id) AS ring_bytes,
         (SELECT COUNT(*) FROM segments g WHERE g.camera_id = c.id AND g.evidence_locked = 1) AS evidence_locked
  FROM cameras c
  LEFT JOIN camera_status s ON s.camera_id = c.id
  LEFT JOIN camera_state st ON st.camera_id = c.id`;

const TRIP_SQL = `
  SELECT t.*, c.key AS camera_key, c.name AS camera_name, st.saved_dir, st.saved_at_utc, st.mp4_path AS saved_mp4
  FROM trips t JOIN cameras c ON c.id = t.camera_id
  LEFT JOIN saved_trips st ON st.trip_id = t.id`;

/**
 * Trip filter of `listTripsFiltered`: camera, overlap with [$from, $to), and `$only`: 'saved'
 * (saving or saved) or 'incidents' (some of its footage carries an incident tag that is not a
 * saved trip's own `trip-<id>` tag).
 */
const TRIP_FILTER = `($camera_id IS NULL OR t.camera_id = $camera_id)
  AND ($from IS NULL OR COALESCE(t.end_time_utc, t.last_time_utc) > $from)
  AND ($to IS NULL OR t.start_time_utc < $to)
  AND ($only IS NULL
       OR ($only = 'saved' AND t.status IN ('saving', 'saved'))
       OR ($only = 'incidents' AND EXISTS (
             SELECT 1 FROM segments g WHERE g.camera_id = t.camera_id
               AND g.absolute_index BETWEEN t.start_absolute AND t.last_absolute
               AND g.incident_id IS NOT NULL AND g.incident_id NOT LIKE 'trip-%')))`;

function build(db: Database) {
  return {
    cameraSummaries: db.prepare(`${CAMERA_SUMMARY_SQL} ORDER BY c.enabled DESC, c.key`),
    cameraSummary: db.prepare(`${CAMERA_SUMMARY_SQL} WHERE c.key = $key`),
    health: db.prepare(
      `SELECT c.key, COALESCE(s.state, 'stopped') AS state, s.last_segment_at, COALESCE(s.segment_count, 0) AS segment_count
       FROM cameras c LEFT JOIN camera_status s ON s.camera_id = c.id ORDER BY c.key`,
    ),
    segmentsInWindow: db.prepare(
      `SELECT * FROM segments
       WHERE camera_id = $camera_id AND start_utc >= $from_lo AND start_utc < $to AND end_utc > $from
       ORDER BY start_utc, absolute_index LIMIT $limit`,
    ),
    maxSegmentSpan: db.prepare(
      // newest few segments bound how far before the window a covering segment may start
      `SELECT MAX(end_utc - start_utc) AS span FROM
         (SELECT end_utc, start_utc FROM segments WHERE camera_id = $camera_id ORDER BY absolute_index DESC LIMIT 64)`,
    ),
    gapsInWindow: db.prepare(
      `SELECT * FROM recording_gaps
       WHERE camera_id = $camera_id AND gap_end > $from AND gap_start < $to ORDER BY gap_start LIMIT $limit`,
    ),
    gapEndsBetween: db.prepare(
      `SELECT gap_end FROM recording_gaps WHERE camera_id = $camera_id AND gap_end >= $from AND gap_end <= $to`,
    ),
    gapsBefore: db.prepare(`SELECT COUNT(*) AS n FROM recording_gaps WHERE camera_id = $camera_id AND gap_end <= $at`),
    recentSegments: db.prepare(
      `SELECT * FROM segments WHERE camera_id = $camera_id ORDER BY absolute_index DESC LIMIT $limit`,
    ),
    segmentByAbsolute: db.prepare(
      `SELECT s.* FROM segments s JOIN cameras c ON c.id = s.camera_id
       WHERE c.key = $key AND s.absolute_index = $abs`,
    ),
    tripSegments: db.prepare(
      `SELECT * FROM segments WHERE camera_id = $camera_id AND absolute_index BETWEEN $from AND $to
       ORDER BY absolute_index`,
    ),
    tripSegmentCount: db.prepare(
      `SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM segments
       WHERE camera_id = $camera_id AND absolute_index BETWEEN $from AND $to`,
    ),
    segmentAtOrBefore: db.prepare(
      `SELECT * FROM segments WHERE camera_id = $camera_id AND start_utc <= $at ORDER BY start_utc DESC LIMIT 1`,
    ),
    mediaBefore: db.prepare(
      `SELECT COALESCE(SUM(MAX(end_utc - start_utc, 1)), 0) AS ms FROM segments
       WHERE camera_id = $camera_id AND absolute_index >= $from AND absolute_index < $abs`,
    ),
    trip: db.prepare(`${TRIP_SQL} WHERE t.id = $id`),
    trips: db.prepare(`${TRIP_SQL} ORDER BY t.start_time_utc DESC, t.id DESC LIMIT $limit OFFSET $offset`),
    tripsByCamera: db.prepare(
      `${TRIP_SQL} WHERE t.camera_id = $camera_id ORDER BY t.start_time_utc DESC, t.id DESC LIMIT $limit OFFSET $offset`,
    ),
    tripsFiltered: db.prepare(`${TRIP_SQL} WHERE ${TRIP_FILTER} ORDER BY t.start_time_utc DESC, t.id DESC LIMIT $limit OFFSET $offset`),
    tripsFilteredCount: db.prepare(`SELECT COUNT(*) AS n FROM trips t WHERE ${TRIP_FILTER}`),
    tripCount: db.prepare("SELECT COUNT(*) AS n FROM trips"),
    keptTrips: db.prepare(`${TRIP_SQL} WHERE t.status IN ('saved', 'saving') ORDER BY t.start_time_utc DESC, t.id DESC LIMIT $limit OFFSET $offset`),
    keptTripCount: db.prepare("SELECT COUNT(*) AS n FROM trips WHERE status IN ('saved', 'saving')"),
    tripCountByCamera: db.prepare("SELECT COUNT(*) AS n FROM trips WHERE camera_id = $camera_id"),
    eventKinds: db.prepare("SELECT DISTINCT kind FROM event_log ORDER BY kind"),
    eventById: db.prepare(
      `SELECT e.*, c.key AS camera_key FROM event_log e LEFT JOIN cameras c ON c.id = e.camera_id WHERE e.id = $id`,
    ),
    events: db.prepare(
      `SELECT e.*, c.key AS camera_key FROM event_log e LEFT JOIN cameras c ON c.id = e.camera_id
       WHERE ($kind IS NULL OR e.kind = $kind)
         AND ($camera_id IS NULL OR e.camera_id = $camera_id)
         AND ($level IS NULL OR e.level = $level)
         AND ($hide_debug = 0 OR e.level <> 'debug')
         AND ($hide_kinds IS NULL OR e.kind NOT IN (SELECT value FROM json_each($hide_kinds)))
         AND ($before IS NULL OR e.id < $before)
         AND ($text IS NULL OR instr(lower(e.message), $text) > 0 OR instr(e.kind, $text) > 0)
       ORDER BY e.id DESC LIMIT $limit`,
    ),
    tripLocks: db.prepare(
      `SELECT COUNT(*) AS segments, COALESCE(SUM(evidence_locked > 0), 0) AS locked,
              COALESCE(SUM(locked > 0), 0) AS reading, group_concat(DISTINCT incident_id) AS incidents
       FROM segments WHERE camera_id = $camera_id AND absolute_index BETWEEN $from AND $to`,
    ),
    firstTripSegment: db.prepare(
      `SELECT * FROM segments WHERE camera_id = $camera_id AND absolute_index BETWEEN $from AND $to
       ORDER BY absolute_index LIMIT 1`,
    ),
    footageIn: db.prepare(
      `SELECT start_utc, end_utc FROM segments WHERE camera_id = $camera_id AND start_utc < $to AND end_utc > $from
       ORDER BY start_utc, absolute_index`,
    ),
  } satisfies Record<string, Statement>;
}

const q = perDatabase(build);

/** Every camera with its status row, ring counters and ring usage (segments and bytes). */
export function cameraSummaries(db: Database): CameraSummary[] {
  return q(db).cameraSummaries.all() as CameraSummary[];
}

/** One camera's summary by key; null when the key is unknown. */
export function cameraSummary(db: Database, key: string): CameraSummary | null {
  return (q(db).cameraSummary.get({ key }) as CameraSummary | null) ?? null;
}

/** Cheap per-camera health: only `cameras` and `camera_status` are read (no segment scan). */
export function healthCameras(db: Database): HealthCamera[] {
  return q(db).health.all() as HealthCamera[];
}

/**
 * Segments of one camera overlapping [from, to) ms, oldest first, at most `limit` rows.
 * Uses the (camera_id, start_utc, end_utc) index: the scan starts one "longest recent segment"
 * before `from`, so a segment that began before the window but reaches into it is included.
 */
export function segmentsInWindow(db: Database, cameraId: number, from: number, to: number, limit = 50_000): SegmentRow[] {
  const s = q(db);
  const span = (s.maxSegmentSpan.get({ camera_id: cameraId }) as { span: number | null }).span ?? 0;
  const fromLo = from - Math.max(span, 0) - 60_000;
  return s.segmentsInWindow.all({ camera_id: cameraId, from_lo: fromLo, from, to, limit }) as SegmentRow[];
}

/** Recording gaps of one camera overlapping [from, to) ms, oldest first. */
export function gapsInWindow(db: Database, cameraId: number, from: number, to: number, limit = 10_000): GapRow[] {
  return q(db).gapsInWindow.all({ camera_id: cameraId, from, to, limit }) as GapRow[];
}

/** `gap_end` values of gap rows ending within [from, to] (a segment starting there follows a gap). */
export function gapEndsBetween(db: Database, cameraId: number, from: number, to: number): Set<number> {
  const rows = q(db).gapEndsBetween.all({ camera_id: cameraId, from, to }) as { gap_end: number }[];
  return new Set(rows.map((r) => r.gap_end));
}

/** Number of gap rows that ended at or before `at` (the HLS discontinuity sequence of a live window). */
export function gapsBefore(db: Database, cameraId: number, at: number): number {
  return (q(db).gapsBefore.get({ camera_id: cameraId, at }) as { n: number }).n;
}

/** The newest `limit` segments of a camera, newest first. */
export function recentSegments(db: Database, cameraId: number, limit: number): SegmentRow[] {
  return q(db).recentSegments.all({ camera_id: cameraId, limit }) as SegmentRow[];
}

/** The segment row with this absolute index of the camera with this key; null when absent. */
export function segmentByAbsolute(db: Database, cameraKey: string, absoluteIndex: number): SegmentRow | null {
  return (q(db).segmentByAbsolute.get({ key: cameraKey, abs: absoluteIndex }) as SegmentRow | null) ?? null;
}

/** The segment of a camera whose [start_utc, end_utc) holds instant `at` (ms); null when nothing was recorded then. */
export function segmentAt(db: Database, cameraId: number, at: number): SegmentRow | null {
  const row = q(db).segmentAtOrBefore.get({ camera_id: cameraId, at }) as SegmentRow | null;
  return row && row.end_utc > at ? row : null;
}

/**
 * Where segment `seg` sits in a trip's HLS timeline: the id of the newest trip whose absolute
 * range holds it and the media time (ms) of the segment's start in that trip's playlist (the
 * sum of the EXTINF durations of the trip's earlier segments still in the ring). Null when no
 * trip holds it.
 */
export function tripPosition(db: Database, seg: Pick<SegmentRow, "camera_id" | "absolute_index">): { tripId: number; offsetMs: number } | null {
  const s = q(db);
  const tripId = tripHolding(db, seg.camera_id, seg.absolute_index);
  if (tripId === null) return null;
  const t = tripById(db, tripId)!;
  const before = s.mediaBefore.get({ camera_id: seg.camera_id, from: t.start_absolute, abs: seg.absolute_index }) as { ms: number };
  return { tripId, offsetMs: before.ms };
}

/** One trip (with camera key/name and saved_trips info); null when unknown. */
export function tripById(db: Database, id: number): TripSummary | null {
  return (q(db).trip.get({ id }) as TripSummary | null) ?? null;
}

/** Segment rows still in the ring for a trip's absolute range, oldest first. */
export function tripSegments(db: Database, trip: Pick<TripSummary, "camera_id" | "start_absolute" | "last_absolute">): SegmentRow[] {
  return q(db).tripSegments.all({ camera_id: trip.camera_id, from: trip.start_absolute, to: trip.last_absolute }) as SegmentRow[];
}

/** How many segment rows (and bytes) of a trip's range are still in the ring. */
export function tripSegmentStats(
  db: Database,
  trip: Pick<TripSummary, "camera_id" | "start_absolute" | "last_absolute">,
): { n: number; bytes: number } {
  return q(db).tripSegmentCount.get({ camera_id: trip.camera_id, from: trip.start_absolute, to: trip.last_absolute }) as {
    n: number;
    bytes: number;
  };
}

/** A page of trips, newest first; `cameraId` narrows to one camera, `kept` to saved (and saving) trips. */
export function listTrips(db: Database, opts: { limit: number; offset: number; cameraId?: number; kept?: boolean }): { rows: TripSummary[]; total: number } {
  const s = q(db);
  if (opts.kept) {
    const rows = s.keptTrips.all({ limit: opts.limit, offset: opts.offset }) as TripSummary[];
    return { rows, total: (s.keptTripCount.get() as { n: number }).n };
  }
  if (opts.cameraId !== undefined) {
    const rows = s.tripsByCamera.all({ camera_id: opts.cameraId, limit: opts.limit, offset: opts.offset }) as TripSummary[];
    const total = (s.tripCountByCamera.get({ camera_id: opts.cameraId }) as { n: number }).n;
    return { rows, total };
  }
  const rows = s.trips.all({ limit: opts.limit, offset: opts.offset }) as TripSummary[];
  return { rows, total: (s.tripCount.get() as { n: number }).n };
}

/** Distinct event kinds present in the log. */
export function eventKinds(db: Database): string[] {
  return (q(db).eventKinds.all() as { kind: string }[]).map((r) => r.kind);
}

/** One event row (with camera key); null when unknown. */
export function eventById(db: Database, id: number): EventRow | null {
  return (q(db).eventById.get({ id }) as EventRow | null) ?? null;
}

/** Events matching a filter, newest first (cursor paging with `before`). */
export function listEvents(db: Database, f: EventFilter): EventRow[] {
  return q(db).events.all({
    kind: f.kind ?? null,
    camera_id: f.cameraId ?? null,
    level: f.level ?? null,
    hide_debug: f.hideDebug ? 1 : 0,
    hide_kinds: f.hideKinds && f.hideKinds.length > 0 ? JSON.stringify(f.hideKinds) : null,
    before: f.before ?? null,
    text: f.text ? f.text.toLowerCase() : null,
    limit: f.limit,
  }) as EventRow[];
}

/** Which trips `listTripsFiltered` keeps (see TRIP_FILTER). Times are ms UTC, `to` exclusive. */
export interface TripFilter {
  cameraId?: number;
  from?: number;
  to?: number;
  only?: "saved" | "incidents";
  limit: number;
  offset: number;
}

/** Trips matching a filter, newest first, and how many match in total. */
export function listTripsFiltered(db: Database, f: TripFilter): { rows: TripSummary[]; total: number } {
  const params = { camera_id: f.cameraId ?? null, from: f.from ?? null, to: f.to ?? null, only: f.only ?? null };
  const rows = q(db).tripsFiltered.all({ ...params, limit: f.limit, offset: f.offset }) as TripSummary[];
  const total = (q(db).tripsFilteredCount.get(params) as { n: number }).n;
  return { rows, total };
}

/** Evidence-lock state of a trip's segments still in the ring. */
export interface TripLocks {
  /** Segment rows of the trip in the ring. */
  segments: number;
  /** Of those, with an evidence lock. */
  locked: number;
  /** Of those, read-locked right now (someone is streaming or exporting them). */
  reading: number;
  /** Distinct incident ids tagged on them. */
  incidents: string[];
}

/** How many of a trip's segments are evidence-locked, and under which incident ids. */
export function tripLocks(db: Database, trip: Pick<TripSummary, "camera_id" | "start_absolute" | "last_absolute">): TripLocks {
  const r = q(db).tripLocks.get({ camera_id: trip.camera_id, from: trip.start_absolute, to: trip.last_absolute }) as {
    segments: number;
    locked: number;
    reading: number;
    incidents: string | null;
  };
  return { segments: r.segments, locked: r.locked, reading: r.reading, incidents: r.incidents ? r.incidents.split(",").sort() : [] };
}

/** The oldest segment of a trip still in the ring; null when all are gone. */
export function firstTripSegment(db: Database, trip: Pick<TripSummary, "camera_id" | "start_absolute" | "last_absolute">): SegmentRow | null {
  return (q(db).firstTripSegment.get({ camera_id: trip.camera_id, from: trip.start_absolute, to: trip.last_absolute }) as SegmentRow | null) ?? null;
}

/** Start/end of the segments of a camera overlapping [from, to) ms, oldest first (to check a range has footage). */
export function footageIn(db: Database, cameraId: number, from: number, to: number): { start_utc: number; end_utc: number }[] {
  return q(db).footageIn.all({ camera_id: cameraId, from, to }) as { start_utc: number; end_utc: number }[];
}
