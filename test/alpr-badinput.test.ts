/**
 * Bad input through the real pipeline (real vision pool: Bun Workers, ONNX Runtime, PP-OCRv4;
 * real SQLite file; real ffmpeg for snapshots): corrupt, truncated, zero-size and missing
 * frames next to a good one, and a configured vehicle model file that does not exist.
 * Each bad item ends as a task with a clear error (result row + event_log), the good frame is
 * still read, nothing is left on disk and nothing is left unfinished.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { startAlprService } from "../src/actors/alpr.ts";
import { createVisionPool } from "../src/vision/pool.ts";
import { frameRelPath, queueFrameTx } from "../src/alpr/sampler.ts";
import { alprConfig, FFMPEG, filesUnder, makeEnv, stageReads, usPhotos, waitFor, type TestEnv } from "./alpr-helpers.ts";

let env: TestEnv;
beforeEach(() => (env = makeEnv("alpr-bad-")));
afterEach(() => env.cleanup());

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
const good = usPhotos()[0];
const goodBytes = readFileSync(good.path);

/** What the reader's stages read on the good photo (whole frame), for comparison. */
async function readerFirst(): Promise<string | null> {
  const pool = createVisionPool({ workers: 1 });
  try {
    return (await stageReads(pool, new Uint8Array(goodBytes), 0))[0] ?? null;
  } finally {
    await pool.close();
  }
}

/** Writes frames (bytes, or null = no file at all) and queues their tasks, 10 s apart (separate passes). */
function queue(frames: (Uint8Array | null)[]): string[] {
  return frames.map((bytes, k) => {
    const ref = frameRelPath(env.cameraId, 0, k);
    if (bytes) {
      mkdirSync(dirname(join(env.dataDir, ref)), { recursive: true });
      writeFileSync(join(env.dataDir, ref), bytes);
    }
    env.db.transaction(() => queueFrameTx(env.db, { cameraId: env.cameraId, cameraKey: env.cameraKey, absoluteIndex: 0, frameIdx: k, ts: T0 + k * 10_000, ref }))();
    return ref;
  });
}

function resultsOf(category: string) {
  return (
    env.db
      .query("SELECT t.frame_idx, t.status, r.result FROM tasks t JOIN results r ON r.task_id = t.id WHERE t.category = $c ORDER BY t.frame_idx")
      .all({ c: category }) as { frame_idx: number; status: string; result: string }[]
  ).map((r) => ({ frame: r.frame_idx, status: r.status, ...(JSON.parse(r.result) as { error?: string; kind?: string }) }));
}

test("corrupt, truncated, zero-size and missing frames fail clearly; the good frame is still read", async () => {
  const corrupt = new Uint8Array(goodBytes);
  for (let i = 600; i < corrupt.length - 600; i += 7) corrupt[i] = (corrupt[i] * 31 + 17) & 0xff;
  const frames = [
    new Uint8Array(0), // zero-size
    new Uint8Array(goodBytes.subarray(0, Math.floor(goodBytes.length / 2))), // truncated
    corrupt, // corrupt entropy data, markers intact
    new TextEncoder().encode("this is not an image at all"),
    null, // file missing
    new Uint8Array(goodBytes), // good
  ];
  queue(frames);
  const config = alprConfig(env, "workers = 2\ntrack_flush_ms = 200\npoll_ms = 50\nmin_confidence = 0");
  const service = startAlprService({ db: env.db, config, dataDir: env.dataDir, ffmpegPath: FFMPEG });
  try {
    await waitFor(() => service.isIdle(), 120_000, "idle", 100);
  } finally {
    await service.stop();
  }
  expect(service.lastError).toBeNull();
  const vd = resultsOf("vehicle_detect");
  expect(vd).toHaveLength(6);
  expect(vd[0]).toMatchObject({ status: "done", kind: "input" });
  expect(vd[0].error).toMatch(/empty file \(0 bytes\)/);
  expect(vd[1].error).toMatch(/truncated JPEG/);
  expect(vd[3].error).toMatch(/not a JPEG/);
  expect(vd[4].error).toMatch(/frame file missing/);
  expect(vd[5].error).toBeUndefined();
  // the corrupt one either fails to decode (clear error) or decodes to garbage that yields no plate
  if (vd[2].error) expect(vd[2]).toMatchObject({ kind: "input" });
  // every bad frame is in the event log with its reason
  const events = env.db.query("SELECT level, message FROM event_log WHERE kind = 'alpr.task_failed'").all() as { level: string; message: string }[];
  const errors = vd.filter((r) => r.error).length;
  expect(events.length).toBe(errors);
  expect(events.every((e) => e.level === "warn")).toBe(true);
  expect(events.some((e) => /empty file/.test(e.message))).toBe(true);
  // nothing lost: every task has a result, nothing is unfinished, no frame is left on disk
  expect(env.db.query("SELECT COUNT(*) AS n FROM tasks t WHERE NOT EXISTS (SELECT 1 FROM results r WHERE r.task_id = t.id)").get()).toEqual({ n: 0 });
  expect(env.db.query("SELECT COUNT(*) AS n FROM tasks WHERE status != 'done'").get()).toEqual({ n: 0 });
  expect(filesUnder(join(env.dataDir, "frames"))).toEqual([]);
  // the good frame went all the way: its row carries the reader's plate
  const expected = await readerFirst();
  const rows = env.db.query("SELECT final_plate, frame_idx FROM vehicles").all() as { final_plate: string; frame_idx: number }[];
  if (expected) expect(rows).toEqual([{ final_plate: expected, frame_idx: 5 }]);
  else expect(rows.filter((r) => r.frame_idx === 5)).toEqual([]);
  console.log(`bad input: ${errors} clear errors, good photo ${good.file} read as ${expected ?? "(nothing)"} (truth ${good.plate})`);
}, 180_000);

test("a missing vehicle model file: vehicle_detect fails with the path, plates are still read on the whole frame", async () => {
  const missing = join(env.dir, "models", "yolox_nano_missing.onnx");
  queue([new Uint8Array(goodBytes)]);
  const config = alprConfig(env, `workers = 1\nvehicle_model = "${missing}"\ntrack_flush_ms = 200\npoll_ms = 50\nmin_confidence = 0`);
  const service = startAlprService({ db: env.db, config, dataDir: env.dataDir, ffmpegPath: FFMPEG });
  try {
    await waitFor(() => service.isIdle(), 120_000, "idle", 100);
  } finally {
    await service.stop();
  }
  const vd = resultsOf("vehicle_detect");
  expect(vd).toHaveLength(1);
  expect(vd[0]).toMatchObject({ status: "done", kind: "model" });
  expect(vd[0].error).toContain(`model file not found: ${missing}`);
  const ev = env.db.query("SELECT level, message FROM event_log WHERE kind = 'alpr.task_failed'").all() as { level: string; message: string }[];
  expect(ev).toHaveLength(1);
  expect(ev[0].level).toBe("error");
  expect(ev[0].message).toContain(missing);
  // fallback: one whole-frame plate search, and the read is not lost
  const pd = env.db.query("SELECT meta FROM tasks WHERE category = 'plate_detect'").all() as { meta: string }[];
  expect(pd).toHaveLength(1);
  expect(JSON.parse(pd[0].meta).region).toBeNull();
  const expected = await readerFirst();
  const rows = env.db.query("SELECT final_plate FROM vehicles").all() as { final_plate: string }[];
  expect(rows).toEqual(expected ? [{ final_plate: expected }] : []);
  expect(filesUnder(join(env.dataDir, "frames"))).toEqual([]);
}, 180_000);
