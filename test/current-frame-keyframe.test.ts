/**
 * Keyframe-aligned current frames (`keyframeWaitMs`, src/media/currentFrameService.ts) on real
 * MPEG-TS streams decoded by real ffmpeg:
 * - a pre-encoded test pattern with a 3 s GOP (10 frames/s, a keyframe every 30 frames), fed to
 *   a hub packet by packet so the test knows exactly where in the GOP the hub is: a request in
 *   the middle of a GOP waits for the next keyframe and decodes it alone (1 frame), requests
 *   waiting together share that decode, and an immediate request meanwhile decodes the GOP at
 *   once; a GOP of one frame is decoded at once; a wait shorter than the time to the next
 *   keyframe (or cut short by the request's timeout) falls back to decoding the GOP; a run that
 *   ends during the wait is `not_recording`; a timelapse capture of a recording camera (real
 *   SQLite file) stores the keyframe, with the wait in its attempt's `duration_ms`;
 * - the highway clip (1280x720, 25 frames/s, a keyframe every 10 s) played in real time by
 *   ffmpeg (`-re`, `-c copy`) into a hub, as a recorder's live copy is: the keyframe-aligned
 *   frame is one decoded frame and at most 2 s old when the request resolves.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LiveHub, LiveHubs } from "../src/media/liveHub.ts";
import { LiveFrameService, jpegSize } from "../src/media/currentFrameService.ts";
import { FrameUnavailableError, type CurrentFrame } from "../src/media/currentFrame.ts";
import { encodeTestPatternTs } from "./helpers/media.ts";
import { HIGHWAY_CLIP } from "./helpers/rtsp.ts";
import { sleep } from "./helpers/proc.ts";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import type { AttemptRow, ImageRow } from "../src/db/timelapse.ts";
import { validateConfig } from "../src/config.ts";
import { captureOnce } from "../src/actors/timelapseCapture.ts";
import { DEBIAN_FFMPEG as FFMPEG } from "./recording-helpers.ts";

const GOP = 30;
let dir = "";
let stream: Uint8Array;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "dashcam-keyframe-"));
  stream = await encodeTestPatternTs(join(dir, "src.ts"), 8, GOP);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Feeds `stream` to `hub` one TS packet at a time from byte `from` until `until()` holds; returns the next offset. */
function feedUntil(hub: LiveHub, from: number, until: () => boolean): number {
  let o = from;
  while (!until()) {
    if (o >= stream.length) throw new Error("the stream ended before the condition held");
    hub.push(stream.subarray(o, o + 188));
    o += 188;
  }
  return o;
}

/** A running hub of camera "cam" and a frame service over it, the test stream fed until `until(hub)` holds (`offset`: bytes fed). */
function startHubUntil(until: (hub: LiveHub) => boolean) {
  const hubs = new LiveHubs();
  const hub = hubs.get("cam");
  hub.beginRun();
  const service = new LiveFrameService(hubs, (k) => (k === "cam" ? "enabled" : "unknown"), { ffmpegPath: FFMPEG });
  return { hub, service, offset: until(hub) ? 0 : feedUntil(hub, 0, () => until(hub)) };
}

/** A promise with a flag telling whether it has settled. */
function track<T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  const promise = p.finally(() => {
    done = true;
  });
  return { promise, settled: () => done };
}

/** Runs `fn` while counting the processes Bun spawns (each ffmpeg decode is one). */
async function countingSpawns<T>(fn: () => Promise<T>): Promise<{ value: T; spawned: number }> {
  let spawned = 0;
  const orig = Bun.spawn;
  Bun.spawn = ((...args: Parameters<typeof Bun.spawn>) => {
    spawned++;
    return orig(...args);
  }) as typeof Bun.spawn;
  try {
    const value = await fn();
    return { value, spawned };
  } finally {
    Bun.spawn = orig;
  }
}

describe("keyframe-aligned current frames (3 s GOP test pattern, fed packet by packet)", () => {
  test("mid-GOP: waits for the next keyframe and decodes it alone, shared by the requests waiting; an immediate request meanwhile decodes the GOP at once", async () => {
    const started = startHubUntil((h) => h.keyframes === 1 && h.gopFrames === 15);
    const { hub, service } = started;
    let offset = started.offset;
    const { value, spawned } = await countingSpawns(async () => {
      const a = track(service.current("cam", { keyframeWaitMs: 20_000, timeoutMs: 30_000 }));
      const b = track(service.current("cam", { keyframeWaitMs: 20_000, timeoutMs: 30_000 }));
      await sleep(300);
      expect(a.settled()).toBe(false); // waiting for a keyframe that has not come
      const immediate = await service.current("cam");
      expect(immediate.decodedFrames).toBe(15); // keyframe + 14 frames: every frame of the GOP so far
      expect(a.settled()).toBe(false); // the immediate request did not wait behind it
      expect(b.settled()).toBe(false);
      const fedAt = Date.now();
      offset = feedUntil(hub, offset, () => hub.keyframes === 2 && hub.gopFrames === 1);
      const [fa, fb] = await Promise.all([a.promise, b.promise]);
      return { immediate, fa, fb, fedAt, resolvedAt: Date.now() };
    });
    const { immediate, fa, fb, fedAt, resolvedAt } = value;
    expect(fa).toBe(fb); // one decode for both
    expect(fa.decodedFrames).toBe(1);
    expect(spawned).toBe(2); // the immediate decode and the keyframe's
    expect([fa.jpeg[0], fa.jpeg[1]]).toEqual([0xff, 0xd8]);
    expect(jpegSize(fa.jpeg)).toEqual({ width: 160, height: 120 });
    expect(fa.capturedAtMs).toBeGreaterThanOrEqual(fedAt); // the new keyframe, stamped with its arrival
    expect(fa.capturedAtMs).toBeGreaterThan(immediate.capturedAtMs);
    expect(resolvedAt - fa.capturedAtMs).toBeLessThanOrEqual(2000);
    expect(offset).toBeLessThan(stream.length);
  });

  test("a GOP of one complete frame is decoded at once, without waiting for the next keyframe", async () => {
    const { hub, service } = startHubUntil((hub) => hub.keyframes === 2 && hub.gopFrames === 1);
    // nothing more is fed: a request that waited for a keyframe would wait the whole minute
    const got = await Promise.race([service.current("cam", { keyframeWaitMs: 60_000, timeoutMs: 90_000 }), sleep(10_000).then(() => "waited" as const)]);
    expect(got).not.toBe("waited");
    const frame = got as CurrentFrame;
    expect(frame.decodedFrames).toBe(1);
    expect(Date.now() - frame.capturedAtMs).toBeLessThanOrEqual(2000);
  });

  test("no keyframe within keyframeWaitMs: falls back to decoding the GOP to its newest frame, still fresh", async () => {
    const { hub, service } = startHubUntil((hub) => hub.keyframes === 1 && hub.gopFrames === 12);
    const t0 = Date.now();
    const frame = await service.current("cam", { keyframeWaitMs: 300, timeoutMs: 10_000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290); // it did wait for a keyframe first
    expect(frame.decodedFrames).toBe(12);
    expect(Date.now() - frame.capturedAtMs).toBeLessThanOrEqual(2000);
  });

  test("the wait is cut short by the request's own timeout, leaving time for the fallback decode", async () => {
    const { hub, service } = startHubUntil((hub) => hub.keyframes === 1 && hub.gopFrames === 12);
    // 4 s timeout, 60 s keyframe wait: the wait ends 3 s before the deadline and the GOP is decoded
    const frame = await service.current("cam", { keyframeWaitMs: 60_000, timeoutMs: 4000 });
    expect(frame.decodedFrames).toBe(12);
    expect(Date.now() - frame.capturedAtMs).toBeLessThanOrEqual(2000);
  });

  test("the run ends during the wait: not_recording, not a hang", async () => {
    const { hub, service } = startHubUntil((hub) => hub.keyframes === 1 && hub.gopFrames === 12);
    const pending = service.current("cam", { keyframeWaitMs: 60_000, timeoutMs: 90_000 }).then(
      () => "resolved",
      (e) => (e instanceof FrameUnavailableError ? e.reason : String(e)),
    );
    await sleep(200);
    hub.endRun("the camera stopped recording");
    expect(await pending).toBe("not_recording");
  });
});

describe("a timelapse capture of a recording camera", () => {
  test("mid-GOP: the try waits for the keyframe and stores it (one decoded frame); duration_ms includes the wait", async () => {
    const config = validateConfig({ data_dir: dir, cameras: [{ key: "cam", source: "testsrc", timelapse: { interval_seconds: 10 } }] }, dir);
    const cam = config.cameras[0]!;
    const db = openDatabase(join(dir, "dashcam.db"));
    try {
      const cameraId = syncCameras(db, config.cameras, null).get("cam")!;
      const { hub, service, offset } = startHubUntil((h) => h.keyframes === 1 && h.gopFrames === 12);
      const decoded: CurrentFrame[] = [];
      const frameSource = { current: (key: string, request?: Parameters<typeof service.current>[1]) => service.current(key, request).then((f) => (decoded.push(f), f)) };
      const attempt = captureOnce({ db, dataDir: dir, cameras: new Map([["cam", cam]]), frameSource }, cam, cameraId, 0);
      await sleep(800);
      const fedAt = Date.now();
      feedUntil(hub, offset, () => hub.keyframes === 2 && hub.gopFrames === 1);
      const outcome = await attempt;
      expect(outcome).toMatchObject({ status: "success", error: null });
      expect(decoded.map((f) => f.decodedFrames)).toEqual([1]);
      const row = db.query("SELECT * FROM capture_attempts WHERE image_id = ?").get(outcome.imageId!) as AttemptRow;
      expect(row.status).toBe("success");
      expect(row.duration_ms!).toBeGreaterThanOrEqual(800);
      const image = db.query("SELECT * FROM images WHERE id = ?").get(outcome.imageId!) as ImageRow;
      expect(image.captured_at).toBe(decoded[0]!.capturedAtMs);
      expect(image.captured_at).toBeGreaterThanOrEqual(fedAt);
      expect([image.width, image.height]).toEqual([160, 120]);
    } finally {
      db.close();
    }
  });
});

describe("keyframe-aligned current frames (highway clip, 10 s GOP, real time)", () => {
  test("a request 1 s into the GOP decodes the next keyframe alone, at most 2 s old when it resolves; an immediate one decodes the GOP", async () => {
    const { hub, service } = startHubUntil(() => true);
    const player = Bun.spawn(
      [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i", HIGHWAY_CLIP, "-map", "0:v:0", "-c", "copy", "-f", "mpegts", "-flush_packets", "1", "pipe:1"],
      { stdout: "pipe", stderr: "ignore", stdin: "ignore" },
    );
    const pumping = (async () => {
      for await (const chunk of player.stdout) hub.push(chunk);
    })();
    try {
      const t = Date.now();
      while (!(hub.keyframes === 1 && (hub.gopFrames ?? 0) >= 25)) {
        if (Date.now() - t > 30_000) throw new Error("the clip did not reach the live hub");
        await sleep(20);
      }
      const askedAt = Date.now();
      const aligned = track(service.current("cam", { keyframeWaitMs: 12_000, timeoutMs: 20_000 }));
      const immediate = await service.current("cam");
      expect(aligned.settled()).toBe(false);
      expect(immediate.decodedFrames).toBeGreaterThanOrEqual(25);
      expect(Date.now() - immediate.capturedAtMs).toBeLessThanOrEqual(2000);
      const frame = await aligned.promise;
      const resolvedAt = Date.now();
      expect(frame.decodedFrames).toBe(1);
      expect(hub.keyframes).toBe(2);
      expect({ width: frame.width, height: frame.height }).toEqual({ width: 1280, height: 720 });
      expect(frame.capturedAtMs).toBeGreaterThan(askedAt);
      expect(resolvedAt - frame.capturedAtMs).toBeLessThanOrEqual(2000);
    } finally {
      player.kill();
      await player.exited;
      await pumping.catch(() => {});
      hub.endRun("done");
    }
  }, 60_000);
});
