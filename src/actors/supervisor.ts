/**
 * Wiring and restore of the root `supervisor` actor (src/machines/supervisor.ts).
 *
 * `startSupervisor(deps, config, cameraIds)`:
 * 1. builds the supervisor machine with the real `camera` and `trip` machines (`.provide()`);
 * 2. restores it from the journal (`actor_snapshots`), after a JSON round-trip, with
 *    `prepareRestoredSnapshot`: each child's snapshot is replaced by its own newest row (each
 *    actor's row is written in the same transaction as its domain rows, so it is the truth),
 *    cameras that were starting/recording/stalled go back to `starting` (their ffmpeg is gone;
 *    the invoked recorder restarts from scratch with a fresh start number), a camera caught
 *    `stopping` is `stopped`, finished children and trips that are no longer open/saving are
 *    dropped, and camera timing settings come from the current config;
 * 3. starts it with the journal as inspector and sends `BOOT` (config + open/saving trips of the
 *    database, older boots flagged), which spawns/starts/disables cameras, closes older-boot
 *    trips and re-arms stored deadlines (`TIMERS.REARM`).
 * A snapshot that cannot be restored is logged and replaced by a fresh supervisor.
 */
import type { Database } from "bun:sqlite";
import { createActor, type Actor } from "xstate";
import type { CameraConfig } from "../config.ts";
import { supervisorMachine, type BootCamera, type BootTrip, type SupervisorEvent } from "../machines/supervisor.ts";
import { cameraMachine, cameraStateName, type CameraInput } from "../machines/camera.ts";
import { tripMachine, type TripStatus } from "../machines/trip.ts";
import { log } from "../log.ts";
import { cameraInputFor, provideCamera } from "./camera.ts";
import { provideTrip, type TripDeps } from "./trip.ts";
import { loadSnapshots, type StoredSnapshot } from "./journal.ts";

export type SupervisorActor = Actor<typeof supervisorMachine>;

/** The supervisor machine with the real camera and trip machines. */
export function provideSupervisor(deps: TripDeps) {
  return supervisorMachine.provide({
    actors: {
      camera: provideCamera(deps) as unknown as typeof cameraMachine,
      trip: provideTrip(deps) as unknown as typeof tripMachine,
    },
  });
}

interface PersistedChild {
  snapshot: PersistedMachineSnapshot;
  src: unknown;
  systemId?: string;
}
interface PersistedMachineSnapshot {
  status: string;
  value: unknown;
  context: Record<string, unknown>;
  children: Record<string, PersistedChild>;
  [k: string]: unknown;
}

/**
 * Builds the snapshot to restore the supervisor from (see the module comment), or null when
 * there is none or it is not active. Pure: `stored` comes from `loadSnapshots(db)`.
 */
export function prepareRestoredSnapshot(
  stored: Map<string, StoredSnapshot>,
  cameras: Map<string, CameraInput>,
): PersistedMachineSnapshot | null {
  const sup = stored.get("supervisor");
  if (!sup) return null;
  const snap = JSON.parse(JSON.stringify(sup.snapshot)) as PersistedMachineSnapshot;
  if (!snap || snap.status !== "active" || typeof snap.children !== "object") return null;
  const children: Record<string, PersistedChild> = {};
  for (const [id, child] of Object.entries(snap.children ?? {})) {
    const latest = stored.get(child.systemId ?? id);
    const cs = (latest ? JSON.parse(JSON.stringify(latest.snapshot)) : child.snapshot) as PersistedMachineSnapshot;
    if (!cs || cs.status !== "active") continue;
    if (id.startsWith("camera:")) {
      const input = cameras.get(id.slice("camera:".length));
      if (!input) continue;
      const state = cameraStateName(cs.value);
      if (state === "recording" || state === "stalled") cs.value = { online: "starting" };
      if (state === "stopping") {
        cs.value = "stopped";
        cs.children = {};
      }
      cs.context = {
        ...cs.context,
        key: input.key,
        cameraId: input.cameraId,
        backoffInitialMs: input.backoffInitialMs,
        backoffMaxMs: input.backoffMaxMs,
        stallMs: input.stallMs,
        diskRetryMs: input.diskRetryMs ?? cs.context.diskRetryMs,
        stopTimeoutMs: input.stopTimeoutMs ?? cs.context.stopTimeoutMs,
        pid: null,
        stallDeadline: null,
        stopDeadline: null,
      };
    } else if (id.startsWith("trip:")) {
      if (cs.value !== "open" && cs.value !== "saving") continue;
    }
    children[id] = { ...child, snapshot: cs };
  }
  snap.children = children;
  return snap;
}

/** The BOOT event: configured cameras and the database's open/saving trips. */
export function bootEvent(db: Database, cameras: CameraConfig[], cameraIds: Map<string, number>, bootId: string, at: number): SupervisorEvent {
  const boot: BootCamera[] = [];
  for (const c of cameras) {
    const id = cameraIds.get(c.key);
    if (id === undefined) continue;
    boot.push({ ...cameraInputFor(c, id), enabled: c.enabled });
  }
  const rows = db
    .query(
      `SELECT t.id, c.key, t.status, t.boot_id, t.end_time_utc, t.last_time_utc
       FROM trips t JOIN cameras c ON c.id = t.camera_id
       WHERE t.end_time_utc IS NULL OR t.status = 'saving' ORDER BY t.id`,
    )
    .all() as { id: number; key: string; status: TripStatus; boot_id: string; end_time_utc: number | null; last_time_utc: number }[];
  const trips: BootTrip[] = rows.map((r) => ({
    tripId: r.id,
    cameraKey: r.key,
    status: r.end_time_utc === null && r.status !== "saving" ? "open" : r.status,
    olderBoot: r.end_time_utc === null && r.boot_id !== bootId,
    lastTimeUtc: r.last_time_utc,
  }));
  return { type: "BOOT", at, cameras: boot, trips };
}

export interface StartSupervisorOptions {
  /** Clock for the actor system (tests: SimulatedClock). */
  clock?: { setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown; clearTimeout(id: unknown): void; now?(): number };
  /** Ignore the journal and start fresh. */
  fresh?: boolean;
}

/**
 * Creates (restoring when possible), starts and BOOTs the supervisor. `deps.cameras` must hold
 * the current config by key; `cameraIds` comes from `syncCameras`.
 */
export function startSupervisor(
  deps: TripDeps,
  cameras: CameraConfig[],
  cameraIds: Map<string, number>,
  opts: StartSupervisorOptions = {},
): SupervisorActor {
  const machine = provideSupervisor(deps);
  const inputs = new Map<string, CameraInput>();
  for (const c of cameras) {
    const id = cameraIds.get(c.key);
    if (id !== undefined) inputs.set(c.key, cameraInputFor(c, id));
  }
  let snapshot: PersistedMachineSnapshot | null = null;
  if (!opts.fresh) {
    try {
      snapshot = prepareRestoredSnapshot(loadSnapshots(deps.db), inputs);
    } catch (err) {
      log.warn(`supervisor: stored snapshot unreadable, starting fresh: ${(err as Error).message}`);
    }
  }
  const make = (snap: PersistedMachineSnapshot | null) =>
    createActor(machine, {
      systemId: "supervisor",
      input: {},
      inspect: deps.journal.inspect,
      ...(opts.clock ? { clock: opts.clock as never } : {}),
      ...(snap ? { snapshot: snap as never } : {}),
    });
  let actor = make(snapshot);
  if (snapshot && actor.getSnapshot().status !== "active") {
    log.warn(`supervisor: stored snapshot could not be restored (${String(actor.getSnapshot().error)}), starting fresh`);
    actor = make(null);
    snapshot = null;
  }
  actor.start();
  if (snapshot) log.info(`supervisor: restored ${Object.keys(snapshot.children).length} actors from the journal`);
  const now = opts.clock?.now ? opts.clock.now() : Date.now();
  actor.send(bootEvent(deps.db, cameras, cameraIds, deps.bootId, now) as never);
  return actor;
}
