/**
 * The `trip` machine (pure; effects are named actions/actors provided by `src/actors/trip.ts`).
 *
 * ```
 * open --CLOSE--> closed --SAVE--> saving --done--> saved (final)
 *   |               |                 \--error--> back to open/closed, lastError kept
 *   +--SAVE---------+--> saving
 *   +--EVICTED------+--> evicted (final)
 * (any) --JOURNAL.FAILED--> failed (final, output { failed }): the supervisor spawns a fresh actor
 * ```
 *
 * A trip actor may be created for a trip that already exists in any status (restart, eviction
 * of a closed trip): the initial `init` state runs `loadStatus` (the wiring reads `trips.status`)
 * and moves at once, with no event, to the state that matches it. Every state entry runs
 * `writeStatus`, which the wiring turns into `trips.status` in the journal's transaction;
 * CLOSE also runs `closeTrip` (end time, final segment).
 *
 * Saving (copying the trip out of the ring) is the invoked actor `saveTrip` (string src);
 * the default implementation fails with "not implemented" — issue 3 provides the real one,
 * which must be safe to repeat (an invoked actor restarts from scratch after a restore).
 */
import { assign, fromPromise, setup } from "xstate";
import type { TripCommand } from "./events.ts";

export type TripStatus = "open" | "closed" | "saving" | "saved" | "evicted";

export type TripEvent = TripCommand | { type: "JOURNAL.FAILED"; error: string } | { type: "TIMERS.REARM" };

export interface TripInput {
  tripId: number;
  cameraKey: string;
  /** Status known to the spawner; `loadStatus` may replace it with the database's. */
  status?: TripStatus;
}

export interface SaveTripInput {
  tripId: number;
  cameraKey: string;
  source: "button" | "ui" | "api" | "cli";
  at: number;
}

export interface TripContext {
  tripId: number;
  cameraKey: string;
  status: TripStatus;
  /** True once the trip is closed (it may be saving or saved afterwards). */
  isClosed: boolean;
  closedAt: number | null;
  closeReason: "shutdown" | "older_boot" | "camera_stopped" | null;
  evictedAt: number | null;
  saveRequest: SaveTripInput | null;
  lastError: string | null;
  /** Why the actor ended in `failed` (null otherwise). */
  failure: string | null;
}

/** Output of a finished trip actor: its final status, or the failure that ended it. */
export type TripOutput = { status: TripStatus } | { failed: string };

/** Until issue 3 lands: saving fails clearly instead of pretending to succeed. */
const notImplementedSave = fromPromise<unknown, SaveTripInput>(async () => {
  throw new Error("saving a trip is not implemented yet");
});

type StatusParams = { status: TripStatus };

export const tripMachine = setup({
  types: {
    context: {} as TripContext,
    events: {} as TripEvent,
    input: {} as TripInput,
  },
  actors: {
    saveTrip: notImplementedSave,
  },
  actions: {
    /** Replaced by the wiring with an assign that reads `trips.status`. */
    loadStatus: () => {},
    /** Writes `trips.status` (journal transaction). */
    writeStatus: (_, _params: StatusParams) => {},
    /** closeTrip(db, tripId, at) (journal transaction). */
    closeTrip: () => {},
    /** Marks the trip fully evicted (journal transaction). */
    markEvicted: () => {},
    noteJournalFailure: assign(({ event }) => ({
      failure: `journal failed: ${event.type === "JOURNAL.FAILED" ? event.error : event.type}`,
    })),
    noteClose: assign(({ event, context }) =>
      event.type === "CLOSE" && !context.isClosed ? { isClosed: true, closedAt: event.at, closeReason: event.reason } : {},
    ),
    noteSave: assign(({ event, context }) =>
      event.type === "SAVE"
        ? { saveRequest: { tripId: context.tripId, cameraKey: context.cameraKey, source: event.source, at: event.at }, lastError: null }
        : {},
    ),
    noteSaveError: assign(({ event }) => {
      const error = (event as unknown as { error?: unknown }).error;
      return { lastError: `save failed: ${error instanceof Error ? error.message : String(error)}` };
    }),
    noteEvicted: assign(({ event }) => (event.type === "EVICTED" ? { evictedAt: event.at } : {})),
  },
  guards: {
    wasClosed: ({ context }) => context.isClosed,
    statusIs: ({ context }, params: StatusParams) => context.status === params.status,
    notYetClosed: ({ context }) => !context.isClosed,
  },
}).createMachine({
  id: "trip",
  initial: "init",
  context: ({ input }) => ({
    tripId: input.tripId,
    cameraKey: input.cameraKey,
    status: input.status ?? "open",
    isClosed: false,
    closedAt: null,
    closeReason: null,
    evictedAt: null,
    saveRequest: null,
    lastError: null,
    failure: null,
  }),
  output: ({ context }): TripOutput => (context.failure ? { failed: context.failure } : { status: context.status }),
  on: {
    // finish; the supervisor spawns a fresh actor, which reads the status from the database
    "JOURNAL.FAILED": { target: ".failed", actions: "noteJournalFailure" },
  },
  states: {
    init: {
      entry: "loadStatus",
      always: [
        { guard: { type: "statusIs", params: { status: "closed" } }, target: "closed" },
        { guard: { type: "statusIs", params: { status: "saving" } }, target: "saving" },
        { guard: { type: "statusIs", params: { status: "saved" } }, target: "saved" },
        { guard: { type: "statusIs", params: { status: "evicted" } }, target: "evicted" },
        { target: "open" },
      ],
    },
    open: {
      entry: [assign({ status: "open" as TripStatus }), { type: "writeStatus", params: { status: "open" } }],
      on: {
        CLOSE: { target: "closed", actions: ["noteClose", "closeTrip"] },
        SAVE: { target: "saving", actions: "noteSave" },
        EVICTED: { target: "evicted", actions: "noteEvicted" },
      },
    },
    closed: {
      entry: [assign({ status: "closed" as TripStatus, isClosed: true }), { type: "writeStatus", params: { status: "closed" } }],
      on: {
        SAVE: { target: "saving", actions: "noteSave" },
        EVICTED: { target: "evicted", actions: "noteEvicted" },
      },
    },
    saving: {
      entry: [assign({ status: "saving" as TripStatus }), { type: "writeStatus", params: { status: "saving" } }],
      invoke: {
        src: "saveTrip",
        input: ({ context }): SaveTripInput =>
          context.saveRequest ?? { tripId: context.tripId, cameraKey: context.cameraKey, source: "api", at: 0 },
        onDone: { target: "saved" },
        onError: [
          { guard: "wasClosed", target: "closed", actions: "noteSaveError" },
          { target: "open", actions: "noteSaveError" },
        ],
      },
      on: {
        // a trip saved while still recording can be closed meanwhile; it stays `saving`
        CLOSE: { guard: "notYetClosed", actions: ["noteClose", "closeTrip"] },
        SAVE: { actions: [] },
      },
    },
    saved: {
      type: "final",
      entry: [assign({ status: "saved" as TripStatus }), { type: "writeStatus", params: { status: "saved" } }],
    },
    failed: {
      type: "final",
    },
    evicted: {
      type: "final",
      entry: [assign({ status: "evicted" as TripStatus }), { type: "writeStatus", params: { status: "evicted" } }, "markEvicted"],
    },
  },
});

export type TripMachine = typeof tripMachine;
