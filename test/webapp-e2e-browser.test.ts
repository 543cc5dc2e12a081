/**
 * End to end in headless Chromium (playwright-core, /usr/bin/chromium) against the REAL runtime
 * (`startRuntime`: ffmpeg recording its test pattern at 320x240 with 2 s segments, the indexer,
 * actors, retention, the web server on an ephemeral loopback port), on a 360 x 800 phone
 * viewport:
 *
 * log in through the login form -> the dashboard shows the camera recording -> the trips list
 * shows the trip (with a thumbnail) -> the trip page: save the trip (the badge turns "saved"
 * over SSE; a `saved_trips` row whose MP4 is valid per /usr/bin/ffprobe; the trip's segments
 * evidence-locked) -> the video plays (currentTime advances) ->
 * export a clip with the form, watch its progress card turn into a Download button, download
 * it (a valid MP4 per /usr/bin/ffprobe, the same bytes as the file on disk) -> log out.
 *
 * Every page is checked to fit 360 px. Screenshots go to the OS temp dir (removed afterwards
 * unless KEEP_SCREENSHOTS=1, which prints where they are).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium, routeLiveSockets } from "./helpers/browser.ts";
import { validateConfig } from "../src/config.ts";
import { startRuntime, type RuntimeHandle } from "../src/runtime.ts";
import { createUser } from "../src/db/users.ts";
import { waitUntil as waitFor } from "./helpers/wait.ts";

const FFPROBE = "/usr/bin/ffprobe";
const CAMERA = { key: "front", name: "Front", source: "testsrc", segment_seconds: 2, width: 320, height: 240, fps: 10 };

let dir: string;
let rt: RuntimeHandle;
let browser: Browser;
const shots = mkdtempSync(join(tmpdir(), "dashcam-webapp-shots-"));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "dashcam-webapp-e2e-"));
  const config = validateConfig({ data_dir: dir, http: { listen: "127.0.0.1:0" }, cameras: [CAMERA] }, dir);
  rt = await startRuntime(config);
  await createUser(rt.db, { username: "driver", password: "drive-safely-42", role: "operator" });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await rt?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (process.env.KEEP_SCREENSHOTS === "1") console.log(`screenshots kept in ${shots}`);
  else rmSync(shots, { recursive: true, force: true });
});

const pageWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth);

async function shot(page: Page, name: string) {
  expect({ page: name, width: await pageWidth(page) }).toEqual({ page: name, width: 360 });
  await page.screenshot({ path: join(shots, `${name}-360.png`), fullPage: true });
}

test("log in, see the camera recording, save, play and export a trip on a phone", async () => {
  const ctx = await browser.newContext({ viewport: { width: 360, height: 800 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true, acceptDownloads: true });
  await routeLiveSockets(ctx); // the home screen's live thumbnail (see the helper)
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));

  // wait for a few segments so the trip has footage to play and export
  await waitFor("3 segments", () => (rt.db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 3, 60_000);

  // 1. any page sends a visitor to the login form; log in there
  await page.goto(`${rt.url}/trips`);
  expect(new URL(page.url()).pathname).toBe("/login");
  await shot(page, "login");
  await page.fill('input[name="username"]', "driver");
  await page.fill('input[name="password"]', "drive-safely-42");
  await Promise.all([page.waitForURL(`${rt.url}/trips`), page.click('button[type="submit"]')]);

  // 2. the dashboard shows the camera recording
  await page.goto(`${rt.url}/`);
  await expect(page.locator("#camera-front .badge").textContent()).resolves.toBe("Recording");
  await shot(page, "dashboard");

  // 3. the trips list shows the open trip with a thumbnail
  await page.goto(`${rt.url}/trips`);
  const trip = rt.db.query("SELECT id FROM trips ORDER BY id DESC LIMIT 1").get() as { id: number };
  const thumb = page.locator(`img[src="/trips/${trip.id}/thumb.jpg"]`);
  await page.waitForFunction((id) => {
    const img = document.querySelector(`img[src="/trips/${id}/thumb.jpg"]`) as HTMLImageElement | null;
    return img !== null && img.complete && img.naturalWidth > 0;
  }, trip.id, { timeout: 30_000 });
  expect(await thumb.evaluate((i: HTMLImageElement) => i.naturalWidth)).toBe(320);
  await shot(page, "trips");

  // 4. the trip page: save (the runtime's saveTrip; the trip is still recording, so it is saved
  //    while open: its segments evidence-locked in the ring, the MP4 made on download)
  await page.goto(`${rt.url}/trips/${trip.id}?player=hlsjs`);
  const saveButton = page.locator(`form[action="/trips/${trip.id}/save"] button`);
  expect(await saveButton.count()).toBe(1);
  await saveButton.click();
  await page.waitForFunction(() => /Saving…|Saved:/.test(document.querySelector("#trip-actions")?.textContent ?? ""), null, { timeout: 30_000 });
  // the status badge turns "Kept" over SSE, without a reload
  await page.waitForFunction((id) => document.querySelector(`[sse-swap="trip-${id}"] .badge`)?.textContent === "Kept", trip.id, { timeout: 60_000 });
  const savedRow = rt.db.query("SELECT saved_dir, mp4_path FROM saved_trips WHERE trip_id = ?").get(trip.id) as { saved_dir: string; mp4_path: string | null } | null;
  // stored once: the footage stays in the ring; the MP4 is made when the phone downloads it
  expect(savedRow).toEqual({ saved_dir: "recordings/front", mp4_path: null });
  await page.reload();
  // client.js adds ?tzo= (the phone's zone, for the file name)
  const savedLink = page.locator(`#trip-actions a[href^="/trips/${trip.id}/saved.mp4"]`);
  expect(await savedLink.count()).toBe(1);
  const savedRes = await page.request.get(`${rt.url}/trips/${trip.id}/saved.mp4`);
  expect(savedRes.status()).toBe(200);
  const savedMp4 = join(dir, "downloaded-trip.mp4");
  writeFileSync(savedMp4, await savedRes.body());
  const savedProbe = Bun.spawnSync([FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", savedMp4]);
  expect(savedProbe.exitCode).toBe(0);
  const savedInfo = JSON.parse(savedProbe.stdout.toString()) as { format: { format_name: string; duration: string }; streams: { codec_type: string; width: number }[] };
  expect(savedInfo.format.format_name).toContain("mp4");
  expect(Number(savedInfo.format.duration)).toBeGreaterThan(1);
  expect(savedInfo.streams.find((s) => s.codec_type === "video")!.width).toBe(320);
  // every segment of the trip still in the ring is evidence-locked
  const unlocked = rt.db
    .query("SELECT COUNT(*) AS n FROM segments s JOIN trips t ON t.camera_id = s.camera_id WHERE t.id = ? AND s.absolute_index BETWEEN t.start_absolute AND t.last_absolute AND s.evidence_locked = 0")
    .get(trip.id) as { n: number };
  expect(unlocked.n).toBe(0);

  // 5. it plays: the video's currentTime advances
  await page.waitForFunction(() => (document.querySelector("video") as HTMLVideoElement).readyState >= 2, null, { timeout: 30_000 });
  await page.locator("video").evaluate((v: HTMLVideoElement) => v.play());
  const t0 = await page.locator("video").evaluate((v: HTMLVideoElement) => v.currentTime);
  await page.waitForFunction((start) => (document.querySelector("video") as HTMLVideoElement).currentTime > start + 1, t0, { timeout: 30_000 });
  expect(await page.locator("video").evaluate((v: HTMLVideoElement) => v.error)).toBeNull();

  // 6. export a clip with the form (prefilled with the trip's span, in the browser's zone)
  await page.click('#export-form button[type="submit"]');
  const download = page.locator('#export-result a[href$="/download"]');
  await download.waitFor({ timeout: 60_000 });
  await shot(page, "trip");
  const [dl] = await Promise.all([page.waitForEvent("download"), download.click()]);
  const saved = join(shots, "clip.mp4");
  await dl.saveAs(saved);
  // offered as <camera>-YYYY-MM-DD-HHMM.mp4 (local time); the file on disk keeps its exporter name
  expect(dl.suggestedFilename()).toMatch(/^front-\d{4}-\d\d-\d\d-\d{4}\.mp4$/);
  const probe = Bun.spawnSync([FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", saved]);
  expect(probe.exitCode).toBe(0);
  const info = JSON.parse(probe.stdout.toString()) as { format: { format_name: string; duration: string }; streams: { codec_type: string; width: number }[] };
  expect(info.format.format_name).toContain("mp4");
  expect(Number(info.format.duration)).toBeGreaterThan(1);
  expect(info.streams.find((s) => s.codec_type === "video")!.width).toBe(320);
  const onDisk = join(dir, "exports", readdirSync(join(dir, "exports")).find((n) => n.endsWith(".mp4"))!);
  expect(statSync(saved).size).toBe(statSync(onDisk).size);
  expect(Bun.hash(readFileSync(saved))).toBe(Bun.hash(readFileSync(onDisk)));

  // a bad range is refused with the reason shown in the page's flash area (htmx error)
  // the pickers: a date and a 24 h time (never AM/PM, whatever the locale); the time field
  // refuses what is not one before anything is sent
  const fromDate = await page.inputValue('#export-form input[name="from_date"]');
  const fromTime = await page.inputValue('#export-form input[name="from_time"]');
  expect(fromDate).toMatch(/^\d{4}-\d\d-\d\d$/);
  expect(fromTime).toMatch(/^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/);
  const timeValid = (value: string) =>
    page.locator('#export-form input[name="to_time"]').evaluate((el: HTMLInputElement, v) => {
      el.value = v;
      return el.checkValidity();
    }, value);
  expect({ "8:12 PM": await timeValid("8:12 PM"), "24:00": await timeValid("24:00"), "23:59": await timeValid("23:59"), "0812": await timeValid("0812") }).toEqual({
    "8:12 PM": false,
    "24:00": false,
    "23:59": true,
    "0812": true,
  });
  await page.fill('#export-form input[name="to_date"]', fromDate);
  await page.fill('#export-form input[name="to_time"]', fromTime);
  await page.click('#export-form button[type="submit"]');
  await page.waitForFunction(() => !(document.getElementById("flash") as HTMLElement).hidden, null, { timeout: 15_000 });
  await expect(page.locator("#flash").textContent()).resolves.toBe("400 range is empty or reversed (to must be after from)");
  expect(await page.locator("#export-result .export").count()).toBe(1); // no second job

  // the exports page lists it; the event log has the actions
  await page.goto(`${rt.url}/exports`);
  await expect(page.locator(".export").first().getAttribute("data-state")).resolves.toBe("done");
  await shot(page, "exports");
  await page.goto(`${rt.url}/events?q=driver`);
  await expect(page.locator(".events").textContent()).resolves.toContain("driver logged in");
  await shot(page, "events");

  // 7. log out: back to the login form, pages need a session again
  await Promise.all([page.waitForURL(/\/login$/), page.click('footer button[type="submit"]')]);
  await page.goto(`${rt.url}/trips`);
  expect(new URL(page.url()).pathname).toBe("/login");
  expect(errors).toEqual([]);
  await ctx.close();
}, 180_000);
