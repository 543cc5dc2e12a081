/**
 * Start-up reconciliation on crafted crash states (real SQLite file, real files, real ffmpeg
 * for the salvage): a garbage row whose file is still there, the segment being written at a
 * power cut (salvaged and indexed into the open trip), a truncated and an empty file (deleted),
 * a stray file below the counters (deleted), a row whose file is gone (removed; kept when
 * evidence-locked), read-locks (cleared), wrong counters (fixed). Every repair is one line and
 * one event_log row; a second pass finds nothing. scanRing changes nothing.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { existsSync, statSync, truncateSync, utimesSync, writeFileSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { indexSegment } from "../src/db/segments.ts";
import { openTripOf } from "../src/db/trips.ts";
import { tripById, tripSegments } from "../src/db/views.ts";
import { reconcileAtStartup, reconcileFullScan, scanRing } from "../src/actors/reconcile.ts";
import { segmentRelPath } from "../src/paths.ts";
import { cameraConfig, ffprobeDuration, fileHash, listing, makeTsFile, openTestDb, removeDir, tempDir, writeSegmentFile } from "./recording-helpers.ts";
import { dbPath } from "../src/paths.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

const T0 = Date.UTC(2026, 0, 1);
const ring = (dataDir: string, abs: number) => join(dataDir, segmentRelPath("cam", abs));

function setupRing() {
  const dataDir = tempDir();
  dirs.push(dataDir);
  const camera = cameraConfig({ key: "cam", ring_segments: 100, segment_seconds: 2 });
  const { db, ids } = openTestDb(dataDir, [camera]);
  const cameraId = ids.get("cam")!;
  // a real 2 s segment used as content for every indexed file
  const sample = join(dataDir, "sample.ts");
  makeTsFile(sample, 2);
  for (let abs = 0; abs < 5; abs++) {
    const rel = segmentRelPath("cam", abs);
    writeSegmentFile(dataDir, "cam", abs, 1);
    copyFileSync(sample, join(dataDir, rel));
    indexSegment(db, { cameraId, absoluteIndex: abs, relPath: rel, startUtc: T0 + abs * 2000, endUtc: T0 + (abs + 1) * 2000, bytes: statSync(sample).size }, "boot-OLD");
  }
  return { dataDir, camera, db, cameraId, ids, sample };
}

const count = (db: Database, sql: string) => (db.query(sql).get() as { n: number }).n;

describe("reconcileAtStartup", () => {
  test("repairs every crafted crash state, once", async () => {
    const { dataDir, camera, db, cameraId, ids, sample } = setupRing();

    // (a) retention crashed after rows -> garbage, before unlink: segment 0
    db.transaction(() => {
      db.query("DELETE FROM segments WHERE absolute_index = 0").run();
      db.query("INSERT INTO garbage (camera_id, rel_path, created_at) VALUES (?, ?, ?)").run(cameraId, segmentRelPath("cam", 0), T0);
    })();
    // (b) a garbage row whose file was already unlinked (crash before the second transaction)
    db.query("INSERT INTO garbage (camera_id, rel_path, created_at) VALUES (?, ?, ?)").run(cameraId, segmentRelPath("cam", 77), T0);
    // (c) row 2's file vanished; (d) row 3's file vanished but it is evidence-locked
    require("node:fs").unlinkSync(ring(dataDir, 2));
    require("node:fs").unlinkSync(ring(dataDir, 3));
    db.query("UPDATE segments SET evidence_locked = 1, incident_id = 'INC-9' WHERE absolute_index = 3").run();
    // (e) read-locks left by a crashed export
    db.query("UPDATE segments SET locked = 3 WHERE absolute_index IN (1, 4)").run();
    // (f) the segment being written at the power cut: 5 (real media, 2 s), mtime in the past
    // (its last write 2.5 s after segment 4 ended at T0 + 10 s)
    copyFileSync(sample, ring(dataDir, 5));
    const cut = T0 + 12_500;
    utimesSync(ring(dataDir, 5), cut / 1000, cut / 1000);
    // (g) a truncated-to-nothing-playable file and an empty file above the counters
    writeFileSync(ring(dataDir, 6), Buffer.alloc(376, 0x47));
    writeFileSync(ring(dataDir, 7), "");
    utimesSync(ring(dataDir, 6), cut / 1000, cut / 1000);
    utimesSync(ring(dataDir, 7), cut / 1000, cut / 1000);
    // (h) wrong generation counter (ring_capacity 100: 5 -> slot 5, gen 0)
    db.query("UPDATE camera_state SET segment_generation = 9 WHERE camera_id = ?").run(cameraId);
    const openTrip = openTripOf(db, cameraId, "boot-OLD")!;
    expect(openTrip).not.toBeNull();

    // scanRing reports without changing anything
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    const before = { db: fileHash(dbPath(dataDir)), wal: fileHash(`${dbPath(dataDir)}-wal`), files: listing(dataDir) };
    const scan = scanRing(db, dataDir, [camera], ids);
    expect({ db: fileHash(dbPath(dataDir)), wal: fileHash(`${dbPath(dataDir)}-wal`), files: listing(dataDir) }).toEqual(before);
    const f = scan.cameras[0];
    expect(f.rowsWithoutFiles.map((r) => [r.absoluteIndex, r.evidenceLocked])).toEqual([[2, false], [3, true]]);
    expect(f.filesWithoutRows.map((x) => [x.absoluteIndex, x.aboveNext])).toEqual([[0, false], [5, true], [6, true], [7, true]]);
    expect(f.counterProblems.length).toBe(1);
    expect(scan.garbage.length).toBe(2);
    expect(scan.readLocked).toBe(2);

    const report = await reconcileAtStartup(db, dataDir, [camera], ids, "boot-NEW");

    expect(report.clearedReadLocks).toBe(2);
    expect(report.garbageFinished).toBe(2);
    expect(report.deletedRows).toBe(1);
    expect(report.salvaged).toBe(1);
    // garbage file 0, truncated 6, empty 7
    expect(report.deletedFiles).toBe(3);
    expect(count(db, "SELECT COUNT(*) AS n FROM garbage")).toBe(0);
    expect(count(db, "SELECT COUNT(*) AS n FROM segments WHERE locked <> 0")).toBe(0);
    expect(existsSync(ring(dataDir, 0))).toBe(false);
    expect(existsSync(ring(dataDir, 6))).toBe(false);
    expect(existsSync(ring(dataDir, 7))).toBe(false);
    // row 2 gone, evidence row 3 kept
    const rows = db.query("SELECT absolute_index, evidence_locked FROM segments ORDER BY absolute_index").all() as { absolute_index: number; evidence_locked: number }[];
    expect(rows.map((r) => r.absolute_index)).toEqual([1, 3, 4, 5]);
    expect(report.repairs.some((l) => /evidence-locked segment 3/.test(l))).toBe(true);
    // the salvaged segment: duration from ffmpeg, end = mtime, in the open trip of the old boot
    const s5 = db.query("SELECT start_utc, end_utc, bytes, codec, width, height FROM segments WHERE absolute_index = 5").get() as {
      start_utc: number; end_utc: number; bytes: number; codec: string; width: number; height: number;
    };
    expect(s5.end_utc).toBe(cut);
    expect(Math.abs((s5.end_utc - s5.start_utc) / 1000 - ffprobeDuration(ring(dataDir, 5)))).toBeLessThan(0.5);
    expect(s5.bytes).toBe(statSync(ring(dataDir, 5)).size);
    expect(s5).toMatchObject({ codec: "H264", width: 160, height: 120 });
    expect(tripSegments(db, tripById(db, openTrip.id)!).map((s) => s.absolute_index)).toContain(5);
    expect(openTripOf(db, cameraId, "boot-NEW")).toBeNull();
    // counters: the salvage of 5 moved absolute_segments to 6; the wrong generation was fixed
    const st = db.query("SELECT absolute_segments, segment_index, segment_generation FROM camera_state WHERE camera_id = ?").get(cameraId);
    expect(st).toEqual({ absolute_segments: 6, segment_index: 6, segment_generation: 0 });
    // one event_log row per repair line
    expect(count(db, "SELECT COUNT(*) AS n FROM event_log WHERE kind = 'reconcile'")).toBe(report.repairs.length);
    expect(report.repairs.length).toBeGreaterThanOrEqual(8);

    // a second pass: only the evidence-locked row without a file is reported again, nothing repaired
    const again = await reconcileAtStartup(db, dataDir, [camera], ids, "boot-NEW");
    expect(again).toMatchObject({ salvaged: 0, deletedFiles: 0, deletedRows: 0, clearedReadLocks: 0, garbageFinished: 0 });
    expect(again.repairs.length).toBe(1);
    expect(again.repairs[0]).toMatch(/evidence-locked segment 3/);
  }, 60_000);

  test("a stray file below the counters is deleted, not salvaged; a salvage without an open trip uses the current boot", async () => {
    const { dataDir, camera, db, cameraId, ids, sample } = setupRing();
    db.query("UPDATE trips SET end_time_utc = last_time_utc, status = 'closed'").run();
    // stray: index 1's row deleted without a garbage row (tampering) -> file 1 is below the counters
    db.query("DELETE FROM segments WHERE absolute_index = 1").run();
    copyFileSync(sample, ring(dataDir, 5));
    utimesSync(ring(dataDir, 5), (T0 + 20_000) / 1000, (T0 + 20_000) / 1000);
    const report = await reconcileAtStartup(db, dataDir, [camera], ids, "boot-NEW");
    expect(existsSync(ring(dataDir, 1))).toBe(false);
    expect(report.salvaged).toBe(1);
    expect(report.deletedFiles).toBe(1);
    const trip = openTripOf(db, cameraId, "boot-NEW")!;
    expect(tripSegments(db, trip).map((s) => s.absolute_index)).toEqual([5]);
    // the 8 s hole between segment 4 (ends T0+10 s) and the salvaged one is a gap
    expect(count(db, "SELECT COUNT(*) AS n FROM recording_gaps")).toBe(1);
  }, 60_000);

  test("fullScan: false settles the tail only; reconcileFullScan later removes rows without files and stray files", async () => {
    const { dataDir, camera, db, ids, sample } = setupRing();
    const { unlinkSync } = await import("node:fs");
    unlinkSync(ring(dataDir, 2)); // row without file
    db.query("DELETE FROM segments WHERE absolute_index = 1").run(); // stray file below the counters
    copyFileSync(sample, ring(dataDir, 5)); // the power-cut segment at the tail
    copyFileSync(sample, ring(dataDir, 7)); // and one after a missing name (probe goes on past a miss)
    const quick = await reconcileAtStartup(db, dataDir, [camera], ids, "boot-NEW", { fullScan: false });
    expect(quick.salvaged).toBe(2);
    expect(quick.deletedRows).toBe(0);
    expect(existsSync(ring(dataDir, 1))).toBe(true);
    expect(count(db, "SELECT COUNT(*) AS n FROM segments WHERE absolute_index = 2")).toBe(1);
    const full = await reconcileFullScan(db, dataDir, [camera], ids);
    expect(full.deletedRows).toBe(1);
    expect(full.deletedFiles).toBe(1);
    expect(existsSync(ring(dataDir, 1))).toBe(false);
    const scan = scanRing(db, dataDir, [camera], ids).cameras[0];
    expect(scan.rowsWithoutFiles).toEqual([]);
    expect(scan.filesWithoutRows).toEqual([]);
    expect(scan.counterProblems).toEqual([]);
  }, 60_000);

  test("a file truncated mid-write keeps what it holds", async () => {
    const { dataDir, camera, db, ids, sample } = setupRing();
    copyFileSync(sample, ring(dataDir, 5));
    const full = statSync(ring(dataDir, 5)).size;
    truncateSync(ring(dataDir, 5), Math.floor(full / 2) - (Math.floor(full / 2) % 188) + 100);
    utimesSync(ring(dataDir, 5), (T0 + 11_000) / 1000, (T0 + 11_000) / 1000);
    const report = await reconcileAtStartup(db, dataDir, [camera], ids, "boot-NEW");
    expect(report.salvaged).toBe(1);
    const s5 = db.query("SELECT start_utc, end_utc, bytes FROM segments WHERE absolute_index = 5").get() as { start_utc: number; end_utc: number; bytes: number };
    expect(s5.bytes).toBe(statSync(ring(dataDir, 5)).size);
    // the partial last MPEG-TS packet is cut off; what remains is whole packets
    expect(s5.bytes % 188).toBe(0);
    expect(s5.bytes).toBe(Math.floor(full / 2) - (Math.floor(full / 2) % 188));
    // indexed with the duration it really holds (about half of the 2 s), measured by ffmpeg
    const dur = (s5.end_utc - s5.start_utc) / 1000;
    expect(Math.abs(dur - ffprobeDuration(ring(dataDir, 5)))).toBeLessThan(0.15);
    expect(dur).toBeGreaterThan(0.5);
    expect(dur).toBeLessThan(1.5);
    // its mtime (T0 + 11 s) minus that duration would overlap segment 4 (ends T0 + 10 s): it
    // starts where segment 4 ends instead
    expect(s5.start_utc).toBe(T0 + 10_000);
  }, 60_000);

  test("counters behind the rows are moved past them (never lowered)", async () => {
    const { dataDir, camera, db, cameraId, ids } = setupRing();
    db.query("UPDATE camera_state SET absolute_segments = 2, segment_index = 40, segment_generation = 7 WHERE camera_id = ?").run(cameraId);
    const report = await reconcileAtStartup(db, dataDir, [camera], ids, "boot-NEW");
    expect(report.repairs.length).toBe(1);
    expect(report.repairs[0]).toMatch(/fixed ring counters/);
    const st = db.query("SELECT absolute_segments, segment_index, segment_generation FROM camera_state WHERE camera_id = ?").get(cameraId);
    expect(st).toEqual({ absolute_segments: 5, segment_index: 5, segment_generation: 0 });
    db.query("UPDATE camera_state SET absolute_segments = 250, segment_index = 50, segment_generation = 2 WHERE camera_id = ?").run(cameraId);
    expect((await reconcileAtStartup(db, dataDir, [camera], ids, "boot-NEW")).repairs).toEqual([]);
  }, 60_000);
});
