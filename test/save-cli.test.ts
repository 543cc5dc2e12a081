/**
 * `dashcam trips save [--current | ID] [--config FILE]` as a real process (`bun src/main.ts`),
 * against a runtime running in this test process (`startRuntime`: real ffmpeg recording its test
 * pattern, 320x240, 2 s segments; the CLI reaches it through its control socket) and against a
 * stopped one (the CLI saves in its own process, through the trip actor, on the database).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../src/config.ts";
import { dbPath } from "../src/paths.ts";
import { runCli, TEST_CAMERA, writeConfig } from "./helpers/runtime.ts";
import { RuntimeFixture, queryDb } from "./helpers/inprocess.ts";
import { waitUntil } from "./helpers/wait.ts";

const fx = new RuntimeFixture("dashcam-save-cli-");
afterEach(() => fx.cleanup());

/** A temp directory with `dashcam.toml` (TEST_CAMERA, data in `<dir>/data`, not created yet). */
function setup() {
  const dir = fx.tempDir();
  const dataDir = join(dir, "data");
  const cfg = writeConfig(dir, { data_dir: dataDir, cameras: [TEST_CAMERA] });
  return { dir, dataDir, cfg };
}

const cli = (args: string[]) => runCli(["trips", ...args], { env: { DASHCAM_CONFIG: undefined } });
const oneLine = (s: string) => s.trim().split("\n").length === 1 && s.trim().length > 0;

describe("dashcam trips save", () => {
  test("bad usage: one line on stderr, exit 2, nothing written", async () => {
    const { dataDir, cfg } = setup();
    const cases: [string[], RegExp][] = [
      [[], /missing subcommand/],
      [["delete", "1"], /unknown subcommand "delete"/],
      [["save", "--config", cfg], /missing trip ID \(or --current\)/],
      [["save", "--current", "3", "--config", cfg], /either --current or a trip ID/],
      [["save", "abc", "--config", cfg], /positive integer, got "abc"/],
      [["save", "0", "--config", cfg], /positive integer, got "0"/],
      [["save", "-5", "--config", cfg], /.+/],
      [["save", "1", "2", "--config", cfg], /expected one trip ID, got 2/],
      [["save", "1", "--bogus", "--config", cfg], /bogus/],
      [["save", "1", "--config", join(dataDir, "nope.toml")], /cannot read config file/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(oneLine(r.stderr)).toBe(true);
      expect(r.stderr).toMatch(re);
      expect(r.stdout).toBe("");
    }
    // nothing was created: no data directory, no database
    expect(existsSync(dataDir)).toBe(false);
    // an id when nothing has been recorded yet
    const r = await cli(["save", "7", "--config", cfg]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe(true);
    expect(existsSync(dbPath(dataDir))).toBe(false);
  }, 60_000);

  test("against a stopped runtime (in-process save) and a running one (through the control socket)", async () => {
    const { dataDir, cfg } = setup();
    const config = loadConfig(cfg);

    // a first drive, then the runtime stops: trip 1 is closed, not saved
    const h1 = await fx.start(config);
    await waitUntil("2 segments", () => (h1.db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 2);
    await h1.stop();
    const trip1 = queryDb(dataDir, (db) => db.query("SELECT id, status, end_time_utc FROM trips").get() as { id: number; status: string; end_time_utc: number | null });
    expect(trip1.status).toBe("closed");
    expect(existsSync(join(dataDir, "control.sock"))).toBe(false);

    // unknown id, no runtime
    const unknown = await cli(["save", "999", "--config", cfg]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toBe("dashcam trips: no trip 999");

    // no runtime: the save runs in the CLI's process through the trip actor
    const offline = await cli(["save", String(trip1.id), "--config", cfg]);
    expect(offline.stderr).toBe("");
    expect(offline.code).toBe(0);
    const kept = (id: number) => `kept in ${join(dataDir, "recordings/front")} (MP4: /trips/${id}/saved.mp4)`;
    expect(offline.stdout.trim()).toBe(`trip ${trip1.id} saved: ${kept(trip1.id)}`);
    const s1 = queryDb(dataDir, (db) => ({
      status: (db.query("SELECT status FROM trips WHERE id = ?").get(trip1.id) as { status: string }).status,
      rows: db.query("SELECT trip_id FROM saved_trips").all() as { trip_id: number }[],
      unlocked: (db.query("SELECT COUNT(*) AS n FROM segments WHERE evidence_locked = 0").get() as { n: number }).n,
      path: (db.query("SELECT to_state FROM actor_transitions WHERE actor_id = ? ORDER BY id").all(`trip:${trip1.id}`) as { to_state: string }[]).map((r) => r.to_state),
    }));
    expect(s1.status).toBe("saved");
    expect(s1.rows).toEqual([{ trip_id: trip1.id }]);
    expect(s1.unlocked).toBe(0);
    expect(s1.path.slice(-3)).toEqual(["closed", "saving", "saved"]);
    expect(existsSync(join(dataDir, "saved"))).toBe(false); // stored once: nothing copied
    // again: already saved, nothing new
    const again = await cli(["save", "--current", "--config", cfg]);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(`trip ${trip1.id} saved: ${kept(trip1.id)}`);
    expect(queryDb(dataDir, (db) => (db.query("SELECT COUNT(*) AS n FROM saved_trips").get() as { n: number }).n)).toBe(1);

    // a second drive with the runtime running: --current goes through the runtime
    const h2 = await fx.start(config);
    const trip2 = await waitUntil("trip 2 with 2 segments", () => {
      const t = h2.db.query("SELECT id, start_absolute, last_absolute FROM trips WHERE id > ?").get(trip1.id) as { id: number; start_absolute: number; last_absolute: number } | null;
      return t && t.last_absolute - t.start_absolute >= 1 ? t : null;
    });
    const online = await cli(["save", "--current", "--config", cfg]);
    expect(online.stderr).toBe("");
    expect(online.code).toBe(0);
    expect(online.stdout.trim()).toBe(`trip ${trip2.id} saved so far: ${kept(trip2.id)}; still recording, new segments are kept too`);
    // the runtime's own trip actor did it (an in-process save would have left it `open`)
    expect((h2.supervisor.system.get(`trip:${trip2.id}`)?.getSnapshot() as { value: string }).value).toBe("savedOpen");
    expect((h2.db.query("SELECT message FROM event_log WHERE kind = 'trip.saving' ORDER BY id DESC LIMIT 1").get() as { message: string }).message).toContain("(cli)");
    // unknown id with the runtime running
    const unknown2 = await cli(["save", "424242", "--config", cfg]);
    expect(unknown2.code).toBe(2);
    expect(unknown2.stderr.trim()).toBe("dashcam trips: no trip 424242");

    await h2.stop();
    const end = queryDb(dataDir, (db) => ({
      trips: db.query("SELECT id, status, end_time_utc FROM trips ORDER BY id").all() as { id: number; status: string; end_time_utc: number | null }[],
      rows: (db.query("SELECT COUNT(*) AS n FROM saved_trips").get() as { n: number }).n,
    }));
    expect(end.trips.every((t) => t.status === "saved" && t.end_time_utc !== null)).toBe(true);
    expect(end.rows).toBe(2);
    expect(existsSync(join(dataDir, "saved"))).toBe(false);
  }, 150_000);
});
