/**
 * Wiring and restore of the root `supervisor` actor (src/machines/supervisor.ts).
 *
 * `startSupervisor(deps, config, cameraIds)`:
 * 1. builds the supervisor machine with the real `camera`, `trip`, `incident` and
 *    `timelapseBatch` and `applyConfig` machines (src/actors/camera.ts, trip.ts, incident.ts,
 *    timelapseBatch.ts, applyConfig.ts),
 *    the service actors (`gpioButton`: the GPIO save button of src/actors/gpio.ts,
 *    `alprService`: the plate-reading service of src/actors/alpr.ts, `timelapseCapture`: the
 *    timelapse capturer of src/actors/timelapseCapture.ts over `deps.frameSource`) and the
 *    named effects (`.provide()`);
 * 2. restores it from the journal (`actor_snapshots`), after a JSON round-trip, with
 *    `prepareRestoredSnapshot`: each child's snapshot is replaced by its own newest row (each
 *    actor's row is written in the same transaction as its domain rows, so it is the truth),
 *    cameras that were starting/recording/stalled go back to `starting` (their ffmpeg is gone;
 *    the invoked recorder restarts from scratch with a fresh start number), a camera caught
 *    `stopping` is `stopped`, finished children and trips that are no longer open/saving/
 *    saved-but-open are dropped, settings changes under way are kept as they were, pending incidents are kept (their stored deadline is re-armed
 *    at BOOT, an export under way starts again), service children are dropped (BOOT spawns them
 *    again from the current config), and camera timing settings come from the current config;
 * 3. starts it with the journal as inspector and sends `BOOT` (config + open/saving trips of the
 *    database, older boots flagged), which spawns/starts/disables cameras, closes older-boot
 *    trips, spawns the services and re-arms stored deadlines (`TIMERS.REARM`).
 * A snapshot that cannot be restored is logged and replaced by a fresh supervisor.
 *
 * Effects of the supervisor (named actions):
 * - `publishGpio`: LiveBus `gpio` event (the GPIO actor writes the `gpio.*` event rows itself);
 * - `nothingToSave`: a `trip.save_error` warning row (button pressed, no trip to save);
 * - `serviceError`: log + `service.error` event row;
 * - `runMaintenance` (BOOT and every 24 h): expired timelapse images (src/media/timelapseCleanup.ts),
 *   `purgeExpiredSessions`, camera health retention, recommendations and finished settings
 *   changes older than a year (`expireOptimizations`), and temp files older than 6 h
 *   left by interrupted saves/exports (the start-up sweep of every temp file runs in the runtime
 *   before anything else starts).
 */
import type { Database } from "bun:sqlite";
import { join } from "node:path";
import { createActor, fromCallback, type Actor, type AnyActorLogic, type CallbackActorLogic } from "xstate";
import type { CameraConfig, Config } from "../config.ts";
import { supervisorMachine, type BootCamera, type BootTrip, type GpioConfig, type GpioState, type SupervisorEvent } from "../machines/supervisor.ts";
import { cameraMachine, cameraStateName, type CameraInput } from "../machines/camera.ts";
import { tripMachine, LIVE_TRIP_STATES } from "../machines/trip.ts";
import { incidentMachine } from "../machines/incident.ts";
import { log } from "../log.ts";
import { logEvent } from "../db/eventLog.ts";
import { purgeExpiredSessions } from "../db/sessions.ts";
import { EXPORTS_DIR } from "../media/export.ts";
import { removeTempFiles } from "../fsx.ts";
import { unfinishedTrips } from "../db/trips.ts";
import { cameraInputFor, provideCamera } from "./camera.ts";
import { liveStatusOf, provideTrip, type TripDeps } from "./trip.ts";
import { loadSnapshots, logAndAnnounce, type StoredSnapshot } from "./journal.ts";
import { provideIncident, type IncidentDeps } from "./incident.ts";
import { enforceHealthRetention, healthMonitorInputs, provideCameraHealth, type HealthDeps } from "./health.ts";
import { cameraHealthMachine, type HealthMonitorInput } from "../machines/cameraHealth.ts";
import { createGpioButton } from "./gpio.ts";
import { timelapseBatchMachine, type TimelapseBatchInput } from "../machines/timelapseBatch.ts";
import { unfinishedBatches } from "../db/timelapse.ts";
import type { CurrentFrameSource } from "../media/currentFrame.ts";
import { provideTimelapseBatch, type TimelapseDeps } from "./timelapseBatch.ts";
import { createTimelapseCapture } from "./timelapseCapture.ts";
import { sweepTimelapse } from "../media/timelapseCleanup.ts";
import type { AlprService } from "./alpr.ts";
import { cleanSavedTemps } from "./saveTrip.ts";
import { applyConfigMachine, type ApplyInput, type ApplyMethod } from "../machines/applyConfig.ts";
import { expireOptimizations, unfinishedApplies } from "../db/optimize.ts";
import { provideApplyConfig, type ApplyDeps } from "./applyConfig.ts";

export type SupervisorActor = Actor<typeof supervisorMachine>;

/** Everything the supervisor's wiring needs: the trip/camera/incident deps plus the configuration and services. */
export interface SupervisorDeps extends TripDeps, IncidentDeps, HealthDeps, TimelapseDeps, ApplyDeps {
  /** The current frame of each camera (health checks, timelapse captures); without it nothing is captured or checked. */
  frameSource?: CurrentFrameSource;
  /** Replaces the real capturer (tests). */
  timelapseCapture?: AnyActorLogic;
  /** The whole configuration ([gpio], [alpr], [incident]); absent in unit tests = no services. */
  config?: Config;
  /** Environment the GPIO actor finds `gpiomon` in (default process.env). */
  gpioEnv?: Record<string, string | undefined>;
  /** Promises the runtime must await before closing the database (a service's stop). */
  background?: Set<Promise<unknown>>;
  /** Overrides for tests. */
  gpioButton?: AnyActorLogic;
  alprService?: AnyActorLogic;
  /** Maintenance period (ms, default 24 h). */
  maintenanceEveryMs?: number;
}

/** Seed 003: `optimizations` and `applied_configs` rows are kept a year. */
export const OPTIMIZATION_RETENTION_MS = 365 * 24 * 3600 * 1000;

/** Temp files older than this are swept by the periodic maintenance (no export or save runs that long). */
export const STALE_TEMP_MS = 6 * 3600 * 1000;

/**
 * One maintenance run: expired sessions deleted, temp files of interrupted saves/exports older
 * than STALE_TEMP_MS deleted, camera health retention (`enforceHealthRetention`, with
 * `config`'s `[health]` settings). Returns what it did; never throws (errors are logged).
 */
export function runMaintenance(db: Database, dataDir: string, now = Date.now(), config?: Pick<Config, "health">): { sessions: number; temps: number } {
  let sessions = 0;
  let temps = 0;
  try {
    sessions = purgeExpiredSessions(db, now);
  } catch (err) {
    log.warn(`maintenance: purging expired sessions failed: ${(err as Error).message}`);
  }
  try {
    temps = cleanSavedTemps(dataDir, STALE_TEMP_MS) + removeTempFiles(join(dataDir, EXPORTS_DIR), STALE_TEMP_MS) + removeTempFiles(join(dataDir, "thumbs"), STALE_TEMP_MS);
  } catch (err) {
    log.warn(`maintenance: sweeping temp files failed: ${(err as Error).message}`);
  }
  enforceHealthRetention(db, dataDir, config, now);
  try {
    // seed 003 retention: recommendations and finished settings changes are kept a year
    expireOptimizations(db, now - OPTIMIZATION_RETENTION_MS);
  } catch (err) {
    log.warn(`maintenance: expiring old recommendations failed: ${(err as Error).message}`);
  }
  if (sessions > 0 || temps > 0) {
    try {
      logEvent(db, { kind: "maintenance", at: now, message: `maintenance: ${sessions} expired session(s), ${temps} stale temp file(s) removed`, data: { sessions, temps } });
    } catch {
      /* logged above if the database is gone */
    }
  }
  return { sessions, temps };
}

/**
 * The ALPR service module (src/actors/alpr.ts with the vision pipeline, jpeg-js and pngjs), loaded
 * on first use: with `[alpr]` off the runtime never evaluates it (less memory while idle).
 */
let alprModule: typeof import("./alpr.ts") | null = null;

/**
 * Loads the ALPR service module once (idempotent). `startRuntime` awaits it before starting the
 * supervisor when `[alpr] enabled`, so the `alprService` actor then starts the service
 * synchronously; without it the actor loads the module itself first.
 */
export async function preloadAlprService(): Promise<void> {
  alprModule ??= await import("./alpr.ts");
}

/**
 * The `alprService` actor: `startAlprService` (src/actors/alpr.ts) for the runtime's database and config. Input
 * `{}` (the deps are closed over, so the persisted snapshot stays plain data). Sends `ALPR.ERROR`
 * when it cannot start; `ALPR.WAKE` runs its loop now; stopping the actor stops the service
 * (the promise goes to `deps.background` so the runtime awaits it before closing the database).
 * The service module is loaded on first use (see `preloadAlprService`); a `ALPR.WAKE` that
 * arrives while it loads wakes the service once it has started.
 */
export function createAlprActor(deps: SupervisorDeps) {
  return fromCallback<{ type: string }, Record<string, never>>(({ sendBack, receive }) => {
    let service: AlprService | null = null;
    let stopped = false;
    let wakePending = false;
    const start = (mod: typeof import("./alpr.ts")) => {
      try {
        if (!deps.config) throw new Error("no configuration given");
        service = mod.startAlprService({ db: deps.db, config: deps.config, dataDir: deps.dataDir, bus: deps.bus });
      } catch (err) {
        sendBack({ type: "ALPR.ERROR", error: String((err as Error)?.message ?? err) });
        return;
      }
      if (wakePending) service.wake();
    };
    if (alprModule) start(alprModule);
    else {
      const loading = preloadAlprService().then(
        () => {
          if (!stopped) start(alprModule!);
        },
        (err) => {
          if (!stopped) sendBack({ type: "ALPR.ERROR", error: `cannot load the ALPR service: ${String((err as Error)?.message ?? err)}` });
        },
      );
      deps.background?.add(loading);
      void loading.finally(() => deps.background?.delete(loading));
    }
    receive((e) => {
      if (e.type !== "ALPR.WAKE") return;
      if (service) service.wake();
      else wakePending = true;
    });
    return () => {
      stopped = true;
      if (!service) return;
      const stopping = service.stop().catch((err) => log.warn(`alpr: stop failed: ${(err as Error).message}`));
      deps.background?.add(stopping);
    };
  });
}

/** The supervisor machine with the real camera, trip and service actors and effects. */
export function provideSupervisor(deps: SupervisorDeps) {
  const { journal, db } = deps;
  return supervisorMachine.provide({
    actors: {
      camera: provideCamera(deps) as unknown as typeof cameraMachine,
      trip: provideTrip(deps) as unknown as typeof tripMachine,
      gpioButton: (deps.gpioButton ?? createGpioButton({ db, env: deps.gpioEnv })) as unknown as CallbackActorLogic<{ type: string }, GpioConfig>,
      alprService: (deps.alprService ?? createAlprActor(deps)) as unknown as CallbackActorLogic<{ type: string }, Record<string, never>>,
      incident: provideIncident(deps) as unknown as typeof incidentMachine,
      cameraHealth: provideCameraHealth(deps) as unknown as typeof cameraHealthMachine,
      timelapseBatch: provideTimelapseBatch(deps) as unknown as typeof timelapseBatchMachine,
      applyConfig: provideApplyConfig(deps) as unknown as typeof applyConfigMachine,
      timelapseCapture: (deps.timelapseCapture ??
        (deps.frameSource
          ? createTimelapseCapture({ db, dataDir: deps.dataDir, cameras: deps.cameras, frameSource: deps.frameSource, background: deps.background })
          : fromCallback(() => {}))) as unknown as CallbackActorLogic<{ type: string }, Record<string, never>>,
    },
    actions: {
      publishGpio: (_, params) => {
        const gpio = params as GpioState;
        deps.bus.publish({ type: "gpio", status: gpio.status, reason: gpio.reason, at: gpio.at });
      },
      nothingToSave: ({ self }, params) => {
        const { at, source } = params as { at: number; source: string };
        journal.enqueue(self, (d) => {
          const message = `save (${source}): no trip to save: no camera is recording`;
          return logAndAnnounce(d, deps.bus, { kind: "trip.save_error", level: "warn", at, message, data: { source } });
        });
      },
      serviceError: ({ self }, params) => {
        const { id, error } = params as { id: string; error: string };
        log.error(`${id}: ${error}`);
        journal.enqueue(self, (d) => {
          logEvent(d, { kind: "service.error", level: "error", message: `${id} service: ${error}`, data: { service: id } });
        });
      },
      runMaintenance: ({ self }) => {
        journal.enqueue(self, () => () => {
          runMaintenance(db, deps.dataDir, Date.now(), deps.config);
          runMaintenance(db, deps.dataDir);
          sweepTimelapse(db, deps.dataDir, deps.cameras);
        });
      },
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
  health: Map<string, HealthMonitorInput> = new Map(),
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
      // the card was full and ffmpeg was finishing its segment: that ffmpeg is gone (start-up
      // salvage settled its file); stay disk_full without a recorder (TIMERS.REARM re-settles)
      if (state === "disk_full" && typeof cs.value === "object") {
        cs.value = "disk_full";
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
      if (typeof cs.value !== "string" || !LIVE_TRIP_STATES.has(cs.value)) continue;
    } else if (id.startsWith("health:")) {
      // a monitor keeps its status, streak and next-check deadline; the interval comes from the current config
      const input = health.get(id.slice("health:".length));
      if (!input || child.src !== "cameraHealth") continue;
      cs.context = { ...cs.context, cameraId: input.cameraId, intervalMs: input.intervalMs };
    } else if (id.startsWith("timelapse:") && child.src === "timelapseBatch") {
      // a batch being rendered: restored as it was (a render under way starts again)
    } else if (id.startsWith("apply:") && child.src === "applyConfig") {
      // a settings change under way: restored as it was (a push or measurement under way runs again)
    } else if (!id.startsWith("incident:") || child.src !== "incident") {
      // services: BOOT spawns them from the current config; an export actor of an older version
      // (src `incidentExport`): BOOT spawns an incident actor from the stored incident instead
      continue;
    }
    children[id] = { ...child, snapshot: cs };
  }
  snap.children = children;
  return snap;
}

/**
 * The BOOT event: configured cameras, the database's open/saving trips, and (when `config` is
 * given) the services to run and the incident window.
 */
export function bootEvent(
  db: Database,
  cameras: CameraConfig[],
  cameraIds: Map<string, number>,
  bootId: string,
  at: number,
  config?: Pick<Config, "gpio" | "alpr" | "incident" | "health" | "cameras"> | null,
  maintenanceEveryMs?: number,
): SupervisorEvent {
  const boot: BootCamera[] = [];
  for (const c of cameras) {
    const id = cameraIds.get(c.key);
    if (id === undefined) continue;
    boot.push({ ...cameraInputFor(c, id), enabled: c.enabled && c.record !== false, segmentSeconds: c.segment_seconds });
  }
  const trips: BootTrip[] = unfinishedTrips(db).map((r) => ({
    tripId: r.id,
    cameraKey: r.key,
    status: liveStatusOf(r),
    olderBoot: r.end_time_utc === null && r.boot_id !== bootId,
    lastTimeUtc: r.last_time_utc,
  }));
  const gpio = config?.gpio ? { ...config.gpio } : null;
  const keyOf = new Map([...cameraIds].map(([key, id]) => [id, key]));
  const applies: ApplyInput[] = unfinishedApplies(db).flatMap((a) => {
    const key = keyOf.get(a.camera_id);
    const cam = key === undefined ? undefined : cameras.find((c) => c.key === key);
    if (!key || !cam) return [];
    return [{ applyId: a.id, cameraKey: key, cameraId: a.camera_id, method: a.apply_method as ApplyMethod, settings: a.settings as ApplyInput["settings"], segmentMs: cam.segment_seconds * 1000, by: a.applied_by ?? "unknown" }];
  });
  const timelapses: TimelapseBatchInput[] = unfinishedBatches(db).map((b) => ({
    batchId: b.id,
    cameraKey: b.camera_key,
    cameraId: b.camera_id,
    batchType: b.batch_type,
  }));
  return {
    type: "BOOT",
    at,
    cameras: boot,
    trips,
    gpio,
    alpr: config?.alpr?.enabled === true,
    timelapses,
    applies,
    timelapseCapture: cameras.some((c) => c.enabled && (c.timelapse?.interval_seconds ?? 0) > 0),
    ...(config?.incident ? { incident: { ...config.incident } } : {}),
    ...(maintenanceEveryMs ? { maintenanceEveryMs } : {}),
    ...(config ? { health: healthMonitorInputs({ health: config.health, cameras }, cameraIds) } : {}),
  };
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
  deps: SupervisorDeps,
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
      const health = new Map(deps.config ? healthMonitorInputs({ health: deps.config.health, cameras }, cameraIds).map((h) => [h.cameraKey, h]) : []);
      snapshot = prepareRestoredSnapshot(loadSnapshots(deps.db), inputs, health);
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
  actor.send(bootEvent(deps.db, cameras, cameraIds, deps.bootId, now, deps.config, deps.maintenanceEveryMs) as never);
  return actor;
}
