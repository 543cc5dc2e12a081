/**
 * The `incident` machine: one incident clip (pure; effects are named actions and the
 * `exportClip` actor, provided by `src/actors/incident.ts`). The supervisor spawns one per
 * incident and camera, by string src `incident` with `systemId` `incident:<incidentId>`.
 *
 * ```
 * begin --(at once)--> waiting --readyAtUtc--> ready --EXPORT--> exporting --done--> exported (final)
 *                        ^                                           |--retryable error, attempts left--+
 *                        +-------------------------------------------+
 *                                                                    \--other error / no attempts left--> gaveUp (final)
 * (any) --JOURNAL.FAILED--> failed (final, output { failed }): the supervisor spawns a fresh actor
 * ```
 *
 * - `begin` runs `beginIncident` once: the wiring evidence-locks the footage already recorded
 *   in the window and logs `incident.begin`, in the journal transaction of the actor's creation.
 * - `waiting` holds the ready deadline `readyAtUtc` (absolute ms, persisted), not a pending
 *   delay: a restored actor re-arms it on `TIMERS.REARM` (the supervisor sends it at BOOT).
 * - `ready` asks the parent with `INCIDENT.READY` whether the camera still records; the parent
 *   answers `EXPORT { cameraRecording }` (so this actor never reads the camera's snapshot).
 * - `exporting` invokes `exportClip` (safe to repeat: it restarts from scratch after a restore).
 *   A retryable failure (footage not indexed yet, ffmpeg failed) re-arms the deadline one
 *   segment length (at least 2 s) later, up to `MAX_INCIDENT_ATTEMPTS` attempts in all.
 * - `exported` / `gaveUp` run `logExported` / `logGaveUp` (event rows).
 */
import { assertEvent, assign, fromPromise, sendParent, setup } from "xstate";
import { nowOf } from "./camera.ts";

export type SaveSource = "button" | "ui" | "api" | "cli";

/** An incident clip is tried this many times at most. */
export const MAX_INCIDENT_ATTEMPTS = 5;

/** Incident window when neither BOOT nor the config gives one: 30 s before and after the moment. */
export const DEFAULT_INCIDENT_SETTINGS: Readonly<{ before_seconds: number; after_seconds: number }> = { before_seconds: 30, after_seconds: 30 };

/**
 * When an incident's export can run (ms UTC): the segment holding `toUtc` closes at most one
 * segment length (`segmentMs`) after it, plus 2 s for indexing.
 */
export const incidentReadyAt = (toUtc: number, segmentMs: number) => toUtc + segmentMs + 2000;

/**
 * The incident id for a moment on a camera: `inc-YYYYMMDD-HHMMSS-mmm-<camera>` (UTC). The same
 * moment on the same camera is the same incident, so a repeated request is idempotent.
 */
export function incidentIdFor(atUtc: number, cameraKey: string): string {
  const iso = new Date(atUtc).toISOString(); // 2025-01-02T03:04:05.678Z
  return `inc-${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}-${iso.slice(20, 23)}-${cameraKey}`;
}

/** What the supervisor spawns an incident with. Times ms UTC. */
export interface IncidentInput {
  incidentId: string;
  cameraKey: string;
  cameraId: number;
  atUtc: number;
  fromUtc: number;
  toUtc: number;
  /** Segment length of the camera (ms): sets the deadline and the retry step. */
  segmentMs: number;
  source: SaveSource;
  /**
   * When the export runs next (absolute ms, survives a restart); default
   * `incidentReadyAt(toUtc, segmentMs)`. Given when an earlier actor of the incident set it.
   */
  readyAtUtc?: number;
  /** Export attempts that failed so far (default 0). */
  attempts?: number;
}

/** The incident as the machine keeps it: `readyAtUtc` is the absolute deadline of the next export. */
export interface IncidentRecord extends Required<IncidentInput> {
  lastError: string | null;
}

/** The `exportClip` actor's input: the incident plus whether its camera still records. */
export interface IncidentExportInput extends IncidentRecord {
  cameraRecording: boolean;
}

export interface IncidentContext extends IncidentRecord {
  /** The parent's answer to INCIDENT.READY (false until asked). */
  cameraRecording: boolean;
  /** The export's output once exported. */
  output: unknown;
  /** Why the actor ended in `failed` (null otherwise). */
  failure: string | null;
}

export type IncidentEvent =
  | { type: "TIMERS.REARM" }
  | { type: "EXPORT"; cameraRecording: boolean }
  | { type: "JOURNAL.FAILED"; error: string };

/** Sent to the parent when the deadline has passed. */
export type IncidentReadyEvent = { type: "INCIDENT.READY"; incidentId: string };

/** Output of a finished incident actor. */
export type IncidentOutput =
  | { status: "exported"; incident: IncidentRecord; output: unknown }
  | { status: "gaveUp"; incident: IncidentRecord; error: string }
  | { failed: string };

/** Until the wiring provides it: exporting fails clearly. */
const noExport = fromPromise<unknown, IncidentExportInput>(async () => {
  throw new Error("no incident export provided");
});

const errorOf = (event: unknown): unknown => (event as { error?: unknown }).error;
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The record part of the context (what the export and the event rows see). */
export function recordOf(c: IncidentContext): IncidentRecord {
  const { incidentId, cameraKey, cameraId, atUtc, fromUtc, toUtc, readyAtUtc, segmentMs, attempts, source, lastError } = c;
  return { incidentId, cameraKey, cameraId, atUtc, fromUtc, toUtc, readyAtUtc, segmentMs, attempts, source, lastError };
}

export const incidentMachine = setup({
  types: {
    context: {} as IncidentContext,
    events: {} as IncidentEvent,
    input: {} as IncidentInput,
    output: {} as IncidentOutput,
  },
  actors: {
    exportClip: noExport,
  },
  actions: {
    /** Evidence-lock what is already recorded in the window, `incident.begin` row (journal transaction). */
    beginIncident: () => {},
    /** `incident.done` row (journal transaction). */
    logExported: () => {},
    /** `incident.failed` row (journal transaction). */
    logGaveUp: () => {},
    askParent: sendParent(({ context }): IncidentReadyEvent => ({ type: "INCIDENT.READY", incidentId: context.incidentId })),
    noteExport: assign(({ event }) => {
      assertEvent(event, "EXPORT");
      return { cameraRecording: event.cameraRecording };
    }),
    noteRetry: assign(({ context, event, self }) => ({
      attempts: context.attempts + 1,
      lastError: messageOf(errorOf(event)),
      readyAtUtc: nowOf(self) + Math.max(2000, context.segmentMs),
    })),
    noteGaveUp: assign(({ context, event }) => ({ attempts: context.attempts + 1, lastError: messageOf(errorOf(event)) })),
    noteExported: assign(({ event }) => ({ output: (event as { output?: unknown }).output })),
    noteJournalFailure: assign(({ event }) => {
      assertEvent(event, "JOURNAL.FAILED");
      return { failure: `journal failed: ${event.error}` };
    }),
  },
  guards: {
    /** The failure says it may succeed later and attempts are left. */
    canRetry: ({ context, event }) =>
      (errorOf(event) as { retryable?: unknown } | null)?.retryable === true && context.attempts + 1 < MAX_INCIDENT_ATTEMPTS,
  },
  delays: {
    untilReady: ({ context, self }) => Math.max(0, context.readyAtUtc - nowOf(self)),
  },
}).createMachine({
  id: "incident",
  initial: "begin",
  context: ({ input }) => ({
    incidentId: input.incidentId,
    cameraKey: input.cameraKey,
    cameraId: input.cameraId,
    atUtc: input.atUtc,
    fromUtc: input.fromUtc,
    toUtc: input.toUtc,
    readyAtUtc: input.readyAtUtc ?? incidentReadyAt(input.toUtc, input.segmentMs),
    segmentMs: input.segmentMs,
    attempts: input.attempts ?? 0,
    source: input.source,
    lastError: null,
    cameraRecording: false,
    output: null,
    failure: null,
  }),
  output: ({ context }): IncidentOutput => {
    if (context.failure) return { failed: context.failure };
    if (context.output !== null) return { status: "exported", incident: recordOf(context), output: context.output };
    return { status: "gaveUp", incident: recordOf(context), error: context.lastError ?? "export failed" };
  },
  on: {
    "JOURNAL.FAILED": { target: ".failed", actions: "noteJournalFailure" },
  },
  states: {
    begin: {
      entry: "beginIncident",
      always: "waiting",
    },
    waiting: {
      after: { untilReady: "ready" },
      on: { "TIMERS.REARM": { target: "waiting", reenter: true } },
    },
    ready: {
      entry: "askParent",
      on: {
        EXPORT: { target: "exporting", actions: "noteExport" },
        "TIMERS.REARM": { target: "ready", reenter: true },
      },
    },
    exporting: {
      invoke: {
        src: "exportClip",
        input: ({ context }): IncidentExportInput => ({ ...recordOf(context), cameraRecording: context.cameraRecording }),
        onDone: { target: "exported", actions: "noteExported" },
        onError: [
          { guard: "canRetry", target: "waiting", actions: "noteRetry" },
          { target: "gaveUp", actions: "noteGaveUp" },
        ],
      },
    },
    exported: { type: "final", entry: "logExported" },
    gaveUp: { type: "final", entry: "logGaveUp" },
    failed: { type: "final" },
  },
});

export type IncidentMachine = typeof incidentMachine;
