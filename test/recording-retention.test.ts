/**
 * Ring retention on a real SQLite file and real files: the oldest unlocked segments go,
 * read-locked and evidence-locked ones stay, garbage rows end empty, a byte limit (or the free
 * disk floor) with only locked footage left is reported as blocked, closed trips whose segments
 * are all gone are reported as evicted, one event_log row per sweep.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { CameraConfig } from "../src/config.ts";
import { indexSegment } from "../src/db/segments.ts";
import { closeTrip } from "../src/db/trips.ts";
import { tripById } from "../src/db/views.ts";
import { enforceRing, freeBytes } from "../src/actors/retention.ts";
import { cameraConfig, openTestDb, removeDir, tempDir, writeSegmentFile } from "./recording-helpers.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

const T0 = Date.UTC(2026, 0, 1);

function setup(fields: Record<string, unknown>) {
  const dataDir = tempDir();
  dirs.push(dataDir);
  const camera = cameraConfig({ key: "cam", ...fields });
  const { db, ids } = openTestDb(dataDir, [camera]);
  return { dataDir, camera, db, cameraId: ids.get("cam")! };
}

/** Writes and indexes segments `from..to` (1000 bytes each unless `bytes`); returns trip ids by boot. */
function record(db: Database, dataDir: string, cameraId: number, from: number, to: number, boot = "boot-A", bytes = 1000): number {
  let trip = 0;
  for (let abs = from; abs <= to; abs++) {
    const rel = writeSegmentFile(dataDir, "cam", abs, bytes);
    trip = indexSegment(db, { cameraId, absoluteIndex: abs, relPath: rel, startUtc: T0 + abs * 2000, endUtc: T0 + (abs + 1) * 2000, bytes }, boot).tripId;
  }
  return trip;
}

const indexes = (db: Database) =>
  (db.query("SELECT absolute_index FROM segments ORDER BY absolute_index").all() as { absolute_index: number }[]).map((r) => r.absolute_index);
const fileExists = (dataDir: string, abs: number) => existsSync(join(dataDir, "recordings", "cam", `${String(abs).padStart(9, "0")}.ts`));
const garbageCount = (db: Database) => (db.query("SELECT COUNT(*) AS n FROM garbage").get() as { n: number }).n;
const retentionEvents = (db: Database) => (db.query("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'retention'").get() as { n: number }).n;

describe("enforceRing", () => {
  test("the oldest unlocked segments go; read-locked and evidence-locked stay", () => {
    const { dataDir, camera, db, cameraId } = setup({ ring_segments: 5 });
    record(db, dataDir, cameraId, 0, 9);
    db.query("UPDATE segments SET locked = 1 WHERE absolute_index = 0").run();
    db.query("UPDATE segments SET evidence_locked = 1, incident_id = 'INC-1' WHERE absolute_index = 2").run();
    const r = enforceRing(db, dataDir, camera, cameraId);
    // 9 segments without an evidence lock, capacity 5: 4 deleted, oldest deletable first (1, 3, 4, 5)
    expect(r.deleted).toBe(4);
    expect(r.freedBytes).toBe(4000);
    expect(r.blocked).toBeNull();
    expect(indexes(db)).toEqual([0, 2, 6, 7, 8, 9]);
    for (const abs of [1, 3, 4, 5]) expect(fileExists(dataDir, abs)).toBe(false);
    for (const abs of [0, 2, 6, 7, 8, 9]) expect(fileExists(dataDir, abs)).toBe(true);
    expect(garbageCount(db)).toBe(0);
    expect(retentionEvents(db)).toBe(1);
    // within capacity now: a second sweep does nothing and logs nothing
    expect(enforceRing(db, dataDir, camera, cameraId)).toEqual({ deleted: 0, freedBytes: 0, blocked: null, evictedTripIds: [] });
    expect(retentionEvents(db)).toBe(1);
  });

  test("only locked segments over the count limit: left alone, not blocked", () => {
    const { dataDir, camera, db, cameraId } = setup({ ring_segments: 2 });
    record(db, dataDir, cameraId, 0, 3);
    db.query("UPDATE segments SET locked = 2").run();
    const r = enforceRing(db, dataDir, camera, cameraId);
    expect(r).toEqual({ deleted: 0, freedBytes: 0, blocked: null, evictedTripIds: [] });
    expect(indexes(db)).toEqual([0, 1, 2, 3]);
  });

  test("byte limit: deletes until under it; with only locked footage left it is blocked", () => {
    const { dataDir, camera, db, cameraId } = setup({ ring_segments: 100, ring_bytes: 3500 });
    record(db, dataDir, cameraId, 0, 5);
    let r = enforceRing(db, dataDir, camera, cameraId);
    expect(r.deleted).toBe(3); // 6000 bytes -> 3000
    expect(indexes(db)).toEqual([3, 4, 5]);
    expect(r.blocked).toBeNull();
    // everything left is locked (one read-lock, two evidence locks) and more arrives
    db.query("UPDATE segments SET locked = 1 WHERE absolute_index = 3").run();
    db.query("UPDATE segments SET evidence_locked = 1 WHERE absolute_index IN (4, 5)").run();
    record(db, dataDir, cameraId, 6, 6, "boot-A", 1000);
    db.query("UPDATE segments SET evidence_locked = 1 WHERE absolute_index = 6").run();
    // evidence-locked bytes do not count: only segment 3 (1000 bytes) counts, under 3500
    expect(enforceRing(db, dataDir, camera, cameraId).blocked).toBeNull();
    // a 3000-byte unlocked-by-evidence but read-locked segment pushes it over
    record(db, dataDir, cameraId, 7, 7, "boot-A", 3000);
    db.query("UPDATE segments SET locked = 1 WHERE absolute_index = 7").run();
    r = enforceRing(db, dataDir, camera, cameraId);
    expect(r.deleted).toBe(0);
    expect(r.blocked).toMatch(/ring_bytes 3500/);
    expect(r.blocked).toMatch(/locked/);
    expect(indexes(db)).toEqual([3, 4, 5, 6, 7]);
    const ev = db.query("SELECT level, message FROM event_log WHERE kind = 'retention' ORDER BY id DESC LIMIT 1").get() as { level: string; message: string };
    expect(ev.level).toBe("error");
    expect(ev.message).toContain("blocked");
  });

  test("free-disk floor above what the disk has: every unlocked segment goes, then blocked", () => {
    const { dataDir, camera: base, db, cameraId } = setup({ ring_segments: 100 });
    record(db, dataDir, cameraId, 0, 4);
    db.query("UPDATE segments SET evidence_locked = 1 WHERE absolute_index = 4").run();
    const camera: CameraConfig = { ...base, min_free_bytes: freeBytes(dataDir) + 1e15 };
    const r = enforceRing(db, dataDir, camera, cameraId);
    expect(r.deleted).toBe(4);
    expect(indexes(db)).toEqual([4]);
    expect(r.blocked).toMatch(/min_free_bytes/);
    expect(garbageCount(db)).toBe(0);
  });

  test("closed trips whose segments are all gone are reported evicted once; open trips never", () => {
    const { dataDir, camera, db, cameraId } = setup({ ring_segments: 4 });
    const tripA = record(db, dataDir, cameraId, 0, 2, "boot-A");
    closeTrip(db, tripA, T0);
    const tripB = record(db, dataDir, cameraId, 3, 5, "boot-B");
    closeTrip(db, tripB, T0);
    const tripC = record(db, dataDir, cameraId, 6, 8, "boot-C"); // stays open
    let r = enforceRing(db, dataDir, camera, cameraId);
    // 9 segments, capacity 4: 0..4 go; trip A (0..2) is fully gone, trip B (3..5) still has 5
    expect(r.deleted).toBe(5);
    expect(r.evictedTripIds).toEqual([tripA]);
    expect(tripById(db, tripA)).toMatchObject({ fully_evicted: 1, status: "closed" });
    expect(tripById(db, tripA)!.evicted_at_utc).toBeGreaterThan(0);
    expect(tripById(db, tripB)!.fully_evicted).toBe(0);
    record(db, dataDir, cameraId, 9, 12, "boot-C");
    r = enforceRing(db, dataDir, camera, cameraId);
    expect(r.evictedTripIds).toEqual([tripB]);
    expect(tripById(db, tripC)!.fully_evicted).toBe(0);
    expect(enforceRing(db, dataDir, camera, cameraId).evictedTripIds).toEqual([]);
  });

  test("a missing file does not stop the sweep", () => {
    const { dataDir, camera, db, cameraId } = setup({ ring_segments: 1 });
    record(db, dataDir, cameraId, 0, 2);
    require("node:fs").unlinkSync(join(dataDir, "recordings", "cam", "000000000.ts"));
    const r = enforceRing(db, dataDir, camera, cameraId);
    expect(r.deleted).toBe(2);
    expect(indexes(db)).toEqual([2]);
    expect(garbageCount(db)).toBe(0);
  });
});
