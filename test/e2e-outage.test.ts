/**
 * Fault (a): the RTSP camera goes away for 20 s and comes back on the same address.
 * The publisher re-encodes the highway clip at 640x360 with a keyframe every 2 s (a camera with
 * a short GOP; the recorder still only copies), so segments are 2 s and the outage is many
 * segments long. Asserted from the outside: the camera goes to backoff (camera_status.state
 * and actor_transitions), resumes recording by itself, reconnect_count rises, exactly one
 * recording_gaps row covers the outage (its start may lag the stop by the stream's delivery
 * latency, at most 1 s), the trip's HLS playlist marks one discontinuity, and
 * `dashcam check` passes after an orderly stop.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { RtspCamera } from "./helpers/rtsp.ts";
import {
  makeTempDir, removeDir, writeConfig, startRuntime, runCli, readDb, segmentsOf, cameraStateOf, cameraStatusOf, tripsOf, type Runtime,
} from "./helpers/runtime.ts";
import { killAllStarted, sleep, waitFor } from "./helpers/proc.ts";
import { gapRowsMatch, ringCounters, rowsMatchFiles } from "./helpers/invariants.ts";
import { webSession } from "./helpers/http.ts";

const KEY = "outage";
const CAPACITY = 200;
const OUTAGE_MS = 20_000;
/** Allowed lateness of segment wall-clock times (see the gap assertion). */
const CLOCK_SLACK_MS = 1000;

let dir = "";
let cam: RtspCamera | null = null;
let rt: Runtime | null = null;

afterAll(async () => {
  await rt?.kill();
  await cam?.stop();
  killAllStarted();
  if (dir) removeDir(dir);
});

test("RTSP server down for 20 s: backoff, reconnect by itself, one gap row covering the outage", async () => {
  cam = new RtspCamera({ reencode: { width: 640, height: 360, gop: 50 } });
  await cam.start();
  dir = makeTempDir();
  const dataDir = join(dir, "data");
  const configPath = writeConfig(dir, {
    data_dir: dataDir,
    cameras: [
      {
        key: KEY,
        source: cam.url,
        rtsp_transport: "udp",
        segment_seconds: 2,
        ring_segments: CAPACITY,
        stall_seconds: 6,
        backoff_initial_ms: 1000,
        backoff_max_ms: 4000,
      },
    ],
  });
  rt = await startRuntime(configPath, { env: { DASHCAM_BOOT_ID: `e2e-outage-${Date.now()}` }, label: "outage" });

  await waitFor("3 segments while recording", () => segmentsOf(dataDir, KEY).length >= 3 && cameraStatusOf(dataDir, KEY)?.state === "recording", 60_000);
  const before = cameraStatusOf(dataDir, KEY)!;
  const gapsBefore = readDb(dataDir, (db) => db.query("SELECT COUNT(*) AS n FROM recording_gaps").get() as { n: number })!.n;
  expect(gapsBefore).toBe(0);

  // outage
  const tStop = Date.now();
  await cam.stop();
  const statesSeen = new Set<string>();
  while (Date.now() - tStop < OUTAGE_MS) {
    const s = cameraStatusOf(dataDir, KEY);
    if (s) statesSeen.add(s.state);
    await sleep(200);
  }
  const tRestart = Date.now();
  await cam.start();

  // resumes by itself: a segment that started after the restart, and the state is recording again
  await waitFor(
    "a segment recorded after the restart",
    () => segmentsOf(dataDir, KEY).filter((r) => r.start_utc >= tRestart).length >= 2 && cameraStatusOf(dataDir, KEY)?.state === "recording",
    90_000,
  );
  const after = cameraStatusOf(dataDir, KEY)!;
  console.log(`states seen during the outage: ${[...statesSeen].join(", ")}; reconnect_count ${before.reconnect_count} -> ${after.reconnect_count}`);

  expect(statesSeen.has("backoff")).toBe(true);
  expect(after.reconnect_count).toBeGreaterThan(before.reconnect_count);
  expect(after.last_error ?? "").not.toBe(""); // the outage left a reason

  const transitions = readDb(dataDir, (db) =>
    db
      .query("SELECT actor_id, from_state, event, to_state, at FROM actor_transitions WHERE actor_id LIKE $pat AND at >= $t ORDER BY id")
      .all({ pat: `%${KEY}%`, t: tStop }) as { actor_id: string; from_state: string | null; event: string; to_state: string; at: number }[],
  )!;
  const toBackoff = transitions.filter((t) => t.to_state.includes("backoff"));
  expect(toBackoff.length).toBeGreaterThan(0);
  const backToRecording = transitions.filter((t) => t.to_state.includes("recording") && t.at >= toBackoff[0].at);
  expect(backToRecording.length).toBeGreaterThan(0);

  // exactly one gap row, covering the outage
  const gaps = readDb(dataDir, (db) => db.query("SELECT gap_start, gap_end FROM recording_gaps ORDER BY gap_start").all() as { gap_start: number; gap_end: number }[])!;
  expect(gaps.length).toBe(1);
  console.log(`gap ${gaps[0].gap_start - tStop} ms from the stop to ${gaps[0].gap_end - tRestart} ms from the restart`);
  // segment wall-clock times are ffmpeg's stream time anchored when a segment closes, so they
  // run late by the delivery latency (tens of ms): the gap may start up to CLOCK_SLACK_MS after
  // the moment the server was stopped, never later
  expect(gaps[0].gap_start).toBeLessThanOrEqual(tStop + CLOCK_SLACK_MS);
  expect(gaps[0].gap_end).toBeGreaterThanOrEqual(tRestart);
  // and it is exactly the hole between two indexed segments
  const rows = segmentsOf(dataDir, KEY);
  const beforeGap = rows.filter((r) => r.end_utc <= gaps[0].gap_start);
  const afterGap = rows.filter((r) => r.start_utc >= gaps[0].gap_end);
  expect(beforeGap.length + afterGap.length).toBe(rows.length);
  expect(beforeGap[beforeGap.length - 1].end_utc).toBe(gaps[0].gap_start);
  expect(afterGap[0].start_utc).toBe(gaps[0].gap_end);

  // one trip (same boot) whose playlist marks the hole once
  const trips = tripsOf(dataDir, KEY);
  expect(trips.length).toBe(1);
  const cookie = await webSession(rt.url);
  const playlist = await (await fetch(`${rt.url}/trips/${trips[0].id}/playlist.m3u8`, { headers: { cookie } })).text();
  const discontinuities = playlist.split("\n").filter((l) => l === "#EXT-X-DISCONTINUITY").length;
  if (discontinuities !== 1) console.log(playlist);
  expect(discontinuities).toBe(1);

  expect(await rt.terminate()).toBe(0);
  rt = null;
  const final = segmentsOf(dataDir, KEY);
  expect(rowsMatchFiles(dataDir, KEY, final, true)).toEqual([]);
  expect(ringCounters(cameraStateOf(dataDir, KEY)!, final, CAPACITY)).toEqual([]);
  expect(gapRowsMatch(dataDir, KEY, final)).toEqual([]);
  const check = await runCli(["check", "--config", configPath]);
  expect({ code: check.code, stderr: check.stderr }).toEqual({ code: 0, stderr: "" });
}, 240_000);
