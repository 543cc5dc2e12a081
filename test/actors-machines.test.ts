/**
 * The camera, trip and supervisor machines on XState's SimulatedClock, with test actors
 * provided in place of ffmpeg (`recorder`) and the database (named actions record calls).
 * Restores go through `getPersistedSnapshot()` + a JSON round-trip.
 */
import { describe, expect, test } from "bun:test";
import { SimulatedClock, createActor, fromCallback, fromPromise, type AnyActorRef } from "xstate";
import { cameraMachine, cameraStateName, backoffDelay, incidentsOverlapping, type CameraInput, type RecorderRequest } from "../src/machines/camera.ts";
import { tripMachine, type SaveTripInput } from "../src/machines/trip.ts";
import { supervisorMachine, type BootCamera } from "../src/machines/supervisor.ts";
import type { RecorderCommand, RecorderEvent } from "../src/machines/events.ts";

interface Rec {
  starts: number;
  stops: number;
  inputs: RecorderRequest[];
  commands: RecorderCommand[];
  sendBack: null | ((e: RecorderEvent) => void);
  emit(e: RecorderEvent): void;
}

function newRec(): Rec {
  const rec: Rec = {
    starts: 0,
    stops: 0,
    inputs: [],
    commands: [],
    sendBack: null,
    emit(e) {
      if (!rec.sendBack) throw new Error("recorder not running");
      rec.sendBack(e);
    },
  };
  return rec;
}

/** Controllable stand-ins for the ffmpeg recorder, one record per camera key. */
function testRecorders() {
  const recs = new Map<string, Rec>();
  const of = (key: string) => {
    let r = recs.get(key);
    if (!r) recs.set(key, (r = newRec()));
    return r;
  };
  const logic = fromCallback<RecorderCommand, RecorderRequest>(({ sendBack, receive, input }) => {
    const rec = of(input.key);
    rec.starts++;
    rec.inputs.push(input);
    rec.sendBack = sendBack as (e: RecorderEvent) => void;
    receive((c) => rec.commands.push(c));
    return () => {
      rec.stops++;
      rec.sendBack = null;
    };
  });
  return { of, logic };
}

function testRecorder() {
  const t = testRecorders();
  return { rec: t.of("front"), logic: t.logic };
}

const INPUT: CameraInput = { key: "front", cameraId: 1, backoffInitialMs: 1000, backoffMaxMs: 4000, stallMs: 30_000 };

function segment(abs: number, at: number): RecorderEvent {
  return { type: "SEGMENT_CLOSED", relPath: `recordings/front/${String(abs).padStart(9, "0")}.ts`, absoluteIndex: abs, startSec: 0, endSec: 2, startUtc: at - 2000, endUtc: at, bytes: 1000 };
}

function cameraHarness(opts: { input?: Partial<CameraInput>; freed?: () => boolean } = {}) {
  const clock = new SimulatedClock();
  clock.set(1_000_000);
  const { rec, logic } = testRecorder();
  const calls = { status: [] as string[], indexed: [] as number[], retention: 0, recheck: 0, bumps: 0, running: [] as number[] };
  const machine = cameraMachine.provide({
    actors: { recorder: logic },
    actions: {
      writeStatus: (_, p) => void calls.status.push(p.state),
      indexSegment: ({ event }) => void (event.type === "SEGMENT_CLOSED" && calls.indexed.push(event.absoluteIndex)),
      enforceRetention: () => void calls.retention++,
      bumpReconnect: () => void calls.bumps++,
      recordRunning: ({ event }) => void (event.type === "RECORDER.STARTED" && calls.running.push(event.pid)),
      recheckRetention: ({ self }) => {
        calls.recheck++;
        if (opts.freed?.()) queueMicrotask(() => self.send({ type: "DISK.FREED", at: 0 }));
      },
    },
  });
  const actor = createActor(machine, { input: { ...INPUT, ...opts.input }, clock });
  actor.start();
  const state = () => cameraStateName(actor.getSnapshot().value);
  return { clock, rec, calls, actor, machine, state };
}

/**
 * A camera actor restored from a persisted snapshot in a "new process" whose clock reads `now`,
 * with a fresh test recorder (invoked children start again on restore).
 */
function restoreCamera(saved: unknown, now: number) {
  const clock = new SimulatedClock();
  clock.set(now);
  const { rec, logic } = testRecorder();
  const restored = createActor(cameraMachine.provide({ actors: { recorder: logic } }), { snapshot: saved as never, clock, input: INPUT });
  restored.start();
  return { clock, rec, restored };
}

describe("camera machine", () => {
  test("an incident window is kept through a JSON round-trip and dropped once a segment starts after its end", () => {
    const h = cameraHarness();
    h.actor.send({ type: "START" });
    h.rec.emit({ type: "RECORDER.RECEIVING", at: h.clock.now() });
    const t0 = h.clock.now();
    h.actor.send({ type: "INCIDENT.WINDOW", incidentId: "inc-1", fromUtc: t0 - 30_000, toUtc: t0 + 5_000 });
    expect(incidentsOverlapping(h.actor.getSnapshot().context.incidentWindows, t0, t0 + 2_000)).toEqual(["inc-1"]);
    const saved = JSON.parse(JSON.stringify(h.actor.getPersistedSnapshot()));
    h.actor.stop();
    const { restored } = restoreCamera(saved, t0);
    expect(restored.getSnapshot().context.incidentWindows).toEqual({ "inc-1": { fromUtc: t0 - 30_000, toUtc: t0 + 5_000 } });
    // a segment inside the window keeps it; one starting at its end drops it
    restored.send(segment(0, t0 + 4_000));
    expect(Object.keys(restored.getSnapshot().context.incidentWindows ?? {})).toEqual(["inc-1"]);
    restored.send(segment(1, t0 + 7_000));
    expect(restored.getSnapshot().context.incidentWindows).toEqual({});
    expect(incidentsOverlapping(restored.getSnapshot().context.incidentWindows, t0, t0 + 2_000)).toEqual([]);
    restored.stop();
  });

  test("RECORDER.RESTART (new encoder settings): the segment is finished and indexed, a fresh recorder starts, no stop is reported; a STOP meanwhile stops for good", () => {
    const h = cameraHarness();
    let reported = 0;
    const actor = createActor(h.machine.provide({ actions: { reportStopped: () => void reported++ } }), { input: INPUT, clock: h.clock });
    actor.start();
    actor.send({ type: "START" });
    h.rec.emit({ type: "RECORDER.RECEIVING", at: h.clock.now() });
    expect(cameraStateName(actor.getSnapshot().value)).toBe("recording");
    actor.send({ type: "RECORDER.RESTART" });
    expect(cameraStateName(actor.getSnapshot().value)).toBe("stopping");
    expect(h.rec.commands).toEqual([{ type: "RECORDER.STOP" }]);
    // ffmpeg finishes its segment (indexed) and exits: a new run starts at once
    h.rec.emit(segment(0, h.clock.now()));
    h.rec.emit({ type: "PROCESS_EXIT", code: 0, signal: null, error: null, at: h.clock.now() });
    expect(cameraStateName(actor.getSnapshot().value)).toBe("starting");
    expect(h.calls.indexed).toEqual([0]);
    expect(h.rec.starts).toBe(2);
    expect(reported).toBe(0);
    expect(h.calls.bumps).toBe(0);
    expect(actor.getSnapshot().context.restartPending).toBe(false);
    // a STOP during a restart wins: the camera stops and says so
    h.rec.emit({ type: "RECORDER.RECEIVING", at: h.clock.now() });
    actor.send({ type: "RECORDER.RESTART" });
    actor.send({ type: "STOP" });
    h.rec.emit({ type: "PROCESS_EXIT", code: 0, signal: null, error: null, at: h.clock.now() });
    expect(cameraStateName(actor.getSnapshot().value)).toBe("stopped");
    expect(reported).toBe(1);
    expect(h.rec.starts).toBe(2);
    // ignored when not recording
    actor.send({ type: "RECORDER.RESTART" });
    expect(cameraStateName(actor.getSnapshot().value)).toBe("stopped");
    actor.stop();
    h.actor.stop();
  });

  test("start -> recording -> PROCESS_EXIT -> backoff honours its deadline -> starting", () => {
    const h = cameraHarness();
    expect(h.state()).toBe("stopped");
    h.actor.send({ type: "START" });
    expect(h.state()).toBe("starting");
    expect(h.rec.starts).toBe(1);
    h.rec.emit({ type: "RECORDER.STARTED", pid: 4242, at: h.clock.now() });
    expect(h.actor.getSnapshot().context.pid).toBe(4242);
    expect(h.calls.running).toEqual([4242]);
    h.rec.emit({ type: "RECORDER.RECEIVING", at: h.clock.now() });
    expect(h.state()).toBe("recording");

    const failedAt = h.clock.now();
    h.rec.emit({ type: "PROCESS_EXIT", code: 1, signal: null, error: "Connection refused", at: failedAt });
    expect(h.state()).toBe("backoff");
    const ctx = h.actor.getSnapshot().context;
    expect(ctx.reconnectCount).toBe(1);
    expect(ctx.lastError).toBe("Connection refused");
    expect(ctx.pid).toBeNull();
    expect(ctx.backoffDeadline).toBe(failedAt + 1000);
    expect(h.calls.bumps).toBe(1);
    expect(h.rec.stops).toBe(1);

    h.clock.increment(999);
    expect(h.state()).toBe("backoff");
    expect(h.rec.starts).toBe(1);
    h.clock.increment(1);
    expect(h.state()).toBe("starting");
    expect(h.rec.starts).toBe(2);
    expect(h.actor.getSnapshot().context.backoffDeadline).toBeNull();
    expect(h.calls.status).toEqual(["stopped", "starting", "recording", "backoff", "starting"]);
  });

  test("backoff doubles up to the cap and resets after a recorded segment", () => {
    const h = cameraHarness();
    h.actor.send({ type: "START" });
    const delays: number[] = [];
    const fail = () => {
      const t = h.clock.now();
      h.rec.emit({ type: "PROCESS_EXIT", code: 1, signal: null, error: "boom", at: t });
      expect(h.state()).toBe("backoff");
      const d = h.actor.getSnapshot().context.backoffDeadline! - t;
      delays.push(d);
      h.clock.increment(d);
      expect(h.state()).toBe("starting");
    };
    fail();
    fail();
    fail();
    fail();
    expect(delays).toEqual([1000, 2000, 4000, 4000]);
    expect(h.actor.getSnapshot().context.consecutiveFailures).toBe(4);
    // a recorded segment resets the exponent
    h.rec.emit(segment(7, h.clock.now()));
    expect(h.state()).toBe("recording");
    expect(h.actor.getSnapshot().context.consecutiveFailures).toBe(0);
    fail();
    expect(delays.at(-1)).toBe(1000);
    expect(h.actor.getSnapshot().context.reconnectCount).toBe(5);
    expect(backoffDelay(30, 1000, 30_000)).toBe(30_000);
  });

  test("backoff restarts only when the deadline passed AND the last run's segments are settled", () => {
    const settles: ((e: { type: "SEGMENTS.SETTLED"; salvaged: number }) => void)[] = [];
    const clock = new SimulatedClock();
    const { rec, logic } = testRecorder();
    const machine = cameraMachine.provide({
      actors: {
        recorder: logic,
        settleSegments: fromCallback(({ sendBack }) => void settles.push(sendBack as never)),
      },
    });
    const actor = createActor(machine, { input: INPUT, clock }).start();
    const state = () => cameraStateName(actor.getSnapshot().value);
    actor.send({ type: "START" });
    rec.emit({ type: "PROCESS_EXIT", code: 1, signal: null, error: "x", at: 0 });
    expect(settles.length).toBe(1);
    // slow settle: the deadline passes first, the restart waits for it
    clock.increment(1000);
    expect(state()).toBe("backoff");
    expect(rec.starts).toBe(1);
    settles[0]({ type: "SEGMENTS.SETTLED", salvaged: 1 });
    expect(state()).toBe("starting");
    expect(rec.starts).toBe(2);
    // fast settle: the deadline decides
    rec.emit({ type: "PROCESS_EXIT", code: 1, signal: null, error: "x", at: 0 });
    settles[1]({ type: "SEGMENTS.SETTLED", salvaged: 0 });
    expect(state()).toBe("backoff");
    clock.increment(1999);
    expect(state()).toBe("backoff");
    clock.increment(1);
    expect(state()).toBe("starting");
  });

  test("stall and recovery; a stall that lasts goes to backoff", () => {
    const h = cameraHarness();
    h.actor.send({ type: "START" });
    h.rec.emit(segment(0, h.clock.now()));
    expect(h.state()).toBe("recording");
    expect(h.calls.indexed).toEqual([0]);
    expect(h.calls.retention).toBe(1);

    h.rec.emit({ type: "STALL", at: h.clock.now(), reason: "no segment for 14 s" });
    expect(h.state()).toBe("stalled");
    expect(h.actor.getSnapshot().context.lastError).toBe("no segment for 14 s");
    h.clock.increment(10_000);
    h.rec.emit(segment(1, h.clock.now()));
    expect(h.state()).toBe("recording");
    expect(h.calls.indexed).toEqual([0, 1]);
    expect(h.rec.starts).toBe(1); // same ffmpeg throughout

    h.rec.emit({ type: "STALL", at: h.clock.now(), reason: "no segment for 14 s" });
    h.clock.increment(29_999);
    expect(h.state()).toBe("stalled");
    h.clock.increment(1);
    expect(h.state()).toBe("backoff");
    expect(h.rec.stops).toBe(1); // recorder (ffmpeg) stopped
    expect(h.actor.getSnapshot().context.lastError).toContain("stalled for 30 s");
    expect(h.actor.getSnapshot().context.reconnectCount).toBe(1);
  });

  test("disk_full: stops recording and re-checks retention every 60 s while still blocked", () => {
    const h = cameraHarness({ freed: () => false });
    h.actor.send({ type: "START" });
    h.rec.emit(segment(0, h.clock.now()));
    h.actor.send({ type: "DISK_FULL_LOCKED", at: h.clock.now(), reason: "only locked footage left" });
    expect(h.state()).toBe("disk_full");
    expect(h.rec.commands).toEqual([{ type: "RECORDER.STOP" }]);
    h.rec.emit({ type: "PROCESS_EXIT", code: 0, signal: null, error: null, at: h.clock.now() });
    expect(h.state()).toBe("disk_full");
    expect(h.rec.stops).toBe(1);
    expect(h.actor.getSnapshot().context.lastError).toBe("only locked footage left");
    const deadline = h.actor.getSnapshot().context.diskRetryDeadline!;
    expect(deadline).toBe(h.clock.now() + 60_000);

    h.actor.send({ type: "START" }); // ignored: no space
    expect(h.state()).toBe("disk_full");
    h.clock.increment(59_999);
    expect(h.calls.recheck).toBe(0);
    h.clock.increment(1);
    expect(h.calls.recheck).toBe(1);
    expect(h.state()).toBe("disk_full");
    expect(h.actor.getSnapshot().context.diskRetryDeadline).toBe(h.clock.now() + 60_000);

    h.clock.increment(120_000);
    expect(h.calls.recheck).toBe(2);
    expect(h.state()).toBe("disk_full");
    expect(h.rec.starts).toBe(1);
  });

  test("disk_full resumes recording after DISK.FREED", async () => {
    const h = cameraHarness({ freed: () => true });
    h.actor.send({ type: "START" });
    h.actor.send({ type: "DISK_FULL_LOCKED", at: h.clock.now(), reason: "full" });
    expect(h.state()).toBe("disk_full");
    h.rec.emit({ type: "PROCESS_EXIT", code: 0, signal: null, error: null, at: h.clock.now() });
    h.clock.increment(60_000);
    await Promise.resolve();
    expect(h.state()).toBe("starting");
    expect(h.rec.starts).toBe(2);
  });

  test("disk_full: the segment ffmpeg finishes after DISK_FULL_LOCKED is indexed; the ring is settled only after ffmpeg exited", () => {
    const settles: string[] = [];
    const clock = new SimulatedClock();
    clock.set(1_000_000);
    const { rec, logic } = testRecorder();
    const indexed: number[] = [];
    const status: string[] = [];
    let retention = 0;
    const machine = cameraMachine.provide({
      actors: {
        recorder: logic,
        settleSegments: fromCallback(({ sendBack }) => {
          // what a real settle would find: the recorder must already be gone
          settles.push(rec.sendBack === null ? "after exit" : "while ffmpeg runs");
          sendBack({ type: "SEGMENTS.SETTLED", salvaged: 0 });
        }),
      },
      actions: {
        writeStatus: (_, p) => void status.push(p.state),
        indexSegment: ({ event }) => void (event.type === "SEGMENT_CLOSED" && indexed.push(event.absoluteIndex)),
        cutOpenTrip: () => void status.push(`trip cut after ${indexed.join(",")}`),
        enforceRetention: ({ self }) => {
          retention++;
          // the card is still full after the finishing segment too
          queueMicrotask(() => self.send({ type: "DISK_FULL_LOCKED", at: 0, reason: "still full" }));
        },
      },
    });
    const actor = createActor(machine, { input: INPUT, clock }).start();
    const state = () => cameraStateName(actor.getSnapshot().value);
    actor.send({ type: "START" });
    rec.emit(segment(8, clock.now()));
    actor.send({ type: "DISK_FULL_LOCKED", at: clock.now(), reason: "only locked footage left" });
    expect(state()).toBe("disk_full");
    expect(status.at(-1)).toBe("disk_full");
    expect(rec.commands).toEqual([{ type: "RECORDER.STOP" }]);
    expect(settles).toEqual([]); // nothing settled while ffmpeg finishes its segment
    // ffmpeg finishes 9 and exits later
    clock.increment(500);
    rec.emit(segment(9, clock.now()));
    expect(indexed).toEqual([8, 9]);
    expect(state()).toBe("disk_full");
    rec.emit({ type: "PROCESS_EXIT", code: 0, signal: null, error: null, at: clock.now() });
    expect(actor.getSnapshot().value).toBe("disk_full");
    expect(settles).toEqual(["after exit"]);
    // the trip's cut is marked once its last segment is indexed
    expect(status.filter((x) => x.startsWith("trip cut"))).toEqual(["trip cut after 8,9"]);
    expect(rec.starts).toBe(1);
    expect(retention).toBe(2);
    expect(actor.getSnapshot().context.nextAbsolute).toBe(10);
  });

  test("disk_full: ffmpeg that does not exit within the stop timeout is cancelled, then the ring is settled", () => {
    const h = cameraHarness({ input: { stopTimeoutMs: 3000 } });
    h.actor.send({ type: "START" });
    h.actor.send({ type: "DISK_FULL_LOCKED", at: h.clock.now(), reason: "full" });
    expect(h.actor.getSnapshot().value).toEqual({ online: "disk_full" });
    // a restore while ffmpeg finishes keeps the stored stop deadline
    const saved = JSON.parse(JSON.stringify(h.actor.getPersistedSnapshot()));
    expect(saved.context.stopDeadline).toBe(h.clock.now() + 3000);
    h.clock.increment(2999);
    expect(h.rec.stops).toBe(0);
    h.clock.increment(1);
    expect(h.actor.getSnapshot().value).toBe("disk_full");
    expect(h.rec.stops).toBe(1);
  });

  test("graceful stop: RECORDER.STOP, the final segment is indexed, PROCESS_EXIT -> stopped", () => {
    const h = cameraHarness();
    h.actor.send({ type: "START" });
    h.rec.emit({ type: "RECORDER.RECEIVING", at: h.clock.now() });
    h.actor.send({ type: "STOP" });
    expect(h.state()).toBe("stopping");
    expect(h.rec.commands).toEqual([{ type: "RECORDER.STOP" }]);
    expect(h.rec.stops).toBe(0); // still invoked: waiting for ffmpeg to finalise
    h.rec.emit(segment(3, h.clock.now()));
    expect(h.calls.indexed).toEqual([3]);
    h.rec.emit({ type: "PROCESS_EXIT", code: 0, signal: null, error: null, at: h.clock.now() });
    expect(h.state()).toBe("stopped");
    expect(h.actor.getSnapshot().context.reconnectCount).toBe(0);
    expect(h.calls.bumps).toBe(0);
  });

  test("START while stopping: one press is enough, recording starts again once the stop is complete", () => {
    const h = cameraHarness();
    h.actor.send({ type: "START" });
    h.rec.emit({ type: "RECORDER.RECEIVING", at: h.clock.now() });
    h.actor.send({ type: "STOP" });
    h.actor.send({ type: "START" });
    expect(h.state()).toBe("stopping"); // the running ffmpeg still finishes its segment first
    expect(h.rec.starts).toBe(1);
    h.rec.emit(segment(7, h.clock.now()));
    h.rec.emit({ type: "PROCESS_EXIT", code: 0, signal: null, error: null, at: h.clock.now() });
    expect(h.calls.indexed).toEqual([7]);
    expect(h.state()).toBe("starting");
    expect(h.rec.starts).toBe(2);
    expect(h.calls.status.slice(-3)).toEqual(["stopping", "stopped", "starting"]);
    expect(h.actor.getSnapshot().context.startPending).toBe(false);
  });

  test("STOP, START, STOP while stopping: the last press wins, the camera stays stopped", () => {
    const h = cameraHarness();
    h.actor.send({ type: "START" });
    h.actor.send({ type: "STOP" });
    h.actor.send({ type: "START" });
    h.actor.send({ type: "STOP" });
    h.rec.emit({ type: "PROCESS_EXIT", code: 0, signal: null, error: null, at: h.clock.now() });
    expect(h.state()).toBe("stopped");
    expect(h.rec.starts).toBe(1);
  });

  test("a pending START survives a restore from a JSON round-trip of the stopping snapshot", () => {
    const h = cameraHarness();
    h.actor.send({ type: "START" });
    h.actor.send({ type: "STOP" });
    h.actor.send({ type: "START" });
    const saved = JSON.parse(JSON.stringify(h.actor.getPersistedSnapshot()));
    h.actor.stop();
    const { clock, rec, restored } = restoreCamera(saved, h.clock.now() + 100);
    expect(restored.getSnapshot().context.startPending).toBe(true);
    expect(cameraStateName(restored.getSnapshot().value)).toBe("stopping");
    rec.emit({ type: "PROCESS_EXIT", code: 0, signal: null, error: null, at: clock.now() });
    expect(cameraStateName(restored.getSnapshot().value)).toBe("starting");
  });

  test("graceful stop gives up after the stop timeout", () => {
    const h = cameraHarness({ input: { stopTimeoutMs: 3000 } });
    h.actor.send({ type: "START" });
    h.actor.send({ type: "STOP" });
    h.clock.increment(2999);
    expect(h.state()).toBe("stopping");
    h.clock.increment(1);
    expect(h.state()).toBe("stopped");
    expect(h.rec.stops).toBe(1);
  });

  test("disabled ignores START until ENABLE", () => {
    const h = cameraHarness();
    h.actor.send({ type: "DISABLE" });
    h.actor.send({ type: "START" });
    expect(h.state()).toBe("disabled");
    expect(h.rec.starts).toBe(0);
    h.actor.send({ type: "ENABLE" });
    h.actor.send({ type: "START" });
    expect(h.state()).toBe("starting");
  });

  test("restore after a JSON round-trip keeps context and the backoff deadline fires at the right time", () => {
    const h = cameraHarness();
    h.actor.send({ type: "START" });
    h.rec.emit({ type: "PROCESS_EXIT", code: 1, signal: null, error: "gone", at: 0 });
    h.clock.increment(1000);
    h.rec.emit({ type: "PROCESS_EXIT", code: 1, signal: null, error: "gone again", at: 0 });
    const saved = JSON.parse(JSON.stringify(h.actor.getPersistedSnapshot()));
    const deadline = h.actor.getSnapshot().context.backoffDeadline!;
    expect(deadline).toBe(h.clock.now() + 2000);
    h.actor.stop();

    // a new process 500 ms later
    const { clock, rec, restored } = restoreCamera(saved, h.clock.now() + 500);
    restored.send({ type: "TIMERS.REARM" });
    const ctx = restored.getSnapshot().context;
    expect(cameraStateName(restored.getSnapshot().value)).toBe("backoff");
    expect(ctx.reconnectCount).toBe(2);
    expect(ctx.consecutiveFailures).toBe(2);
    expect(ctx.lastError).toBe("gone again");
    expect(ctx.backoffDeadline).toBe(deadline);
    clock.increment(1499);
    expect(cameraStateName(restored.getSnapshot().value)).toBe("backoff");
    expect(rec.starts).toBe(0);
    clock.increment(1);
    expect(cameraStateName(restored.getSnapshot().value)).toBe("starting");
    expect(rec.starts).toBe(1);
  });

  test("a deadline that passed while the process was down fires at once after restore", () => {
    const h = cameraHarness();
    h.actor.send({ type: "START" });
    h.rec.emit({ type: "PROCESS_EXIT", code: 1, signal: null, error: "x", at: 0 });
    const saved = JSON.parse(JSON.stringify(h.actor.getPersistedSnapshot()));
    h.actor.stop();
    const { clock, rec, restored } = restoreCamera(saved, h.clock.now() + 60_000);
    restored.send({ type: "TIMERS.REARM" });
    expect(cameraStateName(restored.getSnapshot().value)).toBe("backoff");
    clock.increment(0);
    expect(cameraStateName(restored.getSnapshot().value)).toBe("starting");
    expect(rec.starts).toBe(1);
  });
});

describe("trip machine", () => {
  function tripHarness(status?: "open" | "closed") {
    const calls = { status: [] as string[], closed: [] as number[], evicted: 0 };
    const machine = tripMachine.provide({
      actions: {
        writeStatus: (_, p) => void calls.status.push(p.status),
        closeTrip: ({ event }) => void (event.type === "CLOSE" && calls.closed.push(event.at)),
        markEvicted: () => void calls.evicted++,
      },
    });
    const actor = createActor(machine, { input: { tripId: 5, cameraKey: "front", status } }).start();
    return { actor, calls };
  }

  test("open -> closed on CLOSE (closeTrip with the time given)", () => {
    const { actor, calls } = tripHarness();
    expect(actor.getSnapshot().value).toBe("open");
    actor.send({ type: "CLOSE", at: 1234, reason: "shutdown" });
    expect(actor.getSnapshot().value).toBe("closed");
    expect(actor.getSnapshot().context.closeReason).toBe("shutdown");
    expect(calls.closed).toEqual([1234]);
    expect(calls.status).toEqual(["open", "closed"]);
    actor.send({ type: "CLOSE", at: 9999, reason: "shutdown" }); // closed: ignored
    expect(calls.closed).toEqual([1234]);
  });

  test("open -> evicted (final)", () => {
    const { actor, calls } = tripHarness();
    actor.send({ type: "EVICTED", at: 77 });
    expect(actor.getSnapshot().value).toBe("evicted");
    expect(actor.getSnapshot().status).toBe("done");
    expect(actor.getSnapshot().context.evictedAt).toBe(77);
    expect(calls.evicted).toBe(1);
    expect(calls.status).toEqual(["open", "evicted"]);
  });

  test("a trip actor made for a closed trip starts closed", () => {
    const { actor, calls } = tripHarness("closed");
    expect(actor.getSnapshot().value).toBe("closed");
    actor.send({ type: "EVICTED", at: 1 });
    expect(actor.getSnapshot().value).toBe("evicted");
    expect(calls.status).toEqual(["closed", "evicted"]);
  });

  test("SAVE goes through saving; the default saveTrip fails clearly and the trip returns to closed", async () => {
    const { actor, calls } = tripHarness();
    actor.send({ type: "CLOSE", at: 10, reason: "shutdown" });
    actor.send({ type: "SAVE", at: 11, source: "ui" });
    expect(actor.getSnapshot().value).toBe("saving");
    await new Promise((r) => setTimeout(r, 0));
    expect(actor.getSnapshot().value).toBe("closed");
    expect(actor.getSnapshot().context.lastError).toContain("not implemented");
    expect(calls.status).toEqual(["open", "closed", "saving", "closed"]);
  });

  test("a provided saveTrip that succeeds ends in saved", async () => {
    const machine = tripMachine.provide({ actors: { saveTrip: fromPromise<unknown, SaveTripInput>(async () => "ok") } });
    const actor = createActor(machine, { input: { tripId: 1, cameraKey: "front" } }).start();
    actor.send({ type: "SAVE", at: 1, source: "button" });
    await new Promise((r) => setTimeout(r, 0));
    expect(actor.getSnapshot().value).toBe("saved");
    expect(actor.getSnapshot().status).toBe("done");
  });
});

describe("supervisor machine", () => {
  const boot = (cameras: BootCamera[], trips: { tripId: number; olderBoot: boolean }[] = []) => ({
    type: "BOOT" as const,
    at: 0,
    cameras,
    trips: trips.map((t) => ({ tripId: t.tripId, cameraKey: "a", status: "open" as const, olderBoot: t.olderBoot, lastTimeUtc: 500 })),
  });
  const cam = (key: string, cameraId: number, enabled = true): BootCamera => ({ ...INPUT, key, cameraId, enabled });

  function supervisorHarness() {
    const clock = new SimulatedClock();
    clock.set(5_000_000);
    const t = testRecorders();
    const recorders = { get: t.of };
    const recorder = t.logic;
    const closes: { id: number; at: number }[] = [];
    const machine = supervisorMachine.provide({
      actors: {
        camera: cameraMachine.provide({ actors: { recorder } }),
        trip: tripMachine.provide({
          actions: { closeTrip: ({ context, event }) => void (event.type === "CLOSE" && closes.push({ id: context.tripId, at: event.at })) },
        }),
      },
    });
    const actor = createActor(machine, { systemId: "supervisor", input: { restartInitialMs: 1000, restartMaxMs: 8000 }, clock });
    actor.start();
    const get = (id: string) => actor.system.get(id) as AnyActorRef | undefined;
    const stateOf = (id: string) => cameraStateName((get(id)?.getSnapshot() as { value: unknown }).value);
    return { clock, actor, get, stateOf, recorders, closes };
  }

  test("BOOT spawns one camera actor per camera (disabled ones disabled) and closes older-boot trips", () => {
    const h = supervisorHarness();
    h.actor.send(boot([cam("a", 1), cam("b", 2, false)], [{ tripId: 3, olderBoot: true }, { tripId: 4, olderBoot: false }]));
    expect(h.actor.getSnapshot().value).toBe("running");
    expect(h.stateOf("camera:a")).toBe("starting");
    expect(h.stateOf("camera:b")).toBe("disabled");
    expect(h.get("trip:3")?.getSnapshot().value).toBe("closed");
    expect(h.get("trip:4")?.getSnapshot().value).toBe("open");
    expect(h.closes).toEqual([{ id: 3, at: 500 }]);
  });

  test("one-for-one: a failed camera is restarted after a backoff; its sibling is untouched", () => {
    const h = supervisorHarness();
    h.actor.send(boot([cam("a", 1), cam("b", 2)]));
    const a1 = h.get("camera:a")!;
    const b1 = h.get("camera:b")!;
    h.recorders.get("b")!.emit({ type: "RECORDER.RECEIVING", at: 0 });
    expect(h.stateOf("camera:b")).toBe("recording");

    const recA = h.recorders.get("a")!;
    expect(recA.stops).toBe(0);
    a1.send({ type: "JOURNAL.FAILED", error: "disk I/O error" });
    expect(a1.getSnapshot().status).toBe("done");
    expect(a1.getSnapshot().value).toBe("failed");
    expect(recA.stops).toBe(1); // its ffmpeg was stopped on the way out
    expect(h.get("camera:a")).toBeUndefined();
    expect(h.actor.getSnapshot().status).toBe("active");
    const r = h.actor.getSnapshot().context.restarts["camera:a"];
    expect(r.attempts).toBe(1);
    expect(r.deadline).toBe(h.clock.now() + 1000);
    expect(r.error).toContain("disk I/O error");

    h.clock.increment(999);
    expect(h.get("camera:a")).toBeUndefined();
    h.clock.increment(1);
    const a2 = h.get("camera:a")!;
    expect(a2).toBeDefined();
    expect(a2).not.toBe(a1);
    expect(h.stateOf("camera:a")).toBe("starting");
    // the sibling kept its actor and state
    expect(h.get("camera:b")).toBe(b1);
    expect(h.stateOf("camera:b")).toBe("recording");

    // a second failure of the same child waits twice as long
    a2.send({ type: "JOURNAL.FAILED", error: "again" });
    expect(h.actor.getSnapshot().context.restarts["camera:a"].attempts).toBe(2);
    h.clock.increment(1999);
    expect(h.get("camera:a")).toBeUndefined();
    h.clock.increment(1);
    expect(h.stateOf("camera:a")).toBe("starting");
  });

  test("a camera whose action throws is restarted, and its recorder does not survive it", () => {
    const clock = new SimulatedClock();
    clock.set(1_000);
    const t = testRecorders();
    const machine = supervisorMachine.provide({
      actors: {
        camera: cameraMachine.provide({
          actors: { recorder: t.logic },
          actions: {
            indexSegment: ({ event }) => {
              if (event.type === "SEGMENT_CLOSED" && event.absoluteIndex === 666) throw new Error("bug in indexSegment");
            },
          },
        }),
      },
    });
    const sup = createActor(machine, { systemId: "supervisor", input: { restartInitialMs: 500 }, clock }).start();
    sup.send(boot([cam("a", 1)]));
    const a1 = sup.system.get("camera:a") as AnyActorRef;
    t.of("a").emit(segment(666, 1000));
    expect(a1.getSnapshot().status).toBe("error");
    expect(t.of("a").stops).toBe(1);
    expect(sup.getSnapshot().status).toBe("active");
    expect(sup.getSnapshot().context.restarts["camera:a"].error).toBe("bug in indexSegment");
    clock.increment(500);
    expect(cameraStateName((sup.system.get("camera:a") as AnyActorRef).getSnapshot().value)).toBe("starting");
    expect(t.of("a").starts).toBe(2);
  });

  test("a trip whose journal failed is spawned again", () => {
    const h = supervisorHarness();
    h.actor.send(boot([], [{ tripId: 7, olderBoot: false }]));
    const t1 = h.get("trip:7")!;
    t1.send({ type: "JOURNAL.FAILED", error: "SQLITE_FULL" });
    expect(t1.getSnapshot().output).toEqual({ failed: "journal failed: SQLITE_FULL" });
    expect(h.get("trip:7")).toBeUndefined();
    h.clock.increment(1000);
    expect(h.get("trip:7")).toBeDefined();
    expect(h.get("trip:7")).not.toBe(t1);
  });

  test("TRIP.OPENED spawns a trip actor; SHUTDOWN stops cameras gracefully; TRIPS.CLOSE closes trips", () => {
    const h = supervisorHarness();
    h.actor.send(boot([cam("a", 1)]));
    h.recorders.get("a")!.emit({ type: "RECORDER.RECEIVING", at: 0 });
    h.actor.send({ type: "TRIP.OPENED", tripId: 9, cameraKey: "a", at: 1 });
    expect(h.get("trip:9")?.getSnapshot().value).toBe("open");
    h.actor.send({ type: "TRIP.OPENED", tripId: 9, cameraKey: "a", at: 1 }); // idempotent
    expect(Object.keys(h.actor.getSnapshot().children).sort()).toEqual(["camera:a", "trip:9"]);

    h.actor.send({ type: "SHUTDOWN", at: 2 });
    expect(h.stateOf("camera:a")).toBe("stopping");
    expect(h.recorders.get("a")!.commands).toEqual([{ type: "RECORDER.STOP" }]);
    h.recorders.get("a")!.emit({ type: "PROCESS_EXIT", code: 0, signal: null, error: null, at: 3 });
    expect(h.stateOf("camera:a")).toBe("stopped");
    h.actor.send({ type: "TRIPS.CLOSE", at: 4, reason: "shutdown" });
    expect(h.get("trip:9")?.getSnapshot().value).toBe("closed");
    expect(h.closes).toEqual([{ id: 9, at: 4 }]);
    expect(h.actor.getSnapshot().value).toBe("down");
  });

  test("an evicted trip actor finishes and is removed from the children", () => {
    const h = supervisorHarness();
    h.actor.send(boot([]));
    h.actor.send({ type: "TRIP.EVICTED", tripId: 12, cameraKey: "a", at: 5 });
    expect(h.get("trip:12")).toBeUndefined();
    expect(h.actor.getSnapshot().children["trip:12"]).toBeUndefined();
    expect(h.actor.getSnapshot().context.trips["12"]).toBeUndefined();
  });
});
