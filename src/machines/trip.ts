/**
 * The `trip` machine (pure; effects are named actions/actors provided by `src/actors/trip.ts`).
 *
 * ```
 * open --CLOSE--> closed --SAVE--> saving --done, complete--> saved (final)
 *   |               |                 |--done, trip still open--> savedOpen --CLOSE--> saving (count again)
 *   |               |                                             \--UNSAVE--> open (deleted while recording)
 *   |               |                 \--error--> back to open/closed, lastError kept
 *   +--SAVE---------+--> saving
 *   +--EVICTED------+--> evicted (final)
 * (any) --JOURNAL.FAILED--> failed (final, output { failed }): the supervisor spawns a fresh actor
 * ```
 *
 * A trip actor may be created for a trip that already exists in any status (restart, eviction
 * of a closed trip, a save asked for a closed trip): the initial `init` state runs `loadStatus`
 * (the wiring reads `trips.status`) and moves at once, with no event, to the state that matches
 * it (`saved` while the trip is still open -> `savedOpen`). Every state entry runs
 * `writeStatus`, which the wiring turns into `trips.status` in the journal's transaction; CLOSE
 * also runs `closeTrip` (end time, final segment).
 *
 * Saving:
 * - entering `saving` runs `lockSegments`: every segment of the trip is evidence-locked in the
 *   same transaction as the status change. While the trip is `saving`/`saved` and still open,
 *   the indexer locks each segment added to it in that segment's own transaction (camera wiring);
 * - `saving` invokes `saveTrip` (string src), which checks and counts the trip's kept footage
 *   (it stays in the ring, evidence-locked: stored once); it must be safe to repeat (an invoked
 *   actor restarts from scratch after a restore). Its output's `complete` says whether the kept
 *   footage covers the whole, closed trip (an output that is not an object counts as complete);
 * - done and complete: `saved` (final); `recordSaved` writes `saved_trips` in the same
 *   transaction as the status `saved`;
 * - done while the trip is still open: `savedOpen` (status `saved`, `saved_trips` written, its
 *   new segments keep being locked). When the trip closes (CLOSE, e.g. at power-down) it goes
 *   through `saving` again, which counts every segment, then `saved`;
 * - done, not complete, but closed meanwhile: `saving` again (count again);
 * - error: back to `closed` / `open` with `lastError` (`logSaveError` writes the event log);
 *   the evidence locks stay;
 * - UNSAVE while `savedOpen` (the driver deletes the saved trip that is still recording, e.g. to
 *   make room on a full card): `unsave` removes the trip's evidence locks and its `saved_trips`
 *   row in the transaction that writes the status `open`; the trip goes on unsaved.
 * - A saved trip that is closed has no live actor (`saved` is final). Deleting it spawns a trip
 *   actor with `input.unsave` (who, when): `init` finds the trip saved and closed and goes to
 *   `closed` running `unsave` in the transaction that writes the status `closed`, so the journal
 *   records the change (`saved -> closed`) like any other.
 * The machine's default `saveTrip` fails with "not implemented"; the wiring provides the real one.
 */
import { assertEvent, assign, fromPromise, setup } from "xstate";
import type { TripCommand } from "./events.ts";

export type TripStatus = "open" | "closed" | "saving" | "saved" | "evicted";

export type TripEvent = TripCommand | { type: "JOURNAL.FAILED"; error: string } | { type: "TIMERS.REARM" };

export interface TripInput {
  tripId: number;
  cameraKey: string;
  /** Status known to the spawner; `loadStatus` may replace it with the database's. */
  status?: TripStatus;
  /** Spawned to delete the saved, closed trip: who asked and when (ms). */
  unsave?: UnsaveRequest;
}

/** A request to delete a saved trip (stop keeping its footage). */
export interface UnsaveRequest {
  by: string;
  at: number;
}

export interface SaveTripInput {
  tripId: number;
  cameraKey: string;
  source: "button" | "ui" | "api" | "cli";
  at: number;
}

/** What a finished save produced (the real `saveTrip` output, src/actors/saveTrip.ts). Paths relative to data_dir. */
export interface SavedInfo {
  complete: boolean;
  savedDir: string;
  /** A legacy MP4 file; null: the MP4 is made when it is downloaded. */
  mp4Path: string | null;
  segments?: number;
  bytes?: number;
  /** Recorded time kept, ms. */
  durationMs?: number;
  lastAbsolute?: number;
  missing?: number;
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
  /** The last finished save (null before it, or when the save's output was not an object). */
  saved: SavedInfo | null;
  lastError: string | null;
  /** Why the actor ended in `failed` (null otherwise). */
  failure: string | null;
  /** A delete asked for at spawn (`input.unsave`), applied by `init` to a saved, closed trip. */
  unsaveRequest?: UnsaveRequest | null;
}

/** Output of a finished trip actor: its final status, or the failure that ended it. */
export type TripOutput = { status: TripStatus } | { failed: string };

/** Until the wiring provides it: saving fails clearly instead of pretending to succeed. */
const notImplementedSave = fromPromise<unknown, SaveTripInput>(async () => {
  throw new Error("saving a trip is not implemented yet");
});

type StatusParams = { status: TripStatus };

const outputOf = (event: unknown): unknown => (event as { output?: unknown }).output;

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
    /** Entering `saving`: evidence-lock every segment of the trip, event log (journal transaction). */
    lockSegments: () => {},
    /** A save finished: `saved_trips` from `context.saved`, event log (journal transaction). */
    recordSaved: () => {},
    /** A save failed: event log (journal transaction). */
    logSaveError: () => {},
    /** UNSAVE: the trip's `trip-<id>` evidence locks and `saved_trips` row go, event log (journal transaction). */
    unsave: (_, _params: { by: string; at: number }) => {},
    noteJournalFailure: assign(({ event }) => {
      assertEvent(event, "JOURNAL.FAILED");
      return { failure: `journal failed: ${event.error}` };
    }),
    /** The first CLOSE sets the close time and reason; a later one keeps them. */
    noteClose: assign(({ event, context }) => {
      assertEvent(event, "CLOSE");
      return context.isClosed ? {} : { isClosed: true, closedAt: event.at, closeReason: event.reason };
    }),
    noteSave: assign(({ event, context }) => {
      assertEvent(event, "SAVE");
      return { saveRequest: { tripId: context.tripId, cameraKey: context.cameraKey, source: event.source, at: event.at }, lastError: null };
    }),
    noteSaved: assign(({ event }) => {
      const o = outputOf(event) as Partial<SavedInfo> | null | undefined;
      if (!o || typeof o !== "object" || (typeof o.mp4Path !== "string" && o.mp4Path !== null) || typeof o.savedDir !== "string") return { saved: null, lastError: null };
      const saved: SavedInfo = { complete: o.complete !== false, savedDir: o.savedDir, mp4Path: o.mp4Path };
      for (const k of ["segments", "bytes", "durationMs", "lastAbsolute", "missing"] as const) if (typeof o[k] === "number") saved[k] = o[k];
      return { saved, lastError: null };
    }),
    noteSaveError: assign(({ event }) => {
      const error = (event as unknown as { error?: unknown }).error;
      return { lastError: `save failed: ${error instanceof Error ? error.message : String(error)}` };
    }),
    noteEvicted: assign(({ event }) => {
      assertEvent(event, "EVICTED");
      return { evictedAt: event.at };
    }),
  },
  guards: {
    wasClosed: ({ context }) => context.isClosed,
    statusIs: ({ context }, params: StatusParams) => context.status === params.status,
    notYetClosed: ({ context }) => !context.isClosed,
    savedAndClosed: ({ context }) => context.status === "saved" && context.isClosed,
    /** Spawned to delete this saved, closed trip. */
    unsaveOnStart: ({ context }) => Boolean(context.unsaveRequest) && context.status === "saved" && context.isClosed,
    /** The save's output covers the whole, closed trip (an output that is not an object counts as complete). */
    saveComplete: ({ event }) => {
      const o = outputOf(event);
      return !o || typeof o !== "object" || (o as { complete?: unknown }).complete !== false;
    },
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
    saved: null,
    lastError: null,
    failure: null,
    unsaveRequest: input.unsave ?? null,
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
        {
          guard: "unsaveOnStart",
          target: "closed",
          actions: [
            { type: "unsave", params: ({ context }) => context.unsaveRequest! },
            assign({ unsaveRequest: null, saved: null, saveRequest: null }),
          ],
        },
        { guard: { type: "statusIs", params: { status: "closed" } }, target: "closed" },
        { guard: { type: "statusIs", params: { status: "saving" } }, target: "saving" },
        { guard: "savedAndClosed", target: "saved" },
        { guard: { type: "statusIs", params: { status: "saved" } }, target: "savedOpen" },
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
      entry: [assign({ status: "saving" as TripStatus }), { type: "writeStatus", params: { status: "saving" } }, "lockSegments"],
      invoke: {
        src: "saveTrip",
        input: ({ context }): SaveTripInput =>
          context.saveRequest ?? { tripId: context.tripId, cameraKey: context.cameraKey, source: "api", at: 0 },
        onDone: [
          { guard: "saveComplete", target: "saved", actions: ["noteSaved", "recordSaved"] },
          // closed while the open trip's footage was being counted: count again with every segment
          { guard: "wasClosed", target: "saving", reenter: true, actions: ["noteSaved", "recordSaved"] },
          { target: "savedOpen", actions: ["noteSaved", "recordSaved"] },
        ],
        onError: [
          { guard: "wasClosed", target: "closed", actions: ["noteSaveError", "logSaveError"] },
          { target: "open", actions: ["noteSaveError", "logSaveError"] },
        ],
      },
      on: {
        // a trip saved while still recording can be closed meanwhile; it stays `saving` (the
        // save notices the close and counts again with every segment)
        CLOSE: { guard: "notYetClosed", actions: ["noteClose", "closeTrip"] },
        SAVE: { actions: [] },
        EVICTED: { actions: [] },
      },
    },
    /** Saved while still recording: new segments keep being locked; counted again at close. */
    savedOpen: {
      entry: [assign({ status: "saved" as TripStatus }), { type: "writeStatus", params: { status: "saved" } }],
      on: {
        CLOSE: { target: "saving", actions: ["noteClose", "closeTrip"] },
        UNSAVE: {
          target: "open",
          actions: [
            { type: "unsave", params: ({ event }) => ({ by: event.by, at: event.at }) },
            assign({ saved: null, saveRequest: null }),
          ],
        },
        SAVE: { actions: [] },
        EVICTED: { actions: [] },
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

/** Trip states whose actor stays alive across a restart (restored from the journal / BOOT). */
export const LIVE_TRIP_STATES = new Set(["open", "saving", "savedOpen"]);
