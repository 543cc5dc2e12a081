/**
 * A saved trip is stored once, and its MP4 is made while it is downloaded. Through the real
 * runtime in this process (ffmpeg recording its test pattern, 320x240, 2 s segments, a real
 * SQLite file, real HTTP with a logged-in session), checked with Debian's ffprobe and in headless
 * Chromium's <video>:
 * - a trip saved early that records 20 s more keeps its bytes once (ring + saved/ within 5 % of
 *   the trip's segment bytes), and its downloaded MP4 lasts the whole trip (within 1 s of the sum
 *   of the segments, ffprobe) and plays in Chromium (currentTime advances). The trip then has
 *   about 11 segments of similar size, so a second copy of even one of them (about 9 % of the
 *   bytes) is over the 5 % (bench/save-trip.ts saves and downloads 20-minute trips);
 * - one segment's download is an MP4 too (remuxed on the fly, named for a phone) that plays in
 *   the same Chromium;
 * (A client that goes away mid-download: save-download.test.ts.)
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SegmentRow } from "../src/db/segments.ts";
import { probe } from "./helpers/media.ts";
import { RuntimeFixture } from "./helpers/inprocess.ts";
import { webSession } from "./helpers/http.ts";
import { launchChromium } from "./helpers/browser.ts";
import { waitUntil } from "./helpers/wait.ts";

const fx = new RuntimeFixture("dashcam-save-once-");
/** How long the camera records after the save, ms (2 s segments: about 10 more). */
const RECORD_AFTER_SAVE_MS = 20_000;
afterEach(() => fx.cleanup());

type Trip = { id: number; status: string; end_time_utc: number | null; start_absolute: number; last_absolute: number };
const tripRow = (db: Database, id: number) => db.query("SELECT id, status, end_time_utc, start_absolute, last_absolute FROM trips WHERE id = ?").get(id) as Trip;
const tripSegs = (db: Database, t: Trip) =>
  db.query("SELECT * FROM segments WHERE absolute_index BETWEEN ? AND ? ORDER BY absolute_index").all(t.start_absolute, t.last_absolute) as SegmentRow[];

/** Bytes of every file under `dir` (recursively); 0 when it does not exist. */
function bytesUnder(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? bytesUnder(join(dir, e.name)) : statSync(join(dir, e.name)).size;
  return n;
}

describe("a saved trip is stored once", () => {
  test("saved early, 20 s more recorded, stopped: one copy of its bytes; the downloaded MP4 is the whole trip in ffprobe and in Chromium", async () => {
    const dataDir = fx.tempDir();
    const h = await fx.start(fx.config(dataDir));
    await waitUntil("a first segment", () => (h.db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 1);
    const tripId = (h.db.query("SELECT id FROM trips").get() as { id: number }).id;
    await h.actions.saveTrip(tripId, "api");
    await waitUntil("saved while recording", () => tripRow(h.db, tripId).status === "saved");
    const atSave = tripRow(h.db, tripId).last_absolute;
    await Bun.sleep(RECORD_AFTER_SAVE_MS);
    await h.actions.stopCamera("front");
    await waitUntil("closed and saved", () => {
      const t = tripRow(h.db, tripId);
      return t.end_time_utc !== null && t.status === "saved" && !h.supervisor.system.get(`trip:${tripId}`);
    });

    const trip = tripRow(h.db, tripId);
    expect(trip.last_absolute - atSave).toBeGreaterThanOrEqual(8); // ~20 s of 2 s segments after the save
    const segs = tripSegs(h.db, trip);
    expect(segs.length).toBe(trip.last_absolute - trip.start_absolute + 1);
    expect(segs.filter((s) => s.evidence_locked !== 1 || s.incident_id !== `trip-${tripId}`)).toEqual([]);
    const row = h.db.query("SELECT * FROM saved_trips WHERE trip_id = ?").get(tripId) as { layout: string; mp4_path: string | null; saved_dir: string };
    expect(row).toEqual(expect.objectContaining({ layout: "ring", mp4_path: null, saved_dir: "recordings/front" }));

    // one copy: the ring files of the trip plus anything under saved/ vs the trip's segment bytes
    const segmentBytes = segs.reduce((n, s) => n + (s.bytes ?? 0), 0);
    const onDisk = segs.reduce((n, s) => n + statSync(join(dataDir, s.rel_path)).size, 0) + bytesUnder(join(dataDir, "saved"));
    expect(segmentBytes).toBeGreaterThan(0);
    expect(Math.abs(onDisk - segmentBytes) / segmentBytes).toBeLessThanOrEqual(0.05);

    // the download: made on the fly, a phone-friendly name, no length known in advance
    const cookie = await webSession(h.url);
    const res = await fetch(`${h.url}/trips/${tripId}/saved.mp4`, { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("video/mp4");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="front-\d{4}-\d{2}-\d{2}-\d{4}\.mp4"$/);
    expect(res.headers.get("accept-ranges")).toBe("none");
    const mp4 = join(dataDir, "download.mp4");
    writeFileSync(mp4, new Uint8Array(await res.arrayBuffer()));
    let sum = 0;
    for (const s of segs) sum += (await probe(join(dataDir, s.rel_path))).duration;
    const got = await probe(mp4);
    expect(got.video?.codec).toBe("h264");
    expect(Math.abs(got.duration - sum)).toBeLessThanOrEqual(1);
    // nothing was written for it, and the read-locks are released
    expect(bytesUnder(join(dataDir, "saved"))).toBe(0);
    expect(readdirSync(dataDir).filter((n) => n.endsWith(".mp4") && n !== "download.mp4")).toEqual([]);
    await waitUntil("read-locks released", () => (h.db.query("SELECT COALESCE(SUM(locked), 0) AS n FROM segments").get() as { n: number }).n === 0);

    // Chromium plays it from the same URL (the session cookie of a logged-in phone)
    const browser = await launchChromium();
    try {
      const ctx = await browser.newContext();
      const token = /dashcam_session=([^;]+)/.exec(cookie)![1]!;
      await ctx.addCookies([{ name: "dashcam_session", value: token, url: h.url, httpOnly: true, sameSite: "Strict" }]);
      const page = await ctx.newPage();
      await page.goto(`${h.url}/trips/${tripId}`);
      await page.evaluate((src) => {
        const v = document.createElement("video");
        v.id = "saved-video";
        v.muted = true;
        v.src = src;
        document.body.append(v);
        void v.play();
      }, `/trips/${tripId}/saved.mp4`);
      await page.waitForFunction(() => (document.getElementById("saved-video") as HTMLVideoElement).currentTime > 0.5, null, { timeout: 30_000 });
      const t1 = await page.evaluate(() => (document.getElementById("saved-video") as HTMLVideoElement).currentTime);
      await page.waitForFunction((t) => (document.getElementById("saved-video") as HTMLVideoElement).currentTime > t + 1, t1, { timeout: 30_000 });
      const error = await page.evaluate(() => (document.getElementById("saved-video") as HTMLVideoElement).error?.code ?? null);
      expect(error).toBeNull();

      // one segment's download: an MP4 made on the fly (not the raw MPEG-TS) that plays too
      const seg = segs[1]!;
      const segUrl = `/media/front/${seg.absolute_index}.mp4`;
      const segRes = await fetch(`${h.url}${segUrl}?tzo=0`, { headers: { cookie } });
      expect(segRes.status).toBe(200);
      expect(segRes.headers.get("content-type")).toBe("video/mp4");
      expect(segRes.headers.get("content-disposition")).toBe(`attachment; filename="front-${new Date(seg.start_utc).toISOString().slice(0, 19).replace("T", "-").replaceAll(":", "")}.mp4"`);
      const segBytes = new Uint8Array(await segRes.arrayBuffer());
      expect(new TextDecoder().decode(segBytes.subarray(4, 8))).toBe("ftyp");
      await page.evaluate((src) => {
        const v = document.createElement("video");
        v.id = "segment-video";
        v.muted = true;
        v.src = src;
        document.body.append(v);
        void v.play();
      }, segUrl);
      await page.waitForFunction(() => (document.getElementById("segment-video") as HTMLVideoElement).currentTime > 0.3, null, { timeout: 30_000 });
      const s1 = await page.evaluate(() => (document.getElementById("segment-video") as HTMLVideoElement).currentTime);
      await page.waitForFunction((t) => (document.getElementById("segment-video") as HTMLVideoElement).currentTime > t + 0.5, s1, { timeout: 30_000 });
      expect(await page.evaluate(() => (document.getElementById("segment-video") as HTMLVideoElement).error?.code ?? null)).toBeNull();
    } finally {
      await browser.close();
    }
    await h.stop();
  }, 150_000);
});
