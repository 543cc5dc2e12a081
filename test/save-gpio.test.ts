/**
 * The GPIO save button end to end through the real runtime (`startRuntime`): ffmpeg records its
 * test pattern (320x240, 2 s segments), the supervisor spawns the GPIO actor (src/actors/gpio.ts), which runs the
 * stand-in `test/fixtures/gpiomon` (first on PATH; the one boundary that cannot run here: there
 * is no GPIO chip). The test plays the button by writing gpiomon's real output lines (libgpiod
 * 1.6 format) into a FIFO the stand-in prints from.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { probe } from "./helpers/media.ts";
import { RuntimeFixture, queryDb } from "./helpers/inprocess.ts";
import { waitUntil } from "./helpers/wait.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
const fx = new RuntimeFixture("dashcam-save-gpio-");
const fds: number[] = [];

afterEach(async () => {
  await fx.cleanup();
  for (const fd of fds.splice(0)) closeSync(fd);
});

/** gpiomon 1.6's line: `event: %s offset: %u timestamp: [%8ld.%09ld]`. */
const v1 = (edge: "r" | "f", ms: number) => {
  const sec = Math.floor(ms / 1000);
  const nsec = Math.round((ms - sec * 1000) * 1e6);
  return `event: ${edge === "r" ? " RISING EDGE" : "FALLING EDGE"} offset: 17 timestamp: [${String(sec).padStart(8)}.${String(nsec).padStart(9, "0")}]\n`;
};

describe("GPIO button through the runtime", () => {
  test("a bouncing short press saves the current trip once; a long press exports an evidence-locked incident clip", async () => {
    const dir = fx.tempDir();
    const dataDir = join(dir, "data");
    const fifo = join(dir, "gpio.fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    // O_RDWR on a FIFO never blocks (Linux fifo(7)); the stand-in's `< fifo` opens the read end
    const button = openSync(fifo, "r+");
    fds.push(button);
    const pidFile = join(dir, "gpiomon.pid");
    const argsFile = join(dir, "gpiomon.args");

    const config = fx.config(
      dataDir,
      {
        gpio: { chip: "gpiochip0", save_line: 17, active_low: true, debounce_ms: 50, long_press_ms: 1500 },
        incident: { before_seconds: 4, after_seconds: 2 },
      },
      dir,
    );
    const gpioEnv = {
      ...process.env,
      GPIOMON: undefined,
      PATH: `${FIXTURES}:${process.env.PATH}`,
      FAKE_GPIOMON_EVENTS: fifo,
      FAKE_GPIOMON_PID: pidFile,
      FAKE_GPIOMON_ARGS: argsFile,
    };
    const h = await fx.start(config, { deps: { gpioEnv } });

    await waitUntil("the button ready", () => h.actions.gpioStatus()?.status === "ready");
    expect(readFileSync(argsFile, "utf8").trim()).toBe("-b -l gpiochip0 17"); // libgpiod 1.x command line, active low
    await waitUntil("an open trip", () => h.db.query("SELECT id FROM trips WHERE end_time_utc IS NULL").get() as { id: number } | null);
    await waitUntil("2 segments", () => (h.db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 2);
    const tripId = (h.db.query("SELECT id FROM trips WHERE end_time_utc IS NULL").get() as { id: number }).id;

    // a short press with contact bounce on both edges (3 ms apart, debounce 50 ms)
    const t = 1000_000;
    const press = [v1("r", t), v1("f", t + 3), v1("r", t + 6), v1("f", t + 9), v1("r", t + 12), v1("f", t + 250), v1("r", t + 253), v1("f", t + 256)];
    writeSync(button, press.join(""));
    await waitUntil("the trip saved so far", () => (h.db.query("SELECT status FROM trips WHERE id = ?").get(tripId) as { status: string }).status === "saved");
    const presses = h.db.query("SELECT data FROM event_log WHERE kind = 'gpio.button'").all() as { data: string }[];
    expect(presses.map((p) => JSON.parse(p.data).action)).toEqual(["SAVE"]);
    expect((h.db.query("SELECT COUNT(*) AS n FROM saved_trips WHERE trip_id = ?").get(tripId) as { n: number }).n).toBe(1);
    const saving = h.db.query("SELECT message FROM event_log WHERE kind = 'trip.saving'").all() as { message: string }[];
    expect(saving.length).toBe(1);
    expect(saving[0].message).toContain("(button)");

    // a long press: held 2 s by gpiomon's clock (long_press_ms 1500), once the 4 s before it are recorded
    await waitUntil("6 s of footage", () => (h.db.query("SELECT MIN(start_utc) AS s FROM segments").get() as { s: number }).s < Date.now() - 7000);
    const pressedAt = Date.now();
    writeSync(button, v1("r", t + 5000) + v1("f", t + 7000));
    const done = await waitUntil(
      "the incident clip",
      () => h.db.query("SELECT data FROM event_log WHERE kind IN ('incident.done', 'incident.failed') ORDER BY id DESC LIMIT 1").get() as { data: string } | null,
      60_000,
    );
    const incident = JSON.parse(done.data) as { incidentId: string; relPath: string; fromUtc: number; toUtc: number; atUtc: number; partial: boolean };
    expect(incident.relPath).toBeDefined();
    expect(incident.partial).toBe(false);
    expect(incident.incidentId).toMatch(/^inc-\d{8}-\d{6}-\d{3}-front$/);
    expect(Math.abs(incident.atUtc - (pressedAt - 2000))).toBeLessThan(1500); // the press, not the release
    expect(incident.toUtc - incident.fromUtc).toBe(6000);
    const clip = join(dataDir, incident.relPath);
    expect(existsSync(clip)).toBe(true);
    const p = await probe(clip);
    expect(p.video?.codec).toBe("h264");
    // the clip covers the window, give or take one GOP (2 s) at the start
    expect(p.duration).toBeGreaterThanOrEqual(6 - 0.5);
    expect(p.duration).toBeLessThanOrEqual(6 + 2 + 0.5);
    // every segment of the window is evidence-locked under the incident id
    const inWindow = h.db
      .query("SELECT evidence_locked, incident_id FROM segments WHERE start_utc < ? AND end_utc > ?")
      .all(incident.toUtc, incident.fromUtc) as { evidence_locked: number; incident_id: string | null }[];
    expect(inWindow.length).toBeGreaterThanOrEqual(3);
    expect(inWindow.every((s) => s.evidence_locked === 1 && s.incident_id === incident.incidentId)).toBe(true);
    expect(h.supervisor.getSnapshot().context.incidents).toEqual({});
    const presses2 = (h.db.query("SELECT data FROM event_log WHERE kind = 'gpio.button'").all() as { data: string }[]).map((r) => JSON.parse(r.data).action);
    expect(presses2).toEqual(["SAVE", "INCIDENT"]);

    const gpiomonPid = Number(readFileSync(pidFile, "utf8").trim());
    await h.stop();
    // the trip closed at power-down and its MP4 was rebuilt; one saved_trips row; gpiomon ended
    queryDb(dataDir, (db) => {
      const trip = db.query("SELECT status, end_time_utc FROM trips WHERE id = ?").get(tripId) as { status: string; end_time_utc: number | null };
      expect(trip.status).toBe("saved");
      expect(trip.end_time_utc).not.toBeNull();
      expect((db.query("SELECT COUNT(*) AS n FROM saved_trips").get() as { n: number }).n).toBe(1);
      const unlocked = db
        .query("SELECT COUNT(*) AS n FROM segments s JOIN trips t ON s.absolute_index BETWEEN t.start_absolute AND t.last_absolute WHERE t.id = ? AND s.evidence_locked = 0")
        .get(tripId) as { n: number };
      expect(unlocked.n).toBe(0);
    });
    await waitUntil("gpiomon to exit", () => !existsSync(`/proc/${gpiomonPid}`) || readFileSync(`/proc/${gpiomonPid}/stat`, "utf8").split(" ")[2] === "Z", 5_000);
    expect(readdirSync(join(dataDir, "exports")).filter((n) => n.startsWith(".tmp-"))).toEqual([]);
  }, 120_000);
});
