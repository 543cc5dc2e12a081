/**
 * The `cameraHealth` machine: the health monitor of one camera (seed 003 snapshots and
 * health_metrics). Pure; the wiring in `src/actors/health.ts` provides the `healthCheck` actor
 * (take the current frame, measure, judge, write the picture) and the named effects. The
 * supervisor spawns one per enabled camera, by string src `cameraHealth` with
 * `systemId` `health:<key>`.
 *
 * ```
 * unknown | ok | warning | critical        (the status: top-level states)
 *   each:  waiting --nextCheckAt--> checking   waiting --CHECK.NOW--> checkingNow
 *          checking | checkingNow --done--> <status of the check>.waiting   (critical / warning / ok)
 *          checking | checkingNow --error--> waiting                         (no rows; next deadline)
 *   (`checkingNow`: a user asked, so the check takes the frame at once: `requested` in its input)
 * (any) --JOURNAL.FAILED--> failed (final, output { failed }): the supervisor spawns a fresh one
 * ```
 *
 * The camera's health status is the top-level state: a finished check moves to the state of
 * its worst anomaly (`ok` without any). Entering a different status runs `announceStatus`
 * (`{ from, to }`: event-log row and live toast); staying in the same status announces nothing.
 * Why a machine and not a plain timer: the status is real state with effects on its changes,
 * and the next-check deadline (`nextCheckAt`, absolute ms) and the frozen-picture streak must
 * survive a restart; both live in the persisted context (deadlines, not pending delays:
 * `TIMERS.REARM` re-arms a restored actor). A check interrupted by a restart simply runs again
 * (the `healthCheck` actor is safe to repeat: a new frame, a new row).
 *
 * Each finished check runs `recordCheck` (snapshot, metric rows and camera columns in the
 * journal transaction of the transition); a check that threw runs `noteCheckError` and waits
 * for the next deadline.
 */
import { assertEvent, assign, fromPromise, setup } from "xstate";
import { nowOf } from "./camera.ts";

export type HealthState = "unknown" | "ok" | "warning" | "critical";

/** What the supervisor spawns a monitor with. */
export interface HealthMonitorInput {
  cameraKey: string;
  cameraId: number;
  /** Time between checks, ms. */
  intervalMs: number;
  /** Delay of the first check after the monitor starts, ms (the recorder needs a moment to connect). */
  firstDelayMs: number;
}

/** Input of the `healthCheck` actor. */
export interface HealthCheckInput {
  cameraKey: string;
  cameraId: number;
  /** Near-identical snapshots in a row before this check (frozen detection). */
  identicalStreak: number;
  /** The check interval, ms (the stream metrics cover the footage of one interval). */
  intervalMs: number;
  /**
   * A user asked for this check ("Check now"): the frame is taken at once. A scheduled check may
   * wait for the camera's next keyframe, which costs one decoded frame instead of a GOP.
   */
  requested: boolean;
}

/** Output of the `healthCheck` actor: what was measured and decided (written by `recordCheck`). */
export interface HealthCheckOutput {
  status: "ok" | "warning" | "critical";
  /** Check time, Unix ms UTC. */
  checkedAt: number;
  /** Capture time of the frame (the check time without a frame), Unix ms UTC. */
  capturedAt: number;
  /** JPEG path relative to data_dir ("" without a frame). */
  filePath: string;
  frameOk: boolean;
  healthMetrics: unknown;
  anomalies: { type: string; severity: string; message: string }[];
  metrics: { type: string; value: number; status: "ok" | "warning" | "critical" }[];
  identicalStreak: number;
}

export interface HealthContext extends HealthMonitorInput {
  /** Next check, absolute ms. */
  nextCheckAt: number;
  identicalStreak: number;
  /** The status last announced. */
  status: HealthState;
  lastCheckAt: number | null;
  /** Anomaly types of the last check. */
  lastAnomalies: string[];
  lastError: string | null;
  failure: string | null;
}

export type HealthEvent = { type: "TIMERS.REARM" } | { type: "CHECK.NOW" } | { type: "JOURNAL.FAILED"; error: string };

/** Params of `announceStatus`. */
export interface StatusChange {
  cameraKey: string;
  cameraId: number;
  from: HealthState;
  to: HealthState;
  anomalies: string[];
  at: number;
}

/** Until the wiring provides it: a check fails clearly. */
const noCheck = fromPromise<HealthCheckOutput, HealthCheckInput>(async () => {
  throw new Error("no health check provided");
});

const outputOf = (event: unknown) => (event as { output: HealthCheckOutput }).output;

/** The waiting/checking cycle every status state has; `done` sends a finished check to the status it found. */
function cycle() {
  return {
    initial: "waiting" as const,
    states: {
      waiting: {
        after: { untilNextCheck: "checking" },
        on: {
          "TIMERS.REARM": { target: "waiting", reenter: true },
          "CHECK.NOW": "checkingNow",
        },
      },
      checking: checkState(false),
      checkingNow: checkState(true),
    },
  };
}

/** A state that runs one check; `requested`: a user asked for it (see HealthCheckInput). */
function checkState(requested: boolean) {
  return {
    invoke: {
      src: "healthCheck" as const,
      input: ({ context }: { context: HealthContext }): HealthCheckInput => ({
        cameraKey: context.cameraKey,
        cameraId: context.cameraId,
        identicalStreak: context.identicalStreak,
        intervalMs: context.intervalMs,
        requested,
      }),
      onDone: [
        { guard: "foundCritical" as const, target: "#cameraHealth.critical.waiting", actions: ["recordCheck" as const, "noteCheck" as const] },
        { guard: "foundWarning" as const, target: "#cameraHealth.warning.waiting", actions: ["recordCheck" as const, "noteCheck" as const] },
        { target: "#cameraHealth.ok.waiting", actions: ["recordCheck" as const, "noteCheck" as const] },
      ],
      onError: { target: "waiting", actions: "noteCheckError" as const },
    },
  };
}

/** Entry of a status state: announce the change from the last announced status, then remember it. */
const enterStatus = (to: HealthState) => [
  {
    type: "announceStatus" as const,
    params: ({ context }: { context: HealthContext }): StatusChange => ({
      cameraKey: context.cameraKey,
      cameraId: context.cameraId,
      from: context.status,
      to,
      anomalies: context.lastAnomalies,
      at: context.lastCheckAt ?? 0,
    }),
  },
  { type: "setStatus" as const, params: { to } },
];

export const cameraHealthMachine = setup({
  types: {
    context: {} as HealthContext,
    events: {} as HealthEvent,
    input: {} as HealthMonitorInput,
    output: {} as { failed?: string },
  },
  actors: {
    healthCheck: noCheck,
  },
  actions: {
    /** Writes the check's rows (journal transaction). */
    recordCheck: () => {},
    /** Event-log row and live toast of a status change (journal transaction). */
    announceStatus: (_, _params: StatusChange) => {},
    noteCheck: assign(({ context, event, self }) => {
      const out = outputOf(event);
      return {
        identicalStreak: out.identicalStreak,
        lastCheckAt: out.checkedAt,
        lastAnomalies: out.anomalies.map((a) => a.type),
        lastError: null,
        nextCheckAt: nowOf(self) + context.intervalMs,
      };
    }),
    noteCheckError: assign(({ context, event, self }) => {
      const error = (event as { error?: unknown }).error;
      return { lastError: error instanceof Error ? error.message : String(error), nextCheckAt: nowOf(self) + context.intervalMs };
    }),
    setStatus: assign((_, params: { to: HealthState }) => ({ status: params.to })),
    noteJournalFailure: assign(({ event }) => {
      assertEvent(event, "JOURNAL.FAILED");
      return { failure: `journal failed: ${event.error}` };
    }),
  },
  guards: {
    foundCritical: ({ event }) => outputOf(event).status === "critical",
    foundWarning: ({ event }) => outputOf(event).status === "warning",
  },
  delays: {
    untilNextCheck: ({ context, self }) => Math.max(0, context.nextCheckAt - nowOf(self)),
  },
}).createMachine({
  id: "cameraHealth",
  initial: "unknown",
  context: ({ input, self }) => ({
    ...input,
    nextCheckAt: nowOf(self) + input.firstDelayMs,
    identicalStreak: 0,
    status: "unknown",
    lastCheckAt: null,
    lastAnomalies: [],
    lastError: null,
    failure: null,
  }),
  output: ({ context }) => (context.failure ? { failed: context.failure } : {}),
  on: {
    "JOURNAL.FAILED": { target: ".failed", actions: "noteJournalFailure" },
  },
  states: {
    unknown: cycle(),
    ok: { ...cycle(), entry: enterStatus("ok") },
    warning: { ...cycle(), entry: enterStatus("warning") },
    critical: { ...cycle(), entry: enterStatus("critical") },
    failed: { type: "final" },
  },
});

export type CameraHealthMachine = typeof cameraHealthMachine;

/** The health status of a monitor's state value (`{ warning: "waiting" }` -> `warning`). */
export function healthStateOf(value: unknown): HealthState | "failed" {
  if (typeof value === "string") return value as HealthState | "failed";
  const k = value && typeof value === "object" ? Object.keys(value)[0] : "unknown";
  return (k ?? "unknown") as HealthState;
}
