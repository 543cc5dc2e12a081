/**
 * Saving a trip through the real runtime (`startRuntime` in-process): ffmpeg recording its test
 * pattern (320x240, 2 s segments), a real SQLite file in a temp dir, the real trip actor with the
 * real `saveTrip` (copy out of the ring, concat to MP4 with ffmpeg), checked with Debian's
 * ffprobe. Also: a camera stopped through the runtime's actions closes its trip, and retention
 * under a full ring never deletes a saved trip's segments.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { SegmentRow } from "../src/db/segments.ts";
import type { TripRow } from "../src/db/trips.ts";
import { probe } from "./helpers/media.ts";
import { RuntimeFixture, queryDb } from "./helpers/inprocess.ts";
import { TEST_CAMERA } from "./helpers/runtime.ts";
import { waitUntil } from "./helpers/wait.ts";

const fx = new RuntimeFixture("dashcam-save-trip-");
afterEach(() => fx.cleanup());

/** One GOP of the recorder's test pattern: a keyframe every segment (2 s). */
const GOP_S = 2;

type Seg = Pick<SegmentRow, "id" | "absolute_index" | "rel_path" | "evidence_locked" | "incident_id">;
type Trip = Pick<TripRow, "id" | "status" | "end_time_utc" | "start_absolute" | "last_absolute">;

const tripRow = (db: Database, id: number) => db.query("SELECT id, status, end_time_utc, start_absolute, last_absolute FROM trips WHERE id = ?").get(id) as Trip;
const tripSegs = (db: Database, t: Trip) =>
  db
    .query("SELECT id, absolute_index, rel_path, evidence_locked, incident_id FROM segments WHERE absolute_index BETWEEN ? AND ? ORDER BY absolute_index")
    .all(t.start_absolute, t.last_absolute) as Seg[];

/** Sum of the ffprobe durations (s) of the given ring files. */
async function sumOfDurations(dataDir: string, segs: Seg[]): Promise<number> {
  let sum = 0;
  for (const s of segs) sum += (await probe(join(dataDir, s.rel_path))).duration;
  return sum;
}

describe("save trip", () => {
  test("saving an open trip: locked at once, MP4 of what exists, later segments locked as indexed, MP4 rebuilt when it closes", async () => {
    const dataDir = fx.tempDir();
    const h = await fx.start(fx.config(dataDir));
    await waitUntil("2 segments", () => (h.db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 2);
    const tripId = (h.db.query("SELECT id FROM trips").get() as { id: number }).id;

    await h.actions.saveTrip(tripId, "api");
    // accepted: the trip is saving and every segment it has is evidence-locked in that transaction
    const atSave = tripRow(h.db, tripId);
    expect(["saving", "saved"]).toContain(atSave.status);
    expect(tripSegs(h.db, atSave).every((s) => s.evidence_locked === 1 && s.incident_id === `trip-${tripId}`)).toBe(true);

    await waitUntil("the trip saved so far", () => tripRow(h.db, tripId).status === "saved");
    const saved1 = h.db.query("SELECT * FROM saved_trips").all() as { trip_id: number; saved_dir: string; mp4_path: string; saved_at_utc: number }[];
    expect(saved1.length).toBe(1);
    expect(saved1[0].saved_dir).toBe(`saved/trip-${tripId}`);
    expect(saved1[0].mp4_path).toBe(`saved/trip-${tripId}/trip-${tripId}.mp4`);
    expect(tripRow(h.db, tripId).end_time_utc).toBeNull(); // still recording
    const mp4 = join(dataDir, saved1[0].mp4_path);
    const early = await probe(mp4);
    expect(early.video?.codec).toBe("h264");

    // later segments of the still-open trip are locked as they are indexed
    const lastAtSave = tripRow(h.db, tripId).last_absolute;
    await waitUntil("2 more segments", () => tripRow(h.db, tripId).last_absolute >= lastAtSave + 2);
    const grown = tripSegs(h.db, tripRow(h.db, tripId));
    expect(grown.filter((s) => s.absolute_index > lastAtSave).length).toBeGreaterThanOrEqual(2);
    expect(grown.filter((s) => s.evidence_locked !== 1 || s.incident_id !== `trip-${tripId}`)).toEqual([]);

    // asking again is harmless
    await h.actions.saveTrip(tripId, "ui");
    await h.stop();

    const { trip, segs, rows, events } = queryDb(dataDir, (db) => {
      const trip = tripRow(db, tripId);
      return {
        trip,
        segs: tripSegs(db, trip),
        rows: db.query("SELECT * FROM saved_trips").all() as { trip_id: number; mp4_path: string; saved_at_utc: number }[],
        events: (db.query("SELECT kind FROM event_log WHERE kind LIKE 'trip.%' ORDER BY id").all() as { kind: string }[]).map((e) => e.kind),
      };
    });
    // closed at power-down, MP4 rebuilt with every segment before the process ended
    expect(trip.end_time_utc).not.toBeNull();
    expect(trip.status).toBe("saved");
    expect(rows.length).toBe(1);
    expect(rows[0].saved_at_utc).toBe(saved1[0].saved_at_utc);
    expect(segs.length).toBe(trip.last_absolute - trip.start_absolute + 1);
    expect(segs.every((s) => s.evidence_locked === 1)).toBe(true);
    expect(events.filter((k) => k === "trip.saving").length).toBe(2); // the save, then the rebuild at close
    expect(events.filter((k) => k === "trip.saved").length).toBe(2);
    expect(events).not.toContain("trip.save_error");

    const final = await probe(mp4);
    const sum = await sumOfDurations(dataDir, segs);
    expect(Math.abs(final.duration - sum)).toBeLessThanOrEqual(GOP_S);
    expect(final.duration).toBeGreaterThan(early.duration);
    // the saved directory holds one copy per segment (byte-identical) and the MP4; no temp file
    const dir = join(dataDir, `saved/trip-${tripId}`);
    const names = readdirSync(dir).sort();
    expect(names).toEqual([...segs.map((s) => s.rel_path.split("/").pop()!), `trip-${tripId}.mp4`].sort());
    for (const s of segs) expect(readFileSync(join(dir, s.rel_path.split("/").pop()!)).equals(readFileSync(join(dataDir, s.rel_path)))).toBe(true);
  }, 120_000);

  test("a save right after start keeps this boot's trip (open from the first second), not the previous boot's", async () => {
    const dataDir = fx.tempDir();
    const before = process.env.DASHCAM_BOOT_ID;
    try {
      process.env.DASHCAM_BOOT_ID = "boot-previous";
      const a = await fx.start(fx.config(dataDir));
      await waitUntil("a segment", () => (a.db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 1);
      await a.stop();
      const previous = queryDb(dataDir, (db) => db.query("SELECT id, last_absolute FROM trips").all() as { id: number; last_absolute: number }[]);
      expect(previous.length).toBe(1);

      process.env.DASHCAM_BOOT_ID = "boot-now";
      const b = await fx.start(fx.config(dataDir));
      // asked before any segment of this boot closed (the first one takes 2 s)
      const ids = await b.actions.saveCurrent("cli");
      expect(ids.length).toBe(1);
      expect(ids[0]).not.toBe(previous[0].id);
      const opened = b.db.query("SELECT boot_id, start_absolute, last_absolute FROM trips WHERE id = ?").get(ids[0]) as { boot_id: string; start_absolute: number; last_absolute: number };
      expect(opened.boot_id).toBe("boot-now");
      expect(opened.last_absolute).toBe(opened.start_absolute - 1); // empty: opened as recording started
      // the save waits for the trip's first segment, then writes its MP4
      await waitUntil("this boot's trip saved", () => tripRow(b.db, ids[0]).status === "saved", 30_000);
      const trip = tripRow(b.db, ids[0]);
      expect(trip.start_absolute).toBe(previous[0].last_absolute + 1);
      const segs = tripSegs(b.db, trip);
      expect(segs.length).toBeGreaterThanOrEqual(1);
      expect(segs.every((x) => x.evidence_locked === 1 && x.incident_id === `trip-${ids[0]}`)).toBe(true);
      const mp4 = (b.db.query("SELECT mp4_path FROM saved_trips WHERE trip_id = ?").get(ids[0]) as { mp4_path: string }).mp4_path;
      expect((await probe(join(dataDir, mp4))).duration).toBeGreaterThan(1);
      // the previous boot's trip was not saved
      expect(tripRow(b.db, previous[0].id).status).toBe("closed");
    } finally {
      if (before === undefined) delete process.env.DASHCAM_BOOT_ID;
      else process.env.DASHCAM_BOOT_ID = before;
    }
  }, 120_000);

  test("a camera started again after a stop records into a new trip, open as soon as ffmpeg runs: a save then keeps it", async () => {
    const dataDir = fx.tempDir();
    const h = await fx.start(fx.config(dataDir));
    await waitUntil("a segment", () => (h.db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 1);
    const first = (h.db.query("SELECT id FROM trips").get() as { id: number }).id;
    await h.actions.stopCamera(TEST_CAMERA.key);
    await waitUntil("the first trip closed", () => tripRow(h.db, first).end_time_utc !== null);
    const before = (h.db.query("SELECT pid, last_started_at FROM camera_status").get() as { last_started_at: number }).last_started_at;
    await h.actions.startCamera(TEST_CAMERA.key);
    await waitUntil("ffmpeg started again", () => (h.db.query("SELECT last_started_at FROM camera_status").get() as { last_started_at: number }).last_started_at > before);
    // no segment of the new run is closed yet (2 s segments), and the new trip is already there
    const ids = await h.actions.saveCurrent("cli");
    expect(ids.length).toBe(1);
    expect(ids[0]).not.toBe(first);
    expect(tripRow(h.db, ids[0]).end_time_utc).toBeNull();
    await waitUntil("the new trip saved", () => tripRow(h.db, ids[0]).status === "saved", 30_000);
    expect(tripSegs(h.db, tripRow(h.db, ids[0])).length).toBeGreaterThanOrEqual(1);
    expect(tripRow(h.db, first).status).toBe("closed");
  }, 120_000);

  test("a camera stopped through the runtime closes its trip; retention under a full ring never deletes the saved trip's segments", async () => {
    const dataDir = fx.tempDir();
    const h = await fx.start(fx.config(dataDir, { cameras: [{ ...TEST_CAMERA, ring_segments: 3 }] }));
    await waitUntil("2 segments", () => (h.db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 2);
    const trip1 = (h.db.query("SELECT id FROM trips").get() as { id: number }).id;
    await h.actions.saveTrip(trip1, "api");
    await waitUntil("trip 1 saved so far", () => tripRow(h.db, trip1).status === "saved");

    // STOP outside shutdown: the trip closes (camera_stopped) and its MP4 is rebuilt
    await h.actions.stopCamera("front");
    await waitUntil("trip 1 closed and saved", () => {
      const t = tripRow(h.db, trip1);
      return t.end_time_utc !== null && t.status === "saved" && !h.supervisor.system.get(`trip:${trip1}`);
    });
    const snap = JSON.parse((h.db.query("SELECT snapshot FROM actor_snapshots WHERE actor_id = ?").get(`trip:${trip1}`) as { snapshot: string }).snapshot);
    expect(snap.context.closeReason).toBe("camera_stopped");
    expect(snap.value).toBe("saved");
    expect((h.db.query("SELECT state FROM camera_status").get() as { state: string }).state).toBe("stopped");
    const t1 = tripRow(h.db, trip1);
    const t1Segs = tripSegs(h.db, t1);
    expect(t1Segs.length).toBe(t1.last_absolute - t1.start_absolute + 1);

    // recording again opens a new trip; it outgrows the ring of 3 unlocked segments
    await h.actions.startCamera("front");
    const trip2 = await waitUntil("trip 2", () => (h.db.query("SELECT id FROM trips WHERE id > ?").get(trip1) as { id: number } | null)?.id);
    await waitUntil("retention deleting trip 2's oldest segments", () => {
      const t2 = tripRow(h.db, trip2);
      const first = h.db.query("SELECT MIN(absolute_index) AS a FROM segments WHERE absolute_index >= ?").get(t2.start_absolute) as { a: number | null };
      return first.a !== null && first.a > t2.start_absolute + 1 && t2.last_absolute - t2.start_absolute >= 5;
    }, 60_000);

    // every segment of the saved trip is still there (rows and files), still locked
    const after = tripSegs(h.db, t1);
    expect(after.map((s) => s.id)).toEqual(t1Segs.map((s) => s.id));
    expect(after.every((s) => s.evidence_locked === 1 && existsSync(join(dataDir, s.rel_path)))).toBe(true);
    // the ring itself is held at its capacity of unlocked segments
    const unlocked = (h.db.query("SELECT COUNT(*) AS n FROM segments WHERE evidence_locked = 0").get() as { n: number }).n;
    expect(unlocked).toBeLessThanOrEqual(3 + 1);
    expect((h.db.query("SELECT COUNT(*) AS n FROM saved_trips").get() as { n: number }).n).toBe(1);
    const mp4 = join(dataDir, `saved/trip-${trip1}/trip-${trip1}.mp4`);
    expect(statSync(mp4).size).toBeGreaterThan(0);
    const d = await probe(mp4);
    expect(Math.abs(d.duration - (await sumOfDurations(dataDir, after)))).toBeLessThanOrEqual(GOP_S);
    await h.stop();
  }, 150_000);
});
