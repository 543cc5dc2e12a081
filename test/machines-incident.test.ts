/**
 * The `incident` machine (src/machines/incident.ts) on XState's SimulatedClock: the stored
 * ready-at deadline, the EXPORT handshake with the parent, retries, and restores after a JSON
 * round-trip of the persisted snapshot. The last part runs it under the real supervisor wiring
 * with the journal on a real SQLite file; only the clip export is a stand-in (its real
 * implementation is exercised by save-gpio and save-services).
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimulatedClock, createActor, fromCallback, fromPromise, type AnyActorRef } from "xstate";
import {
  incidentMachine,
  incidentReadyAt,
  incidentIdFor,
  recordOf,
  MAX_INCIDENT_ATTEMPTS,
  type IncidentExportInput,
  type IncidentInput,
} from "../src/machines/incident.ts";
import { incidentReadyAt as incidentReadyAtSeconds } from "../src/media/export.ts";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { validateConfig, type CameraConfig, type Config } from "../src/config.ts";
import { dbPath } from "../src/paths.ts";
import { LiveBus } from "../src/events.ts";
import { Journal } from "../src/actors/journal.ts";
import { prepareRestoredSnapshot, startSupervisor } from "../src/actors/supervisor.ts";
import { supervisorMachine } from "../src/machines/supervisor.ts";

const T0 = 1_700_000_000_000;
const tick = () => new Promise((r) => setTimeout(r, 0));

const INPUT: IncidentInput = {
  incidentId: incidentIdFor(T0, "front"),
  cameraKey: "front",
  cameraId: 1,
  atUtc: T0,
  fromUtc: T0 - 30_000,
  toUtc: T0 + 10_000,
  segmentMs: 2000,
  source: "button",
};
/** toUtc + one segment + 2 s. */
const READY = T0 + 14_000;

/** An export the test settles by hand: one deferred per invocation. */
function manualExport() {
  const calls: { input: IncidentExportInput; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  const logic = fromPromise<unknown, IncidentExportInput>(({ input }) => new Promise((resolve, reject) => void calls.push({ input, resolve, reject })));
  return { calls, logic };
}

/** The incident machine alone: `asked` counts INCIDENT.READY (the parent's side is played by the test). */
function harness(exporter = manualExport(), now = T0) {
  const clock = new SimulatedClock();
  clock.set(now);
  const log = { asked: 0, begun: 0, exported: [] as unknown[], gaveUp: [] as string[] };
  const machine = incidentMachine.provide({
    actors: { exportClip: exporter.logic },
    actions: {
      askParent: () => void log.asked++,
      beginIncident: () => void log.begun++,
      logExported: ({ context }) => void log.exported.push(context.output),
      logGaveUp: ({ context }) => void log.gaveUp.push(`${context.attempts}: ${context.lastError}`),
    },
  });
  const make = (snapshot?: unknown) => createActor(machine, { input: INPUT, clock, ...(snapshot ? { snapshot: snapshot as never } : {}) }).start();
  return { clock, log, exporter, make };
}

describe("incident machine", () => {
  test("the ready-at rule: the window's end + one segment + 2 s; media/export.ts uses the same rule in seconds", () => {
    expect(incidentReadyAt(T0, 2000)).toBe(T0 + 4000);
    expect(incidentReadyAtSeconds(T0, 2)).toBe(T0 + 4000);
    expect(incidentReadyAtSeconds(T0, 60)).toBe(incidentReadyAt(T0, 60_000));
  });

  test("begins once, waits for its stored deadline, asks the parent, and exports once with the parent's answer", async () => {
    const h = harness();
    const a = h.make();
    expect(a.getSnapshot().value).toBe("waiting");
    expect(a.getSnapshot().context.readyAtUtc).toBe(READY);
    expect(h.log.begun).toBe(1);
    h.clock.increment(READY - T0 - 1);
    expect(a.getSnapshot().value).toBe("waiting");
    expect(h.log.asked).toBe(0);
    h.clock.increment(1);
    expect(a.getSnapshot().value).toBe("ready");
    expect(h.log.asked).toBe(1);
    expect(h.exporter.calls.length).toBe(0);
    a.send({ type: "EXPORT", cameraRecording: true });
    expect(a.getSnapshot().value).toBe("exporting");
    expect(h.exporter.calls.length).toBe(1);
    expect(h.exporter.calls[0].input).toEqual({ ...INPUT, readyAtUtc: READY, attempts: 0, lastError: null, cameraRecording: true });
    h.exporter.calls[0].resolve({ relPath: "exports/x.mp4" });
    await tick();
    expect(a.getSnapshot().status).toBe("done");
    expect(a.getSnapshot().value).toBe("exported");
    expect(a.getSnapshot().output).toEqual({ status: "exported", incident: { ...INPUT, readyAtUtc: READY, attempts: 0, lastError: null }, output: { relPath: "exports/x.mp4" } });
    expect(h.log.exported).toEqual([{ relPath: "exports/x.mp4" }]);
    expect(h.log.begun).toBe(1);
  });

  test("restored from a JSON round-trip of its persisted snapshot before ready-at: the deadline is re-armed and the clip exported once", async () => {
    const h = harness();
    const a = h.make();
    h.clock.increment(5000);
    const persisted = JSON.parse(JSON.stringify(a.getPersistedSnapshot()));
    a.stop();
    expect(persisted.value).toBe("waiting");
    expect(persisted.context.readyAtUtc).toBe(READY);

    // power back 3 s later: a new process, a new clock
    const h2 = harness(h.exporter, T0 + 8000);
    const b = h2.make(persisted);
    expect(b.getSnapshot().value).toBe("waiting");
    expect(h2.log.begun).toBe(0); // the evidence locks were taken before the power cut
    b.send({ type: "TIMERS.REARM" });
    h2.clock.increment(READY - (T0 + 8000) - 1);
    expect(h2.log.asked).toBe(0);
    h2.clock.increment(1);
    expect(h2.log.asked).toBe(1);
    b.send({ type: "EXPORT", cameraRecording: false });
    expect(h.exporter.calls.length).toBe(1);
    expect(h.exporter.calls[0].input.cameraRecording).toBe(false);
    h.exporter.calls[0].resolve({ relPath: "exports/x.mp4" });
    await tick();
    expect(b.getSnapshot().value).toBe("exported");
    // time passing after the end exports nothing more
    h2.clock.increment(60_000);
    expect(h.exporter.calls.length).toBe(1);
    expect(h.log.exported.length + h2.log.exported.length).toBe(1);
  });

  test("a deadline that passed while the process was down fires at once on TIMERS.REARM", () => {
    const h = harness();
    const persisted = JSON.parse(JSON.stringify(h.make().getPersistedSnapshot()));
    const h2 = harness(h.exporter, READY + 60_000);
    const b = h2.make(persisted);
    expect(h2.log.asked).toBe(0);
    b.send({ type: "TIMERS.REARM" });
    h2.clock.increment(0);
    expect(b.getSnapshot().value).toBe("ready");
    expect(h2.log.asked).toBe(1);
  });

  test("restored while asking the parent: TIMERS.REARM asks again; restored while exporting: the export runs again", async () => {
    const h = harness();
    const a = h.make();
    h.clock.increment(READY - T0);
    const asking = JSON.parse(JSON.stringify(a.getPersistedSnapshot()));
    a.send({ type: "EXPORT", cameraRecording: true });
    const exporting = JSON.parse(JSON.stringify(a.getPersistedSnapshot()));
    a.stop();
    expect(asking.value).toBe("ready");
    expect(exporting.value).toBe("exporting");

    const h2 = harness(manualExport(), READY + 1000);
    const b = h2.make(asking);
    b.send({ type: "TIMERS.REARM" });
    expect(h2.log.asked).toBe(1);

    const ex = manualExport();
    const h3 = harness(ex, READY + 1000);
    const c = h3.make(exporting);
    expect(c.getSnapshot().value).toBe("exporting");
    expect(ex.calls.length).toBe(1);
    expect(ex.calls[0].input).toMatchObject({ incidentId: INPUT.incidentId, cameraRecording: true });
    ex.calls[0].resolve({ relPath: "exports/x.mp4" });
    await tick();
    expect(c.getSnapshot().value).toBe("exported");
  });

  test(`a retryable failure re-arms the deadline one segment (at least 2 s) later, ${MAX_INCIDENT_ATTEMPTS} attempts in all; other failures end it at once`, async () => {
    const h = harness();
    const a = h.make();
    h.clock.increment(READY - T0);
    for (let n = 1; n <= MAX_INCIDENT_ATTEMPTS; n++) {
      expect(a.getSnapshot().value).toBe("ready");
      a.send({ type: "EXPORT", cameraRecording: true });
      h.exporter.calls[n - 1].reject(Object.assign(new Error("not recorded yet"), { retryable: true }));
      await tick();
      expect(a.getSnapshot().context.attempts).toBe(n);
      if (n === MAX_INCIDENT_ATTEMPTS) break;
      expect(a.getSnapshot().value).toBe("waiting");
      expect(a.getSnapshot().context.readyAtUtc).toBe(h.clock.now() + 2000);
      h.clock.increment(1999);
      expect(a.getSnapshot().value).toBe("waiting");
      h.clock.increment(1);
    }
    expect(a.getSnapshot().value).toBe("gaveUp");
    expect(h.log.gaveUp).toEqual([`${MAX_INCIDENT_ATTEMPTS}: not recorded yet`]);
    expect(a.getSnapshot().output).toMatchObject({ status: "gaveUp", error: "not recorded yet" });

    const h2 = harness();
    const b = h2.make();
    h2.clock.increment(READY - T0);
    b.send({ type: "EXPORT", cameraRecording: true });
    h2.exporter.calls[0].reject(new Error("no footage in the window"));
    await tick();
    expect(b.getSnapshot().value).toBe("gaveUp");
    expect(h2.log.gaveUp).toEqual(["1: no footage in the window"]);
  });

  test("a journal failure ends the actor with output { failed } (the supervisor spawns a fresh one)", () => {
    const a = harness().make();
    a.send({ type: "JOURNAL.FAILED", error: "disk I/O error" });
    expect(a.getSnapshot().status).toBe("done");
    expect(a.getSnapshot().output).toEqual({ failed: "journal failed: disk I/O error" });
  });
});

describe("incident under the real supervisor wiring and journal", () => {
  /** A data directory with one camera (2 s segments) and its database; removed after the test. */
  let setup: { dir: string; db: Database; config: Config; camera: CameraConfig; ids: Map<string, number> };
  beforeEach(() => {
    const dir = mkdtempSync(join(tmpdir(), "dashcam-incident-"));
    const config = validateConfig({ data_dir: dir, cameras: [{ key: "front", source: "testsrc", segment_seconds: 2 }], incident: { before_seconds: 30, after_seconds: 10 } }, dir);
    const db = openDatabase(dbPath(dir));
    setup = { dir, db, config, camera: config.cameras[0], ids: syncCameras(db, config.cameras, null) };
  });
  afterEach(() => {
    setup.db.close();
    rmSync(setup.dir, { recursive: true, force: true });
  });

  test("journaled as `incident:<id>`; a power cut before ready-at, restored from the journal, still exports once", async () => {
    const { dir, db, config, camera, ids } = setup;
    const exported: IncidentExportInput[] = [];
    const incidentExport = fromPromise<unknown, IncidentExportInput>(async ({ input }) => {
      exported.push(input);
      return { relPath: `exports/${input.incidentId}.mp4`, bytes: 1, durationMs: 40_000, partial: false };
    });
    // ffmpeg never reports anything: the camera stays `starting`, which counts as recording
    const recorder = fromCallback(() => {});
    const deps = (journal: Journal) => ({
      db,
      dataDir: dir,
      bootId: "boot-1",
      journal,
      bus: new LiveBus(),
      cameras: new Map([["front", camera]]),
      recorder: recorder as never,
      incidentExport,
      config,
    });
    const clock1 = new SimulatedClock();
    clock1.set(T0);
    const j1 = new Journal(db);
    const sup1 = startSupervisor(deps(j1), [camera], ids, { clock: clock1 });
    sup1.send({ type: "INCIDENT", at: T0, source: "button" });
    const id = incidentIdFor(T0, "front");
    const row = db.query("SELECT machine, state, snapshot FROM actor_snapshots WHERE actor_id = $id").get({ id: `incident:${id}` }) as {
      machine: string;
      state: string;
      snapshot: string;
    };
    expect(row.machine).toBe("incident");
    expect(JSON.parse(row.state)).toBe("waiting");
    expect(JSON.parse(row.snapshot).context.readyAtUtc).toBe(READY);
    const begins = () => (db.query("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'incident.begin'").get() as { n: number }).n;
    expect(begins()).toBe(1);

    // power cut 5 s later, before ready-at
    clock1.increment(5000);
    j1.close();
    sup1.stop();
    expect(exported.length).toBe(0);

    const clock2 = new SimulatedClock();
    clock2.set(T0 + 6000);
    const j2 = new Journal(db);
    const sup2 = startSupervisor(deps(j2), [camera], ids, { clock: clock2 });
    const child = sup2.system.get(`incident:${id}`) as AnyActorRef;
    expect(child.getSnapshot().value).toBe("waiting");
    expect(recordOf(child.getSnapshot().context)).toMatchObject({ readyAtUtc: READY, attempts: 0 });
    clock2.increment(READY - (T0 + 6000) - 1);
    expect(exported.length).toBe(0);
    clock2.increment(1);
    expect(exported.length).toBe(1);
    expect(exported[0]).toMatchObject({ incidentId: id, cameraId: ids.get("front"), fromUtc: T0 - 30_000, toUtc: T0 + 10_000, cameraRecording: true });
    await tick();
    await tick();
    const done = db.query("SELECT data FROM event_log WHERE kind = 'incident.done'").all() as { data: string }[];
    expect(done.length).toBe(1);
    expect(JSON.parse(done[0].data)).toMatchObject({ incidentId: id, relPath: `exports/${id}.mp4` });
    expect(begins()).toBe(1);
    expect(sup2.getSnapshot().context.incidents).toEqual({});
    expect(sup2.system.get(`incident:${id}`)).toBeUndefined();
    const path = (db.query("SELECT to_state FROM actor_transitions WHERE actor_id = $id ORDER BY id").all({ id: `incident:${id}` }) as { to_state: string }[]).map((t) => t.to_state);
    expect(path).toEqual(["waiting", "ready", "exporting", "exported"]);
    clock2.increment(120_000);
    expect(exported.length).toBe(1);
    j2.close();
    sup2.stop();
  });
});

describe("a journal written before incidents had their own actor", () => {
  test("a pending incident kept in the supervisor's context (with its export actor) becomes an incident actor with the stored deadline and attempts", () => {
    const id = INPUT.incidentId;
    const oldRecord = { ...INPUT, readyAtUtc: READY + 2000, attempts: 1, lastError: "not recorded yet" };
    const supervisor = {
      status: "active",
      value: "running",
      historyValue: {},
      context: {
        cameras: {},
        trips: {},
        restarts: {},
        restartInitialMs: 1000,
        restartMaxMs: 60_000,
        services: { gpio: null, alpr: false },
        incidentSettings: { before_seconds: 30, after_seconds: 10 },
        incidents: { [id]: oldRecord },
        gpio: null,
        pendingSaves: {},
        maintenanceDeadline: null,
        maintenanceEveryMs: 86_400_000,
      },
      children: { [`incident:${id}`]: { src: "incidentExport", systemId: `incident:${id}`, snapshot: { status: "active", input: oldRecord } } },
    };
    const stored = new Map([["supervisor", { actorId: "supervisor", machine: "supervisor", state: "running", snapshot: supervisor, updatedAt: T0 }]]);
    const prepared = prepareRestoredSnapshot(stored, new Map());
    expect(prepared?.children).toEqual({});

    const ex = manualExport();
    const clock = new SimulatedClock();
    clock.set(T0 + 1000);
    const machine = supervisorMachine.provide({ actors: { incident: incidentMachine.provide({ actors: { exportClip: ex.logic } }) } });
    const sup = createActor(machine, { systemId: "supervisor", input: {}, clock, snapshot: JSON.parse(JSON.stringify(prepared)) as never }).start();
    sup.send({ type: "BOOT", at: T0 + 1000, cameras: [], trips: [] });
    const child = sup.system.get(`incident:${id}`) as AnyActorRef;
    expect(child.getSnapshot().value).toBe("waiting");
    expect(child.getSnapshot().context).toMatchObject({ readyAtUtc: READY + 2000, attempts: 1 });
    clock.increment(READY + 2000 - (T0 + 1000));
    expect(ex.calls.length).toBe(1);
    expect(ex.calls[0].input).toMatchObject({ incidentId: id, attempts: 1, cameraRecording: false });
    sup.stop();
  });
});
