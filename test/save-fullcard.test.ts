/**
 * A full card, as a driver meets it: the data directory is a 12 MB tmpfs (mounted by the test; it
 * runs as root here), the camera records a noisy 640x360 clip (~4 Mb/s, made with ffmpeg, played
 * in real time and stream-copied: `file:` source) in 2 s segments, `min_free_bytes` = 2 MB. When
 * tmpfs cannot be mounted (not root), the same run uses the temp disk with `min_free_bytes` set
 * 9 MB below its free space, which fills the same way; the test prints which one it used.
 *
 * Trip 1 is saved and closed (camera stopped and started), trip 2 is saved at its start and
 * records until the card is full:
 * - recording stops with `disk_full`, nothing evidence-locked is deleted;
 * - the trip page says what is kept and that the card is full, with the link to the saved trips;
 *   the home page says the card is full; /healthz is 503 with ok false; `dashcam check` names the
 *   incomplete saved trip;
 * - deleting saved trip 1 from the list of saved trips (the link's target) resumes recording by
 *   itself at once (well before the 60 s disk retry), and retention reclaims trip 1's footage;
 * - when the card is full again, deleting trip 2 (still recording) makes it go on unsaved and
 *   recording resumes again.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freeBytes } from "../src/actors/retention.ts";
import { RuntimeFixture } from "./helpers/inprocess.ts";
import { webSession } from "./helpers/http.ts";
import { FFMPEG_BIN } from "./helpers/media.ts";
import { runCli } from "./helpers/runtime.ts";
import { waitUntil } from "./helpers/wait.ts";

const fx = new RuntimeFixture("dashcam-save-fullcard-");
const mounts: string[] = [];
afterEach(async () => {
  await fx.cleanup().catch(() => {});
  for (const m of mounts.splice(0)) spawnSync("umount", ["-l", m]);
});

const MB = 1_000_000;

/** A 12 MB tmpfs at `dir` when this process may mount one, else null. */
function mountTmpfs(dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=12m", "tmpfs", dir]);
  if (r.status !== 0) return false;
  mounts.push(dir);
  return true;
}

describe("a full card", () => {
  test("recording stops with disk_full and every page says so; deleting a saved trip resumes recording by itself", async () => {
    const base = fx.tempDir();
    const clip = join(base, "noisy.ts");
    execFileSync(FFMPEG_BIN, [
      "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-vf", "noise=alls=60:allf=t",
      "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4M", "-maxrate", "4M", "-bufsize", "2M", "-g", "50", "-f", "mpegts", clip,
    ]);
    const dataDir = join(base, "card");
    const tmpfs = mountTmpfs(dataDir);
    const minFree = tmpfs ? 2 * MB : Math.max(0, freeBytes(base) - 9 * MB);
    console.log(`full card: ${tmpfs ? "12 MB tmpfs, min_free_bytes 2 MB" : `temp disk, min_free_bytes ${minFree} (tmpfs mount not allowed)`}; clip ${(statSync(clip).size / 6 / 1000).toFixed(0)} kB/s`);
    const camera = { key: "front", name: "Front", source: `file:${clip}`, segment_seconds: 2, ring_segments: 1000, min_free_bytes: minFree };
    const config = fx.config(dataDir, { cameras: [camera] });
    const configPath = join(base, "dashcam.toml");
    writeFileSync(configPath, `data_dir = "${dataDir}"\n[[cameras]]\nkey = "front"\nname = "Front"\nsource = "file:${clip}"\nsegment_seconds = 2\nring_segments = 1000\nmin_free_bytes = ${minFree}\n`);
    const h = await fx.start(config);
    const n = (sql: string, ...args: number[]) => (h.db.query(sql).get(...args) as { n: number }).n;
    const cameraState = () => (h.db.query("SELECT state FROM camera_status").get() as { state: string } | null)?.state;

    // trip 1: saved, then closed by stopping the camera
    await waitUntil("trip 1 with 2 segments", () => n("SELECT COUNT(*) AS n FROM segments") >= 2, 60_000);
    await h.actions.saveTrip(1, "ui");
    await h.actions.stopCamera("front");
    await waitUntil("trip 1 closed and saved", () => {
      const t = h.db.query("SELECT status, end_time_utc FROM trips WHERE id = 1").get() as { status: string; end_time_utc: number | null };
      return t.status === "saved" && t.end_time_utc !== null && cameraState() === "stopped";
    });
    // trip 2: saved at its start, records until the card is full
    await h.actions.startCamera("front");
    await waitUntil("trip 2", () => n("SELECT COUNT(*) AS n FROM trips WHERE id = 2") === 1, 30_000);
    await h.actions.saveTrip(2, "button");
    await waitUntil("disk_full", () => cameraState() === "disk_full", 120_000);

    const locked = h.db.query("SELECT absolute_index, rel_path FROM segments WHERE evidence_locked = 1 ORDER BY absolute_index").all() as { absolute_index: number; rel_path: string }[];
    const trips = h.db.query("SELECT id, start_absolute, last_absolute, status, cut_reason, cut_at_utc FROM trips ORDER BY id").all() as {
      id: number; start_absolute: number; last_absolute: number; status: string; cut_reason: string | null; cut_at_utc: number | null;
    }[];
    // nothing evidence-locked was deleted: every segment of both saved trips is there, with its file
    const expected = trips.reduce((k, t) => k + t.last_absolute - t.start_absolute + 1, 0);
    expect(locked.length).toBe(expected);
    expect(locked.filter((s) => !existsSync(join(dataDir, s.rel_path)))).toEqual([]);
    expect(trips.map((t) => [t.id, t.status, t.cut_reason])).toEqual([
      [1, "saved", null],
      [2, "saved", "disk_full"],
    ]);
    expect(trips[1]!.last_absolute - trips[1]!.start_absolute).toBeGreaterThanOrEqual(3);

    // what the driver sees
    const cookie = await webSession(h.url);
    const get = (path: string) => fetch(`${h.url}${path}`, { headers: { cookie } });
    const tripPage = await (await get("/trips/2")).text();
    expect(tripPage).toContain("The card is full");
    expect(tripPage).toContain('href="/trips?kept=1"');
    expect(tripPage).toMatch(/Saved: [^<]+ kept/);
    expect(tripPage).toContain("the card is full, the rest of the drive is not recorded");
    const home = await (await get("/")).text();
    expect(home).toContain("The card is full");
    expect(home).toContain("Make room: delete saved trips");
    const health = await fetch(`${h.url}/healthz`);
    expect(health.status).toBe(503);
    const hj = (await health.json()) as { ok: boolean; cameras: { key: string; state: string; ok: boolean; problem: string | null }[] };
    expect(hj.ok).toBe(false);
    expect(hj.cameras).toEqual([expect.objectContaining({ key: "front", state: "disk_full", ok: false, problem: expect.stringContaining("disk full") })]);
    // the segment being written when recording stopped was indexed and kept with trip 2
    await waitUntil("the interrupted segment settled", () => {
      const next = (h.db.query("SELECT absolute_segments AS n FROM camera_state").get() as { n: number }).n;
      return !existsSync(join(dataDir, "recordings/front", `${String(next).padStart(9, "0")}.ts`));
    }, 15_000);
    const check = await runCli(["check", "--config", configPath]);
    expect(check.code).toBe(1);
    expect(check.stdout.split("\n").filter((l) => l.startsWith("PROBLEM"))).toEqual([
      expect.stringMatching(/^PROBLEM saved trip 2 \(camera front\) is incomplete: recording stopped at \d{4}-\d\d-\d\dT/),
    ]);

    // one tap from the message: the saved trips, each with a Delete button
    const list = await (await get("/trips?kept=1")).text();
    expect(list).toContain('action="/trips/1/delete"');
    expect(list).toContain('action="/trips/2/delete"');
    const csrf = /X-CSRF-Token(?:&quot;|"):(?:&quot;|")([^&"]+)/.exec(list)![1]!;
    const lastBefore = trips[1]!.last_absolute;
    const deletedAt = Date.now();
    /** The Delete button of the saved-trips list, as a form post. */
    const deleteSaved = (id: number) =>
      fetch(`${h.url}/trips/${id}/delete`, {
        method: "POST",
        body: new URLSearchParams({ back: "kept" }),
        headers: { cookie, "X-CSRF-Token": csrf, origin: h.url, "content-type": "application/x-www-form-urlencoded" },
        redirect: "manual",
      });
    const del = await deleteSaved(1);
    expect(del.status).toBe(303);
    expect(del.headers.get("location")).toBe("/trips?kept=1");
    // recording resumes by itself, long before the 60 s disk retry
    await waitUntil("recording again", () => cameraState() === "recording" || cameraState() === "starting", 15_000);
    expect(Date.now() - deletedAt).toBeLessThan(30_000);
    await waitUntil("a new segment in trip 2", () => (h.db.query("SELECT last_absolute FROM trips WHERE id = 2").get() as { last_absolute: number }).last_absolute > lastBefore, 30_000);
    // no longer saved: closed, or evicted once retention has taken all of it
    expect(["closed", "evicted"]).toContain((h.db.query("SELECT status FROM trips WHERE id = 1").get() as { status: string }).status);
    expect(n("SELECT COUNT(*) AS n FROM saved_trips WHERE trip_id = 1")).toBe(0);
    // retention took trip 1's footage to make that room; trip 2's is all still there
    expect(n("SELECT COUNT(*) AS n FROM segments WHERE absolute_index BETWEEN ? AND ?", trips[0]!.start_absolute, trips[0]!.last_absolute)).toBeLessThan(trips[0]!.last_absolute - trips[0]!.start_absolute + 1);
    expect(n("SELECT COUNT(*) AS n FROM segments WHERE absolute_index BETWEEN ? AND ? AND evidence_locked = 1", trips[1]!.start_absolute, lastBefore)).toBe(lastBefore - trips[1]!.start_absolute + 1);
    const resumedPage = await (await get("/trips/2")).text();
    expect(resumedPage).toContain("recording paused at");

    // the card fills again with trip 2, the only saved trip left, still recording: deleting it
    // makes it go on unsaved, and the ring reclaims its oldest footage
    await waitUntil("disk_full again", () => cameraState() === "disk_full", 60_000);
    const lastFull = (h.db.query("SELECT last_absolute FROM trips WHERE id = 2").get() as { last_absolute: number }).last_absolute;
    const del2 = await deleteSaved(2);
    expect(del2.status).toBe(303);
    expect(h.db.query("SELECT status, end_time_utc FROM trips WHERE id = 2").get()).toEqual({ status: "open", end_time_utc: null });
    expect(n("SELECT COUNT(*) AS n FROM saved_trips")).toBe(0);
    await waitUntil("recording again after deleting trip 2", () => cameraState() === "recording" || cameraState() === "starting", 15_000);
    await waitUntil("trip 2 grows, unsaved", () => (h.db.query("SELECT last_absolute FROM trips WHERE id = 2").get() as { last_absolute: number }).last_absolute > lastFull, 30_000);
    expect(n("SELECT COUNT(*) AS n FROM segments WHERE evidence_locked = 1")).toBe(0);
    expect(n("SELECT COUNT(*) AS n FROM segments WHERE absolute_index = ?", trips[1]!.start_absolute)).toBe(0); // reclaimed
    await h.stop();
  }, 180_000);
});
