/**
 * The recording core end to end in one process, with real ffmpeg and a real SQLite file:
 * recorder -> commitSegment -> enforceRing on every closed segment; ffmpeg killed by SIGKILL
 * mid-segment (a crash); salvageInterrupted settles the interrupted file; the next run starts at
 * camera_state.absolute_segments without skipping a number; scanRing then finds nothing wrong.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { RecorderEvent } from "../src/machines/events.ts";
import { commitSegment } from "../src/db/segments.ts";
import { enforceRing } from "../src/actors/retention.ts";
import { salvageInterrupted, scanRing } from "../src/actors/reconcile.ts";
import { cameraConfig, openTestDb, removeDir, runRecorder, tempDir, waitUntil } from "./recording-helpers.ts";

type Closed = Extract<RecorderEvent, { type: "SEGMENT_CLOSED" }>;
const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

test("record, index, retain, crash, salvage, resume", async () => {
  const dataDir = tempDir();
  dirs.push(dataDir);
  const camera = cameraConfig({ key: "road", segment_seconds: 1, width: 320, height: 240, fps: 25, ring_segments: 3 });
  const { db, ids } = openTestDb(dataDir, [camera]);
  const cameraId = ids.get("road")!;
  const boot = "boot-pipeline";
  const counters = () =>
    db.query("SELECT absolute_segments FROM camera_state WHERE camera_id = ?").get(cameraId) as { absolute_segments: number };

  // run 1: index every closed segment and enforce the ring, as the camera actor does
  const indexed: number[] = [];
  let deleted = 0;
  const h1 = runRecorder({ camera, cameraId, dataDir, startNumber: counters().absolute_segments });
  const seen = new Set<RecorderEvent>();
  const pump = setInterval(() => {
    for (const e of h1.events) {
      if (seen.has(e) || e.type !== "SEGMENT_CLOSED") continue;
      seen.add(e);
      const c = e as Closed;
      commitSegment(db, dataDir, { cameraId, absoluteIndex: c.absoluteIndex, relPath: c.relPath, startUtc: c.startUtc, endUtc: c.endUtc, bytes: c.bytes, codec: c.codec, width: c.width, height: c.height, fps: c.fps }, boot);
      indexed.push(c.absoluteIndex);
      deleted += enforceRing(db, dataDir, camera, cameraId).deleted;
    }
  }, 20);
  try {
    await waitUntil("5 indexed segments", () => indexed.length >= 5, 30_000);
    // crash: SIGKILL ffmpeg about 0.6 s into a segment (no CSV line for it)
    const started = h1.events.find((e) => e.type === "RECORDER.STARTED") as Extract<RecorderEvent, { type: "RECORDER.STARTED" }>;
    const n = indexed.length;
    await waitUntil("next segment boundary", () => indexed.length > n, 10_000);
    await Bun.sleep(600);
    process.kill(started.pid, "SIGKILL");
    const exit = await waitUntil("PROCESS_EXIT", () => h1.exit(), 10_000);
    expect(exit.signal).toBe("SIGKILL");
    expect(exit.error).toMatch(/SIGKILL/);
  } finally {
    clearInterval(pump);
  }
  // every SEGMENT_CLOSED came before PROCESS_EXIT and was indexed
  const closedEvents = h1.events.filter((e) => e.type === "SEGMENT_CLOSED").length;
  expect(closedEvents).toBe(indexed.length);
  expect(h1.events[h1.events.length - 1].type).toBe("PROCESS_EXIT");
  // the ring held 3 segments while recording
  expect(deleted).toBe(indexed.length - 3);
  const next = counters().absolute_segments;
  expect(next).toBe(indexed[indexed.length - 1] + 1);
  // the interrupted segment is on disk without a row
  const interrupted = join(dataDir, "recordings", "road", `${String(next).padStart(9, "0")}.ts`);
  expect(existsSync(interrupted)).toBe(true);
  expect(scanRing(db, dataDir, [camera], ids).cameras[0].filesWithoutRows.map((f) => f.absoluteIndex)).toEqual([next]);

  // between runs: settle it (salvaged when it holds media, else deleted)
  const s = await salvageInterrupted(db, dataDir, camera, cameraId, boot);
  expect(s.salvaged + s.deletedFiles).toBe(1);
  expect(s.repairs.length).toBe(1);
  expect(counters().absolute_segments).toBe(s.salvaged ? next + 1 : next);

  // run 2 starts exactly at the counter: no skipped number, nothing overwritten
  const startNumber = counters().absolute_segments;
  const h2 = runRecorder({ camera, cameraId, dataDir, startNumber });
  const first = await waitUntil("run 2 segment", () => h2.events.find((e): e is Closed => e.type === "SEGMENT_CLOSED"), 30_000);
  h2.stop();
  await waitUntil("run 2 exit", () => h2.exit(), 15_000);
  expect(first.absoluteIndex).toBe(startNumber);
  for (const e of h2.events) {
    if (e.type !== "SEGMENT_CLOSED") continue;
    commitSegment(db, dataDir, { cameraId, absoluteIndex: e.absoluteIndex, relPath: e.relPath, startUtc: e.startUtc, endUtc: e.endUtc, bytes: e.bytes }, boot);
  }
  enforceRing(db, dataDir, camera, cameraId);

  // nothing left to repair: rows and files agree, counters consistent, one trip for the boot
  const scan = scanRing(db, dataDir, [camera], ids);
  const f = scan.cameras[0];
  expect({ rows: f.rowsWithoutFiles, files: f.filesWithoutRows, sizes: f.sizeMismatches, counters: f.counterProblems }).toEqual({
    rows: [], files: [], sizes: [], counters: [],
  });
  expect(readdirSync(join(dataDir, "recordings", "road")).length).toBe(3);
  expect((db.query("SELECT COUNT(*) AS n FROM trips").get() as { n: number }).n).toBe(1);
  db.close();
}, 90_000);
