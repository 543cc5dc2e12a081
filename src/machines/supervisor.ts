/**
 * The `supervisor` machine: the root actor (`systemId: "supervisor"`). Pure; the wiring in
 * `src/actors/supervisor.ts` provides the real `camera`, `trip` and `incident` machines, the
 * service actors and the named effects.
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
 *   open/saving, and on demand for `TRIP.EVICTED` / `TRIP.SAVE` / `TRIP.UNSAVE` of a trip that
 *   has no actor.
 * - `incident:<id>` (src `incident`, src/machines/incident.ts), one per pending incident clip.
 * - `gpio` (src `gpioButton`), only when `[gpio]` is configured: the save button. Its `SAVE`
 *   saves the CURRENT trip of every camera, its `INCIDENT` starts an incident clip on every
 *   enabled camera, its `GPIO.STATUS` is kept in `context.gpio` and published.
 * - `alpr` (src `alprService`), only when `[alpr] enabled`: the plate-reading pipeline.
 * - `health:<key>` (src `cameraHealth`, src/machines/cameraHealth.ts), one health monitor per
 *   camera BOOT lists in `health` (enabled cameras when `[health] enabled`); restored from the
 *   journal with its stored next-check deadline, re-armed by `TIMERS.REARM` at BOOT.
 * - `timelapse:<batchId>` (src `timelapseBatch`, src/machines/timelapseBatch.ts), one per batch
 *   to render: spawned on `TIMELAPSE.START` (a REGENERATE to a running one) and at BOOT for the
 *   database's pending/processing batches; `TIMELAPSE.CANCEL` cancels one.
 * - `timelapseCapture` (src `timelapseCapture`), only when a camera captures timelapse images.
 * - `apply:<applyId>` (src `applyConfig`, src/machines/applyConfig.ts), one per settings change
 *   being applied: spawned on `APPLY.START` and at BOOT for the database's pending/in-progress
 *   applies (a restored one re-arms its stored deadlines); `APPLY.CONFIRM` / `APPLY.CANCEL`
 *   reach it as CONFIRM / CANCEL.
 * Service children are not restored from a snapshot: BOOT spawns them from the current config.
 *
 * Events reach children through one table, `ROUTES` (event type -> the children it goes to
 * and what they receive); the transitions below only decide when to route and what the
 * supervisor itself remembers.
 *
 * `BOOT` carries what the runtime read from the configuration and database: it spawns the
 * missing cameras, stops the removed ones, starts/disables them, spawns trip actors, closes the
 * trips of older boots (`CLOSE`, reason `older_boot`, at the trip's last segment), spawns or
 * stops the service actors, re-arms stored deadlines (`TIMERS.REARM` to every camera, trip and
 * incident) and runs the start-up maintenance (then every `maintenanceEveryMs`).
 *
 * Saving:
 * - `TRIP.SAVE { tripId }` (web, CLI): SAVE to that trip's actor (spawned when it has none).
 * - `TRIP.UNSAVE { tripId, by }` (web: delete a saved trip): UNSAVE to its actor (a saved trip
 *   still recording), or an actor spawned with `input.unsave` (a saved, closed trip has none).
 * - `SAVE` (GPIO) / `TRIP.SAVE_CURRENT` (CLI `--current`): SAVE to each camera's newest open
 *   trip. An enabled camera that is recording but has no trip yet (the first segment is not
 *   closed) gets a pending save (`context.pendingSaves`), applied when its trip opens. When there
 *   is nothing to save at all, `nothingToSave` reports it.
 * - `CAMERA.STOPPED` (a camera stopped by STOP while running, not at shutdown): its open trips
 *   are closed with reason `camera_stopped`.
 *
 * Incidents: `INCIDENT { at, cameraKey? }` (GPIO long press, web, CLI) spawns one incident actor
 * per target camera (the given one, else every enabled camera) with id `incidentIdFor(at, key)`
 * (deterministic: the same request twice is one incident) and window [at - before, at + after]
 * (`context.incidentSettings`, from BOOT). `context.incidents` lists the pending ones by id
 * (the camera wiring locks each new segment that falls in a pending window). When an incident's
 * deadline passes it sends `INCIDENT.READY`; the supervisor answers `EXPORT { cameraRecording }`
 * from its camera child's state.
 *
 * One-for-one restart: a child that fails — it threw (`xstate.error.actor.<id>`) or finished
 * with output `{ failed }` (a camera, trip or incident whose journal write failed) — is stopped
 * and spawned again after `restartInitialMs * 2^(n-1)` (cap `restartMaxMs`) for its n-th
 * failure; the deadline is kept in context. Only while `running`. A trip or incident that
 * finished normally (saved, evicted, exported, gave up) is just removed.
 */
import { assertEvent, assign, enqueueActions, fromCallback, setup, type AnyActorRef, type EventObject } from "xstate";
import { cameraMachine, cameraStateName, nowOf, backoffDelay, type CameraInput } from "./camera.ts";
import { tripMachine, LIVE_TRIP_STATES, type TripStatus } from "./trip.ts";
import { incidentMachine, incidentIdFor, DEFAULT_INCIDENT_SETTINGS, type IncidentInput, type SaveSource } from "./incident.ts";
import type { GpioStatus } from "./events.ts";
import { cameraHealthMachine, type HealthMonitorInput } from "./cameraHealth.ts";
import { timelapseBatchMachine, type TimelapseBatchInput } from "./timelapseBatch.ts";
import { applyConfigMachine, type ApplyInput } from "./applyConfig.ts";

export { incidentIdFor, DEFAULT_INCIDENT_SETTINGS, type SaveSource };

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
      /** Health monitors to run (absent = none). */
      health?: HealthMonitorInput[];
      /** The database's pending/processing timelapse batches. */
      timelapses?: TimelapseBatchInput[];
      /** Some camera captures timelapse images: run the capturer. */
      timelapseCapture?: boolean;
      /** The database's pending/in-progress settings changes. */
      applies?: ApplyInput[];
    }
  /** A settings change to apply (its `applied_configs` row exists, `pending`). */
  | { type: "APPLY.START"; apply: ApplyInput }
  /** The user changed a camera by hand as a manual apply asked, or gave up on it. */
  | { type: "APPLY.CONFIRM"; applyId: number; by: string }
  | { type: "APPLY.CANCEL"; applyId: number; by: string }
  /** A batch to render (new, or a continuous one with new images). */
  | { type: "TIMELAPSE.START"; batch: TimelapseBatchInput }
  | { type: "TIMELAPSE.CANCEL"; batchId: number }
  | { type: "TRIP.OPENED"; tripId: number; cameraKey: string; at: number }
  | { type: "TRIP.EVICTED"; tripId: number; cameraKey: string; at: number }
  | { type: "TRIP.SAVE"; tripId: number; cameraKey?: string; at: number; source: SaveSource }
  | { type: "TRIP.SAVE_CURRENT"; at: number; source: SaveSource }
  /** The web deletes saved trip `tripId` (stops keeping it): UNSAVE to its actor, or a new actor spawned to do it. */
  | { type: "TRIP.UNSAVE"; tripId: number; cameraKey?: string; at: number; by: string }
  /** From the GPIO child: a short press. */
  | { type: "SAVE"; at: number; source: "button" }
  /** From the GPIO child (long press), the web or the CLI. No cameraKey = every enabled camera. */
  | { type: "INCIDENT"; at: number; source: SaveSource; cameraKey?: string }
  /** From an incident child: its deadline passed; answered with EXPORT. */
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
  services: { gpio: GpioConfig | null; alpr: boolean; timelapseCapture?: boolean };
  /** Timelapse batches being rendered, by batch id: what each actor was spawned with. */
  timelapses?: Record<string, TimelapseBatchInput>;
  incidentSettings: { before_seconds: number; after_seconds: number };
  /** Pending incidents by id: what each incident actor was spawned with (respawned from it after a failure). */
  incidents: Record<string, IncidentInput>;
  /** Last status of the GPIO button (null: none configured / not reported yet). */
  gpio: GpioState | null;
  /** Saves asked for while a camera had no trip yet, by camera key. */
  pendingSaves: Record<string, { at: number; source: SaveSource }>;
  /** Next maintenance run (absolute ms). */
  maintenanceDeadline: number | null;
  maintenanceEveryMs: number;
  /** Health monitors BOOT asked for, by camera key (respawned from it after a failure). */
  healthMonitors: Record<string, HealthMonitorInput>;
  /** Settings changes being applied, by apply id: what each actor was spawned with. */
  applies?: Record<string, ApplyInput>;
}

export const cameraActorId = (key: string) => `camera:${key}`;
export const tripActorId = (tripId: number) => `trip:${tripId}`;
export const incidentActorId = (incidentId: string) => `incident:${incidentId}`;
export const healthActorId = (key: string) => `health:${key}`;
export const timelapseActorId = (batchId: number | string) => `timelapse:${batchId}`;
export const applyActorId = (applyId: number | string) => `apply:${applyId}`;

export const MAINTENANCE_EVERY_MS = 24 * 3600 * 1000;
const SEGMENT_SECONDS_DEFAULT = 60;

const ERROR_PREFIX = "xstate.error.actor.";
const DONE_PREFIX = "xstate.done.actor.";
const ONLINE_CAMERA = new Set(["starting", "recording", "stalled", "backoff"]);
const SERVICE_IDS = new Set(["gpio", "alpr", "timelapseCapture"]);

type System = { get(id: string): AnyActorRef | undefined; getAll?: () => Record<string, AnyActorRef> };

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

/** The state of camera `key`'s actor (`stopped` when it has none). */
function cameraStateOf(system: System, key: string): string {
  const ref = system.get(cameraActorId(key));
  return ref ? cameraStateName((ref.getSnapshot() as { value?: unknown }).value) : "stopped";
}

/** Enabled, online cameras without an open trip: they get a pending save. */
function camerasAwaitingTrip(context: SupervisorContext, system: System, open: Map<string, number>): string[] {
  return Object.values(context.cameras)
    .filter((cam) => cam.enabled && !open.has(cam.key) && ONLINE_CAMERA.has(cameraStateOf(system, cam.key)))
    .map((cam) => cam.key);
}

/** One message for a child: its systemId and the event it receives. */
export interface Routed {
  to: string;
  event: EventObject;
}
type RoutedEventType =
  | "TRIP.OPENED"
  | "TRIP.EVICTED"
  | "TRIP.SAVE"
  | "TRIP.UNSAVE"
  | "TRIP.SAVE_CURRENT"
  | "SAVE"
  | "CAMERA.STOPPED"
  | "TRIPS.CLOSE"
  | "INCIDENT.READY"
  | "SHUTDOWN"
  | "TIMELAPSE.CANCEL"
  | "APPLY.CONFIRM"
  | "APPLY.CANCEL";
type Resolver<K extends RoutedEventType> = (args: { context: SupervisorContext; event: Extract<SupervisorEvent, { type: K }>; system: System }) => Routed[];

const saveOpenTrips = ({ event, system }: { event: { at: number; source: SaveSource }; system: System }): Routed[] =>
  [...openTripsByCamera(system).values()].map((tripId) => ({ to: tripActorId(tripId), event: { type: "SAVE", at: event.at, source: event.source } }));

/**
 * The routing table: for each event the supervisor passes on, the children it goes to and the
 * event they receive. The `route` action applies it; spawning and bookkeeping stay in the
 * transitions.
 */
export const ROUTES: { [K in RoutedEventType]: Resolver<K> } = {
  // a save asked for before this camera had a trip
  "TRIP.OPENED": ({ context, event }) => {
    const pending = context.pendingSaves?.[event.cameraKey];
    return pending ? [{ to: tripActorId(event.tripId), event: { type: "SAVE", at: pending.at, source: pending.source } }] : [];
  },
  "TRIP.EVICTED": ({ event }) => [{ to: tripActorId(event.tripId), event: { type: "EVICTED", at: event.at } }],
  "TRIP.SAVE": ({ event }) => [{ to: tripActorId(event.tripId), event: { type: "SAVE", at: event.at, source: event.source } }],
  // a saved trip still recording (`savedOpen`) handles UNSAVE; an actor `ensureTrip` just spawned
  // for a closed one has applied `input.unsave` already and ignores it
  "TRIP.UNSAVE": ({ event }) => [{ to: tripActorId(event.tripId), event: { type: "UNSAVE", at: event.at, by: event.by } }],
  "TRIP.SAVE_CURRENT": saveOpenTrips,
  SAVE: saveOpenTrips,
  "CAMERA.STOPPED": ({ context, event, system }) =>
    Object.entries(context.trips)
      .filter(([tripId, trip]) => trip.cameraKey === event.cameraKey && system.get(tripActorId(Number(tripId))))
      .map(([tripId]) => ({ to: tripActorId(Number(tripId)), event: { type: "CLOSE", at: event.at, reason: "camera_stopped" } })),
  "TRIPS.CLOSE": ({ event, system }) => actorsWithPrefix(system, "trip:").map(([id]) => ({ to: id, event: { type: "CLOSE", at: event.at, reason: event.reason } })),
  "INCIDENT.READY": ({ context, event, system }) => {
    const key = context.incidents?.[event.incidentId]?.cameraKey;
    const cameraRecording = key !== undefined && ONLINE_CAMERA.has(cameraStateOf(system, key));
    return [{ to: incidentActorId(event.incidentId), event: { type: "EXPORT", cameraRecording } }];
  },
  SHUTDOWN: ({ system }) => actorsWithPrefix(system, "camera:").map(([id]) => ({ to: id, event: { type: "STOP" } })),
  "TIMELAPSE.CANCEL": ({ event, system }) =>
    system.get(timelapseActorId(event.batchId)) ? [{ to: timelapseActorId(event.batchId), event: { type: "CANCEL" } }] : [],
  "APPLY.CONFIRM": ({ event, system }) =>
    system.get(applyActorId(event.applyId)) ? [{ to: applyActorId(event.applyId), event: { type: "CONFIRM", by: event.by } }] : [],
  "APPLY.CANCEL": ({ event, system }) =>
    system.get(applyActorId(event.applyId)) ? [{ to: applyActorId(event.applyId), event: { type: "CANCEL", by: event.by } }] : [],
};

/** Which machine a child id belongs to, and how to spawn it again after a failure (null: not any more). */
type Respawn = {
  src: "camera" | "trip" | "incident" | "gpioButton" | "alprService" | "cameraHealth" | "timelapseBatch" | "timelapseCapture" | "applyConfig";
  input: unknown;
  then?: EventObject;
} | null;
const RESPAWN: Record<string, (context: SupervisorContext, name: string) => Respawn> = {
  camera: (context, key) => {
    const cam = context.cameras[key];
    return cam ? { src: "camera", input: cam, then: { type: cam.enabled ? "START" : "DISABLE" } } : null;
  },
  trip: (context, tripId) => {
    const known = context.trips[tripId];
    return known ? { src: "trip", input: { tripId: Number(tripId), cameraKey: known.cameraKey } } : null;
  },
  incident: (context, incidentId) => {
    const input = context.incidents[incidentId];
    return input ? { src: "incident", input } : null;
  },
  gpio: (context) => (context.services?.gpio ? { src: "gpioButton", input: context.services.gpio } : null),
  alpr: (context) => (context.services?.alpr ? { src: "alprService", input: {} } : null),
  health: (context, key) => {
    const input = context.healthMonitors?.[key];
    return input ? { src: "cameraHealth", input } : null;
  },
  timelapse: (context, batchId) => {
    const input = context.timelapses?.[batchId];
    return input ? { src: "timelapseBatch", input } : null;
  },
  timelapseCapture: (context) => (context.services?.timelapseCapture ? { src: "timelapseCapture", input: {} } : null),
  apply: (context, applyId) => {
    const input = context.applies?.[applyId];
    return input ? { src: "applyConfig", input } : null;
  },
};

/** The children whose normal end removes them from the supervisor's context, by kind. */
const FORGET_ON_DONE: Record<string, (context: SupervisorContext, name: string) => Partial<SupervisorContext>> = {
  trip: (context, tripId) => ({ trips: without(context.trips, tripId) }),
  incident: (context, incidentId) => ({ incidents: without(context.incidents, incidentId) }),
  timelapse: (context, batchId) => ({ timelapses: without(context.timelapses ?? {}, batchId) }),
  apply: (context, applyId) => ({ applies: without(context.applies ?? {}, applyId) }),
};

function without<T>(record: Record<string, T>, key: string): Record<string, T> {
  const rest = { ...record };
  delete rest[key];
  return rest;
}

/** `camera:front` -> [`camera`, `front`]; `gpio` -> [`gpio`, ``]. */
function kindOf(childId: string): [string, string] {
  const i = childId.indexOf(":");
  return i < 0 ? [childId, ""] : [childId.slice(0, i), childId.slice(i + 1)];
}

/** Defaults until the wiring provides the real service actors: each reports clearly that it is missing. */
const noGpio = fromCallback<{ type: string }, GpioConfig>(({ sendBack }) => {
  sendBack({ type: "GPIO.STATUS", status: "unavailable", reason: "no GPIO button actor provided", at: Date.now() });
});
const noAlpr = fromCallback<{ type: string }, Record<string, never>>(({ sendBack }) => {
  sendBack({ type: "ALPR.ERROR", error: "no ALPR service provided" });
});
/** Until the wiring provides the capturer: nothing is captured. */
const noTimelapseCapture = fromCallback<{ type: string }, Record<string, never>>(() => {});

const errorMessage = (event: unknown) => {
  const error = (event as { error?: unknown }).error;
  return error instanceof Error ? error.message : String(error);
};

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
  actors: {
    camera: cameraMachine,
    trip: tripMachine,
    incident: incidentMachine,
    cameraHealth: cameraHealthMachine,
    gpioButton: noGpio,
    alprService: noAlpr,
    timelapseBatch: timelapseBatchMachine,
    timelapseCapture: noTimelapseCapture,
    applyConfig: applyConfigMachine,
  },
  actions: {
    failActor: ({ event }) => {
      assertEvent(event, "JOURNAL.FAILED");
      throw new Error(`supervisor journal failed: ${event.error}`);
    },
    /**
     * Named effects the wiring provides (defaults do nothing). Params (typed loosely because the
     * machine enqueues them from enqueueActions): publishGpio GpioState; nothingToSave
     * `{ at, source }`; serviceError `{ id, error }`.
     */
    publishGpio: (_, _params: unknown) => {},
    nothingToSave: (_, _params: unknown) => {},
    serviceError: (_, _params: unknown) => {},
    runMaintenance: () => {},
    /** Sends the event's messages from `ROUTES` to the children they name. */
    route: enqueueActions(({ context, event, enqueue, system }) => {
      const resolve = ROUTES[event.type as RoutedEventType] as Resolver<RoutedEventType> | undefined;
      if (!resolve) return;
      for (const m of resolve({ context, event: event as never, system })) enqueue.sendTo(m.to, m.event);
    }),
    boot: enqueueActions(({ context, event, enqueue, system, self }) => {
      assertEvent(event, "BOOT");
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
      const timelapseCapture = event.timelapseCapture === true;
      if (system.get("timelapseCapture") && !timelapseCapture) enqueue.stopChild("timelapseCapture");
      if (timelapseCapture && !system.get("timelapseCapture"))
        enqueue.spawnChild("timelapseCapture", { id: "timelapseCapture", systemId: "timelapseCapture", input: {} });

      // timelapse batches still to render: a restored actor re-arms its retry deadline, a missing one is spawned
      const timelapses = { ...(context.timelapses ?? {}) };
      for (const t of event.timelapses ?? []) timelapses[String(t.batchId)] ??= t;
      for (const [batchId, input] of Object.entries(timelapses)) {
        const id = timelapseActorId(batchId);
        if (system.get(id)) enqueue.sendTo(id, { type: "TIMERS.REARM" });
        else enqueue.spawnChild("timelapseBatch", { id, systemId: id, input });
      }

      // settings changes being applied: a restored actor re-arms its stored deadlines, a missing one is spawned
      const applies = { ...(context.applies ?? {}) };
      for (const a of event.applies ?? []) applies[String(a.applyId)] ??= a;
      for (const [applyId, input] of Object.entries(applies)) {
        const id = applyActorId(applyId);
        if (system.get(id)) enqueue.sendTo(id, { type: "TIMERS.REARM" });
        else enqueue.spawnChild("applyConfig", { id, systemId: id, input });
      }

      // pending incidents: a restored actor re-arms its stored deadline; a missing one is spawned again
      const incidents = context.incidents ?? {};
      for (const [incidentId, input] of Object.entries(incidents)) {
        const id = incidentActorId(incidentId);
        if (system.get(id)) enqueue.sendTo(id, { type: "TIMERS.REARM" });
        else enqueue.spawnChild("incident", { id, systemId: id, input });
        // a camera restored from before the window was known learns it (repeating it is harmless)
        if (system.get(cameraActorId(input.cameraKey)))
          enqueue.sendTo(cameraActorId(input.cameraKey), { type: "INCIDENT.WINDOW", incidentId, fromUtc: input.fromUtc, toUtc: input.toUtc });
      }

      // health monitors: removed cameras' stop, missing ones spawn, restored ones re-arm their deadline
      const healthMonitors: Record<string, HealthMonitorInput> = {};
      for (const h of event.health ?? []) healthMonitors[h.cameraKey] = h;
      for (const [id] of actorsWithPrefix(system, "health:")) {
        if (!healthMonitors[id.slice("health:".length)]) enqueue.stopChild(id);
      }
      for (const h of event.health ?? []) {
        const id = healthActorId(h.cameraKey);
        if (system.get(id)) enqueue.sendTo(id, { type: "TIMERS.REARM" });
        else enqueue.spawnChild("cameraHealth", { id, systemId: id, input: h });
      }

      const every = event.maintenanceEveryMs ?? context.maintenanceEveryMs ?? MAINTENANCE_EVERY_MS;
      enqueue("runMaintenance");
      enqueue.cancel("maintenance");
      enqueue.raise({ type: "MAINTENANCE" }, { id: "maintenance", delay: every });

      enqueue.assign({
        cameras,
        trips,
        restarts: {},
        services: { gpio, alpr, timelapseCapture },
        timelapses,
        applies,
        incidentSettings: event.incident ?? context.incidentSettings ?? { ...DEFAULT_INCIDENT_SETTINGS },
        incidents,
        gpio: gpio ? (context.gpio ?? null) : null,
        pendingSaves: {},
        maintenanceDeadline: now + every,
        maintenanceEveryMs: every,
        healthMonitors,
      });
    }),
    /** The trip named by the event gets an actor when it has none. */
    ensureTrip: enqueueActions(({ context, event, enqueue, system }) => {
      assertEvent(event, ["TRIP.OPENED", "TRIP.EVICTED", "TRIP.SAVE", "TRIP.UNSAVE"]);
      const id = tripActorId(event.tripId);
      const cameraKey = event.cameraKey ?? context.trips[String(event.tripId)]?.cameraKey ?? "";
      if (!system.get(id)) {
        enqueue.spawnChild("trip", {
          id,
          systemId: id,
          input: {
            tripId: event.tripId,
            cameraKey,
            status: event.type === "TRIP.OPENED" ? "open" : undefined,
            ...(event.type === "TRIP.UNSAVE" ? { unsave: { by: event.by, at: event.at } } : {}),
          },
        });
      }
      enqueue.assign({ trips: { ...context.trips, [String(event.tripId)]: { cameraKey } } });
    }),
    /** The camera's pending save was applied (its trip opened) or is moot (it stopped). */
    dropPendingSave: assign(({ context, event }) => {
      assertEvent(event, ["TRIP.OPENED", "CAMERA.STOPPED"]);
      return context.pendingSaves?.[event.cameraKey] ? { pendingSaves: without(context.pendingSaves, event.cameraKey) } : {};
    }),
    /** After routing SAVE to the open trips: recording cameras without a trip wait for theirs. */
    notePendingSaves: enqueueActions(({ context, event, enqueue, system }) => {
      assertEvent(event, ["SAVE", "TRIP.SAVE_CURRENT"]);
      const open = openTripsByCamera(system);
      const waiting = camerasAwaitingTrip(context, system, open);
      if (waiting.length > 0) {
        const pending = { ...(context.pendingSaves ?? {}) };
        for (const key of waiting) pending[key] = { at: event.at, source: event.source };
        enqueue.assign({ pendingSaves: pending });
      }
      if (open.size === 0 && waiting.length === 0) enqueue({ type: "nothingToSave", params: { at: event.at, source: event.source } });
    }),
    /** One incident actor per target camera that has none for this moment yet. */
    startIncidents: enqueueActions(({ context, event, enqueue, system }) => {
      assertEvent(event, "INCIDENT");
      const settings = context.incidentSettings ?? DEFAULT_INCIDENT_SETTINGS;
      const targets = event.cameraKey ? [event.cameraKey] : Object.values(context.cameras).filter((c) => c.enabled).map((c) => c.key);
      const incidents = { ...(context.incidents ?? {}) };
      for (const key of targets) {
        const cam = context.cameras[key];
        if (!cam) continue;
        const incidentId = incidentIdFor(event.at, key);
        const id = incidentActorId(incidentId);
        if (incidents[incidentId] || system.get(id)) continue;
        const input: IncidentInput = {
          incidentId,
          cameraKey: key,
          cameraId: cam.cameraId,
          atUtc: event.at,
          fromUtc: event.at - settings.before_seconds * 1000,
          toUtc: event.at + settings.after_seconds * 1000,
          segmentMs: (cam.segmentSeconds ?? SEGMENT_SECONDS_DEFAULT) * 1000,
          source: event.source,
        };
        incidents[incidentId] = input;
        enqueue.spawnChild("incident", { id, systemId: id, input });
        // the camera locks what it records inside the window from now on
        if (system.get(cameraActorId(key)))
          enqueue.sendTo(cameraActorId(key), { type: "INCIDENT.WINDOW", incidentId, fromUtc: input.fromUtc, toUtc: input.toUtc });
      }
      enqueue.assign({ incidents });
    }),
    /** A batch to render: spawned when it has no actor, else told to render again (new images). */
    startTimelapse: enqueueActions(({ context, event, enqueue, system }) => {
      assertEvent(event, "TIMELAPSE.START");
      const id = timelapseActorId(event.batch.batchId);
      // a batch actor that ended was stopped and forgotten (childDone): one still known is running
      if (context.timelapses?.[String(event.batch.batchId)] && system.get(id)) {
        enqueue.sendTo(id, { type: "REGENERATE" });
        return;
      }
      enqueue.spawnChild("timelapseBatch", { id, systemId: id, input: event.batch });
      enqueue.assign({ timelapses: { ...(context.timelapses ?? {}), [String(event.batch.batchId)]: event.batch } });
    }),
    /** A settings change to apply: its actor is spawned unless one runs already. */
    startApply: enqueueActions(({ context, event, enqueue, system }) => {
      assertEvent(event, "APPLY.START");
      const id = applyActorId(event.apply.applyId);
      if (system.get(id)) return;
      enqueue.spawnChild("applyConfig", { id, systemId: id, input: event.apply });
      enqueue.assign({ applies: { ...(context.applies ?? {}), [String(event.apply.applyId)]: event.apply } });
    }),
    noteGpio: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, "GPIO.STATUS");
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
      assertEvent(event, "ALPR.ERROR");
      enqueue({ type: "serviceError", params: { id: "alpr", error: event.error } });
    }),
    clearPendingSaves: assign({ pendingSaves: {} }),
    /** A child finished: stopped; a trip or incident that ended normally is forgotten. */
    childDone: enqueueActions(({ context, event, enqueue }) => {
      const id = childIdOf(event.type, DONE_PREFIX);
      enqueue.stopChild(id);
      const failed = typeof (event as { output?: { failed?: unknown } }).output?.failed === "string";
      const [kind, name] = kindOf(id);
      const forget = FORGET_ON_DONE[kind];
      if (forget && !failed) enqueue.assign(forget(context, name));
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
      if (SERVICE_IDS.has(id)) enqueue({ type: "serviceError", params: { id, error: errorMessage(event) } });
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
        reason = errorMessage(event);
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
    /** CHILD.RESTART: the child is spawned again from what the supervisor knows of it (`RESPAWN`). */
    restartChild: enqueueActions(({ context, event, enqueue, system }) => {
      assertEvent(event, "CHILD.RESTART");
      const id = event.id;
      const r = context.restarts[id];
      if (r) enqueue.assign({ restarts: { ...context.restarts, [id]: { ...r, deadline: 0 } } });
      if (system.get(id)) return;
      const [kind, name] = kindOf(id);
      const spawn = RESPAWN[kind]?.(context, name);
      if (!spawn) return;
      enqueue.spawnChild(spawn.src as "camera", { id, systemId: id, input: spawn.input as CameraInput });
      if (spawn.then) enqueue.sendTo(id, spawn.then);
    }),
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
    services: { gpio: null, alpr: false, timelapseCapture: false },
    timelapses: {},
    incidentSettings: { ...DEFAULT_INCIDENT_SETTINGS },
    incidents: {},
    gpio: null,
    pendingSaves: {},
    maintenanceDeadline: null,
    maintenanceEveryMs: MAINTENANCE_EVERY_MS,
    healthMonitors: {},
    applies: {},
  }),
  on: {
    BOOT: { target: ".running", actions: "boot" },
    "TRIP.OPENED": { actions: ["ensureTrip", "route", "dropPendingSave"] },
    "TRIP.EVICTED": { actions: ["ensureTrip", "route"] },
    "TRIP.SAVE": { actions: ["ensureTrip", "route"] },
    "TRIP.UNSAVE": { actions: ["ensureTrip", "route"] },
    "TRIP.SAVE_CURRENT": { actions: ["route", "notePendingSaves"] },
    SAVE: { actions: ["route", "notePendingSaves"] },
    INCIDENT: { actions: "startIncidents" },
    "INCIDENT.READY": { actions: "route" },
    "TIMELAPSE.START": { actions: "startTimelapse" },
    "TIMELAPSE.CANCEL": { actions: "route" },
    "APPLY.START": { actions: "startApply" },
    "APPLY.CONFIRM": { actions: "route" },
    "APPLY.CANCEL": { actions: "route" },
    "GPIO.STATUS": { actions: "noteGpio" },
    "ALPR.ERROR": { actions: "noteServiceError" },
    MAINTENANCE: { actions: "maintenance" },
    "JOURNAL.FAILED": { actions: "failActor" },
    "xstate.error.actor.*": { actions: "stopFailedChild" },
    "xstate.done.actor.*": { actions: "childDone" },
  },
  states: {
    idle: {},
    running: {
      on: {
        SHUTDOWN: { target: "shutdown", actions: "route" },
        "CAMERA.STOPPED": { actions: ["route", "dropPendingSave"] },
        "xstate.error.actor.*": { actions: ["stopFailedChild", "scheduleRestart"] },
        "xstate.done.actor.*": { actions: ["childDone", "scheduleRestart"] },
        "CHILD.RESTART": { actions: "restartChild" },
      },
    },
    shutdown: {
      entry: "clearPendingSaves",
      on: {
        "TRIPS.CLOSE": { target: "down", actions: "route" },
      },
    },
    down: {},
  },
});

export type SupervisorMachine = typeof supervisorMachine;
