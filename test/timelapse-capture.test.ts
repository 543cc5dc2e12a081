/**
 * Timelapse capture and render end to end, in one in-process runtime (src/runtime.ts) with real
 * ffmpeg and a real SQLite file: the highway clip as two timelapse-only file cameras (one
 * mounted sideways, `rotation = "left"`) captured every 2 s for ~30 s, a dead RTSP camera (a
 * closed loopback port), then manual batches rendered by the batch actors. A timelapse-only
 * camera has no recorder, so its current frame comes from `SourceGrabFrameSource`, which opens
 * the camera's real source with ffmpeg per call.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import { RuntimeFixture, queryDb } from "./helpers/inprocess.ts";
import { FFMPEG_BIN, FFPROBE } from "./helpers/media.ts";
import { jpegSize, renderTimelapse, DEFAULT_OVERLAY } from "../src/media/timelapse.ts";
import type { RuntimeHandle } from "../src/runtime.ts";
import { captureOnce, captureBackoffMs, captureKeyframeWaitMs } from "../src/actors/timelapseCapture.ts";
import { resolveFfmpeg } from "../src/media/ffmpeg.ts";
import { SourceGrabFrameSource } from "../src/media/sourceFrameGrab.ts";
import { validateConfig, ConfigError } from "../src/config.ts";
import type { AttemptRow, BatchRow, ImageRow } from "../src/db/timelapse.ts";

const CLIP = "/work/shared/data/video/highway-720p-25fps.mp4";
const CAPTURE_MS = 30_000;
const fx = new RuntimeFixture("dashcam-timelapse-");
let rt: RuntimeHandle;
let dataDir: string;
const today = new Date();
const start = new Date(today.getTime() - 4 * 86_400_000).toISOString().slice(0, 10);

/** A closed loopback port: nothing listens there (bound, then released). */
function closedPort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = s.port;
  s.stop(true);
  return p;
}

const rows = <T>(sql: string, ...params: (string | number)[]) => queryDb(dataDir, (db: Database) => db.prepare(sql).all(...params) as T[]);
const cameraId = (key: string) => rows<{ id: number }>("SELECT id FROM cameras WHERE key = ?", key)[0]!.id;

async function waitForBatch(id: number, timeoutMs = 60_000): Promise<BatchRow> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const b = rows<BatchRow>("SELECT * FROM timelapse_batches WHERE id = ?", id)[0]!;
    if (b.status === "completed" || b.status === "failed" || Date.now() > end) return b;
    await Bun.sleep(100);
  }
}

async function ffprobeJson(file: string, extra: string[]): Promise<Record<string, unknown>> {
  const p = Bun.spawn([FFPROBE, "-v", "error", "-print_format", "json", ...extra, file], { stdout: "pipe", stderr: "pipe" });
  const text = await new Response(p.stdout).text();
  expect(await p.exited).toBe(0);
  return JSON.parse(text) as Record<string, unknown>;
}

/** Frame `n` of `file` as 8-bit gray pixels (width x height). */
async function grayFrame(file: string, n: number, width: number, height: number): Promise<Uint8Array> {
  const p = Bun.spawn([FFMPEG_BIN, "-v", "error", "-i", file, "-vf", `select=eq(n\\,${n})`, "-frames:v", "1", "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const bytes = await new Response(p.stdout).bytes();
  expect(await p.exited).toBe(0);
  expect(bytes.length).toBe(width * height);
  return bytes;
}

beforeAll(async () => {
  dataDir = fx.tempDir();
  const timelapse = { interval_seconds: 2, day_counter_start: start, overlay_position: "top-left", frame_rate: 10 };
  const config = fx.config(dataDir, {
    cameras: [
      { key: "hw", source: `file:${CLIP}`, record: false, timelapse },
      { key: "hwleft", source: `file:${CLIP}`, record: false, timelapse: { ...timelapse, rotation: "left" } },
      { key: "dead", source: `rtsp://127.0.0.1:${closedPort()}/stream`, record: false, rtsp_transport: "tcp", timelapse: { interval_seconds: 1 } },
    ],
  });
  rt = await fx.start(config);
  await Bun.sleep(CAPTURE_MS);
}, CAPTURE_MS + 30_000);

afterAll(() => fx.cleanup());

describe("timelapse capture", () => {
  test("a file camera every 2 s: one images row per success, each a durable JPEG of the camera's size with its SHA-256 and day number", () => {
    const images = rows<ImageRow>("SELECT * FROM images WHERE camera_id = ? ORDER BY captured_at", cameraId("hw"));
    expect(images.length).toBeGreaterThanOrEqual(CAPTURE_MS / 2000 - 4);
    expect(images.length).toBeLessThanOrEqual(CAPTURE_MS / 2000 + 2);
    for (const img of images) {
      const bytes = readFileSync(join(dataDir, img.file_path));
      expect(bytes.length).toBe(img.file_size_bytes);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(img.file_hash!);
      expect(jpegSize(bytes)).toEqual({ width: 1280, height: 720 });
      expect([img.width, img.height, img.format]).toEqual([1280, 720, "jpeg"]);
      // seed 004's trigger: days since day_counter_start, counting it as day 1
      const expected = Math.floor((Date.parse(new Date(img.captured_at).toISOString().slice(0, 10)) - Date.parse(start)) / 86_400_000) + 1;
      expect(img.day_number).toBe(expected);
    }
    // one try every 2 s: consecutive tries start at least the interval apart (the scheduler's
    // spacing, start to start); each picture is a newer frame than the one before it. The
    // capture times themselves may come closer than 2 s, since a grab (ffmpeg opening the
    // source) takes longer on a busy machine than the next one.
    const attempts = rows<AttemptRow>("SELECT * FROM capture_attempts WHERE camera_id = ? ORDER BY id", cameraId("hw"));
    const starts = attempts.slice(1).map((a, i) => a.attempted_at - attempts[i]!.attempted_at);
    expect(Math.min(...starts)).toBeGreaterThanOrEqual(1990); // 10 ms: timer and millisecond-clock granularity
    const gaps = images.slice(1).map((img, i) => img.captured_at - images[i]!.captured_at);
    expect(Math.min(...gaps)).toBeGreaterThan(0);
  });

  test("rotation = left stores the image turned: width and height swapped", () => {
    const images = rows<ImageRow>("SELECT * FROM images WHERE camera_id = ?", cameraId("hwleft"));
    expect(images.length).toBeGreaterThanOrEqual(CAPTURE_MS / 2000 - 4);
    for (const img of images) {
      expect([img.width, img.height]).toEqual([720, 1280]);
      expect(jpegSize(readFileSync(join(dataDir, img.file_path)))).toEqual({ width: 720, height: 1280 });
    }
  });

  test("one capture_attempts row per attempt: each success names its image, with a duration", () => {
    const id = cameraId("hw");
    const attempts = rows<AttemptRow>("SELECT * FROM capture_attempts WHERE camera_id = ? ORDER BY id", id);
    const images = rows<ImageRow>("SELECT * FROM images WHERE camera_id = ?", id);
    const successes = attempts.filter((a) => a.status === "success");
    expect(successes.length).toBe(images.length);
    expect(new Set(successes.map((a) => a.image_id))).toEqual(new Set(images.map((i) => i.id)));
    for (const a of successes) {
      expect(a.duration_ms!).toBeGreaterThan(0);
      expect(a.duration_ms!).toBeLessThan(8000);
    }
  });

  test("a dead camera: failed attempts with the error and a growing retry_count and backoff, no image, no hang", () => {
    const attempts = rows<AttemptRow>("SELECT * FROM capture_attempts WHERE camera_id = ? ORDER BY id", cameraId("dead"));
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    expect(attempts.length).toBeLessThanOrEqual(7);
    for (const [i, a] of attempts.entries()) {
      expect(["failed", "timeout"]).toContain(a.status);
      expect(a.image_id).toBeNull();
      expect(a.error_message!.length).toBeGreaterThan(0);
      expect(a.retry_count).toBe(i);
    }
    const gaps = attempts.slice(1).map((a, i) => a.attempted_at - attempts[i]!.attempted_at);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThan(gaps[i - 1]! * 1.5);
    expect(rows<ImageRow>("SELECT * FROM images WHERE camera_id = ?", cameraId("dead")).length).toBe(0);
  });
});

describe("timelapse render", () => {
  let plain: BatchRow;
  let withOverlay: BatchRow;

  test("a manual batch over the captures completes; the MP4 has exactly total_frames frames at frame_rate, H.264 yuv420p, faststart", async () => {
    const images = rows<ImageRow>("SELECT * FROM images WHERE camera_id = ? ORDER BY captured_at", cameraId("hw"));
    const from = images[0]!.captured_at;
    const to = images.at(-1)!.captured_at;
    const a = await rt.actions.createTimelapse({ cameraKey: "hw", range: { fromUtc: from, toUtc: to }, frameRate: 10, overlay: false });
    const b = await rt.actions.createTimelapse({ cameraKey: "hw", range: { fromUtc: from, toUtc: to }, frameRate: 10, overlay: true });
    expect(a.frames).toBe(images.length);
    plain = await waitForBatch(a.batchId);
    withOverlay = await waitForBatch(b.batchId);
    for (const batch of [plain, withOverlay]) {
      expect(batch.status).toBe("completed");
      expect(batch.total_frames).toBe(images.length);
      expect(batch.duration_seconds).toBeCloseTo(images.length / 10, 5);
      const file = join(dataDir, batch.output_path!);
      const bytes = readFileSync(file);
      expect(bytes.length).toBe(batch.file_size_bytes!);
      const probe = (await ffprobeJson(file, ["-count_frames", "-select_streams", "v:0", "-show_streams"])) as { streams: Record<string, string>[] };
      const s = probe.streams[0]!;
      expect([s.codec_name, s.pix_fmt, s.r_frame_rate, Number(s.nb_read_frames)]).toEqual(["h264", "yuv420p", "10/1", images.length]);
      // +faststart: the index (moov) comes before the media data (mdat)
      const text = bytes.subarray(0, 64 * 1024).toString("latin1");
      expect(text.indexOf("moov")).toBeGreaterThan(0);
      expect(text.indexOf("moov")).toBeLessThan(text.indexOf("mdat"));
      expect(batch.started_at!).toBeLessThanOrEqual(batch.completed_at!);
    }
    expect(withOverlay.day_overlay_applied).toBe(1);
    expect(withOverlay.day_range_start).toBe(images[0]!.day_number);
    expect(withOverlay.day_range_end).toBe(images.at(-1)!.day_number);
    const junction = rows<{ image_id: number; sequence_order: number }>(
      "SELECT image_id, sequence_order FROM timelapse_images WHERE timelapse_batch_id = ? ORDER BY sequence_order",
      plain.id,
    );
    expect(junction.map((j) => j.image_id)).toEqual(images.map((i) => i.id));
    expect(junction.map((j) => j.sequence_order)).toEqual(images.map((_, i) => i));
    // journaled: the batch actor's transitions end in completed
    const tr = rows<{ to_state: string }>("SELECT to_state FROM actor_transitions WHERE actor_id = ? ORDER BY id", `timelapse:${plain.id}`);
    expect(tr.map((t) => t.to_state)).toEqual(["processing", "completed"]);
  }, 90_000);

  test("the overlay changes its corner (top-left) and leaves the rest of the frame as it was", async () => {
    const W = 1280;
    const H = 720;
    const a = await grayFrame(join(dataDir, plain.output_path!), 1, W, H);
    const b = await grayFrame(join(dataDir, withOverlay.output_path!), 1, W, H);
    let cornerDiff = 0;
    let corner = 0;
    let restDiff = 0;
    let rest = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const d = Math.abs(a[y * W + x]! - b[y * W + x]!);
        if (x < 180 && y < 60) {
          cornerDiff += d;
          corner++;
        } else if (x > 260 || y > 120) {
          restDiff += d;
          rest++;
        }
      }
    }
    expect(cornerDiff / corner).toBeGreaterThan(20);
    expect(restDiff / rest).toBeLessThan(1.5);
  });

  test("images of different sizes (a camera turned from landscape to portrait) still give one frame each, fitted into the first one's size", async () => {
    const wide = rows<ImageRow>("SELECT * FROM images WHERE camera_id = ? ORDER BY captured_at LIMIT 4", cameraId("hw"));
    const tall = rows<ImageRow>("SELECT * FROM images WHERE camera_id = ? ORDER BY captured_at LIMIT 3", cameraId("hwleft"));
    const frames = [wide[0]!, tall[0]!, wide[1]!, tall[1]!, tall[2]!, wide[2]!, wide[3]!].map((i) => ({
      image_id: i.id,
      file_path: i.file_path,
      day_number: i.day_number,
      width: i.width,
      height: i.height,
      captured_at: i.captured_at,
    }));
    for (const fr of [30, 7]) {
      const r = await renderTimelapse({ dataDir, relPath: `timelapse/videos/mixed-${fr}.mp4`, frames, frameRate: fr, overlay: DEFAULT_OVERLAY });
      const probe = (await ffprobeJson(join(dataDir, r.relPath), ["-count_frames", "-select_streams", "v:0", "-show_streams"])) as { streams: Record<string, string>[] };
      const s = probe.streams[0]!;
      expect([Number(s.width), Number(s.height), Number(s.nb_read_frames), s.r_frame_rate]).toEqual([1280, 720, frames.length, `${fr}/1`]);
    }
  });

  test("an empty range is refused with a reason and creates nothing", async () => {
    const before = rows<{ n: number }>("SELECT COUNT(*) AS n FROM timelapse_batches")[0]!.n;
    await expect(rt.actions.createTimelapse({ cameraKey: "hw", range: { fromUtc: 1000, toUtc: 2000 } })).rejects.toThrow(/no timelapse images/);
    await expect(rt.actions.createTimelapse({ cameraKey: "nope", range: { fromUtc: 1000, toUtc: 2000 } })).rejects.toThrow(/no camera/);
    expect(rows<{ n: number }>("SELECT COUNT(*) AS n FROM timelapse_batches")[0]!.n).toBe(before);
    expect(existsSync(join(dataDir, "timelapse/font/DejaVuSansMono-Bold.ttf"))).toBe(true);
  });
});

describe("capture edge cases", () => {
  test("a camera that accepts the connection and never answers: a `timeout` attempt within the bound, no image", async () => {
    // an RTSP "camera" that accepts TCP and stays silent
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      // timelapse-only (record = false), the cameras whose frames come from a source grab
      const cfg = validateConfig(
        { data_dir: dataDir, cameras: [{ key: "dead", source: `rtsp://127.0.0.1:${silent.port}/s`, rtsp_transport: "tcp", record: false, timelapse: { interval_seconds: 1 } }] },
        dataDir,
      );
      const cam = cfg.cameras[0]!;
      const t0 = Date.now();
      const r = await captureOnce(
        { db: rt.db, dataDir, cameras: new Map([["dead", cam]]), frameSource: new SourceGrabFrameSource(new Map([["dead", cam]])), captureTimeoutMs: 1500 },
        cam,
        cameraId("dead"),
        7,
      );
      const took = Date.now() - t0;
      expect(r.status).toBe("timeout");
      expect(r.imageId).toBeNull();
      expect(took).toBeGreaterThanOrEqual(1400);
      expect(took).toBeLessThan(4000);
      const row = rows<AttemptRow>("SELECT * FROM capture_attempts WHERE camera_id = ? ORDER BY id DESC LIMIT 1", cameraId("dead"))[0]!;
      expect([row.status, row.retry_count, row.image_id]).toEqual(["timeout", 7, null]);
      expect(row.error_message).toContain("1500 ms");
    } finally {
      silent.stop(true);
    }
  });

  test("both ffmpegs the program runs (the npm one it resolves, Debian's) have the filters a render needs", async () => {
    for (const bin of new Set([resolveFfmpeg(), FFMPEG_BIN])) {
      const p = Bun.spawn([bin, "-hide_banner", "-filters"], { stdout: "pipe", stderr: "pipe" });
      const text = await new Response(p.stdout).text();
      expect(await p.exited).toBe(0);
      for (const f of ["drawtext", "sendcmd", "transpose", "settb", "setpts", "select", "showinfo", "scale", "pad"]) expect(text).toMatch(new RegExp(`\\s${f}\\s`));
    }
  });

  test("the backoff doubles from the interval and stops at max(interval, 5 min)", () => {
    expect([1, 2, 3, 4].map((n) => captureBackoffMs(2000, n))).toEqual([2000, 4000, 8000, 16000]);
    expect(captureBackoffMs(2000, 30)).toBe(300_000);
    expect(captureBackoffMs(600_000, 5)).toBe(600_000);
  });

  test("a recording camera's capture waits for a keyframe at most min(interval, 12 s) or keyframe_wait_seconds; a timelapse-only camera never", () => {
    const cam = (timelapse: Record<string, unknown>, record = true) =>
      validateConfig({ data_dir: dataDir, cameras: [{ key: "c", source: "testsrc", record, timelapse }] }, dataDir).cameras[0]!;
    expect(captureKeyframeWaitMs(cam({ interval_seconds: 5 }))).toBe(5000);
    expect(captureKeyframeWaitMs(cam({ interval_seconds: 60 }))).toBe(12_000);
    expect(captureKeyframeWaitMs(cam({ interval_seconds: 60, keyframe_wait_seconds: 0 }))).toBe(0);
    expect(captureKeyframeWaitMs(cam({ interval_seconds: 60, keyframe_wait_seconds: 30 }))).toBe(30_000);
    expect(captureKeyframeWaitMs(cam({ interval_seconds: 60 }, false))).toBe(0);
  });

  test("[cameras.timelapse] is validated: a bad key names itself", () => {
    const bad = (timelapse: Record<string, unknown>) => () => validateConfig({ data_dir: dataDir, cameras: [{ key: "c", source: "testsrc", timelapse }] }, dataDir);
    expect(bad({ rotation: "sideways" })).toThrow(ConfigError);
    expect(bad({ rotation: "sideways" })).toThrow(/cameras\[0\]\.timelapse\.rotation/);
    expect(bad({ day_counter_start: "2025-02-30x" })).toThrow(/day_counter_start/);
    expect(bad({ overlay_style: { font_color: "white" } })).toThrow(/font_color/);
    expect(bad({ interval_seconds: 0 })).toThrow(/interval_seconds/);
    expect(bad({ intervall_seconds: 5 })).toThrow(/unknown key/);
    expect(bad({ keyframe_wait_seconds: -1 })).toThrow(/keyframe_wait_seconds/);
    expect(bad({ keyframe_wait_seconds: 61 })).toThrow(/keyframe_wait_seconds/);
    const ok = validateConfig({ data_dir: dataDir, cameras: [{ key: "c", source: "testsrc", record: false, timelapse: { interval_seconds: 5 } }] }, dataDir).cameras[0]!;
    expect([ok.record, ok.timelapse!.frame_rate, ok.timelapse!.keep_images_days, ok.timelapse!.generation_mode, ok.timelapse!.rotation]).toEqual([false, 30, 30, "manual_only", "none"]);
  });
});
