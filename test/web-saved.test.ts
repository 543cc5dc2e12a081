/**
 * Saved trips in the web UI, through `app.request()` on the web fixture (a real SQLite file, real
 * ffmpeg-made segments): what a saved trip keeps and what it lacks on the trip page, the trip
 * lists and home; the list of saved trips with its Delete buttons; deleting (roles, CSRF, 409s,
 * 503 without the runtime; what it unlocks: test/save-delete.test.ts); the on-the-fly MP4
 * download of the trip and of one segment; the "card full" message on every page and a 503 from
 * /healthz while a camera is stopped for a full disk.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../src/web/app.tsx";
import { makeFixture, type WebFixture } from "./web-fixture.ts";
import { MAX_TRIP_STREAMS } from "../src/media/tripMp4.ts";
import { waitUntil } from "./helpers/wait.ts";

let f: WebFixture;
let app: ReturnType<typeof createApp>;
let closed: number;
let open: number;

beforeAll(async () => {
  f = await makeFixture();
  app = createApp(f.deps);
  ({ closed, open } = f.trips);
  // the closed trip (segments 10..14) was saved after the ring had taken its first segment; one
  // of its segments also belongs to an incident
  f.db.exec("DELETE FROM segments WHERE absolute_index = 10");
  f.db.exec(`UPDATE segments SET evidence_locked = 1, incident_id = 'trip-${closed}' WHERE absolute_index BETWEEN 11 AND 14`);
  f.db.exec("UPDATE segments SET incident_id = 'inc-20240501-crash' WHERE absolute_index = 12");
  f.db.exec(`UPDATE trips SET status = 'saved' WHERE id = ${closed}`);
  f.db.exec(`INSERT INTO saved_trips (trip_id, saved_dir, saved_at_utc) VALUES (${closed}, 'recordings/front', 1)`);
});
afterAll(() => f?.cleanup());

const text = async (path: string, who: "admin" | "operator" | "viewer" = "admin") => (await f.request(app, path, undefined, who)).text();
const post = (path: string, form: Record<string, string>, who: "admin" | "operator" | "viewer" = "operator", htmx = false) =>
  f.request(app, path, { method: "POST", body: new URLSearchParams(form), headers: htmx ? { "HX-Request": "true" } : {} }, who);

describe("saved trips in the web UI", () => {
  test("the trip page, the trip list and home say what the saved trip keeps and what is missing", async () => {
    for (const page of [`/trips/${closed}`, "/trips", "/"]) {
      const html = await text(page);
      expect({ page, note: /Saved 8\.0 s: 1 of 5 segments were gone before the save/.test(html) }).toEqual({ page, note: true });
    }
    // a trip that is not saved says nothing of the kind
    expect(await text(`/trips/${open}`)).not.toContain("saved-note");
  });

  test("a save that failed says so on the trip page until a later save event", async () => {
    const ev = (kind: string, at: number, message: string) =>
      f.db.query("INSERT INTO event_log (at, level, kind, camera_id, message, data) VALUES (?, 'error', ?, ?, ?, ?)").run(at, kind, f.front.id, message, JSON.stringify({ tripId: open }));
    ev("trip.saving", 1_000, "saving");
    ev("trip.save_error", 2_000, `trip ${open}: save failed: trip ${open} has no footage left in the ring`);
    expect(await text(`/trips/${open}`)).toMatch(/Not kept: keeping failed at <time[^>]*>[^<]*<\/time> \(trip \d+: save failed: trip \d+ has no footage left in the ring\)/);
    ev("trip.saving", 3_000, "saving again");
    expect(await text(`/trips/${open}`)).not.toContain("keeping failed");
    f.db.exec("DELETE FROM event_log WHERE kind IN ('trip.saving', 'trip.save_error')");
  });

  test("the list of saved trips: only saved ones, Delete for operators, not for viewers", async () => {
    const list = await text("/trips?kept=1", "operator");
    // the Footage page's Kept list (the "card full" message links here)
    expect(list).toMatch(/aria-current="page">Kept</);
    expect(list).toContain(`href="/trips/${closed}"`);
    expect(list).not.toContain(`href="/trips/${open}"`);
    expect(list).toContain(`action="/trips/${closed}/delete"`);
    expect(list).toContain("hx-confirm=");
    expect(await text("/trips?kept=1", "viewer")).not.toContain("/delete");
    expect((await f.request(app, "/trips?kept=2")).status).toBe(400);
  });

  test("the saved trip downloads as one MP4 made on the fly, named for a phone; an unsaved trip has none", async () => {
    const res = await f.request(app, `/trips/${closed}/saved.mp4`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="front-2024-05-0\d-\d{4}\.mp4"$/);
    expect(res.headers.get("content-length")).toBeNull();
    expect(res.headers.get("x-content-duration")).toBe("8.000");
    const body = new Uint8Array(await res.arrayBuffer());
    expect(new TextDecoder().decode(body.subarray(4, 8))).toBe("ftyp");
    expect(body.length).toBeGreaterThan(10_000);
    expect((await f.request(app, `/trips/${open}/saved.mp4`)).status).toBe(404);
    // HEAD starts nothing (no body would ever be read or cancelled)
    for (let i = 0; i < 6; i++) {
      const head = await f.request(app, `/trips/${closed}/saved.mp4`, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-type")).toBe("video/mp4");
    }
    expect((f.db.query("SELECT COALESCE(SUM(locked), 0) AS n FROM segments").get() as { n: number }).n).toBe(0);
  });

  test("one segment downloads as an MP4 remuxed on the fly, named for a phone; the raw MPEG-TS stays for players", async () => {
    const res = await f.request(app, "/media/front/11.mp4?tzo=-120");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("video/mp4");
    const start = (f.db.query("SELECT start_utc FROM segments WHERE absolute_index = 11").get() as { start_utc: number }).start_utc;
    const local = new Date(start + 120 * 60_000).toISOString(); // tzo -120: two hours east of UTC
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="front-${local.slice(0, 10)}-${local.slice(11, 13)}${local.slice(14, 16)}${local.slice(17, 19)}.mp4"`);
    const body = new Uint8Array(await res.arrayBuffer());
    expect(new TextDecoder().decode(body.subarray(4, 8))).toBe("ftyp");
    expect(body.length).toBeGreaterThan(5_000);
    const head = await f.request(app, "/media/front/11.mp4", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect((await f.request(app, "/media/front/10.mp4")).status).toBe(404); // taken by the ring
    expect((await f.request(app, "/media/front/11.avi")).status).toBe(400);
    const ts = await f.request(app, "/media/front/11.ts");
    expect(ts.headers.get("content-type")).toBe("video/mp2t");
    await ts.arrayBuffer();
    await waitUntil("read-locks released", () => (f.db.query("SELECT COALESCE(SUM(locked), 0) AS n FROM segments").get() as { n: number }).n === 0);
  });

  test("at most MAX_TRIP_STREAMS downloads at once: one more is 503 busy, and a slot frees when a client goes", async () => {
    const held: Response[] = [];
    for (let i = 0; i < MAX_TRIP_STREAMS; i++) held.push(await f.request(app, `/trips/${closed}/saved.mp4`));
    expect(held.map((r) => r.status)).toEqual(Array(MAX_TRIP_STREAMS).fill(200));
    const busy = await f.request(app, `/trips/${closed}/saved.mp4`);
    expect(busy.status).toBe(503);
    expect(await busy.text()).toContain("busy");
    for (const r of held) await r.body!.cancel();
    let again: Response | null = null;
    for (let i = 0; i < 100 && (again === null || again.status === 503); i++) {
      if (again) await Bun.sleep(20);
      again = await f.request(app, `/trips/${closed}/saved.mp4`);
    }
    expect(again!.status).toBe(200);
    await again!.arrayBuffer();
  });

  test("a camera stopped for a full disk: every page says so with the way out, /healthz is 503", async () => {
    f.db.exec(`UPDATE camera_status SET state = 'disk_full' WHERE camera_id = ${f.front.id}`);
    try {
      for (const page of ["/", `/trips/${closed}`, "/trips", "/trips?kept=1"]) {
        const html = await text(page);
        expect({ page, full: html.includes("The card is full: Front camera stopped recording") && html.includes('href="/trips?kept=1"') }).toEqual({ page, full: true });
      }
      const health = await app.request("/healthz");
      expect(health.status).toBe(503);
      const body = (await health.json()) as { ok: boolean; cameras: { key: string; ok: boolean; problem: string | null }[] };
      expect(body.ok).toBe(false);
      expect(body.cameras.find((c) => c.key === "front")).toEqual(expect.objectContaining({ ok: false, problem: expect.stringContaining("disk full") }));
    } finally {
      f.db.exec(`UPDATE camera_status SET state = 'recording' WHERE camera_id = ${f.front.id}`);
    }
    expect((await app.request("/healthz")).status).toBe(200);
  });

  test("deleting: viewers may not, unsaved trips are 409, Unlock is refused for a saved trip, no runtime is 503 and changes nothing", async () => {
    expect((await post(`/trips/${closed}/delete`, {}, "viewer")).status).toBe(403);
    const noCsrf = await app.request(`/trips/${closed}/delete`, { method: "POST", headers: { cookie: f.sessions.operator.cookie } });
    expect(noCsrf.status).toBe(403);
    expect((await post(`/trips/${open}/delete`, {})).status).toBe(409);
    expect((await post(`/trips/${closed}/delete`, { back: "elsewhere" })).status).toBe(400);
    // Unlock is not the way for a saved trip (it would leave a saved trip that keeps nothing)
    const unlock = await post(`/trips/${closed}/unlock`, {});
    expect(unlock.status).toBe(409);
    expect(await unlock.text()).toContain("delete the saved trip");
    expect(await text(`/trips/${closed}`)).not.toContain(`action="/trips/${closed}/unlock"`);
    expect(f.db.query(`SELECT status FROM trips WHERE id = ${closed}`).get()).toEqual({ status: "saved" });

    // deleting goes through the runtime (the trip's actor journals it: test/save-delete.test.ts);
    // without it the answer says so and nothing changes
    const res = await post(`/trips/${closed}/delete`, { back: "kept" }, "operator", true);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("unsaveTrip");
    expect(f.db.query(`SELECT status FROM trips WHERE id = ${closed}`).get()).toEqual({ status: "saved" });
    expect(f.db.query(`SELECT COUNT(*) AS n FROM saved_trips WHERE trip_id = ${closed}`).get()).toEqual({ n: 1 });
  });
});
