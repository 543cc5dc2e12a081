/**
 * The `timelapseBatch` machine (src/machines/timelapseBatch.ts) on XState's SimulatedClock:
 * retries at a stored deadline, REGENERATE, CANCEL, and restores after a JSON round-trip of the
 * persisted snapshot. The last part runs it under the real supervisor wiring with the journal
 * on a real SQLite file (real batch rows); only the render is a stand-in (the real one runs in
 * timelapse-capture.test.ts and timelapse-crash.test.ts).
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimulatedClock, createActor, fromCallback, fromPromise } from "xstate";
import {
  timelapseBatchMachine,
  retryDelayMs,
  MAX_RENDER_ATTEMPTS,
  type RenderInput,
  type RenderOutput,
  type TimelapseBatchInput,
} from "../src/machines/timelapseBatch.ts";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { batchById, createBatch, insertCapture } from "../src/db/timelapse.ts";
import { validateConfig, type CameraConfig, type Config } from "../src/config.ts";
import { dbPath } from "../src/paths.ts";
import { LiveBus } from "../src/events.ts";
import { Journal } from "../src/actors/journal.ts";
import { startSupervisor } from "../src/actors/supervisor.ts";

const T0 = 1_700_000_000_000;
const tick = () => new Promise((r) => setTimeout(r, 0));
const INPUT: TimelapseBatchInput = { batchId: 7, cameraKey: "front", cameraId: 1, batchType: "manual" };
const RESULT: RenderOutput = { relPath: "timelapse/videos/front/batch-7.mp4", bytes: 1000, frames: 10, durationSeconds: 1, overlayApplied: false };

/** A render the test settles by hand: one deferred per invocation. */
function manualRender() {
  const calls: { input: RenderInput; resolve: (v: RenderOutput) => void; reject: (e: unknown) => void }[] = [];
  const logic = fromPromise<RenderOutput, RenderInput>(({ input }) => new Promise((resolve, reject) => void calls.push({ input, resolve, reject })));
  return { calls, logic };
}

function harness(render = manualRender(), now = T0) {
  const clock = new SimulatedClock();
  clock.set(now);
  const log = { started: 0, retries: [] as string[], completed: [] as RenderOutput[], failed: [] as string[], cancelled: 0 };
  const machine = timelapseBatchMachine.provide({
    actors: { render: render.logic },
    actions: {
      startRender: () => void log.started++,
      recordRetry: ({ context }) => void log.retries.push(`${context.attempts}: ${context.lastError} @${context.retryAtUtc}`),
      recordCompleted: ({ context }) => void log.completed.push(context.result!),
      recordFailed: ({ context }) => void log.failed.push(`${context.attempts}: ${context.lastError}`),
      recordCancelled: () => void log.cancelled++,
    },
  });
  const make = (snapshot?: unknown, input = INPUT) => createActor(machine, { input, clock, ...(snapshot ? { snapshot: snapshot as never } : {}) }).start();
  return { clock, log, render, make };
}

describe("timelapseBatch machine", () => {
  test("pending -> processing at once; a render's result completes it (recorded once)", async () => {
    const h = harness();
    const a = h.make();
    expect(a.getSnapshot().value).toBe("processing");
    expect(h.log.started).toBe(1);
    expect(h.render.calls[0]!.input).toEqual({ batchId: 7, cameraKey: "front", cameraId: 1, batchType: "manual", attempt: 1 });
    h.render.calls[0]!.resolve(RESULT);
    await tick();
    expect(a.getSnapshot().value).toBe("completed");
    expect(h.log.completed).toEqual([RESULT]);
    expect(a.getSnapshot().output).toEqual({ status: "completed", batchId: 7, error: null });
  });

  test(`a failed render waits retryDelayMs (stored as retryAtUtc) and tries again, ${MAX_RENDER_ATTEMPTS} tries in all`, async () => {
    const h = harness();
    const a = h.make();
    for (let n = 1; n <= MAX_RENDER_ATTEMPTS; n++) {
      expect(a.getSnapshot().value).toBe("processing");
      expect(h.render.calls.length).toBe(n);
      h.render.calls[n - 1]!.reject(new Error(`ffmpeg failed ${n}`));
      await tick();
      expect(a.getSnapshot().context.attempts).toBe(n);
      if (n === MAX_RENDER_ATTEMPTS) break;
      expect(a.getSnapshot().value).toBe("retryWait");
      expect(a.getSnapshot().context.retryAtUtc).toBe(h.clock.now() + retryDelayMs(n));
      h.clock.increment(retryDelayMs(n) - 1);
      expect(a.getSnapshot().value).toBe("retryWait");
      h.clock.increment(1);
    }
    expect(a.getSnapshot().value).toBe("failed");
    expect(h.log.retries.length).toBe(MAX_RENDER_ATTEMPTS - 1);
    expect(h.log.failed).toEqual([`${MAX_RENDER_ATTEMPTS}: ffmpeg failed ${MAX_RENDER_ATTEMPTS}`]);
    expect(a.getSnapshot().output).toMatchObject({ status: "failed", error: `ffmpeg failed ${MAX_RENDER_ATTEMPTS}` });
    expect([retryDelayMs(1), retryDelayMs(2), retryDelayMs(10)]).toEqual([30_000, 60_000, 600_000]);
  });

  test("an error marked retryable: false fails at once", async () => {
    const h = harness();
    const a = h.make();
    h.render.calls[0]!.reject(Object.assign(new Error("the batch has no images"), { retryable: false }));
    await tick();
    expect(a.getSnapshot().value).toBe("failed");
    expect(h.log.failed).toEqual(["1: the batch has no images"]);
  });

  test("REGENERATE while rendering: the result is recorded, then it renders once more", async () => {
    const h = harness(manualRender(), T0);
    const a = h.make(undefined, { ...INPUT, batchType: "continuous" });
    a.send({ type: "REGENERATE" });
    a.send({ type: "REGENERATE" });
    h.render.calls[0]!.resolve(RESULT);
    await tick();
    expect(a.getSnapshot().value).toBe("processing");
    expect(h.log.completed.length).toBe(1);
    expect(h.log.started).toBe(2);
    expect(h.render.calls.length).toBe(2);
    h.render.calls[1]!.resolve({ ...RESULT, frames: 12 });
    await tick();
    expect(a.getSnapshot().value).toBe("completed");
    expect(h.log.completed.map((r) => r.frames)).toEqual([10, 12]);
  });

  test("CANCEL while rendering or waiting to retry ends it in cancelled", async () => {
    const h = harness();
    const a = h.make();
    a.send({ type: "CANCEL" });
    expect(a.getSnapshot().value).toBe("cancelled");
    expect(h.log.cancelled).toBe(1);
    expect(a.getSnapshot().output).toMatchObject({ status: "cancelled" });
    const b = h.make();
    h.render.calls[1]!.reject(new Error("x"));
    await tick();
    expect(b.getSnapshot().value).toBe("retryWait");
    b.send({ type: "CANCEL" });
    expect(b.getSnapshot().value).toBe("cancelled");
  });

  test("restored after a JSON round-trip in retryWait: TIMERS.REARM fires at the stored deadline, not later and not earlier", async () => {
    const h = harness();
    const a = h.make();
    h.render.calls[0]!.reject(new Error("disk full"));
    await tick();
    const deadline = a.getSnapshot().context.retryAtUtc!;
    h.clock.increment(10_000);
    const persisted = JSON.parse(JSON.stringify(a.getPersistedSnapshot()));
    a.stop();

    const h2 = harness(manualRender(), T0 + 20_000);
    const b = h2.make(persisted);
    b.send({ type: "TIMERS.REARM" });
    expect(b.getSnapshot().value).toBe("retryWait");
    h2.clock.increment(deadline - (T0 + 20_000) - 1);
    expect(b.getSnapshot().value).toBe("retryWait");
    h2.clock.increment(1);
    expect(b.getSnapshot().value).toBe("processing");
    expect(h2.render.calls.length).toBe(1);
    expect(h2.render.calls[0]!.input.attempt).toBe(2);
  });

  test("restored after a JSON round-trip while processing: the render starts again from scratch", async () => {
    const h = harness();
    const a = h.make();
    const persisted = JSON.parse(JSON.stringify(a.getPersistedSnapshot()));
    a.stop();
    const h2 = harness();
    const b = h2.make(persisted);
    expect(b.getSnapshot().value).toBe("processing");
    expect(h2.render.calls.length).toBe(1);
    h2.render.calls[0]!.resolve(RESULT);
    await tick();
    expect(b.getSnapshot().value).toBe("completed");
    expect(h2.log.completed.length).toBe(1);
  });
});

describe("timelapseBatch under the real supervisor wiring and journal", () => {
  let setup: { dir: string; db: Database; config: Config; camera: CameraConfig; ids: Map<string, number> };
  beforeEach(() => {
    const dir = mkdtempSync(join(tmpdir(), "dashcam-tlm-"));
    const config = validateConfig({ data_dir: dir, cameras: [{ key: "front", source: "testsrc", record: false }] }, dir);
    const db = openDatabase(dbPath(dir));
    setup = { dir, db, config, camera: config.cameras[0]!, ids: syncCameras(db, config.cameras, null) };
  });
  afterEach(() => {
    setup.db.close();
    rmSync(setup.dir, { recursive: true, force: true });
  });

  test("journaled as `timelapse:<id>`; a restart while waiting to retry resumes from the journal and completes exactly once", async () => {
    const { dir, db, config, camera, ids } = setup;
    const cameraId = ids.get("front")!;
    const imageIds = [0, 1, 2].map(
      (i) =>
        insertCapture(db, {
          cameraId,
          filename: `${i}.jpg`,
          filePath: `timelapse/images/front/x/${i}.jpg`,
          bytes: 1,
          width: 2,
          height: 2,
          format: "jpeg",
          fileHash: "00",
          capturedAt: T0 + i * 1000,
          attemptedAt: T0 + i * 1000,
          durationMs: 5,
          retryCount: 0,
        }).imageId,
    );
    const batchId = createBatch(db, { cameraId, cameraKey: "front", type: "manual", generationMode: "manual_only", frameRate: 30, overlay: false, now: T0 }, imageIds);
    const renders: RenderInput[] = [];
    let fail = true;
    const timelapseRender = fromPromise<RenderOutput, RenderInput>(async ({ input }) => {
      renders.push(input);
      if (fail) throw new Error("ffmpeg died");
      return { ...RESULT, relPath: `timelapse/videos/front/batch-${input.batchId}.mp4`, frames: 3, durationSeconds: 0.1 };
    });
    const deps = (journal: Journal) => ({
      db,
      dataDir: dir,
      bootId: "boot-1",
      journal,
      bus: new LiveBus(),
      cameras: new Map([["front", camera]]),
      recorder: fromCallback(() => {}) as never,
      timelapseRender,
      config,
    });
    const clock1 = new SimulatedClock();
    clock1.set(T0);
    const j1 = new Journal(db);
    const sup1 = startSupervisor(deps(j1), [camera], ids, { clock: clock1 });
    // BOOT spawned the pending batch from the database
    expect(sup1.system.get(`timelapse:${batchId}`)).toBeDefined();
    await tick();
    await tick();
    expect(renders.length).toBe(1);
    expect(batchById(db, batchId)!.status).toBe("pending");
    expect(batchById(db, batchId)!.error_message).toBe("ffmpeg died");
    const row = db.query("SELECT machine, state FROM actor_snapshots WHERE actor_id = $id").get({ id: `timelapse:${batchId}` }) as { machine: string; state: string };
    expect(row).toEqual({ machine: "timelapseBatch", state: '"retryWait"' });
    // power cut: the actors vanish without a stop
    j1.close();
    sup1.stop();

    fail = false;
    const clock2 = new SimulatedClock();
    clock2.set(T0 + 5_000);
    const j2 = new Journal(db);
    const sup2 = startSupervisor(deps(j2), [camera], ids, { clock: clock2 });
    expect((sup2.system.get(`timelapse:${batchId}`)!.getSnapshot() as { value: string }).value).toBe("retryWait");
    clock2.increment(retryDelayMs(1) - 5_000 - 1);
    await tick();
    expect(renders.length).toBe(1);
    clock2.increment(1);
    await tick();
    await tick();
    expect(renders.length).toBe(2);
    const b = batchById(db, batchId)!;
    expect([b.status, b.total_frames, b.output_path, b.error_message]).toEqual(["completed", 3, `timelapse/videos/front/batch-${batchId}.mp4`, null]);
    const done = db.query("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'timelapse.done'").get() as { n: number };
    expect(done.n).toBe(1);
    const transitions = db.query("SELECT to_state FROM actor_transitions WHERE actor_id = $id ORDER BY id").all({ id: `timelapse:${batchId}` }) as { to_state: string }[];
    expect(transitions.map((t) => t.to_state)).toEqual(["processing", "retryWait", "processing", "completed"]);
    // the finished actor is gone from the supervisor
    expect(sup2.getSnapshot().context.timelapses?.[String(batchId)]).toBeUndefined();
    j2.close();
    sup2.stop();
  });
});
