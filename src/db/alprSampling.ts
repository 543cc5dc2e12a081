/**
 * Segment queries of the ALPR sampler and dispatcher: closed segments (rows of `segments`)
 * above a camera's sampled watermark, the absolute segment index held in the counter
 * `alpr.sampled.<camera_id>` (see `COUNTERS`, src/db/alprTasks.ts).
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";
import { SEGMENT_COLUMNS, type SegmentRow } from "./segments.ts";

const statements = perDatabase((db) => ({
  newestIndex: db.prepare("SELECT MAX(absolute_index) AS m FROM segments WHERE camera_id = $camera_id"),
  firstAfter: db.prepare(
    `SELECT ${SEGMENT_COLUMNS} FROM segments
     WHERE camera_id = $camera_id AND absolute_index > $after ORDER BY absolute_index LIMIT 1`,
  ),
  countAfter: db.prepare("SELECT COUNT(*) AS n FROM segments WHERE camera_id = $camera_id AND absolute_index > $after"),
  anyAfter: db.prepare("SELECT 1 FROM segments WHERE camera_id = $camera_id AND absolute_index > $after LIMIT 1"),
}));

/** The camera's highest absolute segment index, or null when it has no segment. */
export function newestSegmentIndex(db: Database, cameraId: number): number | null {
  return (statements(db).newestIndex.get({ camera_id: cameraId }) as { m: number | null }).m;
}

/** The camera's first segment with an absolute index above `after`, or null. */
export function firstSegmentAfter(db: Database, cameraId: number, after: number): SegmentRow | null {
  return (statements(db).firstAfter.get({ camera_id: cameraId, after }) as SegmentRow | null) ?? null;
}

/** How many of the camera's segments have an absolute index above `after`. */
export function countSegmentsAfter(db: Database, cameraId: number, after: number): number {
  return (statements(db).countAfter.get({ camera_id: cameraId, after }) as { n: number }).n;
}

/** Whether the camera has a segment with an absolute index above `after`. */
export function hasSegmentAfter(db: Database, cameraId: number, after: number): boolean {
  return statements(db).anyAfter.get({ camera_id: cameraId, after }) !== null;
}
