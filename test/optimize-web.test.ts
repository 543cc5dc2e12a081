/**
 * The camera page's settings parts through `app.request()` on the web fixture's real SQLite
 * database and real segment files (an RTSP camera `front` with indexed segments, a `testsrc`
 * camera `rear`): the retention planner (measured bitrate, hours held, the bitrate for N days),
 * "Recommended settings" with the real optimizer behind the runtime action, applying a
 * recommendation (the real `createApply` writes the row), confirming a change made by hand, the
 * failed changes of every camera (the seed's sample query 2), roles and bad input.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../src/web/app.tsx";
import { makeFixture, type WebFixture } from "./web-fixture.ts";
import { runOptimization } from "../src/optimize/request.ts";
import { ApplyRequestError, createApply, type ApplyRequest } from "../src/optimize/apply.ts";
import { applyById, failOrphanApplies, finishApply, insertApply, markApplyInProgress } from "../src/db/optimize.ts";
import { measuredBitrateBps } from "../src/optimize/request.ts";

let f: WebFixture;
let app: ReturnType<typeof createApp>;
let bare: ReturnType<typeof createApp>;
const applied: ApplyRequest[] = [];
const confirmed: [number, string, boolean][] = [];

const form = (fields: Record<string, string>, htmx = true): RequestInit => ({
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded", ...(htmx ? { "HX-Request": "true" } : {}) },
  body: new URLSearchParams(fields).toString(),
});

beforeAll(async () => {
  f = await makeFixture();
  const cameras = new Map(f.config.cameras.map((c) => [c.key, c]));
  bare = createApp(f.deps);
  app = createApp({
    ...f.deps,
    actions: {
      async optimizeCamera(key, opts) {
        const camera = cameras.get(key)!;
        const id = key === "front" ? f.front.id : f.rear.id;
        return { optimizationId: (await runOptimization(f.db, f.deps.dataDir, camera, id, opts)).id };
      },
      async applySettings(req) {
        applied.push(req);
        const input = createApply(f.db, cameras, req);
        // what the actor does first
        markApplyInProgress(f.db, input.applyId);
        return { applyId: input.applyId };
      },
      async confirmApply(applyId, by, cancel) {
        if (applyId === 999) throw new ApplyRequestError("settings change 999 has ended (failed)");
        confirmed.push([applyId, by, cancel === true]);
      },
    },
  });
}, 60_000);

afterAll(() => f?.cleanup());

describe("camera settings on the camera page", () => {
  test("the retention planner: measured bitrate, what the ring holds, the bitrate for 7 days; other days as a fragment", async () => {
    const html = await (await f.request(app, "/cameras/front")).text();
    const bps = measuredBitrateBps(f.db, f.front.id)!;
    expect(bps).toBeGreaterThan(0);
    expect(html).toContain('id="retention-plan"');
    expect(html).toContain(`At the measured ${(bps / 1e6).toFixed(2)} Mb/s the card keeps <strong>1 min</strong> of this camera`);
    // 10 segments of 2 s: the segment count is the limit
    expect(html).toContain("(the configuration allows 10 recordings of 2 s: that is the limit, not the disk)");
    expect(html).toMatch(/To keep 7 days, use at most <strong>[\d.]+ Mb\/s<\/strong>/);
    expect(html).toContain("allow at least 302400 recordings of 2 s in the configuration");
    const frag = await f.request(app, "/cameras/front/retention?days=14", { headers: { "HX-Request": "true" } });
    expect(frag.status).toBe(200);
    const text = await frag.text();
    expect(text.startsWith('<section class="card" id="retention-plan">')).toBe(true);
    expect(text).toContain("To keep 14 days");
    expect((await f.request(app, "/cameras/front/retention?days=14")).status).toBe(200);
    for (const bad of ["0", "abc", "4000"]) expect((await f.request(app, `/cameras/front/retention?days=${bad}`)).status).toBe(400);
    expect((await f.request(app, "/cameras/nope/retention")).status).toBe(404);
    // a camera that recorded nothing yet
    expect(await (await f.request(app, "/cameras/rear")).text()).toContain("Nothing recorded yet");
  });

  test("Recommend settings: operators only; the real optimizer's recommendation in plain words; 503 without the runtime", async () => {
    expect(await (await f.request(app, "/cameras/front", {}, "viewer")).text()).not.toContain("Recommend settings");
    const page = await (await f.request(app, "/cameras/front", {}, "operator")).text();
    expect(page).toContain("No recommendation yet.");
    expect(page).toContain("Recommend settings");
    expect((await f.request(app, "/cameras/front/optimize", form({}), "viewer")).status).toBe(403);
    expect((await f.request(bare, "/cameras/front/optimize", form({}), "operator")).status).toBe(503);
    expect((await f.request(app, "/cameras/front/optimize", form({ days: "-1" }), "operator")).status).toBe(400);
    const r = await f.request(app, "/cameras/front/optimize", form({ days: "3" }), "operator");
    expect(r.status).toBe(200);
    const html = await r.text();
    expect(html).toContain('id="camera-settings"');
    expect(html).toContain("New recommendation below.");
    expect(html).toMatch(/\d+x\d+ H\.26[45], \d+ frames\/s, [\d.]+ Mb\/s, a keyframe every \d s/);
    // an RTSP camera: over ONVIF or by hand, not dashcam's encoder
    expect(html).toContain("Apply over ONVIF");
    expect(html).toContain("I&#39;ll change it on the camera");
    const row = f.db.query("SELECT json_extract(request_data, '$.context.storage.retentionDays') AS days, ai_provider FROM optimizations").get();
    expect(row).toEqual({ days: 3, ai_provider: "heuristic" });
    // plain form post: back to the camera page
    const plain = await f.request(app, "/cameras/front/optimize", form({}, false), "operator");
    expect(plain.status).toBe(303);
    expect(plain.headers.get("Location")).toBe("/cameras/front#camera-settings");
    // the testsrc camera is encoded by dashcam: one Apply
    const rear = await (await f.request(app, "/cameras/rear/optimize", form({}), "operator")).text();
    expect(rear).toContain(">Apply<");
    expect(rear).not.toContain("over ONVIF");
  });

  test("apply a recommendation by hand, then confirm it; another camera's change is 404; refusals 409; bad input 400", async () => {
    const optId = (f.db.query("SELECT MAX(id) AS id FROM optimizations WHERE camera_id = ?").get(f.front.id) as { id: number }).id;
    expect((await f.request(app, "/cameras/front/apply", form({ optimization: "abc" }), "operator")).status).toBe(400);
    expect((await f.request(app, "/cameras/front/apply", form({ optimization: String(optId), method: "ftp" }), "operator")).status).toBe(400);
    // dashcam does not encode an RTSP camera itself
    const self = await f.request(app, "/cameras/front/apply", form({ optimization: String(optId), method: "self" }), "operator");
    expect(self.status).toBe(409);
    expect(await self.text()).toContain("dashcam does not encode camera");
    const r = await f.request(app, "/cameras/front/apply", form({ optimization: String(optId), method: "manual" }), "operator");
    expect(r.status).toBe(200);
    const html = await r.text();
    expect(applied.at(-1)).toEqual({ cameraKey: "front", optimizationId: optId, method: "manual", by: "otto" });
    const applyId = (f.db.query("SELECT MAX(id) AS id FROM applied_configs").get() as { id: number }).id;
    expect(html).toContain("Being applied and checked");
    expect(html).toContain("Change these settings on the camera&#39;s own web page, then confirm here.");
    expect(html).toContain(`/cameras/front/applies/${applyId}/confirm`);
    // the whole recommendation is kept for a change by hand
    expect(Object.keys(applyById(f.db, applyId)!.settings).sort()).toEqual(["exposure", "image", "lowLight", "stream"]);
    expect((await f.request(app, `/cameras/rear/applies/${applyId}/confirm`, form({}), "operator")).status).toBe(404);
    expect((await f.request(app, `/cameras/front/applies/${applyId}/confirm`, form({}), "viewer")).status).toBe(403);
    const ok = await f.request(app, `/cameras/front/applies/${applyId}/confirm`, form({}), "operator");
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("the next recordings are measured");
    expect(confirmed).toEqual([[applyId, "otto", false]]);
    const cancel = await f.request(app, `/cameras/front/applies/${applyId}/cancel`, form({}, false), "operator");
    expect(cancel.status).toBe(303);
    expect(confirmed.at(-1)).toEqual([applyId, "otto", true]);
  });

  test("failed changes of every camera (the seed's sample query 2) with their reason", async () => {
    const id = insertApply(f.db, { cameraId: f.rear.id, optimizationId: null, settings: { stream: { fps: 15 } }, method: "onvif", by: "ada", at: Date.now() });
    finishApply(f.db, id, { status: "failed", error: "ONVIF is not configured for this camera", verification: null, at: Date.now() });
    const html = await (await f.request(app, "/cameras/front")).text();
    expect(html).toContain("Failed changes, all cameras");
    expect(html).toMatch(/<a href="\/cameras\/rear#camera-settings">Rear<\/a>.*over ONVIF: ONVIF is not configured for this camera/s);
    const frag = await (await f.request(app, "/cameras/rear/settings")).text();
    expect(frag).toContain('data-status="failed"');
  });

  test("at start-up, unfinished changes of a camera no longer configured end failed; the others are left alone", () => {
    const gone = insertApply(f.db, { cameraId: f.rear.id, optimizationId: null, settings: { stream: { fps: 5 } }, method: "manual", by: "ada", at: Date.now() });
    const kept = insertApply(f.db, { cameraId: f.front.id, optimizationId: null, settings: { stream: { fps: 5 } }, method: "manual", by: "ada", at: Date.now() });
    expect(failOrphanApplies(f.db, [f.front.id], "the camera is no longer configured")).toBe(1);
    expect([applyById(f.db, gone)!.status, applyById(f.db, gone)!.error_message]).toEqual(["failed", "the camera is no longer configured"]);
    expect(applyById(f.db, kept)!.status).toBe("pending");
  });
});
