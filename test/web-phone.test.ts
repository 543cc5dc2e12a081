/**
 * The phone UI a driver expects, through `app.request()` on the web fixture (real SQLite, real
 * ffmpeg-made segments, test/web-fixture.ts):
 *
 * - the driver's pages speak plain words: the rendered HTML of each of them (as viewer and as
 *   operator) holds no "ring", "segment", "boot", boot id or event kind name; the Diagnostics
 *   page (operators) keeps them;
 * - the home screen: camera pictures and states in words, one-tap Save / Incident whose
 *   confirmations are repainted by the SSE fragments (`keep-<id>`, `incident-<id>`) into a
 *   working Download MP4 link;
 * - footage by day with filters all / kept / incidents; My footage with incident clips named
 *   by camera and moment; download names like `front-2024-05-01-0800.mp4`;
 * - storage badge by fullness, plates page when reading is off, events as sentences with
 *   debug hidden, the setup page's title, one 24 h time formatter;
 * - the web app manifest, icons and service worker, readable without a session.
 *
 * The runtime's actions (save, incident) are the web layer's outer port (`WebActions`): here
 * they change the rows the way the runtime's actors do (test/web-phone-browser.test.ts drives
 * the real runtime instead).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp, type WebActions } from "../src/web/app.tsx";
import { fragmentsFor } from "../src/web/routes/live.tsx";
import { logEvent } from "../src/db/eventLog.ts";
import { setEvidenceLocked } from "../src/db/locks.ts";
import { upsertSavedTrip } from "../src/db/savedTrips.ts";
import { setTripStatus } from "../src/db/trips.ts";
import { openDatabase } from "../src/db/open.ts";
import { exportClip } from "../src/media/export.ts";
import { incidentIdFor } from "../src/machines/incident.ts";
import { idOfPath } from "../src/web/exportJobs.ts";
import { downloadName, fullness, whenText } from "../src/web/format.ts";
import { DiskBody } from "../src/web/components/DiskCard.tsx";
import { LiveBus } from "../src/events.ts";
import { eventSentence } from "../src/web/words.ts";
import type { EventRow } from "../src/db/views.ts";
import { validateConfig } from "../src/config.ts";
import { makeFixture, T0, type WebFixture, type Who } from "./web-fixture.ts";

let f: WebFixture;
let app: ReturnType<typeof createApp>;
const saveCalls: number[] = [];
const incidentCalls: { key: string; at: number }[] = [];

beforeAll(async () => {
  f = await makeFixture();
  const actions: WebActions = {
    // as the trip actor does on SAVE: the trip turns `saving` in one write, the copy follows
    async saveTrip(tripId) {
      saveCalls.push(tripId);
      setTripStatus(f.db, tripId, "saving");
    },
    async incident(cameraKey, atUtc) {
      incidentCalls.push({ key: cameraKey, at: atUtc });
      return { incidentId: incidentIdFor(atUtc, cameraKey) };
    },
  };
  f.deps.actions = actions;
  app = createApp(f.deps);
});
afterAll(() => f?.cleanup());

const html = async (path: string, who: Who = "admin") => {
  const res = await f.request(app, path, undefined, who);
  expect({ path, status: res.status }).toEqual({ path, status: 200 });
  return res.text();
};

/** Words of the recorder that must not reach a driver's page. */
const JARGON: [string, RegExp][] = [
  ["ring", /\bring\b/i],
  ["segment", /segment/i],
  ["boot", /\bboot/i],
  ["event kind", /\b(camera\.state|segment\.gap|trip\.open|trip\.close|segment\.evidence_lock|evidence\.lock|incident\.mark)\b/],
];

describe("plain words on the driver's pages", () => {
  const at = T0 + 37_000;
  const DRIVER_PAGES = [
    "/",
    "/trips",
    "/trips?show=saved",
    "/trips?show=incidents",
    "/trips?day=2024-05-01&tzo=-120",
    "/trips/1",
    "/trips/2",
    "/trips/3",
    "/cameras/front",
    `/cameras/front?at=${at}`,
    "/cameras/rear",
    "/my-footage",
    "/events",
    "/plates",
  ];
  for (const who of ["viewer", "operator"] as const)
    test(`no ring, segment, boot or event kind names (${who})`, async () => {
      for (const path of DRIVER_PAGES) {
        const text = await html(path, who);
        for (const [word, re] of JARGON) expect({ path, word, found: re.exec(text)?.[0] ?? null }).toEqual({ path, word, found: null });
      }
    });

  test("the Diagnostics page keeps them, for operators and admins only", async () => {
    const text = await html("/diagnostics", "operator");
    expect(text).toContain("segments");
    expect(text).toContain("boot-a");
    expect(text).toMatch(/\bRing\b/);
    expect(text).toContain('href="/events?details=1"');
    expect((await f.request(app, "/diagnostics", undefined, "viewer")).status).toBe(403);
    // the tab bar's More menu links it for operators, not for viewers
    expect(await html("/", "operator")).toContain('href="/diagnostics"');
    expect(await html("/", "viewer")).not.toContain('href="/diagnostics"');
  });

  test("camera states in words", async () => {
    const text = await html("/");
    expect(text).toMatch(/sse-swap="camera-tile-front"[\s\S]*?class="badge ok">Recording</);
    expect(text).toMatch(/sse-swap="camera-tile-rear"[\s\S]*?class="badge warn">Reconnecting…</);
    f.db.exec("SAVEPOINT full");
    try {
      f.db.query("UPDATE camera_status SET state = 'disk_full' WHERE camera_id = ?").run(f.rear.id);
      expect(await html("/")).toMatch(/class="badge bad">Stopped: card full</);
    } finally {
      f.db.exec("ROLLBACK TO full; RELEASE full");
    }
  });

  test("a timelapse-only camera says it takes timelapse pictures, with its current picture, never Off", async () => {
    // rear as `record = false` with captures every 5 min: the supervisor keeps its camera actor disabled
    const config = { ...f.deps.config, cameras: f.deps.config.cameras.map((c) => (c.key === "rear" ? { ...c, record: false, timelapse: { ...c.timelapse, interval_seconds: 300, rotation: "none" as const, overlay_position: "top-right" as const } } : c)) };
    const tlApp = createApp({ ...f.deps, config } as typeof f.deps);
    f.db.exec("SAVEPOINT tl");
    try {
      f.db.query("UPDATE camera_status SET state = 'disabled', last_error = NULL WHERE camera_id = ?").run(f.rear.id);
      const page = async (path: string) => (await f.request(tlApp, path, undefined, "viewer")).text();
      const home = await page("/");
      const tile = /<article class="card camera-tile" id="camera-rear">[\s\S]*?<\/article>/.exec(home)![0];
      expect(tile).toContain('class="badge info">Timelapse<');
      expect(tile).toContain("Takes a timelapse picture every 5 min; it records no video.");
      expect(tile).toMatch(/<img class="cam-thumb" src="\/cameras\/rear\/frame.jpg" alt="Rear: current picture"[^>]*data-refresh="60"/);
      expect(tile).not.toContain(">Off<");
      expect(tile).not.toContain("data-live=");
      // a recording camera's tile is its moving live view
      expect(home).toMatch(/<article class="card camera-tile" id="camera-front"><div class="player live-player live-thumb"[\s\S]*?data-live="\/cameras\/front\/live.ts"/);
      // its page: the current picture instead of a live view that cannot play
      const cameraPage = await page("/cameras/rear");
      expect(cameraPage).toContain('id="current-picture"');
      expect(cameraPage).not.toContain('data-live="/cameras/rear/live.ts"');
      expect(cameraPage).toContain("Takes a timelapse picture every 5 min");
      // no empty video browser: where its pictures are instead
      expect(cameraPage).toContain('href="/timelapses#timelapse-camera-rear"');
      expect(cameraPage).not.toContain(">Recordings<");
      // a camera that records video keeps its recordings
      expect(await page("/cameras/front")).toContain(">Recordings<");
      // it records nothing by design, so /healthz (monitoring) never counts it as stalled
      const health = (await (await createApp({ ...f.deps, config, startedAt: 0 } as typeof f.deps).request("/healthz")).json()) as { cameras: { key: string; ok: boolean; problem: string | null }[] };
      expect(health.cameras.find((c) => c.key === "rear")).toEqual(expect.objectContaining({ ok: true, problem: null }));
      expect(health.cameras.find((c) => c.key === "front")!.ok).toBe(false); // recording stopped in 2024: stalled
      // the live update of its tile says the same
      const frags = await fragmentsFor({ ...f.deps, config } as typeof f.deps, { type: "camera", key: "rear", state: "disabled" }, { lastDisk: Date.now() });
      expect(frags.find((m) => m.event === "camera-tile-rear")!.data).toContain('class="badge info">Timelapse<');
    } finally {
      f.db.exec("ROLLBACK TO tl; RELEASE tl");
    }
  });

  test("the runtime's event messages become sentences without the recorder's words", () => {
    const row = (kind: string, message: string, data: object | null = null): EventRow => ({
      id: 1, at: T0, level: "info", kind, camera_id: f.front.id, camera_key: "front", message, data: data && JSON.stringify(data),
    });
    const rows = [
      row("trip.open", "trip 3 opened at segment 16", { trip_id: 3, absolute_index: 16, boot_id: "boot-b" }),
      row("trip.close", "trip 3 closed at segment 20"),
      row("segment.gap", "recording gap of 30.0 s before segment 13", { gap_start: T0, gap_end: T0 + 30_000 }),
      row("segment.evidence_lock", "evidence-locked 4 segments (incident inc-x)"),
      row("trip.saving", "saving trip 3: 5 segments locked", { tripId: 3, source: "ui", user: "otto" }),
      row("trip.saved", "saved trip 3: 5 segments, 1.2 MB, ring copy done"),
      row("incident.begin", "incident inc-x at 2024-05-01T08:00:00Z: 3 segments locked so far"),
      row("incident.done", "incident inc-x: clip exports/front.mp4 exported (6.0 s), evidence-locked"),
      row("camera.state", "camera front: backoff (connection refused)", { state: "backoff", last_error: "connection refused" }),
      row("alpr.stop", "ALPR stopped (3 frame task(s) waiting)"),
      row("trip.unsaved", "otto deleted saved trip 3: 5 segments unlocked for the ring to reclaim", { tripId: 3, unlocked: 5, files: 0, by: "otto" }),
      row("saved.migrated", "saved trip 3 is now stored once: 5 copies of ring segments deleted, MP4 kept, 100 bytes freed"),
      row("timelapse.done", "timelapse batch 4: timelapse/front/x.mp4 rendered (30 frames, 1.0 s, 1000 bytes)"),
    ];
    for (const r of rows) {
      const text = eventSentence(r, "Front camera");
      for (const [word, re] of JARGON) expect({ kind: r.kind, word, found: re.exec(text)?.[0] ?? null }).toEqual({ kind: r.kind, word, found: null });
      expect({ kind: r.kind, same: text === r.message }).toEqual({ kind: r.kind, same: false });
    }
    expect(eventSentence(rows[8]!, "Front camera")).toBe("Front camera: Reconnecting… (connection refused)");
    expect(eventSentence(rows[4]!, "Front camera")).toBe("Front camera: keeping a drive (by otto)");
    expect(eventSentence(rows[10]!, "Front camera")).toBe("Front camera: a kept drive was deleted (by otto); its footage may be overwritten");
  });

  test("events read as sentences; debug rows and kind names only with technical details", async () => {
    const debugId = logEvent(f.db, { kind: "snapshot", level: "debug", message: "ada viewed a snapshot of front", cameraId: f.front.id });
    // bookkeeping rows the recorder writes (one per locked segment): technical details only
    const lockId = logEvent(f.db, { kind: "segment.evidence_lock", message: "evidence-locked 2 segments (incident inc-x)", cameraId: f.front.id });
    try {
      const plain = await html("/events");
      expect(plain).toContain("Front camera: recording interrupted for 30 s");
      expect(plain).toContain("Front camera: a new drive started");
      expect(plain).not.toContain(`id="event-${debugId}"`);
      expect(plain).not.toContain(`id="event-${lockId}"`);
      expect(plain).toContain('href="/events?details=1"');
      expect(plain).toContain("Show technical details");
      const details = await html("/events?details=1");
      expect(details).toContain(`id="event-${debugId}"`);
      expect(details).toContain(`id="event-${lockId}"`);
      expect(details).toContain('<code class="kind">segment.gap</code>');
      expect(details).toContain('name="kind"');
      expect(details).toContain("Hide technical details");
    } finally {
      f.db.query("DELETE FROM event_log WHERE id IN (?, ?)").run(debugId, lockId);
    }
  });
});

describe("home screen: Save and Incident", () => {
  test("the home screen shows each camera's live view, big Save and Incident for operators only", async () => {
    const op = await html("/", "operator");
    // a moving thumbnail: the live player without controls, whose Retry sits outside any link
    expect(op).toMatch(/<article class="card camera-tile" id="camera-front"><div class="player live-player live-thumb"[^>]*><video class="video" data-live="\/cameras\/front\/live.ts"[^>]*aria-label="Live view of Front camera"/);
    expect(op).not.toMatch(/<video[^>]*data-live="\/cameras\/front\/live.ts"[^>]*controls/);
    expect(op).toMatch(/<form[^>]*hx-post="\/home\/save"[^>]*>[\s\S]*?id="save-button"/);
    expect(op).toMatch(/<form[^>]*hx-post="\/home\/incident"[^>]*>[\s\S]*?id="incident-button"/);
    expect(op).toContain('id="keep-result"');
    const viewer = await html("/", "viewer");
    expect(viewer).not.toContain('id="save-button"');
    expect(viewer).toContain("Saving footage needs an operator account");
    expect((await f.request(app, "/home/save", { method: "POST", headers: { "HX-Request": "true" } }, "viewer")).status).toBe(403);
  });

  test("Save keeps the current drive; the confirmation turns into a Download MP4 link over SSE", async () => {
    f.db.exec("SAVEPOINT save");
    try {
      const res = await f.request(app, "/home/save", { method: "POST", headers: { "HX-Request": "true" } }, "operator");
      expect(res.status).toBe(200);
      const body = await res.text();
      // the open trip (3) is the current drive
      expect(saveCalls.at(-1)).toBe(3);
      expect(body).toContain('sse-swap="keep-3"');
      // and fetches its state once it is in the page (a save may finish before SSE listens)
      expect(body).toContain('hx-get="/trips/3/keep?requested=1" hx-trigger="load"');
      expect(body).toContain("Saving…");
      expect(body).toMatch(/drive of 4 s so far, <time[^>]*data-fmt="when"/);
      expect(body).not.toContain("Download MP4");
      // the saver finishes: a saved_trips row with a real MP4 (an export of the trip's footage)
      const clip = await exportClip(f.db, f.dir, { cameraId: f.front.id, fromUtc: f.front.segments[5]!.start, toUtc: f.front.segments[6]!.end });
      upsertSavedTrip(f.db, { tripId: 3, savedDir: "exports", savedAtUtc: Date.now(), mp4Path: clip.relPath });
      setTripStatus(f.db, 3, "saved");
      const frags = await fragmentsFor(f.deps, { type: "trip", id: 3, cameraKey: "front", state: "saved" }, { lastDisk: Date.now() });
      const keep = frags.find((m) => m.event === "keep-3");
      expect(keep?.data).toContain("<strong>Saved:</strong> drive of 4 s so far");
      expect(keep?.data).toContain('href="/trips/3/saved.mp4"');
      const refetch = await (await f.request(app, "/trips/3/keep?requested=1", { headers: { "HX-Request": "true" } }, "viewer")).text();
      expect(refetch).toContain("<strong>Saved:</strong>");
      expect(refetch).toContain('href="/trips/3/saved.mp4"');
      // the link works and names the file by camera and start time
      const dl = await f.request(app, "/trips/3/saved.mp4?tzo=-60", undefined, "viewer");
      expect(dl.status).toBe(200);
      expect(dl.headers.get("content-disposition")).toBe(`attachment; filename="${downloadName("front", f.front.segments[5]!.start, "mp4", -60)}"`);
      expect(dl.headers.get("content-disposition")).toBe('attachment; filename="front-2024-05-01-0901.mp4"');
      const bytes = new Uint8Array(await dl.arrayBuffer());
      expect(new TextDecoder().decode(bytes.slice(4, 8))).toBe("ftyp");
      rmSync(join(f.dir, clip.relPath));
    } finally {
      f.db.exec("ROLLBACK TO save; RELEASE save");
    }
  });

  test("Incident marks every recording camera; its confirmation gets the clip's download when it is exported", async () => {
    const res = await f.request(app, "/home/incident", { method: "POST", headers: { "HX-Request": "true" } }, "operator");
    expect(res.status).toBe(200);
    const body = await res.text();
    // only the front camera has recorded anything
    expect(incidentCalls.map((c) => c.key)).toEqual(["front"]);
    const { at } = incidentCalls[0]!;
    const id = incidentIdFor(at, "front");
    expect(body).toContain(`sse-swap="incident-${id}"`);
    expect(body).toContain("<strong>Incident:</strong> Front camera");
    expect(body).toContain("s before and");
    // the incident id is there for operators, folded away
    expect(body).toMatch(/<details class="advanced"><summary>Advanced<\/summary>[\s\S]*?<code>inc-/);

    // the incident actor exports the clip (here: of recorded footage) and logs incident.done
    const inc = incidentIdFor(T0 + 2000, "front");
    const clip = await exportClip(f.db, f.dir, { cameraId: f.front.id, fromUtc: T0, toUtc: T0 + 4000, incidentId: inc, evidence: true });
    try {
      const row = logEvent(f.db, {
        kind: "incident.done",
        cameraId: f.front.id,
        message: `incident ${inc}: clip exported`,
        data: { incidentId: inc, atUtc: T0 + 2000, fromUtc: T0, toUtc: T0 + 4000, relPath: clip.relPath },
      });
      const frags = await fragmentsFor(f.deps, { type: "event_log", id: row, kind: "incident.done", message: "" }, { lastDisk: 0 });
      const done = frags.find((m) => m.event === `incident-${inc}`);
      const href = `/exports/${idOfPath(clip.relPath)}/download`;
      expect(done?.data).toContain(`href="${href}"`);
      expect(done?.data).toContain("Download MP4");
      const dl = await f.request(app, href, undefined, "viewer");
      expect(dl.status).toBe(200);
      expect(dl.headers.get("content-disposition")).toBe('attachment; filename="front-2024-05-01-0800.mp4"');
      await dl.arrayBuffer();
      // My footage lists it as an incident clip named by camera and moment, with a thumbnail
      const mine = await html("/my-footage", "viewer");
      const section = mine.slice(mine.indexOf('id="incidents-h"'), mine.indexOf('id="pictures-h"'));
      expect(section).toContain(`Front camera · <time datetime="${new Date(T0 + 2000).toISOString()}"`);
      const thumbSrc = `/exports/${idOfPath(clip.relPath)}/thumb.jpg`;
      expect(section).toContain(`src="${thumbSrc}"`);
      const thumb = await f.request(app, thumbSrc, undefined, "viewer");
      expect(thumb.status).toBe(200);
      expect(thumb.headers.get("content-type")).toBe("image/jpeg");
      const jpeg = new Uint8Array(await thumb.arrayBuffer());
      expect([jpeg[0], jpeg[1]]).toEqual([0xff, 0xd8]);
      expect(section).toContain(`href="${href}"`);
      // and the Incidents filter of the footage page finds the drive holding it
      const incidents = await html("/trips?show=incidents");
      expect(incidents).toContain('href="/trips/2"');
      expect(incidents).not.toContain('href="/trips/3"');
    } finally {
      rmSync(join(f.dir, clip.relPath), { force: true });
      setEvidenceLocked(f.db, { cameraId: f.front.id, fromUtc: T0, toUtc: T0 + 4000 }, false);
      f.db.query("UPDATE segments SET incident_id = NULL").run();
    }
  });

  test("Save with nothing recorded is a 409 with a reason", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dashcam-phone-empty-"));
    try {
      const config = validateConfig({ data_dir: dir, http: { listen: "127.0.0.1:0" }, cameras: [] }, dir);
      const db = openDatabase(join(dir, "dashcam.db"));
      const { makeSessions } = await import("./web-fixture.ts");
      const s = await makeSessions(db);
      const empty = createApp({ db, config, dataDir: dir, bus: new LiveBus(), startedAt: Date.now(), actions: f.deps.actions });
      const res = await empty.request("/home/save", { method: "POST", headers: { cookie: s.operator.cookie, "X-CSRF-Token": s.operator.csrf, "HX-Request": "true" } });
      expect(res.status).toBe(409);
      expect(await res.text()).toContain("Nothing to save yet");
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("footage by day", () => {
  test("drives grouped by day with a date picker and filters", async () => {
    const all = await html("/trips");
    expect(all).toContain('<input type="date" name="day"');
    expect(all).toContain("<h2 class=\"section\">Wed 1 May 2024</h2>");
    for (const label of ["All", "Kept", "Incidents"]) expect(all).toContain(`>${label}</a>`);
    expect(all).toMatch(/href="\/trips"[^>]*aria-current="page">All</);
    // a day in the viewer's zone (UTC+2): the fixture's drives; the day after: nothing
    const day = await html("/trips?day=2024-05-01&tzo=-120");
    for (const id of [1, 2, 3]) expect(day).toContain(`href="/trips/${id}"`);
    // with the day's recordings as a timeline whose spans play from their start
    expect((day.match(/class="tl-rec"/g) ?? []).length).toBe(3);
    expect(day).toContain(`href="/cameras/front/play?at=${f.front.segments[0]!.start}"`);
    const other = await html("/trips?day=2024-05-03");
    expect(other).toContain("Nothing recorded on this day.");
    // kept: only saving/saved drives
    const kept0 = await html("/trips?show=saved");
    expect(kept0).toContain("No kept drives yet.");
    f.db.exec("SAVEPOINT kept");
    try {
      setTripStatus(f.db, 2, "saved");
      const kept = await html("/trips?show=saved");
      expect(kept).toContain('href="/trips/2"');
      expect(kept).not.toContain('href="/trips/3"');
    } finally {
      f.db.exec("ROLLBACK TO kept; RELEASE kept");
    }
    expect((await f.request(app, "/trips?show=everything")).status).toBe(400);
  });

  test("timeline spans play from their start; Later stops at now", async () => {
    const text = await html(`/cameras/front?from=${T0 - 60_000}&to=${T0 + 600_000}`);
    const play = `/cameras/front/play?at=${f.front.segments[3]!.start}`;
    expect(text).toContain(`href="${play}"`);
    const res = await f.request(app, play);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/trips/2?t=6.0");
    // the newest window ends now: no Later link
    const now = await html(`/cameras/front?from=${Date.now() - 3_600_000}&to=${Date.now()}`);
    expect(now).toContain('<span class="button disabled" aria-disabled="true">Later →</span>');
    expect(text).toMatch(/<a class="button" href="\/cameras\/front\?from=\d+&amp;to=\d+">Later →<\/a>/);
  });
});

describe("plain badges and pages", () => {
  test("storage: badge colour by how full the disk is, the same percentage as the bar", async () => {
    expect(fullness(79, 100)).toEqual({ pct: 79, tone: "ok" });
    expect(fullness(80, 100)).toEqual({ pct: 80, tone: "warn" });
    expect(fullness(94, 100)).toEqual({ pct: 94, tone: "warn" });
    expect(fullness(95, 100)).toEqual({ pct: 95, tone: "bad" });
    const gib = 1024 ** 3;
    const render = async (free: number) => String(await DiskBody({ disk: { free_bytes: free * gib, total_bytes: 100 * gib } }));
    const green = await render(31);
    expect(green).toContain('class="badge ok">69 % full<');
    expect(green).toContain('value="69"');
    expect(green).toContain('low="80" high="95"');
    expect(await render(10)).toContain('class="badge warn">90 % full<');
    expect(await render(3)).toContain('class="badge bad">97 % full<');
  });

  test("the plates page says when plate reading is off and how to turn it on", async () => {
    const off = await html("/plates");
    expect(off).toContain("Plate reading is off");
    expect(off).toContain("[alpr]\nenabled = true");
    expect(off).not.toContain("Vehicles seen");
    const on = createApp({ ...f.deps, config: { ...f.config, alpr: { enabled: true } as never } });
    const text = await (await f.request(on, "/plates")).text();
    expect(text).not.toContain("Plate reading is off");
    expect(text).toContain("Vehicles seen");
  });

  test("page titles: the setup page says Set up", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dashcam-phone-setup-"));
    try {
      const config = validateConfig({ data_dir: dir, http: { listen: "127.0.0.1:0" }, cameras: [] }, dir);
      const db = openDatabase(join(dir, "dashcam.db"));
      const fresh = createApp({ db, config, dataDir: dir, bus: new LiveBus(), startedAt: Date.now() });
      const res = await fresh.request("/setup");
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("<title>Set up · dashcam</title>");
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await (await app.request("/login")).text()).toContain("<title>Log in · dashcam</title>");
    expect(await html("/")).toContain("<title>Home · dashcam</title>");
    expect(await html("/trips")).toContain("<title>Footage · dashcam</title>");
    expect(await html("/my-footage")).toContain("<title>My footage · dashcam</title>");
  });

  test("a picture is offered under camera and time too", async () => {
    const res = await f.request(app, `/cameras/front/snapshot.jpg?at=${T0 + 1000}&tzo=-120`, undefined, "viewer");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe('inline; filename="front-2024-05-01-100001.jpg"');
    await res.arrayBuffer();
  });

  test("one 24 h time format: when texts and download names", () => {
    const t = Date.UTC(2026, 11, 7, 20, 12, 30);
    expect(whenText(t)).toBe("7 Dec 20:12");
    expect(whenText(t, -120)).toBe("7 Dec 22:12");
    expect(downloadName("front", Date.UTC(2026, 11, 7, 8, 12), "mp4")).toBe("front-2026-12-07-0812.mp4");
    expect(downloadName("rear cam", t, "jpg", 300)).toBe("rear_cam-2026-12-07-1512.jpg");
    // segments and pictures: to the second, so two in one minute are not offered under one name
    expect(downloadName("front", Date.UTC(2026, 11, 7, 8, 12, 30), "mp4", 0, true)).toBe("front-2026-12-07-081230.mp4");
  });
});

describe("installable web app", () => {
  test("manifest, icons and service worker are readable without a session", async () => {
    const res = await app.request("/manifest.webmanifest");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("application/manifest+json");
    const m = (await res.json()) as { display: string; start_url: string; theme_color: string; icons: { src: string; sizes: string; type: string }[] };
    expect(m.display).toBe("standalone");
    expect(m.start_url).toBe("/");
    expect(m.theme_color).toBe("#0f1216");
    const sizes = new Set<string>();
    for (const icon of m.icons) {
      const png = await app.request(icon.src);
      expect(png.status).toBe(200);
      expect(png.headers.get("content-type")).toBe("image/png");
      const b = new Uint8Array(await png.arrayBuffer());
      expect([...b.slice(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      const view = new DataView(b.buffer, b.byteOffset);
      sizes.add(`${view.getUint32(16)}x${view.getUint32(20)}`); // IHDR width x height
      expect(icon.sizes).toBe(`${view.getUint32(16)}x${view.getUint32(20)}`);
    }
    expect([...sizes].sort()).toEqual(["192x192", "512x512"]);
    const sw = await app.request("/sw.js");
    expect(sw.status).toBe(200);
    expect(sw.headers.get("content-type")).toStartWith("text/javascript");
    expect(await sw.text()).toContain('url.pathname.startsWith("/assets/")');
    // every page links the manifest and names the service worker
    const page = await html("/", "viewer");
    expect(page).toContain('<link rel="manifest" href="/manifest.webmanifest"/>');
    expect(page).toContain('<meta name="theme-color" content="#0f1216"/>');
    expect(page).toContain('data-sw="/sw.js"');
  });
});
