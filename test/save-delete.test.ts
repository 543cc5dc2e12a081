/**
 * Deleting a saved trip that has ended goes through the trip's actor, so the actor journal stays
 * the record of the trip's status. Through the real runtime in this process (ffmpeg recording
 * its test pattern, 2 s segments, a real SQLite file, real HTTP with a logged-in session):
 *
 * - a trip recorded, ended (camera stopped) and saved has no live actor (`saved` is final);
 *   "Delete" on the kept-drives list unlocks only the trip's own evidence locks (an incident's
 *   tag stays), drops its `saved_trips` row and makes it `closed`, and the journal holds that
 *   transition (`saved -> closed`) and the actor's snapshot `closed`;
 * - after a restart on the same data directory the trip is still closed and unlocked (nothing
 *   re-locks or re-saves it), and it can be kept again like any ended drive.
 */
import { afterEach, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { RuntimeFixture } from "./helpers/inprocess.ts";
import { webSession } from "./helpers/http.ts";
import { waitUntil } from "./helpers/wait.ts";

const fx = new RuntimeFixture("dashcam-save-delete-");
afterEach(() => fx.cleanup());

type Trip = { id: number; status: string; end_time_utc: number | null; start_absolute: number; last_absolute: number };
const tripRow = (db: Database, id: number) => db.query("SELECT id, status, end_time_utc, start_absolute, last_absolute FROM trips WHERE id = ?").get(id) as Trip;
const locks = (db: Database, t: Trip) =>
  db
    .query("SELECT absolute_index, evidence_locked, incident_id FROM segments WHERE absolute_index BETWEEN ? AND ? ORDER BY absolute_index")
    .all(t.start_absolute, t.last_absolute) as { absolute_index: number; evidence_locked: number; incident_id: string | null }[];
const count = (db: Database, sql: string, ...args: (string | number)[]) => (db.query(sql).get(...args) as { n: number }).n;

test("deleting an ended saved trip goes through its actor's journal; a restart keeps it closed and it can be kept again", async () => {
  const dataDir = fx.tempDir();
  const config = fx.config(dataDir);
  let h = await fx.start(config);
  await waitUntil("2 segments", () => count(h.db, "SELECT COUNT(*) AS n FROM segments") >= 2);
  const tripId = (h.db.query("SELECT id FROM trips").get() as { id: number }).id;
  await h.actions.stopCamera("front");
  await waitUntil("the trip ended", () => tripRow(h.db, tripId).end_time_utc !== null);
  await h.actions.saveTrip(tripId, "api");
  await waitUntil("saved, its actor finished", () => tripRow(h.db, tripId).status === "saved" && !h.supervisor.system.get(`trip:${tripId}`));
  const trip = tripRow(h.db, tripId);
  // the first segment also belongs to an incident clip (its own tag wins over the trip's)
  h.db.query("UPDATE segments SET incident_id = 'inc-20261207-test' WHERE absolute_index = ?").run(trip.start_absolute);
  expect(locks(h.db, trip).every((s) => s.evidence_locked === 1)).toBe(true);
  const transitionsBefore = count(h.db, "SELECT COUNT(*) AS n FROM actor_transitions WHERE actor_id = ?", `trip:${tripId}`);

  // "Delete" on the kept-drives list, as a phone posts it
  const cookie = await webSession(h.url);
  const list = await (await fetch(`${h.url}/trips?kept=1`, { headers: { cookie } })).text();
  expect(list).toContain(`action="/trips/${tripId}/delete"`);
  const csrf = /X-CSRF-Token(?:&quot;|"):(?:&quot;|")([^&"]+)/.exec(list)![1]!;
  const del = () =>
    fetch(`${h.url}/trips/${tripId}/delete`, {
      method: "POST",
      body: new URLSearchParams({ back: "kept" }),
      headers: { cookie, "X-CSRF-Token": csrf, origin: h.url, "content-type": "application/x-www-form-urlencoded", "HX-Request": "true" },
    });
  const res = await del();
  expect(res.status).toBe(200);
  expect(await res.text()).toContain("Deleted this kept drive: its footage is no longer kept and will be overwritten to make room.");

  const afterDelete = tripRow(h.db, tripId);
  expect(afterDelete.status).toBe("closed");
  expect(count(h.db, "SELECT COUNT(*) AS n FROM saved_trips WHERE trip_id = ?", tripId)).toBe(0);
  const unlocked = locks(h.db, afterDelete);
  expect(unlocked[0]).toEqual({ absolute_index: trip.start_absolute, evidence_locked: 1, incident_id: "inc-20261207-test" });
  expect(unlocked.slice(1).filter((s) => s.evidence_locked !== 0)).toEqual([]);
  expect(count(h.db, "SELECT COUNT(*) AS n FROM event_log WHERE kind = 'trip.unsaved'")).toBe(1);
  // the journal has the change: a transition saved -> closed and the actor's snapshot
  const last = h.db.query("SELECT from_state, to_state FROM actor_transitions WHERE actor_id = ? ORDER BY id DESC LIMIT 1").get(`trip:${tripId}`);
  expect(last).toEqual({ from_state: "saved", to_state: "closed" });
  expect(count(h.db, "SELECT COUNT(*) AS n FROM actor_transitions WHERE actor_id = ?", `trip:${tripId}`)).toBe(transitionsBefore + 1);
  expect((h.db.query("SELECT state FROM actor_snapshots WHERE actor_id = ?").get(`trip:${tripId}`) as { state: string }).state).toBe('"closed"');
  // not saved any more: a second delete is refused
  expect((await del()).status).toBe(409);
  await h.stop();

  // restart on the same data: still closed and unlocked, nothing changed it back
  h = await fx.start(config);
  const restarted = tripRow(h.db, tripId);
  expect(restarted.status).toBe("closed");
  expect(count(h.db, "SELECT COUNT(*) AS n FROM saved_trips WHERE trip_id = ?", tripId)).toBe(0);
  expect(locks(h.db, restarted)).toEqual(unlocked);
  expect(h.db.query("SELECT from_state, to_state FROM actor_transitions WHERE actor_id = ? ORDER BY id DESC LIMIT 1").get(`trip:${tripId}`)).toEqual({ from_state: "saved", to_state: "closed" });
  // ... and it can be kept again, like any ended drive
  await h.actions.saveTrip(tripId, "api");
  await waitUntil("saved again", () => tripRow(h.db, tripId).status === "saved" && !h.supervisor.system.get(`trip:${tripId}`));
  expect(locks(h.db, restarted).filter((s) => s.evidence_locked !== 1)).toEqual([]);
  expect(count(h.db, "SELECT COUNT(*) AS n FROM saved_trips WHERE trip_id = ?", tripId)).toBe(1);
  await h.stop();
}, 120_000);
