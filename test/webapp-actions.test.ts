/**
 * The product actions of the phone UI on the real app: clip export end to end (real
 * ffmpeg on real MPEG-TS segments, MP4 checked with /usr/bin/ffprobe, the download streamed
 * byte-exact through a real Bun.serve), snapshots and trip thumbnails (JPEGs decoded with
 * jpeg-js), evidence lock/unlock, save and incident without a runtime (503), the event log
 * rows every action writes, the CSRF token in the layout, and a bad-input table for the new
 * routes (clear 4xx, nothing written: database rows and data directory unchanged).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { createApp } from "../src/web/app.tsx";
import { startWebServer } from "../src/web/server.ts";
import { ExportRegistry } from "../src/web/exportJobs.ts";
import { thumbPath } from "../src/web/thumbs.ts";
import { dbFingerprint, fileListing, makeFixture, SEG_MS, T0, type WebFixture, type Who } from "./web-fixture.ts";

const FFPROBE = "/usr/bin/ffprobe";
let f: WebFixture;
let app: ReturnType<typeof createApp>;
let exports: ExportRegistry;

beforeAll(async () => {
  f = await makeFixture();
  exports = new ExportRegistry(f.db, f.dir);
  app = createApp({ ...f.deps, exports });
});
afterAll(async () => {
  await exports?.stop();
  f?.cleanup();
});

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

/** A form POST as `who` (default operator); `hx` makes it an htmx request. */
function post(path: string, fields: Record<string, string> = {}, opts: { who?: Who; hx?: boolean; json?: unknown } = {}) {
  const headers: Record<string, string> = opts.json !== undefined ? { "content-type": "application/json" } : { "content-type": "application/x-www-form-urlencoded" };
  if (opts.hx) headers["HX-Request"] = "true";
  const body = opts.json !== undefined ? JSON.stringify(opts.json) : form(fields);
  return f.request(app, path, { method: "POST", headers, body }, opts.who ?? "operator");
}
const get = (path: string, who: Who = "viewer", headers: Record<string, string> = {}) => f.request(app, path, { headers }, who);

const events = (kind: string) =>
  f.db.query("SELECT message, data FROM event_log WHERE kind = ? ORDER BY id").all(kind) as { message: string; data: string | null }[];

function ffprobe(path: string): { format: { format_name: string; duration: string }; streams: { codec_type: string; codec_name: string; width?: number; nb_frames?: string }[] } {
  const r = Bun.spawnSync([FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", path]);
  if (r.exitCode !== 0) throw new Error(`ffprobe: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString());
}

// ---------------------------------------------------------------------------------------------

describe("bad input: clear 4xx, nothing written", () => {
  const seg10 = () => f.front.segments[0]!;
  // [label, request, status, reason fragment]
  type Case = [string, () => Promise<Response>, number, string];
  const cases: Case[] = [
    // POST /exports (form)
    ["export: no camera", () => post("/exports", { from: String(T0), to: String(T0 + 4000) }), 400, "camera: is required"],
    ["export: malformed camera key", () => post("/exports", { camera: "../../etc", from: String(T0), to: String(T0 + 4000) }), 400, "camera: is not a valid camera key"],
    ["export: unknown camera", () => post("/exports", { camera: "nope", from: String(T0), to: String(T0 + 4000) }), 404, 'unknown camera "nope"'],
    ["export: malformed from", () => post("/exports", { camera: "front", from: "yesterday", to: String(T0 + 4000) }), 400, "from: expected a date and time"],
    ["export: negative from", () => post("/exports", { camera: "front", from: "-5", to: String(T0 + 4000) }), 400, "from: expected"],
    ["export: missing to", () => post("/exports", { camera: "front", from: String(T0) }), 400, "to: is required"],
    ["export: impossible date", () => post("/exports", { camera: "front", from: "2024-02-30T08:00:00", to: "2024-03-01T08:00:00", tzo: "0" }), 400, "from: is not a valid date and time"],
    ["export: local time without zone", () => post("/exports", { camera: "front", from: "2024-05-01T08:00:00", to: "2024-05-01T08:00:04" }), 400, "needs tzo"],
    ["export: a 12 h time", () => post("/exports", { camera: "front", from_date: "2024-05-01", from_time: "8:00 PM", to_date: "2024-05-01", to_time: "20:00:04", tzo: "0" }), 400, 'from: the time must be HH:MM or HH:MM:SS on a 24 h clock (00:00 to 23:59:59), got "8:00 PM"'],
    ["export: 24:00", () => post("/exports", { camera: "front", from_date: "2024-05-01", from_time: "08:00", to_date: "2024-05-01", to_time: "24:00", tzo: "0" }), 400, "to: the time must be HH:MM or HH:MM:SS on a 24 h clock"],
    ["export: time without a date", () => post("/exports", { camera: "front", from_time: "08:00", to_date: "2024-05-01", to_time: "08:01", tzo: "0" }), 400, "from: the date must be YYYY-MM-DD (it is empty)"],
    ["export: impossible date with a time", () => post("/exports", { camera: "front", from_date: "2024-02-30", from_time: "08:00", to_date: "2024-03-01", to_time: "08:00", tzo: "0" }), 400, "from: is not a valid date and time"],
    ["export: date and time without a zone", () => post("/exports", { camera: "front", from_date: "2024-05-01", from_time: "08:00", to_date: "2024-05-01", to_time: "08:01" }), 400, "needs tzo"],
    ["export: bad tzo", () => post("/exports", { camera: "front", from: String(T0), to: String(T0 + 4000), tzo: "9999" }), 400, "tzo"],
    ["export: reversed range", () => post("/exports", { camera: "front", from: String(T0 + 4000), to: String(T0) }), 400, "empty or reversed"],
    ["export: empty range", () => post("/exports", { camera: "front", from: String(T0), to: String(T0) }), 400, "empty or reversed"],
    ["export: huge range", () => post("/exports", { camera: "front", from: String(T0), to: String(T0 + 3 * 3600_000) }), 413, "at most 120 min"],
    ["export: range with no footage (in the gap)", () => post("/exports", { camera: "front", from: String(f.gap.start + 1000), to: String(f.gap.end - 1000) }), 404, "no footage"],
    ["export: range long ago", () => post("/exports", { camera: "front", from: "1000", to: "5000" }), 404, "no footage"],
    ["export: camera without segments", () => post("/exports", { camera: "rear", from: String(T0), to: String(T0 + 4000) }), 404, "no footage"],
    // POST /api/exports (JSON)
    ["api export: not JSON", () => post("/api/exports", { camera: "front" }), 415, "application/json"],
    ["api export: broken JSON", () => f.request(app, "/api/exports", { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" }, "operator"), 400, "not valid JSON"],
    ["api export: array body", () => post("/api/exports", {}, { json: [1, 2] }), 400, "must be a JSON object"],
    ["api export: ISO without zone", () => post("/api/exports", {}, { json: { camera: "front", from: "2024-05-01T08:00:00", to: "2024-05-01T08:00:04" } }), 400, "needs tzo"],
    ["api export: reversed", () => post("/api/exports", {}, { json: { camera: "front", from: T0 + 4000, to: T0 } }), 400, "empty or reversed"],
    ["api export: huge", () => post("/api/exports", {}, { json: { camera: "front", from: T0, to: T0 + 86_400_000 } }), 413, "at most"],
    ["api export: camera traversal", () => post("/api/exports", {}, { json: { camera: "../front", from: T0, to: T0 + 4000 } }), 400, "not a valid camera key"],
    // export ids
    ["export id: not hex", () => get("/exports/abc"), 400, "is not an export id"],
    ["export id: traversal", () => get("/exports/..%2F..%2Fdashcam.db"), 400, "is not an export id"],
    ["export id: traversal download", () => get("/exports/..%2f..%2fdashcam.db/download"), 400, "is not an export id"],
    ["export id: unknown", () => get("/exports/0123456789abcdef"), 404, "no export 0123456789abcdef"],
    ["export id: unknown download", () => get("/exports/0123456789abcdef/download"), 404, "no export"],
    ["export id: unknown api", () => get("/api/exports/0123456789abcdef"), 404, "no export"],
    ["export delete: unknown", () => post("/exports/0123456789abcdef/delete"), 404, "no export"],
    ["export delete: not hex", () => post("/exports/ZZZ/delete"), 400, "is not an export id"],
    // trips
    ["save: malformed id", () => post("/trips/abc/save"), 400, "id: must be a whole number"],
    ["save: unknown id", () => post("/trips/99999999/save"), 404, "no trip 99999999"],
    ["save: evicted trip", () => post("/trips/1/save"), 409, "no footage left"],
    ["save: no runtime", () => post("/trips/2/save"), 503, "WebDeps.actions.saveTrip"],
    ["api save: no runtime", () => post("/api/trips/2/save", {}, { json: {} }), 503, "not available"],
    ["api save: malformed id", () => post("/api/trips/1e3/save", {}, { json: {} }), 400, "id: must be a whole number"],
    ["lock: malformed id", () => post("/trips/-1/lock"), 400, "id: must be a whole number"],
    ["lock: unknown id", () => post("/trips/99999999/lock"), 404, "no trip 99999999"],
    ["lock: evicted trip", () => post("/trips/1/lock"), 409, "no footage left"],
    ["lock: bad incident id", () => post("/trips/2/lock", { incident: "bad id; drop table" }), 400, "incident: may contain only"],
    ["lock: incident id too long", () => post("/trips/2/lock", { incident: "x".repeat(65) }), 400, "incident: may contain only"],
    ["unlock: nothing locked", () => post("/trips/2/unlock"), 409, "no evidence-locked footage"],
    ["thumb: unknown trip", () => get("/trips/99999999/thumb.jpg"), 404, "no trip 99999999"],
    ["thumb: evicted trip", () => get("/trips/1/thumb.jpg"), 404, "no footage left"],
    ["thumb: traversal", () => get("/trips/..%2F..%2Fdashcam.db/thumb.jpg"), 400, "id: must be a whole number"],
    // snapshots
    ["snapshot: malformed at", () => get("/cameras/front/snapshot.jpg?at=soon"), 400, "at: must be Unix milliseconds"],
    ["snapshot: no footage then", () => get("/cameras/front/snapshot.jpg?at=1000"), 404, "no footage"],
    ["snapshot: in the gap", () => get(`/cameras/front/snapshot.jpg?at=${f.gap.start + 5000}`), 404, "no footage"],
    ["snapshot: in the future", () => get(`/cameras/front/snapshot.jpg?at=${Date.now() + 3_600_000}`), 400, "at: is in the future"],
    ["snapshot: unknown camera", () => get("/cameras/nope/snapshot.jpg"), 404, 'unknown camera "nope"'],
    ["snapshot: traversal", () => get("/cameras/..%2f..%2fetc/snapshot.jpg"), 400, "not a valid camera key"],
    ["snapshot: camera without footage (live)", () => get("/cameras/rear/snapshot.jpg"), 404, "no recorded segment"],
    ["save snapshot: no camera", () => post("/snapshots", {}), 400, "camera: is required"],
    ["save snapshot: unknown camera", () => post("/snapshots", { camera: "nope" }), 404, 'unknown camera "nope"'],
    ["save snapshot: malformed at", () => post("/snapshots", { camera: "front", at: "noon" }), 400, "at: expected"],
    ["save snapshot: no footage", () => post("/snapshots", { camera: "front", at: "1000" }), 404, "no footage"],
    // incidents
    ["incident: unknown camera", () => post("/incidents", { camera: "nope" }), 404, 'unknown camera "nope"'],
    ["incident: in the future", () => post("/incidents", { camera: "front", at: String(Date.now() + 3_600_000) }), 400, "at: is in the future"],
    ["incident: long ago without footage", () => post("/incidents", { camera: "front", at: "5000000" }), 404, "no footage around"],
    ["incident: no runtime", () => post("/incidents", { camera: "front" }), 503, "WebDeps.actions.incident"],
    ["api incident: no runtime", () => post("/api/incidents", {}, { json: { camera: "front", at: seg10().start + 1000 } }), 503, "not available"],
    ["api incident: malformed at", () => post("/api/incidents", {}, { json: { camera: "front", at: "later" } }), 400, "at: expected"],
    // camera stop/start
    ["camera stop: no runtime", () => post("/cameras/front/stop"), 503, "WebDeps.actions.stopCamera"],
    ["camera start: no runtime", () => post("/cameras/front/start", {}, { hx: true }), 503, "WebDeps.actions.startCamera"],
    ["camera stop: unknown camera", () => post("/cameras/nope/stop"), 404, 'unknown camera "nope"'],
    // events
    ["events: text too long", () => get(`/events?q=${"x".repeat(65)}`), 400, "q: is too long"],
  ];

  test.each(cases)("%s", async (_label, request, status, reason) => {
    const before = dbFingerprint(f.db);
    const files = fileListing(f.dir);
    const res = await request();
    const text = await res.text();
    expect({ status: res.status }).toEqual({ status });
    expect(text.replace(/&quot;/g, '"')).toContain(reason);
    expect(dbFingerprint(f.db)).toBe(before);
    expect(fileListing(f.dir)).toEqual(files);
  });

  test("htmx requests get the reason as one line of text (shown in the page's flash area)", async () => {
    const res = await post("/exports", { camera: "front", from: String(T0 + 4000), to: String(T0) }, { hx: true });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect((await res.text()).trim()).toBe("400 range is empty or reversed (to must be after from)");
  });
});

// ---------------------------------------------------------------------------------------------

describe("layout and session", () => {
  test("pages carry the session's CSRF token in hx-headers and in plain forms", async () => {
    const page = await (await get("/trips/2", "operator")).text();
    const csrf = f.sessions.operator.csrf;
    expect(page).toContain(`hx-headers="{&quot;X-CSRF-Token&quot;:&quot;${csrf}&quot;}"`);
    expect(page).toContain(`name="_csrf" value="${csrf}"`);
    expect(page).toContain('action="/logout"');
    expect(page).toContain('href="/plates"');
    expect(page).not.toContain('href="/users"'); // operators do not manage users
    const admin = await (await get("/", "admin")).text();
    expect(admin).toContain('href="/users"');
    expect(admin).toContain(f.sessions.admin.csrf);
    expect(admin).not.toContain(csrf);
  });

  test("the camera card fragment is the card body alone (no layout), for htmx refreshes", async () => {
    const res = await get("/cameras/front/card");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toStartWith('<div class="card-head">');
    expect(html).toContain('class="badge ok" data-state="recording">Recording<');
    expect(html).toContain("7 / 10 segments");
    expect(html).not.toContain("<html");
    expect((await get("/cameras/nope/card")).status).toBe(404);
  });

  test("a viewer sees the trip's state but no action buttons; an operator gets them", async () => {
    const viewer = await (await get("/trips/2", "viewer")).text();
    expect(viewer).toContain('id="trip-actions"');
    expect(viewer).toContain("Not kept: it will be overwritten");
    expect(viewer).not.toContain("Advanced"); // evidence locks are for operators
    expect(viewer).not.toContain('action="/trips/2/lock"');
    expect(viewer).not.toContain('action="/exports"');
    const op = await (await get("/trips/2", "operator")).text();
    expect(op).toContain('hx-post="/trips/2/lock"');
    expect(op).toContain('hx-post="/exports"');
    expect(op).toContain("Keeping is not available yet"); // no runtime action in this app
    // the clip's moments: a date and a 24 h time each, filled with the trip's span
    expect(op).toMatch(/<fieldset class="datetime" data-t="\d+"><legend>From<\/legend><input type="date" name="from_date" value="\d{4}-\d\d-\d\d"/);
    expect(op).toMatch(/name="to_time" value="\d\d:\d\d:\d\d"/);
    expect(op).not.toContain("datetime-local");
  });

  test("plates: viewers see the watchlist but not its add/remove forms (refused with 403 anyway); operators get them", async () => {
    f.db.query("INSERT INTO watchlist (plate, note, created_at) VALUES ('AB123CD', 'test', ?)").run(T0);
    try {
      const viewer = await (await get("/plates", "viewer")).text();
      expect(viewer).toContain('<strong class="plate-text">AB123CD</strong>');
      expect(viewer).not.toContain('action="/plates/watchlist"');
      expect(viewer).not.toMatch(/action="\/plates\/watchlist\/\d+\/delete"/);
      expect(viewer).toContain("needs an operator");
      expect(viewer).toMatch(/<a href="\/plates" aria-current="page">/);
      const op = await (await get("/plates", "operator")).text();
      expect(op).toContain('hx-post="/plates/watchlist"');
      expect(op).toMatch(/hx-post="\/plates\/watchlist\/\d+\/delete"/);
      expect((await post("/plates/watchlist", { plate: "XY99" }, { who: "viewer" })).status).toBe(403);
    } finally {
      f.db.query("DELETE FROM watchlist").run();
    }
  });

  test("login through the real form gives a session whose token the pages then carry", async () => {
    const first = await app.request("/login");
    const pre = /dashcam_csrf=([^;]+)/.exec(first.headers.get("set-cookie") ?? "")![1]!;
    const login = await app.request("/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: `dashcam_csrf=${pre}` },
      body: form({ username: "otto", password: "otto-secret-pass", _csrf: pre, next: "/trips/2" }),
    });
    expect(login.status).toBe(303);
    expect(login.headers.get("location")).toBe("/trips/2");
    const cookie = /dashcam_session=([^;]+)/.exec(login.headers.get("set-cookie") ?? "")![1]!;
    const page = await (await app.request("/trips/2", { headers: { cookie: `dashcam_session=${cookie}` } })).text();
    const token = /X-CSRF-Token&quot;:&quot;([A-Za-z0-9_-]+)&quot;/.exec(page)![1]!;
    expect(token).not.toBe(pre);
    expect(events("auth.login").at(-1)!.message).toContain("otto logged in");
  });
});

// ---------------------------------------------------------------------------------------------

describe("evidence lock", () => {
  const lockRows = () =>
    f.db.query("SELECT evidence_locked, incident_id FROM segments WHERE camera_id = ? AND absolute_index BETWEEN 10 AND 14 ORDER BY absolute_index").all(f.front.id) as {
      evidence_locked: number;
      incident_id: string | null;
    }[];

  test("lock with an incident id locks every segment of the trip; unlock keeps the tag (COALESCE)", async () => {
    const res = await post("/trips/2/lock", { incident: "case-42" }, { hx: true });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toStartWith('<section class="card actions" id="trip-actions">');
    expect(html).toContain("5 of 5");
    expect(html).toContain("case-42");
    expect(lockRows()).toEqual(Array.from({ length: 5 }, () => ({ evidence_locked: 1, incident_id: "case-42" })));
    expect(events("evidence.lock").at(-1)!.message).toContain("otto evidence-locked trip 2 (5 segments, incident case-42)");
    // the open trip's segments are untouched
    expect((f.db.query("SELECT SUM(evidence_locked) AS n FROM segments WHERE absolute_index >= 15").get() as { n: number }).n).toBe(0);

    const un = await post("/trips/2/unlock", {}, { hx: true });
    expect(un.status).toBe(200);
    expect(await un.text()).toContain("0 of 5");
    expect(lockRows()).toEqual(Array.from({ length: 5 }, () => ({ evidence_locked: 0, incident_id: "case-42" })));
    expect(events("evidence.unlock").at(-1)!.message).toContain("otto removed the evidence lock of trip 2");
  });

  test("lock without an incident id makes a new one; a plain form post is answered 303", async () => {
    const res = await post("/trips/3/lock", {});
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/trips/3");
    const rows = f.db.query("SELECT evidence_locked, incident_id FROM segments WHERE absolute_index IN (15, 16)").all() as { evidence_locked: number; incident_id: string }[];
    expect(rows.map((r) => r.evidence_locked)).toEqual([1, 1]);
    expect(rows[0]!.incident_id).toMatch(/^inc-\d{8}-\d{6}-[0-9a-f]{6}$/);
    expect(rows[1]!.incident_id).toBe(rows[0]!.incident_id);
    await post("/trips/3/unlock", {});
    expect((f.db.query("SELECT SUM(evidence_locked) AS n FROM segments").get() as { n: number }).n).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe("clip export end to end", () => {
  test("form export in the viewer's zone -> progress card -> valid MP4 -> byte-exact streamed download -> delete", async () => {
    // 08:00:01 to 08:00:05 UTC typed as local time in UTC+2 (getTimezoneOffset() = -120)
    // as the form sends them: a date and a 24 h time each (digits only work too: a phone's number pad)
    const res = await post("/exports", { camera: "front", from_date: "2024-05-01", from_time: "10:00:01", to_date: "2024-05-01", to_time: "100005", tzo: "-120" }, { hx: true });
    expect(res.status).toBe(202);
    const card = await res.text();
    const id = /id="export-([0-9a-f]{16})"/.exec(card)![1]!;
    expect(card).toContain(`hx-get="/exports/${id}"`); // polls itself while running
    expect(card).toContain('hx-trigger="every 1s"');
    const job = exports.get(id)!;
    expect(job.fromUtc).toBe(T0 + 1000);
    expect(job.toUtc).toBe(T0 + 5000);
    expect(job.user).toBe("otto");
    await exports.whenIdle();
    expect(exports.get(id)!.state).toBe("done");

    // the finished card: a download button, no polling
    const done = await (await get(`/exports/${id}`, "viewer", { "HX-Request": "true" })).text();
    expect(done).toContain(`href="/exports/${id}/download"`);
    expect(done).not.toContain("hx-trigger");
    const api = (await (await get(`/api/exports/${id}`)).json()) as { state: string; bytes: number; download: string };
    expect(api.state).toBe("done");
    expect(api.download).toBe(`/exports/${id}/download`);

    // a valid MP4 of the requested 4 s (keyframe every second, so the cut is exact here)
    const file = join(f.dir, exports.get(id)!.relPath!);
    const probe = ffprobe(file);
    expect(probe.format.format_name).toContain("mp4");
    expect(Number(probe.format.duration)).toBeGreaterThan(3.8);
    expect(Number(probe.format.duration)).toBeLessThan(4.3);
    expect(probe.streams.find((s) => s.codec_type === "video")!.codec_name).toBe("h264");
    expect(probe.streams.find((s) => s.codec_type === "video")!.width).toBe(320);
    // nothing transcoded or left behind: no temp files, segments' read-locks released
    expect(readdirSync(join(f.dir, "exports")).filter((n) => n.startsWith("."))).toEqual([]);
    expect((f.db.query("SELECT SUM(locked) AS n FROM segments").get() as { n: number }).n).toBe(0);

    // download over real HTTP: the exact bytes, as an attachment, with Range
    const web = startWebServer({ ...f.deps, exports });
    try {
      const dl = await f.fetch(`${web.url}/exports/${id}/download`, undefined, "viewer");
      expect(dl.status).toBe(200);
      expect(dl.headers.get("content-type")).toBe("video/mp4");
      // offered under camera and start time (UTC, or the viewer's zone with ?tzo=)
      expect(dl.headers.get("content-disposition")).toBe('attachment; filename="front-2024-05-01-0800.mp4"');
      const local = await f.fetch(`${web.url}/exports/${id}/download?tzo=-120`, { headers: { range: "bytes=0-0" } }, "viewer");
      expect(local.headers.get("content-disposition")).toBe('attachment; filename="front-2024-05-01-1000.mp4"');
      await local.arrayBuffer();
      expect(dl.headers.get("content-length")).toBe(String(statSync(file).size));
      const body = new Uint8Array(await dl.arrayBuffer());
      expect(Bun.hash(body)).toBe(Bun.hash(new Uint8Array(await Bun.file(file).arrayBuffer())));
      const part = await f.fetch(`${web.url}/exports/${id}/download`, { headers: { Range: "bytes=100-199" } }, "viewer");
      expect(part.status).toBe(206);
      expect(new Uint8Array(await part.arrayBuffer())).toEqual(body.slice(100, 200));
    } finally {
      await web.stop();
    }

    // the list page shows it; the event log has start and done with the user
    expect(await (await get("/exports")).text()).toContain(`id="export-${id}"`);
    expect(events("export.start").at(-1)!.message).toContain(`otto started clip export ${id} of front`);
    expect(events("export.done").at(-1)!.message).toContain(`clip export ${id} of front done`);

    // a viewer cannot delete it; the operator can, and the file is gone
    expect((await post(`/exports/${id}/delete`, {}, { who: "viewer" })).status).toBe(403);
    const del = await post(`/exports/${id}/delete`, {}, { hx: true });
    expect(del.status).toBe(200);
    expect(existsSync(file)).toBe(false);
    expect((await get(`/exports/${id}`)).status).toBe(404);
    expect(events("export.delete").at(-1)!.message).toContain("otto deleted export");
  }, 60_000);

  test("JSON API export across the recording gap: only recorded time, valid MP4", async () => {
    const from = f.front.segments[1]!.start; // seg 11
    const to = f.front.segments[4]!.end; // seg 14: 11, 12, [30 s gap], 13, 14
    const res = await post("/api/exports", {}, { json: { camera: "front", from: new Date(from).toISOString(), to } });
    expect(res.status).toBe(202);
    const job = (await res.json()) as { id: string; state: string; status: string };
    expect(job.status).toBe(`/api/exports/${job.id}`);
    await exports.whenIdle();
    const done = (await (await get(job.status)).json()) as { state: string; bytes: number; download: string };
    expect(done.state).toBe("done");
    const file = join(f.dir, exports.get(job.id)!.relPath!);
    expect(statSync(file).size).toBe(done.bytes);
    const probe = ffprobe(file);
    // 4 segments of 2 s recorded; the 30 s hole is not in the clip
    expect(Number(probe.format.duration)).toBeGreaterThan(7.5);
    expect(Number(probe.format.duration)).toBeLessThan(8.6);
  }, 60_000);

  test("a running export can be cancelled: ffmpeg is stopped and no file is left", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // a registry whose exporter waits for the cancel signal, around the real exporter
    const { exportClip } = await import("../src/media/export.ts");
    const slow = new ExportRegistry(f.db, f.dir, {
      exportClip: async (db, dir, req, onProgress) => {
        await gate;
        return exportClip(db, dir, req, onProgress);
      },
    });
    const local = createApp({ ...f.deps, exports: slow });
    const res = await f.request(local, "/exports", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "HX-Request": "true" },
      body: form({ camera: "front", from: String(T0), to: String(T0 + 2 * SEG_MS) }),
    }, "operator");
    const id = /id="export-([0-9a-f]{16})"/.exec(await res.text())![1]!;
    expect(slow.get(id)!.state).toBe("running");
    const before = readdirSync(join(f.dir, "exports"));
    const cancel = f.request(local, `/exports/${id}/delete`, { method: "POST", headers: { "HX-Request": "true" } }, "operator");
    release();
    const out = await cancel;
    expect(out.status).toBe(200);
    expect(await out.text()).toContain('data-state="cancelled"');
    expect(readdirSync(join(f.dir, "exports"))).toEqual(before);
    expect(events("export.cancel").at(-1)!.message).toContain(`clip export ${id} of front cancelled`);
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------

describe("snapshots and thumbnails", () => {
  const decode = (bytes: Uint8Array) => jpeg.decode(bytes, { useTArray: true });

  test("snapshot at a time and live: JPEGs that decode at the camera's size", async () => {
    const at = f.front.segments[2]!.start + 500;
    const res = await get(`/cameras/front/snapshot.jpg?at=${at}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(res.headers.get("x-frame-time")).toBe(String(at));
    const img = decode(new Uint8Array(await res.arrayBuffer()));
    expect([img.width, img.height]).toEqual([320, 240]);
    const live = await get("/cameras/front/snapshot.jpg");
    expect(live.status).toBe(200);
    expect(Number(live.headers.get("x-frame-time"))).toBeGreaterThanOrEqual(f.front.segments.at(-1)!.start);
    expect(decode(new Uint8Array(await live.arrayBuffer())).width).toBe(320);
    expect(events("snapshot").at(-1)!.message).toContain("vera viewed a snapshot of front");
    expect((f.db.query("SELECT SUM(locked) AS n FROM segments").get() as { n: number }).n).toBe(0);
  }, 30_000);

  test("save snapshot: the JPEG lands in exports and is listed and downloadable", async () => {
    const at = f.front.segments[0]!.start + 1000;
    const res = await post("/snapshots", { camera: "front", at: String(at) }, { hx: true });
    expect(res.status).toBe(200);
    const id = /id="export-([0-9a-f]{16})"/.exec(await res.text())![1]!;
    const dl = await get(`/exports/${id}/download`);
    expect(dl.status).toBe(200);
    expect(dl.headers.get("content-type")).toBe("image/jpeg");
    expect(decode(new Uint8Array(await dl.arrayBuffer())).height).toBe(240);
    expect(events("snapshot").at(-1)!.message).toContain("otto saved a snapshot of front");
  }, 30_000);

  test("trip thumbnail: first frame, scaled, cached on disk, served from the cache afterwards", async () => {
    const cache = thumbPath(f.dir, 2);
    expect(existsSync(cache)).toBe(false);
    const res = await get("/trips/2/thumb.jpg");
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const img = decode(bytes);
    expect(img.width).toBeLessThanOrEqual(320);
    expect(img.width).toBeGreaterThan(100);
    expect(existsSync(cache)).toBe(true);
    const mtime = statSync(cache).mtimeMs;
    // the cache answers even when the footage is gone (read-only: rows moved aside in a savepoint)
    f.db.exec("SAVEPOINT gone");
    try {
      f.db.query("DELETE FROM segments WHERE camera_id = ? AND absolute_index BETWEEN 10 AND 14").run(f.front.id);
      const again = await get("/trips/2/thumb.jpg");
      expect(again.status).toBe(200);
      expect(Bun.hash(new Uint8Array(await again.arrayBuffer()))).toBe(Bun.hash(bytes));
    } finally {
      f.db.exec("ROLLBACK TO gone; RELEASE gone");
    }
    expect(statSync(cache).mtimeMs).toBe(mtime);
    // the trips list shows thumbnails for trips with footage, none for the evicted one
    const list = await (await get("/trips")).text();
    expect(list).toContain('src="/trips/2/thumb.jpg"');
    expect(list).toContain('src="/trips/3/thumb.jpg"');
    expect(list).not.toContain('src="/trips/1/thumb.jpg"');
  }, 30_000);
});

describe("saved trip download", () => {
  test("offered once the trip is saved: a legacy MP4 streams as an attachment; never a path outside data_dir", async () => {
    expect((await get("/trips/2/saved.mp4")).status).toBe(404);
    // a legacy MP4 the start-up migration kept (src/actors/savedMigration.ts): served from disk
    mkdirSync(join(f.dir, "saved"), { recursive: true });
    const mp4 = join(f.dir, "saved", "trip-2.mp4");
    const r = Bun.spawnSync(["/usr/bin/ffmpeg", "-v", "error", "-i", join(f.dir, f.front.segments[0]!.rel), "-c", "copy", "-movflags", "+faststart", mp4]);
    expect(r.exitCode).toBe(0);
    f.db.exec("SAVEPOINT saved");
    try {
      f.db.query("UPDATE trips SET status = 'saved' WHERE id = 2").run();
      f.db.query("INSERT INTO saved_trips (trip_id, saved_dir, saved_at_utc, mp4_path) VALUES (2, 'saved', ?, 'saved/trip-2.mp4')").run(T0 + 60_000);
      const page = await (await get("/trips/2")).text();
      expect(page).toContain('href="/trips/2/saved.mp4"');
      const res = await get("/trips/2/saved.mp4");
      expect(res.status).toBe(200);
      expect(res.headers.get("content-disposition")).toBe('attachment; filename="front-2024-05-01-0800.mp4"');
      expect(Bun.hash(new Uint8Array(await res.arrayBuffer()))).toBe(Bun.hash(new Uint8Array(await Bun.file(mp4).arrayBuffer())));
      f.db.query("UPDATE saved_trips SET mp4_path = '../../../../etc/passwd.mp4' WHERE trip_id = 2").run();
      // a path outside data_dir is never opened: the MP4 is made from the trip's segments instead
      const evil = await get("/trips/2/saved.mp4");
      expect(evil.status).toBe(200);
      expect(evil.headers.get("accept-ranges")).toBe("none");
      const body = new Uint8Array(await evil.arrayBuffer());
      expect(new TextDecoder().decode(body.subarray(4, 8))).toBe("ftyp");
      expect(new TextDecoder().decode(body)).not.toContain("root:");
    } finally {
      f.db.exec("ROLLBACK TO saved; RELEASE saved");
      rmSync(join(f.dir, "saved"), { recursive: true, force: true });
    }
  });
});

describe("event log", () => {
  test("text filter finds the actions' rows", async () => {
    const page = await (await get("/events?q=evidence-locked")).text();
    expect(page).toContain("Front camera: footage locked as evidence (by otto)");
    expect(page).not.toContain("starting -&gt; recording");
    const none = await (await get("/events?q=no-such-text-anywhere")).text();
    expect(none).toContain("No events match this filter");
  });
});
