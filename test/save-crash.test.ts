/**
 * Power cuts around a saved trip: a real `bun src/main.ts run` process records its test pattern
 * (320x240, 2 s segments) with real ffmpeg; the current trip is saved through the runtime's
 * control socket while it is still recording; then, while a phone downloads the saved trip's MP4
 * (made on the fly by an ffmpeg child of the runtime), the power is cut (SIGKILL to the whole
 * process group). The runtime starts again after a "reboot" (a new DASHCAM_BOOT_ID): the trip of
 * the older boot closes, its save is finished exactly once, every segment is still evidence-locked,
 * nothing was written for the download, the read-locks are cleared, and `dashcam check` is clean.
 * The MP4 downloaded again lasts the whole trip.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { controlRequest, controlSocketPath } from "../src/control.ts";
import type { TripRow } from "../src/db/trips.ts";
import { makeTempDir, removeDir, readDb, runCli, startRuntime, TEST_CAMERA, writeConfig, type Runtime } from "./helpers/runtime.ts";
import { webSession } from "./helpers/http.ts";
import { waitUntil } from "./helpers/wait.ts";
import { probe } from "./helpers/media.ts";

const dirs: string[] = [];
const runtimes: Runtime[] = [];

afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.kill().catch(() => 0);
  for (const d of dirs.splice(0)) removeDir(d);
});

type Trip = Pick<TripRow, "id" | "status" | "end_time_utc" | "start_absolute" | "last_absolute">;

describe("a saved trip survives a power cut", () => {
  test("SIGKILL during an MP4 download of a trip saved while recording, then restart: saved exactly once, every segment locked, nothing written, check clean", async () => {
    const dir = makeTempDir("dashcam-save-crash-");
    dirs.push(dir);
    const dataDir = join(dir, "data");
    mkdirSync(dataDir);
    const cfg = writeConfig(dir, { data_dir: dataDir, cameras: [TEST_CAMERA] });

    const rt1 = await startRuntime(cfg, { env: { DASHCAM_BOOT_ID: "boot-before-the-cut" }, label: "run1" });
    runtimes.push(rt1);
    await waitUntil("3 segments", () => readDb(dataDir, (db) => (db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 3));
    const socket = controlSocketPath(dataDir);
    const asked = await controlRequest(socket, "POST", "/trips/save", { current: true });
    expect(asked.status).toBe(202);
    const tripId = (asked.body.trips as number[])[0]!;
    await waitUntil("saved so far, 8 segments", () =>
      readDb(dataDir, (db) => {
        const t = db.query("SELECT status, start_absolute, last_absolute FROM trips WHERE id = ?").get(tripId) as Trip;
        return t.status === "saved" && t.last_absolute - t.start_absolute >= 7;
      }),
    );

    // a phone starts the download and reads only its beginning; then the power goes
    const cookie = await webSession(rt1.url);
    const res = await fetch(`${rt1.url}/trips/${tripId}/saved.mp4`, { headers: { cookie } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.value!.byteLength).toBeGreaterThan(0);
    const locked = readDb(dataDir, (db) => (db.query("SELECT COALESCE(SUM(locked), 0) AS n FROM segments").get() as { n: number }).n)!;
    expect(locked).toBeGreaterThan(0); // the download holds read-locks on the trip's segments
    await rt1.kill();
    runtimes.splice(runtimes.indexOf(rt1), 1);
    await reader.cancel().catch(() => {});

    // power back, after a reboot: the trip of the older boot closes and its save finishes
    const rt2 = await startRuntime(cfg, { env: { DASHCAM_BOOT_ID: "boot-after-the-cut" }, label: "run2" });
    runtimes.push(rt2);
    await waitUntil("the trip closed and saved", () =>
      readDb(dataDir, (db) => {
        const t = db.query("SELECT status, end_time_utc FROM trips WHERE id = ?").get(tripId) as Trip;
        return t.status === "saved" && t.end_time_utc !== null;
      }),
    );
    await waitUntil("a trip of the new boot", () => readDb(dataDir, (db) => db.query("SELECT id FROM trips WHERE id > ?").get(tripId)));
    // the whole trip downloads from the new runtime
    const cookie2 = await webSession(rt2.url);
    const again = await fetch(`${rt2.url}/trips/${tripId}/saved.mp4`, { headers: { cookie: cookie2 } });
    expect(again.status).toBe(200);
    const mp4 = join(dir, "again.mp4");
    writeFileSync(mp4, new Uint8Array(await again.arrayBuffer()));
    expect(await rt2.terminate()).toBe(0);
    runtimes.splice(runtimes.indexOf(rt2), 1);

    const after = readDb(dataDir, (db) => {
      const trip = db.query("SELECT id, status, end_time_utc, start_absolute, last_absolute FROM trips WHERE id = ?").get(tripId) as Trip;
      return {
        trip,
        saved: db.query("SELECT trip_id, saved_dir, mp4_path, layout FROM saved_trips").all(),
        segs: db
          .query("SELECT rel_path, evidence_locked, incident_id, locked FROM segments WHERE absolute_index BETWEEN ? AND ? ORDER BY absolute_index")
          .all(trip.start_absolute, trip.last_absolute) as { rel_path: string; evidence_locked: number; incident_id: string | null; locked: number }[],
        other: db.query("SELECT COUNT(*) AS n FROM segments WHERE absolute_index > ? AND evidence_locked = 1").get(trip.last_absolute) as { n: number },
      };
    })!;
    expect(after.saved).toEqual([{ trip_id: tripId, saved_dir: "recordings/front", mp4_path: null, layout: "ring" }]);
    expect(after.segs.length).toBe(after.trip.last_absolute - after.trip.start_absolute + 1);
    expect(after.segs.every((s) => s.evidence_locked === 1 && s.incident_id === `trip-${tripId}` && s.locked === 0)).toBe(true);
    expect(after.other.n).toBe(0); // the next trip is not locked
    expect(existsSync(join(dataDir, "saved"))).toBe(false); // nothing was written for the download
    let sum = 0;
    for (const s of after.segs) sum += (await probe(join(dataDir, s.rel_path))).duration;
    const p = await probe(mp4);
    expect(p.video).toEqual({ codec: "h264", width: 320, height: 240 });
    // the second runtime may have appended nothing to the old boot's trip: the MP4 is all of it
    expect(Math.abs(p.duration - sum)).toBeLessThanOrEqual(1);
    const check = await runCli(["check", "--config", cfg]);
    expect(check.stdout).toContain("check ok");
    expect(check.code).toBe(0);
  }, 150_000);
});
