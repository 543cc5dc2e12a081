/**
 * ALPR pipeline logic on a real SQLite file in a temp dir: the cleanup query (indexed form vs
 * the seed's LIKE form), plate smoothing, tracking, and the dispatcher/summary/watchlist path
 * driven by a scripted stage implementation injected at the pool boundary (the models are
 * exercised end to end in alpr-video.test.ts and alpr-badinput.test.ts). Frames are real JPEG
 * files; snapshots are cut by real ffmpeg.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { completeTask, countFrameDependents, countFrameDependentsSeed, getTask, insertTaskTx, requeueFailed, setDependenciesTx, type TaskStatus } from "../src/db/alprTasks.ts";
import { addWatch } from "../src/db/watchlist.ts";
import { startAlprService } from "../src/actors/alpr.ts";
import { LiveBus, type LiveEvent } from "../src/events.ts";
import { decodeImage, encodeJpeg, type Box, type RgbImage } from "../src/vision/image.ts";
import { Dispatcher } from "../src/alpr/dispatcher.ts";
import { readRank } from "../src/vision/reader.ts";
import { TaskRunner, type StagePool } from "../src/alpr/runner.ts";
import { frameRelPath, queueFrameTx } from "../src/alpr/sampler.ts";
import { votePlate } from "../src/alpr/smoothing.ts";
import { runSummary } from "../src/alpr/summary.ts";
import { editDistance, oneEditNeighbours } from "../src/plateText.ts";
import { iou, matchTrack, newTrack, trackClosed, type TrackReading } from "../src/alpr/tracker.ts";
import { alprConfig, FFMPEG, filesUnder, makeEnv, waitFor, type StoredVehicleRow, type TestEnv } from "./alpr-helpers.ts";

// ------------------------------------------------------------------ cleanup query

describe("frame cleanup query", () => {
  let env: TestEnv;
  beforeEach(() => (env = makeEnv("alpr-cleanup-")));
  afterEach(() => env.cleanup());

  test("the indexed form equals the seed's LIKE form on random task graphs", () => {
    const db = env.db;
    // references chosen so that naive substring matching would confuse them
    const refs = ["frames/1/10-1.jpg", "frames/1/110-1.jpg", "frames/11/0-1.jpg", "frames/1/1-10.jpg", "frames/1/1-1.jpg", "frames/2/1-1.jpg", "frames/12/1-1.jpg"];
    for (const r of refs) expect(r).toMatch(/^frames\/\d+\/\d+-\d+\.jpg$/);
    expect(frameRelPath(3, 17, 4)).toBe("frames/3/17-4.jpg");
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const statuses: TaskStatus[] = ["queued", "running", "done", "failed"];
    const ids: number[] = [];
    db.transaction(() => {
      for (let i = 0; i < 400; i++) {
        const deps = Array.from({ length: rand(4) }, () => refs[rand(refs.length)]);
        const id = insertTaskTx(db, { category: "ocr", payload: { payload_ref: deps[0] ?? null }, meta: {}, dependencies: deps, status: statuses[rand(4)] });
        ids.push(id);
        for (let r = rand(3); r > 0; r--)
          db.query("INSERT INTO results (task_id, result, handled) VALUES ($t, '{}', $h)").run({ t: id, h: rand(2) });
      }
      // dependencies rewritten later (as open tracks do) stay in step with the index
      for (let i = 0; i < 50; i++) setDependenciesTx(db, ids[rand(ids.length)], Array.from({ length: rand(3) }, () => refs[rand(refs.length)]));
    })();
    let compared = 0;
    let nonZero = 0;
    for (const ref of refs) {
      for (const except of [-1, ...Array.from({ length: 30 }, () => ids[rand(ids.length)])]) {
        const a = countFrameDependents(db, ref, except);
        const b = countFrameDependentsSeed(db, ref, except);
        expect({ ref, except, n: a }).toEqual({ ref, except, n: b });
        compared++;
        if (a > 0) nonZero++;
      }
    }
    expect(compared).toBe(refs.length * 31);
    expect(nonZero).toBeGreaterThan(0);
    // and a frame nobody references: both say 0
    expect(countFrameDependents(db, "frames/9/9-9.jpg")).toBe(0);
    expect(countFrameDependentsSeed(db, "frames/9/9-9.jpg")).toBe(0);
  });

  test("the indexed form is an index lookup, the seed's form a scan", () => {
    const plan = (sql: string) =>
      (env.db.query(`EXPLAIN QUERY PLAN ${sql}`).all({ ref: "x", task_id: 1, pattern: "%x%" }) as { detail: string }[]).map((r) => r.detail).join(" | ");
    const indexed = plan(`SELECT COUNT(*) FROM task_dependencies d JOIN tasks t ON t.id = d.task_id LEFT JOIN results r ON r.task_id = t.id
       WHERE d.payload_ref = $ref AND t.id != $task_id AND (t.status != 'done' OR (r.id IS NOT NULL AND r.handled = 0))`);
    const seedForm = plan(`SELECT COUNT(*) FROM tasks t LEFT JOIN results r ON r.task_id = t.id
       WHERE t.id != $task_id AND t.dependencies LIKE $pattern AND (t.status != 'done' OR (r.id IS NOT NULL AND r.handled = 0))`);
    expect(indexed).toMatch(/SEARCH d USING PRIMARY KEY \(payload_ref=\?\)/);
    expect(indexed).not.toMatch(/SCAN/);
    expect(seedForm).toMatch(/SCAN t/);
  });
});

// ------------------------------------------------------------------ smoothing, tracking, text

describe("plate smoothing", () => {
  test("similar readings are grouped, the strongest group wins, confidence is combined", () => {
    const v = votePlate([
      { text: "ABC123", confidence: 0.9 },
      { text: "ABC128", confidence: 0.6 },
      { text: "ABC123", confidence: 0.8 },
      { text: "XY9", confidence: 0.7 },
    ]);
    expect(v.text).toBe("ABC123");
    expect(v.support).toBe(3);
    expect(v.total).toBe(4);
    // noisy-OR of the group (1 - 0.1*0.2*0.4) times its share of the confidence mass (2.3 / 3.0)
    expect(v.confidence).toBeCloseTo((1 - 0.1 * 0.2 * 0.4) * (2.3 / 3.0), 6);
    expect(v.groups[0].texts).toEqual(["ABC123", "ABC128"]);
  });

  test("one reading keeps its confidence; disagreement lowers it; empty track has no plate", () => {
    expect(votePlate([{ text: "AB12", confidence: 0.73 }]).confidence).toBeCloseTo(0.73, 6);
    const split = votePlate([
      { text: "AAAA11", confidence: 0.9 },
      { text: "ZZZZ99", confidence: 0.8 },
    ]);
    expect(split.text).toBe("AAAA11");
    expect(split.confidence).toBeLessThan(0.9);
    expect(votePlate([]).text).toBe("");
    expect(votePlate([{ text: "", confidence: 0.9 }]).text).toBe("");
  });

  test("edit distance and one-edit neighbours", () => {
    expect(editDistance("ABC123", "ABC123")).toBe(0);
    expect(editDistance("ABC123", "ABC124")).toBe(1);
    expect(editDistance("ABC123", "AB123")).toBe(1);
    expect(editDistance("ABC123", "XABC123")).toBe(1);
    expect(editDistance("ABC123", "XYZ789")).toBe(6);
    expect(editDistance("ABC123", "XYZ789", 1)).toBe(2);
    const n = oneEditNeighbours("AB1");
    expect(n).toContain("AB1");
    expect(n).toContain("B1");
    expect(n).toContain("AB7");
    expect(n).toContain("AB1Z");
    expect(n.every((x) => editDistance(x, "AB1") <= 1)).toBe(true);
    // every string one edit away over A-Z0-9 is there: 3 deletions + 3*35 substitutions + 4*36 insertions, minus repeats
    expect(new Set(n).size).toBe(n.length);
    expect(n.length).toBeGreaterThan(200);
  });
});

describe("tracking", () => {
  const r = (ts: number, text: string, box: Box, ref = `frames/1/0-${ts}.jpg`, car: Box | null = null): TrackReading => ({
    taskId: ts,
    ts,
    text,
    confidence: 0.9,
    carBox: car,
    plateBox: box,
    ref,
    videoId: "cam1:0",
    frameIdx: ts,
    width: 1280,
    height: 720,
  });
  const opts = { gapMs: 2000, iou: 0.3 };

  test("IoU", () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [5, 0, 10, 10])).toBeCloseTo(50 / 150, 6);
    expect(iou([0, 0, 10, 10], [20, 20, 5, 5])).toBe(0);
    expect(iou([0, 0, 0, 10], [0, 0, 10, 10])).toBe(0);
  });

  test("a reading joins the overlapping, recent, similar track and nothing else", () => {
    const t = { id: 7, meta: newTrack(r(0, "ABC123", [100, 100, 80, 40]), 1, "cam1") };
    expect(matchTrack(r(1000, "ABC123", [110, 102, 80, 40]), 1, [t], opts)?.id).toBe(7);
    expect(matchTrack(r(1000, "ABC128", [110, 102, 80, 40]), 1, [t], opts)?.id).toBe(7); // misread, same car
    expect(matchTrack(r(1000, "ABC123", [400, 300, 80, 40]), 1, [t], opts)).toBeNull(); // elsewhere
    expect(matchTrack(r(2500, "ABC123", [100, 100, 80, 40]), 1, [t], opts)).toBeNull(); // too late
    expect(matchTrack(r(1000, "ABC123", [100, 100, 80, 40]), 2, [t], opts)).toBeNull(); // other camera
    expect(matchTrack(r(1000, "QQQ999", [100, 100, 80, 40]), 1, [t], opts)).toBeNull(); // other car, same place
    expect(matchTrack(r(1000, "ABC123", [100, 100, 80, 40], "frames/1/0-0.jpg"), 1, [t], opts)).toBeNull(); // same frame
    // vehicle boxes overlap while the small plate boxes do not: still the same vehicle
    const withCar = { id: 8, meta: newTrack(r(0, "ABC123", [100, 100, 40, 20], undefined, [50, 50, 300, 200]), 1, "cam1") };
    expect(matchTrack(r(1000, "ABC123", [150, 110, 40, 20], undefined, [80, 55, 300, 200]), 1, [withCar], opts)?.id).toBe(8);
  });

  test("a track closes when no frame that could extend it is pending", () => {
    const m = newTrack(r(10_000, "ABC123", [0, 0, 10, 10]), 1, "cam1");
    expect(trackClosed(m, { minUnfinishedTs: 11_000, horizon: 20_000, idle: false }, 2000)).toBe(false);
    expect(trackClosed(m, { minUnfinishedTs: 12_001, horizon: 20_000, idle: false }, 2000)).toBe(true);
    expect(trackClosed(m, { minUnfinishedTs: null, horizon: 11_000, idle: false }, 2000)).toBe(false);
    expect(trackClosed(m, { minUnfinishedTs: null, horizon: 11_000, idle: true }, 2000)).toBe(true);
  });
});

// ------------------------------------------------------------------ dispatcher with scripted stages

interface ScriptedPlate {
  box: Box;
  score: number;
  text: string;
  confidence: number;
  /** The vehicle it is on (returned by detectVehicles); plates are searched inside the region. */
  car?: Box;
}

/** Frames are solid grey JPEGs; the grey level (in steps of 16) names the frame's script entry. */
function greyFrame(id: number): Uint8Array {
  const w = 320, h = 240;
  const img: RgbImage = { width: w, height: h, data: new Uint8Array(w * h * 3).fill(id * 16) };
  return encodeJpeg(img, 95);
}

/** A StagePool whose plate detections and readings come from a script, keyed by frame grey level. */
function scriptedPool(script: Map<number, ScriptedPlate[]>, opts: { hold?: Promise<void> } = {}): StagePool & { calls: Record<string, number> } {
  const calls: Record<string, number> = { decode: 0, vehicles: 0, plates: 0, read: 0 };
  const id = (img: RgbImage) => Math.round(img.data[0] / 16);
  return {
    workers: 2,
    calls,
    async decodeImage(bytes) {
      calls.decode++;
      return decodeImage(bytes);
    },
    async detectVehicles(img) {
      calls.vehicles++;
      await opts.hold;
      const cars = new Map<string, Box>();
      for (const p of script.get(id(img)) ?? []) if (p.car) cars.set(p.car.join(","), p.car);
      return [...cars.values()].map((box) => ({ box, score: 0.9, cls: "car" }));
    },
    async detectPlates(img, region) {
      calls.plates++;
      const inside = (b: Box) => !region || (b[0] >= region[0] && b[1] >= region[1] && b[0] + b[2] <= region[0] + region[2] && b[1] + b[3] <= region[1] + region[3]);
      return (script.get(id(img)) ?? []).filter((p) => inside(p.box)).map((p) => ({ box: p.box, score: p.score, line: null }));
    },
    async readCandidates(img, cands) {
      const reads = cands.map((c) => {
        calls.read++;
        const p = (script.get(id(img)) ?? []).find((x) => x.box.every((v, i) => v === c.box[i]));
        return { text: p?.text ?? "", confidence: p?.confidence ?? 0, box: c.box, score: c.score };
      });
      return reads.sort((a, b) => readRank(b.text, b.confidence, b.box, b.score, img.width, img.height) - readRank(a.text, a.confidence, a.box, a.score, img.width, img.height));
    },
    async close() {},
  };
}

describe("dispatcher, tracks, summary, watchlist (scripted stages)", () => {
  let env: TestEnv;
  beforeEach(() => (env = makeEnv("alpr-dispatch-")));
  afterEach(() => env.cleanup());

  const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
  function addFrame(k: number, grey: number, ts: number, abs = 0): string {
    const ref = frameRelPath(env.cameraId, abs, k);
    const path = join(env.dataDir, ref);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, greyFrame(grey));
    env.db.transaction(() => queueFrameTx(env.db, { cameraId: env.cameraId, cameraKey: env.cameraKey, absoluteIndex: abs, frameIdx: k, ts, ref }))();
    return ref;
  }

  test("a frame file lives exactly as long as an unfinished task depends on it", async () => {
    const script = new Map<number, ScriptedPlate[]>([[1, [{ box: [100, 100, 60, 30], score: 0.9, text: "ABC123", confidence: 0.95 }]]]);
    const pool = scriptedPool(script);
    const db = env.db;
    const ref = addFrame(0, 1, T0);
    const file = join(env.dataDir, ref);
    const runner = new TaskRunner({ db, dataDir: env.dataDir, pool });
    const dispatcher = new Dispatcher({ db, dataDir: env.dataDir, trackGapMs: 2000, trackIou: 0.3, trackFlushMs: 0, minConfidence: 0.5 });
    const stage = async () => {
      runner.pump();
      await waitFor(() => runner.active === 0, 10_000, "tasks to finish", 5);
      return dispatcher.handleResults();
    };
    const live = () => countFrameDependents(db, ref);
    expect(await stage()).toBe(1); // vehicle_detect -> plate_detect queued
    expect(existsSync(file)).toBe(true);
    expect(live()).toBe(1);
    expect(await stage()).toBe(1); // plate_detect -> ocr queued
    expect(existsSync(file)).toBe(true);
    expect(await stage()).toBe(1); // ocr -> reading opens a track: the open plate_smooth task holds the frame
    expect(existsSync(file)).toBe(true);
    expect(live()).toBe(1);
    const track = db.query("SELECT * FROM tasks WHERE category = 'plate_smooth'").get() as { id: number; track_id: number; status: string; dependencies: string };
    expect(track.status).toBe("queued");
    expect(track.track_id).toBe(track.id);
    expect(JSON.parse(track.dependencies)).toEqual([ref]);
    expect(dispatcher.closeTracks()).toBe(1); // idle camera, flush delay 0
    expect(dispatcher.handleResults()).toBe(1); // plate_smooth -> summary holds the frame
    expect(existsSync(file)).toBe(true);
    const [summary] = (await import("../src/db/alprTasks.ts")).claimTasks(db, ["summary"], 1);
    const out = await runSummary({ db, dataDir: env.dataDir, ffmpegPath: FFMPEG }, summary);
    expect(out.inserted).toBe(true);
    expect(existsSync(file)).toBe(true); // summary done, result not handled yet
    expect(dispatcher.handleResults()).toBe(1);
    expect(existsSync(file)).toBe(false); // released at once
    expect(live()).toBe(0);
    const v = db.query("SELECT * FROM vehicles").get() as { final_plate: string; snapshot_path: string; track_id: number; video_id: string; frame_idx: number };
    expect(v.final_plate).toBe("ABC123");
    expect(v.track_id).toBe(track.id);
    expect(v.video_id).toBe("cam1:0");
    expect(existsSync(join(env.dataDir, v.snapshot_path))).toBe(true);
    // the snapshot is a real JPEG cut from the frame
    const snap = decodeImage(new Uint8Array(await Bun.file(join(env.dataDir, v.snapshot_path)).arrayBuffer()));
    expect(snap.width).toBeGreaterThan(0);
    // repeating the summary (a crash before its result was recorded) adds nothing
    const again = await runSummary({ db, dataDir: env.dataDir, ffmpegPath: FFMPEG }, { ...summary });
    expect(again).toEqual({ vehicleId: out.vehicleId, inserted: false, alerts: 0 });
    expect((db.query("SELECT COUNT(*) AS n FROM vehicles").get() as { n: number }).n).toBe(1);
    await runner.stop();
  });

  test("readings are tracked across frames and smoothed; a watchlisted plate raises one alert", async () => {
    // two cars, each found by the (scripted) vehicle detector; plates are searched per vehicle
    const A = (dx: number, text: string, confidence: number): ScriptedPlate => ({ box: [100 + dx, 100, 60, 30], score: 0.9, text, confidence, car: [70 + dx, 60, 120, 90] });
    const B = (dx: number): ScriptedPlate => ({ box: [220 + dx, 170, 50, 25], score: 0.8, text: "XYZ789", confidence: 0.85, car: [200 + dx, 150, 100, 70] });
    const script = new Map<number, ScriptedPlate[]>([
      [1, [A(0, "ABC123", 0.9)]],
      [2, [A(4, "ABC128", 0.6)]],
      [3, [A(8, "ABC123", 0.8), B(0)]],
      // a one-letter read on car B ranks higher but is not a plate
      [4, [B(3), { box: [205, 155, 30, 12], score: 0.95, text: "Q", confidence: 0.99, car: [203, 150, 100, 70] }]],
      [5, [A(0, "ABC123", 0.9)]], // the same car again, much later: a second pass
      [6, [{ box: [10, 10, 60, 30], score: 0.9, text: "LOW111", confidence: 0.2 }]], // below min_confidence
    ]);
    addWatch(env.db, "xyz 789", "stolen");
    const bus = new LiveBus();
    const events: LiveEvent[] = [];
    bus.subscribe((e) => events.push(e));
    addFrame(0, 1, T0);
    addFrame(1, 2, T0 + 500);
    addFrame(2, 3, T0 + 1000);
    addFrame(3, 4, T0 + 1500);
    addFrame(0, 5, T0 + 60_000, 1);
    addFrame(1, 6, T0 + 61_000, 1);
    const config = alprConfig(env, "sample_fps = 2\nworkers = 2\ntrack_flush_ms = 200\npoll_ms = 50\nmin_confidence = 0.5");
    const pool = scriptedPool(script);
    let service = startAlprService({ db: env.db, config, dataDir: env.dataDir, bus, pool, ffmpegPath: FFMPEG });
    await waitFor(() => service.isIdle(), 30_000, "idle");
    await service.stop();
    expect(service.lastError).toBeNull();
    const rows = env.db.query("SELECT final_plate, plate_confidence, ts, frame_idx, video_id, track_id, car_bbox, plate_bbox FROM vehicles ORDER BY ts, final_plate").all() as StoredVehicleRow[];
    expect(rows.map((r) => r.final_plate)).toEqual(["ABC123", "XYZ789", "ABC123"]);
    const first = rows[0];
    // three readings of car A (0.9, 0.6, 0.8), one group: noisy-OR, full share
    expect(first.plate_confidence).toBeCloseTo(1 - 0.1 * 0.4 * 0.2, 3);
    expect(first.ts).toBe(T0); // best reading of the winning text
    expect(JSON.parse(first.plate_bbox)).toEqual([100, 100, 60, 30]);
    expect(JSON.parse(first.car_bbox)).toEqual([70, 60, 120, 90]);
    expect(rows[1].ts).toBe(T0 + 1000);
    expect(rows[2].video_id).toBe("cam1:1");
    expect(new Set(rows.map((r) => r.track_id)).size).toBe(3);
    // the watchlisted plate: one event_log row and one live alert
    const alerts = env.db.query("SELECT message, data FROM event_log WHERE kind = 'alpr.watchlist'").all() as { message: string; data: string }[];
    expect(alerts).toHaveLength(1);
    expect(alerts[0].message).toContain("XYZ789");
    expect(JSON.parse(alerts[0].data).note).toBe("stolen");
    const live = events.filter((e) => e.type === "alert");
    expect(live).toHaveLength(1);
    expect(live[0]).toMatchObject({ type: "alert", kind: "alpr.watchlist", plate: "XYZ789", watched: "XYZ789", cameraKey: "cam1" });
    // nothing left on disk but snapshots
    expect(filesUnder(join(env.dataDir, "frames"))).toEqual([]);
    expect(filesUnder(join(env.dataDir, "plates"))).toHaveLength(3);

    // a crash after the summaries ran but before their results were recorded: the restart
    // repeats them, and neither rows nor alerts are duplicated
    env.db.query("DELETE FROM results WHERE task_id IN (SELECT id FROM tasks WHERE category = 'summary')").run();
    env.db.query("UPDATE tasks SET status = 'running' WHERE category = 'summary'").run();
    service = startAlprService({ db: env.db, config, dataDir: env.dataDir, bus, pool, ffmpegPath: FFMPEG });
    await waitFor(() => service.isIdle(), 30_000, "idle after restart");
    await service.stop();
    expect((env.db.query("SELECT COUNT(*) AS n FROM vehicles").get() as { n: number }).n).toBe(3);
    expect(env.db.query("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'alpr.watchlist'").get()).toEqual({ n: 1 });
    expect(events.filter((e) => e.type === "alert")).toHaveLength(1);
    expect((env.db.query("SELECT COUNT(*) AS n FROM results WHERE task_id IN (SELECT id FROM tasks WHERE category = 'summary')").get() as { n: number }).n).toBe(3);
  });

  test("start-up repair: running tasks are requeued, orphan frame files deleted", async () => {
    const script = new Map<number, ScriptedPlate[]>([[1, [{ box: [100, 100, 60, 30], score: 0.9, text: "KEEP12", confidence: 0.9 }]]]);
    const ref = addFrame(0, 1, T0);
    const t = env.db.query("SELECT id FROM tasks WHERE category = 'vehicle_detect'").get() as { id: number };
    env.db.query("UPDATE tasks SET status = 'running' WHERE id = $id").run({ id: t.id }); // crashed mid-task
    const orphan = join(env.dataDir, frameRelPath(env.cameraId, 99, 0));
    writeFileSync(orphan, greyFrame(2)); // extracted, but its tasks were never committed
    const config = alprConfig(env, "track_flush_ms = 100\npoll_ms = 50");
    const service = startAlprService({ db: env.db, config, dataDir: env.dataDir, pool: scriptedPool(script), ffmpegPath: FFMPEG });
    expect(existsSync(orphan)).toBe(false);
    await waitFor(() => service.isIdle(), 30_000, "idle");
    await service.stop();
    expect(getTask(env.db, t.id)!.status).toBe("done");
    expect(existsSync(join(env.dataDir, ref))).toBe(false);
    expect(env.db.query("SELECT final_plate FROM vehicles").all()).toEqual([{ final_plate: "KEEP12" }]);
  });

  test("a retryable failure keeps the frame; the retry then runs on it", async () => {
    const db = env.db;
    const ref = addFrame(0, 1, T0);
    const task = db.query("SELECT id FROM tasks").get() as { id: number };
    completeTask(db, task.id, { error: "vehicle_detect: vision worker crashed", kind: "runtime" }, "failed");
    const dispatcher = new Dispatcher({ db, dataDir: env.dataDir, trackGapMs: 2000, trackIou: 0.3, trackFlushMs: 0, minConfidence: 0.5 });
    expect(dispatcher.handleResults()).toBe(1);
    expect(existsSync(join(env.dataDir, ref))).toBe(true);
    expect(countFrameDependents(db, ref)).toBe(1);
    const ev = db.query("SELECT level, message FROM event_log WHERE kind = 'alpr.task_failed'").get() as { level: string; message: string };
    expect(ev.level).toBe("error");
    expect(ev.message).toContain("vision worker crashed");
    // the retry (the service requeues failed tasks every 30 s)
    expect(requeueFailed(db)).toBe(1);
    const script = new Map<number, ScriptedPlate[]>([[1, [{ box: [100, 100, 60, 30], score: 0.9, text: "RETRY1", confidence: 0.9 }]]]);
    const runner = new TaskRunner({ db, dataDir: env.dataDir, pool: scriptedPool(script) });
    for (let i = 0; i < 3; i++) {
      runner.pump();
      await waitFor(() => runner.active === 0, 10_000, "tasks", 5);
      dispatcher.handleResults();
    }
    expect(getTask(db, task.id)!.status).toBe("done");
    const track = db.query("SELECT meta FROM tasks WHERE category = 'plate_smooth'").get() as { meta: string };
    expect(JSON.parse(track.meta).readings.map((r: { text: string }) => r.text)).toEqual(["RETRY1"]);
    expect(existsSync(join(env.dataDir, ref))).toBe(true); // held by the open track
    await runner.stop();
  });
});
