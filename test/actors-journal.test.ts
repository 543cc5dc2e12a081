/**
 * The actor journal and restore against a real SQLite file (openDatabase in a temp dir), with the
 * real wiring (camera_status writes, commitSegment indexer, trips), XState's SimulatedClock and a
 * controllable stand-in for ffmpeg (the only fake: the recorder's events are sent by the test).
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimulatedClock, createActor, fromCallback, type AnyActorRef } from "xstate";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { validateConfig, type CameraConfig } from "../src/config.ts";
import { dbPath, segmentRelPath } from "../src/paths.ts";
import { LiveBus, type LiveEvent } from "../src/events.ts";
import { Journal } from "../src/actors/journal.ts";
import { cameraInputFor, provideCamera } from "../src/actors/camera.ts";
import { startSupervisor } from "../src/actors/supervisor.ts";
import type { TripDeps } from "../src/actors/trip.ts";
import { cameraStateName } from "../src/machines/camera.ts";
import type { RecorderCommand, RecorderEvent } from "../src/machines/events.ts";
import type { RecorderInput } from "../src/actors/recorder.ts";

interface Rec {
  starts: number;
  inputs: RecorderInput[];
  commands: RecorderCommand[];
  sendBack: null | ((e: RecorderEvent) => void);
}

/** Stand-in for ffmpeg: records its (completed) inputs and lets the test send its events. */
function fakeRecorder() {
  const rec: Rec = { starts: 0, inputs: [], commands: [], sendBack: null };
  const logic = fromCallback<RecorderCommand, RecorderInput>(({ sendBack, receive, input }) => {
    rec.starts++;
    rec.inputs.push(input);
    rec.sendBack = sendBack as (e: RecorderEvent) => void;
    receive((c) => rec.commands.push(c));
    return () => {
      rec.sendBack = null;
    };
  });
  const emit = (e: RecorderEvent) => {
    if (!rec.sendBack) throw new Error("recorder not running");
    rec.sendBack(e);
  };
  return { rec, logic, emit };
}

let dir: string;
let db: Database;
let camera: CameraConfig;
let ids: Map<string, number>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "dashcam-actors-journal-"));
  const config = validateConfig({ data_dir: dir, cameras: [{ key: "front", source: "testsrc", segment_seconds: 2, backoff_initial_ms: 1000, backoff_max_ms: 8000 }] }, dir);
  camera = config.cameras[0];
  db = openDatabase(dbPath(dir));
  ids = syncCameras(db, config.cameras, null);
});

afterEach(() => {
  try {
    db.close();
  } catch {}
  rmSync(dir, { recursive: true, force: true });
});

const count = (sql: string, params: Record<string, unknown> = {}) => (db.query(sql).get(params as never) as { n: number }).n;
const transitions = (actorId: string) =>
  db.query("SELECT from_state, event, to_state FROM actor_transitions WHERE actor_id = $id ORDER BY id").all({ id: actorId }) as {
    from_state: string | null;
    event: string;
    to_state: string;
  }[];
const snapshotState = (actorId: string) =>
  (db.query("SELECT state FROM actor_snapshots WHERE actor_id = $id").get({ id: actorId }) as { state: string } | null)?.state ?? null;
const status = () => db.query("SELECT * FROM camera_status WHERE camera_id = $id").get({ id: ids.get("front")! }) as {
  state: string;
  pid: number | null;
  reconnect_count: number;
  last_error: string | null;
  segment_count: number;
};

/** Writes a fake segment file (the indexer fsyncs it) and returns its SEGMENT_CLOSED event. */
function segmentFile(abs: number, endUtc: number): RecorderEvent {
  const rel = segmentRelPath("front", abs);
  mkdirSync(join(dir, "recordings", "front"), { recursive: true });
  writeFileSync(join(dir, rel), Buffer.alloc(4096, abs));
  return { type: "SEGMENT_CLOSED", relPath: rel, absoluteIndex: abs, startSec: abs * 2, endSec: abs * 2 + 2, startUtc: endUtc - 2000, endUtc, bytes: 4096 };
}

/** Polls (5 ms) until `check()` holds; fails after 10 s. */
async function waitUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await Bun.sleep(5);
  expect(check()).toBe(true);
}

function deps(journal: Journal, recorder: ReturnType<typeof fakeRecorder>, bootId = "boot-1", bus = new LiveBus()): TripDeps {
  return { db, dataDir: dir, bootId, journal, bus, cameras: new Map([["front", camera]]), recorder: recorder.logic as never };
}

describe("journal", () => {
  test("one transition writes its transition row, snapshot row and domain rows together", () => {
    const journal = new Journal(db);
    const r = fakeRecorder();
    const events: LiveEvent[] = [];
    const bus = new LiveBus();
    bus.subscribe((e) => events.push(e));
    const clock = new SimulatedClock();
    clock.set(1_700_000_000_000);
    const actor = createActor(provideCamera(deps(journal, r, "boot-1", bus)), {
      systemId: "camera:front",
      input: cameraInputFor(camera, ids.get("front")!),
      inspect: journal.inspect,
      clock,
    });
    actor.start();
    expect(transitions("camera:front")).toEqual([{ from_state: null, event: "xstate.init", to_state: "stopped" }]);
    expect(JSON.parse(snapshotState("camera:front")!)).toBe("stopped");
    expect(status().state).toBe("stopped");

    actor.send({ type: "START" });
    expect(transitions("camera:front").at(-1)).toEqual({ from_state: "stopped", event: "START", to_state: "starting" });
    expect(JSON.parse(snapshotState("camera:front")!)).toEqual({ online: "starting" });
    expect(status().state).toBe("starting");
    const row = db.query("SELECT snapshot, updated_at FROM actor_snapshots WHERE actor_id = 'camera:front'").get() as { snapshot: string; updated_at: number };
    expect(row.updated_at).toBe(clock.now());
    // the persisted snapshot never holds the source (it is only in the config)
    expect(row.snapshot).not.toContain("testsrc");
    expect(count("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'camera.state' AND message LIKE '%starting%'")).toBe(1);
    expect(events.some((e) => e.type === "camera" && e.state === "starting")).toBe(true);

    // the recorder got the full input, start number from camera_state
    expect(r.rec.inputs[0].camera.key).toBe("front");
    expect(r.rec.inputs[0].startNumber).toBe(0);
    expect(r.rec.inputs[0].dataDir).toBe(dir);

    // RECORDER.STARTED: no state change -> status row and snapshot, no transition row
    const before = transitions("camera:front").length;
    r.emit({ type: "RECORDER.STARTED", pid: 31337, at: clock.now() });
    expect(transitions("camera:front").length).toBe(before);
    expect(status().pid).toBe(31337);
    expect(JSON.parse((db.query("SELECT snapshot FROM actor_snapshots WHERE actor_id = 'camera:front'").get() as { snapshot: string }).snapshot).context.pid).toBe(31337);

    // a segment: index + camera_state + status counters + trip, with the transition starting -> recording
    r.emit(segmentFile(0, clock.now()));
    expect(transitions("camera:front").at(-1)).toEqual({ from_state: "starting", event: "SEGMENT_CLOSED", to_state: "recording" });
    expect(count("SELECT COUNT(*) AS n FROM segments")).toBe(1);
    expect(count("SELECT absolute_segments AS n FROM camera_state")).toBe(1);
    expect(status().segment_count).toBe(1);
    expect(count("SELECT COUNT(*) AS n FROM trips WHERE end_time_utc IS NULL")).toBe(1);

    r.emit({ type: "PROCESS_EXIT", code: 1, signal: null, error: "Connection refused", at: clock.now() });
    expect(transitions("camera:front").at(-1)).toEqual({ from_state: "recording", event: "PROCESS_EXIT", to_state: "backoff" });
    expect(status()).toMatchObject({ state: "backoff", pid: null, reconnect_count: 1, last_error: "Connection refused" });
    actor.stop();
  });

  test("a failing domain write rolls back the transition row, the snapshot row and the domain rows", () => {
    const journal = new Journal(db);
    const r = fakeRecorder();
    const actor = createActor(provideCamera(deps(journal, r)), {
      systemId: "camera:front",
      input: cameraInputFor(camera, ids.get("front")!),
      inspect: journal.inspect,
    });
    actor.start();
    const eventsBefore = count("SELECT COUNT(*) AS n FROM event_log");

    // the camera_status write of the next transition fails inside SQLite
    db.exec(`CREATE TEMP TRIGGER fail_starting BEFORE UPDATE ON camera_status WHEN NEW.state = 'starting'
             BEGIN SELECT RAISE(ABORT, 'injected write failure'); END`);
    actor.send({ type: "START" });

    // nothing of stopped -> starting was kept: no transition row, no snapshot, no status, no event
    expect(transitions("camera:front").map((t) => `${t.from_state}>${t.event}>${t.to_state}`)).toEqual([
      "null>xstate.init>stopped",
      // the actor was told (JOURNAL.FAILED) and finished as failed, journaled from the last
      // persisted state; its supervisor restarts it from the database's truth
      "stopped>JOURNAL.FAILED>failed",
    ]);
    expect(JSON.parse(snapshotState("camera:front")!)).toBe("failed");
    expect(status().state).toBe("stopped");
    expect(count("SELECT COUNT(*) AS n FROM event_log")).toBe(eventsBefore);
    expect(actor.getSnapshot().status).toBe("done");
    expect((actor.getSnapshot().output as { failed: string }).failed).toContain("injected write failure");
    expect(r.rec.sendBack).toBeNull(); // the recorder it had started is stopped
    db.exec("DROP TRIGGER fail_starting");
  });
});

describe("backoff settles the failed run's leftovers", () => {
  test("a file the failed ffmpeg never reported is settled before the next run (junk: deleted, logged)", async () => {
    const r = fakeRecorder();
    const j = new Journal(db);
    const sup = startSupervisor(deps(j, r), [camera], ids, {});
    const cam = sup.system.get("camera:front") as AnyActorRef;
    r.emit(segmentFile(0, Date.now()));
    // ffmpeg dies while writing segment 1: a file without a row, not playable
    const leftover = join(dir, segmentRelPath("front", 1));
    writeFileSync(leftover, "not a transport stream");
    r.emit({ type: "PROCESS_EXIT", code: null, signal: "SIGKILL", error: null, at: Date.now() });
    expect(cameraStateName(cam.getSnapshot().value)).toBe("backoff");
    // the next run starts only once the leftover is settled (and the deadline passed)
    await waitUntil(() => r.rec.starts === 2);
    expect(existsSync(leftover)).toBe(false);
    expect(count("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'reconcile' AND message LIKE '%000000001.ts%'")).toBe(1);
    // ... right after the last indexed segment
    expect(r.rec.inputs[1].startNumber).toBe(1);
    j.close();
    sup.stop();
  }, 30_000);
});

describe("restore from the journal", () => {
  test("the supervisor tree comes back after a crash: backoff deadline re-armed, trips kept, recording cameras restart", { timeout: 30_000 }, async () => {
    const cams = [camera];
    const r1 = fakeRecorder();
    const clock1 = new SimulatedClock();
    clock1.set(1_700_000_000_000);
    const j1 = new Journal(db);
    const sup1 = startSupervisor(deps(j1, r1), cams, ids, { clock: clock1 });
    const cam1 = sup1.system.get("camera:front") as AnyActorRef;
    expect(cameraStateName(cam1.getSnapshot().value)).toBe("starting");
    r1.emit({ type: "RECORDER.RECEIVING", at: clock1.now() });
    r1.emit(segmentFile(0, clock1.now()));
    clock1.increment(2000);
    r1.emit(segmentFile(1, clock1.now()));
    // the indexer opened a trip; the supervisor got TRIP.OPENED and spawned its actor
    const tripId = (db.query("SELECT id FROM trips").get() as { id: number }).id;
    expect(sup1.system.get(`trip:${tripId}`)).toBeDefined();
    expect(JSON.parse(snapshotState(`trip:${tripId}`)!)).toBe("open");
    r1.emit({ type: "PROCESS_EXIT", code: 1, signal: null, error: "network unreachable", at: clock1.now() });
    const deadline = cam1.getSnapshot().context.backoffDeadline as number;
    expect(deadline).toBe(clock1.now() + 1000);

    // power cut: nothing more is written, the actors vanish
    j1.close();
    sup1.stop();

    // next start, 400 ms later, same boot
    const clock2 = new SimulatedClock();
    clock2.set(clock1.now() + 400);
    const r2 = fakeRecorder();
    const j2 = new Journal(db);
    const sup2 = startSupervisor(deps(j2, r2), cams, ids, { clock: clock2 });
    const cam2 = sup2.system.get("camera:front") as AnyActorRef;
    expect(cameraStateName(cam2.getSnapshot().value)).toBe("backoff");
    expect(cam2.getSnapshot().context).toMatchObject({ reconnectCount: 1, lastError: "network unreachable", backoffDeadline: deadline, segments: 2 });
    expect(sup2.system.get(`trip:${tripId}`)?.getSnapshot().value).toBe("open");
    // backoff also settles what the failed run left in the ring (async, real salvage): let it finish
    await waitUntil(() => cam2.getSnapshot().context.settled === true);
    clock2.increment(599);
    expect(cameraStateName(cam2.getSnapshot().value)).toBe("backoff");
    expect(r2.rec.starts).toBe(0);
    clock2.increment(1);
    expect(cameraStateName(cam2.getSnapshot().value)).toBe("starting");
    expect(r2.rec.starts).toBe(1);
    expect(r2.rec.inputs[0].startNumber).toBe(2); // from camera_state.absolute_segments
    r2.emit({ type: "RECORDER.RECEIVING", at: clock2.now() });
    expect(status().state).toBe("recording");

    // crash while recording: the restored camera goes back through starting
    j2.close();
    sup2.stop();
    const clock3 = new SimulatedClock();
    clock3.set(clock2.now() + 100);
    const r3 = fakeRecorder();
    const j3 = new Journal(db);
    const sup3 = startSupervisor(deps(j3, r3), cams, ids, { clock: clock3 });
    const cam3 = sup3.system.get("camera:front") as AnyActorRef;
    expect(cameraStateName(cam3.getSnapshot().value)).toBe("starting");
    expect(r3.rec.starts).toBe(1);
    expect(r3.rec.inputs[0].startNumber).toBe(2);
    expect(transitions("camera:front").at(-1)).toEqual({ from_state: "recording", event: "xstate.restore", to_state: "starting" });
    expect(status().state).toBe("starting");
    j3.close();
    sup3.stop();

    // a reboot: the open trip of the older boot is closed at its last segment, through its actor
    const clock4 = new SimulatedClock();
    clock4.set(clock3.now() + 100);
    const r4 = fakeRecorder();
    const j4 = new Journal(db);
    const sup4 = startSupervisor(deps(j4, r4, "boot-2"), cams, ids, { clock: clock4 });
    const trip = db.query("SELECT status, end_time_utc, last_time_utc, final_segment FROM trips WHERE id = $id").get({ id: tripId }) as {
      status: string;
      end_time_utc: number | null;
      last_time_utc: number;
      final_segment: number | null;
    };
    expect(trip.status).toBe("closed");
    expect(trip.end_time_utc).toBe(trip.last_time_utc);
    expect(trip.final_segment).toBe(1);
    expect(transitions(`trip:${tripId}`).at(-1)).toEqual({ from_state: "open", event: "CLOSE", to_state: "closed" });
    expect((sup4.system.get(`trip:${tripId}`)?.getSnapshot().context as { closeReason: string }).closeReason).toBe("older_boot");
    j4.close();
    sup4.stop();

    // the journal is append-only and names the camera's whole path
    const path = transitions("camera:front").map((t) => t.to_state);
    expect(path.slice(0, 4)).toEqual(["stopped", "starting", "recording", "backoff"]);
  });

  test("an unreadable stored supervisor snapshot is replaced by a fresh tree", () => {
    db.query("INSERT INTO actor_snapshots (actor_id, machine, state, snapshot, updated_at) VALUES ('supervisor', 'supervisor', '\"running\"', $s, 0)").run({
      s: JSON.stringify({ status: "active", value: "no-such-state", context: {}, children: {} }),
    });
    const r = fakeRecorder();
    const j = new Journal(db);
    const sup = startSupervisor(deps(j, r), [camera], ids, {});
    expect(sup.getSnapshot().status).toBe("active");
    expect(sup.getSnapshot().value).toBe("running");
    expect(cameraStateName((sup.system.get("camera:front") as AnyActorRef).getSnapshot().value)).toBe("starting");
    j.close();
    sup.stop();
  });

  test("retention through the real wiring: an evicted closed trip ends `evicted`; a disk full of locked footage stops the camera until space is freed", async () => {
    const small = { ...camera, ring_segments: 2 };
    const cams = [small];
    const d = (j: Journal, r: ReturnType<typeof fakeRecorder>, bootId: string) => {
      const x = deps(j, r, bootId);
      x.cameras.set("front", small);
      return x;
    };
    const clock = new SimulatedClock();
    clock.set(1_700_000_000_000);
    // boot 1 records segments 0 and 1 (trip A), then the power is cut
    const r1 = fakeRecorder();
    const j1 = new Journal(db);
    const sup1 = startSupervisor(d(j1, r1, "boot-1"), cams, ids, { clock });
    r1.emit(segmentFile(0, clock.now()));
    r1.emit(segmentFile(1, clock.now() + 2000));
    const tripA = (db.query("SELECT id FROM trips").get() as { id: number }).id;
    j1.close();
    sup1.stop();

    // boot 2: trip A is closed (older boot); two new segments push both segments of trip A out of the ring
    clock.increment(60_000);
    const r2 = fakeRecorder();
    const j2 = new Journal(db);
    const deps2 = d(j2, r2, "boot-2");
    const sup2 = startSupervisor(deps2, cams, ids, { clock });
    expect(r2.rec.inputs[0].startNumber).toBe(2);
    r2.emit(segmentFile(2, clock.now()));
    r2.emit(segmentFile(3, clock.now() + 2000));
    r2.emit(segmentFile(4, clock.now() + 4000));
    const a = db.query("SELECT status, fully_evicted FROM trips WHERE id = $id").get({ id: tripA }) as { status: string; fully_evicted: number };
    expect(a).toEqual({ status: "evicted", fully_evicted: 1 });
    expect(transitions(`trip:${tripA}`).map((t) => `${t.from_state}>${t.event}>${t.to_state}`)).toEqual([
      "null>xstate.init>open",
      "open>CLOSE>closed",
      "closed>EVICTED>evicted",
    ]);
    // the finished trip actor is gone from the supervisor
    expect(sup2.system.get(`trip:${tripA}`)).toBeUndefined();
    expect(Object.keys(sup2.getSnapshot().children)).not.toContain(`trip:${tripA}`);

    // disk full of evidence: lock everything, demand more free space than any disk has
    const cam = sup2.system.get("camera:front") as AnyActorRef;
    expect(cameraStateName(cam.getSnapshot().value)).toBe("recording");
    db.exec("UPDATE segments SET evidence_locked = 1");
    deps2.cameras.set("front", { ...small, min_free_bytes: 1e15 });
    r2.emit(segmentFile(5, clock.now() + 6000));
    expect(cameraStateName(cam.getSnapshot().value)).toBe("disk_full");
    expect(status().state).toBe("disk_full");
    expect(status().last_error).toContain("below min_free_bytes");
    expect(transitions("camera:front").at(-1)).toMatchObject({ from_state: "recording", event: "DISK_FULL_LOCKED", to_state: "disk_full" });
    // ffmpeg is asked to finish its segment; the ring is settled once it has exited
    expect(r2.rec.commands).toContainEqual({ type: "RECORDER.STOP" });
    r2.emit({ type: "PROCESS_EXIT", code: 0, signal: null, error: null, at: clock.now() });
    expect(r2.rec.sendBack).toBeNull(); // recorder stopped
    expect(cameraStateName(cam.getSnapshot().value)).toBe("disk_full");
    // evidence (segments 3 and 4, the ring's content) was not deleted
    expect(count("SELECT COUNT(*) AS n FROM segments WHERE evidence_locked = 1")).toBe(2);

    // still full at the first re-check
    clock.increment(60_000);
    expect(cameraStateName(cam.getSnapshot().value)).toBe("disk_full");
    // space is freed (here: the floor is lifted); the next re-check resumes recording
    deps2.cameras.set("front", small);
    clock.increment(60_000);
    // (once the stopped run's interrupted segment is settled, which disk_full does first)
    await waitUntil(() => cameraStateName(cam.getSnapshot().value) === "starting");
    // DISK.FREED, or the settle finishing after it
    expect(transitions("camera:front").at(-1)).toMatchObject({ from_state: "disk_full", to_state: "starting" });
    expect(["DISK.FREED", "SEGMENTS.SETTLED"]).toContain(transitions("camera:front").at(-1)!.event);
    expect(r2.rec.starts).toBe(2);
    j2.close();
    sup2.stop();
  });
});
