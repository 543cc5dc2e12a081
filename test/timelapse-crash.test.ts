/**
 * Timelapse batches across a power cut and through the CLI, with the runtime as a separate
 * process (`bun src/main.ts run`), real ffmpeg and a real SQLite file:
 * - SIGKILL to the runtime and its ffmpeg while a batch renders: no partial video under the
 *   final name; after a restart the batch completes exactly once and `dashcam check` is clean;
 * - `dashcam timelapse create` through the control socket (waits, exit 0) and in-process (no
 *   runtime), `timelapse list --json`, and bad input (exit 2, nothing created).
 * The images are 400 real 1280x720 frames of the highway clip, stored as captures would be.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir, removeDir, runCli, startRuntime, readDb, type Runtime } from "./helpers/runtime.ts";
import { waitFor } from "./helpers/proc.ts";
import { FFMPEG_BIN, FFPROBE } from "./helpers/media.ts";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { insertCapture, type BatchRow } from "../src/db/timelapse.ts";
import { validateConfig } from "../src/config.ts";
import { dbPath } from "../src/paths.ts";
import { imageRelPath } from "../src/media/timelapse.ts";
import { controlRequest, liveControlSocket } from "../src/control.ts";

const CLIP = "/work/shared/data/video/highway-720p-25fps.mp4";
const FRAMES = 400;
/** 20 days ago at 08:00 UTC: the 400 hourly captures end ~3 days ago, inside keep_images_days. */
const T0 = Date.parse(new Date(Date.now() - 20 * 86_400_000).toISOString().slice(0, 10) + "T08:00:00Z");
/** The day counter starts 9 days before the first capture: it shows day 10 first. */
const DAY1 = new Date(T0 - 9 * 86_400_000).toISOString().slice(0, 10);
let dir: string;
let configPath: string;
let runtime: Runtime | null = null;

const toml = (dataDir: string) => `data_dir = ${JSON.stringify(dataDir)}
[http]
listen = "127.0.0.1:0"
[[cameras]]
key = "hw"
source = ${JSON.stringify(`file:${CLIP}`)}
record = false
[cameras.timelapse]
day_counter_start = "${DAY1}"
frame_rate = 25
keep_images_days = 30
`;

const batch = (id: number) => readDb(join(dir, "data"), (db) => db.prepare("SELECT * FROM timelapse_batches WHERE id = ?").get(id) as BatchRow | null);

async function frameCount(file: string): Promise<number> {
  const p = Bun.spawn([FFPROBE, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", file], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = await new Response(p.stdout).text();
  expect(await p.exited).toBe(0);
  return Number(out.trim());
}

beforeAll(async () => {
  dir = makeTempDir("dashcam-tlcrash-");
  configPath = join(dir, "dashcam.toml");
  writeFileSync(configPath, toml(join(dir, "data")));
  // 400 captures, one every 10 s of the clip's frames, written where the capturer puts them
  const frames = join(dir, "frames");
  mkdirSync(frames);
  const p = Bun.spawn([FFMPEG_BIN, "-v", "error", "-i", CLIP, "-vf", "fps=10", "-frames:v", String(FRAMES), "-q:v", "3", join(frames, "%04d.jpg")]);
  expect(await p.exited).toBe(0);
  const dataDir = join(dir, "data");
  mkdirSync(dataDir, { recursive: true });
  const config = validateConfig(Bun.TOML.parse(toml(dataDir)), dir);
  const db = openDatabase(dbPath(dataDir));
  const id = syncCameras(db, config.cameras, null).get("hw")!;
  db.run("UPDATE cameras SET day_counter_enabled = 1, day_counter_start_date = ? WHERE id = ?", [DAY1, id]);
  for (let i = 0; i < FRAMES; i++) {
    const at = T0 + i * 3_600_000; // hourly: ~17 days, so the overlay's day changes
    const rel = imageRelPath("hw", at);
    mkdirSync(join(dataDir, rel, ".."), { recursive: true });
    const bytes = readFileSync(join(frames, `${String(i + 1).padStart(4, "0")}.jpg`));
    writeFileSync(join(dataDir, rel), bytes);
    insertCapture(db, {
      cameraId: id,
      filename: rel.slice(rel.lastIndexOf("/") + 1),
      filePath: rel,
      bytes: bytes.length,
      width: 1280,
      height: 720,
      format: "jpeg",
      fileHash: createHash("sha256").update(bytes).digest("hex"),
      capturedAt: at,
      attemptedAt: at,
      durationMs: 100,
      retryCount: 0,
    });
  }
  db.close();
}, 60_000);

afterAll(async () => {
  await runtime?.kill();
  removeDir(dir);
});

describe("timelapse render across a power cut", () => {
  test("SIGKILL while rendering: no partial video; after restart the batch completes exactly once and check is clean", async () => {
    runtime = await startRuntime(configPath);
    const created = await runCli(["timelapse", "create", "--camera", "hw", "--from", String(T0), "--to", String(T0 + FRAMES * 3_600_000), "--overlay", "--no-wait", "--config", configPath]);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const id = Number(/^batch (\d+)$/m.exec(created.stdout)![1]);
    // wait until ffmpeg reports frames done (the runtime's control socket shows the progress), then cut the power
    const socket = (await liveControlSocket(join(dir, "data")))!;
    const progress = await waitFor(
      "render under way",
      async () => {
        const r = await controlRequest(socket, "GET", `/timelapses/${id}`);
        const done = Number(r.body.framesDone);
        return r.body.status === "processing" && done > 0 ? done : null;
      },
      30_000,
      25,
    );
    expect(progress).toBeLessThan(FRAMES);
    await runtime.kill();
    runtime = null;
    const videos = join(dir, "data/timelapse/videos/hw");
    expect(existsSync(join(videos, `batch-${id}.mp4`))).toBe(false);
    expect(readdirSync(videos).some((n) => n.startsWith(".tmp-"))).toBe(true);

    runtime = await startRuntime(configPath);
    const done = await waitFor("completed", () => (batch(id)?.status === "completed" ? batch(id) : null), 60_000, 100);
    expect(done.total_frames).toBe(FRAMES);
    expect(done.day_overlay_applied).toBe(1);
    expect([done.day_range_start, done.day_range_end]).toEqual([10, 26]);
    expect(await frameCount(join(dir, "data", done.output_path!))).toBe(FRAMES);
    expect(readdirSync(videos).filter((n) => n.startsWith(".tmp-"))).toEqual([]);
    const events = readDb(join(dir, "data"), (db) => db.prepare("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'timelapse.done'").get() as { n: number })!;
    expect(events.n).toBe(1);
    const check = await runCli(["check", "--config", configPath]);
    expect(check.stdout).toContain(`${FRAMES} timelapse images, 1 timelapse videos, 0 problems`);
    expect(check.code).toBe(0);
  }, 120_000);
});

describe("dashcam timelapse CLI", () => {
  test("create through the running runtime waits for the render, prints the batch id and the video; list --json shows it", async () => {
    expect(runtime).not.toBeNull();
    const r = await runCli(["timelapse", "create", "--camera", "hw", "--from", new Date(T0).toISOString(), "--to", String(T0 + 49 * 3_600_000), "--frame-rate", "10", "--config", configPath]);
    expect(r.code).toBe(0);
    const id = Number(/^batch (\d+)$/m.exec(r.stdout)![1]);
    expect(r.stdout).toMatch(new RegExp(`batch ${id} completed: .*batch-${id}\\.mp4 \\(50 frames at 10 fps, 5\\.0 s\\)`));
    const list = await runCli(["timelapse", "list", "--json", "--config", configPath]);
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as BatchRow[];
    expect(rows.find((b) => b.id === id)).toMatchObject({ status: "completed", total_frames: 50, frame_rate: 10, batch_type: "manual" });
  }, 60_000);

  test("bad input: one line and exit 2, nothing created", async () => {
    const before = readDb(join(dir, "data"), (db) => (db.prepare("SELECT COUNT(*) AS n FROM timelapse_batches").get() as { n: number }).n)!;
    for (const args of [
      ["--camera", "nope", "--from", "0", "--to", "1"],
      ["--camera", "hw", "--from", "0", "--to", "1"],
      ["--camera", "hw", "--from", "yesterday", "--to", "1"],
      ["--camera", "hw", "--from", "5", "--to", "1"],
      ["--camera", "hw", "--from", "0", "--to", "1", "--frame-rate", "0"],
    ]) {
      const r = await runCli(["timelapse", "create", ...args, "--config", configPath]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n").length).toBe(1);
    }
    expect(readDb(join(dir, "data"), (db) => (db.prepare("SELECT COUNT(*) AS n FROM timelapse_batches").get() as { n: number }).n)).toBe(before);
  }, 60_000);

  test("create with no runtime running renders in the CLI's own process", async () => {
    expect(await runtime!.terminate()).toBe(0);
    runtime = null;
    const r = await runCli(["timelapse", "create", "--camera", "hw", "--from", String(T0), "--to", String(T0 + 19 * 3_600_000), "--frame-rate", "5", "--config", configPath]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/batch \d+ completed: .* \(20 frames at 5 fps, 4\.0 s\)/);
    const id = Number(/^batch (\d+)$/m.exec(r.stdout)![1]);
    expect(await frameCount(join(dir, "data", batch(id)!.output_path!))).toBe(20);
    // by day numbers: the first capture is 08:00 UTC on day 10, so day 10 holds 16 hourly images and day 11 24
    const days = await runCli(["timelapse", "create", "--camera", "hw", "--from-day", "10", "--to-day", "11", "--frame-rate", "20", "--config", configPath]);
    expect(days.code).toBe(0);
    expect(days.stdout).toMatch(/batch \d+ completed: .* \(40 frames at 20 fps, 2\.0 s\)/);
    const both = await runCli(["timelapse", "create", "--camera", "hw", "--from-day", "10", "--to-day", "11", "--from", "0", "--to", "1", "--config", configPath]);
    expect(both.code).toBe(2);
  }, 60_000);
});
