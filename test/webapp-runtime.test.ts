/**
 * The web UI over the REAL runtime's actions (`startRuntime`: ffmpeg recording its test pattern
 * at 320x240 in 2 s segments, the actors, the web server on an ephemeral loopback port), with
 * real sessions and CSRF tokens over real HTTP:
 *
 * - the GPIO save button configured on a chip this machine does not have, watched by the real
 *   Debian `gpiomon`: the dashboard shows `unavailable` with gpiomon's reason (a missing
 *   chip or tool is a clear status in the UI, never a silent absence); without `[gpio]` there is no card;
 * - camera stop/start from the camera page (`POST /cameras/:key/stop|start`, operator): the
 *   camera reaches `stopped`, its open trip closes, the page then offers Start; start records
 *   again in a new trip; viewers are refused and see no control; both actions are logged; a
 *   camera disabled in the configuration has no control and is refused (409).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateConfig } from "../src/config.ts";
import { startRuntime, type RuntimeHandle } from "../src/runtime.ts";
import { createUser, type Role } from "../src/db/users.ts";
import { createSession } from "../src/db/sessions.ts";
import { waitUntil as waitFor } from "./helpers/wait.ts";

const CAMERA = { key: "front", name: "Front", source: "testsrc", segment_seconds: 2, width: 320, height: 240, fps: 10 };
/** A chip name no machine running this test has (there is no /dev/gpiochip99). */
const CHIP = "gpiochip99";

let dir: string;
let rt: RuntimeHandle;
const sessions = {} as Record<Role, { cookie: string; csrf: string }>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "dashcam-webapp-runtime-"));
  const config = validateConfig({ data_dir: dir, http: { listen: "127.0.0.1:0" }, cameras: [CAMERA, { key: "rear", source: "testsrc", enabled: false }], gpio: { chip: CHIP, save_line: 17 } }, dir);
  rt = await startRuntime(config);
  for (const role of ["admin", "operator", "viewer"] as const) {
    const u = await createUser(rt.db, { username: `${role}-user`, password: `${role}-secret-pass`, role });
    const s = createSession(rt.db, u.id);
    sessions[role] = { cookie: `dashcam_session=${s.token}`, csrf: s.csrfToken };
  }
}, 60_000);

afterAll(async () => {
  await rt?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, role: Role = "viewer") => fetch(`${rt.url}${path}`, { headers: { cookie: sessions[role].cookie } });
const post = (path: string, role: Role = "operator", hx = true) =>
  fetch(`${rt.url}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: sessions[role].cookie, "X-CSRF-Token": sessions[role].csrf, ...(hx ? { "HX-Request": "true" } : {}) },
  });
const cameraState = () => (rt.db.query("SELECT s.state FROM camera_status s JOIN cameras c ON c.id = s.camera_id WHERE c.key = 'front'").get() as { state: string }).state;
const openTrip = () => rt.db.query("SELECT id FROM trips WHERE end_time_utc IS NULL").get() as { id: number } | null;

describe("GPIO save button status", () => {
  test("a missing chip is shown on the dashboard as unavailable with gpiomon's reason", async () => {
    const gpio = await waitFor("the GPIO status", () => {
      const g = rt.actions.gpioStatus();
      return g?.status === "unavailable" ? g : null;
    });
    expect(gpio.reason).toContain(CHIP);
    const html = await (await get("/")).text();
    const card = /<article class="card gpio" id="gpio" sse-swap="gpio">([\s\S]*?)<\/article>/.exec(html)?.[1];
    expect(card).toBeDefined();
    expect(card).toContain('class="badge bad">unavailable<');
    expect(card).toContain(`<code>${CHIP}</code> line 17`);
    // the reason exactly as the runtime reported it (HTML-escaped)
    expect(card).toContain(Bun.escapeHTML(gpio.reason!));
    expect(card).toContain("Tap Save at the top of the home screen instead");
  });
});

describe("camera stop / start", () => {
  test("an operator stops the camera (trip closes), then starts it again (new trip); viewers cannot", async () => {
    await waitFor("recording", () => cameraState() === "recording" && openTrip());
    const first = openTrip()!;

    // the viewer sees no control and is refused
    const viewerPage = await (await get("/cameras/front", "viewer")).text();
    expect(viewerPage).not.toContain('action="/cameras/front/stop"');
    const refused = await post("/cameras/front/stop", "viewer");
    expect(refused.status).toBe(403);
    expect(cameraState()).toBe("recording");

    const opPage = await (await get("/cameras/front", "operator")).text();
    expect(opPage).toContain('hx-post="/cameras/front/stop"');
    expect(opPage).not.toContain('action="/cameras/front/start"');

    const stop = await post("/cameras/front/stop");
    expect(stop.status).toBe(200);
    const frag = await stop.text();
    expect(frag).toStartWith('<div id="camera-power"');
    expect(frag).toContain('hx-post="/cameras/front/start"');
    expect(frag).toContain("Start recording");
    await waitFor("stopped", () => cameraState() === "stopped");
    const closed = await waitFor("the trip to close", () => {
      const t = rt.db.query("SELECT status, end_time_utc FROM trips WHERE id = ?").get(first.id) as { status: string; end_time_utc: number | null };
      return t.end_time_utc !== null ? t : null;
    });
    expect(closed.status).toBe("closed");
    expect(openTrip()).toBeNull();
    const stoppedPage = await (await get("/cameras/front", "operator")).text();
    expect(stoppedPage).toContain('action="/cameras/front/start"');
    expect(stoppedPage).toContain('class="badge off">Stopped<');

    // a plain form post (no JavaScript) is answered with 303 back to the camera page
    const start = await post("/cameras/front/start", "operator", false);
    expect(start.status).toBe(303);
    expect(start.headers.get("location")).toBe("/cameras/front");
    await waitFor("recording again", () => cameraState() === "recording");
    const second = await waitFor("a new trip", () => {
      const t = openTrip();
      return t && t.id !== first.id ? t : null;
    });
    expect(second.id).toBeGreaterThan(first.id);

    const log = rt.db.query("SELECT kind, message FROM event_log WHERE kind IN ('camera.stop', 'camera.start') ORDER BY id").all() as { kind: string; message: string }[];
    expect(log).toEqual([
      { kind: "camera.stop", message: "operator-user stopped camera front" },
      { kind: "camera.start", message: "operator-user started camera front" },
    ]);
  }, 90_000);

  test("a camera disabled in the configuration has no control and is refused with the reason (409)", async () => {
    const page = await (await get("/cameras/rear", "operator")).text();
    expect(page).not.toContain('action="/cameras/rear/st');
    const res = await post("/cameras/rear/start");
    expect(res.status).toBe(409);
    expect(await res.text()).toContain("disabled in the configuration");
  });

  test("an unknown camera is 404, a malformed key 400", async () => {
    expect((await post("/cameras/nope/stop")).status).toBe(404);
    expect((await post("/cameras/BAD%20KEY/start")).status).toBe(400);
  });
});
