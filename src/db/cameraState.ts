/**
 * The ring counters of each camera (`camera_state`, seed 000): `absolute_segments` counts every
 * finalised segment (the absolute index the next segment gets), `segment_index` is the ring slot
 * of the next segment (`absolute_segments % ring_capacity`) and `segment_generation` counts
 * wraps (`floor(absolute_segments / ring_capacity)`).
 *
 * The row is created by `syncCameras` (src/db/cameras.ts) and advanced by the indexer in the
 * segment's transaction (src/db/segments.ts); start-up reconciliation reads it and repairs it
 * here when a crash left it behind the rows.
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";

/** One camera's `camera_state` counters (segment counts; capacity in segments). */
export interface RingCounters {
  absolute_segments: number;
  segment_index: number;
  segment_generation: number;
  ring_capacity: number;
}

const statements = perDatabase((db) => ({
  counters: db.prepare(
    "SELECT absolute_segments, segment_index, segment_generation, ring_capacity FROM camera_state WHERE camera_id = $id",
  ),
  nextStart: db.prepare("SELECT absolute_segments FROM camera_state WHERE camera_id = $id"),
  advance: db.prepare(
    `UPDATE camera_state SET
       absolute_segments = MAX(absolute_segments, $next),
       segment_index = MAX(absolute_segments, $next) % ring_capacity,
       segment_generation = MAX(absolute_segments, $next) / ring_capacity
     WHERE camera_id = $camera_id`,
  ),
  setAbsolute: db.prepare(
    `UPDATE camera_state SET absolute_segments = $abs, segment_index = $abs % ring_capacity,
       segment_generation = $abs / ring_capacity WHERE camera_id = $id`,
  ),
}));

/** The camera's ring counters, or null when it has no `camera_state` row. */
export function ringCounters(db: Database, cameraId: number): RingCounters | null {
  return (statements(db).counters.get({ id: cameraId }) as RingCounters | null) ?? null;
}

/** camera_state.absolute_segments: the absolute index the camera's next segment gets (0 when unknown). */
export function nextStartNumber(db: Database, cameraId: number): number {
  const row = statements(db).nextStart.get({ id: cameraId }) as { absolute_segments: number } | null;
  return row?.absolute_segments ?? 0;
}

/**
 * The indexer's step, in its transaction: `absolute_segments` becomes `next` (the closed
 * segment's index + 1) unless it is already higher (never lowered: a salvaged older segment does
 * not move the ring back), and the slot and generation follow it.
 */
export function advanceRingCounters(db: Database, cameraId: number, next: number): void {
  statements(db).advance.run({ camera_id: cameraId, next });
}

/**
 * Sets `absolute_segments` to `absoluteSegments` and derives the slot and generation from it
 * (`% ring_capacity`, integer `/ ring_capacity`). Start-up reconciliation calls it to repair
 * counters a crash left behind the rows, with max(absolute_segments, newest row + 1).
 */
export function setRingCounters(db: Database, cameraId: number, absoluteSegments: number): void {
  statements(db).setAbsolute.run({ abs: absoluteSegments, id: cameraId });
}
