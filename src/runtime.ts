/**
 * `dashcam run [--config FILE]`: the recording runtime.
 *
 * Config: `--config FILE`, else `$DASHCAM_CONFIG`, else `defaultConfig()`; a bad config throws
 * ConfigError (one line, exit 2) before anything is written.
 *
 * `startRuntime(config)` (in-process, for tests and benches): checks that `http.listen` can be
 * bound (a port in use, also by another runtime with another data directory, is a one-line
 * ConfigError, exit 2) and that `data_dir` is writable, before writing anything; creates
 * `data_dir` (0750: footage is private), starts the
 * control socket (src/control.ts; refuses to start when another runtime answers on it), opens
 * the database, loads the secret key, syncs the camera rows, reconciles disk and database,
 * removes temp files of interrupted saves and exports, starts the web server (with
 * `deps.actions`, see `RuntimeActions`), then restores (or creates) the supervisor actor tree
 * with the real implementations (cameras, trips with the real `saveTrip`, the GPIO button when
 * `[gpio]` is configured, the ALPR service when `[alpr] enabled`, incident exports, timelapse
 * captures and batch renders, camera health checks, daily maintenance). Each recorder feeds its
 * camera's live hub (`liveHubs`: live view) and the one current-frame service (`frames`,
 * src/media/currentFrameService.ts) decodes from those hubs on request; a timelapse-only camera
 * (`record = false`, no recorder) has its frame grabbed from its source per request instead. The
 * frame source is handed to the web server, the health monitors and the timelapse capturer.
 * Its `stop()` is the orderly power-down, bounded by ~5 s:
 * 1. `SHUTDOWN`: every camera is sent STOP; each recorder asks ffmpeg to finalise its current
 *    segment, which is indexed, and the camera reaches `stopped` (or is killed after 3.5 s);
 * 2. segment files a recorder left without a row are settled (salvaged or deleted, bounded);
 *    `TRIPS.CLOSE` (reason `shutdown`): open trips are closed at their last segment; a trip that
 *    was saved while open is checked again with every segment (`saving`), which power-down waits for until
 *    ~4.8 s have passed: a save not finished by then resumes at the next start (its status
 *    stays `saving`);
 * 3. the actor system stops (services too; the ALPR service's stop is awaited), the web server
 *    and the control socket stop, the database closes.
 * `run()` prints `listening on http://HOST:PORT` on stdout once the server is up, waits for
 * SIGTERM or SIGINT, powers down and returns 0 (1 when the actor tree failed).
 */
import { accessSync, constants as fsConstants, existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Database } from "bun:sqlite";
import type { AnyActorRef } from "xstate";
import { parseCommandArgs } from "./cli.ts";
import { ConfigError, defaultConfig, loadConfig, parseListen, type CameraConfig, type Config } from "./config.ts";
import { openDatabase } from "./db/open.ts";
import { dbPath } from "./paths.ts";
import { loadSecretKey, type SecretKey } from "./secrets.ts";
import { cameraIdByKey, cameraKeyById, syncCameras } from "./db/cameras.ts";
import { discoverInventory, onvifTargetsOf, startInventoryDiscovery, syncConfigInventory } from "./actors/inventory.ts";
import { markDisabledCameras } from "./db/cameraStatus.ts";
import { currentBootId } from "./bootId.ts";
import { reconcileAtStartup, reconcileFullScan, salvageInterrupted } from "./actors/reconcile.ts";
import { ensureTripActor } from "./actors/camera.ts";
import { LiveBus } from "./events.ts";
import { Journal } from "./actors/journal.ts";
import { preloadAlprService, startSupervisor, type SupervisorActor, type SupervisorDeps } from "./actors/supervisor.ts";
import { cameraStateName } from "./machines/camera.ts";
import { incidentIdFor, type GpioState, type SaveSource } from "./machines/supervisor.ts";
import { tripById, tripSegments } from "./db/views.ts";
import { openTripForRecording } from "./db/trips.ts";
import { currentTripIds, savedTripOf } from "./db/savedTrips.ts";
import { cleanExportTemps } from "./media/export.ts";
import { cleanSavedTemps } from "./actors/saveTrip.ts";
import { controlJson, liveControlSocket, RuntimeBusyError, startControlServer, type ControlServer } from "./control.ts";
import { migrateSavedTrips } from "./actors/savedMigration.ts";
import type { WebActions } from "./web/env.ts";
import { LoginRateLimiter } from "./web/auth/rateLimit.ts";
import { batchById, syncTimelapseSettings } from "./db/timelapse.ts";
import { logEvent } from "./db/eventLog.ts";
import { checkpointContinuous, cleanTimelapseTemps, createManualBatch, makeTripTimelapse, planTripTimelapse, TimelapseRequestError, type ManualBatchRequest } from "./media/timelapse.ts";
import { deleteTimelapseBatch } from "./media/timelapseCleanup.ts";
import { createShare, ShareRequestError } from "./media/shares.ts";
import { SHARE_TYPES, type ShareType } from "./db/shares.ts";
import { RenderProgress } from "./renderProgress.ts";
import { log } from "./log.ts";
import { SourceGrabFrameSource } from "./media/sourceFrameGrab.ts";
import { LiveHubs } from "./media/liveHub.ts";
import { LiveFrameService } from "./media/currentFrameService.ts";
import type { CurrentFrameSource } from "./media/currentFrame.ts";
import { optimizeCameraByKey, type OptimizeOptions } from "./optimize/request.ts";
import { ApplyRequestError, createApply, unfinishedApplyOf, type ApplyRequest } from "./optimize/apply.ts";
import { failOrphanApplies } from "./db/optimize.ts";

/** Budget for the cameras' graceful stop during power-down, ms (the whole stop has 5 s). */
export const SHUTDOWN_CAMERA_WAIT_MS = 4_000;

/**
 * Delay before the whole-ring comparison (rows without files, leftover files below the next
 * index), ms. Start-up itself only settles what a power cut can leave (read-locks, garbage
 * rows, the tail of each ring, counters), so a 100k-segment ring starts serving at once.
 */
export const FULL_SCAN_DELAY_MS = 5_000;

/**
 * The product actions of the runtime, given to the web server as `WebDeps.actions` and used by
 * the control socket (CLI). Errors are `Error`s whose message is one line for the user;
 * `TripNotFoundError` for an unknown trip id.
 */
export interface RuntimeActions {
  /**
   * Asks trip `tripId`'s actor to save it (`TRIP.SAVE` to the supervisor; an actor is spawned for
   * a trip that has none). Resolves once the actor is `saving` (or already saved). Safe to repeat.
   * Rejects: unknown trip (TripNotFoundError), evicted / no footage left, or the actor refused.
   */
  saveTrip(tripId: number, source: SaveSource): Promise<void>;
  /**
   * Starts an incident clip on camera `cameraKey` at `atUtc` (ms UTC): the window
   * [at - before_seconds, at + after_seconds] is evidence-locked now and exported once recorded.
   * Resolves with the incident id (`inc-YYYYMMDD-HHMMSS-mmm-<camera>`; the same moment twice is
   * the same incident). Rejects for a camera that is not configured.
   */
  incident(cameraKey: string, atUtc: number): Promise<{ incidentId: string }>;
  /** Saves the current trips (`currentTripIds`: each camera's open trip, else the newest); resolves with their ids. */
  saveCurrent(source: SaveSource): Promise<number[]>;
  /** Stops a camera (its open trip closes, reason `camera_stopped`). Rejects for an unknown camera. */
  stopCamera(cameraKey: string): Promise<void>;
  /** Starts a stopped camera again. Rejects for an unknown camera. */
  startCamera(cameraKey: string): Promise<void>;
  /** Asks the camera's health monitor to check now. Rejects when the camera has no monitor. */
  checkHealth(cameraKey: string): Promise<void>;
  /** The GPIO button's last status (null when `[gpio]` is not configured or nothing reported yet). */
  gpioStatus(): GpioState | null;
  /**
   * Creates a manual timelapse batch (camera + time or day range, frame rate, overlay) and starts
   * its actor. Resolves with the batch id and its frame count. Rejects with
   * TimelapseRequestError (unknown camera, bad range, no images in it).
   */
  createTimelapse(req: ManualBatchRequest): Promise<{ batchId: number; frames: number }>;
  /** Keeps a copy of the camera's continuous video now (a `checkpoint` batch). Rejects with TimelapseRequestError when there is none yet. */
  checkpointTimelapse(cameraKey: string): Promise<{ batchId: number }>;
  /** Cancels a render under way and deletes the batch, its junction rows and its video. Rejects with TimelapseRequestError for an unknown batch. */
  deleteTimelapse(batchId: number): Promise<void>;
  /**
   * "Make a timelapse" of a trip: a frame every `everySeconds` of its footage in the ring becomes
   * a manual batch (src/media/timelapse.ts `planTripTimelapse` + `makeTripTimelapse`), whose
   * render then starts. Resolves once the request is checked, with the number of frames it will
   * take; the frames are taken in the background (a failure is a `timelapse.failed` event row).
   * Rejects with TimelapseRequestError (unknown trip, no footage left, too many frames ...).
   */
  tripTimelapse(tripId: number, everySeconds: number, frameRate?: number): Promise<{ frames: number }>;
  /**
   * Runs the heuristic optimizer for camera `cameraKey` (src/optimize/request.ts) and stores the
   * `optimizations` row. Resolves with its id. Rejects with ApplyRequestError for an unknown camera.
   */
  optimizeCamera(cameraKey: string, opts?: OptimizeOptions): Promise<{ optimizationId: number }>;
  /**
   * Starts a settings change (src/optimize/apply.ts `createApply`: the `pending` row) and its
   * `applyConfig` actor. Resolves with the apply id; the row shows the outcome. Rejects with
   * ApplyRequestError.
   */
  applySettings(req: ApplyRequest): Promise<{ applyId: number }>;
  /** The user made a manual change (CONFIRM to its actor), or gives up on it (`cancel`). Rejects with ApplyRequestError. */
  confirmApply(applyId: number, by: string, cancel?: boolean): Promise<void>;
  /** Space was freed: every camera (a camera stopped for a full disk re-checks its ring now; others ignore it). */
  recheckDisk(): void;
  /**
   * Deletes saved trip `tripId` (`TRIP.UNSAVE`: UNSAVE to its actor when it still records, else
   * a trip actor spawned to do it, so the journal records the change): its footage is no longer
   * kept (its `trip-<id>` evidence locks and `saved_trips` row go; legacy kept copies are deleted),
   * and it is `open` again (goes on unsaved) or `closed`. Resolves once that is committed.
   * Rejects with TripNotFoundError, or a user-readable Error when the trip is not saved.
   */
  unsaveTrip(tripId: number, by: string): Promise<void>;
  /**
   * Discovers camera `cameraKey`'s inventory now (ONVIF, else a probe of its newest segment; see
   * src/actors/inventory.ts) and stores it. Resolves when stored; rejects with a one-line Error
   * (the device's fault string, a wrong login, nothing recorded yet, unknown camera).
   */
  discoverInventory(cameraKey: string): Promise<void>;
}

/** An unknown trip id. */
export class TripNotFoundError extends Error {}

export interface RuntimeHandle {
  /** Base URL of the web server, e.g. `http://127.0.0.1:41234`. */
  url: string;
  db: Database;
  bus: LiveBus;
  supervisor: SupervisorActor;
  bootId: string;
  /** The actions the web server and the control socket use. */
  actions: RuntimeActions;
  /** Path of the control socket (src/control.ts). */
  controlSocket: string;
  /** Each camera's live hub, fed by its recorder (live view). */
  liveHubs: LiveHubs;
  /** The current-frame service of every camera (one per runtime; snapshots, timelapse, health). */
  frames: CurrentFrameSource;
  /** Orderly power-down (idempotent). */
  stop(): Promise<void>;
  /** Resolves with an error message when the actor tree fails (never resolves otherwise). */
  failed: Promise<string>;
}

export interface RuntimeOptions {
  /** Test overrides of the real implementations. */
  deps?: Partial<
    Pick<
      SupervisorDeps,
      | "saveTrip"
      | "recorder"
      | "commitSegment"
      | "enforceRing"
      | "gpioEnv"
      | "gpioButton"
      | "alprService"
      | "incidentExport"
      | "maintenanceEveryMs"
      | "frameSource"
      | "timelapseRender"
      | "timelapseCapture"
      | "timelapsePreset"
      | "onRenderSpawn"
      | "healthCheck"
      | "onvifApply"
      | "onvifTargetOf"
      | "applyPush"
      | "applyMeasure"
    >
  >;
}

const ONLINE = new Set(["starting", "recording", "stalled", "stopping"]);

/**
 * Budget for settling interrupted segments during power-down, ms (within the 5 s, after the
 * cameras stopped). After a graceful stop there is normally nothing to settle; a leftover of an
 * earlier failure needs ~1.5 s (salvage waits for the file to be quiet, then probes it).
 */
export const SHUTDOWN_SETTLE_MS = 2_000;

/**
 * Salvages (or deletes) segment files the stopped recorders left without a row, so they join
 * the trip before it closes. Bounded by `budgetMs`; whatever is left is settled at next start.
 */
async function settleAll(deps: SupervisorDeps, cameras: CameraConfig[], cameraIds: Map<string, number>, budgetMs: number): Promise<void> {
  const work = Promise.all(
    cameras.map(async (c) => {
      const id = cameraIds.get(c.key);
      if (id === undefined || !c.enabled) return;
      try {
        await (deps.salvage ?? salvageInterrupted)(deps.db, deps.dataDir, c, id, deps.bootId);
      } catch (err) {
        log.warn(`power-down: camera ${c.key}: settling interrupted segments failed: ${(err as Error).message}`);
      }
    }),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([work, new Promise((res) => (timer = setTimeout(res, budgetMs)))]);
  clearTimeout(timer);
}

/**
 * Polls the actor system every 25 ms until no actor whose id starts with `prefix` is `busy`, or
 * until `deadline` (absolute ms). Returns the ids still busy (empty when all settled).
 */
async function waitForActors(sup: SupervisorActor, prefix: string, busy: (value: unknown) => boolean, deadline: number): Promise<string[]> {
  for (;;) {
    const ids = Object.entries(sup.system.getAll())
      .filter(([id, ref]) => id.startsWith(prefix) && busy((ref.getSnapshot() as { value?: unknown }).value))
      .map(([id]) => id);
    if (ids.length === 0 || Date.now() >= deadline) return ids;
    await Bun.sleep(25);
  }
}

/** Resolves when no camera actor is in a running state, or after `timeoutMs`. Returns the laggards. */
const waitForCamerasStopped = (sup: SupervisorActor, timeoutMs: number) =>
  waitForActors(sup, "camera:", (value) => ONLINE.has(cameraStateName(value)), Date.now() + timeoutMs);

/** Budget of the whole power-down (ms); saves checked again at close are waited for until then. */
export const SHUTDOWN_BUDGET_MS = 4_800;

const tripStateOf = (sup: SupervisorActor, tripId: number): { state: string | null; lastError: string | null } => {
  const ref = sup.system.get(`trip:${tripId}`) as AnyActorRef | undefined;
  if (!ref) return { state: null, lastError: null };
  const snap = ref.getSnapshot() as { value?: unknown; context?: { lastError?: string | null } };
  return { state: typeof snap.value === "string" ? snap.value : JSON.stringify(snap.value), lastError: snap.context?.lastError ?? null };
};

/** Resolves when no trip actor is `saving`, or at `deadline` (absolute ms). Returns the trips still saving. */
const waitForSaves = (sup: SupervisorActor, deadline: number) => waitForActors(sup, "trip:", (value) => value === "saving", deadline);

/** Work an action leaves running after it answers; `signal` aborts at power-down, which awaits it. */
interface BackgroundTasks {
  run(work: (signal: AbortSignal) => Promise<unknown>): void;
}

/** The runtime's actions over its supervisor (see RuntimeActions). `sup()` throws while starting. */
function makeActions(db: Database, config: Config, sup: () => SupervisorActor, tasks: BackgroundTasks, secret: SecretKey | null = null): RuntimeActions {
  const cameraKeys = new Set(config.cameras.map((c) => c.key));
  const cameraRef = (cameraKey: string): AnyActorRef => {
    const ref = sup().system.get(`camera:${cameraKey}`) as AnyActorRef | undefined;
    if (!ref) throw new Error(`no camera "${cameraKey}" is running`);
    return ref;
  };
  const actions: RuntimeActions = {
    async saveTrip(tripId, source) {
      const s = sup();
      const trip = tripById(db, tripId);
      if (!trip) throw new TripNotFoundError(`no trip ${tripId}`);
      if (trip.status === "evicted" || trip.fully_evicted) throw new Error(`trip ${tripId} is evicted: the ring no longer holds its footage`);
      if (trip.status === "saved" && trip.end_time_utc !== null) return;
      // an open trip may have no closed segment yet (just after boot): it is locked as it grows
      if (trip.status !== "saving" && trip.status !== "saved" && trip.end_time_utc !== null && tripSegments(db, trip).length === 0)
        throw new Error(`trip ${tripId} has no footage left in the ring; there is nothing to save`);
      s.send({ type: "TRIP.SAVE", tripId, cameraKey: cameraKeyById(db, trip.camera_id) ?? undefined, at: Date.now(), source });
      const { state, lastError } = tripStateOf(s, tripId);
      if (state === "saving" || state === "savedOpen" || state === "saved") return;
      if (state === null && tripById(db, tripId)?.status === "saved") return;
      throw new Error(lastError ?? `trip ${tripId} could not be saved (its actor is ${state ?? "not running"})`);
    },
    async incident(cameraKey, atUtc) {
      const s = sup();
      if (!cameraKeys.has(cameraKey)) throw new Error(`no camera "${cameraKey}" is configured`);
      if (!Number.isSafeInteger(atUtc) || atUtc < 0) throw new Error(`bad time ${atUtc}`);
      s.send({ type: "INCIDENT", at: atUtc, source: "ui", cameraKey });
      return { incidentId: incidentIdFor(atUtc, cameraKey) };
    },
    async saveCurrent(source) {
      const ids = currentTripIds(db);
      if (ids.length === 0) throw new TripNotFoundError("there is no trip to save");
      for (const id of ids) await actions.saveTrip(id, source);
      return ids;
    },
    async stopCamera(cameraKey) {
      cameraRef(cameraKey).send({ type: "STOP" });
    },
    async startCamera(cameraKey) {
      cameraRef(cameraKey).send({ type: "START" });
    },
    async checkHealth(cameraKey) {
      const ref = sup().system.get(`health:${cameraKey}`) as AnyActorRef | undefined;
      if (!ref) throw new Error(`camera "${cameraKey}" has no health monitor (unknown, disabled, or [health] is off)`);
      ref.send({ type: "CHECK.NOW" });
    },
    gpioStatus() {
      try {
        return sup().getSnapshot().context.gpio ?? null;
      } catch {
        return null;
      }
    },
    async createTimelapse(req) {
      const s = sup();
      const { batchId, cameraId, frames } = createManualBatch(db, req);
      s.send({ type: "TIMELAPSE.START", batch: { batchId, cameraKey: req.cameraKey, cameraId, batchType: "manual" } });
      return { batchId, frames };
    },
    async checkpointTimelapse(cameraKey) {
      return checkpointContinuous(db, resolve(config.data_dir), cameraKey);
    },
    async tripTimelapse(tripId, everySeconds, frameRate) {
      const s = sup();
      const plan = planTripTimelapse(db, { tripId, everySeconds, frameRate });
      tasks.run(async (signal) => {
        try {
          const r = await makeTripTimelapse(db, resolve(config.data_dir), plan, signal);
          s.send({ type: "TIMELAPSE.START", batch: { batchId: r.batchId, cameraKey: r.cameraKey, cameraId: r.cameraId, batchType: "manual" } });
        } catch (err) {
          if (signal.aborted) return;
          const message = `trip ${tripId}: taking timelapse frames failed: ${String((err as Error)?.message ?? err).split("\n")[0]}`;
          log.warn(message);
          logEvent(db, { kind: "timelapse.failed", level: "error", cameraId: plan.cameraId, message, data: { tripId } });
        }
      });
      return { frames: plan.total };
    },
    async deleteTimelapse(batchId) {
      const s = sup();
      if (!batchById(db, batchId)) throw new TimelapseRequestError(`no timelapse batch ${batchId}`);
      // a render under way is cancelled first (ffmpeg is killed; the actor ends in `cancelled`)
      s.send({ type: "TIMELAPSE.CANCEL", batchId });
      deleteTimelapseBatch(db, resolve(config.data_dir), batchId);
    },
    async optimizeCamera(cameraKey, opts = {}) {
      const r = await optimizeCameraByKey(db, resolve(config.data_dir), config.cameras, cameraKey, opts);
      return { optimizationId: r.id };
    },
    async applySettings(req) {
      const s = sup();
      const apply = createApply(db, new Map(config.cameras.map((c) => [c.key, c])), req);
      s.send({ type: "APPLY.START", apply });
      return { applyId: apply.applyId };
    },
    async confirmApply(applyId, by, cancel = false) {
      const s = sup();
      const a = unfinishedApplyOf(db, applyId);
      if (!cancel && a.method !== "manual") throw new ApplyRequestError(`settings change ${applyId} is applied by ${a.method}, not by hand: nothing to confirm`);
      s.send({ type: cancel ? "APPLY.CANCEL" : "APPLY.CONFIRM", applyId, by });
    },
    recheckDisk() {
      for (const c of config.cameras) (sup().system.get(`camera:${c.key}`) as AnyActorRef | undefined)?.send({ type: "DISK.RECHECK" });
    },
    async unsaveTrip(tripId, by) {
      const row = tripById(db, tripId);
      if (!row) throw new TripNotFoundError(`no trip ${tripId}`);
      if (row.status !== "saved") throw new Error(`trip ${tripId} is not saved (it is ${row.status})`);
      // through the trip's actor (spawned for a closed trip), so its journal records the change
      sup().send({ type: "TRIP.UNSAVE", tripId, cameraKey: row.camera_key, at: Date.now(), by });
      // the journal commits the transition right after; answer once the row says so
      for (let i = 0; i < 150 && tripById(db, tripId)?.status === "saved"; i++) await Bun.sleep(20);
      if (tripById(db, tripId)?.status === "saved") throw new Error(`trip ${tripId} is still saved; try again`);
    },
    async discoverInventory(cameraKey) {
      const camera = config.cameras.find((c) => c.key === cameraKey);
      const cameraId = cameraIdByKey(db, cameraKey);
      if (!camera || cameraId === null) throw new Error(`no camera "${cameraKey}" is configured`);
      await discoverInventory({ db, dataDir: resolve(config.data_dir), secret }, camera, cameraId);
    },
  };
  return actions;
}

/** The control socket's request handler (routes: src/control.ts). */
interface ControlState {
  db: Database | null;
  actions: RuntimeActions | null;
  sup: (() => SupervisorActor) | null;
  /** The web server's login rate limiter (`POST /users/unlock` clears a lockout). */
  limiter: LoginRateLimiter;
  url: string;
  startedAt: number;
  stopping: boolean;
  /** Render progress of timelapse batches. */
  progress?: RenderProgress;
  /** Absolute data directory (share items resolve inside it). */
  dataDir: string;
}

function controlHandler(state: ControlState) {
  return async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    try {
      if (req.method === "GET" && url.pathname === "/status") return controlJson(200, { pid: process.pid, url: state.url, startedAt: state.startedAt });
      if (req.method === "POST" && url.pathname === "/users/unlock") {
        const body = (await req.json().catch(() => null)) as { username?: unknown } | null;
        if (typeof body?.username !== "string" || body.username === "") return controlJson(400, { error: "username must be a string" });
        return controlJson(200, { wasLocked: state.limiter.unlockUser(body.username) });
      }
      if (state.stopping) return controlJson(503, { error: "the runtime is powering down" });
      const { db, actions, sup, dataDir } = state;
      if (!db || !actions || !sup) return controlJson(503, { error: "the runtime is starting; try again in a moment" });
      if (req.method === "POST" && url.pathname === "/trips/save") {
        let body: { tripId?: unknown; current?: unknown };
        try {
          body = (await req.json()) as typeof body;
        } catch {
          return controlJson(400, { error: "body must be JSON" });
        }
        if (body?.current === true) {
          const ids = await actions.saveCurrent("cli");
          return controlJson(202, { trips: ids });
        }
        const id = body?.tripId;
        if (typeof id !== "number" || !Number.isSafeInteger(id) || id <= 0) return controlJson(400, { error: "tripId must be a positive integer" });
        await actions.saveTrip(id, "cli");
        return controlJson(202, { trips: [id] });
      }
      if (req.method === "POST" && url.pathname === "/timelapses") {
        let body: { camera?: unknown; fromUtc?: unknown; toUtc?: unknown; fromDay?: unknown; toDay?: unknown; frameRate?: unknown; overlay?: unknown };
        try {
          body = (await req.json()) as typeof body;
        } catch {
          return controlJson(400, { error: "body must be JSON" });
        }
        const byTime = typeof body?.fromUtc === "number" && typeof body.toUtc === "number";
        const byDay = typeof body?.fromDay === "number" && typeof body.toDay === "number";
        if (typeof body?.camera !== "string" || byTime === byDay)
          return controlJson(400, { error: "camera (string) and either fromUtc/toUtc (Unix ms) or fromDay/toDay (day numbers) are required" });
        try {
          const r = await actions.createTimelapse({
            cameraKey: body.camera,
            range: byTime ? { fromUtc: body.fromUtc as number, toUtc: body.toUtc as number } : { fromDay: body.fromDay as number, toDay: body.toDay as number },
            frameRate: typeof body.frameRate === "number" ? body.frameRate : undefined,
            overlay: body.overlay === true,
          });
          return controlJson(202, r);
        } catch (err) {
          if (err instanceof TimelapseRequestError) return controlJson(400, { error: err.message });
          throw err;
        }
      }
      if (req.method === "POST" && url.pathname === "/optimize") {
        const body = (await req.json().catch(() => null)) as { camera?: unknown; keepDays?: unknown } | null;
        if (typeof body?.camera !== "string") return controlJson(400, { error: "camera (string) is required" });
        const keepDays = body.keepDays === undefined ? undefined : body.keepDays;
        if (keepDays !== undefined && !(Number.isInteger(keepDays) && (keepDays as number) >= 1 && (keepDays as number) <= 3650))
          return controlJson(400, { error: "keepDays must be a whole number of days 1..3650" });
        try {
          const r = await actions.optimizeCamera(body.camera, { keepDays: keepDays as number | undefined });
          return controlJson(200, r);
        } catch (err) {
          if (err instanceof ApplyRequestError) return controlJson(400, { error: err.message });
          throw err;
        }
      }
      if (req.method === "POST" && url.pathname === "/shares") {
        let body: { batches?: unknown; type?: unknown; expiresInMs?: unknown; download?: unknown; embed?: unknown; title?: unknown; description?: unknown };
        try {
          body = (await req.json()) as typeof body;
        } catch {
          return controlJson(400, { error: "body must be JSON" });
        }
        const batches = body?.batches;
        if (!Array.isArray(batches) || batches.length === 0 || !batches.every((b) => Number.isSafeInteger(b) && (b as number) > 0))
          return controlJson(400, { error: "batches must be a non-empty array of batch ids" });
        if (typeof body.type !== "string" || !SHARE_TYPES.includes(body.type as ShareType)) return controlJson(400, { error: "type must be video_only, info_page or gallery" });
        const lifetime = body.expiresInMs;
        if (lifetime !== null && !(Number.isSafeInteger(lifetime) && (lifetime as number) > 0)) return controlJson(400, { error: "expiresInMs must be a positive number of ms or null" });
        const text = (x: unknown) => (typeof x === "string" ? x : null);
        try {
          const now = Date.now();
          const made = createShare(db, dataDir, {
            type: body.type as ShareType,
            title: text(body.title),
            description: text(body.description),
            items: (batches as number[]).map((batchId) => ({ ref: { kind: "batch" as const, batchId } })),
            expiresAt: lifetime === null ? null : now + (lifetime as number),
            downloadEnabled: body.download === true,
            embedEnabled: body.embed === true,
            by: "cli via the runtime",
          }, now);
          return controlJson(201, made);
        } catch (err) {
          if (err instanceof ShareRequestError) return controlJson(err.status, { error: err.message });
          throw err;
        }
      }
      const tl = /^\/timelapses\/(\d{1,15})$/.exec(url.pathname);
      if (req.method === "GET" && tl) {
        const b = batchById(db, Number(tl[1]));
        if (!b) return controlJson(404, { error: `no timelapse batch ${tl[1]}` });
        const p = state.progress?.get(b.id);
        return controlJson(200, { ...b, framesDone: b.status === "completed" ? b.total_frames : (p?.framesDone ?? 0) });
      }
      const m = /^\/trips\/(\d{1,15})$/.exec(url.pathname);
      if (req.method === "GET" && m) {
        const id = Number(m[1]);
        const trip = tripById(db, id);
        if (!trip) return controlJson(404, { error: `no trip ${id}` });
        const s = tripStateOf(sup(), id);
        return controlJson(200, {
          id,
          status: trip.status,
          endTimeUtc: trip.end_time_utc,
          state: s.state,
          lastError: s.lastError,
          mp4Path: savedTripOf(db, id)?.mp4_path ?? null,
          savedDir: savedTripOf(db, id)?.saved_dir ?? null,
        });
      }
      return controlJson(404, { error: `no route ${req.method} ${url.pathname}` });
    } catch (err) {
      const status = err instanceof TripNotFoundError ? 404 : 409;
      return controlJson(status, { error: String((err as Error)?.message ?? err).split("\n")[0] });
    }
  };
}

/** Errors of the listening socket that are the config's fault (the address), not the program's. */
const LISTEN_ERRORS = new Set(["EADDRINUSE", "EACCES", "EADDRNOTAVAIL"]);

/** The one line for a listen error, e.g. `http.listen: 127.0.0.1:8080 is already in use (EADDRINUSE)`. */
function listenErrorLine(listen: string, code: string): string {
  const why: Record<string, string> = {
    EADDRINUSE: "is already in use",
    EACCES: "needs more privileges (ports below 1024)",
    EADDRNOTAVAIL: "is not an address of this machine",
  };
  return `http.listen: ${why[code] ? `${listen} ${why[code]}` : `cannot listen on ${listen} (is the host name known?)`} (${code})`;
}

/**
 * Binds `http.listen` once and releases it, so a port in use is reported before anything is
 * written. `reusePort: false`: with SO_REUSEPORT a second runtime (another data directory) would
 * share the port with the first and take half of its connections. With port 0 (any free port)
 * only the host is checked. Throws ConfigError with one line.
 */
function probeListen(listen: string): void {
  const { hostname, port } = parseListen(listen);
  try {
    const probe = Bun.serve({ hostname, port, reusePort: false, fetch: () => new Response(null, { status: 503 }) });
    probe.stop(true);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // every bind failure here is the address's fault (in use, not ours, a name that does not resolve)
    if (typeof code === "string" && code !== "") throw new ConfigError(listenErrorLine(listen, code));
    throw err;
  }
}

/**
 * Throws ConfigError (one line naming the path) when this user cannot create files in
 * `dataDir`, or create it (its nearest existing ancestor is checked): checked before anything
 * is written, instead of SQLite's bare SQLITE_CANTOPEN later.
 */
function checkDataDirWritable(dataDir: string): void {
  let dir = dataDir;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    accessSync(dir, fsConstants.W_OK | fsConstants.X_OK);
  } catch (err) {
    throw new ConfigError(`data_dir: cannot write ${dir === dataDir ? dataDir : `${dataDir} (in ${dir})`} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Starts the runtime in this process (see the module comment). Throws on start-up failure. */
export async function startRuntime(config: Config, opts: RuntimeOptions = {}): Promise<RuntimeHandle> {
  const startedAt = Date.now();
  const dataDir = resolve(config.data_dir);
  // a runtime already serving this data directory is named as such, not as a port in use
  const live = await liveControlSocket(dataDir);
  if (live) throw new RuntimeBusyError(live);
  probeListen(config.http.listen);
  checkDataDirWritable(dataDir);
  try {
    // the data directory holds footage and the camera key: owner and group only
    mkdirSync(dataDir, { recursive: true, mode: 0o750 });
  } catch (err) {
    throw new ConfigError(`data_dir: cannot create ${dataDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  // the control socket first: a second runtime on the same data directory stops here, before
  // it touches the database or the ring
  const limiter = new LoginRateLimiter();
  const controlState: ControlState = { db: null, actions: null, sup: null, limiter, url: "", startedAt, stopping: false, dataDir };
  const control: ControlServer = await startControlServer(dataDir, controlHandler(controlState));
  let db: Database;
  try {
    db = openDatabase(dbPath(dataDir));
  } catch (err) {
    control.stop();
    // a database file this user may not open (another owner, read-only): one line naming it
    const code = String((err as { code?: unknown }).code ?? "");
    if (/^SQLITE_(CANTOPEN|READONLY|PERM|AUTH)/.test(code)) throw new ConfigError(`data_dir: cannot open ${dbPath(dataDir)} (${code})`);
    throw err;
  }
  let supervisor: SupervisorActor | null = null;
  let web: { url: string; stop(): Promise<void> } | null = null;
  let journal: Journal | null = null;
  try {
    const secret = loadSecretKey(dataDir);
    const cameraIds = syncCameras(db, config.cameras, secret);
    syncConfigInventory(db, secret, config.cameras, cameraIds);
    syncTimelapseSettings(db, config.cameras, cameraIds);
    markDisabledCameras(db, Date.now());
    // settings changes of cameras no longer configured can never finish: they end here
    failOrphanApplies(db, [...cameraIds.values()], "the camera is no longer configured");
    const bootId = currentBootId();
    // trips saved before upgrade 3 are stored once from now on (copies of ring files deleted)
    const migrated = await migrateSavedTrips(db, dataDir);
    if (migrated.length > 0) log.info(`saved trips: ${migrated.length} moved to the stored-once layout`);
    // the crash-relevant repairs now; the whole-ring comparison (100k names ~0.6 s) once running
    const report = await reconcileAtStartup(db, dataDir, config.cameras, cameraIds, bootId, { fullScan: false });
    if (report.repairs.length > 0) log.info(`reconcile: ${report.repairs.length} repair(s) at start-up`);
    // this boot's trips are open from the first second (before a save can be asked for), not
    // from the first closed segment: a save right after boot keeps this drive
    for (const c of config.cameras) {
      const id = cameraIds.get(c.key);
      // (a timelapse-only camera, `record = false`, records no trips)
      if (c.enabled && c.record !== false && id !== undefined) openTripForRecording(db, id, bootId, Date.now());
    }

    // nothing saves or exports yet: every temp file is a leftover of an interruption
    const temps = cleanSavedTemps(dataDir) + cleanExportTemps(dataDir) + cleanTimelapseTemps(dataDir);
    if (temps > 0) log.info(`removed ${temps} temp file(s) left by an interrupted save or export`);

    const bus = new LiveBus();
    const getSup = () => {
      if (!supervisor) throw new Error("the runtime is starting; try again in a moment");
      return supervisor;
    };
    // work actions leave running (a trip timelapse's frames): aborted and awaited at power-down
    const background = new Set<Promise<unknown>>();
    const backgroundAbort = new AbortController();
    const tasks: BackgroundTasks = {
      run(work) {
        const p = work(backgroundAbort.signal).catch((err) => log.warn(`background task failed: ${(err as Error)?.message ?? err}`));
        background.add(p);
        void p.finally(() => background.delete(p));
      },
    };
    const actions = makeActions(db, config, getSup, tasks, secret);
    // the web server first: a busy port fails before any camera starts. Loaded here, not at
    // module load, so `run` reports a bad config before loading the web app.
    const { startWebServer } = await import("./web/server.ts");
    const webActions: WebActions = actions;
    const renderProgress = new RenderProgress();
    controlState.progress = renderProgress;
    const cameras = new Map<string, CameraConfig>(config.cameras.map((c) => [c.key, c]));
    // live view and current frames: each recorder feeds its camera's hub; the frame service
    // decodes from the hubs only when asked. A timelapse-only camera has no recorder, so its
    // frame is grabbed from its source with ffmpeg per request.
    const liveHubs = new LiveHubs();
    const liveFrames = new LiveFrameService(liveHubs, (key) => {
      const c = cameras.get(key);
      return !c ? "unknown" : c.enabled ? "enabled" : "disabled";
    });
    const grabbedFrames = new SourceGrabFrameSource(cameras);
    const frames: CurrentFrameSource = opts.deps?.frameSource ?? {
      current: (key, request) => (cameras.get(key)?.record === false ? grabbedFrames.current(key, request) : liveFrames.current(key, request)),
    };
    web = startWebServer({ db, config, dataDir, bus, startedAt, actions: webActions, limiter, renderProgress, live: liveHubs, frames });
    const server = web;
    journal = new Journal(db);
    const deps: SupervisorDeps = { db, dataDir, bootId, journal, bus, cameras, config, background, renderProgress, liveHubs, ...opts.deps, frameSource: frames };
    let stopInventoryDiscovery = () => {};
    const fullScanTimer = setTimeout(() => {
      if (controlState.stopping) return;
      const scan = reconcileFullScan(db, dataDir, config.cameras, cameraIds)
        .then((r) => r.repairs.length > 0 && log.info(`reconcile: ${r.repairs.length} repair(s) in the full ring scan`))
        .catch((err) => log.error(`reconcile: full ring scan failed: ${(err as Error).message}`));
      background.add(scan);
      void scan.finally(() => background.delete(scan));
      // inventory discovery (ONVIF, else a probe of the recording) once start-up is done
      stopInventoryDiscovery = startInventoryDiscovery({ db, dataDir, secret, bus }, config.cameras, cameraIds, tasks.run);
    }, FULL_SCAN_DELAY_MS);
    // The ALPR service module (vision pipeline, image codecs) is evaluated only when [alpr] is on:
    // with it off the runtime's idle memory stays smaller. A failed load is reported by
    // the alprService actor itself (ALPR.ERROR).
    if (config.alpr?.enabled && !opts.deps?.alprService) await preloadAlprService().catch(() => {});
    // ONVIF settings changes reach a camera through its ONVIF login (config file, else the UI's)
    deps.onvifTargetOf ??= onvifTargetsOf(db, secret, config.cameras, cameraIds);
    supervisor = startSupervisor(deps, config.cameras, cameraIds);
    controlState.db = db;
    controlState.actions = actions;
    controlState.sup = getSup;
    controlState.url = server.url;

    let reportFailure: (message: string) => void = () => {};
    const failed = new Promise<string>((res) => (reportFailure = res));
    const sup = supervisor;
    sup.subscribe({
      error: (err) => {
        log.error(`supervisor failed: ${(err as Error)?.message ?? String(err)}`);
        reportFailure((err as Error)?.message ?? String(err));
      },
    });

    const j = journal;
    let stopping: Promise<void> | null = null;
    const stop = () =>
      (stopping ??= (async () => {
        const t0 = Date.now();
        controlState.stopping = true;
        clearTimeout(fullScanTimer);
        stopInventoryDiscovery();
        try {
          if (sup.getSnapshot().status === "active") {
            sup.send({ type: "SHUTDOWN", at: Date.now() });
            const busy = await waitForCamerasStopped(sup, SHUTDOWN_CAMERA_WAIT_MS);
            if (busy.length) log.warn(`power-down: ${busy.join(", ")} still stopping; killing the recorder`);
            else await settleAll(deps, config.cameras, cameraIds, Math.min(SHUTDOWN_SETTLE_MS, 4_500 - (Date.now() - t0)));
            // every open trip of this boot gets an actor (a salvage may have opened one), then all close
            for (const c of config.cameras) {
              const id = cameraIds.get(c.key);
              if (id !== undefined) ensureTripActor(deps, sup.system, c.key, id);
            }
            sup.send({ type: "TRIPS.CLOSE", at: Date.now(), reason: "shutdown" });
            // a trip saved while open is checked again now that it closed
            const saving = await waitForSaves(sup, t0 + SHUTDOWN_BUDGET_MS);
            if (saving.length) log.warn(`power-down: ${saving.join(", ")} still saving; the save resumes at the next start`);
          }
        } catch (err) {
          log.error(`power-down: ${(err as Error).message}`);
        }
        j.close();
        if (sup.getSnapshot().status === "active") sup.stop();
        else {
          // the root failed: its children are still running (XState does not stop them); stop
          // each one (internal _stop: a non-root actor cannot be stopped through stop())
          for (const [id, ref] of Object.entries(sup.system.getAll())) {
            if (id !== "supervisor") (ref as unknown as { _stop?: () => void })._stop?.();
          }
        }
        backgroundAbort.abort();
        await Promise.all(background);
        await server.stop();
        control.stop();
        db.close();
        log.info(`power-down complete in ${Date.now() - t0} ms`);
      })());
    return { url: server.url, db, bus, supervisor: sup, bootId, actions, controlSocket: control.path, liveHubs, frames, stop, failed };
  } catch (err) {
    journal?.close();
    supervisor?.stop();
    await web?.stop();
    control.stop();
    db.close();
    throw err;
  }
}

/** `dashcam run [--config FILE]`. */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { config: { type: "string" } });
  const path = values.config ?? process.env.DASHCAM_CONFIG;
  const config = path ? loadConfig(path) : defaultConfig();

  let handle: RuntimeHandle;
  try {
    handle = await startRuntime(config);
  } catch (err) {
    if (err instanceof RuntimeBusyError) {
      process.stderr.write(`dashcam run: ${err.message}\n`);
      return 1;
    }
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (LISTEN_ERRORS.has(code)) {
      // taken between the start-up probe and the real bind
      process.stderr.write(`dashcam run: ${listenErrorLine(config.http.listen, code)}\n`);
      return 2;
    }
    throw err;
  }
  process.stdout.write(`listening on ${handle.url}\n`);
  log.info(`dashcam running: ${config.cameras.length} camera(s), data in ${config.data_dir}, boot ${handle.bootId}`);

  const reason = await new Promise<string>((res) => {
    const onSignal = (sig: string) => () => res(sig);
    process.once("SIGTERM", onSignal("SIGTERM"));
    process.once("SIGINT", onSignal("SIGINT"));
    handle.failed.then((m) => res(`failure: ${m}`));
  });
  log.info(`${reason}: powering down`);
  await handle.stop();
  const code = reason.startsWith("failure") ? 1 : 0;
  // safety net: a straggler (a child's kill timer, a client socket) must not hold the process
  setTimeout(() => process.exit(code), 2_000).unref();
  return code;
}
