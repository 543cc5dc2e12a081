/**
 * The Timelapses page over real HTTP against an in-process runtime (real actions, batch actors,
 * ffmpeg, SQLite): a timelapse-only test-pattern camera captures every second with
 * `generation_mode = "every_capture"` (so its continuous video is rendered), then
 * - headless Chromium at 360 px wide makes a manual timelapse through the page's form and sees
 *   it reach `completed` through the SSE stream, without horizontal scrolling;
 * - a recording camera's trip: "Make a timelapse" takes a frame every second of its footage;
 * - the routes: video with Range, poster, checkpoint, delete, roles and bad input.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { RuntimeFixture, queryDb } from "./helpers/inprocess.ts";
import { launchChromium } from "./helpers/browser.ts";
import { makeSessions, withSession, type SessionCreds, type Who } from "./web-fixture.ts";
import type { RuntimeHandle } from "../src/runtime.ts";
import type { BatchRow } from "../src/db/timelapse.ts";

const fx = new RuntimeFixture("dashcam-tlweb-");
let rt: RuntimeHandle;
let dataDir: string;
let sessions: Record<Who, SessionCreds>;
let browser: Browser | null = null;

const req = (path: string, init: RequestInit = {}, who: Who = "operator") => fetch(rt.url + path, withSession(sessions[who], init));
const form = (fields: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded", "HX-Request": "true" },
  body: new URLSearchParams(fields).toString(),
});
const batches = () => queryDb(dataDir, (db) => db.prepare("SELECT * FROM timelapse_batches ORDER BY id").all() as BatchRow[]);

async function waitUntil<T>(fn: () => T | null | undefined | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(100);
  }
}

beforeAll(async () => {
  dataDir = fx.tempDir();
  rt = await fx.start(
    fx.config(dataDir, {
      cameras: [
        { key: "front", source: "testsrc", segment_seconds: 2, width: 320, height: 240, fps: 10 },
        {
          key: "cam",
          source: "testsrc",
          width: 320,
          height: 240,
          record: false,
          timelapse: { interval_seconds: 1, generation_mode: "every_capture", frame_rate: 5, day_counter_start: "2026-01-01" },
        },
      ],
    }),
  );
  sessions = await makeSessions(rt.db);
  // a few captures and a rendered continuous video
  await waitUntil(() => batches().some((b) => b.batch_type === "continuous" && b.status === "completed" && b.total_frames >= 3), 40_000);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await fx.cleanup();
});

describe("Timelapses page in a phone-sized browser", () => {
  test("a manual timelapse made through the form appears and reaches completed without a reload, no horizontal scroll at 360 px", async () => {
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
    const url = new URL(rt.url);
    await context.addCookies([{ name: "dashcam_session", value: sessions.operator.token, domain: url.hostname, path: "/" }]);
    const page = await context.newPage();
    await page.goto(`${rt.url}/timelapses`);
    expect(await page.locator("h1").textContent()).toBe("Timelapses");
    const before = batches().length;
    await page.locator("#timelapse-camera-cam summary").click();
    await page.locator('#timelapse-camera-cam input[name="frame_rate"]').fill("5");
    await page.locator("#timelapse-camera-cam button.primary").click();
    const id = (await waitUntil(() => batches().length > before && batches().at(-1)))!.id;
    await page.locator(`#batch-${id} .badge`, { hasText: "completed" }).waitFor({ timeout: 30_000 });
    expect(batches().find((b) => b.id === id)).toMatchObject({ batch_type: "manual", status: "completed", frame_rate: 5, day_overlay_applied: 1 });
    await page.reload();
    expect(await page.locator(`#batch-${id} video`).count()).toBe(1);
    const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    expect(widths[0]).toBeLessThanOrEqual(widths[1]!);
    await context.close();
  }, 60_000);
});

describe("Timelapses routes", () => {
  test("the SSE stream carries a batch's status and progress as `timelapse-<id>` fragments", async () => {
    const ac = new AbortController();
    const live = await req("/live", { signal: ac.signal }, "viewer");
    expect(live.status).toBe(200);
    const reader = live.body!.getReader();
    const now = Date.now();
    const r = await req("/timelapses", form({ camera: "cam", from: String(now - 3_600_000), to: String(now), frame_rate: "5" }));
    expect(r.status).toBe(201);
    const id = batches().at(-1)!.id;
    let text = "";
    const end = Date.now() + 20_000;
    while (!text.includes(`event: timelapse-${id}\ndata: <div class="batch-status"><span class="badge ok">completed`) && Date.now() < end) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ac.abort();
    expect(text).toContain(`event: timelapse-${id}\ndata: <div class="batch-status"><span class="badge busy">processing`);
    expect(text).toContain(`event: timelapse-${id}\ndata: <div class="batch-status"><span class="badge ok">completed`);
  });

  test("video (inline, Range, download), poster, and the card fragment", async () => {
    // a manual batch: the continuous one is rendered again after every capture (processing, a new
    // file) and may change between this query and the requests
    const b = batches().find((x) => x.batch_type === "manual" && x.status === "completed")!;
    const full = await req(`/timelapses/${b.id}/video.mp4`, {}, "viewer");
    expect(full.status).toBe(200);
    expect(full.headers.get("content-type")).toBe("video/mp4");
    expect(full.headers.get("content-disposition")).toBeNull();
    expect((await full.arrayBuffer()).byteLength).toBe(b.file_size_bytes!);
    const part = await req(`/timelapses/${b.id}/video.mp4`, { headers: { Range: "bytes=0-99" } }, "viewer");
    expect(part.status).toBe(206);
    expect((await part.arrayBuffer()).byteLength).toBe(100);
    const dl = await req(`/timelapses/${b.id}/video.mp4?download=1`, {}, "viewer");
    expect(dl.headers.get("content-disposition")).toContain("attachment");
    await dl.arrayBuffer();
    const poster = await req(`/timelapses/${b.id}/poster.jpg`, {}, "viewer");
    expect(poster.headers.get("content-type")).toBe("image/jpeg");
    const bytes = new Uint8Array(await poster.arrayBuffer());
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]);
    const card = await req(`/timelapses/${b.id}`, { headers: { "HX-Request": "true" } }, "viewer");
    expect(await card.text()).toContain(`id="batch-${b.id}"`);
    expect((await req("/timelapses/999999", {}, "viewer")).status).toBe(404);
  });

  test("a manual timelapse by day numbers of the day counter", async () => {
    const day = queryDb(dataDir, (db) => db.prepare("SELECT MAX(day_number) AS d, COUNT(*) AS n FROM images WHERE camera_id = (SELECT id FROM cameras WHERE key = 'cam') AND day_number = (SELECT MAX(day_number) FROM images)").get() as { d: number; n: number });
    const r = await req("/timelapses", form({ camera: "cam", from: "", to: "", from_day: String(day.d), to_day: String(day.d), frame_rate: "5" }));
    expect(r.status).toBe(201);
    const b = batches().at(-1)!;
    expect([b.day_range_start, b.day_range_end]).toEqual([day.d, day.d]);
    expect(b.total_frames).toBeGreaterThanOrEqual(day.n);
    const none = await req("/timelapses", form({ camera: "cam", from_day: "1", to_day: "2", frame_rate: "5" }));
    expect(none.status).toBe(400);
    expect(await none.text()).toContain("on days 1..2");
  });

  test("checkpoint now keeps a copy of the continuous video as a completed checkpoint batch", async () => {
    const r = await req("/timelapses/cameras/cam/checkpoint", form({}));
    expect(r.status).toBe(201);
    const cp = batches().find((b) => b.batch_type === "checkpoint")!;
    expect(cp.status).toBe("completed");
    expect(existsSync(join(dataDir, cp.output_path!))).toBe(true);
    expect(cp.total_frames).toBeGreaterThanOrEqual(3);
    const junction = queryDb(dataDir, (db) => db.prepare("SELECT COUNT(*) AS n FROM timelapse_images WHERE timelapse_batch_id = ?").get(cp.id) as { n: number });
    expect(junction.n).toBe(cp.total_frames);
  });

  test("bad input and roles: 400/404 with the reason, viewers cannot change anything, nothing is created", async () => {
    const before = batches().length;
    const now = Date.now();
    const ok = { camera: "cam", from: String(now - 600_000), to: String(now), frame_rate: "5" };
    expect((await req("/timelapses", form({ ...ok, frame_rate: "0" }))).status).toBe(400);
    expect((await req("/timelapses", form({ ...ok, from: "yesterday" }))).status).toBe(400);
    // the form's date + 24 h time fields: a 12 h time is refused with the reason
    const twelve = await req("/timelapses", form({ camera: "cam", from_date: "2024-05-01", from_time: "7:30 PM", to_date: "2024-05-01", to_time: "20:00", tzo: "0", frame_rate: "5" }));
    expect(twelve.status).toBe(400);
    expect(await twelve.text()).toContain("from: the time must be HH:MM or HH:MM:SS on a 24 h clock");
    const empty = await req("/timelapses", form({ ...ok, from: "1000", to: "2000" }));
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain("no timelapse images");
    expect((await req("/timelapses", form({ ...ok, camera: "nope" }))).status).toBe(404);
    expect((await req("/timelapses", form(ok), "viewer")).status).toBe(403);
    expect((await req(`/timelapses/${batches()[0]!.id}/delete`, form({}), "viewer")).status).toBe(403);
    expect(batches().length).toBe(before);
  });

  test("a trip's \"Make a timelapse\": a frame every N seconds of its footage in the ring, rendered as a manual batch", async () => {
    const trip = await waitUntil(
      () => queryDb(dataDir, (db) => db.prepare("SELECT id, start_time_utc, last_time_utc FROM trips ORDER BY id DESC LIMIT 1").get() as { id: number; start_time_utc: number; last_time_utc: number } | null),
    );
    const page = await req(`/trips/${trip.id}`, {}, "operator");
    expect(await page.text()).toContain(`action="/trips/${trip.id}/timelapse"`);
    expect((await req(`/trips/${trip.id}/timelapse`, form({ every_seconds: "1", frame_rate: "10" }), "viewer")).status).toBe(403);
    expect((await req(`/trips/${trip.id}/timelapse`, form({ every_seconds: "0" }))).status).toBe(400);
    expect((await req(`/trips/999999/timelapse`, form({ every_seconds: "1" }))).status).toBe(404);
    const known = new Set(batches().map((x) => x.id));
    const r = await req(`/trips/${trip.id}/timelapse`, form({ every_seconds: "1", frame_rate: "10" }));
    expect(r.status).toBe(202);
    expect(await r.text()).toMatch(/Taking \d+ frames from trip/);
    // the frames are taken in the background, then the batch renders
    const b = await waitUntil(() => batches().find((x) => !known.has(x.id) && x.status === "completed"));
    const id = b.id;
    const segs = queryDb(dataDir, (db) => db.prepare("SELECT MIN(start_utc) AS a, MAX(end_utc) AS b FROM segments").get() as { a: number; b: number });
    // one frame per second of the recorded span (give or take the ends)
    expect(b.total_frames).toBeGreaterThanOrEqual(Math.floor((segs.b - segs.a) / 1000) - 3);
    const imgs = queryDb(dataDir, (db) =>
      db.prepare("SELECT i.captured_at, i.processing_metadata, i.width FROM timelapse_images ti JOIN images i ON i.id = ti.image_id WHERE ti.timelapse_batch_id = ? ORDER BY ti.sequence_order").all(id) as { captured_at: number; processing_metadata: string; width: number }[],
    );
    expect(imgs.length).toBe(b.total_frames);
    for (const [i, img] of imgs.entries()) {
      expect(JSON.parse(img.processing_metadata).trip_id).toBe(trip.id);
      expect(img.width).toBe(320);
      if (i > 0) expect(img.captured_at - imgs[i - 1]!.captured_at).toBe(1000);
    }
    expect(imgs[0]!.captured_at).toBe(trip.start_time_utc);
    // the footage was read-locked only while it was read
    expect(queryDb(dataDir, (db) => db.prepare("SELECT COALESCE(SUM(locked), 0) AS n FROM segments").get() as { n: number }).n).toBe(0);
    // no capture attempts were written for them: they were not captures
    const attempts = queryDb(dataDir, (db) => db.prepare("SELECT COUNT(*) AS n FROM capture_attempts WHERE camera_id = (SELECT id FROM cameras WHERE key = 'front')").get() as { n: number });
    expect(attempts.n).toBe(0);
  }, 60_000);

  test("delete removes the batch, its junction rows and its video", async () => {
    const b = batches().find((x) => x.batch_type === "manual" && x.status === "completed")!;
    const file = join(dataDir, b.output_path!);
    expect(existsSync(file)).toBe(true);
    const r = await req(`/timelapses/${b.id}/delete`, form({}));
    expect(r.status).toBe(200);
    expect(batches().find((x) => x.id === b.id)).toBeUndefined();
    expect(existsSync(file)).toBe(false);
    const junction = queryDb(dataDir, (db) => db.prepare("SELECT COUNT(*) AS n FROM timelapse_images WHERE timelapse_batch_id = ?").get(b.id) as { n: number });
    expect(junction.n).toBe(0);
  });
});
