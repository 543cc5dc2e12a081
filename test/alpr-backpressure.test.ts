/**
 * Backpressure with the real sampler: real segments (ffmpeg testsrc through the segment muxer,
 * indexed with the indexer), frames extracted by real ffmpeg, a real SQLite file. The stages
 * are held (an injected pool that waits) so the backlog stays above `max_queue`: later
 * segments are skipped without running ffmpeg, the skipped frames are counted (counters row,
 * event log, plates page) and nothing is lost or left behind once the stages are released.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startAlprService } from "../src/actors/alpr.ts";
import { COUNTERS } from "../src/db/alprTasks.ts";
import { getCounter } from "../src/db/counters.ts";
import { indexSegment } from "../src/db/segments.ts";
import { segmentRelPath } from "../src/paths.ts";
import { decodeImage } from "../src/vision/image.ts";
import type { StagePool } from "../src/alpr/runner.ts";
import { alprConfig, FFMPEG, filesUnder, makeEnv, platesApp, waitFor, type TestEnv } from "./alpr-helpers.ts";

let env: TestEnv;
beforeEach(() => (env = makeEnv("alpr-bp-")));
afterEach(() => env.cleanup());

/** Records `n` segments of `secs` s (320x240 testsrc, keyframe every second) into the ring and indexes them. */
async function record(n: number, secs: number, t0: number): Promise<void> {
  const dir = join(env.dataDir, "recordings", env.cameraKey);
  mkdirSync(dir, { recursive: true });
  const csv = join(env.dir, "seg.csv");
  await Bun.$`${FFMPEG} -nostdin -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=5 -t ${n * secs} -c:v libx264 -preset ultrafast -g 5 -pix_fmt yuv420p -f segment -segment_time ${secs} -segment_format mpegts -segment_list ${csv} -segment_list_type csv -reset_timestamps 0 ${join(dir, "%09d.ts")}`.quiet();
  for (const line of readFileSync(csv, "utf8").trim().split("\n")) {
    const [file, start, end] = line.split(",");
    const abs = Number(file.replace(".ts", ""));
    indexSegment(
      env.db,
      { cameraId: env.cameraId, absoluteIndex: abs, relPath: segmentRelPath(env.cameraKey, abs), startUtc: t0 + Number(start) * 1000, endUtc: t0 + Number(end) * 1000, bytes: 1 },
      "test-boot",
    );
  }
}

test("when the backlog reaches max_queue, segments are skipped and counted, never queued", async () => {
  const t0 = Date.UTC(2026, 0, 15, 12, 0, 0);
  await record(4, 2, t0);
  let release!: () => void;
  const hold = new Promise<void>((r) => (release = r));
  let started = 0;
  const pool: StagePool = {
    workers: 2,
    decodeImage: async (b) => decodeImage(b),
    detectVehicles: async () => {
      started++;
      await hold;
      return [];
    },
    detectPlates: async () => [],
    readCandidates: async () => [],
    close: async () => {},
  };
  const config = alprConfig(env, "sample_fps = 2\nmax_queue = 3\nbackfill_segments = 100\ntrack_flush_ms = 100\npoll_ms = 50");
  const service = startAlprService({ db: env.db, config, dataDir: env.dataDir, pool, ffmpegPath: FFMPEG });
  try {
    // segment 0 is read (4 frames); segments 1-3 find 4 >= 3 unfinished frame tasks and are skipped
    await waitFor(() => service.status().pendingSegments === 0, 30_000, "all segments sampled or skipped");
    expect(started).toBeGreaterThan(0);
    const status = service.status();
    expect(status.sampledFrames).toBe(4);
    expect(status.skippedFrames).toBe(12); // 3 segments x 2 s x 2 frames/s
    expect(getCounter(env.db, COUNTERS.skippedCamera(env.cameraId))).toBe(12);
    expect(filesUnder(join(env.dataDir, "frames"))).toHaveLength(4); // only segment 0's frames exist
    expect(env.db.query("SELECT COUNT(*) AS n FROM tasks").get()).toEqual({ n: 4 });
    // one event when skipping starts, not one per segment
    const ev = env.db.query("SELECT message FROM event_log WHERE kind = 'alpr.backlog'").all() as { message: string }[];
    expect(ev).toHaveLength(1);
    expect(ev[0].message).toContain("max_queue 3");
    // the plates page shows the count
    const app = platesApp(env, config);
    const html = await (await app.request("/plates")).text();
    expect(html).toMatch(/Skipped<\/dt><dd>12 pictures/);
    // read-locks taken while extracting are all released
    expect(env.db.query("SELECT SUM(locked) AS n FROM segments").get()).toEqual({ n: 0 });
    release();
    await waitFor(() => service.isIdle(), 30_000, "idle");
  } finally {
    release();
    await service.stop();
  }
  expect(filesUnder(join(env.dataDir, "frames"))).toEqual([]);
  expect(service.status().backlog).toBe(0);
}, 60_000);
