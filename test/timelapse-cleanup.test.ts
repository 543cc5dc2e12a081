/**
 * Timelapse cleanup on a real SQLite file and real files, with the clock given as `now`:
 * images older than keep_images_days go unless a pending/processing batch or a checkpoint/manual
 * batch uses them (seed 004); deletion goes through garbage rows (a crash between the row and
 * the unlink is finished by start-up reconciliation); deleting a batch removes its video and
 * junction rows; the read-only scan of `dashcam check` finds rows without files and files
 * without rows.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { pendingGarbage } from "../src/db/garbage.ts";
import { batchFrames, createBatch, expiredImages, imagesToGarbage, insertCapture, markBatchCompleted } from "../src/db/timelapse.ts";
import { validateConfig, type Config } from "../src/config.ts";
import { dbPath } from "../src/paths.ts";
import { imageRelPath } from "../src/media/timelapse.ts";
import { deleteTimelapseBatch, scanTimelapseFiles, sweepTimelapseImages } from "../src/media/timelapseCleanup.ts";
import { insertShare, setShareActive, type ShareType } from "../src/db/shares.ts";
import { reconcileAtStartup } from "../src/actors/reconcile.ts";

const DAY = 86_400_000;
const NOW = Date.parse("2026-06-30T12:00:00Z");
let dir: string;
let db: Database;
let config: Config;
let cameraId: number;

function capture(at: number): number {
  const rel = imageRelPath("c", at);
  mkdirSync(join(dir, dirname(rel)), { recursive: true });
  writeFileSync(join(dir, rel), "jpeg");
  return insertCapture(db, {
    cameraId,
    filename: `${at}.jpg`,
    filePath: rel,
    bytes: 4,
    width: 2,
    height: 2,
    format: "jpeg",
    fileHash: "x",
    capturedAt: at,
    attemptedAt: at,
    durationMs: 1,
    retryCount: 0,
  }).imageId;
}

const batchOf = (type: "continuous" | "checkpoint" | "manual", ids: number[]) =>
  createBatch(db, { cameraId, cameraKey: "c", type, generationMode: type === "continuous" ? "every_capture" : "manual_only", frameRate: 30, overlay: false, now: NOW }, ids);
const imageIds = () => (db.query("SELECT id FROM images ORDER BY id").all() as { id: number }[]).map((r) => r.id);
const cameras = () => new Map(config.cameras.map((c) => [c.key, c]));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "dashcam-tlclean-"));
  config = validateConfig({ data_dir: dir, cameras: [{ key: "c", source: "testsrc", record: false, timelapse: { interval_seconds: 60, keep_images_days: 10 } }] }, dir);
  db = openDatabase(dbPath(dir));
  cameraId = syncCameras(db, config.cameras, null).get("c")!;
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("timelapse image cleanup", () => {
  test("old images go unless a pending/processing, checkpoint or manual batch uses them; a completed continuous video does not keep them", () => {
    const old = [0, 1, 2, 3, 4, 5].map((i) => capture(NOW - 20 * DAY + i * 1000));
    const recent = [0, 1, 2].map((i) => capture(NOW - 5 * DAY + i * 1000));
    batchOf("manual", [old[0]!]);
    const continuous = batchOf("continuous", [old[1]!, old[2]!]);
    markBatchCompleted(db, continuous, { at: NOW, relPath: "timelapse/videos/c/batch-x.mp4", bytes: 1, frames: 2, durationSeconds: 0.1 });
    batchOf("checkpoint", [old[3]!]);
    const pending = batchOf("continuous", [old[4]!]); // a second continuous batch still to render
    expect(pending).toBeGreaterThan(0);

    expect(sweepTimelapseImages(db, dir, cameras(), NOW)).toBe(3);
    expect(imageIds()).toEqual([old[0]!, old[3]!, old[4]!, ...recent]);
    for (const id of [old[1]!, old[2]!, old[5]!]) expect(existsSync(join(dir, imageRelPath("c", NOW - 20 * DAY + old.indexOf(id) * 1000)))).toBe(false);
    expect(existsSync(join(dir, imageRelPath("c", NOW - 20 * DAY)))).toBe(true);
    expect(batchFrames(db, continuous)).toEqual([]);
    expect(pendingGarbage(db)).toEqual([]);
    // attempts of deleted images older than keep_images_days go with them; the others keep their image
    const attempts = db.query("SELECT COUNT(*) AS n, COUNT(image_id) AS with_image FROM capture_attempts").get() as { n: number; with_image: number };
    expect(attempts).toEqual({ n: 6, with_image: 6 });
    const ev = db.query("SELECT message FROM event_log WHERE kind = 'timelapse.cleanup'").all() as { message: string }[];
    expect(ev.map((e) => e.message)).toEqual(["timelapse: 3 expired image(s) deleted"]);

    // six days later the recent ones are past 10 days too
    expect(sweepTimelapseImages(db, dir, cameras(), NOW + 6 * DAY)).toBe(3);
    expect(imageIds()).toEqual([old[0]!, old[3]!, old[4]!]);
    // nothing more while the batches hold the rest
    expect(sweepTimelapseImages(db, dir, cameras(), NOW + 365 * DAY)).toBe(0);
  });

  test("a gallery share keeps the old stills of the batch it shows while it is active and not expired; a video share does not", () => {
    const [a, b, c] = [0, 1, 2].map((i) => capture(NOW - 20 * DAY + i * 1000));
    const shown = batchOf("continuous", [a!, b!]);
    markBatchCompleted(db, shown, { at: NOW, relPath: "timelapse/videos/c/batch-x.mp4", bytes: 1, frames: 2, durationSeconds: 0.1 });
    const other = batchOf("continuous", [c!]);
    markBatchCompleted(db, other, { at: NOW, relPath: "timelapse/videos/c/batch-y.mp4", bytes: 1, frames: 1, durationSeconds: 0.1 });
    const share = (type: ShareType, batchId: number, expiresAt: number | null) =>
      insertShare(db, { title: type, description: null, type, items: [{ ref: { kind: "batch", batchId } }], expiresAt, downloadEnabled: false, embedEnabled: false }, crypto.randomUUID(), NOW);
    const gallery = share("gallery", shown, NOW + 3 * DAY);
    share("video_only", other, null);

    // the gallery holds a and b; the video share does not hold c
    expect(sweepTimelapseImages(db, dir, cameras(), NOW)).toBe(1);
    expect(imageIds()).toEqual([a!, b!]);
    // once the gallery link has expired the stills go
    expect(sweepTimelapseImages(db, dir, cameras(), NOW + 2 * DAY)).toBe(0);
    expect(sweepTimelapseImages(db, dir, cameras(), NOW + 4 * DAY)).toBe(2);
    expect(imageIds()).toEqual([]);

    // a gallery turned off holds nothing either
    const d = capture(NOW - 20 * DAY + 5000);
    const third = batchOf("continuous", [d]);
    markBatchCompleted(db, third, { at: NOW, relPath: "timelapse/videos/c/batch-z.mp4", bytes: 1, frames: 1, durationSeconds: 0.1 });
    const off = share("gallery", third, null);
    expect(sweepTimelapseImages(db, dir, cameras(), NOW)).toBe(0);
    expect(setShareActive(db, off, false)).toBe(true);
    expect(sweepTimelapseImages(db, dir, cameras(), NOW)).toBe(1);
    expect(gallery).toBeGreaterThan(0);
  });

  test("a crash between the garbage rows and the unlink: start-up reconciliation finishes the deletion", async () => {
    const id = capture(NOW - 20 * DAY);
    const rel = imageRelPath("c", NOW - 20 * DAY);
    const garbage = imagesToGarbage(db, expiredImages(db, cameraId, NOW - 10 * DAY), NOW);
    expect(garbage).toEqual([{ id: expect.any(Number), rel_path: rel }]);
    // (the process dies here: row gone, file still there, garbage row says so)
    expect(db.query("SELECT id FROM images WHERE id = ?").get(id)).toBeNull();
    expect(existsSync(join(dir, rel))).toBe(true);
    const report = await reconcileAtStartup(db, dir, config.cameras, new Map([["c", cameraId]]), "boot-2", { fullScan: false });
    expect(report.garbageFinished).toBe(1);
    expect(existsSync(join(dir, rel))).toBe(false);
    expect(pendingGarbage(db)).toEqual([]);
  });
});

describe("deleting a batch, and the check scan", () => {
  test("deleting a batch removes its video and junction rows, not its images", () => {
    const ids = [1, 2, 3].map((i) => capture(NOW - i * 1000));
    const batch = batchOf("manual", ids);
    const rel = `timelapse/videos/c/batch-${batch}.mp4`;
    mkdirSync(join(dir, "timelapse/videos/c"), { recursive: true });
    writeFileSync(join(dir, rel), "mp4!");
    markBatchCompleted(db, batch, { at: NOW, relPath: rel, bytes: 4, frames: 3, durationSeconds: 0.1 });
    expect(scanTimelapseFiles(db, dir)).toMatchObject({ images: 3, videos: 1, imageProblems: [], videoProblems: [], filesWithoutRows: [] });

    expect(deleteTimelapseBatch(db, dir, batch, NOW)).toBe(true);
    expect(existsSync(join(dir, rel))).toBe(false);
    expect(db.query("SELECT COUNT(*) AS n FROM timelapse_images").get()).toEqual({ n: 0 });
    expect(db.query("SELECT COUNT(*) AS n FROM timelapse_batches").get()).toEqual({ n: 0 });
    expect(imageIds()).toEqual(ids);
    expect(pendingGarbage(db)).toEqual([]);
    expect(deleteTimelapseBatch(db, dir, batch, NOW)).toBe(false);
  });

  test("the check scan reports an image row without its file and a file without a row", () => {
    const id = capture(NOW);
    rmSync(join(dir, imageRelPath("c", NOW)));
    writeFileSync(join(dir, dirname(imageRelPath("c", NOW)), "stray.jpg"), "x");
    const f = scanTimelapseFiles(db, dir);
    expect(f.imageProblems).toEqual([`image ${id} has a row but no file (${imageRelPath("c", NOW)})`]);
    expect(f.filesWithoutRows).toEqual([`${dirname(imageRelPath("c", NOW))}/stray.jpg`]);
  });
});
