/**
 * Headless Chromium (playwright-core driving /usr/bin/chromium) against the real server on a
 * phone-sized viewport (360 x 800): the trip page plays the trip's HLS playlist through the
 * embedded hls.js (currentTime advances, across the recording gap), the dashboard updates from
 * SSE without a reload, a watchlist alert pops up as a dismissable toast that stays on screen,
 * and nothing overflows the 360 px width. Screenshots go to the OS temp
 * dir, removed afterwards unless KEEP_SCREENSHOTS=1 (then the path is printed).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "./helpers/browser.ts";
import { startWebServer } from "../src/web/server.ts";
import { insertVehicleTx } from "../src/db/vehicles.ts";
import { makeFixture, T0, type WebFixture } from "./web-fixture.ts";

let f: WebFixture;
let web: ReturnType<typeof startWebServer>;
let browser: Browser;
const shots = mkdtempSync(join(tmpdir(), "dashcam-web-shots-"));

beforeAll(async () => {
  f = await makeFixture();
  web = startWebServer(f.deps);
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await web?.stop();
  f?.cleanup();
  if (process.env.KEEP_SCREENSHOTS === "1") console.log(`screenshots kept in ${shots}`);
  else rmSync(shots, { recursive: true, force: true });
});

async function phonePage(colorScheme: "light" | "dark" = "light", who: "viewer" | "operator" = "viewer"): Promise<{ page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ viewport: { width: 360, height: 800 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true, colorScheme });
  // logged in as the viewer (every page needs a session); the cookie as the login would set it
  await ctx.addCookies([{ name: "dashcam_session", value: f.sessions[who].token, url: web.url, httpOnly: true, sameSite: "Strict" }]);
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  return { page, errors };
}

/** Widest element right edge vs the viewport: > 360 means horizontal scrolling on a phone. */
const pageWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth);

describe("phone browser", () => {
  test("trip page plays the HLS playlist with hls.js; currentTime advances past the gap", async () => {
    const { page, errors } = await phonePage();
    // force the hls.js path (this Chromium may also play HLS natively)
    await page.goto(`${web.url}/trips/2?player=hlsjs`);
    const video = page.locator("video[data-hls]");
    await expect(video.getAttribute("data-mode")).resolves.toBe("hlsjs");
    await page.waitForFunction(() => (document.querySelector("video") as HTMLVideoElement).readyState >= 2, null, { timeout: 30_000 });
    const duration = await video.evaluate((v: HTMLVideoElement) => v.duration);
    // 5 segments of 2 s each (the 30 s hole is not in the media timeline)
    expect(duration).toBeGreaterThan(9);
    expect(duration).toBeLessThan(11);
    await video.evaluate((v: HTMLVideoElement) => v.play());
    const t0 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
    await page.waitForFunction((start) => (document.querySelector("video") as HTMLVideoElement).currentTime > start + 1, t0, { timeout: 30_000 });
    // playback continues over the discontinuity into segment 13 (t >= 6 s)
    await page.waitForFunction(() => (document.querySelector("video") as HTMLVideoElement).currentTime > 6.5, null, { timeout: 30_000 });
    const t1 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
    expect(t1).toBeGreaterThan(t0 + 1);
    expect(await video.evaluate((v: HTMLVideoElement) => v.error)).toBeNull();
    expect(await pageWidth(page)).toBeLessThanOrEqual(360);
    // local time was written by client.js (the UTC fallback text is gone)
    expect(await page.locator("time").first().textContent()).not.toContain("UTC");
    await page.screenshot({ path: join(shots, "trip-360.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.context().close();
  }, 90_000);

  test("a play-from-here link starts the trip at that media time", async () => {
    const { page, errors } = await phonePage();
    await page.goto(`${web.url}/trips/2?player=hlsjs&t=7.0`);
    await page.waitForFunction(() => (document.querySelector("video") as HTMLVideoElement).readyState >= 2, null, { timeout: 30_000 });
    const t = await page.locator("video").evaluate((v: HTMLVideoElement) => v.currentTime);
    expect(t).toBeGreaterThanOrEqual(6.5);
    expect(t).toBeLessThan(8);
    expect(errors).toEqual([]);
    await page.context().close();
  }, 90_000);

  test("trip page picks a player by itself", async () => {
    const { page, errors } = await phonePage();
    await page.goto(`${web.url}/trips/3`);
    const mode = await page.locator("video[data-hls]").getAttribute("data-mode");
    const mse = await page.evaluate(() => "MediaSource" in window || "ManagedMediaSource" in window);
    // hls.js wherever MSE exists (Chromium's own HLS player cannot parse MPEG-TS segments), native only without MSE
    expect(mse).toBe(true);
    expect(mode).toBe("hlsjs");
    await page.waitForFunction(() => (document.querySelector("video") as HTMLVideoElement).readyState >= 1, null, { timeout: 30_000 });
    expect(errors).toEqual([]);
    await page.context().close();
  }, 90_000);

  test("dashboard fits 360 px and updates from SSE without a reload", async () => {
    const { page, errors } = await phonePage("dark");
    await page.goto(`${web.url}/`);
    await expect(page.locator("#camera-rear .badge").textContent()).resolves.toBe("Reconnecting…");
    // wait for the htmx SSE extension to connect (the server counts subscribers)
    const deadline = Date.now() + 15_000;
    while (f.bus.size === 0 && Date.now() < deadline) await Bun.sleep(50);
    expect(f.bus.size).toBeGreaterThan(0);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    f.db.query("UPDATE camera_status SET state = 'recording', last_error = NULL WHERE camera_id = ?").run(f.rear.id);
    f.bus.publish({ type: "camera", key: "rear", state: "recording" });
    await page.waitForFunction(() => document.querySelector("#camera-rear .badge")?.textContent === "Recording", null, { timeout: 15_000 });
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42); // same document
    expect(await pageWidth(page)).toBeLessThanOrEqual(360);
    // touch targets: the tab bar's places at least 44 px tall
    const heights = await page.locator(".tabs > a, .tabs summary").evaluateAll((as) => as.map((a) => a.getBoundingClientRect().height));
    expect(heights.length).toBe(5);
    for (const h of heights) expect(h).toBeGreaterThanOrEqual(44);
    await page.screenshot({ path: join(shots, "dashboard-360.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.context().close();
  }, 90_000);

  test("the diagnostics page prepends a newly indexed segment row from SSE", async () => {
    const { page, errors } = await phonePage("light", "operator");
    const before = f.bus.size;
    await page.goto(`${web.url}/diagnostics`);
    const deadline = Date.now() + 15_000;
    while (f.bus.size <= before && Date.now() < deadline) await Bun.sleep(50);
    expect(f.bus.size).toBeGreaterThan(before);
    const last = f.front.segments.at(-1)!;
    f.db
      .query(
        `INSERT INTO segments (camera_id, segment_index, segment_gen, absolute_index, start_utc, end_utc, rel_path, bytes)
         VALUES (?, 7, 1, 17, ?, ?, 'recordings/front/000000017.ts', 2048)`,
      )
      .run(f.front.id, last.end, last.end + 2000);
    try {
      f.bus.publish({ type: "segment", key: "front", absoluteIndex: 17, endUtc: last.end + 2000, bytes: 2048 });
      await page.waitForFunction(() => document.querySelector('tbody[sse-swap="segment-front"] tr a')?.textContent === "#17", null, {
        timeout: 15_000,
      });
      expect(await page.locator('tbody[sse-swap="segment-front"] tr').count()).toBe(8);
      expect(await page.locator("#camera-front .ring-text").textContent()).toContain("8 / 10 segments");
    } finally {
      f.db.query("DELETE FROM segments WHERE camera_id = ? AND absolute_index = 17").run(f.front.id);
    }
    expect(errors).toEqual([]);
    await page.context().close();
  }, 90_000);

  test("a watchlist alert pops up as a toast on any page (snapshot, plate, footage link), stays in view and can be dismissed", async () => {
    // a vehicle pass with a real JPEG snapshot (the frame ffmpeg decodes from a recorded segment)
    const rel = "plates/1/2024-05-01/browser.jpg";
    mkdirSync(join(f.dir, "plates/1/2024-05-01"), { recursive: true });
    const r = Bun.spawnSync(["/usr/bin/ffmpeg", "-v", "error", "-i", join(f.dir, f.front.segments[0]!.rel), "-frames:v", "1", join(f.dir, rel)]);
    expect(r.exitCode).toBe(0);
    const vehicleId = f.db.transaction(() =>
      insertVehicleTx(f.db, {
        trackId: 1, videoId: "front:10", frameIdx: 0, ts: T0 + 1000, finalPlate: "AB123CD", plateConfidence: 0.93,
        carBbox: null, plateBbox: [1, 2, 3, 4], cameraId: f.front.id, snapshotPath: rel,
      }).id,
    )();
    const { page, errors } = await phonePage("dark");
    try {
      const before = f.bus.size;
      await page.goto(`${web.url}/trips`);
      const deadline = Date.now() + 15_000;
      while (f.bus.size <= before && Date.now() < deadline) await Bun.sleep(50);
      expect(f.bus.size).toBeGreaterThan(before);
      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight)); // scrolled away from the top
      const alert = (n: number) => ({
        type: "alert" as const, kind: "alpr.watchlist" as const, plate: "AB123CD", watched: "AB123CD", cameraKey: "front",
        ts: T0 + 1000 + n, vehicleId, message: `Watchlist plate AB123CD seen on camera front (read AB123CD, confidence 0.93) #${n}`,
      });
      f.bus.publish(alert(1));
      const toast = page.locator("#alerts .alert");
      await toast.waitFor({ timeout: 15_000 });
      await page.waitForFunction(() => {
        const img = document.querySelector("#alerts .alert-snap") as HTMLImageElement | null;
        return img !== null && img.complete && img.naturalWidth > 0;
      }, null, { timeout: 15_000 });
      // fully inside the 360 x 800 screen although the page is scrolled, and no sideways scroll
      const box = (await toast.boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(360);
      expect(box.y + box.height).toBeLessThanOrEqual(800);
      expect(await pageWidth(page)).toBe(360);
      expect(await toast.locator(".plate-text").textContent()).toBe("AB123CD");
      expect(await toast.locator('a[href^="/cameras/front?at="]').getAttribute("href")).toBe(`/cameras/front?at=${T0 + 1001}`);
      const close = toast.locator("[data-dismiss]");
      const closeBox = (await close.boundingBox())!;
      expect(closeBox.width).toBeGreaterThanOrEqual(44);
      expect(closeBox.height).toBeGreaterThanOrEqual(44);
      await page.screenshot({ path: join(shots, "alert-360.png") });
      // at most three toasts, newest first
      for (const n of [2, 3, 4]) f.bus.publish(alert(n));
      await page.waitForFunction(() => (document.querySelector("#alerts .alert .alert-msg")?.textContent ?? "").includes("#4"), null, { timeout: 15_000 });
      expect(await page.locator("#alerts .alert").count()).toBe(3);
      // dismiss them all
      for (let i = 0; i < 3; i++) await page.locator("#alerts .alert [data-dismiss]").first().click();
      expect(await page.locator("#alerts .alert").count()).toBe(0);
      expect(await page.locator("#alerts").isVisible()).toBe(false);
      expect(errors).toEqual([]);
    } finally {
      await page.context().close();
      f.db.query("DELETE FROM vehicles WHERE id = ?").run(vehicleId);
      rmSync(join(f.dir, "plates"), { recursive: true, force: true });
    }
  }, 90_000);

  test("camera, trips, events, plates and exports pages fit 360 px", async () => {
    const { page, errors } = await phonePage();
    for (const [path, name] of [
      ["/cameras/front?day=2024-05-01", "camera"],
      [`/cameras/front?at=${T0 + 37_000}`, "camera-at"],
      ["/trips", "trips"],
      ["/events", "events"],
      ["/plates", "plates"],
      ["/exports", "exports"],
      ["/trips/abc", "error"],
    ]) {
      await page.goto(`${web.url}${path}`);
      expect({ path, width: await pageWidth(page) }).toEqual({ path, width: 360 });
      // touch targets: every visible link, button and field is at least 40 px tall (inline text
      // links get their tap area from padding, see style.css)
      const small = await page.evaluate(() =>
        (Array.from(document.querySelectorAll("a, button, select, input:not([type=hidden]), summary")) as HTMLElement[])
          .map((el) => ({ el, r: el.getBoundingClientRect() }))
          .filter(({ r }) => r.width > 0 && r.height > 0 && r.height < 40)
          .map(({ el, r }) => `${el.tagName} "${(el.textContent ?? "").trim().slice(0, 20)}" ${Math.round(r.height)} px`),
      );
      expect({ path, small }).toEqual({ path, small: [] });
      await page.screenshot({ path: join(shots, `${name}-360.png`), fullPage: true });
    }
    // the 400 page logs a console error for its own status: only that one is allowed
    expect(errors.filter((e) => !e.includes("400"))).toEqual([]);
    await page.context().close();
  }, 90_000);
});
