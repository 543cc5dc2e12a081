/**
 * The `cameraHealth` machine (src/machines/cameraHealth.ts) on XState's SimulatedClock: the
 * first check after `firstDelayMs`, the stored next-check deadline, statuses following the
 * checks with one announcement per change (none while the status stays), CHECK.NOW, a failed
 * check waiting for the next deadline, and a restore after a JSON round-trip that keeps the
 * status, the frozen streak and the deadline. The check itself is a stand-in that returns what
 * the test queues (the real check runs in test/health-monitor.test.ts).
 */
import { describe, expect, test } from "bun:test";
import { SimulatedClock, createActor, fromPromise } from "xstate";
import { cameraHealthMachine, healthStateOf, type HealthCheckInput, type HealthCheckOutput, type StatusChange } from "../src/machines/cameraHealth.ts";

const T0 = 1_700_000_000_000;
const tick = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};
const INPUT = { cameraKey: "front", cameraId: 3, intervalMs: 60_000, firstDelayMs: 5_000 };

const result = (status: HealthCheckOutput["status"], streak = 0, types: string[] = []): HealthCheckOutput => ({
  status,
  checkedAt: 0,
  capturedAt: 0,
  filePath: "",
  frameOk: status !== "critical",
  healthMetrics: null,
  anomalies: types.map((type) => ({ type, severity: status === "critical" ? "high" : "medium", message: type })),
  metrics: [],
  identicalStreak: streak,
});

function harness() {
  const clock = new SimulatedClock();
  clock.set(T0);
  const queue: (HealthCheckOutput | Error)[] = [];
  const inputs: HealthCheckInput[] = [];
  const announced: StatusChange[] = [];
  const recorded: HealthCheckOutput[] = [];
  const machine = cameraHealthMachine.provide({
    actors: {
      healthCheck: fromPromise<HealthCheckOutput, HealthCheckInput>(async ({ input }) => {
        inputs.push(input);
        const next = queue.shift();
        if (!next) throw new Error("nothing queued");
        if (next instanceof Error) throw next;
        return next;
      }),
    },
    actions: {
      recordCheck: ({ event }) => void recorded.push((event as unknown as { output: HealthCheckOutput }).output),
      announceStatus: (_, change) => void announced.push(change),
    },
  });
  const make = (snapshot?: unknown) => createActor(machine, { input: INPUT, clock, ...(snapshot ? { snapshot: snapshot as never } : {}) }).start();
  return { clock, queue, inputs, announced, recorded, make };
}

describe("cameraHealth machine", () => {
  test("first check after firstDelayMs, then every intervalMs; statuses follow the checks, announced once per change", async () => {
    const h = harness();
    const a = h.make();
    expect(healthStateOf(a.getSnapshot().value)).toBe("unknown");
    expect(a.getSnapshot().context.nextCheckAt).toBe(T0 + 5_000);
    h.queue.push(result("ok"), result("ok"), result("warning", 0, ["high_noise"]), result("critical", 0, ["no_signal"]), result("ok"));
    h.clock.increment(4_999);
    await tick();
    expect(h.inputs).toHaveLength(0);
    h.clock.increment(1);
    await tick();
    expect(h.inputs).toEqual([{ cameraKey: "front", cameraId: 3, identicalStreak: 0, intervalMs: 60_000, requested: false }]);
    expect(healthStateOf(a.getSnapshot().value)).toBe("ok");
    expect(a.getSnapshot().context.nextCheckAt).toBe(T0 + 65_000);
    expect(h.announced.map((c) => `${c.from}->${c.to}`)).toEqual(["unknown->ok"]);
    for (let i = 0; i < 4; i++) {
      h.clock.increment(60_000);
      await tick();
    }
    expect(h.inputs).toHaveLength(5);
    expect(h.recorded).toHaveLength(5);
    expect(healthStateOf(a.getSnapshot().value)).toBe("ok");
    expect(h.announced.map((c) => `${c.from}->${c.to}`)).toEqual(["unknown->ok", "ok->warning", "warning->critical", "critical->ok"]);
    expect(h.announced[2].anomalies).toEqual(["no_signal"]);
    a.stop();
  });

  test("the frozen streak goes back into the next check; CHECK.NOW checks at once; a failed check waits for the next deadline", async () => {
    const h = harness();
    const a = h.make();
    h.queue.push(result("ok", 1), new Error("camera gone"), result("critical", 2, ["frozen"]));
    a.send({ type: "CHECK.NOW" });
    await tick();
    expect(a.getSnapshot().context.identicalStreak).toBe(1);
    a.send({ type: "CHECK.NOW" });
    await tick();
    expect(a.getSnapshot().context.lastError).toBe("camera gone");
    expect(healthStateOf(a.getSnapshot().value)).toBe("ok");
    expect(a.getSnapshot().context.nextCheckAt).toBe(T0 + 60_000);
    h.clock.increment(60_000);
    await tick();
    expect(h.inputs.map((i) => i.identicalStreak)).toEqual([0, 1, 1]);
    // the two a user asked for take the frame at once; the scheduled one may wait for a keyframe
    expect(h.inputs.map((i) => i.requested)).toEqual([true, true, false]);
    expect(healthStateOf(a.getSnapshot().value)).toBe("critical");
    a.stop();
  });

  test("a restore after a JSON round-trip keeps status, streak and deadline, and re-arms on TIMERS.REARM without announcing", async () => {
    const h = harness();
    const a = h.make();
    h.queue.push(result("warning", 1, ["blurry"]));
    h.clock.increment(5_000);
    await tick();
    const saved = JSON.parse(JSON.stringify(a.getPersistedSnapshot()));
    a.stop();
    expect(h.announced).toHaveLength(1);
    h.clock.increment(30_000);
    const b = h.make(saved);
    expect(healthStateOf(b.getSnapshot().value)).toBe("warning");
    expect(b.getSnapshot().context.identicalStreak).toBe(1);
    expect(b.getSnapshot().context.nextCheckAt).toBe(T0 + 65_000);
    b.send({ type: "TIMERS.REARM" });
    h.queue.push(result("warning", 0, ["blurry"]));
    h.clock.increment(29_999);
    await tick();
    expect(h.inputs).toHaveLength(1);
    h.clock.increment(1);
    await tick();
    expect(h.inputs).toHaveLength(2);
    expect(h.announced).toHaveLength(1); // still warning: nothing new to announce
    b.stop();
  });

  test("JOURNAL.FAILED ends the actor with output { failed }", () => {
    const h = harness();
    const a = h.make();
    a.send({ type: "JOURNAL.FAILED", error: "disk I/O error" });
    expect(a.getSnapshot().status).toBe("done");
    expect(a.getSnapshot().output).toEqual({ failed: "journal failed: disk I/O error" });
  });
});
