/**
 * The `supervisor` machine: the root actor (`systemId: "supervisor"`). Pure; the wiring in
 * `src/actors/supervisor.ts` provides the real `camera` and `trip` machines, the service actors
 * and the named effects.
 *
 * ```
 * idle --BOOT--> running --SHUTDOWN--> shutdown --TRIPS.CLOSE--> down
 *  (BOOT from any state goes to running again, e.g. after a restore)
 * ```
 *
 * Children, all spawned by string src (persistable) with `id = systemId`:
 * - `camera:<key>` (src `camera`), one per configured camera; `DISABLE`d when `enabled = false`.
 * - `trip:<id>` (src `trip`), one per open, saving or saved-but-open trip, spawned on
 *   `TRIP.OPENED` (the indexer opened a trip), on `BOOT` for the trips the database holds
 *   open/saving, and on demand for `TRIP.EVICTED` / `TRIP.SAVE` of a trip that has no actor.
 * - `gpio` (src `gpioButton`), only when `[gpio]` is configured: the save button. Its `SAVE`
 *   saves the CURRENT trip of every camera (see `saveCurrent`), its `INCIDENT` starts an incident
 *   clip on every enabled camera, its `GPIO.STATUS` is kept in `context.gpio` and published.
 * - `alpr` (src `alprService`), only when `[alpr] enabled`: the plate-reading pipeline.
 * - `incident:<id>` (src `incidentExport`): the export of one incident clip, spawned when the
 *   incident's ready deadline passes.
 * Service children are not restored from a snapshot: BOOT spawns them from the current config.
 *
 * `BOOT` carries what the runtime read from the configuration and database: it spawns the
 * missing cameras, stops the removed ones, starts/disables them, spawns trip actors, closes the
 * trips of older boots (`CLOSE`, reason `older_boot`, at the trip's last segment), spawns or
 * stops the service actors, re-arms stored deadlines (`TIMERS.REARM` to every child; pending
 * incident exports) and runs the start-up maintenance (then every `maintenanceEveryMs`).
 *
 * Saving:
 * - `TRIP.SAVE { tripId }` (web, CLI): SAVE to that trip's actor (spawned when it has none).
 * - `SAVE` (GPIO) / `TRIP.SAVE_CURRENT` (CLI `--current`): SAVE to each camera's newest open
 *   trip. An enabled camera that is recording but has no trip yet (the first segment is not
 *   closed) gets a pending save (`context.pendingSaves`), applied when its trip opens. When there
 *   is nothing to save at all, `nothingToSave` reports it.
 * - `CAMERA.STOPPED` (a camera stopped by STOP while running, not at shutdown): its open trips
 *   are closed with reason `camera_stopped`.
 *
 * Incidents: `INCIDENT { at, cameraKey? }` (GPIO long press, web, CLI) makes one incident per
 * target camera (the given one, else every enabled camera) with id `incidentIdFor(at, key)`
 * (deterministic: the same request twice is one incident), window [at - before, at + after]
 * (`context.incidentSettings`, from BOOT), and a ready deadline `to + segment length + 2 s`
 * stored in `context.incidents`; `beginIncident` (wiring) evidence-locks what is already
 * recorded in the supervisor's journal transaction. At the deadline `incidentExport` runs; a
 * retryable failure (footage not indexed yet, ffmpeg failed) re-arms the deadline up to
 * `MAX_INCIDENT_ATTEMPTS` times, anything else ends the incident (`incidentGaveUp`).
 *
 * One-for-one restart: a child that fails — it threw (`xstate.error.actor.<id>`) or finished
 * with output `{ failed }` (a camera or trip whose journal write failed) — is stopped and
 * spawned again after `restartInitialMs * 2^(n-1)` (cap `restartMaxMs`) for its n-th failure;
 * the deadline is kept in context. Only while `running`. A trip that finished normally
 * (saved, evicted) is just removed.
 */
import { assign, enqueueActions, fromCallback, fromPromise, setup, type AnyActorRef } from "xstate";
import { cameraMachine, cameraStateName, nowOf, backoffDelay, type CameraInput } from "./camera.ts";
import { tripMachine, LIVE_TRIP_STATES, type TripStatus } from "./trip.ts";
import type { GpioStatus } from "./events.ts";

/** A configured camera as BOOT carries it. */
export interface BootCamera extends CameraInput {
  enabled: boolean;
  /** Target segment length (s), for incident deadlines; default 60. */
  segmentSeconds?: number;
}

/** An open or saving trip found in the database at start-up. */
export interface BootTrip {
  tripId: number;
  cameraKey: string;
  status: TripStatus;
  /** The trip belongs to an earlier boot: close it at `lastTimeUtc`. */
  olderBoot: boolean;
  lastTimeUtc: number;
}

/** The `[gpio]` table (src/config.ts), the GPIO actor's input. */
export interface GpioConfig {
  chip: string;
  save_line: number;
  active_low: boolean;
  debounce_ms: number;
  long_press_ms: number;
}

export type SaveSource = "button" | "ui" | "api" | "cli";

/** One incident clip waiting for (or running) its export. Times ms UTC. */
export interface IncidentRecord {
  incidentId: string;
  cameraKey: string;
  cameraId: number;
  atUtc: number;
  fromUtc: number;
  toUtc: number;
  /** When the export runs next (absolute ms; survives a restart). */
  readyAtUtc: number;
  /** Segment length of the camera (ms): the retry step. */
  segmentMs: number;
  attempts: number;
  source: SaveSource;
  lastError: string | null;
}

export interface GpioState {
  status: GpioStatus;
  reason: string | null;
  at: number;
}

export type SupervisorEvent =
  | {
      type: "BOOT";
      at: number;
      cameras: BootCamera[];
      trips: BootTrip[];
      /** `[gpio]` when configured, else null/absent (no button). */
      gpio?: GpioConfig | null;
      /** `[alpr] enabled`. */
      alpr?: boolean;
      /** `[incident]` window, s (default 30 / 30). */
      incident?: { before_seconds: number; after_seconds: number };
      /** Period of the maintenance run (ms, default 24 h). */
      maintenanceEveryMs?: number;
    }
  | { type: "TRIP.OPENED"; tripId: number; cameraKey: string; at: number }
  | { type: "TRIP.EVICTED"; tripId: number; cameraKey: string; at: number }
  | { type: "TRIP.SAVE"; tripId: number; cameraKey?: string; at: number; source: SaveSource }
  | { type: "TRIP.SAVE_CURRENT"; at: number; source: SaveSource }
  /** From the GPIO child: a short press. */
  | { type: "SAVE"; at: number; source: "button" }
  /** From the GPIO child (long press), the web or the CLI. No cameraKey = every enabled camera. */
  | { type: "INCIDENT"; at: number; source: SaveSource; cameraKey?: string }
  | { type: "INCIDENT.READY"; incidentId: string }
  | { type: "GPIO.STATUS"; status: GpioStatus; reason: string | null; at: number }
  | { type: "CAMERA.STOPPED"; cameraKey: string; at: number }
  | { type: "ALPR.ERROR"; error: string }
  | { type: "MAINTENANCE" }
  | { type: "SHUTDOWN"; at: number }
  | { type: "TRIPS.CLOSE"; at: number; reason: "shutdown" | "camera_stopped" }
  | { type: "CHILD.RESTART"; id: string }
  | { type: "JOURNAL.FAILED"; error: string }
  | { type: `xstate.error.actor.${string}`; error: unknown }
  | { type: `xstate.done.actor.${string}`; output?: unknown };

export interface SupervisorInput {
  restartInitialMs?: number;
  restartMaxMs?: number;
}

export interface RestartInfo {
  attempts: number;
  /** Absolute ms of the next spawn. */
  deadline: number;
  error: string;
}

export interface SupervisorContext {
  cameras: Record<string, BootCamera>;
  /** Trip actors by trip id (as a string key). */
  trips: Record<string, { cameraKey: string }>;
  restarts: Record<string, RestartInfo>;
  restartInitialMs: number;
  restartMaxMs: number;
  /** Service actors BOOT asked for. */
  services: { gpio: GpioConfig | null; alpr: boolean };
  incidentSettings: { before_seconds: number; after_seconds: number };
  incidents: Record<string, IncidentRecord>;
  /** Last status of the GPIO button (null: none configured / not reported yet). */
  gpio: GpioState | null;
  /** Saves asked for while a camera had no trip yet, by camera key. */
  pendingSaves: Record<string, { at: number; source: SaveSource }>;
  /** Next maintenance run (absolute ms). */
  maintenanceDeadline: number | null;
  maintenanceEveryMs: number;
}

export const cameraActorId = (key: string) => `camera:${key}`;
export const tripActorId = (tripId: number) => `trip:${tripId}`;
export const incidentActorId = (incidentId: string) => `incident:${incidentId}`;

/** An incident clip is retried this many times at most. */
export const MAX_INCIDENT_ATTEMPTS = 5;
export const MAINTENANCE_EVERY_MS = 24 * 3600 * 1000;
/** Incident window when neither BOOT nor the config gives one: 30 s before and after the moment. */
export const DEFAULT_INCIDENT_SETTINGS: Readonly<{ before_seconds: number; after_seconds: number }> = { before_seconds: 30, after_seconds: 30 };
const SEGMENT_SECONDS_DEFAULT = 60;

/**
 * The incident id for a moment on a camera: `inc-YYYYMMDD-HHMMSS-mmm-<camera>` (UTC). The same
 * moment on the same camera is the same incident, so a repeated request is idempotent.
 */
export function incidentIdFor(atUtc: number, cameraKey: string): string {
  const iso = new Date(atUtc).toISOString(); // 2025-01-02T03:04:05.678Z
  return `inc-${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}-${iso.slice(20, 23)}-${cameraKey}`;
}

/**
 * When an incident's export can run (ms UTC): the segment holding `toUtc` closes at most one
 * segment length (`segmentMs`) after it, plus 2 s for indexing. src/media/export.ts
 * `incidentReadyAt` is this rule in seconds.
 */
export const incidentReadyAt = (toUtc: number, segmentMs: number) => toUtc + segmentMs + 2000;

const ERROR_PREFIX = "xstate.error.actor.";
const DONE_PREFIX = "xstate.done.actor.";
const ONLINE_CAMERA = new Set(["starting", "recording", "stalled", "backoff"]);
const SERVICE_IDS = new Set(["gpio", "alpr"]);

function childIdOf(type: string, prefix: string): string {
  return type.slice(prefix.length);
}

/** Registered actors of the system whose systemId starts with `prefix`. */
function actorsWithPrefix(system: { getAll?: () => Record<string, AnyActorRef> }, prefix: string): [string, AnyActorRef][] {
  const all = system.getAll ? system.getAll() : {};
  return Object.entries(all).filter(([id]) => id.startsWith(prefix));
}

/**
 * Each camera's newest open trip (a trip actor not closed and not finished), by camera key,
 * from the live actors. Pure over the actor system.
 */
export function openTripsByCamera(system: { getAll?: () => Record<string, AnyActorRef> }): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, ref] of actorsWithPrefix(system, "trip:")) {
    const snap = ref.getSnapshot() as { status?: string; value?: unknown; context?: { cameraKey?: string; isClosed?: boolean } };
    if (snap.status !== "active" || !snap.context || snap.context.isClosed) continue;
    if (typeof snap.value !== "string" || !LIVE_TRIP_STATES.has(snap.value)) continue;
    const key = snap.context.cameraKey ?? "";
    const tripId = Number(id.slice("trip:".length));
    if (!(out.get(key)! >= tripId)) out.set(key, tripId);
  }
  return out;
}

/** Defaults until the wiring provides the real service actors: each reports clearly that it is missing. */
const noGpio = fromCallback<{ type: string }, GpioConfig>(({ sendBack }) => {
  sendBack({ type: "GPIO.STATUS", status: "unavailable", reason: "no GPIO button actor provided", at: Date.now() });
});
const noAlpr = fromCallback<{ type: string }, Record<string, never>>(({ sendBack }) => {
  sendBack({ type: "ALPR.ERROR", error: "no ALPR service provided" });
});
const noIncidentExport = fromPromise<unknown, IncidentRecord>(async () => {
  throw new Error("no incident export provided");
});

const isIncidentChildEvent = ({ event }: { event: { type: string } }) =>
  event.type.startsWith(`${DONE_PREFIX}incident:`) || event.type.startsWith(`${ERROR_PREFIX}incident:`);

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
  actors: {
    camera: cameraMachine,
    trip: tripMachine,
    gpioButton: noGpio,
    alprService: noAlpr,
    incidentExport: noIncidentExport,
  },
  actions: {
    failActor: ({ event }) => {
      throw new Error(`supervisor journal failed: ${event.type === "JOURNAL.FAILED" ? event.error : event.type}`);
    },
    /**
     * Named effects the wiring provides (defaults do nothing). Params (typed loosely because the
     * machine enqueues them from enqueueActions): beginIncident IncidentRecord; incidentDone
     * `{ incident, output }`; incidentGaveUp `{ incident, error }`; publishGpio GpioState;
     * nothingToSave `{ at, source }`; serviceError `{ id, error }`.
     */
    beginIncident: (_, _params: unknown) => {},
    incidentDone: (_, _params: unknown) => {},
    incidentGaveUp: (_, _params: unknown) => {},
    publishGpio: (_, _params: unknown) => {},
    nothingToSave: (_, _params: unknown) => {},
    serviceError: (_, _params: unknown) => {},
    runMaintenance: () => {},
    boot: enqueueActions(({ context, event, enqueue, system, self }) => {
      if (event.type !== "BOOT") return;
      const now = nowOf(self);
      const cameras: Record<string, BootCamera> = {};
      for (const c of event.cameras) cameras[c.key] = c;
      // cameras no longer configured
      for (const [id] of actorsWithPrefix(system, "camera:")) {
        if (!cameras[id.slice("camera:".length)]) enqueue.stopChild(id);
      }
      for (const c of event.cameras) {
        const id = cameraActorId(c.key);
        if (!system.get(id)) enqueue.spawnChild("camera", { id, systemId: id, input: c });
        if (c.enabled) {
          enqueue.sendTo(id, { type: "ENABLE" });
          enqueue.sendTo(id, { type: "START" });
        } else enqueue.sendTo(id, { type: "DISABLE" });
        enqueue.sendTo(id, { type: "TIMERS.REARM" });
      }
      const trips = { ...context.trips };
      for (const t of event.trips) {
        const id = tripActorId(t.tripId);
        if (!system.get(id)) enqueue.spawnChild("trip", { id, systemId: id, input: { tripId: t.tripId, cameraKey: t.cameraKey, status: t.status } });
        trips[String(t.tripId)] = { cameraKey: t.cameraKey };
        if (t.olderBoot) enqueue.sendTo(id, { type: "CLOSE", at: t.lastTimeUtc, reason: "older_boot" });
      }
      for (const [id] of actorsWithPrefix(system, "trip:")) enqueue.sendTo(id, { type: "TIMERS.REARM" });

      // service actors from the current config
      const gpio = event.gpio ?? null;
      const alpr = event.alpr === true;
      if (system.get("gpio") && !gpio) enqueue.stopChild("gpio");
      if (gpio && !system.get("gpio")) enqueue.spawnChild("gpioButton", { id: "gpio", systemId: "gpio", input: gpio });
      if (system.get("alpr") && !alpr) enqueue.stopChild("alpr");
      if (alpr && !system.get("alpr")) enqueue.spawnChild("alprService", { id: "alpr", systemId: "alpr", input: {} });

      // pending incident exports: re-arm their stored deadlines
      const incidents = context.incidents ?? {};
      for (const inc of Object.values(incidents)) {
        const sendId = incidentActorId(inc.incidentId);
        if (system.get(sendId)) continue;
        enqueue.cancel(sendId);
        enqueue.raise({ type: "INCIDENT.READY", incidentId: inc.incidentId }, { id: sendId, delay: Math.max(0, inc.readyAtUtc - now) });
      }

      const every = event.maintenanceEveryMs ?? context.maintenanceEveryMs ?? MAINTENANCE_EVERY_MS;
      enqueue("runMaintenance");
      enqueue.cancel("maintenance");
      enqueue.raise({ type: "MAINTENANCE" }, { id: "maintenance", delay: every });

      enqueue.assign({
        cameras,
        trips,
        restarts: {},
        services: { gpio, alpr },
        incidentSettings: event.incident ?? context.incidentSettings ?? { ...DEFAULT_INCIDENT_SETTINGS },
        incidents,
        gpio: gpio ? (context.gpio ?? null) : null,
        pendingSaves: {},
        maintenanceDeadline: now + every,
        maintenanceEveryMs: every,
      });
    }),
    ensureTrip: enqueueActions(({ context, event, enqueue, system }) => {
      if (event.type !== "TRIP.OPENED" && event.type !== "TRIP.EVICTED" && event.type !== "TRIP.SAVE") return;
      const id = tripActorId(event.tripId);
      const cameraKey = event.cameraKey ?? context.trips[String(event.tripId)]?.cameraKey ?? "";
      if (!system.get(id)) {
        enqueue.spawnChild("trip", {
          id,
          systemId: id,
          input: { tripId: event.tripId, cameraKey, status: event.type === "TRIP.OPENED" ? "open" : undefined },
        });
      }
      enqueue.assign({ trips: { ...context.trips, [String(event.tripId)]: { cameraKey } } });
      if (event.type === "TRIP.EVICTED") enqueue.sendTo(id, { type: "EVICTED", at: event.at });
      if (event.type === "TRIP.SAVE") enqueue.sendTo(id, { type: "SAVE", at: event.at, source: event.source });
      // a save asked for before this camera had a trip
      const pending = (context.pendingSaves ?? {})[cameraKey];
      if (event.type === "TRIP.OPENED" && pending) {
        enqueue.sendTo(id, { type: "SAVE", at: pending.at, source: pending.source });
        const rest = { ...context.pendingSaves };
        delete rest[cameraKey];
        enqueue.assign({ pendingSaves: rest });
      }
    }),
    saveCurrent: enqueueActions(({ context, event, enqueue, system }) => {
      if (event.type !== "SAVE" && event.type !== "TRIP.SAVE_CURRENT") return;
      const open = openTripsByCamera(system);
      for (const tripId of open.values()) enqueue.sendTo(tripActorId(tripId), { type: "SAVE", at: event.at, source: event.source });
      const pending = { ...(context.pendingSaves ?? {}) };
      let waiting = 0;
      for (const cam of Object.values(context.cameras)) {
        if (!cam.enabled || open.has(cam.key)) continue;
        const ref = system.get(cameraActorId(cam.key)) as AnyActorRef | undefined;
        const state = ref ? cameraStateName((ref.getSnapshot() as { value?: unknown }).value) : "stopped";
        if (!ONLINE_CAMERA.has(state)) continue;
        pending[cam.key] = { at: event.at, source: event.source };
        waiting++;
      }
      if (waiting > 0) enqueue.assign({ pendingSaves: pending });
      if (open.size === 0 && waiting === 0) enqueue({ type: "nothingToSave", params: { at: event.at, source: event.source } });
    }),
    closeCameraTrips: enqueueActions(({ context, event, enqueue, system }) => {
      if (event.type !== "CAMERA.STOPPED") return;
      for (const [id, ref] of actorsWithPrefix(system, "trip:")) {
        const ctx = (ref.getSnapshot() as { context?: { cameraKey?: string } }).context;
        if (ctx?.cameraKey === event.cameraKey) enqueue.sendTo(id, { type: "CLOSE", at: event.at, reason: "camera_stopped" });
      }
      if ((context.pendingSaves ?? {})[event.cameraKey]) {
        const rest = { ...context.pendingSaves };
        delete rest[event.cameraKey];
        enqueue.assign({ pendingSaves: rest });
      }
    }),
    startIncident: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== "INCIDENT") return;
      const settings = context.incidentSettings ?? DEFAULT_INCIDENT_SETTINGS;
      const targets = event.cameraKey ? [event.cameraKey] : Object.values(context.cameras).filter((c) => c.enabled).map((c) => c.key);
      const incidents = { ...(context.incidents ?? {}) };
      const now = nowOf(self);
      let added = 0;
      for (const key of targets) {
        const cam = context.cameras[key];
        if (!cam) continue;
        const incidentId = incidentIdFor(event.at, key);
        if (incidents[incidentId]) continue;
        const segmentMs = (cam.segmentSeconds ?? SEGMENT_SECONDS_DEFAULT) * 1000;
        const toUtc = event.at + settings.after_seconds * 1000;
        const rec: IncidentRecord = {
          incidentId,
          cameraKey: key,
          cameraId: cam.cameraId,
          atUtc: event.at,
          fromUtc: event.at - settings.before_seconds * 1000,
          toUtc,
          readyAtUtc: incidentReadyAt(toUtc, segmentMs),
          segmentMs,
          attempts: 0,
          source: event.source,
          lastError: null,
        };
        incidents[incidentId] = rec;
        added++;
        enqueue({ type: "beginIncident", params: rec });
        const sendId = incidentActorId(incidentId);
        enqueue.raise({ type: "INCIDENT.READY", incidentId }, { id: sendId, delay: Math.max(0, rec.readyAtUtc - now) });
      }
      if (added > 0) enqueue.assign({ incidents });
    }),
    incidentReady: enqueueActions(({ context, event, enqueue, system }) => {
      if (event.type !== "INCIDENT.READY") return;
      const rec = (context.incidents ?? {})[event.incidentId];
      const id = incidentActorId(event.incidentId);
      if (!rec || system.get(id)) return;
      enqueue.spawnChild("incidentExport", { id, systemId: id, input: rec });
    }),
    incidentChildEnded: enqueueActions(({ context, event, enqueue, self }) => {
      const failed = event.type.startsWith(ERROR_PREFIX);
      const id = childIdOf(event.type, failed ? ERROR_PREFIX : DONE_PREFIX);
      const incidentId = id.slice("incident:".length);
      enqueue.stopChild(id);
      const incidents = { ...(context.incidents ?? {}) };
      const rec = incidents[incidentId];
      if (!rec) return;
      if (!failed) {
        delete incidents[incidentId];
        enqueue.assign({ incidents });
        enqueue({ type: "incidentDone", params: { incident: rec, output: (event as { output?: unknown }).output } });
        return;
      }
      const error = (event as { error?: unknown }).error;
      const message = error instanceof Error ? error.message : String(error);
      const retryable = (error as { retryable?: unknown } | null)?.retryable === true;
      const attempts = rec.attempts + 1;
      if (retryable && attempts < MAX_INCIDENT_ATTEMPTS) {
        const delay = Math.max(2000, rec.segmentMs);
        incidents[incidentId] = { ...rec, attempts, lastError: message, readyAtUtc: nowOf(self) + delay };
        enqueue.assign({ incidents });
        enqueue.raise({ type: "INCIDENT.READY", incidentId }, { id, delay });
      } else {
        delete incidents[incidentId];
        enqueue.assign({ incidents });
        enqueue({ type: "incidentGaveUp", params: { incident: { ...rec, attempts, lastError: message }, error: message } });
      }
    }),
    noteGpio: enqueueActions(({ event, enqueue }) => {
      if (event.type !== "GPIO.STATUS") return;
      const gpio: GpioState = { status: event.status, reason: event.reason, at: event.at };
      enqueue.assign({ gpio });
      enqueue({ type: "publishGpio", params: gpio });
    }),
    maintenance: enqueueActions(({ context, enqueue, self }) => {
      const every = context.maintenanceEveryMs ?? MAINTENANCE_EVERY_MS;
      enqueue("runMaintenance");
      enqueue.assign({ maintenanceDeadline: nowOf(self) + every });
      enqueue.cancel("maintenance");
      enqueue.raise({ type: "MAINTENANCE" }, { id: "maintenance", delay: every });
    }),
    noteServiceError: enqueueActions(({ event, enqueue }) => {
      if (event.type !== "ALPR.ERROR") return;
      enqueue({ type: "serviceError", params: { id: "alpr", error: event.error } });
    }),
    stopCameras: enqueueActions(({ enqueue, system }) => {
      for (const [id] of actorsWithPrefix(system, "camera:")) enqueue.sendTo(id, { type: "STOP" });
    }),
    clearPendingSaves: assign({ pendingSaves: {} }),
    closeTrips: enqueueActions(({ event, enqueue, system }) => {
      if (event.type !== "TRIPS.CLOSE") return;
      for (const [id] of actorsWithPrefix(system, "trip:")) enqueue.sendTo(id, { type: "CLOSE", at: event.at, reason: event.reason });
    }),
    childDone: enqueueActions(({ context, event, enqueue }) => {
      const id = childIdOf(event.type, DONE_PREFIX);
      enqueue.stopChild(id);
      const failed = typeof (event as { output?: { failed?: unknown } }).output?.failed === "string";
      if (id.startsWith("trip:") && !failed) {
        const trips = { ...context.trips };
        delete trips[id.slice("trip:".length)];
        enqueue.assign({ trips });
      }
    }),
    /**
     * Stops a child that threw (any state). XState does not stop the children of an actor that
     * failed, so its own children (a camera's recorder, i.e. ffmpeg) are stopped here too.
     */
    stopFailedChild: enqueueActions(({ event, enqueue, self }) => {
      const id = childIdOf(event.type, ERROR_PREFIX);
      const child = (self.getSnapshot().children as Record<string, AnyActorRef | undefined>)[id];
      const grandchildren = (child?.getSnapshot() as { children?: Record<string, AnyActorRef> } | undefined)?.children ?? {};
      for (const g of Object.values(grandchildren)) (g as unknown as { _stop?: () => void })._stop?.();
      enqueue.stopChild(id);
      if (SERVICE_IDS.has(id)) {
        const error = (event as { error?: unknown }).error;
        enqueue({ type: "serviceError", params: { id, error: error instanceof Error ? error.message : String(error) } });
      }
    }),
    /**
     * While running: a child that threw, or finished with output `{ failed }`, is spawned again
     * by CHILD.RESTART at a stored deadline (exponential backoff per child).
     */
    scheduleRestart: enqueueActions(({ context, event, enqueue, self }) => {
      let id: string;
      let reason: string;
      if (event.type.startsWith(ERROR_PREFIX)) {
        id = childIdOf(event.type, ERROR_PREFIX);
        const error = (event as { error?: unknown }).error;
        reason = error instanceof Error ? error.message : String(error);
      } else {
        id = childIdOf(event.type, DONE_PREFIX);
        const output = (event as { output?: { failed?: string } }).output;
        if (!output || typeof output.failed !== "string") return;
        reason = output.failed;
      }
      const attempts = (context.restarts[id]?.attempts ?? 0) + 1;
      const delay = backoffDelay(attempts, context.restartInitialMs, context.restartMaxMs);
      enqueue.assign({
        restarts: { ...context.restarts, [id]: { attempts, deadline: nowOf(self) + delay, error: reason } },
      });
      enqueue.raise({ type: "CHILD.RESTART", id }, { id: `restart:${id}`, delay });
    }),
    restartChild: enqueueActions(({ context, event, enqueue, system }) => {
      if (event.type !== "CHILD.RESTART") return;
      const id = event.id;
      if (system.get(id)) return;
      if (id.startsWith("camera:")) {
        const cam = context.cameras[id.slice("camera:".length)];
        if (!cam) return;
        enqueue.spawnChild("camera", { id, systemId: id, input: cam });
        enqueue.sendTo(id, cam.enabled ? { type: "START" } : { type: "DISABLE" });
      } else if (id.startsWith("trip:")) {
        const tripId = Number(id.slice("trip:".length));
        const known = context.trips[String(tripId)];
        if (!known) return;
        enqueue.spawnChild("trip", { id, systemId: id, input: { tripId, cameraKey: known.cameraKey } });
      } else if (id === "gpio" && context.services?.gpio) {
        enqueue.spawnChild("gpioButton", { id, systemId: id, input: context.services.gpio });
      } else if (id === "alpr" && context.services?.alpr) {
        enqueue.spawnChild("alprService", { id, systemId: id, input: {} });
      }
    }),
  },
  guards: {
    isIncidentChild: isIncidentChildEvent,
  },
}).createMachine({
  id: "supervisor",
  initial: "idle",
  context: ({ input }) => ({
    cameras: {},
    trips: {},
    restarts: {},
    restartInitialMs: input?.restartInitialMs ?? 1_000,
    restartMaxMs: input?.restartMaxMs ?? 60_000,
    services: { gpio: null, alpr: false },
    incidentSettings: { ...DEFAULT_INCIDENT_SETTINGS },
    incidents: {},
    gpio: null,
    pendingSaves: {},
    maintenanceDeadline: null,
    maintenanceEveryMs: MAINTENANCE_EVERY_MS,
  }),
  on: {
    BOOT: { target: ".running", actions: "boot" },
    "TRIP.OPENED": { actions: "ensureTrip" },
    "TRIP.EVICTED": { actions: "ensureTrip" },
    "TRIP.SAVE": { actions: "ensureTrip" },
    "TRIP.SAVE_CURRENT": { actions: "saveCurrent" },
    SAVE: { actions: "saveCurrent" },
    INCIDENT: { actions: "startIncident" },
    "INCIDENT.READY": { actions: "incidentReady" },
    "GPIO.STATUS": { actions: "noteGpio" },
    "ALPR.ERROR": { actions: "noteServiceError" },
    MAINTENANCE: { actions: "maintenance" },
    "JOURNAL.FAILED": { actions: "failActor" },
    "xstate.error.actor.*": [{ guard: "isIncidentChild", actions: "incidentChildEnded" }, { actions: "stopFailedChild" }],
    "xstate.done.actor.*": [{ guard: "isIncidentChild", actions: "incidentChildEnded" }, { actions: "childDone" }],
  },
  states: {
    idle: {},
    running: {
      on: {
        SHUTDOWN: { target: "shutdown" },
        "CAMERA.STOPPED": { actions: "closeCameraTrips" },
        "xstate.error.actor.*": [{ guard: "isIncidentChild", actions: "incidentChildEnded" }, { actions: ["stopFailedChild", "scheduleRestart"] }],
        "xstate.done.actor.*": [{ guard: "isIncidentChild", actions: "incidentChildEnded" }, { actions: ["childDone", "scheduleRestart"] }],
        "CHILD.RESTART": {
          actions: [
            "restartChild",
            assign(({ context, event }) => {
              if (event.type !== "CHILD.RESTART") return {};
              const r = context.restarts[event.id];
              return r ? { restarts: { ...context.restarts, [event.id]: { ...r, deadline: 0 } } } : {};
            }),
          ],
        },
      },
    },
    shutdown: {
      entry: ["stopCameras", "clearPendingSaves"],
      on: {
        "TRIPS.CLOSE": { target: "down", actions: "closeTrips" },
      },
    },
    down: {},
  },
});

export type SupervisorMachine = typeof supervisorMachine;
