/**
 * The runtime's service wiring (save, incidents, GPIO, ALPR, maintenance), each through the real `startRuntime`:
 * - the web's product actions (`WebDeps.actions`) over real HTTP with a real session and CSRF
 *   token: `POST /api/trips/:id/save` saves through the trip actor, `POST /api/incidents`
 *   starts an incident clip that the supervisor exports at its deadline;
 * - the GPIO button with a missing chip (the stand-in gpiomon prints the real tool's error and
 *   exits): a status in the supervisor, on the LiveBus and in the event log, not a crash;
 * - the ALPR service (real, src/actors/alpr.ts) runs only when `[alpr] enabled`, and power-down waits for its
 *   stop;
 * - start-up and periodic maintenance: temp files of interrupted saves/exports removed, expired
 *   sessions purged at start and again at the stored deadline.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startRuntime } from "../src/runtime.ts";
import { RuntimeBusyError } from "../src/control.ts";
import { dbPath } from "../src/paths.ts";
import { openDatabase } from "../src/db/open.ts";
import { createSession } from "../src/db/sessions.ts";
import type { LiveEvent } from "../src/events.ts";
import { webSession } from "./helpers/http.ts";
import { probe } from "./helpers/media.ts";
import { RuntimeFixture, queryDb } from "./helpers/inprocess.ts";
import { waitUntil } from "./helpers/wait.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
const fx = new RuntimeFixture("dashcam-save-services-");
afterEach(() => fx.cleanup());

describe("runtime services", () => {
  test("web actions: the JSON API saves a trip and starts an incident clip through the runtime", async () => {
    const dataDir = fx.tempDir();
    const h = await fx.start(fx.config(dataDir, { incident: { before_seconds: 2, after_seconds: 1 } }));
    const cookie = await webSession(h.url);
    const page = await (await fetch(`${h.url}/`, { headers: { cookie } })).text();
    const csrf = /X-CSRF-Token(?:&quot;|"):(?:&quot;|")([^&"]+)/.exec(page)?.[1];
    expect(csrf).toBeTruthy();
    const post = (path: string, body: unknown) =>
      fetch(`${h.url}${path}`, {
        method: "POST",
        headers: { cookie, "content-type": "application/json", "X-CSRF-Token": csrf!, origin: h.url },
        body: JSON.stringify(body),
      });

    await waitUntil("2 segments", () => (h.db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 2);
    const tripId = (h.db.query("SELECT id FROM trips").get() as { id: number }).id;
    const r = await post(`/api/trips/${tripId}/save`, {});
    expect(r.status).toBe(202);
    expect(((await r.json()) as { accepted: boolean }).accepted).toBe(true);
    await waitUntil("saved", () => (h.db.query("SELECT status FROM trips WHERE id = ?").get(tripId) as { status: string }).status === "saved");
    expect((h.db.query("SELECT message FROM event_log WHERE kind = 'trip.saving'").get() as { message: string }).message).toContain("(api)");
    // unknown trip: 404 from the web layer, nothing saved
    expect((await post(`/api/trips/987654/save`, {})).status).toBe(404);

    // an incident 1 s ago on the recording camera
    const at = Date.now() - 1000;
    const ri = await post("/api/incidents", { camera: "front", at });
    expect(ri.status).toBe(202);
    const inc = (await ri.json()) as { incidentId: string; fromUtc: number; toUtc: number };
    expect(inc.incidentId).toMatch(/-front$/);
    expect(h.supervisor.getSnapshot().context.incidents[inc.incidentId]).toMatchObject({ cameraKey: "front", atUtc: at, fromUtc: at - 2000, toUtc: at + 1000 });
    const done = await waitUntil("the incident clip", () => h.db.query("SELECT data FROM event_log WHERE kind IN ('incident.done', 'incident.failed')").get() as { data: string } | null);
    const d = JSON.parse(done.data) as { incidentId: string; relPath: string };
    expect(d.incidentId).toBe(inc.incidentId);
    expect((await probe(join(dataDir, d.relPath))).video?.codec).toBe("h264");
    const locked = h.db.query("SELECT COUNT(*) AS n FROM segments WHERE incident_id = ? AND evidence_locked = 1").get(inc.incidentId) as { n: number };
    expect(locked.n).toBeGreaterThanOrEqual(1);
    // an unknown camera is refused before the runtime is asked
    expect((await post("/api/incidents", { camera: "rear" })).status).toBeGreaterThanOrEqual(400);
    await h.stop();
  }, 120_000);

  test("GPIO chip missing: a status (supervisor, LiveBus, event log), not a crash; ALPR runs when enabled; maintenance at start and at its deadline", async () => {
    const dataDir = fx.tempDir();
    // leftovers of interrupted saves/exports, and sessions of a user, before the runtime starts
    mkdirSync(join(dataDir, "saved/trip-5"), { recursive: true });
    mkdirSync(join(dataDir, "exports"), { recursive: true });
    writeFileSync(join(dataDir, "saved/trip-5/.tmp-000000001.ts.abcd1234"), "half");
    writeFileSync(join(dataDir, "saved/trip-5/000000001.ts"), "kept");
    writeFileSync(join(dataDir, "exports/.tmp-front-x.1234.part"), "half");
    const pre = openDatabase(dbPath(dataDir));
    const uid = Number(pre.query("INSERT INTO users (username, password_hash, role) VALUES ('ann', 'x', 'admin')").run().lastInsertRowid);
    const monthAgo = Date.now() - 31 * 24 * 3600 * 1000;
    createSession(pre, uid, monthAgo); // expired
    const live = createSession(pre, uid); // valid
    pre.close();

    const config = fx.config(dataDir, { cameras: [], gpio: { chip: "gpiochip7" }, alpr: { enabled: true, poll_ms: 200 } });
    const gpioEnv = {
      ...process.env,
      GPIOMON: undefined,
      PATH: `${FIXTURES}:${process.env.PATH}`,
      FAKE_GPIOMON_STDERR: "gpiomon: error waiting for events: No such file or directory",
    };
    const seen: LiveEvent[] = [];
    const h = await fx.start(config, { deps: { gpioEnv, maintenanceEveryMs: 300 } });
    h.bus.subscribe((e) => void seen.push(e));

    // start-up maintenance
    expect(existsSync(join(dataDir, "saved/trip-5/.tmp-000000001.ts.abcd1234"))).toBe(false);
    expect(existsSync(join(dataDir, "exports/.tmp-front-x.1234.part"))).toBe(false);
    expect(existsSync(join(dataDir, "saved/trip-5/000000001.ts"))).toBe(true);
    const sessions = () => (h.db.query("SELECT expires_at FROM sessions ORDER BY expires_at").all() as { expires_at: number }[]).map((s) => s.expires_at);
    expect(sessions()).toEqual([live.expiresAt]);
    // ... and again at its stored deadline
    const ctx = h.supervisor.getSnapshot().context;
    expect(ctx.maintenanceDeadline).toBeGreaterThan(Date.now() - 1000);
    createSession(h.db, uid, monthAgo);
    expect(sessions().length).toBe(2);
    await waitUntil("the periodic maintenance", () => sessions().length === 1);

    // the GPIO button: unavailable with the reason, kept by the supervisor, published, logged
    const gpio = await waitUntil("the GPIO status", () => {
      const g = h.actions.gpioStatus();
      return g?.status === "unavailable" ? g : null;
    });
    expect(gpio.reason).toContain('GPIO chip "gpiochip7" not found');
    expect(h.supervisor.getSnapshot().status).toBe("active");
    expect(h.supervisor.system.get("gpio")).toBeDefined();
    await waitUntil("the LiveBus gpio event", () => seen.some((e) => e.type === "gpio" && e.status === "unavailable"));
    const row = h.db.query("SELECT level, message FROM event_log WHERE kind = 'gpio.unavailable'").get() as { level: string; message: string };
    expect(row.level).toBe("error");
    expect(row.message).toContain("gpiochip7");

    // ALPR: the real service was spawned by the supervisor
    expect(h.supervisor.system.get("alpr")).toBeDefined();
    await waitUntil("alpr.start", () => h.db.query("SELECT id FROM event_log WHERE kind = 'alpr.start'").get());
    await h.stop();
    // power-down awaited the service's stop before closing the database
    expect(queryDb(dataDir, (db) => db.query("SELECT id FROM event_log WHERE kind = 'alpr.stop'").get())).not.toBeNull();

    // without [alpr] and [gpio] neither service runs
    const plain = fx.config(dataDir, { cameras: [] });
    const h2 = await fx.start(plain);
    // a second runtime on the same data directory is refused before it touches anything
    await expect(startRuntime(plain)).rejects.toBeInstanceOf(RuntimeBusyError);
    expect((await fetch(`${h2.url}/healthz`)).status).toBe(200);
    expect(h2.supervisor.system.get("alpr")).toBeUndefined();
    expect(h2.supervisor.system.get("gpio")).toBeUndefined();
    expect(h2.actions.gpioStatus()).toBeNull();
  }, 120_000);
});
