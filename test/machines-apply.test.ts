/**
 * The `applyConfig` machine (src/machines/applyConfig.ts) on XState's SimulatedClock: the three
 * methods, stored verification deadlines, the verdict (success / partial / failed) and restores
 * after a JSON round-trip of the persisted snapshot (a power cut mid-apply). The push and the
 * measurement are stand-ins settled by hand; the real ones run in apply-self.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { SimulatedClock, createActor, fromPromise } from "xstate";
import {
  applyConfigMachine,
  compareSettings,
  giveUpAt,
  MANUAL_CONFIRM_MS,
  verifyAt,
  type ApplyInput,
  type ApplyJob,
  type MeasuredStream,
  type PushOutput,
} from "../src/machines/applyConfig.ts";

const T0 = 1_700_000_000_000;
const SEG = 4_000;
const tick = () => new Promise((r) => setTimeout(r, 0));
const ASK = { resolution: "640x360", fps: 10, bitrateKbps: 400, gopSeconds: 2 };
const INPUT: ApplyInput = { applyId: 3, cameraKey: "front", cameraId: 1, method: "self", settings: { stream: ASK }, segmentMs: SEG, by: "admin" };
const GOOD: MeasuredStream = { resolution: "640x360", codec: "H264", fps: 10, bitrateKbps: 420, gopSeconds: 2, segments: 2 };

function deferred<I, O>() {
  const calls: { input: I; resolve: (v: O) => void; reject: (e: unknown) => void }[] = [];
  const logic = fromPromise<O, I>(({ input }) => new Promise((resolve, reject) => void calls.push({ input, resolve, reject })));
  return { calls, logic };
}

function harness() {
  const clock = new SimulatedClock();
  clock.set(T0);
  const push = deferred<ApplyJob, PushOutput>();
  const measure = deferred<ApplyJob, MeasuredStream>();
  const log = { inProgress: 0, applied: [] as number[], outcomes: [] as string[] };
  const machine = applyConfigMachine.provide({
    actors: { pushSettings: push.logic, measure: measure.logic },
    actions: {
      recordInProgress: () => void log.inProgress++,
      recordApplied: ({ context }) => void log.applied.push(context.appliedAtUtc!),
      recordOutcome: ({ context }) => void log.outcomes.push(`${context.outcome}: ${context.error ?? context.differences.join("; ")}`),
    },
  });
  const make = (snapshot?: unknown, input = INPUT) => createActor(machine, { input, clock, ...(snapshot ? { snapshot: snapshot as never } : {}) }).start();
  return { clock, push, measure, log, make };
}

/** The persisted snapshot after a JSON round-trip (what the journal stores). */
const roundTrip = (a: { getPersistedSnapshot(): unknown }) => JSON.parse(JSON.stringify(a.getPersistedSnapshot()));

describe("applyConfig machine", () => {
  test("self: pending -> in_progress.pushing at once; pushed -> verifying until the stored deadline; measured within tolerance -> success", async () => {
    const h = harness();
    const a = h.make();
    expect(a.getSnapshot().value).toEqual({ in_progress: "pushing" });
    expect(h.log.inProgress).toBe(1);
    expect(h.push.calls[0]!.input).toMatchObject({ applyId: 3, method: "self", settings: { stream: ASK }, appliedAtUtc: null });
    h.push.calls[0]!.resolve({ readBack: null });
    await tick();
    expect(a.getSnapshot().value).toEqual({ in_progress: "verifying" });
    expect(a.getSnapshot().context.appliedAtUtc).toBe(T0);
    expect(a.getSnapshot().context.verifyAtUtc).toBe(verifyAt(T0, SEG));
    expect(h.log.applied).toEqual([T0]);
    h.clock.increment(verifyAt(T0, SEG) - T0 - 1);
    expect(h.measure.calls.length).toBe(0);
    h.clock.increment(1);
    expect(a.getSnapshot().value).toEqual({ in_progress: "measuring" });
    expect(h.measure.calls[0]!.input.appliedAtUtc).toBe(T0);
    h.measure.calls[0]!.resolve(GOOD);
    await tick();
    expect(a.getSnapshot().value).toBe("success");
    expect(h.log.outcomes).toEqual(["success: "]);
    expect(a.getSnapshot().output).toEqual({ status: "success", applyId: 3, error: null });
  });

  test("a measurement outside the tolerance ends partial with what differs", async () => {
    const h = harness();
    const a = h.make();
    h.push.calls[0]!.resolve({ readBack: null });
    await tick();
    h.clock.increment(verifyAt(T0, SEG) - T0);
    h.measure.calls[0]!.resolve({ ...GOOD, fps: 7.5, bitrateKbps: 900 });
    await tick();
    expect(a.getSnapshot().value).toBe("partial");
    expect(a.getSnapshot().output).toEqual({ status: "partial", applyId: 3, error: "recorded 7.5 frames/s, asked 10; recorded 900 kbit/s, asked 400" });
  });

  test("not enough footage yet: measured again one segment later until giveUpAtUtc, then failed", async () => {
    const h = harness();
    const a = h.make();
    h.push.calls[0]!.resolve({ readBack: null });
    await tick();
    h.clock.increment(verifyAt(T0, SEG) - T0);
    let n = 0;
    while (a.getSnapshot().status === "active") {
      const call = h.measure.calls[n++]!;
      expect(call).toBeDefined();
      call.reject(Object.assign(new Error("only 1 of 2 recordings made since the change"), { retryable: true }));
      await tick();
      if (a.getSnapshot().status !== "active") break;
      expect(a.getSnapshot().value).toEqual({ in_progress: "verifying" });
      h.clock.increment(SEG);
    }
    expect(a.getSnapshot().value).toBe("failed");
    // every retry was one segment apart, and the last one came at or after giveUpAt
    expect(h.clock.now()).toBeGreaterThanOrEqual(giveUpAt(T0, SEG));
    expect(n).toBeGreaterThan(10);
    expect(a.getSnapshot().output).toEqual({
      status: "failed",
      applyId: 3,
      error: `not enough footage to verify the change within ${(giveUpAt(T0, SEG) - T0) / 1000} s (only 1 of 2 recordings made since the change): is the camera recording?`,
    });
  });

  test("a measurement that fails for another reason fails at once with it", async () => {
    const h = harness();
    const a = h.make();
    h.push.calls[0]!.resolve({ readBack: null });
    await tick();
    h.clock.increment(verifyAt(T0, SEG) - T0);
    h.measure.calls[0]!.reject(new Error("cannot run ffmpeg"));
    await tick();
    expect(a.getSnapshot().value).toBe("failed");
    expect(h.measure.calls.length).toBe(1);
    expect(a.getSnapshot().output).toEqual({ status: "failed", applyId: 3, error: "cannot run ffmpeg" });
  });

  test("a refused push fails with the reason; a read-back that differs ends partial without measuring", async () => {
    const h = harness();
    const a = h.make(undefined, { ...INPUT, method: "onvif" });
    h.push.calls[0]!.reject(new Error("ONVIF is not configured for this camera"));
    await tick();
    expect(a.getSnapshot().value).toBe("failed");
    expect(h.log.outcomes).toEqual(["failed: ONVIF is not configured for this camera"]);

    const h2 = harness();
    const b = h2.make(undefined, { ...INPUT, method: "onvif" });
    h2.push.calls[0]!.resolve({ readBack: { ...ASK, fps: 8 } });
    await tick();
    expect(b.getSnapshot().value).toBe("partial");
    expect(h2.measure.calls.length).toBe(0);
    expect(b.getSnapshot().output).toEqual({ status: "partial", applyId: 3, error: "the camera reports 8 frames/s, not 10" });
  });

  test("manual: waits for CONFIRM (no push), then measures; unconfirmed for 24 h fails; CANCEL fails with who", async () => {
    const h = harness();
    const a = h.make(undefined, { ...INPUT, method: "manual" });
    expect(a.getSnapshot().value).toEqual({ in_progress: "awaitingConfirm" });
    expect(h.push.calls.length).toBe(0);
    expect(a.getSnapshot().context.confirmByUtc).toBe(T0 + MANUAL_CONFIRM_MS);
    h.clock.increment(60_000);
    a.send({ type: "CONFIRM", by: "ops" });
    expect(a.getSnapshot().value).toEqual({ in_progress: "verifying" });
    expect(a.getSnapshot().context.confirmedBy).toBe("ops");
    expect(h.log.applied).toEqual([T0 + 60_000]);

    const h2 = harness();
    const b = h2.make(undefined, { ...INPUT, method: "manual" });
    h2.clock.increment(MANUAL_CONFIRM_MS);
    expect(b.getSnapshot().value).toBe("failed");
    expect(b.getSnapshot().output).toEqual({ status: "failed", applyId: 3, error: "nobody confirmed the change within 24 h" });

    const h3 = harness();
    const c = h3.make(undefined, { ...INPUT, method: "manual" });
    c.send({ type: "CANCEL", by: "admin" });
    expect(c.getSnapshot().output).toEqual({ status: "failed", applyId: 3, error: "cancelled by admin" });
  });

  test("restored after a JSON round-trip while pushing (power cut mid-apply): pushes again and finishes", async () => {
    const h = harness();
    const a = h.make();
    const snap = roundTrip(a);
    a.stop();
    const b = h.make(snap);
    expect(b.getSnapshot().value).toEqual({ in_progress: "pushing" });
    // the restored actor pushes again (safe to repeat)
    expect(h.push.calls.length).toBe(2);
    h.push.calls[1]!.resolve({ readBack: null });
    await tick();
    expect(b.getSnapshot().value).toEqual({ in_progress: "verifying" });
  });

  test("restored while verifying: the stored deadline is re-armed by TIMERS.REARM and measured at the same moment", async () => {
    const h = harness();
    const a = h.make();
    h.push.calls[0]!.resolve({ readBack: null });
    await tick();
    h.clock.increment(3_000);
    const snap = roundTrip(a);
    a.stop();
    const b = h.make(snap);
    b.send({ type: "TIMERS.REARM" });
    expect(b.getSnapshot().context.verifyAtUtc).toBe(verifyAt(T0, SEG));
    h.clock.increment(verifyAt(T0, SEG) - T0 - 3_000 - 1);
    expect(h.measure.calls.length).toBe(0);
    h.clock.increment(1);
    expect(h.measure.calls.length).toBe(1);
    h.measure.calls[0]!.resolve(GOOD);
    await tick();
    expect(b.getSnapshot().value).toBe("success");
  });

  test("restored while awaiting a manual confirmation keeps its 24 h deadline", async () => {
    const h = harness();
    const a = h.make(undefined, { ...INPUT, method: "manual" });
    h.clock.increment(3_600_000);
    const snap = roundTrip(a);
    a.stop();
    const b = h.make(snap, { ...INPUT, method: "manual" });
    b.send({ type: "TIMERS.REARM" });
    expect(b.getSnapshot().value).toEqual({ in_progress: "awaitingConfirm" });
    h.clock.increment(MANUAL_CONFIRM_MS - 3_600_000);
    expect(b.getSnapshot().value).toBe("failed");
  });

  test("compareSettings: only asked fields count; tolerances as documented", () => {
    expect(compareSettings({ fps: 10 }, null, { ...GOOD, fps: 10.9, bitrateKbps: 5000 })).toEqual([]);
    expect(compareSettings({ fps: 10 }, null, { ...GOOD, fps: 11.2 })).toEqual(["recorded 11.2 frames/s, asked 10"]);
    expect(compareSettings({ bitrateKbps: 1000 }, null, { ...GOOD, bitrateKbps: 1240 })).toEqual([]);
    expect(compareSettings({ bitrateKbps: 1000 }, null, { ...GOOD, bitrateKbps: 1260 })).toEqual(["recorded 1260 kbit/s, asked 1000"]);
    expect(compareSettings({ bitrateKbps: 1000 }, null, { ...GOOD, bitrateKbps: 520 })).toEqual([]);
    expect(compareSettings({ bitrateKbps: 1000 }, null, { ...GOOD, bitrateKbps: 480 })).toEqual(["recorded 480 kbit/s, asked 1000"]);
    expect(compareSettings({ gopSeconds: 2 }, null, { ...GOOD, fps: 10, gopSeconds: 2.1 })).toEqual([]);
    expect(compareSettings({ gopSeconds: 2 }, null, { ...GOOD, fps: 25, gopSeconds: 1 })).toEqual(["recorded a keyframe every 1.00 s, asked 2"]);
    expect(compareSettings({ codec: "H.264", resolution: "640x360" }, null, { ...GOOD, codec: "H264" })).toEqual([]);
    expect(compareSettings({ codec: "H.265" }, { codec: "H.264" }, null)).toEqual(["the camera reports H.264, not H.265"]);
    expect(compareSettings({ resolution: "1920x1080" }, null, GOOD)).toEqual(["recorded 640x360, asked 1920x1080"]);
  });
});
