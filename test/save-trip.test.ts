/**
 * Saving a trip through the real runtime (`startRuntime` in-process): ffmpeg recording its test
 * pattern (320x240, 2 s segments), a real SQLite file in a temp dir, the real trip actor with the
 * real `saveTrip` (evidence locks in the ring, nothing copied), the on-the-fly MP4 checked with
 * Debian's ffprobe. Also: a camera stopped through the runtime's actions closes its trip, and
 * retention under a full ring never deletes a saved trip's segments.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { existsSync, writeFileSync } from "node:fs";
import { streamTripMp4 } from "../src/media/tripMp4.ts";
import { tripById } from "../src/db/views.ts";
import { openDatabase } from "../src/db/open.ts";
import { dbPath } from "../src/paths.ts";
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

/** The trip's on-the-fly MP4 (what GET /trips/<id>/saved.mp4 sends) written to `<dataDir>/<name>`; returns its path. */
async function downloadMp4(db: Database, dataDir: string, tripId: number, name: string): Promise<string> {
  const out = join(dataDir, name);
  writeFileSync(out, new Uint8Array(await new Response(streamTripMp4(db, dataDir, tripById(db, tripId)!)!.body).arrayBuffer()));
  return out;
}

/** `downloadMp4` through a connection of its own (after the runtime stopped). */
async function downloadAfter(dataDir: string, tripId: number): Promise<string> {
  const db = openDatabase(dbPath(dataDir));
  try {
    return await downloadMp4(db, dataDir, tripId, "final.mp4");
  } finally {
    db.close();
  }
}

/** Sum of the ffprobe durations (s) of the given ring files. */
async function sumOfDurations(dataDir: string, segs: Seg[]): Promise<number> {
  let sum = 0;
  for (const s of segs) sum += (await probe(join(dataDir, s.rel_path))).duration;
  return sum;
}

describe("save trip", () => {
  test("saving an open trip: locked at once, saved as far as recorded, later segments locked as indexed, checked again when it closes", async () => {
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
    const saved1 = h.db.query("SELECT * FROM saved_trips").all() as { trip_id: number; saved_dir: string; mp4_path: string | null; saved_at_utc: number; layout: string }[];
    expect(saved1.length).toBe(1);
    expect(saved1[0].saved_dir).toBe("recordings/front");
    expect(saved1[0].mp4_path).toBeNull();
    expect(saved1[0].layout).toBe("ring");
    expect(tripRow(h.db, tripId).end_time_utc).toBeNull(); // still recording
    const early = await probe(await downloadMp4(h.db, dataDir, tripId, "early.mp4"));
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
    // closed at power-down, checked again with every segment before the process ended
    expect(trip.end_time_utc).not.toBeNull();
    expect(trip.status).toBe("saved");
    expect(rows.length).toBe(1);
    expect(rows[0].saved_at_utc).toBe(saved1[0].saved_at_utc);
    expect(segs.length).toBe(trip.last_absolute - trip.start_absolute + 1);
    expect(segs.every((s) => s.evidence_locked === 1)).toBe(true);
    expect(events.filter((k) => k === "trip.saving").length).toBe(2); // the save, then the check at close
    expect(events.filter((k) => k === "trip.saved").length).toBe(2);
    expect(events).not.toContain("trip.save_error");

    const final = await probe(await downloadAfter(dataDir, tripId));
    const sum = await sumOfDurations(dataDir, segs);
    expect(Math.abs(final.duration - sum)).toBeLessThanOrEqual(GOP_S);
    expect(final.duration).toBeGreaterThan(early.duration);
    // stored once: nothing was copied out of the ring
    expect(existsSync(join(dataDir, `saved/trip-${tripId}`))).toBe(false);
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
      // the save waits for the trip's first segment, then keeps it
      await waitUntil("this boot's trip saved", () => tripRow(b.db, ids[0]).status === "saved", 30_000);
      const trip = tripRow(b.db, ids[0]);
      expect(trip.start_absolute).toBe(previous[0].last_absolute + 1);
      const segs = tripSegs(b.db, trip);
      expect(segs.length).toBeGreaterThanOrEqual(1);
      expect(segs.every((x) => x.evidence_locked === 1 && x.incident_id === `trip-${ids[0]}`)).toBe(true);
      expect(b.db.query("SELECT mp4_path, layout FROM saved_trips WHERE trip_id = ?").get(ids[0])).toEqual({ mp4_path: null, layout: "ring" });
      expect((await probe(await downloadMp4(b.db, dataDir, ids[0], "first.mp4"))).duration).toBeGreaterThan(1);
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

    // STOP outside shutdown: the trip closes (camera_stopped) and is checked again
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
    const d = await probe(await downloadMp4(h.db, dataDir, trip1, "trip1.mp4"));
    expect(Math.abs(d.duration - (await sumOfDurations(dataDir, after)))).toBeLessThanOrEqual(GOP_S);
    await h.stop();
  }, 150_000);
});
