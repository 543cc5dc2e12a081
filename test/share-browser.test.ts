/**
 * Share links in headless Chromium without a session (real HTTP on loopback, ports from the OS,
 * the share fixture of test/helpers/shares.ts: real SQLite, ffmpeg-rendered timelapse MP4s):
 * - the share page at 360 px plays its video (currentTime advances), sets no cookie, scrolls
 *   no wider than the screen, and its HTML holds no camera URL, no hash, no other batch id;
 *   a shared saved trip plays too (its MP4 made on the fly from the ring);
 * - `/embed/<token>` inside an iframe of a page from another origin (a second loopback server,
 *   another host name and port) plays only when embedding is on; with it off, and for the share
 *   page itself, the browser refuses the frame;
 * - the download link is there and downloads the video only when download is on;
 * - expired, inactive and unknown tokens give the browser identical 404 responses;
 * - an operator makes a share through the Shares page at 360 px (no horizontal scroll), sees its
 *   QR code and link, and finds it with the search box;
 * - the share page, the embed player, the Shares page and the new-share form pass axe-core (no
 *   serious or critical violation) in dark and light.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { statSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Frame } from "playwright-core";
import { axeViolations, launchChromium } from "./helpers/browser.ts";
import { makeShareFixture, type ShareFixture } from "./helpers/shares.ts";
import { startWebServer } from "../src/web/server.ts";
import { createShare } from "../src/media/shares.ts";
import { SECRET_SOURCE } from "./web-fixture.ts";

let f: ShareFixture;
let web: Awaited<ReturnType<typeof startWebServer>>;
let other: Server<unknown>;
let browser: Browser;
let context: BrowserContext;
const tokens = { plain: "", open: "", inactive: "", expired: "" };

beforeAll(async () => {
  f = await makeShareFixture();
  web = startWebServer(f.deps);
  const mk = (download: boolean, embed: boolean, expiresAt: number | null = null) =>
    createShare(f.db, f.dir, {
      type: "video_only", title: "Front garden", description: "Spring", items: [{ ref: { kind: "batch", batchId: f.batchA } }],
      expiresAt, downloadEnabled: download, embedEnabled: embed, primaryColor: download ? "#ff6b35" : undefined,
    }).token;
  tokens.plain = mk(false, false);
  tokens.open = mk(true, true);
  tokens.inactive = mk(true, true);
  f.db.prepare("UPDATE shares SET is_active = 0 WHERE share_token = ?").run(tokens.inactive);
  tokens.expired = mk(true, true, Date.now() + 60_000);
  f.db.prepare("UPDATE shares SET expires_at = ? WHERE share_token = ?").run(Date.now() - 1000, tokens.expired);
  // another origin (host name localhost, its own port) that frames the embed player
  const shareOrigin = web.url; // http://127.0.0.1:PORT
  other = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const token = new URL(req.url).searchParams.get("t") ?? "";
      const path = new URL(req.url).searchParams.get("p") ?? "embed";
      const src = path === "embed" ? `${shareOrigin}/embed/${token}` : `${shareOrigin}/share/${token}`;
      return new Response(`<!DOCTYPE html><html><body><h1>A blog</h1><iframe id="player" src="${src}" width="480" height="270"></iframe></body></html>`, {
        headers: { "Content-Type": "text/html" },
      });
    },
  });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 360, height: 740 }, acceptDownloads: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  other?.stop(true);
  await web?.stop();
  f?.cleanup();
});

/** Plays the first <video> of `frame` muted and resolves with two currentTime readings, the second later. */
async function playsIn(frame: Frame): Promise<[number, number]> {
  await frame.evaluate(() => {
    const v = document.querySelector("video")!;
    v.muted = true;
    void v.play();
  });
  await frame.waitForFunction(() => (document.querySelector("video")?.currentTime ?? 0) > 0.3, null, { timeout: 20_000 });
  const t1 = await frame.evaluate(() => document.querySelector("video")!.currentTime);
  await frame.waitForFunction((t) => document.querySelector("video")!.currentTime > t, t1, { timeout: 20_000 });
  const t2 = await frame.evaluate(() => document.querySelector("video")!.currentTime);
  const error = await frame.evaluate(() => document.querySelector("video")!.error?.code ?? null);
  expect(error).toBeNull();
  return [t1, t2];
}

/** Loads the other origin's page framing `/embed/<token>` (or `/share/<token>`) and returns the iframe's frame. */
async function framed(token: string, path: "embed" | "share" = "embed") {
  const page = await context.newPage();
  const otherUrl = `http://localhost:${other.port}/?t=${token}&p=${path}`;
  await page.goto(otherUrl);
  const handle = await page.waitForSelector("#player");
  const frame = (await handle.contentFrame())!;
  await frame.waitForLoadState("load");
  return { page, frame };
}

describe("share links in headless Chromium, without a session", () => {
  test("the share page plays its video at 360 px, sets no cookie, exposes nothing else", async () => {
    const page = await context.newPage();
    const res = await page.goto(`${web.url}/share/${tokens.plain}`);
    expect(res!.status()).toBe(200);
    const [t1, t2] = await playsIn(page.mainFrame());
    expect(t2).toBeGreaterThan(t1);
    expect(await context.cookies()).toEqual([]);
    const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    expect(scroll).toBeLessThanOrEqual(inner!);
    const html = await page.content();
    expect(html).toContain("Front garden");
    expect(html).not.toContain(SECRET_SOURCE);
    const urlHash = (f.db.prepare("SELECT url_hash FROM cameras WHERE key = 'front'").get() as { url_hash: string }).url_hash;
    expect(html).not.toContain(urlHash);
    for (const h of f.hashes) expect(html).not.toContain(h);
    expect(html).not.toMatch(new RegExp(`\\b${f.batchB}\\b`));
    expect(await page.locator('a[href="/"], a[href^="/trips"], a[href^="/timelapses"], a[href^="/login"]').count()).toBe(0);
    await page.close();
  }, 60_000);

  test("a saved trip shared with an insurer plays: its MP4 is made on the fly from the ring", async () => {
    const token = createShare(f.db, f.dir, { type: "video_only", title: "Drive", items: [{ ref: { kind: "trip", tripId: f.savedTrip } }], expiresAt: null, downloadEnabled: false, embedEnabled: false }).token;
    const page = await context.newPage();
    expect((await page.goto(`${web.url}/share/${token}`))!.status()).toBe(200);
    const [t1, t2] = await playsIn(page.mainFrame());
    expect(t2).toBeGreaterThan(t1);
    await page.close();
  }, 60_000);

  test("/embed/<token> in another origin's iframe plays only when embedding is on; the share page itself is never framed", async () => {
    const on = await framed(tokens.open);
    expect(on.frame.url()).toBe(`${web.url}/embed/${tokens.open}`);
    const [t1, t2] = await playsIn(on.frame);
    expect(t2).toBeGreaterThan(t1);
    await on.page.close();

    for (const [token, path] of [[tokens.plain, "embed"], [tokens.open, "share"]] as const) {
      const off = await framed(token, path);
      // the refused frame holds Chromium's error page, not the player
      expect({ token, path, videos: await off.frame.locator("video").count() }).toEqual({ token, path, videos: 0 });
      expect(off.frame.url()).toStartWith("chrome-error://");
      await off.page.close();
    }
  }, 60_000);

  test("download only when it is on", async () => {
    const page = await context.newPage();
    await page.goto(`${web.url}/share/${tokens.open}`);
    // the share's theme colour (theme.css) reaches the page; seed 004's default elsewhere
    expect(await page.evaluate(() => getComputedStyle(document.querySelector("h1")!).borderBottomColor)).toBe("rgb(255, 107, 53)");
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("a", { hasText: "Download video" }).click()]);
    expect(download.suggestedFilename()).toMatch(/^front-timelapse-\d{4}-\d{2}-\d{2}-\d{4}\.mp4$/);
    const path = await download.path();
    const rel = (f.db.prepare("SELECT output_path FROM timelapse_batches WHERE id = ?").get(f.batchA) as { output_path: string }).output_path;
    expect(statSync(path).size).toBe(statSync(join(f.dir, rel)).size);

    await page.goto(`${web.url}/share/${tokens.plain}`);
    expect(await page.evaluate(() => getComputedStyle(document.querySelector("h1")!).borderBottomColor)).toBe("rgb(0, 123, 255)");
    expect(await page.locator("a", { hasText: "Download video" }).count()).toBe(0);
    const refused = await page.request.get(`${web.url}/share/${tokens.plain}/download`);
    expect(refused.status()).toBe(404);
    await page.close();
  }, 60_000);

  test("expired, inactive and unknown tokens give identical 404 responses", async () => {
    const page = await context.newPage();
    const answers: { status: number; body: string }[] = [];
    for (const token of [tokens.expired, tokens.inactive, crypto.randomUUID()]) {
      const res = await page.goto(`${web.url}/share/${token}`);
      answers.push({ status: res!.status(), body: (await res!.body()).toString() });
    }
    expect(answers[0]!.status).toBe(404);
    expect(answers[1]).toEqual(answers[0]!);
    expect(answers[2]).toEqual(answers[0]!);
    expect(await page.locator(".error-text").textContent()).toBe("there is no page at this address");
    await page.close();
  }, 60_000);

  test("an operator makes a share on the Shares page at 360 px, sees its QR code and finds it by search", async () => {
    const admin = await browser.newContext({ viewport: { width: 360, height: 740 } });
    await admin.addCookies([{ name: "dashcam_session", value: f.sessions.operator.token, domain: "127.0.0.1", path: "/" }]);
    const page = await admin.newPage();
    await page.goto(`${web.url}/shares/new?batch=${f.batchB}`);
    expect(await page.locator(`input[value="batch:${f.batchB}"]`).isChecked()).toBe(true);
    await page.locator('input[name="title"]').fill("Building site, week 12");
    await page.locator('input[name="download"]').check();
    await page.locator("button.primary", { hasText: "Make link" }).click();
    await page.waitForURL(/\/shares#share-\d+$/);
    const card = page.locator(".share-card", { hasText: "Building site, week 12" });
    await card.waitFor();
    const link = await card.locator("input.share-url").inputValue();
    expect(link).toMatch(new RegExp(`^${web.url}/share/[0-9a-f-]{36}$`));
    await card.locator("summary", { hasText: "QR code" }).click();
    await card.locator(".qr img").waitFor();
    // the lazy image loads once the fold is open, and is a picture (decode() rejects a broken one)
    expect(await card.locator(".qr img").evaluate(async (img: HTMLImageElement) => (await img.decode(), img.naturalWidth))).toBeGreaterThan(0);
    const qr = await card.locator(".qr img").boundingBox();
    expect(qr!.width).toBeGreaterThan(100);
    const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    expect(scroll).toBeLessThanOrEqual(inner!);
    await page.locator('input[name="q"]').fill("week 1");
    await page.waitForFunction(() => document.querySelectorAll(".share-card").length === 1, null, { timeout: 10_000 });
    expect(await page.locator(".share-card h3").textContent()).toBe("Building site, week 12");
    // the link works for a visitor without a session
    const visitor = await context.newPage();
    expect((await visitor.goto(link))!.status()).toBe(200);
    await visitor.close();
    await admin.close();
  }, 60_000);

  test("share pages and the Shares pages pass axe-core in dark and light", async () => {
    const info = createShare(f.db, f.dir, {
      type: "info_page", title: "For the insurer", description: "The drive and the moment", primaryColor: "#ff6b35",
      items: [{ ref: { kind: "trip", tripId: f.savedTrip } }, { ref: { kind: "clip", clipPath: f.clip } }, { ref: { kind: "batch", batchId: f.batchA } }],
      expiresAt: null, downloadEnabled: true, embedEnabled: true,
    }).token;
    const gallery = createShare(f.db, f.dir, { type: "gallery", title: "Frames", items: [{ ref: { kind: "batch", batchId: f.batchA } }], expiresAt: null, downloadEnabled: false, embedEnabled: false }).token;
    for (const colorScheme of ["dark", "light"] as const) {
      // bypassCSP: axe-core is injected as an inline script, which the app's CSP forbids
      const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, bypassCSP: true, colorScheme });
      await ctx.addCookies([{ name: "dashcam_session", value: f.sessions.operator.token, domain: "127.0.0.1", path: "/" }]);
      const page = await ctx.newPage();
      for (const path of [`/share/${info}`, `/share/${gallery}`, `/embed/${info}`, "/shares", "/shares/new"]) {
        await page.goto(`${web.url}${path}`);
        await page.waitForLoadState("load");
        expect({ path, colorScheme, violations: await axeViolations(page) }).toEqual({ path, colorScheme, violations: [] });
      }
      await ctx.close();
    }
  }, 60_000);
});
