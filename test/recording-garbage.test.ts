/**
 * The pending-deletion rows (src/db/garbage.ts) on a real SQLite file: a segment turned into
 * garbage loses its row and gains a garbage row in one transaction; one that was read-locked or
 * evidence-locked after it was chosen is skipped; the same path twice keeps one garbage row; a
 * rollback of the caller's transaction undoes both halves; finishing removes the rows.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { deleteGarbageRow, deleteGarbageRows, pendingGarbage, segmentsToGarbage } from "../src/db/garbage.ts";
import { indexSegment, oldestDeletable, segmentIdAt } from "../src/db/segments.ts";
import { cameraConfig, openTestDb, removeDir, tempDir, writeSegmentFile } from "./recording-helpers.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));
const T0 = Date.UTC(2026, 0, 1);

/** A camera with segments 0..count-1 indexed (1000 bytes each). */
function setup(count: number): { db: Database; cameraId: number } {
  const dataDir = tempDir("dashcam-garbage-");
  dirs.push(dataDir);
  const { db, ids } = openTestDb(dataDir, [cameraConfig({ key: "cam", ring_segments: 100 })]);
  const cameraId = ids.get("cam")!;
  for (let abs = 0; abs < count; abs++) {
    const rel = writeSegmentFile(dataDir, "cam", abs, 1000);
    indexSegment(db, { cameraId, absoluteIndex: abs, relPath: rel, startUtc: T0 + abs * 2000, endUtc: T0 + (abs + 1) * 2000, bytes: 1000 }, "boot-A");
  }
  return { db, cameraId };
}

describe("garbage rows", () => {
  test("chosen segments become garbage rows; ones locked since they were chosen are skipped", () => {
    const { db, cameraId } = setup(4);
    const chosen = oldestDeletable(db, cameraId, 3);
    expect(chosen.map((c) => c.absolute_index)).toEqual([0, 1, 2]);
    // locked after being chosen: a reader took segment 1, an incident segment 2
    db.query("UPDATE segments SET locked = 1 WHERE absolute_index = 1").run();
    db.query("UPDATE segments SET evidence_locked = 1 WHERE absolute_index = 2").run();
    const moved = segmentsToGarbage(db, cameraId, chosen, T0);
    expect(moved.map((m) => m.segment.absolute_index)).toEqual([0]);
    expect(segmentIdAt(db, cameraId, 0)).toBeNull();
    expect(segmentIdAt(db, cameraId, 1)).not.toBeNull();
    expect(segmentIdAt(db, cameraId, 2)).not.toBeNull();
    expect(pendingGarbage(db)).toEqual([{ id: moved[0].garbageId, camera_id: cameraId, rel_path: chosen[0].rel_path }]);
  });

  test("the same path twice keeps one garbage row; a rolled-back caller transaction undoes both halves", () => {
    const { db, cameraId } = setup(3);
    const [first] = segmentsToGarbage(db, cameraId, oldestDeletable(db, cameraId, 1), T0);
    // a path already pending (e.g. a row indexed again before its garbage was finished)
    const again = segmentsToGarbage(db, cameraId, [{ id: segmentIdAt(db, cameraId, 1)!, rel_path: first.segment.rel_path }], T0 + 1);
    expect(again[0].garbageId).toBe(first.garbageId);
    expect(pendingGarbage(db)).toHaveLength(1);

    const before = pendingGarbage(db);
    expect(() =>
      db.transaction(() => {
        segmentsToGarbage(db, cameraId, oldestDeletable(db, cameraId, 1), T0 + 2);
        throw new Error("crash inside the caller's transaction");
      })(),
    ).toThrow("crash inside");
    expect(segmentIdAt(db, cameraId, 2)).not.toBeNull();
    expect(pendingGarbage(db)).toEqual(before);
  });

  test("finishing deletes the rows; a row already gone reports false", () => {
    const { db, cameraId } = setup(3);
    const moved = segmentsToGarbage(db, cameraId, oldestDeletable(db, cameraId, 3), T0);
    expect(moved).toHaveLength(3);
    deleteGarbageRows(db, [moved[0].garbageId, moved[1].garbageId]);
    expect(pendingGarbage(db).map((g) => g.id)).toEqual([moved[2].garbageId]);
    expect(deleteGarbageRow(db, moved[2].garbageId)).toBe(true);
    expect(deleteGarbageRow(db, moved[2].garbageId)).toBe(false);
    expect(pendingGarbage(db)).toEqual([]);
  });
});
