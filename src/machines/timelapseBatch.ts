/**
 * The `timelapseBatch` machine: one timelapse video to render (seed 004 `timelapse_batches`).
 * Pure; effects are named actions and the `render` actor, provided by
 * `src/actors/timelapseBatch.ts`. The supervisor spawns one per unfinished batch, by string src
 * `timelapseBatch` with `systemId` `timelapse:<batchId>`.
 *
 * ```
 * pending --(at once)--> processing --done--> completed (final)
 *                          |   ^  \--done while REGENERATE was asked--> processing (again, the result is kept)
 *                          |   +------------------ retryAt ------------------+
 *                          |--error, attempts left--> retryWait -------------+
 *                          \--error, none left------> failed (final)
 * pending | processing | retryWait --CANCEL--> cancelled (final)
 * (any) --JOURNAL.FAILED--> journalFailed (final, output { failed }): the supervisor spawns a fresh actor
 * ```
 *
 * - `processing` runs `startRender` on entry (the wiring marks the row `processing`, and for a
 *   continuous batch re-reads the camera's images, in the journal transaction) and invokes
 *   `render` (safe to repeat: a restored actor renders again from scratch; the video only
 *   appears under its final name complete).
 * - A failed render is retried after `retryDelayMs(attempt)` (30 s, 60 s, 120 s ...) up to
 *   `MAX_RENDER_ATTEMPTS` tries in all; the retry time `retryAtUtc` is stored in the context (an
 *   absolute deadline, not a pending delay) and re-armed by `TIMERS.REARM` after a restore.
 * - `REGENERATE` (a continuous batch got new images) while processing renders once more after
 *   the current render; in `retryWait` it renders at once.
 * - `completed` / `failed` / `cancelled` run `recordCompleted` / `recordFailed` /
 *   `recordCancelled` (batch row + event row in the journal transaction).
 */
import { assertEvent, assign, fromPromise, setup } from "xstate";
import { nowOf } from "./camera.ts";

/** A render is tried this many times at most. */
export const MAX_RENDER_ATTEMPTS = 3;

/** Wait before retry n (n >= 1), ms: 30 s doubling, at most 10 min. */
export const retryDelayMs = (n: number) => Math.min(30_000 * 2 ** Math.max(0, n - 1), 600_000);

export type TimelapseBatchType = "continuous" | "checkpoint" | "manual";

/** What the supervisor spawns a batch actor with. */
export interface TimelapseBatchInput {
  batchId: number;
  cameraKey: string;
  cameraId: number;
  batchType: TimelapseBatchType;
  /** Failed renders so far (default 0). */
  attempts?: number;
  /** When the next render may start (absolute ms; default now). */
  retryAtUtc?: number | null;
}

/** The render actor's input. */
export interface RenderInput {
  batchId: number;
  cameraKey: string;
  cameraId: number;
  batchType: TimelapseBatchType;
  attempt: number;
}

/** What a render produced (kept in the context, written to the batch row). */
export interface RenderOutput {
  relPath: string;
  bytes: number;
  frames: number;
  durationSeconds: number;
  overlayApplied: boolean;
}

export interface TimelapseBatchContext {
  batchId: number;
  cameraKey: string;
  cameraId: number;
  batchType: TimelapseBatchType;
  attempts: number;
  retryAtUtc: number | null;
  lastError: string | null;
  /** REGENERATE arrived while rendering: render again when this one ends. */
  again: boolean;
  result: RenderOutput | null;
  failure: string | null;
}

export type TimelapseBatchEvent =
  | { type: "TIMERS.REARM" }
  | { type: "REGENERATE" }
  | { type: "CANCEL" }
  | { type: "JOURNAL.FAILED"; error: string };

export type TimelapseBatchOutput =
  | { status: "completed" | "failed" | "cancelled"; batchId: number; error: string | null }
  | { failed: string };

/** Until the wiring provides it: rendering fails clearly. */
const noRender = fromPromise<RenderOutput, RenderInput>(async () => {
  throw new Error("no timelapse renderer provided");
});

const errorOf = (event: unknown): unknown => (event as { error?: unknown }).error;
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export const timelapseBatchMachine = setup({
  types: {
    context: {} as TimelapseBatchContext,
    events: {} as TimelapseBatchEvent,
    input: {} as TimelapseBatchInput,
    output: {} as TimelapseBatchOutput,
  },
  actors: {
    render: noRender,
  },
  actions: {
    /** Row -> `processing`, started_at; a continuous batch re-reads its images (journal transaction). */
    startRender: () => {},
    /** Row -> `pending` with the error of the failed try (journal transaction). */
    recordRetry: () => {},
    /** Row -> `completed` with file, size, frames, duration; `timelapse.done` event row. */
    recordCompleted: () => {},
    /** Row -> `failed` with the error; `timelapse.failed` event row. */
    recordFailed: () => {},
    /** Row -> `failed` ("cancelled"); `timelapse.cancelled` event row. */
    recordCancelled: () => {},
    noteResult: assign(({ event }) => ({ result: (event as { output?: RenderOutput }).output ?? null, again: false, lastError: null })),
    noteAgain: assign({ again: true }),
    noteRetry: assign(({ context, event, self }) => ({
      attempts: context.attempts + 1,
      lastError: messageOf(errorOf(event)),
      retryAtUtc: nowOf(self) + retryDelayMs(context.attempts + 1),
    })),
    noteGaveUp: assign(({ context, event }) => ({ attempts: context.attempts + 1, lastError: messageOf(errorOf(event)) })),
    noteCancelled: assign({ lastError: "cancelled" }),
    clearDeadline: assign({ retryAtUtc: null }),
    noteJournalFailure: assign(({ event }) => {
      assertEvent(event, "JOURNAL.FAILED");
      return { failure: `journal failed: ${event.error}` };
    }),
  },
  guards: {
    /** Attempts are left and the error does not say retrying is pointless (`retryable: false`) or that it was cancelled. */
    canRetry: ({ context, event }) => {
      const e = errorOf(event) as { cancelled?: boolean; retryable?: boolean } | null;
      return context.attempts + 1 < MAX_RENDER_ATTEMPTS && e?.cancelled !== true && e?.retryable !== false;
    },
    again: ({ context }) => context.again,
  },
  delays: {
    untilRetry: ({ context, self }) => Math.max(0, (context.retryAtUtc ?? 0) - nowOf(self)),
  },
}).createMachine({
  id: "timelapseBatch",
  initial: "pending",
  context: ({ input }) => ({
    batchId: input.batchId,
    cameraKey: input.cameraKey,
    cameraId: input.cameraId,
    batchType: input.batchType,
    attempts: input.attempts ?? 0,
    retryAtUtc: input.retryAtUtc ?? null,
    lastError: null,
    again: false,
    result: null,
    failure: null,
  }),
  output: ({ context }): TimelapseBatchOutput => {
    if (context.failure) return { failed: context.failure };
    const status = context.lastError === "cancelled" ? "cancelled" : context.result && context.lastError === null ? "completed" : "failed";
    return { status, batchId: context.batchId, error: context.lastError };
  },
  on: {
    "JOURNAL.FAILED": { target: ".journalFailed", actions: "noteJournalFailure" },
  },
  states: {
    pending: {
      always: [{ guard: ({ context }) => context.retryAtUtc !== null, target: "retryWait" }, { target: "processing" }],
    },
    processing: {
      entry: ["clearDeadline", "startRender"],
      invoke: {
        src: "render",
        input: ({ context }): RenderInput => ({
          batchId: context.batchId,
          cameraKey: context.cameraKey,
          cameraId: context.cameraId,
          batchType: context.batchType,
          attempt: context.attempts + 1,
        }),
        onDone: [
          { guard: "again", target: "processing", reenter: true, actions: ["noteResult", "recordCompleted"] },
          { target: "completed", actions: "noteResult" },
        ],
        onError: [
          { guard: "canRetry", target: "retryWait", actions: ["noteRetry", "recordRetry"] },
          { target: "failed", actions: "noteGaveUp" },
        ],
      },
      on: {
        REGENERATE: { actions: "noteAgain" },
        CANCEL: { target: "cancelled", actions: "noteCancelled" },
      },
    },
    retryWait: {
      after: { untilRetry: "processing" },
      on: {
        "TIMERS.REARM": { target: "retryWait", reenter: true },
        REGENERATE: "processing",
        CANCEL: { target: "cancelled", actions: "noteCancelled" },
      },
    },
    completed: { type: "final", entry: "recordCompleted" },
    failed: { type: "final", entry: "recordFailed" },
    cancelled: { type: "final", entry: "recordCancelled" },
    journalFailed: { type: "final" },
  },
});

export type TimelapseBatchMachine = typeof timelapseBatchMachine;
