/**
 * Wiring and restore of the root `supervisor` actor (src/machines/supervisor.ts).
 *
 * `startSupervisor(deps, config, cameraIds)`:
 * 1. builds the supervisor machine with the real `camera` and `trip` machines, the service
 *    actors (`gpioButton`: G's GPIO button, `alprService`: D2's ALPR service, `incidentExport`)
 *    and the named effects (`.provide()`);
 * 2. restores it from the journal (`actor_snapshots`), after a JSON round-trip, with
 *    `prepareRestoredSnapshot`: each child's snapshot is replaced by its own newest row (each
 *    actor's row is written in the same transaction as its domain rows, so it is the truth),
 *    cameras that were starting/recording/stalled go back to `starting` (their ffmpeg is gone;
 *    the invoked recorder restarts from scratch with a fresh start number), a camera caught
 *    `stopping` is `stopped`, finished children and trips that are no longer open/saving/
 *    saved-but-open are dropped, service and incident-export children are dropped (BOOT spawns
 *    them again from the current config and the stored incident deadlines), and camera timing
 *    settings come from the current config;
 * 3. starts it with the journal as inspector and sends `BOOT` (config + open/saving trips of the
 *    database, older boots flagged), which spawns/starts/disables cameras, closes older-boot
 *    trips, spawns the services and re-arms stored deadlines (`TIMERS.REARM`, incidents).
 * A snapshot that cannot be restored is logged and replaced by a fresh supervisor.
 *
 * Effects of the supervisor (named actions):
 * - `beginIncident`: G's `beginIncident` (evidence-locks what is already recorded in the window,
 *   `incident.begin` event row) in the supervisor's journal transaction;
 * - `incidentExport` (spawned at the incident's deadline): G's `exportIncident`; while the
 *   camera is still recording but the window's end is not indexed yet it fails with a retryable
 *   error (the supervisor re-arms the deadline); when the camera stopped it exports what exists
 *   (`partial`). Evidence-locked, tagged with the incident id;
 * - `incidentDone` / `incidentGaveUp`: `incident.done` / `incident.failed` event rows;
 * - `publishGpio`: LiveBus `gpio` event (G's actor writes the `gpio.*` event rows itself);
 * - `nothingToSave`: a `trip.save_error` warning row (button pressed, no trip to save);
 * - `serviceError`: log + `service.error` event row;
 * - `runMaintenance` (BOOT and every 24 h): `purgeExpiredSessions`, and temp files older than 6 h
 *   left by interrupted saves/exports (the start-up sweep of every temp file runs in the runtime
 *   before anything else starts).
 */
import type { Database } from "bun:sqlite";
import { join } from "node:path";
import { createActor, fromCallback, fromPromise, type Actor, type AnyActorLogic, type CallbackActorLogic, type PromiseActorLogic } from "xstate";
import type { CameraConfig, Config } from "../config.ts";
import {
  supervisorMachine,
  type BootCamera,
  type BootTrip,
  type GpioConfig,
  type GpioState,
  type IncidentRecord,
  type SupervisorEvent,
} from "../machines/supervisor.ts";
import { cameraMachine, cameraStateName, type CameraInput } from "../machines/camera.ts";
import { tripMachine, LIVE_TRIP_STATES, type TripStatus } from "../machines/trip.ts";
import { log } from "../log.ts";
import { logEvent } from "../db/eventLog.ts";
import { purgeExpiredSessions } from "../db/sessions.ts";
import { beginIncident, exportIncident, ExportFailedError, EXPORTS_DIR, isRecordedUntil } from "../media/export.ts";
import { removeTempFiles } from "../fsx.ts";
import { cameraInputFor, provideCamera } from "./camera.ts";
import { liveStatusOf, provideTrip, type TripDeps } from "./trip.ts";
import { loadSnapshots, logAndAnnounce, type StoredSnapshot } from "./journal.ts";
import { createGpioButton } from "./gpio.ts";
import type { AlprService } from "./alpr.ts";
import { cleanSavedTemps } from "./saveTrip.ts";

export type SupervisorActor = Actor<typeof supervisorMachine>;

/** Everything the supervisor's wiring needs: the trip/camera deps plus the configuration and services. */
export interface SupervisorDeps extends TripDeps {
  /** The whole configuration ([gpio], [alpr], [incident]); absent in unit tests = no services. */
  config?: Config;
  /** Environment the GPIO actor finds `gpiomon` in (default process.env). */
  gpioEnv?: Record<string, string | undefined>;
  /** Promises the runtime must await before closing the database (a service's stop). */
  background?: Set<Promise<unknown>>;
  /** Overrides for tests. */
  gpioButton?: AnyActorLogic;
  alprService?: AnyActorLogic;
  incidentExport?: AnyActorLogic;
  /** Maintenance period (ms, default 24 h). */
  maintenanceEveryMs?: number;
}

/** Temp files older than this are swept by the periodic maintenance (no export or save runs that long). */
export const STALE_TEMP_MS = 6 * 3600 * 1000;

/**
 * One maintenance run: expired sessions deleted, temp files of interrupted saves/exports older
 * than STALE_TEMP_MS deleted. Returns what it did; never throws (errors are logged).
 */
export function runMaintenance(db: Database, dataDir: string, now = Date.now()): { sessions: number; temps: number } {
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
  if (sessions > 0 || temps > 0) {
    try {
      logEvent(db, { kind: "maintenance", at: now, message: `maintenance: ${sessions} expired session(s), ${temps} stale temp file(s) removed`, data: { sessions, temps } });
    } catch {
      /* logged above if the database is gone */
    }
  }
  return { sessions, temps };
}

/** An error the supervisor retries (re-arms the incident's deadline). */
class RetryableError extends Error {
  readonly retryable = true;
}

const RECORDING = new Set(["starting", "recording", "stalled", "backoff"]);

/** What an incident export produced (the `incident.done` event row). */
export interface IncidentExportOutput {
  relPath: string;
  bytes: number;
  durationMs: number;
  partial: boolean;
}

/**
 * The `incidentExport` actor: exports one incident clip (see the module comment). Input: the
 * supervisor's IncidentRecord. Safe to repeat (export names are deterministic; a finished file
 * is reused).
 */
export function createIncidentExport(deps: Pick<SupervisorDeps, "db" | "dataDir">) {
  return fromPromise<IncidentExportOutput, IncidentRecord>(async ({ input, signal, system }) => {
    await new Promise((r) => setTimeout(r, 0));
    const recorded = isRecordedUntil(deps.db, input.cameraId, input.toUtc);
    if (!recorded) {
      const cam = system.get(`camera:${input.cameraKey}`);
      const state = cam ? cameraStateName((cam.getSnapshot() as { value?: unknown }).value) : "stopped";
      // the camera still records: wait for the window's end to be indexed (bounded)
      if (RECORDING.has(state) && Date.now() < input.toUtc + 3 * input.segmentMs + 30_000)
        throw new RetryableError(`footage until ${new Date(input.toUtc).toISOString()} is not recorded yet`);
    }
    try {
      const r = await exportIncident(
        deps.db,
        deps.dataDir,
        { incidentId: input.incidentId, cameraId: input.cameraId, atUtc: input.atUtc, fromUtc: input.fromUtc, toUtc: input.toUtc, readyAtUtc: input.readyAtUtc },
        { partial: !recorded, signal },
      );
      return { relPath: r.relPath, bytes: r.bytes, durationMs: r.durationMs, partial: !recorded };
    } catch (err) {
      if (err instanceof ExportFailedError && !err.cancelled) throw Object.assign(err, { retryable: true });
      throw err;
    }
  });
}

/**
 * The ALPR service module (src/actors/alpr.ts with the vision pipeline, jpeg-js and pngjs), loaded
 * on first use: with `[alpr]` off the runtime never evaluates it (idle memory, issue 5).
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
 * The `alprService` actor: D2's `startAlprService` for the runtime's database and config. Input
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
      incidentExport: (deps.incidentExport ?? createIncidentExport(deps)) as unknown as PromiseActorLogic<unknown, IncidentRecord>,
    },
    actions: {
      beginIncident: ({ self }, params) => {
        const rec = params as IncidentRecord;
        journal.enqueue(self, (d) => {
          beginIncident(d, rec.cameraId, rec.atUtc, {
            settings: { before_seconds: (rec.atUtc - rec.fromUtc) / 1000, after_seconds: (rec.toUtc - rec.atUtc) / 1000 },
            segmentSeconds: rec.segmentMs / 1000,
            incidentId: rec.incidentId,
          });
        });
      },
      incidentDone: ({ self }, params) => {
        const { incident, output } = params as { incident: IncidentRecord; output: unknown };
        const o = output as Partial<IncidentExportOutput> | undefined;
        journal.enqueue(self, (d) => {
          const message = `incident ${incident.incidentId}: clip ${o?.relPath ?? "?"} exported (${((o?.durationMs ?? 0) / 1000).toFixed(1)} s${o?.partial ? ", partial: the camera stopped" : ""}), evidence-locked`;
          return logAndAnnounce(d, deps.bus, { kind: "incident.done", cameraId: incident.cameraId, message, data: { ...incident, ...o } });
        });
      },
      incidentGaveUp: ({ self }, params) => {
        const { incident, error } = params as { incident: IncidentRecord; error: string };
        journal.enqueue(self, (d) => {
          const message = `incident ${incident.incidentId}: clip export failed after ${incident.attempts} attempt(s): ${error}; its footage stays evidence-locked`;
          return logAndAnnounce(d, deps.bus, { kind: "incident.failed", level: "error", cameraId: incident.cameraId, message, data: incident });
        });
      },
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
          runMaintenance(db, deps.dataDir);
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
      if (typeof cs.value !== "string" || !LIVE_TRIP_STATES.has(cs.value)) continue;
    } else {
      // services and incident exports: BOOT spawns them from the config and stored deadlines
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
  config?: Pick<Config, "gpio" | "alpr" | "incident"> | null,
  maintenanceEveryMs?: number,
): SupervisorEvent {
  const boot: BootCamera[] = [];
  for (const c of cameras) {
    const id = cameraIds.get(c.key);
    if (id === undefined) continue;
    boot.push({ ...cameraInputFor(c, id), enabled: c.enabled, segmentSeconds: c.segment_seconds });
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
    status: liveStatusOf(r),
    olderBoot: r.end_time_utc === null && r.boot_id !== bootId,
    lastTimeUtc: r.last_time_utc,
  }));
  const gpio = config?.gpio ? { ...config.gpio } : null;
  return {
    type: "BOOT",
    at,
    cameras: boot,
    trips,
    gpio,
    alpr: config?.alpr?.enabled === true,
    ...(config?.incident ? { incident: { ...config.incident } } : {}),
    ...(maintenanceEveryMs ? { maintenanceEveryMs } : {}),
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
  actor.send(bootEvent(deps.db, cameras, cameraIds, deps.bootId, now, deps.config, deps.maintenanceEveryMs) as never);
  return actor;
}
