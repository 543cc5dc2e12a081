/**
 * The camera status row (`camera_status`, seed 002): what the camera actor last did. Written by
 * the camera machine's actions inside the journal transaction (src/actors/journal.ts); read by
 * the web UI. Counters of indexed segments (`segment_count`, `last_segment_at`,
 * `observed_bitrate`) are written by the indexer (src/db/segments.ts) through
 * `recordSegmentIndexed`, in the segment's transaction.
 *
 * Seed 002 operations: `set_state` -> `setState`, `set_running` -> `setRunning`,
 * `bump_reconnect` -> `bumpReconnect`. Times are Unix ms UTC. Each function upserts, so a
 * camera without a row gets one.
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";

/** One `camera_status` row. Times are Unix ms UTC; `observed_bitrate` is bits/s. */
export interface CameraStatusRow {
  camera_id: number;
  state: string;
  pid: number | null;
  reconnect_count: number;
  last_error: string | null;
  last_started_at: number | null;
  segment_count: number;
  last_segment_at: number | null;
  observed_bitrate: number | null;
  updated_at: number;
}

const statements = perDatabase((db) => ({
  setState: db.prepare(
    `INSERT INTO camera_status (camera_id, state, last_error, updated_at) VALUES ($id, $state, $error, $at)
     ON CONFLICT(camera_id) DO UPDATE SET state = excluded.state, last_error = excluded.last_error,
       pid = CASE WHEN excluded.state IN ('starting', 'recording', 'stalled', 'stopping') THEN camera_status.pid ELSE NULL END,
       updated_at = excluded.updated_at`,
  ),
  setStateKeepError: db.prepare(
    `INSERT INTO camera_status (camera_id, state, updated_at) VALUES ($id, $state, $at)
     ON CONFLICT(camera_id) DO UPDATE SET state = excluded.state,
       pid = CASE WHEN excluded.state IN ('starting', 'recording', 'stalled', 'stopping') THEN camera_status.pid ELSE NULL END,
       updated_at = excluded.updated_at`,
  ),
  setRunning: db.prepare(
    `INSERT INTO camera_status (camera_id, state, pid, last_started_at, updated_at) VALUES ($id, $state, $pid, $started, $at)
     ON CONFLICT(camera_id) DO UPDATE SET state = excluded.state, pid = excluded.pid,
       last_started_at = excluded.last_started_at, updated_at = excluded.updated_at`,
  ),
  bump: db.prepare(
    `INSERT INTO camera_status (camera_id, state, reconnect_count, last_error, updated_at) VALUES ($id, 'backoff', 1, $error, $at)
     ON CONFLICT(camera_id) DO UPDATE SET reconnect_count = camera_status.reconnect_count + 1, pid = NULL,
       last_error = excluded.last_error, updated_at = excluded.updated_at`,
  ),
  get: db.prepare("SELECT * FROM camera_status WHERE camera_id = $id"),
  segmentIndexed: db.prepare(
    `INSERT INTO camera_status (camera_id, state, segment_count, last_segment_at, observed_bitrate, updated_at)
     VALUES ($camera_id, 'recording', 1, $end_utc, $bitrate, $now)
     ON CONFLICT(camera_id) DO UPDATE SET
       segment_count = segment_count + 1,
       last_segment_at = MAX(COALESCE(last_segment_at, 0), excluded.last_segment_at),
       observed_bitrate = excluded.observed_bitrate,
       updated_at = excluded.updated_at`,
  ),
  markDisabled: db.prepare(
    `UPDATE camera_status SET state = 'disabled', pid = NULL, updated_at = $at
     WHERE state <> 'disabled' AND camera_id IN (SELECT id FROM cameras WHERE enabled = 0)`,
  ),
}));

/**
 * seed 002 `set_state`: sets `state` and, unless `lastError` is undefined, `last_error`
 * (null clears it). Leaving a running state (anything but starting/recording/stalled/stopping)
 * clears `pid`. Does not touch counters.
 */
export function setState(db: Database, cameraId: number, state: string, lastError: string | null | undefined, at: number): void {
  const s = statements(db);
  if (lastError === undefined) s.setStateKeepError.run({ id: cameraId, state, at });
  else s.setState.run({ id: cameraId, state, error: lastError, at });
}

/** seed 002 `set_running`: the recorder process started: state, pid, last_started_at (ms). */
export function setRunning(db: Database, cameraId: number, state: string, pid: number, startedAt: number, at: number): void {
  statements(db).setRunning.run({ id: cameraId, state, pid, started: startedAt, at });
}

/** seed 002 `bump_reconnect`: reconnect_count + 1, pid cleared, last_error recorded. */
export function bumpReconnect(db: Database, cameraId: number, error: string | null, at: number): void {
  statements(db).bump.run({ id: cameraId, error, at });
}

/**
 * seed 002 `record_segment_indexed`, in the indexer's transaction (src/db/segments.ts):
 * segment_count + 1, last_segment_at = `endUtc` (never moved back), observed_bitrate =
 * `bitrate` (bits/s, null when unknown), updated_at = `at` (ms). A camera without a row gets one
 * in state `recording`.
 */
export function recordSegmentIndexed(db: Database, cameraId: number, endUtc: number, bitrate: number | null, at: number): void {
  statements(db).segmentIndexed.run({ camera_id: cameraId, end_utc: endUtc, bitrate, now: at });
}

/** The status row of a camera, or null. */
export function getCameraStatus(db: Database, cameraId: number): CameraStatusRow | null {
  return (statements(db).get.get({ id: cameraId }) as CameraStatusRow | null) ?? null;
}

/**
 * Cameras no longer enabled in the configuration (`cameras.enabled = 0`) get state `disabled`
 * and no pid: they have no actor to keep their row current. Returns the rows changed.
 */
export function markDisabledCameras(db: Database, at: number): number {
  return statements(db).markDisabled.run({ at }).changes;
}
