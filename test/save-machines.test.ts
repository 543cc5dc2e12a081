/**
 * The saving / button / incident logic of the pure trip and supervisor machines on XState's
 * SimulatedClock, with test actors in place of ffmpeg (recorder), the saver and the incident
 * export (their real implementations are exercised by the other save-* tests). Restores go
 * through `getPersistedSnapshot()` + a JSON round-trip.
 */
import { describe, expect, test } from "bun:test";
import { SimulatedClock, assign, createActor, fromCallback, fromPromise, type AnyActorRef } from "xstate";
import { cameraMachine, cameraStateName, type CameraInput, type RecorderRequest } from "../src/machines/camera.ts";
import { tripMachine, type SaveTripInput } from "../src/machines/trip.ts";
import { supervisorMachine, incidentActorId, type BootCamera } from "../src/machines/supervisor.ts";
import { incidentIdFor, incidentMachine, recordOf, type IncidentContext, type IncidentExportInput, type IncidentRecord } from "../src/machines/incident.ts";
import type { RecorderCommand, RecorderEvent } from "../src/machines/events.ts";

/** A saver the test resolves by hand: `calls` holds one deferred per invocation. */
function manualSaver() {
  const calls: { input: SaveTripInput; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  const logic = fromPromise<unknown, SaveTripInput>(
    ({ input }) => new Promise((resolve, reject) => void calls.push({ input, resolve, reject })),
  );
  return { calls, logic };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const out = (complete: boolean) => ({ complete, savedDir: "recordings/front", mp4Path: null, segments: 2 });

describe("trip machine: saving", () => {
  function harness(status?: "open" | "closed" | "saved", isClosed = false, unsave?: { by: string; at: number }) {
    const saver = manualSaver();
    const calls = { status: [] as string[], locks: 0, recorded: [] as boolean[], errors: 0, unsaved: [] as { by: string; at: number }[] };
    const machine = tripMachine.provide({
      actors: { saveTrip: saver.logic },
      actions: {
        loadStatus: () => {},
        writeStatus: (_, p) => void calls.status.push(p.status),
        lockSegments: () => void calls.locks++,
        recordSaved: ({ context }) => void calls.recorded.push(context.saved!.complete),
        logSaveError: () => void calls.errors++,
        unsave: (_, p) => void calls.unsaved.push(p),
      },
    });
    const actor = createActor(machine, { input: { tripId: 1, cameraKey: "front", status, unsave } });
    if (isClosed) {
      // loadStatus of the wiring sets isClosed from the row; emulate a closed row
      const m2 = machine.provide({ actions: { loadStatus: assign({ isClosed: true }) } });
      return { actor: createActor(m2, { input: { tripId: 1, cameraKey: "front", status, unsave } }).start(), saver, calls };
    }
    return { actor: actor.start(), saver, calls };
  }

  test("an open trip saved: locked on entry, savedOpen while recording, rebuilt when it closes, then saved", async () => {
    const { actor, saver, calls } = harness();
    actor.send({ type: "SAVE", at: 5, source: "button" });
    expect(actor.getSnapshot().value).toBe("saving");
    expect(calls.locks).toBe(1);
    saver.calls[0].resolve(out(false));
    await tick();
    expect(actor.getSnapshot().value).toBe("savedOpen");
    expect(calls.recorded).toEqual([false]);
    actor.send({ type: "SAVE", at: 6, source: "ui" }); // already saved: nothing
    expect(saver.calls.length).toBe(1);
    actor.send({ type: "CLOSE", at: 7, reason: "shutdown" });
    expect(actor.getSnapshot().value).toBe("saving");
    expect(saver.calls.length).toBe(2);
    expect(calls.locks).toBe(2);
    saver.calls[1].resolve(out(true));
    await tick();
    expect(actor.getSnapshot().value).toBe("saved");
    expect(actor.getSnapshot().status).toBe("done");
    expect(calls.status).toEqual(["open", "saving", "saved", "saving", "saved"]);
    expect(calls.recorded).toEqual([false, true]);
    expect(actor.getSnapshot().context.closeReason).toBe("shutdown");
  });

  test("a saved trip still recording is deleted with UNSAVE: open again, unsaved in that transition, and it can be saved again; a closed saved trip is final", async () => {
    const { actor, saver, calls } = harness();
    actor.send({ type: "UNSAVE", at: 4, by: "nobody" }); // not saved: nothing
    expect(actor.getSnapshot().value).toBe("open");
    expect(calls.unsaved).toEqual([]);
    actor.send({ type: "SAVE", at: 5, source: "button" });
    saver.calls[0].resolve(out(false));
    await tick();
    expect(actor.getSnapshot().value).toBe("savedOpen");
    actor.send({ type: "UNSAVE", at: 9, by: "driver" });
    expect(actor.getSnapshot().value).toBe("open");
    expect(calls.unsaved).toEqual([{ by: "driver", at: 9 }]);
    expect(calls.status).toEqual(["open", "saving", "saved", "open"]);
    expect(actor.getSnapshot().context.saved).toBeNull();
    // the JSON round-trip of the restored actor keeps it unsaved
    const restored = createActor(tripMachine, { snapshot: JSON.parse(JSON.stringify(actor.getPersistedSnapshot())), input: { tripId: 1, cameraKey: "front" } }).start();
    expect(restored.getSnapshot().value).toBe("open");
    restored.stop();
    actor.send({ type: "SAVE", at: 10, source: "ui" });
    expect(actor.getSnapshot().value).toBe("saving");
    saver.calls[1].resolve(out(false));
    await tick();
    actor.send({ type: "CLOSE", at: 11, reason: "shutdown" });
    saver.calls[2].resolve(out(true));
    await tick();
    expect(actor.getSnapshot().value).toBe("saved");
    actor.send({ type: "UNSAVE", at: 12, by: "driver" });
    expect(calls.unsaved.length).toBe(1);
  });

  test("a saved, closed trip is deleted by an actor spawned for it: unsaved in the transition that writes closed; it can be saved again", async () => {
    const { actor, saver, calls } = harness("saved", true, { by: "driver", at: 20 });
    expect(actor.getSnapshot().value).toBe("closed");
    expect(actor.getSnapshot().status).toBe("active");
    expect(calls.unsaved).toEqual([{ by: "driver", at: 20 }]);
    expect(calls.status).toEqual(["closed"]);
    expect(actor.getSnapshot().context.unsaveRequest).toBeNull();
    // a restore after a JSON round-trip stays closed and deletes nothing again
    const restored = createActor(tripMachine, { snapshot: JSON.parse(JSON.stringify(actor.getPersistedSnapshot())), input: { tripId: 1, cameraKey: "front" } }).start();
    expect(restored.getSnapshot().value).toBe("closed");
    restored.stop();
    actor.send({ type: "SAVE", at: 21, source: "ui" });
    saver.calls[0].resolve(out(true));
    await tick();
    expect(actor.getSnapshot().value).toBe("saved");
    expect(calls.unsaved.length).toBe(1);
    // without the request a saved, closed trip is final as before; a request for a trip that is
    // not saved deletes nothing
    expect(harness("saved", true).actor.getSnapshot().value).toBe("saved");
    const notSaved = harness("closed", true, { by: "driver", at: 22 });
    expect(notSaved.actor.getSnapshot().value).toBe("closed");
    expect(notSaved.calls.unsaved).toEqual([]);
  });

  test("supervisor: TRIP.UNSAVE spawns an actor with the request for a trip without one, and sends UNSAVE to one that has an actor", () => {
    const inputs: unknown[] = [];
    const received: unknown[] = [];
    const sup = createActor(
      supervisorMachine.provide({
        actors: {
          trip: fromCallback(({ input, receive }) => {
            inputs.push(input);
            receive((e) => void received.push(e));
          }) as never,
        },
      }),
      { input: {} },
    ).start();
    sup.send({ type: "TRIP.UNSAVE", tripId: 7, cameraKey: "front", at: 30, by: "driver" });
    expect(inputs).toEqual([{ tripId: 7, cameraKey: "front", status: undefined, unsave: { by: "driver", at: 30 } }]);
    sup.send({ type: "TRIP.UNSAVE", tripId: 7, at: 31, by: "driver" });
    expect(inputs.length).toBe(1);
    expect(received).toContainEqual({ type: "UNSAVE", at: 31, by: "driver" });
    sup.stop();
  });

  test("closed while the open trip's footage was being counted: counted again", async () => {
    const { actor, saver } = harness();
    actor.send({ type: "SAVE", at: 5, source: "cli" });
    actor.send({ type: "CLOSE", at: 6, reason: "camera_stopped" });
    expect(actor.getSnapshot().value).toBe("saving");
    saver.calls[0].resolve(out(false)); // it saw the trip open
    await tick();
    expect(actor.getSnapshot().value).toBe("saving");
    expect(saver.calls.length).toBe(2);
    saver.calls[1].resolve(out(true));
    await tick();
    expect(actor.getSnapshot().value).toBe("saved");
  });

  test("a failed save goes back with the reason and logs it; the saved status of a closed trip is final", async () => {
    const a = harness();
    a.actor.send({ type: "SAVE", at: 5, source: "api" });
    a.saver.calls[0].reject(new Error("disk full"));
    await tick();
    expect(a.actor.getSnapshot().value).toBe("open");
    expect(a.actor.getSnapshot().context.lastError).toBe("save failed: disk full");
    expect(a.calls.errors).toBe(1);

    const b = harness("saved", true);
    expect(b.actor.getSnapshot().value).toBe("saved");
    const c = harness("saved", false);
    expect(c.actor.getSnapshot().value).toBe("savedOpen");
  });

  test("restore of a saving trip after a JSON round-trip starts the saver again", async () => {
    const { actor, saver } = harness();
    actor.send({ type: "SAVE", at: 5, source: "api" });
    const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
    actor.stop();
    const saver2 = manualSaver();
    const restored = createActor(tripMachine.provide({ actors: { saveTrip: saver2.logic } }), { snapshot: persisted, input: { tripId: 1, cameraKey: "front" } }).start();
    expect(restored.getSnapshot().value).toBe("saving");
    expect(saver2.calls.length).toBe(1);
    expect(saver2.calls[0].input).toMatchObject({ tripId: 1, source: "api", at: 5 });
    saver2.calls[0].resolve(out(false));
    await tick();
    expect(restored.getSnapshot().value).toBe("savedOpen");
    expect(saver.calls.length).toBe(1);
  });
});

describe("supervisor: button, current trip, camera stop, incidents", () => {
  const INPUT: CameraInput = { key: "a", cameraId: 1, backoffInitialMs: 1000, backoffMaxMs: 4000, stallMs: 30_000 };
  const cam = (key: string, cameraId: number): BootCamera => ({ ...INPUT, key, cameraId, enabled: true, segmentSeconds: 2 });

  function harness(opts: { exportLogic?: ReturnType<typeof fromPromise<unknown, IncidentExportInput>> } = {}) {
    const clock = new SimulatedClock();
    clock.set(10_000_000);
    const recorders = new Map<string, (e: RecorderEvent) => void>();
    const recorder = fromCallback<RecorderCommand, RecorderRequest>(({ sendBack, input }) => {
      recorders.set(input.key, sendBack as (e: RecorderEvent) => void);
    });
    const saves: SaveTripInput[] = [];
    const begun: IncidentRecord[] = [];
    const finished: unknown[] = [];
    const gaveUp: unknown[] = [];
    const nothing: unknown[] = [];
    const exports: IncidentExportInput[] = [];
    const machine = supervisorMachine.provide({
      actors: {
        camera: cameraMachine.provide({ actors: { recorder } }),
        trip: tripMachine.provide({
          actors: {
            saveTrip: fromPromise<unknown, SaveTripInput>(async ({ input }) => {
              saves.push(input);
              return new Promise(() => {}); // stays saving
            }),
          },
        }),
        incident: incidentMachine.provide({
          actors: {
            exportClip:
              opts.exportLogic ??
              fromPromise<unknown, IncidentExportInput>(async ({ input }) => {
                exports.push(input);
                return { relPath: "exports/x.mp4" };
              }),
          },
          actions: {
            beginIncident: ({ context }) => void begun.push(recordOf(context)),
            logExported: ({ context }) => void finished.push({ incident: recordOf(context), output: context.output }),
            logGaveUp: ({ context }) => void gaveUp.push({ incident: recordOf(context), error: context.lastError }),
          },
        }),
      },
      actions: {
        nothingToSave: (_, p) => void nothing.push(p),
      },
    });
    const make = (snapshot?: unknown) =>
      createActor(machine, { systemId: "supervisor", input: { restartInitialMs: 1000 }, clock, ...(snapshot ? { snapshot: snapshot as never } : {}) }).start();
    const actor = make();
    const get = (id: string) => actor.system.get(id) as AnyActorRef | undefined;
    /** The incident actor's context, or undefined when it has none. */
    const incident = (id: string) => (get(incidentActorId(id))?.getSnapshot() as { context: IncidentContext } | undefined)?.context;
    return { incident, clock, actor, get, recorders, saves, begun, finished, gaveUp, nothing, exports, make };
  }
  const boot = (cameras: BootCamera[], trips: { tripId: number; cameraKey: string }[] = []) => ({
    type: "BOOT" as const,
    at: 0,
    cameras,
    trips: trips.map((t) => ({ ...t, status: "open" as const, olderBoot: false, lastTimeUtc: 0 })),
    incident: { before_seconds: 30, after_seconds: 10 },
  });

  test("the button saves every camera's open trip; a recording camera without a trip yet gets it when its trip opens", async () => {
    const h = harness();
    h.actor.send(boot([cam("a", 1), cam("b", 2)], [{ tripId: 3, cameraKey: "a" }]));
    h.actor.send({ type: "SAVE", at: 100, source: "button" });
    await tick();
    expect(h.get("trip:3")?.getSnapshot().value).toBe("saving");
    expect(h.saves.map((s) => [s.tripId, s.source, s.at])).toEqual([[3, "button", 100]]);
    expect(h.actor.getSnapshot().context.pendingSaves).toEqual({ b: { at: 100, source: "button" } });
    // camera b closes its first segment: its trip opens and is saved at once
    h.actor.send({ type: "TRIP.OPENED", tripId: 4, cameraKey: "b", at: 200 });
    await tick();
    expect(h.get("trip:4")?.getSnapshot().value).toBe("saving");
    expect(h.saves.map((s) => s.tripId)).toEqual([3, 4]);
    expect(h.actor.getSnapshot().context.pendingSaves).toEqual({});
    // a second press while saving changes nothing
    h.actor.send({ type: "SAVE", at: 300, source: "button" });
    await tick();
    expect(h.saves.length).toBe(2);
    expect(h.nothing).toEqual([]);
  });

  test("nothing recording: the press is reported, not remembered", () => {
    const h = harness();
    h.actor.send(boot([]));
    h.actor.send({ type: "SAVE", at: 100, source: "button" });
    expect(h.nothing).toEqual([{ at: 100, source: "button" }]);
    expect(h.actor.getSnapshot().context.pendingSaves).toEqual({});
  });

  test("CAMERA.STOPPED closes that camera's trips while running, not the others; at shutdown TRIPS.CLOSE does it", () => {
    const h = harness();
    h.actor.send(boot([cam("a", 1), cam("b", 2)], [{ tripId: 3, cameraKey: "a" }, { tripId: 4, cameraKey: "b" }]));
    h.actor.send({ type: "CAMERA.STOPPED", cameraKey: "a", at: 50 });
    expect(h.get("trip:3")?.getSnapshot().value).toBe("closed");
    expect((h.get("trip:3")?.getSnapshot() as { context: { closeReason: string } }).context.closeReason).toBe("camera_stopped");
    expect(h.get("trip:4")?.getSnapshot().value).toBe("open");
    h.actor.send({ type: "SHUTDOWN", at: 60 });
    h.actor.send({ type: "CAMERA.STOPPED", cameraKey: "b", at: 61 }); // part of the power-down
    expect(h.get("trip:4")?.getSnapshot().value).toBe("open");
    h.actor.send({ type: "TRIPS.CLOSE", at: 62, reason: "shutdown" });
    expect((h.get("trip:4")?.getSnapshot() as { context: { closeReason: string } }).context.closeReason).toBe("shutdown");
  });

  test("the camera machine reports a STOP that reached stopped, and only that", () => {
    const reports: string[] = [];
    const recorder = fromCallback<RecorderCommand, RecorderRequest>(({ sendBack }) => {
      queueMicrotask(() => sendBack({ type: "RECORDER.RECEIVING", at: 0 }));
    });
    const machine = cameraMachine.provide({ actors: { recorder }, actions: { reportStopped: () => void reports.push("stopped") } });
    const a = createActor(machine, { input: INPUT }).start();
    expect(reports).toEqual([]); // the initial `stopped` is not a stop
    a.send({ type: "START" });
    a.send({ type: "STOP" });
    expect(cameraStateName(a.getSnapshot().value)).toBe("stopping");
    a.send({ type: "PROCESS_EXIT", code: 0, signal: null, error: null, at: 1 });
    expect(cameraStateName(a.getSnapshot().value)).toBe("stopped");
    expect(reports).toEqual(["stopped"]);
  });

  test("an incident waits for its stored deadline, retries a retryable failure, and survives a restore", async () => {
    let fail = true;
    const exportsSeen: IncidentExportInput[] = [];
    const exportLogic = fromPromise<unknown, IncidentExportInput>(async ({ input }) => {
      exportsSeen.push(input);
      if (fail) throw Object.assign(new Error("not recorded yet"), { retryable: true });
      return { relPath: "exports/clip.mp4" };
    });
    const h = harness({ exportLogic });
    h.actor.send(boot([cam("a", 1)]));
    const at = h.clock.now();
    h.actor.send({ type: "INCIDENT", at, source: "button" });
    const id = incidentIdFor(at, "a");
    const rec = h.incident(id);
    // [at - 30 s, at + 10 s], ready one segment (2 s) + 2 s after the window
    expect(rec).toMatchObject({ cameraKey: "a", cameraId: 1, fromUtc: at - 30_000, toUtc: at + 10_000, readyAtUtc: at + 14_000, attempts: 0 });
    expect(h.begun.map((r) => r.incidentId)).toEqual([id]);
    h.actor.send({ type: "INCIDENT", at, source: "ui", cameraKey: "a" }); // same moment: same incident
    expect(Object.keys(h.actor.getSnapshot().context.incidents)).toEqual([id]);
    expect(Object.keys(h.actor.getSnapshot().children).filter((c) => c.startsWith("incident:"))).toEqual([incidentActorId(id)]);
    expect(h.begun.length).toBe(1);

    h.clock.increment(13_999);
    expect(exportsSeen.length).toBe(0);
    h.clock.increment(1);
    expect(exportsSeen.length).toBe(1);
    await tick();
    // retryable: re-armed one segment (>= 2 s) later
    const r1 = h.incident(id)!;
    expect(r1.attempts).toBe(1);
    expect(r1.readyAtUtc).toBe(h.clock.now() + 2000);

    // power cut now; the restored supervisor re-arms the stored deadline at BOOT
    const persisted = JSON.parse(JSON.stringify(h.actor.getPersistedSnapshot()));
    h.actor.stop();
    const h2 = harness({ exportLogic });
    h2.clock.set(h.clock.now() + 500);
    const restored = h2.make(persisted);
    restored.send(boot([cam("a", 1)]));
    expect(exportsSeen.length).toBe(1);
    fail = false;
    h2.clock.increment(1499);
    expect(exportsSeen.length).toBe(1);
    h2.clock.increment(1);
    expect(exportsSeen.length).toBe(2);
    await tick();
    expect(restored.getSnapshot().context.incidents).toEqual({});
    expect(h2.finished).toEqual([{ incident: expect.objectContaining({ incidentId: id, attempts: 1 }), output: { relPath: "exports/clip.mp4" } }]);
  });

  test("a failure that is not retryable ends the incident", async () => {
    const exportLogic = fromPromise<unknown, IncidentExportInput>(async () => {
      throw new Error("no footage in the window");
    });
    const h = harness({ exportLogic });
    h.actor.send(boot([cam("a", 1)]));
    h.actor.send({ type: "INCIDENT", at: h.clock.now(), source: "api", cameraKey: "a" });
    h.clock.increment(14_000);
    await tick();
    expect(h.actor.getSnapshot().context.incidents).toEqual({});
    expect(h.gaveUp).toEqual([{ incident: expect.objectContaining({ attempts: 1 }), error: "no footage in the window" }]);
  });
});
