/**
 * The `camera` machine (pure: no I/O; effects are the named actions/actors that
 * `src/actors/camera.ts` provides).
 *
 * ```
 * stopped --START--> online.starting --RECEIVING|SEGMENT_CLOSED--> online.recording <--STALL/SEGMENT_CLOSED--> online.stalled
 *    ^                    |   (recorder invoked for the whole of `online`)                        |
 *    |                    +--PROCESS_EXIT | recorder error | stalled too long--> backoff --deadline--> online.starting
 *    +--PROCESS_EXIT-- online.stopping <--STOP--  (graceful: RECORDER.STOP, ffmpeg finalises its segment;
 *                                                  a START meanwhile starts again once stopped)
 *                       |   ^--RECORDER.RESTART-- online (new encoder settings)
 *                       \--PROCESS_EXIT after RECORDER.RESTART--> online (a fresh recorder; no stop reported)
 * disabled <--DISABLE-- (any)        disk_full <--PROCESS_EXIT-- online.disk_full <--DISK_FULL_LOCKED-- online
 *                                    (retention found only locked footage: RECORDER.STOP, ffmpeg finishes
 *                                    its segment, indexed as usual, before the ring is settled);
 *                                    re-checked every diskRetryMs, and at once on DISK.RECHECK (space freed)
 * failed (final) <--JOURNAL.FAILED-- (any): the journal could not persist a transition; the
 *   actor finishes with output `{ failed }` (its recorder is stopped on the way out) and the
 *   supervisor spawns a fresh one, which starts from the database's truth.
 * ```
 *
 * A camera that reaches `stopped` because of STOP (graceful stop done, or STOP in backoff /
 * disk_full) runs `reportStopped`; the wiring tells the supervisor (`CAMERA.STOPPED`), which
 * closes the camera's open trip (reason `camera_stopped`) unless it is shutting down anyway.
 *
 * The recorder (ffmpeg) is invoked once, with id `recorder` and string src `recorder`, by the
 * compound state `online`, so it keeps running across starting/recording/stalled/stopping.
 *
 * Timers are stored as absolute deadlines (Unix ms) in context and every `after` computes its
 * delay from the stored deadline and the actor's clock (`nowOf(self)`), because XState v5 does
 * not persist pending timers. A restored actor re-arms them when it receives `TIMERS.REARM`
 * (the state re-enters itself and schedules the remaining time).
 *
 * In `backoff` the invoked `settleSegments` actor settles what the failed run left in the ring
 * (a segment file ffmpeg never reported: salvaged into the index or deleted); the recorder is
 * restarted only once that is done AND the deadline has passed. `disk_full` invokes it too, after
 * the recorder it stopped has exited (`online.disk_full` waits for PROCESS_EXIT, like backoff is
 * entered on it).
 *
 * Backoff: exponential, `backoffInitialMs * 2^(n-1)` for the n-th consecutive failure, capped
 * at `backoffMaxMs`; n resets to 0 when a segment is recorded.
 */
import { assertEvent, assign, fromCallback, sendTo, setup, type AnyActorRef } from "xstate";
import type { CameraCommand, RecorderCommand, RecorderEvent } from "./events.ts";

/** Events only the runtime sends: re-arm timers after a restore, disk space freed, journal failure. */
export type CameraInternalEvent =
  | { type: "TIMERS.REARM" }
  | { type: "DISK.FREED"; at: number }
  /** Space may have been freed (a saved trip deleted, evidence unlocked): re-check now, not at the next retry. */
  | { type: "DISK.RECHECK" }
  | { type: "JOURNAL.FAILED"; error: string }
  /** The `settleSegments` actor finished (interrupted segments salvaged or deleted). */
  | { type: "SEGMENTS.SETTLED"; salvaged: number; error?: string };

export type CameraEvent = RecorderEvent | CameraCommand | CameraInternalEvent;

/** What the supervisor gives a camera actor. Times in ms. No source URL (it would be persisted). */
export interface CameraInput {
  key: string;
  cameraId: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** How long `stalled` may last before the recorder is restarted through backoff. */
  stallMs: number;
  /** Delay between retention re-checks while `disk_full` (default 60 000). */
  diskRetryMs?: number;
  /** Grace for a graceful stop before the recorder is killed (default 4 000). */
  stopTimeoutMs?: number;
  /** Absolute index the next segment should get, when known. */
  startNumber?: number;
}

/** Input of the invoked `recorder` actor as the machine sees it (the wiring adds config and paths). */
export interface RecorderRequest {
  key: string;
  cameraId: number;
  startNumber: number;
}

export interface CameraContext {
  key: string;
  cameraId: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  stallMs: number;
  diskRetryMs: number;
  stopTimeoutMs: number;
  reconnectCount: number;
  lastError: string | null;
  pid: number | null;
  lastStartedAt: number | null;
  /** Absolute ms when backoff ends (null outside backoff). */
  backoffDeadline: number | null;
  consecutiveFailures: number;
  stallDeadline: number | null;
  stopDeadline: number | null;
  diskRetryDeadline: number | null;
  /** Segments closed by this actor. */
  segments: number;
  lastSegmentAt: number | null;
  /** Next absolute index as far as this actor knows (the wiring re-reads the database). */
  nextAbsolute: number;
  /** Why the actor ended in `failed` (null otherwise). */
  failure: string | null;
  /** Backoff: the interrupted segments of the last run are settled / the deadline passed. */
  settled: boolean;
  backoffElapsed: boolean;
  /** disk_full: retention found room (DISK.FREED) before the interrupted segment was settled. */
  diskFreed?: boolean;
  /**
   * Pending incident windows on this camera by incident id (Unix ms UTC), from the supervisor's
   * INCIDENT.WINDOW; a window is dropped once a segment starting at or after its end closes.
   * Absent in snapshots written before it existed = none.
   */
  incidentWindows?: Record<string, IncidentWindow>;
  /**
   * START arrived while stopping: recording starts again as soon as the stop is complete (the
   * user pressed Start while the previous Stop was still finishing its segment). Absent in
   * snapshots written before it existed = false.
   */
  startPending?: boolean;
  /**
   * RECORDER.RESTART: the stop under way is a restart (new encoder settings): once ffmpeg has
   * finished its segment the recorder starts again at once, without reporting a stop (the trip
   * goes on). Absent in snapshots written before it existed = false.
   */
  restartPending?: boolean;
}

/** The time span of a pending incident, Unix ms UTC. */
export interface IncidentWindow {
  fromUtc: number;
  toUtc: number;
}

/** Ids of the windows in `windows` that overlap [fromUtc, toUtc) (ms UTC). */
export function incidentsOverlapping(windows: Record<string, IncidentWindow> | undefined, fromUtc: number, toUtc: number): string[] {
  return Object.entries(windows ?? {})
    .filter(([, w]) => fromUtc < w.toUtc && toUtc > w.fromUtc)
    .map(([id]) => id);
}

/** Output of a camera actor: it only ever finishes by failing (the supervisor restarts it). */
export interface ActorFailureOutput {
  failed: string;
}

/** Camera states as written to `camera_status.state` and the transition log. */
export type CameraStateName = "stopped" | "disabled" | "starting" | "recording" | "stalled" | "stopping" | "backoff" | "disk_full" | "failed";

/**
 * The actor's clock in ms: the `now()` of the clock the actor system was created with
 * (SimulatedClock in tests, the runtime's clock), else `Date.now()`.
 */
export function nowOf(self: AnyActorRef | undefined): number {
  const clock = (self as unknown as { clock?: { now?: () => number } } | undefined)?.clock;
  return typeof clock?.now === "function" ? clock.now() : Date.now();
}

/** Backoff before the n-th consecutive failure's restart (n >= 1), ms. */
export function backoffDelay(n: number, initialMs: number, maxMs: number): number {
  const exp = Math.min(Math.max(n, 1) - 1, 40);
  return Math.min(initialMs * 2 ** exp, maxMs);
}

const remaining = (deadline: number | null, self: AnyActorRef) => Math.max(0, (deadline ?? 0) - nowOf(self));

function exitReason(e: Extract<RecorderEvent, { type: "PROCESS_EXIT" }>): string {
  if (e.error) return e.error;
  if (e.signal) return `ffmpeg exited on signal ${e.signal}`;
  return `ffmpeg exited with code ${e.code ?? "null"}`;
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Input of the invoked `settleSegments` actor (backoff: settle what the last ffmpeg left). */
export interface SettleRequest {
  key: string;
  cameraId: number;
}

/** Default settle: nothing to do (the runtime provides the real one). Replies at once. */
const nothingToSettle = fromCallback<{ type: string }, SettleRequest>(({ sendBack }) => {
  sendBack({ type: "SEGMENTS.SETTLED", salvaged: 0 });
});

/** Placeholder recorder: reports a clear failure until the runtime provides the real one. */
const missingRecorder = fromCallback<RecorderCommand, RecorderRequest>(({ sendBack }) => {
  sendBack({ type: "PROCESS_EXIT", code: null, signal: null, error: "no recorder provided", at: Date.now() });
});

type StatusParams = { state: CameraStateName };

export const cameraMachine = setup({
  types: {
    context: {} as CameraContext,
    events: {} as CameraEvent,
    input: {} as CameraInput,
  },
  actors: {
    recorder: missingRecorder,
    settleSegments: nothingToSettle,
  },
  actions: {
    /** Writes the status row (state, last_error) for the state just entered. */
    writeStatus: (_, _params: StatusParams) => {},
    /** TIMERS.REARM in a state without timers: rewrite the status row of the current state (after a restore). */
    syncStatus: () => {},
    /** RECORDER.STARTED: status row pid + last_started_at. */
    recordRunning: () => {},
    /** A failure: reconnect_count + 1, pid cleared, last_error. */
    bumpReconnect: () => {},
    /** SEGMENT_CLOSED: index the segment (one transaction, see commitSegment). */
    indexSegment: () => {},
    /** SEGMENT_CLOSED: enforce the ring; may report evicted trips or `blocked` (-> DISK_FULL_LOCKED). */
    enforceRetention: () => {},
    /** disk_full retry: run retention again; sends DISK.FREED when recording may resume. */
    recheckRetention: () => {},
    stopRecorder: sendTo("recorder", { type: "RECORDER.STOP" } satisfies RecorderCommand),
    /**
     * Recording stopped on a full card (ffmpeg has exited, its last segment indexed): the open
     * trip is marked cut short here, so the cut time is the end of its last recorded segment.
     */
    cutOpenTrip: () => {},
    /** Reached `stopped` through STOP: the wiring sends CAMERA.STOPPED to the supervisor. */
    reportStopped: () => {},
    /** The journal could not persist a transition: record why, then finish (`failed`). */
    noteJournalFailure: assign(({ event }) => {
      assertEvent(event, "JOURNAL.FAILED");
      return { failure: `journal failed: ${event.error}` };
    }),
    noteStarted: assign(({ event }) => {
      assertEvent(event, "RECORDER.STARTED");
      return { pid: event.pid, lastStartedAt: event.at };
    }),
    noteSegment: assign(({ context, event }) => {
      assertEvent(event, "SEGMENT_CLOSED");
      // a window that ended before this segment began can overlap no later segment either
      const windows = Object.entries(context.incidentWindows ?? {}).filter(([, w]) => w.toUtc > event.startUtc);
      return {
        incidentWindows: Object.fromEntries(windows),
        segments: context.segments + 1,
        lastSegmentAt: event.endUtc,
        nextAbsolute: Math.max(context.nextAbsolute, event.absoluteIndex + 1),
        consecutiveFailures: 0,
      };
    }),
    /** Counts a failure and stores the absolute backoff deadline. */
    noteFailure: assign(({ context, event, self }) => {
      let reason: string;
      if (event.type === "PROCESS_EXIT") reason = exitReason(event);
      else if ("error" in event && (event as { error?: unknown }).error !== undefined)
        reason = `recorder failed: ${errorText((event as { error: unknown }).error)}`;
      else reason = context.lastError ?? "recorder failed";
      const n = context.consecutiveFailures + 1;
      return {
        consecutiveFailures: n,
        reconnectCount: context.reconnectCount + 1,
        lastError: reason,
        pid: null,
        backoffDeadline: nowOf(self) + backoffDelay(n, context.backoffInitialMs, context.backoffMaxMs),
      };
    }),
    noteStallTimeout: assign(({ context }) => ({
      lastError: `stalled for ${Math.round(context.stallMs / 1000)} s: ${context.lastError ?? "no segment closed"}`,
    })),
    noteStall: assign(({ event, context, self }) => {
      assertEvent(event, "STALL");
      return { lastError: event.reason, stallDeadline: nowOf(self) + context.stallMs };
    }),
    noteStopping: assign(({ context, self }) => ({ stopDeadline: nowOf(self) + context.stopTimeoutMs })),
    noteStopped: assign({ pid: null, stopDeadline: null, backoffDeadline: null, stallDeadline: null, diskRetryDeadline: null, restartPending: false }),
    noteDiskFull: assign(({ event, context, self }) => {
      assertEvent(event, "DISK_FULL_LOCKED");
      return { lastError: event.reason, pid: null, diskRetryDeadline: nowOf(self) + context.diskRetryMs };
    }),
    nextDiskRetry: assign(({ context, self }) => ({ diskRetryDeadline: nowOf(self) + context.diskRetryMs })),
    clearDeadlines: assign({ backoffDeadline: null, stallDeadline: null, diskRetryDeadline: null, stopDeadline: null }),
  },
  guards: {
    settled: ({ context }) => context.settled,
    diskFreed: ({ context }) => context.diskFreed === true,
    backoffElapsed: ({ context }) => context.backoffElapsed,
    startPending: ({ context }) => context.startPending === true,
    restartPending: ({ context }) => context.restartPending === true,
  },
  delays: {
    backoffDelay: ({ context, self }) => remaining(context.backoffDeadline, self),
    stallDelay: ({ context, self }) => remaining(context.stallDeadline, self),
    stopDelay: ({ context, self }) => remaining(context.stopDeadline, self),
    diskRetryDelay: ({ context, self }) => remaining(context.diskRetryDeadline, self),
  },
}).createMachine({
  id: "camera",
  initial: "stopped",
  context: ({ input }) => ({
    key: input.key,
    cameraId: input.cameraId,
    backoffInitialMs: input.backoffInitialMs,
    backoffMaxMs: input.backoffMaxMs,
    stallMs: input.stallMs,
    diskRetryMs: input.diskRetryMs ?? 60_000,
    stopTimeoutMs: input.stopTimeoutMs ?? 4_000,
    reconnectCount: 0,
    lastError: null,
    pid: null,
    lastStartedAt: null,
    backoffDeadline: null,
    consecutiveFailures: 0,
    stallDeadline: null,
    stopDeadline: null,
    diskRetryDeadline: null,
    segments: 0,
    lastSegmentAt: null,
    nextAbsolute: input.startNumber ?? 0,
    failure: null,
    settled: false,
    backoffElapsed: false,
    startPending: false,
  }),
  output: ({ context }): ActorFailureOutput => ({ failed: context.failure ?? "camera actor finished" }),
  on: {
    // leaving every state stops the recorder (ffmpeg) cleanly; the supervisor then restarts
    // this actor from the database's truth
    "JOURNAL.FAILED": { target: ".failed", actions: "noteJournalFailure" },
    DISABLE: { target: ".disabled" },
    "TIMERS.REARM": { actions: "syncStatus" },
    "INCIDENT.WINDOW": {
      actions: assign(({ context, event }) => ({
        incidentWindows: { ...(context.incidentWindows ?? {}), [event.incidentId]: { fromUtc: event.fromUtc, toUtc: event.toUtc } },
      })),
    },
  },
  states: {
    stopped: {
      entry: [{ type: "noteStopped" }, { type: "writeStatus", params: { state: "stopped" } }],
      always: { guard: "startPending", target: "online", actions: assign({ startPending: false }) },
      on: { START: { target: "online" } },
    },
    disabled: {
      entry: [{ type: "noteStopped" }, { type: "writeStatus", params: { state: "disabled" } }],
      on: {
        DISABLE: { actions: [] },
        ENABLE: { target: "stopped" },
      },
    },
    online: {
      entry: "clearDeadlines",
      invoke: {
        id: "recorder",
        src: "recorder",
        input: ({ context }): RecorderRequest => ({
          key: context.key,
          cameraId: context.cameraId,
          startNumber: context.nextAbsolute,
        }),
        onError: { target: "backoff", actions: ["noteFailure", "bumpReconnect"] },
      },
      initial: "starting",
      on: {
        "RECORDER.STARTED": { actions: ["noteStarted", "recordRunning"] },
        SEGMENT_CLOSED: { actions: ["noteSegment", "indexSegment", "enforceRetention"] },
        PROCESS_EXIT: { target: "backoff", actions: ["noteFailure", "bumpReconnect"] },
        DISK_FULL_LOCKED: { target: ".disk_full", actions: "noteDiskFull" },
        STOP: { target: ".stopping", actions: assign({ restartPending: false }) },
        // new encoder settings: finish the segment, then record on with a fresh recorder
        "RECORDER.RESTART": { target: ".stopping", actions: assign({ restartPending: true }) },
        STALL: { target: ".stalled", actions: "noteStall" },
      },
      states: {
        starting: {
          entry: { type: "writeStatus", params: { state: "starting" } },
          on: {
            "RECORDER.RECEIVING": { target: "recording" },
            SEGMENT_CLOSED: { target: "recording", actions: ["noteSegment", "indexSegment", "enforceRetention"] },
          },
        },
        recording: {
          entry: { type: "writeStatus", params: { state: "recording" } },
        },
        stalled: {
          entry: { type: "writeStatus", params: { state: "stalled" } },
          after: {
            stallDelay: { target: "#camera.backoff", actions: ["noteStallTimeout", "noteFailure", "bumpReconnect"] },
          },
          on: {
            SEGMENT_CLOSED: { target: "recording", actions: ["noteSegment", "indexSegment", "enforceRetention"] },
            "RECORDER.RECEIVING": { target: "recording" },
            STALL: { actions: [] },
            "TIMERS.REARM": { target: "stalled", reenter: true },
          },
        },
        stopping: {
          entry: ["noteStopping", { type: "writeStatus", params: { state: "stopping" } }, "stopRecorder"],
          after: {
            stopDelay: [
              { guard: "restartPending", target: "#camera.online", reenter: true, actions: assign({ restartPending: false }) },
              { target: "#camera.stopped", actions: "reportStopped" },
            ],
          },
          on: {
            STOP: { actions: assign({ startPending: false, restartPending: false }) },
            START: { actions: assign({ startPending: true }) },
            STALL: { actions: [] },
            "RECORDER.RESTART": { actions: [] },
            PROCESS_EXIT: [
              { guard: "restartPending", target: "#camera.online", reenter: true, actions: assign({ restartPending: false }) },
              { target: "#camera.stopped", actions: "reportStopped" },
            ],
            "TIMERS.REARM": { target: "stopping", reenter: true },
          },
        },
        // The card is full (retention found only locked footage): ffmpeg is asked to stop and
        // the segment it finishes is indexed like any other (SEGMENT_CLOSED arrives before
        // PROCESS_EXIT); only after ffmpeg has exited does `#camera.disk_full` settle the ring,
        // so no file ffmpeg completes is left without a row. The status says disk_full at once.
        disk_full: {
          entry: ["noteStopping", { type: "writeStatus", params: { state: "disk_full" } }, "stopRecorder"],
          after: {
            // ffmpeg did not exit in time: leaving `online` cancels it (killed after its grace)
            stopDelay: { target: "#camera.disk_full" },
          },
          on: {
            PROCESS_EXIT: { target: "#camera.disk_full" },
            // retention of the finished segment finds the card still full: already stopping
            DISK_FULL_LOCKED: { actions: [] },
            STALL: { actions: [] },
            // no restart onto a full card
            "RECORDER.RESTART": { actions: [] },
            "TIMERS.REARM": { target: "disk_full", reenter: true },
          },
        },
      },
    },
    backoff: {
      // restart when BOTH the deadline passed and the last run's leftovers are settled (a new
      // recorder must not start while salvage still reads the ring)
      entry: [assign({ settled: false, backoffElapsed: false }), { type: "writeStatus", params: { state: "backoff" } }],
      invoke: {
        id: "settle",
        src: "settleSegments",
        input: ({ context }): SettleRequest => ({ key: context.key, cameraId: context.cameraId }),
        onError: [{ guard: "backoffElapsed", target: "online" }, { actions: assign({ settled: true }) }],
      },
      after: {
        backoffDelay: [{ guard: "settled", target: "online" }, { actions: assign({ backoffElapsed: true }) }],
      },
      on: {
        "SEGMENTS.SETTLED": [{ guard: "backoffElapsed", target: "online" }, { actions: assign({ settled: true }) }],
        STOP: { target: "stopped", actions: "reportStopped" },
        "TIMERS.REARM": { target: "backoff", reenter: true },
      },
    },
    failed: {
      type: "final",
    },
    disk_full: {
      entry: [assign({ settled: false, diskFreed: false }), { type: "writeStatus", params: { state: "disk_full" } }, "cutOpenTrip"],
      // entered once the recorder has exited (`online.disk_full`), so the segment it finished
      // is already indexed; settling catches anything ffmpeg left unreported (a killed run),
      // so the next run does not skip a number; the recorder restarts only once that is done
      // AND retention found room
      invoke: {
        id: "settle",
        src: "settleSegments",
        input: ({ context }): SettleRequest => ({ key: context.key, cameraId: context.cameraId }),
        onError: [{ guard: "diskFreed", target: "online" }, { actions: assign({ settled: true }) }],
      },
      after: {
        diskRetryDelay: { target: "disk_full", reenter: true, actions: ["nextDiskRetry", "recheckRetention"] },
      },
      on: {
        "DISK.FREED": [{ guard: "settled", target: "online" }, { actions: assign({ diskFreed: true }) }],
        "SEGMENTS.SETTLED": [{ guard: "diskFreed", target: "online" }, { actions: assign({ settled: true }) }],
        "DISK.RECHECK": { actions: "recheckRetention" },
        STOP: { target: "stopped", actions: "reportStopped" },
        "TIMERS.REARM": { target: "disk_full", reenter: true },
      },
    },
  },
});

export type CameraMachine = typeof cameraMachine;

/** The camera state name of a snapshot value (`{ online: "recording" }` -> `recording`). */
export function cameraStateName(value: unknown): CameraStateName {
  if (typeof value === "string") return value as CameraStateName;
  if (value && typeof value === "object") {
    const [k, v] = Object.entries(value as Record<string, unknown>)[0] ?? [];
    return (v !== undefined ? cameraStateName(v) : k) as CameraStateName;
  }
  return "stopped";
}
