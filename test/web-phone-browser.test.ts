/**
 * The phone UI in headless Chromium (playwright-core, /usr/bin/chromium) at 390 x 844 against
 * the REAL runtime (`startRuntime`: ffmpeg recording its test pattern, indexer, actors, the
 * real `saveTrip`, the web server on a loopback port), one browser for the whole file:
 *
 * - Save from the home screen is one tap: the confirmation appears at once ("Saving…"), then
 *   turns into "Saved: drive of …" with a Download MP4 link over SSE, in the same document (no
 *   reload); the link downloads an MP4 named `front-YYYY-MM-DD-HHMM.mp4`; Incident likewise
 *   (its clip's download appears when the incident actor has exported it), and My footage then
 *   lists both with thumbnails;
 * - every page (home, footage, a drive, a camera, my footage, events, plates, exports,
 *   diagnostics, users, login, setup; dark and light for the logged-in ones) passes axe-core
 *   with no serious or critical violation, fits 390 px, and is screenshotted into
 *   test-output/phone-390/ (git-ignored); every page and its tab bar also fit 360 px without
 *   scrolling sideways (document.scrollWidth <= innerWidth, the tab bar one row of 44 px+
 *   targets), and "More" opens a menu of the other places inside the screen;
 * - the driver's pages hold no "ring", "segment", "boot" or event kind name, with the event
 *   rows the real runtime wrote for the save and the incident;
 * - the service worker registers and caches only the app shell (`/assets/*`), never a page or
 *   media.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { axeViolations, launchChromium, routeLiveSockets } from "./helpers/browser.ts";
import { waitUntil } from "./helpers/wait.ts";
import { validateConfig } from "../src/config.ts";
import { startRuntime, type RuntimeHandle } from "../src/runtime.ts";
import { createUser } from "../src/db/users.ts";
import { createSession } from "../src/db/sessions.ts";
import { openDatabase } from "../src/db/open.ts";
import { startWebServer } from "../src/web/server.ts";
import { LiveBus } from "../src/events.ts";

const VIEWPORT = { width: 390, height: 844 };
/** The smallest phone the pages must fit. */
const SMALL = { width: 360, height: 740 };
const SHOTS = join(import.meta.dir, "..", "test-output", "phone-390");
const CAMERA = { key: "front", name: "Front", source: "testsrc", segment_seconds: 2, width: 320, height: 240, fps: 10 };

let dir: string;
let rt: RuntimeHandle;
let browser: Browser;
let token: string;
let setupDir: string;
let setupWeb: ReturnType<typeof startWebServer>;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), "dashcam-phone-browser-"));
  // a short incident window so its clip is exported within seconds
  const config = validateConfig({ data_dir: dir, http: { listen: "127.0.0.1:0" }, cameras: [CAMERA], incident: { before_seconds: 4, after_seconds: 2 } }, dir);
  [rt, browser] = await Promise.all([startRuntime(config), launchChromium()]);
  const user = await createUser(rt.db, { username: "driver", password: "drive-safely-42", role: "admin" });
  token = createSession(rt.db, user.id).token;
  // a second, empty installation for the first-run setup page
  setupDir = mkdtempSync(join(tmpdir(), "dashcam-phone-setup-"));
  const setupConfig = validateConfig({ data_dir: setupDir, http: { listen: "127.0.0.1:0" }, cameras: [] }, setupDir);
  setupWeb = startWebServer({ db: openDatabase(join(setupDir, "dashcam.db")), config: setupConfig, dataDir: setupDir, bus: new LiveBus(), startedAt: Date.now() });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await setupWeb?.stop();
  await rt?.stop();
  for (const d of [dir, setupDir]) if (d) rmSync(d, { recursive: true, force: true });
});

async function phone(loggedIn = true): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  // bypassCSP: axe-core is injected as an inline script, which the app's CSP (rightly) forbids
  const ctx = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1, isMobile: true, hasTouch: true, acceptDownloads: true, bypassCSP: true });
  if (loggedIn) await ctx.addCookies([{ name: "dashcam_session", value: token, url: rt.url, httpOnly: true, sameSite: "Strict" }]);
  await routeLiveSockets(ctx); // the home screen's live thumbnails (see the helper)
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  return { ctx, page, errors };
}

/** Pages for operators, where the recorder's own words belong. */
const OPERATOR_PAGES = new Set(["diagnostics", "events-details", "users"]);
/** Words of the recorder that must not reach a driver's page. */
const JARGON: [string, RegExp][] = [
  ["ring", /\bring\b/i],
  ["segment", /segment/i],
  ["boot", /\bboot/i],
  ["event kind", /\b(camera\.state|segment\.gap|trip\.open|trip\.close|segment\.evidence_lock|evidence\.lock|incident\.(mark|begin|done))\b/],
];

/**
 * How a page fits the screen: nothing scrolls sideways (the document, the tab bar, each tab),
 * pages with a session have the tab bar (one row, each target at least 44 px tall), pages
 * without one have none.
 */
async function fit(page: Page, loggedIn = true): Promise<{ page: boolean; tabs: boolean }> {
  return page.evaluate((loggedIn) => {
    const tabs = document.querySelector(".tabs") as HTMLElement | null;
    const targets = tabs ? Array.from(tabs.querySelectorAll(":scope > a, summary")) : [];
    return {
      page: document.documentElement.scrollWidth <= window.innerWidth,
      // a page with a session has the tab bar, one without has none
      tabs: !loggedIn
        ? tabs === null
        : tabs !== null &&
          tabs.scrollWidth <= tabs.clientWidth &&
          tabs.getBoundingClientRect().height < 80 &&
          targets.length === 5 &&
          targets.every((t) => t.scrollWidth <= t.clientWidth && t.getBoundingClientRect().height >= 44),
    };
  }, loggedIn);
}

/** Checks a page: fits 390 px, no serious/critical axe violation; writes its screenshot. */
async function checkPage(page: Page, name: string, loggedIn = true): Promise<void> {
  await page.waitForLoadState("load");
  expect({ page: name, width: await page.evaluate(() => document.documentElement.scrollWidth) }).toEqual({ page: name, width: VIEWPORT.width });
  expect({ name, ...(await fit(page, loggedIn)) }).toEqual({ name, page: true, tabs: true });
  expect({ page: name, violations: await axeViolations(page) }).toEqual({ page: name, violations: [] });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

test("Save from the home screen is one tap; the confirmation turns into a working download without a reload", async () => {
  await waitUntil("2 segments", () => (rt.db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 2, 40_000);
  const { ctx, page, errors } = await phone();
  await page.goto(`${rt.url}/`);
  await expect(page.locator("#camera-front .badge").textContent()).resolves.toBe("Recording");
  // the live stream is connected before the tap, so no update can be missed
  await waitUntil("SSE subscriber", () => rt.bus.size > 0, 15_000);
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
  await page.tap("#save-button");
  const keep = page.locator("#keep-result .keep");
  await keep.first().waitFor({ timeout: 15_000 });
  expect(await keep.count()).toBe(1);
  expect(await keep.textContent()).toMatch(/Saving…|Saved:/);
  const link = page.locator('#keep-result a[href*="/saved.mp4"]'); // client.js adds ?tzo= for the file name
  await link.waitFor({ timeout: 60_000 });
  expect(await keep.textContent()).toMatch(/^Saved: drive of \d+ (s|min)( so far)?, today \d\d:\d\d · Front/);
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42); // same document
  await checkPage(page, "home-saved");
  // the link downloads the saved drive, named by camera and local start time
  const [download] = await Promise.all([page.waitForEvent("download"), link.tap()]);
  expect(download.suggestedFilename()).toMatch(/^front-\d{4}-\d\d-\d\d-\d{4}\.mp4$/);
  const path = join(SHOTS, "..", "phone-saved.mp4");
  await download.saveAs(path);
  const bytes = new Uint8Array(await Bun.file(path).arrayBuffer());
  expect(bytes.length).toBeGreaterThan(1000);
  expect(new TextDecoder().decode(bytes.slice(4, 8))).toBe("ftyp");
  rmSync(path);

  // Incident is one tap too: its confirmation turns into the clip's download once exported
  await page.tap("#incident-button");
  const incident = page.locator("#keep-result .keep.incident");
  await incident.waitFor({ timeout: 15_000 });
  expect(await incident.textContent()).toMatch(/^Incident: Front · today \d\d:\d\d/);
  const clip = incident.locator('a[href*="/download"]');
  await clip.waitFor({ timeout: 60_000 });
  const [clipDownload] = await Promise.all([page.waitForEvent("download"), clip.tap()]);
  expect(clipDownload.suggestedFilename()).toMatch(/^front-\d{4}-\d\d-\d\d-\d{4}\.mp4$/);
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42); // still no reload
  await checkPage(page, "home-incident");
  // My footage lists the kept drive and the incident clip, each with a thumbnail
  await page.goto(`${rt.url}/my-footage`);
  expect(await page.locator("#kept-h + .kept .kept-item").count()).toBe(1);
  expect(await page.locator("#incidents-h + .kept .kept-title").first().textContent()).toMatch(/^Front · today \d\d:\d\d$/);
  await page.waitForFunction(() => Array.from(document.querySelectorAll(".kept img")).every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0), null, { timeout: 30_000 });
  expect(errors).toEqual([]);
  await ctx.close();
}, 120_000);

test("every page passes axe-core (no serious or critical violations) and fits 390 px", async () => {
  const { ctx, page, errors } = await phone();
  const trip = rt.db.query("SELECT id FROM trips ORDER BY id DESC LIMIT 1").get() as { id: number };
  const pages: [string, string][] = [
    ["home", "/"],
    ["footage", "/trips"],
    ["footage-kept", "/trips?show=saved"],
    ["footage-day", `/trips?day=${new Date().toISOString().slice(0, 10)}`],
    ["drive", `/trips/${trip.id}`],
    ["camera", "/cameras/front"],
    ["my-footage", "/my-footage"],
    ["events", "/events"],
    ["events-details", "/events?details=1"],
    ["plates", "/plates"],
    ["exports", "/exports"],
    ["timelapses", "/timelapses"],
    ["camera-health", "/cameras/front/health"],
    ["diagnostics", "/diagnostics"],
    ["users", "/users"],
  ];
  // dark is the default look in a car at night; light when the phone asks for it
  for (const scheme of ["dark", "light"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [name, path] of pages) {
      await page.goto(`${rt.url}${path}`);
      await page.waitForLoadState("load");
      // the driver's pages hold none of the recorder's words, with the rows a real runtime wrote
      // (checked before axe-core's own script is injected into the page)
      if (!OPERATOR_PAGES.has(name)) {
        const html = await page.content();
        for (const [word, re] of JARGON) {
          const m = re.exec(html);
          expect({ name, word, found: m ? html.slice(Math.max(0, m.index - 80), m.index + 40) : null }).toEqual({ name, word, found: null });
        }
      }
      await checkPage(page, `${name}-${scheme}`);
      if (scheme === "dark") {
        // a 360 px phone: the same page laid out again fits without scrolling sideways
        await page.setViewportSize(SMALL);
        await page.waitForFunction((w) => window.innerWidth === w, SMALL.width);
        expect({ name, width: 360, ...(await fit(page)) }).toEqual({ name, width: 360, page: true, tabs: true });
        await page.setViewportSize(VIEWPORT);
      }
    }
  }
  // the Advanced fold opens (evidence locks for operators)
  await page.goto(`${rt.url}/trips/${trip.id}`);
  await page.locator("details.advanced summary").tap();
  await checkPage(page, "drive-advanced");
  // the drive plays: its player's hidden Retry button and message stay out of sight
  await page.waitForFunction(() => (document.querySelector("video[data-hls]") as HTMLVideoElement | null)?.readyState! >= 2, null, { timeout: 30_000 });
  expect(await page.locator(".player [data-player-retry]").isVisible()).toBe(false);
  expect(await page.locator(".player .player-msg").isVisible()).toBe(false);

  // "More" opens a menu of the other places, inside the screen of a 360 px phone, marking the current one
  await page.setViewportSize(SMALL);
  await page.goto(`${rt.url}/plates`);
  expect(await page.locator(".tabs details.more.current").count()).toBe(1);
  await page.locator(".tabs summary").tap();
  const menu = (await page.locator(".more-menu").boundingBox())!;
  expect(menu.x).toBeGreaterThanOrEqual(0);
  expect(menu.x + menu.width).toBeLessThanOrEqual(SMALL.width);
  expect(await page.locator('.more-menu a[aria-current="page"]').textContent()).toBe("Plates");
  expect(await page.locator(".more-menu a").allTextContents()).toEqual(["Plates", "Timelapses", "Exports", "Shares", "Diagnostics", "Users"]);
  expect(await axeViolations(page)).toEqual([]);
  await page.screenshot({ path: join(SHOTS, "more-menu-360.png") });
  await Promise.all([page.waitForURL(`${rt.url}/timelapses`), page.locator(".more-menu a", { hasText: "Timelapses" }).tap()]);
  expect(errors).toEqual([]);
  await ctx.close();

  // pages without a session: login, and first-run setup on an empty installation
  const anon = await phone(false);
  await anon.page.goto(`${rt.url}/login`);
  expect(await anon.page.title()).toBe("Log in · dashcam");
  await checkPage(anon.page, "login", false);
  await anon.page.goto(`${setupWeb.url}/setup`);
  expect(await anon.page.title()).toBe("Set up · dashcam");
  await checkPage(anon.page, "setup", false);
  expect(anon.errors).toEqual([]);
  await anon.ctx.close();
}, 120_000);

test("the service worker caches the app shell only, never pages or media", async () => {
  const { ctx, page } = await phone();
  await page.goto(`${rt.url}/`);
  // client.js registered the worker named by the layout; wait until it is active
  expect(await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.active?.scriptURL ?? null))).toBe(`${rt.url}/sw.js`);
  // visit pages and media under the worker's control
  await page.reload();
  await page.goto(`${rt.url}/trips`);
  await page.goto(`${rt.url}/`);
  const cached = await page.evaluate(async () => {
    const out: string[] = [];
    for (const name of await caches.keys()) for (const req of await (await caches.open(name)).keys()) out.push(new URL(req.url).pathname);
    return out;
  });
  expect(cached.length).toBeGreaterThan(0);
  for (const p of cached) expect(p).toStartWith("/assets/");
  await ctx.close();
}, 60_000);
