/**
 * The indexer: turns a closed segment into rows, in ONE transaction (DESIGN.md invariant 1):
 * - the `segments` row (ring slot `segment_index = abs % ring_capacity`, generation
 *   `segment_gen = floor(abs / ring_capacity)`, seed 000);
 * - `camera_state` counters: `absolute_segments` = abs + 1 (never lowered), `segment_index` /
 *   `segment_generation` of the NEXT slot;
 * - the `camera_status` row (seed 002 record_segment_indexed): segment_count + 1,
 *   last_segment_at = endUtc, observed_bitrate = bytes * 8000 / (endUtc - startUtc) bits/s;
 * - gap detection (invariant 5): a hole of more than 3000 ms between the previous segment's
 *   end and this start is upserted into `recording_gaps` by (camera_id, gap_start) and logged;
 * - the trip: the open trip of this camera and boot is extended to this segment (an empty one,
 *   opened when recording started, begins at it), or one is opened at it.
 *
 * A trip is "open" while `end_time_utc IS NULL` (only `closeTrip` sets it).
 * Indexing an absolute index that already has a row is a no-op that returns `duplicate: true`
 * (invoked actors restart from scratch on restore, so the same SEGMENT_CLOSED may come twice).
 *
 * The counters, status row and trip rows are written through the modules that own those tables
 * (src/db/cameraState.ts, cameraStatus.ts, trips.ts); this module holds the one transaction.
 *
 * `commitSegment` fsyncs the file and its directory first ("a new file is synced before its row
 * is committed", Moonfire NVR's discipline), then indexes.
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";
import { fsyncPath } from "../fsx.ts";
import { dirname } from "node:path";
import { logEvent } from "./eventLog.ts";
import { advanceRingCounters, ringCounters } from "./cameraState.ts";
import { recordSegmentIndexed } from "./cameraStatus.ts";
import { extendTrip, insertOpenTrip, openTripOf, tripHolding } from "./trips.ts";
import { resolveInside } from "../paths.ts";
import type { ClosedSegment } from "../machines/events.ts";

/** A recording hole longer than this (ms) between consecutive segments is a gap (DESIGN.md invariant 5). */
export const GAP_THRESHOLD_MS = 3000;

/** A closed segment of camera `cameraId` to index (see `indexSegment`; the fields of `ClosedSegment`). */
export interface SegmentInput extends ClosedSegment {
  cameraId: number;
}

/** What `indexSegment` did. */
export interface IndexResult {
  segmentId: number;
  absoluteIndex: number;
  /** True when the segment already had a row: nothing changed. */
  duplicate: boolean;
  /** The trip the segment belongs to (0 when a duplicate belongs to none). */
  tripId: number;
  /** True when this segment opened the trip. */
  tripOpened: boolean;
  /** The hole before this segment (ms), when longer than GAP_THRESHOLD_MS. */
  gap: { start: number; end: number } | null;
}

/** One `segments` row. Times are Unix ms UTC; `locked` is the transient read-lock count. */
export interface SegmentRow {
  id: number;
  camera_id: number;
  segment_index: number;
  segment_gen: number;
  absolute_index: number;
  start_utc: number;
  end_utc: number;
  rel_path: string;
  codec: string | null;
  width: number | null;
  height: number | null;
  fps: number | null;
  bytes: number | null;
  locked: number;
  evidence_locked: number;
  incident_id: string | null;
}

/** The columns of a `SegmentRow`, for SELECT lists. */
export const SEGMENT_COLUMNS =
  "id, camera_id, segment_index, segment_gen, absolute_index, start_utc, end_utc, rel_path, codec, width, height, fps, bytes, locked, evidence_locked, incident_id";

const statements = perDatabase((db) => ({
  existing: db.prepare("SELECT id FROM segments WHERE camera_id = $camera_id AND absolute_index = $abs"),
  insert: db.prepare(
    `INSERT INTO segments (camera_id, segment_index, segment_gen, absolute_index, start_utc, end_utc, rel_path,
       codec, width, height, fps, bytes)
     VALUES ($camera_id, $segment_index, $segment_gen, $abs, $start_utc, $end_utc, $rel_path,
       $codec, $width, $height, $fps, $bytes)`,
  ),
  previous: db.prepare(
    `SELECT end_utc FROM segments WHERE camera_id = $camera_id AND absolute_index < $abs
     ORDER BY absolute_index DESC LIMIT 1`,
  ),
  gap: db.prepare(
    `INSERT INTO recording_gaps (camera_id, gap_start, gap_end, detected_at)
     VALUES ($camera_id, $gap_start, $gap_end, $now)
     ON CONFLICT(camera_id, gap_start) DO NOTHING`,
  ),
  latest: db.prepare(
    `SELECT ${SEGMENT_COLUMNS} FROM segments WHERE camera_id = $camera_id ORDER BY absolute_index DESC LIMIT 1`,
  ),
  byId: db.prepare(`SELECT ${SEGMENT_COLUMNS} FROM segments WHERE id = $id`),
  recordedUntil: db.prepare("SELECT MAX(end_utc) AS e FROM segments WHERE camera_id = $camera_id"),
  ringRows: db.prepare(
    "SELECT id, absolute_index, rel_path, bytes, evidence_locked FROM segments WHERE camera_id = $camera_id ORDER BY absolute_index",
  ),
  exists: db.prepare("SELECT 1 FROM segments WHERE id = $id"),
  maxIndex: db.prepare("SELECT MAX(absolute_index) AS m FROM segments WHERE camera_id = $camera_id"),
  deleteUnlessEvidence: db.prepare("DELETE FROM segments WHERE id = $id AND evidence_locked = 0"),
  usage: db.prepare(
    `SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM segments
     WHERE camera_id = $camera_id AND evidence_locked = 0`,
  ),
  deletable: db.prepare(
    `SELECT id, absolute_index, rel_path, bytes FROM segments
     WHERE camera_id = $camera_id AND locked = 0 AND evidence_locked = 0
     ORDER BY absolute_index LIMIT $limit`,
  ),
}));

/**
 * Indexes one closed segment (see the module comment). Throws when the camera has no
 * `camera_state` row or the input is malformed (negative index, end before start).
 */
export function indexSegment(db: Database, input: SegmentInput, bootId: string): IndexResult {
  const s = statements(db);
  const abs = input.absoluteIndex;
  if (!Number.isSafeInteger(abs) || abs < 0) throw new Error(`bad absolute index ${abs}`);
  if (!(input.endUtc >= input.startUtc)) throw new Error(`segment ${abs}: end ${input.endUtc} before start ${input.startUtc}`);
  const cameraId = input.cameraId;
  const run = db.transaction((): IndexResult => {
    const dup = s.existing.get({ camera_id: cameraId, abs }) as { id: number } | null;
    if (dup) {
      return { segmentId: dup.id, absoluteIndex: abs, duplicate: true, tripId: tripHolding(db, cameraId, abs) ?? 0, tripOpened: false, gap: null };
    }
    const state = ringCounters(db, cameraId);
    if (!state) throw new Error(`camera ${cameraId} has no camera_state row`);
    const cap = state.ring_capacity;
    const segmentIndex = abs % cap;
    const segmentGen = Math.floor(abs / cap);
    const startUtc = Math.round(input.startUtc);
    const endUtc = Math.round(input.endUtc);
    const now = Date.now();

    const prev = s.previous.get({ camera_id: cameraId, abs }) as { end_utc: number } | null;
    const ins = s.insert.run({
      camera_id: cameraId,
      segment_index: segmentIndex,
      segment_gen: segmentGen,
      abs,
      start_utc: startUtc,
      end_utc: endUtc,
      rel_path: input.relPath,
      codec: input.codec ?? null,
      width: input.width ?? null,
      height: input.height ?? null,
      fps: input.fps ?? null,
      bytes: input.bytes,
    });
    const segmentId = Number(ins.lastInsertRowid);
    advanceRingCounters(db, cameraId, abs + 1);
    const durationMs = endUtc - startUtc;
    recordSegmentIndexed(db, cameraId, endUtc, durationMs > 0 ? Math.round((input.bytes * 8000) / durationMs) : null, now);

    let gap: IndexResult["gap"] = null;
    if (prev && startUtc - prev.end_utc > GAP_THRESHOLD_MS) {
      gap = { start: prev.end_utc, end: startUtc };
      const g = s.gap.run({ camera_id: cameraId, gap_start: gap.start, gap_end: gap.end, now });
      if (g.changes > 0) {
        logEvent(db, {
          kind: "segment.gap",
          level: "warn",
          cameraId,
          at: now,
          message: `recording gap of ${((gap.end - gap.start) / 1000).toFixed(1)} s before segment ${abs}`,
          data: { gap_start: gap.start, gap_end: gap.end, absolute_index: abs },
        });
      }
    }

    let tripId: number;
    let tripOpened = false;
    const open = openTripOf(db, cameraId, bootId);
    if (open) {
      tripId = open.id;
      extendTrip(db, tripId, abs, endUtc, { startUtc, segmentIndex, segmentGen });
    } else {
      tripId = insertOpenTrip(db, { cameraId, bootId, startUtc, segmentIndex, segmentGen, absoluteIndex: abs, endUtc });
      tripOpened = true;
      logEvent(db, {
        kind: "trip.open",
        cameraId,
        at: now,
        message: `trip ${tripId} opened at segment ${abs}`,
        data: { trip_id: tripId, absolute_index: abs, boot_id: bootId },
      });
    }
    return { segmentId, absoluteIndex: abs, duplicate: false, tripId, tripOpened, gap };
  });
  return run();
}

/**
 * Syncs the segment file and its directory to disk, then `indexSegment`. A segment that already
 * has a row is returned as a duplicate without touching the disk. Throws when the file is
 * missing or `relPath` escapes `dataDir`.
 */
export function commitSegment(db: Database, dataDir: string, input: SegmentInput, bootId: string): IndexResult {
  const s = statements(db);
  const dup = s.existing.get({ camera_id: input.cameraId, abs: input.absoluteIndex }) as { id: number } | null;
  if (!dup) {
    const file = resolveInside(dataDir, input.relPath);
    fsyncPath(file);
    fsyncPath(dirname(file));
  }
  return indexSegment(db, input, bootId);
}

/** The camera's newest segment (highest absolute index), or null. */
export function latestSegment(db: Database, cameraId: number): SegmentRow | null {
  return (statements(db).latest.get({ camera_id: cameraId }) as SegmentRow | null) ?? null;
}

/** Segment row `segmentId`, or null when there is none (never indexed, or deleted by retention). */
export function segmentById(db: Database, segmentId: number): SegmentRow | null {
  return (statements(db).byId.get({ id: segmentId }) as SegmentRow | null) ?? null;
}

/** The latest end (ms UTC) among the camera's segments: how far its recording reaches; null without segments. */
export function recordedUntil(db: Database, cameraId: number): number | null {
  return (statements(db).recordedUntil.get({ camera_id: cameraId }) as { e: number | null }).e;
}

/** The columns of a segment row that comparing a ring with its directory needs. */
export type RingRow = Pick<SegmentRow, "id" | "absolute_index" | "rel_path" | "bytes" | "evidence_locked">;

/** Every segment row of a camera, oldest (lowest absolute index) first. */
export function ringRows(db: Database, cameraId: number): RingRow[] {
  return statements(db).ringRows.all({ camera_id: cameraId }) as RingRow[];
}

/** True while segment row `segmentId` exists. */
export function segmentExists(db: Database, segmentId: number): boolean {
  return Boolean(statements(db).exists.get({ id: segmentId }));
}

/** The id of the camera's segment row at absolute index `absoluteIndex`, or null. */
export function segmentIdAt(db: Database, cameraId: number, absoluteIndex: number): number | null {
  return (statements(db).existing.get({ camera_id: cameraId, abs: absoluteIndex }) as { id: number } | null)?.id ?? null;
}

/** The highest absolute index among the camera's segment rows, or null without rows. */
export function maxAbsoluteIndex(db: Database, cameraId: number): number | null {
  return (statements(db).maxIndex.get({ camera_id: cameraId }) as { m: number | null }).m;
}

/**
 * Deletes the row of a segment whose file is gone, unless it is evidence-locked (that row is
 * kept, so the loss stays visible). No garbage row: there is no file left to unlink.
 * Returns true when the row was deleted.
 */
export function deleteRowOfMissingFile(db: Database, segmentId: number): boolean {
  return statements(db).deleteUnlessEvidence.run({ id: segmentId }).changes > 0;
}

/** What counts against a camera's ring capacity: its segments without an evidence lock, their number and bytes. */
export function ringUsage(db: Database, cameraId: number): { count: number; bytes: number } {
  const u = statements(db).usage.get({ camera_id: cameraId }) as { n: number; bytes: number };
  return { count: u.n, bytes: u.bytes };
}

/** A segment retention may delete: neither read-locked nor evidence-locked. */
export type DeletableSegment = Pick<SegmentRow, "id" | "absolute_index" | "rel_path" | "bytes">;

/** The camera's oldest `limit` segments that hold neither lock, oldest first. */
export function oldestDeletable(db: Database, cameraId: number, limit: number): DeletableSegment[] {
  return statements(db).deletable.all({ camera_id: cameraId, limit }) as DeletableSegment[];
}
