/**
 * The on-the-fly MP4 of a saved trip and a client that goes away mid-download: through the real
 * runtime in this process (ffmpeg recording its test pattern, 320x240, 2 s segments, real HTTP
 * with a logged-in session), the download starts with the MP4 header, the ffmpeg making it is
 * killed when the client disconnects, and the trip's read-locks are released.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { readdirSync, readFileSync } from "node:fs";
import { RuntimeFixture } from "./helpers/inprocess.ts";
import { webSession } from "./helpers/http.ts";
import { waitUntil } from "./helpers/wait.ts";

const fx = new RuntimeFixture("dashcam-save-download-");
afterEach(() => fx.cleanup());

const tripStatus = (db: Database, id: number) => (db.query("SELECT status FROM trips WHERE id = ?").get(id) as { status: string }).status;

/** Pids of this process's running ffmpeg children whose command line holds `needle` (from /proc). */
function ffmpegPidsWith(needle: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8");
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // a child of this process (other programs on the machine may run ffmpeg too), not a zombie
      const m = /\) (\S) (\d+) /.exec(stat);
      if (cmd.includes("ffmpeg") && cmd.includes(needle) && m && m[1] !== "Z" && Number(m[2]) === process.pid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe("downloading a saved trip", () => {
  test("a client that disconnects mid-download kills ffmpeg and releases the read-locks", async () => {
    const dataDir = fx.tempDir();
    const h = await fx.start(fx.config(dataDir));
    await waitUntil("10 segments", () => (h.db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 10, 60_000);
    const tripId = (h.db.query("SELECT id FROM trips").get() as { id: number }).id;
    await h.actions.saveTrip(tripId, "api");
    await waitUntil("saved", () => tripStatus(h.db, tripId) === "saved");
    const cookie = await webSession(h.url);
    expect(ffmpegPidsWith("frag_keyframe")).toEqual([]);
    const ac = new AbortController();
    const res = await fetch(`${h.url}/trips/${tripId}/saved.mp4`, { headers: { cookie }, signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.value!.byteLength).toBeGreaterThan(0);
    // ftyp first: the MP4 header is there from the first byte
    expect(new TextDecoder().decode(first.value!.subarray(4, 8))).toBe("ftyp");
    // still running: the client reads slowly, so ffmpeg waits on the pipe
    expect(ffmpegPidsWith("frag_keyframe").length).toBe(1);
    ac.abort();
    await reader.cancel().catch(() => {});
    await waitUntil("ffmpeg gone", () => ffmpegPidsWith("frag_keyframe").length === 0, 10_000);
    await waitUntil("read-locks released", () => (h.db.query("SELECT COALESCE(SUM(locked), 0) AS n FROM segments").get() as { n: number }).n === 0, 10_000);
    await h.stop();
  }, 90_000);
});
