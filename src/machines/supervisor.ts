/**
 * The `supervisor` machine: the root actor (`systemId: "supervisor"`). Pure; the wiring in
 * `src/actors/supervisor.ts` provides the real `camera` and `trip` machines.
 *
 * ```
 * idle --BOOT--> running --SHUTDOWN--> shutdown --TRIPS.CLOSE--> down
 *  (BOOT from any state goes to running again, e.g. after a restore)
 * ```
 *
 * Children, all spawned by string src so they persist with the supervisor's snapshot:
 * - `camera:<key>` (src `camera`), one per configured camera; `DISABLE`d when `enabled = false`.
 * - `trip:<id>` (src `trip`), one per open or saving trip, spawned on `TRIP.OPENED` (the
 *   indexer opened a trip), on `BOOT` for the trips the database holds open/saving, and on
 *   demand for `TRIP.EVICTED` / `TRIP.SAVE` of a trip that has no actor.
 *
 * `BOOT` carries what the runtime read from the configuration and database: it spawns the
 * missing cameras, stops the removed ones, starts/disables them, spawns trip actors, closes the
 * trips of older boots (`CLOSE`, reason `older_boot`, at the trip's last segment) and sends
 * `TIMERS.REARM` to every child so restored deadlines are scheduled again.
 *
 * One-for-one restart: a child that fails — it threw (`xstate.error.actor.<id>`) or finished
 * with output `{ failed }` (a camera or trip whose journal write failed) — is stopped and
 * spawned again after `restartInitialMs * 2^(n-1)` (cap `restartMaxMs`) for its n-th failure;
 * the deadline is kept in context. Only while `running`. A trip that finished normally
 * (saved, evicted) is just removed.
 */
import { assign, enqueueActions, setup, type AnyActorRef } from "xstate";
import { cameraMachine, nowOf, backoffDelay, type CameraInput } from "./camera.ts";
import { tripMachine, type TripStatus } from "./trip.ts";

/** A configured camera as BOOT carries it. */
export interface BootCamera extends CameraInput {
  enabled: boolean;
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

export type SupervisorEvent =
  | { type: "BOOT"; at: number; cameras: BootCamera[]; trips: BootTrip[] }
  | { type: "TRIP.OPENED"; tripId: number; cameraKey: string; at: number }
  | { type: "TRIP.EVICTED"; tripId: number; cameraKey: string; at: number }
  | { type: "TRIP.SAVE"; tripId: number; cameraKey?: string; at: number; source: "button" | "ui" | "api" | "cli" }
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
}

export const cameraActorId = (key: string) => `camera:${key}`;
export const tripActorId = (tripId: number) => `trip:${tripId}`;

const ERROR_PREFIX = "xstate.error.actor.";
const DONE_PREFIX = "xstate.done.actor.";

function childIdOf(type: string, prefix: string): string {
  return type.slice(prefix.length);
}

/** Registered actors of the system whose systemId starts with `prefix`. */
function actorsWithPrefix(system: { getAll?: () => Record<string, AnyActorRef> }, prefix: string): [string, AnyActorRef][] {
  const all = system.getAll ? system.getAll() : {};
  return Object.entries(all).filter(([id]) => id.startsWith(prefix));
}

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
  actors: {
    camera: cameraMachine,
    trip: tripMachine,
  },
  actions: {
    failActor: ({ event }) => {
      throw new Error(`supervisor journal failed: ${event.type === "JOURNAL.FAILED" ? event.error : event.type}`);
    },
    boot: enqueueActions(({ context, event, enqueue, system }) => {
      if (event.type !== "BOOT") return;
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
      enqueue.assign({ cameras, trips, restarts: {} });
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
    }),
    stopCameras: enqueueActions(({ enqueue, system }) => {
      for (const [id] of actorsWithPrefix(system, "camera:")) enqueue.sendTo(id, { type: "STOP" });
    }),
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
      }
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
  }),
  on: {
    BOOT: { target: ".running", actions: "boot" },
    "TRIP.OPENED": { actions: "ensureTrip" },
    "TRIP.EVICTED": { actions: "ensureTrip" },
    "TRIP.SAVE": { actions: "ensureTrip" },
    "JOURNAL.FAILED": { actions: "failActor" },
    "xstate.error.actor.*": { actions: "stopFailedChild" },
    "xstate.done.actor.*": { actions: "childDone" },
  },
  states: {
    idle: {},
    running: {
      on: {
        SHUTDOWN: { target: "shutdown" },
        "xstate.error.actor.*": { actions: ["stopFailedChild", "scheduleRestart"] },
        "xstate.done.actor.*": { actions: ["childDone", "scheduleRestart"] },
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
      entry: "stopCameras",
      on: {
        "TRIPS.CLOSE": { target: "down", actions: "closeTrips" },
      },
    },
    down: {},
  },
});

export type SupervisorMachine = typeof supervisorMachine;
