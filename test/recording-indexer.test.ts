/**
 * The indexer transaction and trip queries on a real SQLite file: ring counters and wrap,
 * camera status, gap upsert once, trip opened once then extended, a new boot opens a new trip,
 * duplicates change nothing, commitSegment refuses a missing file, closeTrip inside a caller's
 * transaction, trip listings.
 */
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { join } from "node:path";
import { indexSegment, commitSegment, latestSegment, type SegmentInput } from "../src/db/segments.ts";
import { closeTrip, markTripEvicted, openTripForRecording, openTripOf, openTripsOfOtherBoots } from "../src/db/trips.ts";
import { listTrips, segmentsInWindow, tripById, tripSegments } from "../src/db/views.ts";
import { segmentRelPath } from "../src/paths.ts";
import { cameraConfig, openTestDb, removeDir, tempDir, writeSegmentFile } from "./recording-helpers.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);
const SEG_MS = 10_000;
let dataDir: string;
let db: Database;
let camId: number;

function seg(abs: number, over: Partial<SegmentInput> = {}): SegmentInput {
  return {
    cameraId: camId,
    absoluteIndex: abs,
    relPath: segmentRelPath("cam", abs),
    startUtc: T0 + abs * SEG_MS,
    endUtc: T0 + (abs + 1) * SEG_MS,
    bytes: 1_000_000,
    codec: "H264",
    width: 1280,
    height: 720,
    fps: 25,
    ...over,
  };
}

const state = () =>
  db.query("SELECT segment_index, segment_generation, absolute_segments, ring_capacity FROM camera_state WHERE camera_id = ?").get(camId) as {
    segment_index: number; segment_generation: number; absolute_segments: number; ring_capacity: number;
  };
const count = (sql: string) => (db.query(sql).get() as { n: number }).n;

beforeEach(() => {
  dataDir = tempDir();
  dirs.push(dataDir);
  const opened = openTestDb(dataDir, [cameraConfig({ key: "cam", ring_segments: 3 })]);
  db = opened.db;
  camId = opened.ids.get("cam")!;
});
afterEach(() => db.close());

describe("indexSegment", () => {
  test("rows carry ring slot and generation; counters point at the next slot and wrap", () => {
    for (let abs = 0; abs < 7; abs++) {
      const r = indexSegment(db, seg(abs), "boot-A");
      expect(r.duplicate).toBe(false);
      expect(r.absoluteIndex).toBe(abs);
      const st = state();
      expect(st.absolute_segments).toBe(abs + 1);
      expect(st.segment_index).toBe((abs + 1) % 3);
      expect(st.segment_generation).toBe(Math.floor((abs + 1) / 3));
    }
    const rows = db.query("SELECT absolute_index, segment_index, segment_gen, codec, width, fps FROM segments ORDER BY absolute_index").all() as {
      absolute_index: number; segment_index: number; segment_gen: number; codec: string; width: number; fps: number;
    }[];
    expect(rows.map((r) => [r.absolute_index, r.segment_index, r.segment_gen])).toEqual([
      [0, 0, 0], [1, 1, 0], [2, 2, 0], [3, 0, 1], [4, 1, 1], [5, 2, 1], [6, 0, 2],
    ]);
    expect(rows[0]).toMatchObject({ codec: "H264", width: 1280, fps: 25 });
  });

  test("camera status: count, last segment time, observed bitrate in bits/s", () => {
    indexSegment(db, seg(0), "boot-A");
    indexSegment(db, seg(1, { bytes: 2_500_000 }), "boot-A");
    const s = db.query("SELECT segment_count, last_segment_at, observed_bitrate FROM camera_status WHERE camera_id = ?").get(camId) as {
      segment_count: number; last_segment_at: number; observed_bitrate: number;
    };
    expect(s.segment_count).toBe(2);
    expect(s.last_segment_at).toBe(T0 + 2 * SEG_MS);
    expect(s.observed_bitrate).toBe(Math.round((2_500_000 * 8) / (SEG_MS / 1000)));
  });

  test("a hole over 3 s is one gap row and one event; 3 s or less is none", () => {
    indexSegment(db, seg(0), "boot-A");
    // exactly 3000 ms: not a gap
    const r1 = indexSegment(db, seg(1, { startUtc: T0 + SEG_MS + 3000, endUtc: T0 + 2 * SEG_MS + 3000 }), "boot-A");
    expect(r1.gap).toBeNull();
    // 20 s hole
    const start2 = T0 + 2 * SEG_MS + 3000 + 20_000;
    const r2 = indexSegment(db, seg(2, { startUtc: start2, endUtc: start2 + SEG_MS }), "boot-A");
    expect(r2.gap).toEqual({ start: T0 + 2 * SEG_MS + 3000, end: start2 });
    // the same segment again (restored actor): no second gap row or event
    const again = indexSegment(db, seg(2, { startUtc: start2, endUtc: start2 + SEG_MS }), "boot-A");
    expect(again.duplicate).toBe(true);
    expect(again.gap).toBeNull();
    expect(count("SELECT COUNT(*) AS n FROM recording_gaps")).toBe(1);
    const gap = db.query("SELECT camera_id, gap_start, gap_end FROM recording_gaps").get() as { camera_id: number; gap_start: number; gap_end: number };
    expect(gap).toEqual({ camera_id: camId, gap_start: T0 + 2 * SEG_MS + 3000, gap_end: start2 });
    expect(count("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'segment.gap'")).toBe(1);
  });

  test("a trip opened as recording starts is empty, begins at its first segment, and is removed if it closes empty", () => {
    indexSegment(db, seg(0), "boot-A");
    indexSegment(db, seg(1), "boot-A");
    const id = openTripForRecording(db, camId, "boot-B", T0 + 60_000)!;
    expect(tripById(db, id)).toMatchObject({ boot_id: "boot-B", start_absolute: 2, last_absolute: 1, start_time_utc: T0 + 60_000, end_time_utc: null, status: "open" });
    expect(tripSegments(db, tripById(db, id)!)).toEqual([]);
    // asking again (a salvage may have opened one already) gives the same trip
    expect(openTripForRecording(db, camId, "boot-B", T0 + 61_000)).toBe(id);
    const first = indexSegment(db, seg(3), "boot-B");
    expect(first.tripId).toBe(id);
    expect(first.tripOpened).toBe(false);
    expect(tripById(db, id)).toMatchObject({ start_absolute: 3, last_absolute: 3, start_time_utc: T0 + 3 * SEG_MS, last_time_utc: T0 + 4 * SEG_MS });
    indexSegment(db, seg(4), "boot-B");
    expect(tripById(db, id)).toMatchObject({ start_absolute: 3, last_absolute: 4, start_time_utc: T0 + 3 * SEG_MS });
    closeTrip(db, id, T0 + 100_000);
    expect(tripById(db, id)?.end_time_utc).toBe(T0 + 5 * SEG_MS);
    // a boot that never recorded: its empty trip is removed when it closes
    const empty = openTripForRecording(db, camId, "boot-C", T0 + 200_000)!;
    closeTrip(db, empty, T0 + 210_000);
    expect(tripById(db, empty)).toBeNull();
  });

  test("trip opened once, then extended; a new boot opens a new trip", () => {
    const a0 = indexSegment(db, seg(0), "boot-A");
    expect(a0.tripOpened).toBe(true);
    const a1 = indexSegment(db, seg(1), "boot-A");
    const a2 = indexSegment(db, seg(2), "boot-A");
    expect(a1.tripOpened).toBe(false);
    expect(a2.tripOpened).toBe(false);
    expect(a1.tripId).toBe(a0.tripId);
    expect(a2.tripId).toBe(a0.tripId);
    const t = tripById(db, a0.tripId)!;
    expect(t).toMatchObject({
      camera_id: camId, boot_id: "boot-A", status: "open", start_time_utc: T0, start_segment: 0, start_gen: 0,
      start_absolute: 0, last_absolute: 2, last_time_utc: T0 + 3 * SEG_MS, end_time_utc: null,
    });
    expect(count("SELECT COUNT(*) AS n FROM trips")).toBe(1);
    expect(count("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'trip.open'")).toBe(1);

    const b3 = indexSegment(db, seg(3), "boot-B");
    expect(b3.tripOpened).toBe(true);
    expect(b3.tripId).not.toBe(a0.tripId);
    // ring of 3: the new trip starts at slot 0 of generation 1
    expect(tripById(db, b3.tripId)).toMatchObject({ start_segment: 0, start_gen: 1, start_absolute: 3, boot_id: "boot-B" });
    expect(openTripsOfOtherBoots(db, "boot-B")).toEqual([{ id: a0.tripId, camera_id: camId }]);
    expect(openTripOf(db, camId, "boot-B")!.id).toBe(b3.tripId);
    expect(openTripOf(db, camId, "boot-C")).toBeNull();
  });

  test("a duplicate changes nothing", () => {
    indexSegment(db, seg(0), "boot-A");
    const first = indexSegment(db, seg(1), "boot-A");
    const dump = () =>
      JSON.stringify([
        db.query("SELECT * FROM segments ORDER BY id").all(),
        db.query("SELECT * FROM camera_state").all(),
        db.query("SELECT camera_id, segment_count, last_segment_at, observed_bitrate FROM camera_status").all(),
        db.query("SELECT * FROM trips").all(),
        db.query("SELECT * FROM recording_gaps").all(),
        db.query("SELECT COUNT(*) FROM event_log").all(),
      ]);
    const before = dump();
    const dup = indexSegment(db, seg(1, { bytes: 5, endUtc: T0 + 99 * SEG_MS }), "boot-Z");
    expect(dup).toEqual({ segmentId: first.segmentId, absoluteIndex: 1, duplicate: true, tripId: first.tripId, tripOpened: false, gap: null });
    expect(dump()).toBe(before);
  });

  test("bad input throws and writes nothing", () => {
    expect(() => indexSegment(db, seg(0, { endUtc: T0 - 1 }), "boot-A")).toThrow();
    expect(() => indexSegment(db, seg(-1), "boot-A")).toThrow();
    expect(() => indexSegment(db, seg(0, { cameraId: 999 }), "boot-A")).toThrow();
    expect(count("SELECT COUNT(*) AS n FROM segments")).toBe(0);
    expect(count("SELECT COUNT(*) AS n FROM trips")).toBe(0);
  });
});

describe("commitSegment", () => {
  test("indexes an existing file; a missing file throws before any row is written", () => {
    const rel = writeSegmentFile(dataDir, "cam", 0, 4096);
    const r = commitSegment(db, dataDir, seg(0, { relPath: rel, bytes: 4096 }), "boot-A");
    expect(r.duplicate).toBe(false);
    expect(() => commitSegment(db, dataDir, seg(1), "boot-A")).toThrow(/ENOENT|no such file/i);
    expect(count("SELECT COUNT(*) AS n FROM segments")).toBe(1);
    expect(() => commitSegment(db, dataDir, seg(2, { relPath: "../../etc/passwd" }), "boot-A")).toThrow(/escapes/);
    // an already indexed segment is a duplicate even when its file is gone
    const again = commitSegment(db, dataDir, seg(0, { relPath: join("recordings", "cam", "gone.ts") }), "boot-A");
    expect(again.duplicate).toBe(true);
  });
});

describe("read helpers", () => {
  test("segmentsInWindow overlaps [from, to); latestSegment is the highest index", () => {
    for (let abs = 0; abs < 5; abs++) indexSegment(db, seg(abs), "boot-A");
    const got = segmentsInWindow(db, camId, T0 + 15_000, T0 + 30_000).map((s) => s.absolute_index);
    expect(got).toEqual([1, 2]);
    expect(segmentsInWindow(db, camId, T0 + 50_000, T0 + 60_000)).toEqual([]);
    expect(latestSegment(db, camId)!.absolute_index).toBe(4);
    expect(latestSegment(db, 999)).toBeNull();
  });
});

describe("trips", () => {
  test("closeTrip inside a caller's transaction; rolled back with it; idempotent", () => {
    for (let abs = 0; abs < 5; abs++) indexSegment(db, seg(abs), "boot-A");
    const trip = openTripOf(db, camId, "boot-A")!;
    // rolled back with the caller
    expect(() =>
      db.transaction(() => {
        closeTrip(db, trip.id, T0 + 99_000);
        throw new Error("caller fails");
      })(),
    ).toThrow("caller fails");
    expect(tripById(db, trip.id)!.status).toBe("open");
    db.transaction(() => {
      closeTrip(db, trip.id, T0 + 99_000);
      db.query("INSERT INTO counters (name, value) VALUES ('probe', 1)").run();
    })();
    const closed = tripById(db, trip.id)!;
    // ring of 3, last absolute 4: slot 1 of generation 1
    expect(closed).toMatchObject({ status: "closed", end_time_utc: T0 + 5 * SEG_MS, final_segment: 1, end_gen: 1 });
    closeTrip(db, trip.id, T0 + 200_000);
    expect(tripById(db, trip.id)).toEqual(closed);
    expect(count("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'trip.close'")).toBe(1);
    // a closed trip is no longer open: the next segment of the same boot opens a new trip
    const next = indexSegment(db, seg(5), "boot-A");
    expect(next.tripOpened).toBe(true);
  });

  test("tripSegments, listTrips paging, markTripEvicted", () => {
    const ids: number[] = [];
    for (let abs = 0; abs < 6; abs++) {
      const r = indexSegment(db, seg(abs), `boot-${Math.floor(abs / 2)}`);
      if (r.tripOpened) ids.push(r.tripId);
    }
    expect(ids.length).toBe(3);
    expect(tripSegments(db, tripById(db, ids[1])!).map((s) => s.absolute_index)).toEqual([2, 3]);
    expect(listTrips(db, { limit: 2, offset: 0 }).rows.map((t) => t.id)).toEqual([ids[2], ids[1]]);
    expect(listTrips(db, { limit: 10, offset: 2 }).rows.map((t) => t.id)).toEqual([ids[0]]);
    expect(listTrips(db, { cameraId: camId, limit: 10, offset: 0 }).total).toBe(3);
    expect(listTrips(db, { cameraId: 999, limit: 10, offset: 0 })).toEqual({ rows: [], total: 0 });
    expect(markTripEvicted(db, ids[0], 123)).toBe(true);
    expect(markTripEvicted(db, ids[0], 456)).toBe(false);
    expect(tripById(db, ids[0])).toMatchObject({ fully_evicted: 1, evicted_at_utc: 123, status: "open" });
  });
});
