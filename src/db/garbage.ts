/**
 * Pending deletions (`garbage`): the crash-safe way a segment leaves the ring, after Moonfire
 * NVR. (1) one transaction turns the segment rows into garbage rows (`segmentsToGarbage`);
 * (2) the caller unlinks the files; (3) fsyncs the ring directory; (4) deletes the garbage rows
 * (`deleteGarbageRows`). A crash between (1) and (4) leaves garbage rows, which start-up
 * reconciliation finishes (`pendingGarbage`, then unlink, fsync, `deleteGarbageRow`), so a file
 * is never left on disk without a row that says it is to be deleted.
 *
 * `rel_path` is relative to data_dir and unique: a path turned into garbage twice keeps one row.
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";

/** One `garbage` row: a file whose segment row is gone and that still has to be unlinked. */
export interface GarbageRow {
  id: number;
  camera_id: number;
  rel_path: string;
}

const statements = perDatabase((db) => ({
  pending: db.prepare("SELECT id, camera_id, rel_path FROM garbage ORDER BY id"),
  deleteSegment: db.prepare("DELETE FROM segments WHERE id = $id AND locked = 0 AND evidence_locked = 0"),
  insert: db.prepare(
    `INSERT INTO garbage (camera_id, rel_path, created_at) VALUES ($camera_id, $rel_path, $now)
     ON CONFLICT(rel_path) DO UPDATE SET created_at = excluded.created_at
     RETURNING id`,
  ),
  delete: db.prepare("DELETE FROM garbage WHERE id = $id"),
}));

/** Every garbage row, oldest first. */
export function pendingGarbage(db: Database): GarbageRow[] {
  return statements(db).pending.all() as GarbageRow[];
}

/**
 * Step (1) of a deletion, in one transaction (a savepoint inside a caller's): each segment row
 * that holds neither a read-lock nor an evidence lock is deleted and its `rel_path` becomes a
 * garbage row of camera `cameraId`, dated `now` (Unix ms). A segment locked meanwhile is
 * skipped. Returns the segments moved, in input order, with their garbage row ids.
 */
export function segmentsToGarbage<S extends { id: number; rel_path: string }>(
  db: Database,
  cameraId: number,
  segments: readonly S[],
  now: number,
): { garbageId: number; segment: S }[] {
  const s = statements(db);
  return db.transaction(() => {
    const moved: { garbageId: number; segment: S }[] = [];
    for (const segment of segments) {
      if (s.deleteSegment.run({ id: segment.id }).changes === 0) continue; // locked meanwhile
      const g = s.insert.get({ camera_id: cameraId, rel_path: segment.rel_path, now }) as { id: number };
      moved.push({ garbageId: g.id, segment });
    }
    return moved;
  })();
}

/**
 * Step (1) for a file that is not a segment (a health snapshot picture): inserts the garbage
 * row of `relPath` (camera `cameraId`, dated `now`), inside the caller's transaction that
 * deletes the file's own row. Returns the garbage row id.
 */
export function addGarbage(db: Database, cameraId: number, relPath: string, now: number): number {
  return (statements(db).insert.get({ camera_id: cameraId, rel_path: relPath, now }) as { id: number }).id;
}

/** Step (4) for one row: deletes garbage row `id`; false when it was already gone. */
export function deleteGarbageRow(db: Database, id: number): boolean {
  return statements(db).delete.run({ id }).changes > 0;
}

/** Step (4) of a deletion: deletes the garbage rows `ids` in one transaction. */
export function deleteGarbageRows(db: Database, ids: readonly number[]): void {
  const s = statements(db);
  db.transaction(() => {
    for (const id of ids) s.delete.run({ id });
  })();
}
