/**
 * SIGKILL during saving, then restart (the save survives a power cut): a real `bun src/main.ts run`
 * process records its test pattern (320x240, 2 s segments) with real ffmpeg; the current trip is
 * saved through the runtime's control socket; the power is cut (SIGKILL to the whole process
 * group) while the save is in progress, then the runtime starts again (after a "reboot": a new
 * DASHCAM_BOOT_ID) and must finish the save exactly once.
 *
 * To cut the power at a known point of the save, FFMPEG_PATH points at a tiny wrapper around the
 * real ffmpeg that stops itself (SIGSTOP) when it is asked to concatenate a saved trip (its
 * arguments name `saved/trip-`), after writing its pid to a marker file; every other call (the
 * recorder) runs the real ffmpeg unchanged. The save's copies are then done, its concat list is
 * written and the MP4 is not built: the moment a crash hurts most.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveFfmpeg } from "../src/media/ffmpeg.ts";
import { controlRequest, controlSocketPath } from "../src/control.ts";
import type { TripRow } from "../src/db/trips.ts";
import { makeTempDir, removeDir, readDb, startRuntime, TEST_CAMERA, writeConfig, type Runtime } from "./helpers/runtime.ts";
import { waitUntil } from "./helpers/wait.ts";
import { probe } from "./helpers/media.ts";

const dirs: string[] = [];
const runtimes: Runtime[] = [];

afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.kill().catch(() => 0);
  for (const d of dirs.splice(0)) removeDir(d);
});

type Trip = Pick<TripRow, "id" | "status" | "end_time_utc" | "start_absolute" | "last_absolute">;

describe("save trip survives a power cut", () => {
  test("SIGKILL during saving, then restart: saved exactly once, MP4 valid, every segment still locked, no temp file", async () => {
    const dir = makeTempDir("dashcam-save-crash-");
    dirs.push(dir);
    const dataDir = join(dir, "data");
    mkdirSync(dataDir);
    const cfg = writeConfig(dir, { data_dir: dataDir, cameras: [TEST_CAMERA] });
    const marker = join(dir, "paused.pid");
    const wrapper = join(dir, "ffmpeg-wrapper.sh");
    writeFileSync(
      wrapper,
      `#!/bin/sh\ncase "$*" in\n  *"/saved/trip-"*) echo $$ > "${marker}"; kill -STOP $$ ;;\nesac\nexec "${resolveFfmpeg()}" "$@"\n`,
    );
    chmodSync(wrapper, 0o755);

    const rt1 = await startRuntime(cfg, { env: { FFMPEG_PATH: wrapper, DASHCAM_BOOT_ID: "boot-before-the-cut" }, label: "run1" });
    runtimes.push(rt1);
    await waitUntil("3 segments", () => readDb(dataDir, (db) => (db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 3));
    const socket = controlSocketPath(dataDir);
    const asked = await controlRequest(socket, "POST", "/trips/save", { current: true });
    expect(asked.status).toBe(202);
    const tripId = (asked.body.trips as number[])[0]!;
    expect(tripId).toBeGreaterThan(0);

    // the save reaches its concat step, where the wrapper holds ffmpeg; then the power goes
    await waitUntil("the concat step of the save", () => existsSync(marker), 30_000);
    await rt1.kill();
    runtimes.splice(runtimes.indexOf(rt1), 1);

    const savedDir = join(dataDir, `saved/trip-${tripId}`);
    const mp4Name = `trip-${tripId}.mp4`;
    const cut = readDb(dataDir, (db) => ({
      trip: db.query("SELECT id, status, end_time_utc, start_absolute, last_absolute FROM trips WHERE id = ?").get(tripId) as Trip,
      rows: (db.query("SELECT COUNT(*) AS n FROM saved_trips").get() as { n: number }).n,
    }))!;
    expect(cut.trip.status).toBe("saving");
    expect(cut.rows).toBe(0);
    // interrupted mid-save: copies and a concat list, but nothing under the MP4's final name
    const leftovers = readdirSync(savedDir);
    expect(leftovers).not.toContain(mp4Name);
    expect(leftovers.some((n) => n.startsWith(".tmp-"))).toBe(true);
    expect(existsSync(socket)).toBe(true); // stale control socket of the dead runtime

    // power back, after a reboot: the trip of the older boot closes and its save resumes
    const rt2 = await startRuntime(cfg, { env: { DASHCAM_BOOT_ID: "boot-after-the-cut" }, label: "run2" });
    runtimes.push(rt2);
    await waitUntil("the trip saved", () =>
      readDb(dataDir, (db) => {
        const t = db.query("SELECT status, end_time_utc FROM trips WHERE id = ?").get(tripId) as Trip;
        return t.status === "saved" && t.end_time_utc !== null;
      }),
    );
    // the new boot records a new trip, untouched by the save
    await waitUntil("a trip of the new boot", () => readDb(dataDir, (db) => db.query("SELECT id FROM trips WHERE id > ?").get(tripId)));
    expect(await rt2.terminate()).toBe(0);
    runtimes.splice(runtimes.indexOf(rt2), 1);

    const after = readDb(dataDir, (db) => {
      const trip = db.query("SELECT id, status, end_time_utc, start_absolute, last_absolute FROM trips WHERE id = ?").get(tripId) as Trip;
      return {
        trip,
        saved: db.query("SELECT * FROM saved_trips").all() as { trip_id: number; saved_dir: string; mp4_path: string }[],
        segs: db
          .query("SELECT rel_path, evidence_locked, incident_id FROM segments WHERE absolute_index BETWEEN ? AND ? ORDER BY absolute_index")
          .all(trip.start_absolute, trip.last_absolute) as { rel_path: string; evidence_locked: number; incident_id: string | null }[],
        other: db.query("SELECT COUNT(*) AS n FROM segments WHERE absolute_index > ? AND evidence_locked = 1").get(trip.last_absolute) as { n: number },
        transitions: (db.query("SELECT event, to_state FROM actor_transitions WHERE actor_id = ? ORDER BY id").all(`trip:${tripId}`) as { event: string; to_state: string }[]),
      };
    })!;
    // exactly once: one row, one MP4, every segment of the trip copied, still evidence-locked
    expect(after.saved).toEqual([{ trip_id: tripId, saved_dir: `saved/trip-${tripId}`, mp4_path: `saved/trip-${tripId}/${mp4Name}`, saved_at_utc: expect.any(Number) } as never]);
    expect(after.segs.length).toBe(after.trip.last_absolute - after.trip.start_absolute + 1);
    expect(after.segs.every((s) => s.evidence_locked === 1 && s.incident_id === `trip-${tripId}`)).toBe(true);
    expect(after.other.n).toBe(0); // the next trip is not locked
    expect(after.transitions.map((t) => t.to_state)).toEqual(["open", "saving", "saved"]);
    const files = readdirSync(savedDir).sort();
    expect(files.filter((n) => n.endsWith(".mp4"))).toEqual([mp4Name]);
    expect(files.filter((n) => n.startsWith(".tmp-"))).toEqual([]);
    expect(files.filter((n) => n.endsWith(".ts"))).toEqual(after.segs.map((s) => s.rel_path.split("/").pop()!));
    // a valid MP4 whose duration is the sum of the segments' within one GOP (2 s)
    const p = await probe(join(savedDir, mp4Name));
    expect(p.video).toEqual({ codec: "h264", width: 320, height: 240 });
    let sum = 0;
    for (const s of after.segs) sum += (await probe(join(dataDir, s.rel_path))).duration;
    expect(Math.abs(p.duration - sum)).toBeLessThanOrEqual(2);
    expect(existsSync(socket)).toBe(false); // the orderly stop removed its control socket
    expect(readFileSync(marker, "utf8").trim()).toMatch(/^\d+$/);
  }, 150_000);
});
