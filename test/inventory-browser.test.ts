/**
 * The camera page's Inventory section on a 360 px phone in headless Chromium (playwright-core,
 * /usr/bin/chromium), against the real web server on the web fixture's database and a loopback
 * ONVIF device (test/helpers/onvifDevice.ts) reached by the real `onvif` client:
 * "Find out now" fills make, model and capabilities in place (htmx, no reload); the Change form
 * saves with its CSRF token and the section shows the new values; a bad word is refused with
 * its reason in the page's message area and nothing is stored; the page fits 360 px with the
 * form open and has no serious or critical axe-core violation. Screenshot:
 * test-output/phone-360/camera-inventory.png (git-ignored).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { launchChromium } from "./helpers/browser.ts";
import { startFakeOnvifDevice, type FakeOnvifDevice } from "./helpers/onvifDevice.ts";
import { makeFixture, type WebFixture } from "./web-fixture.ts";
import { startWebServer } from "../src/web/server.ts";
import { discoverInventory, syncConfigInventory } from "../src/actors/inventory.ts";
import { inventoryOf, setOnvifCredentials } from "../src/db/inventory.ts";
import { loadSecretKey } from "../src/secrets.ts";

const VIEWPORT = { width: 360, height: 740 };
const SHOTS = join(import.meta.dir, "..", "test-output", "phone-360");
const AXE = join(import.meta.dir, "..", "node_modules", "axe-core", "axe.min.js");

let device: FakeOnvifDevice;
let f: WebFixture;
let web: ReturnType<typeof startWebServer>;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  device = startFakeOnvifDevice({ user: "admin", password: "secret-pass" });
  [f, browser] = await Promise.all([makeFixture(), launchChromium()]);
  const secret = loadSecretKey(f.dir, false);
  syncConfigInventory(f.db, secret, f.config.cameras, new Map([["front", f.front.id], ["rear", f.rear.id]]));
  setOnvifCredentials(f.db, secret!, f.front.id, { url: device.url, user: "admin", password: "secret-pass" });
  web = startWebServer({
    ...f.deps,
    actions: {
      async discoverInventory(key: string) {
        const camera = f.config.cameras.find((c) => c.key === key)!;
        await discoverInventory({ db: f.db, dataDir: f.dir, secret }, camera, key === "front" ? f.front.id : f.rear.id);
      },
    },
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await web?.stop();
  device?.stop();
  f?.cleanup();
});

test("Inventory on a 360 px phone: find out, change, a refused word; fits and passes axe", async () => {
  const ctx = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1, isMobile: true, hasTouch: true, bypassCSP: true });
  await ctx.addCookies([{ name: "dashcam_session", value: f.sessions.admin.token, url: web.url, httpOnly: true, sameSite: "Strict" }]);
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${web.url}/cameras/front`);
  const section = page.locator("#inventory");
  await expect(section.textContent()).resolves.toContain("not known yet");
  await expect(section.textContent()).resolves.toContain("192.0.2.7"); // the host of the camera's RTSP URL

  await section.getByRole("button", { name: "Find out now" }).click();
  await page.locator("#inventory", { hasText: "AV-IPC4000" }).waitFor({ timeout: 20_000 });
  const text = (await page.locator("#inventory").textContent()) ?? "";
  expect(text).toContain("Acme Vision");
  expect(text).toContain("Up to 2560×1440 pixels");
  expect(text).toContain("Wide dynamic range: OFF / ON, level 0–100");
  expect(text).toContain("login stored (encrypted)");
  expect(text).not.toContain("secret-pass");

  await page.locator("#inventory summary", { hasText: "Change" }).click();
  await page.locator("#inventory input[name=location]").fill("Windscreen, facing forward");
  await page.locator("#inventory input[name=scene_type]").fill("road");
  await page.locator("#inventory button", { hasText: "Save" }).click();
  await page.locator("#inventory", { hasText: "Saved." }).waitFor({ timeout: 20_000 });
  expect(await page.locator("#inventory dl").textContent()).toContain("Windscreen, facing forward");
  expect(inventoryOf(f.db, f.front.id)).toMatchObject({ location: "Windscreen, facing forward", scene_type: "road" });

  // a refused word: the reason shows in the message area, nothing is stored
  await page.locator("#inventory summary", { hasText: "Change" }).click();
  await page.locator("#inventory input[name=purpose]").fill("number plates");
  await page.locator("#inventory button", { hasText: "Save" }).click();
  await page.locator("#flash", { hasText: "Purpose: must be one word" }).waitFor({ timeout: 20_000 });
  expect(inventoryOf(f.db, f.front.id)!.purpose).toBeNull();

  // fits 360 px with the form open; no serious or critical accessibility violation
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(VIEWPORT.width);
  await page.addScriptTag({ path: AXE });
  const violations = (await page.evaluate(async () => {
    const r = await (window as unknown as { axe: { run(ctx: Element, opts: object): Promise<{ violations: { id: string; impact: string | null; help: string }[] }> } }).axe.run(
      document.getElementById("inventory")!,
      { resultTypes: ["violations"] },
    );
    return r.violations;
  })) as { id: string; impact: string | null; help: string }[];
  expect(violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  await page.locator("#inventory").screenshot({ path: join(SHOTS, "camera-inventory.png") });
  expect(errors).toEqual([]);
  await ctx.close();
}, 90_000);
