/**
 * The camera health pages through `app.request()` on the web fixture's real SQLite database:
 * a camera without checks, a camera with checks written by `recordHealthCheck` (picture file,
 * anomaly badges, measure tiles, chart data from the hourly aggregates), the picture route,
 * the dashboard card (cameras with warnings in the last 24 h), and "Check now" by role
 * (viewer 403, operator without the runtime action 503, with it 303 / htmx fragment, refused 409).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createApp } from "../src/web/app.tsx";
import { recordHealthCheck } from "../src/db/health.ts";
import { makeFixture, type WebFixture } from "./web-fixture.ts";

let f: WebFixture;
let app: ReturnType<typeof createApp>;
const asked: string[] = [];
let appWithAction: ReturnType<typeof createApp>;
let snapshotId = 0;

beforeAll(async () => {
  f = await makeFixture();
  app = createApp(f.deps);
  appWithAction = createApp({
    ...f.deps,
    actions: {
      ...f.deps.actions,
      async checkHealth(key: string) {
        if (key === "rear") throw new Error('camera "rear" has no health monitor');
        asked.push(key);
      },
    },
  });
  const now = Date.now();
  mkdirSync(join(f.deps.dataDir, "health", "front"), { recursive: true });
  for (const [i, noisy] of [[3, false], [2, false], [1, true]] as const) {
    const at = now - i * 60_000;
    const rel = join("health", "front", `${at}.jpg`);
    writeFileSync(join(f.deps.dataDir, rel), new Uint8Array([0xff, 0xd8, 0xff, 0xd9]));
    snapshotId =
      recordHealthCheck(f.db, {
        cameraId: f.front.id,
        capturedAt: at,
        checkedAt: at,
        filePath: rel,
        frameOk: true,
        healthMetrics: {
          exposure: { status: "ok", meanBrightness: 118 },
          noise: { status: noisy ? "warning" : "ok", noiseLevel: noisy ? 12.5 : 1.2 },
          motionBlur: { status: "ok", blurScore: 310 },
          obstruction: { status: "ok", lumaStdDev: 41 },
        },
        anomalies: noisy ? [{ type: "high_noise", severity: "medium", message: "noise 12.5 levels exceeds 8" }] : [],
        metrics: [
          { type: "brightness", value: 118 + i, status: "ok" },
          { type: "noise_level", value: noisy ? 12.5 : 1.2, status: noisy ? "warning" : "ok" },
        ],
      }) ?? 0;
  }
}, 60_000);

afterAll(() => f?.cleanup());

const dataOf = (html: string) => JSON.parse((/id="health-data"[^>]*data-json="([^"]*)"/.exec(html)?.[1] ?? "{}").replaceAll("&quot;", '"'));

describe("camera health pages", () => {
  test("a camera without checks: the page says so, the charts have no points", async () => {
    const r = await f.request(app, "/cameras/rear/health");
    expect(r.status).toBe(200);
    const html = await r.text();
    expect(html).toContain("No health check yet.");
    expect(html).not.toContain('class="health-snap"');
    const data = dataOf(html);
    expect(Object.keys(data.series).sort()).toEqual(["bitrate_mbps", "blur_score", "brightness", "fps_actual", "noise_level"]);
    for (const s of Object.values(data.series) as { t: number[] }[]) expect(s.t).toEqual([]);
    expect(html).toContain("/assets/uplot.min.js?v=");
    expect(html).toContain("/assets/health.js?v=");
  });

  test("a camera with checks: newest status, anomaly badge, picture, tiles and the hourly chart data", async () => {
    const html = await (await f.request(app, "/cameras/front/health?range=7d")).text();
    expect(html).toContain('<span class="badge warn">warning</span>');
    expect(html).toContain('data-anomaly="high_noise"');
    expect(html).toContain(`/cameras/front/health/snapshots/${snapshotId}.jpg`);
    expect(html).toMatch(/tile tone-warning[^]*?12\.50/);
    const data = dataOf(html);
    const b = data.series.brightness;
    expect(b.t.length).toBeGreaterThanOrEqual(1);
    expect(b.t.length).toBeLessThanOrEqual(2); // three checks within a few minutes: one or two hours
    expect(Math.min(...b.min)).toBe(119);
    expect(Math.max(...b.max)).toBe(121);
    expect(b.limits).toEqual([{ label: "too dark", value: 40 }, { label: "overexposed", value: 200 }]);
    expect(data.to - data.from).toBe(7 * 24 * 3600_000);
  });

  test("the picture route serves a snapshot of that camera only", async () => {
    const ok = await f.request(app, `/cameras/front/health/snapshots/${snapshotId}.jpg`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("image/jpeg");
    expect(new Uint8Array(await ok.arrayBuffer())).toEqual(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]));
    expect((await f.request(app, `/cameras/rear/health/snapshots/${snapshotId}.jpg`)).status).toBe(404);
    expect((await f.request(app, "/cameras/front/health/snapshots/x.jpg")).status).toBe(400);
    expect((await f.request(app, "/cameras/front/health?range=2d")).status).toBe(400);
    expect((await f.request(app, "/cameras/Bad!/health")).status).toBe(400);
  });

  test("the dashboard lists the camera with warnings in the last 24 h", async () => {
    const html = await (await f.request(app, "/")).text();
    const card = /<section class="card health-card"[^]*?<\/section>/.exec(html)?.[0] ?? "";
    expect(card).toContain('href="/cameras/front/health"');
    expect(card).toContain("high noise");
    expect(card).not.toContain("/cameras/rear/health");
  });

  test("Check now: operators only; 503 without the runtime action; 303 / fragment when asked; 409 when refused", async () => {
    expect(await (await f.request(appWithAction, "/cameras/front/health", {}, "viewer")).text()).not.toContain("Check now");
    expect(await (await f.request(appWithAction, "/cameras/front/health", {}, "operator")).text()).toContain("Check now");
    expect((await f.request(appWithAction, "/cameras/front/health/check", { method: "POST" }, "viewer")).status).toBe(403);
    expect((await f.request(app, "/cameras/front/health/check", { method: "POST" }, "operator")).status).toBe(503);
    const plain = await f.request(appWithAction, "/cameras/front/health/check", { method: "POST" }, "operator");
    expect(plain.status).toBe(303);
    expect(plain.headers.get("location")).toBe("/cameras/front/health");
    const htmx = await f.request(appWithAction, "/cameras/front/health/check", { method: "POST", headers: { "HX-Request": "true" } }, "operator");
    expect(htmx.status).toBe(200);
    expect(await htmx.text()).toContain("Checking");
    expect(asked).toEqual(["front", "front"]);
    const refused = await f.request(appWithAction, "/cameras/rear/health/check", { method: "POST" }, "operator");
    expect(refused.status).toBe(409);
    expect((await f.request(appWithAction, "/cameras/nope/health/check", { method: "POST" }, "operator")).status).toBe(404);
  });
});
