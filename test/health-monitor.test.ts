/**
 * Camera health monitors in the real runtime (in this process): real recorders, the runtime's
 * current-frame source grabbing frames with real ffmpeg from the real source at call time, real
 * SQLite, the journal, the LiveBus.
 *
 * - a file camera looping one still image (a highway frame made into a video by ffmpeg) is
 *   flagged `frozen` by its third snapshot, not before; its snapshots carry the seed's JSON,
 *   its metrics are `health_metrics` rows with their hourly aggregate, the camera's columns are
 *   kept, the status change is an event row and a live `alert`;
 * - a camera behind a real RTSP server (rtsp-server-perl) whose server stops is `no_signal`
 *   (connection_failures counts up) and recovers by itself when the server is back
 *   (`critical -> ok`, connection_failures 0);
 * - the health page of the first camera, with the data of that real run, in headless Chromium
 *   at 360 px: every chart drawn by the embedded uPlot with its data points, the snapshot
 *   picture loaded, the anomaly badge shown, nothing wider than the phone; the dashboard lists
 *   the camera under "Camera health, last 24 h"; bad input is 400/404;
 * - a restart of that runtime restores the monitor from the journal (status, frozen streak)
 *   and its first check after the restart is still `frozen` (the previous thumbnail comes from
 *   the stored snapshot picture).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { RuntimeFixture, queryDb } from "./helpers/inprocess.ts";
import { RtspCamera, HIGHWAY_CLIP } from "./helpers/rtsp.ts";
import { FFMPEG_BIN } from "./helpers/media.ts";
import { killAllStarted, waitFor } from "./helpers/proc.ts";
import type { LiveEvent } from "../src/events.ts";
import type { RuntimeHandle } from "../src/runtime.ts";
import { latestSnapshot, recentSnapshots, cameraHealthColumns, hourlySeries } from "../src/db/health.ts";
import { cameraIdByKey } from "../src/db/cameras.ts";
import { SourceGrabFrameSource } from "../src/media/sourceFrameGrab.ts";
import { fragmentsFor } from "../src/web/routes/live.tsx";
import { FrameUnavailableError } from "../src/media/currentFrame.ts";
import { validateConfig } from "../src/config.ts";
import { decodeImage } from "../src/vision/image.ts";
import { measureFrame, frameDifference } from "../src/health/metrics.ts";
import { launchChromium, routeLiveSockets } from "./helpers/browser.ts";
import { webSession } from "./helpers/http.ts";

const fx = new RuntimeFixture("dashcam-health-monitor-");
let media = "";
/** The runtime of the frozen-camera test, kept running for the page test. */
let stillRuntime: RuntimeHandle | null = null;
let stillConfig: ReturnType<RuntimeFixture["config"]> | null = null;

async function ffmpeg(args: string[]): Promise<void> {
  const p = Bun.spawn([FFMPEG_BIN, "-v", "error", "-y", ...args], { stderr: "pipe" });
  if ((await p.exited) !== 0) throw new Error(`ffmpeg ${args.join(" ")} failed: ${await new Response(p.stderr).text()}`);
}

beforeAll(async () => {
  media = fx.tempDir();
  // one real highway frame, looped as a 6 s video: a camera whose picture never changes
  await ffmpeg(["-i", HIGHWAY_CLIP, "-vf", "select=eq(n\\,40)", "-frames:v", "1", "-q:v", "2", join(media, "frame.jpg")]);
  await ffmpeg(["-loop", "1", "-i", join(media, "frame.jpg"), "-t", "6", "-r", "25", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", join(media, "still.mp4")]);
  // a moving picture for the RTSP camera (keyframe every 10 frames, so a grab starts fast)
  await ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "10", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p", join(media, "moving.mp4")]);
}, 60_000);

afterAll(async () => {
  await fx.cleanup();
  killAllStarted();
});

const health = (interval = 2) => ({ interval_seconds: interval, frame_timeout_seconds: 4 });

function busLog(rt: RuntimeHandle): LiveEvent[] {
  const events: LiveEvent[] = [];
  rt.bus.subscribe((e) => void events.push(e));
  return events;
}

describe("health monitor in the runtime", () => {
  test("a file camera looping one still image is frozen by its third snapshot", async () => {
    const dataDir = join(fx.tempDir(), "data");
    mkdirSync(dataDir);
    const config = fx.config(dataDir, {
      cameras: [{ key: "still", source: `file:${join(media, "still.mp4")}`, segment_seconds: 2 }],
      health: health(2),
    });
    const rt = await fx.start(config);
    stillRuntime = rt;
    stillConfig = config;
    const events = busLog(rt);
    const id = cameraIdByKey(rt.db, "still")!;
    const snaps = await waitFor("three health snapshots", () => {
      const s = recentSnapshots(rt.db, id, 10);
      return s.length >= 3 ? s.reverse() : null;
    }, 40_000);
    const [first, second, third] = snaps;
    for (const s of [first, second]) expect(s.anomalies.map((a) => a.type)).not.toContain("frozen");
    expect(third.anomalies).toContainEqual({ type: "frozen", severity: "high", message: expect.stringContaining("same frame in 3 snapshots") });
    // the picture itself is a clean highway frame: nothing else is wrong with it
    expect(third.anomalies.map((a) => a.type).filter((t) => t !== "frozen" && t !== "bitrate_drop")).toEqual([]);
    for (const s of snaps) {
      expect(s.file_path).toMatch(/^health\/still\/\d{8}T\d{9}Z\.jpg$/);
      expect(existsSync(join(dataDir, s.file_path))).toBe(true);
      expect(s.health_metrics!.exposure).toEqual({ status: "ok", meanBrightness: expect.any(Number) });
      expect(s.health_metrics!.noise.status).toBe("ok");
      expect(s.health_metrics!.motionBlur.status).toBe("ok");
    }
    expect(third.health_metrics!.frozen).toEqual({ status: "critical", frameDifference: expect.any(Number), identicalSnapshots: 3 });
    const rows = rt.db.query("SELECT metric_type, status FROM health_metrics WHERE camera_id = ? ORDER BY id").all(id) as { metric_type: string; status: string }[];
    expect(rows.filter((r) => r.metric_type === "brightness")).toHaveLength(snaps.length);
    expect(new Set(rows.map((r) => r.metric_type))).toContain("blur_score");
    const hourly = hourlySeries(rt.db, id, Date.now() - 3600_000).filter((p) => p.metric_type === "brightness");
    expect(hourly.reduce((n, p) => n + p.samples, 0)).toBe(snaps.length);
    const cols = cameraHealthColumns(rt.db, id)!;
    expect(cols.connection_failures).toBe(0);
    expect(cols.last_health_check).toBeGreaterThanOrEqual(third.captured_at - 5000);
    const changes = rt.db.query("SELECT level, message FROM event_log WHERE kind = 'camera.health' AND camera_id = ? ORDER BY id").all(id) as { level: string; message: string }[];
    expect(changes.map((c) => c.message)).toContain("camera still health: ok -> critical (frozen)");
    expect(changes.find((c) => c.message.includes("-> critical"))!.level).toBe("error");
    const alert = await waitFor("the live alert", () => events.find((e) => e.type === "alert" && e.kind === "camera.health"), 5000);
    expect(alert).toMatchObject({ cameraKey: "still", previous: "ok", status: "critical", anomalies: ["frozen"] });
    // what the SSE stream sends for them: the toast, and the health page's newest-check section
    const deps = { db: rt.db, config, dataDir, bus: rt.bus, startedAt: 0 };
    const [toast] = await fragmentsFor(deps, alert, { lastDisk: 0 });
    expect(toast.event).toBe("alert");
    expect(String(toast.data)).toContain('href="/cameras/still/health"');
    expect(String(toast.data)).toContain("critical");
    expect(String(toast.data)).toContain("frozen");
    const [section] = await fragmentsFor(deps, { type: "health", key: "still" }, { lastDisk: 0 });
    expect(section.event).toBe("health-still");
    expect(String(section.data)).toContain('data-anomaly="frozen"');
  }, 60_000);

  test("a camera whose RTSP server stops is no_signal and recovers by itself", async () => {
    const cam = new RtspCamera({ input: join(media, "moving.mp4") });
    await cam.start();
    try {
      const dataDir = join(fx.tempDir(), "data");
      mkdirSync(dataDir);
      const config = fx.config(dataDir, {
        cameras: [{ key: "gate", source: cam.url, rtsp_transport: "udp", segment_seconds: 2, health_interval_seconds: 2 }],
        health: health(60),
      });
      const rt = await fx.start(config);
      const id = cameraIdByKey(rt.db, "gate")!;
      const ok = await waitFor("a healthy snapshot", () => {
        const s = latestSnapshot(rt.db, id);
        return s && s.file_path && s.anomalies.length === 0 ? s : null;
      }, 30_000);
      expect(ok.health_metrics!.exposure.status).toBe("ok");

      await cam.stop();
      const lost = await waitFor("a no_signal snapshot", () => {
        const s = latestSnapshot(rt.db, id);
        return s && s.captured_at > ok.captured_at && s.anomalies.some((a) => a.type === "no_signal") ? s : null;
      }, 30_000);
      expect(lost.file_path).toBe("");
      expect(lost.health_metrics).toBeNull();
      expect(lost.anomalies[0]).toMatchObject({ type: "no_signal", severity: "high" });
      expect(cameraHealthColumns(rt.db, id)!.connection_failures).toBeGreaterThanOrEqual(1);

      await cam.start();
      const back = await waitFor("a snapshot with a picture again", () => {
        const s = latestSnapshot(rt.db, id);
        return s && s.captured_at > lost.captured_at && s.file_path ? s : null;
      }, 40_000);
      expect(back.anomalies.map((a) => a.type)).not.toContain("no_signal");
      expect(cameraHealthColumns(rt.db, id)!.connection_failures).toBe(0);
      const changes = (rt.db.query("SELECT message FROM event_log WHERE kind = 'camera.health' AND camera_id = ? ORDER BY id").all(id) as { message: string }[]).map((r) => r.message);
      expect(changes).toContain("camera gate health: ok -> critical (no_signal)");
      expect(changes.some((m) => m.startsWith("camera gate health: critical -> "))).toBe(true);

      // a camera an operator stopped is not checked (no no_signal for a camera stopped on purpose)
      await rt.actions.stopCamera("gate");
      await waitFor("the camera stopped", () => (rt.db.query("SELECT state FROM camera_status WHERE camera_id = ?").get(id) as { state: string }).state === "stopped", 15_000);
      const monitor = rt.supervisor.system.get("health:gate")!;
      const ctx = () => (monitor.getSnapshot() as { context: { lastError: string | null; nextCheckAt: number } }).context;
      await rt.actions.checkHealth("gate");
      await waitFor("a skipped check", () => ctx().lastError === "camera gate is stopped: not checked", 10_000);
      // any check that was under way when the camera stopped has finished by now
      const lastBeforeSkip = latestSnapshot(rt.db, id)!;
      const deadline = ctx().nextCheckAt;
      await Bun.sleep(5);
      await rt.actions.checkHealth("gate");
      await waitFor("a second skipped check", () => ctx().nextCheckAt !== deadline, 10_000);
      expect(ctx().lastError).toBe("camera gate is stopped: not checked");
      expect(latestSnapshot(rt.db, id)!.id).toBe(lastBeforeSkip.id);
    } finally {
      await cam.stop();
    }
  }, 120_000);

  test("the health page renders its charts with the run's data points in Chromium at 360 px", async () => {
    const rt = stillRuntime!;
    expect(rt).not.toBeNull();
    const cookie = await webSession(rt.url);
    const get = (path: string) => fetch(`${rt.url}${path}`, { headers: { cookie }, redirect: "manual" });
    expect((await get("/cameras/nope/health")).status).toBe(404);
    expect((await get("/cameras/still/health?range=1y")).status).toBe(400);
    expect((await get("/cameras/still/health/snapshots/abc.jpg")).status).toBe(400);
    expect((await get("/cameras/still/health/snapshots/999999.jpg")).status).toBe(404);
    expect((await fetch(`${rt.url}/cameras/still/health`, { redirect: "manual" })).status).toBeGreaterThanOrEqual(300); // no session

    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ viewport: { width: 360, height: 780 }, deviceScaleFactor: 1 });
      await routeLiveSockets(context); // the home screen's live thumbnails (see the helper)
      await context.addCookies(cookie.split("; ").map((kv) => ({ name: kv.slice(0, kv.indexOf("=")), value: kv.slice(kv.indexOf("=") + 1), url: rt.url })));
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      await page.goto(`${rt.url}/cameras/still/health`);
      for (const metric of ["brightness", "noise_level", "blur_score", "bitrate_mbps", "fps_actual"]) {
        const box = page.locator(`[data-health-chart="${metric}"]`);
        await box.locator("canvas").waitFor({ timeout: 10_000 });
        expect(Number(await box.getAttribute("data-points"))).toBeGreaterThanOrEqual(1);
        const size = await box.locator("canvas").evaluate((c: HTMLCanvasElement) => ({ w: c.getBoundingClientRect().width, h: c.height }));
        expect(size.w).toBeGreaterThan(200);
        expect(size.w).toBeLessThanOrEqual(360);
        expect(size.h).toBeGreaterThan(50);
      }
      // the plotted values are the run's: the brightness chart's legend shows the average once hovered
      const data = JSON.parse((await page.locator("#health-data").getAttribute("data-json"))!);
      expect(data.series.brightness.avg[0]).toBeGreaterThan(60);
      expect(data.series.brightness.avg[0]).toBeLessThan(200);
      expect(await page.locator('[data-anomaly="frozen"]').first().isVisible()).toBe(true);
      const img = page.locator(".health-snap img");
      await img.waitFor();
      expect(await img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth)).toBe(1280);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
      if (process.env.HEALTH_SCREENSHOT) await page.screenshot({ path: process.env.HEALTH_SCREENSHOT, fullPage: true });
      // "Check now" (operator): htmx posts with the page's CSRF token, the monitor is asked
      const checkedBefore = await page.locator("#health-now .health-status time").getAttribute("data-t");
      await page.getByRole("button", { name: "Check now" }).click();
      await page.locator("#health-check-result", { hasText: "Checking" }).waitFor({ timeout: 5000 });
      // the newest-check section is replaced over SSE (no reload) once the check is recorded
      await page.waitForFunction((before) => document.querySelector("#health-now .health-status time")?.getAttribute("data-t") !== before, checkedBefore, { timeout: 15_000 });
      expect(errors).toEqual([]);

      await page.goto(`${rt.url}/`);
      const card = page.locator("#health-warnings");
      await card.waitFor();
      expect(await card.locator('a[href="/cameras/still/health"]').count()).toBe(1);
      expect(await card.textContent()).toContain("frozen");
    } finally {
      await browser.close();
    }
  }, 60_000);

  test("a restart restores the monitor from the journal and the picture is still frozen at the first check after it", async () => {
    const before = stillRuntime!;
    const id = cameraIdByKey(before.db, "still")!;
    await before.stop();
    const lastBefore = queryDb(stillConfig!.data_dir, (db) => latestSnapshot(db, id))!;
    const rt = await fx.start(stillConfig!);
    const monitor = rt.supervisor.system.get("health:still")!;
    expect(monitor).toBeDefined();
    const snap = monitor.getSnapshot() as { value: unknown; context: { status: string; identicalStreak: number; lastCheckAt: number } };
    expect(snap.value).toEqual({ critical: "waiting" });
    expect(snap.context.identicalStreak).toBeGreaterThanOrEqual(2);
    expect(snap.context.lastCheckAt).toBeGreaterThanOrEqual(lastBefore.captured_at - 5000);
    const stored = rt.db.query("SELECT machine, state FROM actor_snapshots WHERE actor_id = 'health:still'").get() as { machine: string; state: string };
    expect(stored.machine).toBe("health");
    expect(Object.keys(JSON.parse(stored.state))).toEqual(["critical"]);
    const transitions = rt.db.query("SELECT COUNT(*) AS n FROM actor_transitions WHERE actor_id = 'health:still'").get() as { n: number };
    expect(transitions.n).toBeGreaterThanOrEqual(6); // waiting -> checking -> waiting per check
    const after = await waitFor("a check after the restart", () => {
      const s = latestSnapshot(rt.db, id);
      return s && s.captured_at > lastBefore.captured_at ? s : null;
    }, 30_000);
    expect(after.anomalies.map((a) => a.type)).toContain("frozen");
    // no new status change: it was critical before the restart and still is
    const changes = rt.db.query("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'camera.health' AND camera_id = ? AND at > ?").get(id, lastBefore.captured_at) as { n: number };
    expect(changes.n).toBe(0);
  }, 60_000);
});

describe("the stand-in current-frame source (ffmpeg grab from the source)", () => {
  test("testsrc: a JPEG of the configured size, a different picture a second later; unknown, disabled and device cameras are refused", async () => {
    const config = validateConfig(
      {
        cameras: [
          { key: "pattern", source: "testsrc", width: 320, height: 240 },
          { key: "off", source: "testsrc", enabled: false },
          { key: "usb", source: "v4l2:/dev/video9" },
        ],
      },
      media,
    );
    const source = new SourceGrabFrameSource(new Map(config.cameras.map((c) => [c.key, c])));
    const t0 = Date.now();
    const a = await source.current("pattern");
    expect([a.width, a.height]).toEqual([320, 240]);
    expect(a.capturedAtMs).toBeGreaterThanOrEqual(t0);
    expect(a.capturedAtMs).toBeLessThanOrEqual(Date.now());
    await Bun.sleep(1100);
    const b = await source.current("pattern");
    const ma = measureFrame(decodeImage(a.jpeg));
    const mb = measureFrame(decodeImage(b.jpeg));
    expect(ma.width).toBe(320);
    expect(frameDifference(ma.thumb, mb.thumb)).toBeGreaterThan(0.3); // not frozen
    const reason = async (key: string) => {
      try {
        await source.current(key);
      } catch (err) {
        return err instanceof FrameUnavailableError ? err.reason : `plain: ${(err as Error).message}`;
      }
      return "resolved";
    };
    expect(await reason("nope")).toBe("unknown_camera");
    expect(await reason("off")).toBe("not_recording");
    expect(await reason("usb")).toStartWith("plain: camera usb: the stand-in frame source cannot read v4l2:/dev/video9");
  }, 30_000);
});

