/**
 * A power cut in the middle of a settings change: the runtime as a real process
 * (`bun src/main.ts run`, ffmpeg recording its test pattern, 2 s segments), the change asked for
 * through the web UI as a phone does (login, "Recommend settings", "Apply" with the CSRF token),
 * then SIGKILL to the whole process tree while the change is being verified. At the next start
 * the change is in a clear state and finishes by itself: the encoder settings were kept, the
 * restored actor re-arms its stored deadline and measures the new recordings (`success`).
 * The camera page then shows it in headless Chromium at 360 px: the change "Applied and
 * checked", the retention planner, whose days field re-plans through htmx, nothing wider
 * than the phone.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { makeTempDir, readDb, removeDir, startRuntime, TEST_CAMERA, writeConfig, type Runtime } from "./helpers/runtime.ts";
import { webSession } from "./helpers/http.ts";
import { killAllStarted } from "./helpers/proc.ts";
import { waitUntil } from "./helpers/wait.ts";
import { launchChromium } from "./helpers/browser.ts";
import { applyById, encoderSettingsOf, type AppliedConfigRow } from "../src/db/optimize.ts";

const dir = makeTempDir("dashcam-apply-powercut-");
const dataDir = join(dir, "data");
const cfg = writeConfig(dir, { data_dir: dataDir, cameras: [TEST_CAMERA] });
const running: Runtime[] = [];

afterAll(async () => {
  for (const r of running) await r.kill().catch(() => {});
  killAllStarted();
  removeDir(dir);
});

/** A form POST with the page's CSRF token, as the browser sends it without htmx. */
async function post(base: string, cookie: string, path: string, fields: Record<string, string>): Promise<Response> {
  const page = await (await fetch(`${base}/cameras/front`, { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
  if (!csrf) throw new Error("no CSRF token on the camera page");
  return fetch(`${base}${path}`, {
    method: "POST",
    body: new URLSearchParams({ ...fields, _csrf: csrf }),
    headers: { cookie, origin: base, "content-type": "application/x-www-form-urlencoded" },
    redirect: "manual",
  });
}

const row = (id: number) => readDb(dataDir, (db) => applyById(db, id)) ?? null;

describe("settings change across a power cut", () => {
  test("SIGKILL while verifying: clear state after the restart, then success by itself", async () => {
    let rt = await startRuntime(cfg, { label: "first" });
    running.push(rt);
    const cookie = await webSession(rt.url);
    await waitUntil("two segments", () => (readDb(dataDir, (db) => (db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n) ?? 0) >= 2, 30_000);
    const rec = await post(rt.url, cookie, "/cameras/front/optimize", {});
    expect(rec.status).toBe(303);
    const optId = readDb(dataDir, (db) => (db.query("SELECT MAX(id) AS id FROM optimizations").get() as { id: number }).id)!;
    expect(optId).toBe(1);
    const apply = await post(rt.url, cookie, "/cameras/front/apply", { optimization: String(optId), method: "self" });
    expect(apply.status).toBe(303);
    const applyId = readDb(dataDir, (db) => (db.query("SELECT MAX(id) AS id FROM applied_configs").get() as { id: number }).id)!;
    const pushed = await waitUntil("the change to be pushed", () => {
      const r = row(applyId);
      return r?.applied_at ? r : null;
    }, 20_000);
    expect(pushed.status).toBe("in_progress");
    expect(pushed.applied_by).toBe("e2e");
    const asked = (pushed.settings as { stream: { fps: number; bitrateKbps: number; gopSeconds: number } }).stream;

    // the power cut, before the change is verified
    await rt.kill();
    running.pop();
    const after = row(applyId) as AppliedConfigRow;
    expect([after.status, after.error_message]).toEqual(["in_progress", null]);
    const cameraId = readDb(dataDir, (db) => (db.query("SELECT id FROM cameras WHERE key = 'front'").get() as { id: number }).id)!;
    expect(readDb(dataDir, (db) => encoderSettingsOf(db, cameraId))).toMatchObject({ fps: asked.fps, bitrateKbps: asked.bitrateKbps, keyframeSeconds: asked.gopSeconds });

    rt = await startRuntime(cfg, { label: "second" });
    running.push(rt);
    const done = await waitUntil("the change to end", () => {
      const r = row(applyId);
      return r && r.status !== "in_progress" && r.status !== "pending" ? r : null;
    }, 60_000, 250);
    expect([done.status, done.error_message]).toEqual(["success", null]);
    const measured = (done.verification as { measured: { fps: number; gopSeconds: number } }).measured;
    expect(Math.abs(measured.fps - asked.fps)).toBeLessThanOrEqual(Math.max(0.5, asked.fps * 0.1));
    expect(Math.abs(measured.gopSeconds - asked.gopSeconds)).toBeLessThanOrEqual(0.2);

    // the camera page on a 360 px phone
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ viewport: { width: 360, height: 780 }, deviceScaleFactor: 1 });
      await context.addCookies(cookie.split("; ").map((kv) => ({ name: kv.slice(0, kv.indexOf("=")), value: kv.slice(kv.indexOf("=") + 1), url: rt.url })));
      const page = await context.newPage();
      await page.goto(`${rt.url}/cameras/front`);
      const settings = page.locator("#camera-settings");
      await settings.waitFor();
      expect(await settings.locator(`[data-apply="${applyId}"]`).innerText()).toContain("Applied and checked");
      expect(await page.locator("#retention-plan").innerText()).toContain("To keep 7 days, use at most");
      await page.fill('#retention-plan input[name="days"]', "30");
      await page.click('#retention-plan button[type="submit"]');
      await page.waitForFunction(() => document.querySelector("#retention-plan")?.textContent?.includes("To keep 30 days"));
      // still the camera page (htmx swapped the fragment, no navigation)
      expect(new URL(page.url()).pathname).toBe("/cameras/front");
      for (const id of ["#camera-settings", "#retention-plan"]) {
        const box = (await page.locator(id).boundingBox())!;
        expect(box.width).toBeLessThanOrEqual(360);
      }
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
      await context.close();
    } finally {
      await browser.close();
    }
    expect(await rt.terminate()).toBe(0);
    running.pop();
  }, 120_000);
});
