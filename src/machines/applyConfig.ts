/**
 * The `applyConfig` machine: applying one set of camera settings (seed 003 `applied_configs`).
 * Pure; effects are named actions and the `pushSettings` / `measure` actors, provided by
 * `src/actors/applyConfig.ts`. The supervisor spawns one per unfinished apply, by string src
 * `applyConfig` with `systemId` `apply:<applyId>`.
 *
 * ```
 * pending --(at once)--> in_progress
 *   in_progress.route --method self|onvif--> pushing --done--> verifying
 *                     \--method manual-----> awaitingConfirm --CONFIRM--> verifying
 *   pushing --error--> failed                awaitingConfirm --confirmByUtc / CANCEL--> failed
 *   verifying --verifyAtUtc--> measuring --all within tolerance--> success (final)
 *                                 |      \--something differs-----> partial (final)
 *                                 |--not enough footage yet, before giveUpAtUtc--> verifying (one segment later)
 *                                 \--other error / still not enough at giveUpAtUtc--> failed (final)
 * (any) --JOURNAL.FAILED--> journalFailed (final, output { failed }): the supervisor spawns a fresh actor
 * ```
 *
 * - The database row is `pending` until the actor starts, `in_progress` from `in_progress`
 *   (`recordInProgress`) and `success | partial | failed` at the end (`recordOutcome`, with the
 *   differences or the reason as `error_message` and what was read back and measured as
 *   `verification`).
 * - `pushing` invokes `pushSettings`: for `self` the wiring stores dashcam's own encoder settings
 *   and restarts the camera's recorder with them; for `onvif` it sends them to the camera and
 *   returns what the camera reports back (`readBack`). Safe to repeat (the same settings again):
 *   a restored actor caught in `pushing` pushes again.
 * - `manual`: the user changes the camera on its own web page and confirms here (`CONFIRM`).
 * - Every wait is a stored deadline (`confirmByUtc`, `verifyAtUtc`, `giveUpAtUtc`: absolute ms in
 *   the context), re-armed by `TIMERS.REARM` after a restore; no pending `after` is relied on.
 * - `measuring` invokes `measure` over the segments recorded after `appliedAtUtc`; the verdict
 *   is `compareSettings` (pure, below) of what was asked against what was read back and measured.
 */
import { assertEvent, assign, fromPromise, setup } from "xstate";
import { nowOf } from "./camera.ts";

export type ApplyMethod = "self" | "manual" | "onvif";

/** The stream part of a recommendation: what can be applied to an encoder and measured. */
export interface StreamTarget {
  /** "WIDTHxHEIGHT" */
  resolution?: string | null;
  codec?: string | null;
  fps?: number | null;
  bitrateKbps?: number | null;
  gopSeconds?: number | null;
}

/** What an apply sets: the stream, and for `manual` / future methods the rest of a recommendation. */
export interface ApplySettings {
  stream: StreamTarget;
  [k: string]: unknown;
}

/** What the supervisor spawns an apply actor with. Times ms UTC. */
export interface ApplyInput {
  applyId: number;
  cameraKey: string;
  cameraId: number;
  method: ApplyMethod;
  settings: ApplySettings;
  /** The camera's segment length (ms): sets the verification deadlines. */
  segmentMs: number;
  /** Who asked (user name, or `cli`). */
  by: string;
}

/** What was measured on the segments recorded after the apply. */
export interface MeasuredStream {
  resolution: string | null;
  codec: string | null;
  fps: number | null;
  bitrateKbps: number | null;
  /** Mean distance between keyframes, s (null: fewer than two keyframes). */
  gopSeconds: number | null;
  /** How many segments were measured. */
  segments: number;
}

/** Tolerances of the verification (README "Recommended settings"). */
export const TOLERANCE = {
  /** Frame rate within 10 % (or half a frame per second). */
  fpsRatio: 0.1,
  /** A stream may use less than its bitrate (a quiet scene codes cheaply) down to half, and at most 25 % more. */
  bitrateOver: 0.25,
  bitrateUnder: 0.5,
  /** Keyframe interval within 10 % (or one frame). */
  gopRatio: 0.1,
} as const;

/** Segments measured after an apply. */
export const VERIFY_SEGMENTS = 2;
/** A manual apply not confirmed within this time fails. */
export const MANUAL_CONFIRM_MS = 24 * 3600 * 1000;

/** The first measurement: `VERIFY_SEGMENTS` segments after the change, plus 5 s for a restart and indexing. */
export const verifyAt = (appliedAtUtc: number, segmentMs: number) => appliedAtUtc + VERIFY_SEGMENTS * segmentMs + 5_000;
/** After this no footage to measure is a failure: ten segments and a minute after the change. */
export const giveUpAt = (appliedAtUtc: number, segmentMs: number) => appliedAtUtc + 10 * segmentMs + 60_000;

const norm = (codec: string | null | undefined) => (codec ?? "").toUpperCase().replace(/[^A-Z0-9]/g, "").replace("HEVC", "H265");

/**
 * What differs between the asked stream settings and what was read back / measured, one plain
 * sentence each (empty: everything within `TOLERANCE`). Only the fields that were asked for are
 * compared; a field that could not be measured is not a difference.
 */
export function compareSettings(asked: StreamTarget, readBack: StreamTarget | null, measured: MeasuredStream | null): string[] {
  const out: string[] = [];
  if (readBack) {
    if (asked.resolution && readBack.resolution && asked.resolution !== readBack.resolution) out.push(`the camera reports ${readBack.resolution}, not ${asked.resolution}`);
    if (asked.codec && readBack.codec && norm(asked.codec) !== norm(readBack.codec)) out.push(`the camera reports ${readBack.codec}, not ${asked.codec}`);
    if (asked.fps && readBack.fps && Math.abs(readBack.fps - asked.fps) > 0.01) out.push(`the camera reports ${readBack.fps} frames/s, not ${asked.fps}`);
    if (asked.bitrateKbps && readBack.bitrateKbps && Math.abs(readBack.bitrateKbps - asked.bitrateKbps) > 1) out.push(`the camera reports ${readBack.bitrateKbps} kbit/s, not ${asked.bitrateKbps}`);
    if (asked.gopSeconds && readBack.gopSeconds && Math.abs(readBack.gopSeconds - asked.gopSeconds) > 0.01) out.push(`the camera reports a keyframe every ${readBack.gopSeconds} s, not ${asked.gopSeconds}`);
  }
  if (measured) {
    // asked but not measurable on the recorded footage: not verified, so not a success
    const unmeasured = (["fps", "bitrateKbps", "gopSeconds", "resolution", "codec"] as const).filter((k) => asked[k] != null && measured[k] == null);
    const words = { fps: "the frame rate", bitrateKbps: "the bitrate", gopSeconds: "the keyframe interval", resolution: "the frame size", codec: "the codec" };
    for (const k of unmeasured) out.push(`${words[k]} could not be measured on the recorded footage`);
    if (asked.resolution && measured.resolution && asked.resolution !== measured.resolution) out.push(`recorded ${measured.resolution}, asked ${asked.resolution}`);
    if (asked.codec && measured.codec && norm(asked.codec) !== norm(measured.codec)) out.push(`recorded ${measured.codec}, asked ${asked.codec}`);
    if (asked.fps && measured.fps !== null && Math.abs(measured.fps - asked.fps) > Math.max(0.5, asked.fps * TOLERANCE.fpsRatio))
      out.push(`recorded ${measured.fps.toFixed(1)} frames/s, asked ${asked.fps}`);
    if (asked.bitrateKbps && measured.bitrateKbps !== null) {
      const over = measured.bitrateKbps > asked.bitrateKbps * (1 + TOLERANCE.bitrateOver);
      const under = measured.bitrateKbps < asked.bitrateKbps * (1 - TOLERANCE.bitrateUnder);
      if (over || under) out.push(`recorded ${Math.round(measured.bitrateKbps)} kbit/s, asked ${asked.bitrateKbps}`);
    }
    if (asked.gopSeconds && measured.gopSeconds !== null) {
      const oneFrame = measured.fps ? 1 / measured.fps : 0;
      if (Math.abs(measured.gopSeconds - asked.gopSeconds) > Math.max(oneFrame + 0.001, asked.gopSeconds * TOLERANCE.gopRatio))
        out.push(`recorded a keyframe every ${measured.gopSeconds.toFixed(2)} s, asked ${asked.gopSeconds}`);
    }
  }
  return out;
}

export interface ApplyContext extends ApplyInput {
  /** When the settings reached the camera (or the user confirmed them), ms UTC. */
  appliedAtUtc: number | null;
  confirmByUtc: number | null;
  verifyAtUtc: number | null;
  giveUpAtUtc: number | null;
  /** Who confirmed a manual apply. */
  confirmedBy: string | null;
  readBack: StreamTarget | null;
  measured: MeasuredStream | null;
  differences: string[];
  error: string | null;
  /** The last measurement's error said "not enough footage yet", and when it ran (ms UTC). */
  measureRetryable: boolean;
  measuredAtUtc: number | null;
  /** The end state once reached. */
  outcome: "success" | "partial" | "failed" | null;
  failure: string | null;
}

/** `pushSettings` output: when the settings took effect and what the camera reports (onvif). */
export interface PushOutput {
  readBack: StreamTarget | null;
}

/** Input of `pushSettings` and `measure`. */
export type ApplyJob = Pick<ApplyContext, "applyId" | "cameraKey" | "cameraId" | "method" | "settings" | "segmentMs" | "appliedAtUtc">;

export type ApplyEvent =
  | { type: "TIMERS.REARM" }
  | { type: "CONFIRM"; by: string }
  | { type: "CANCEL"; by: string }
  | { type: "JOURNAL.FAILED"; error: string };

export type ApplyOutput = { status: "success" | "partial" | "failed"; applyId: number; error: string | null } | { failed: string };

const noPush = fromPromise<PushOutput, ApplyJob>(async () => {
  throw new Error("no settings pusher provided");
});
const noMeasure = fromPromise<MeasuredStream, ApplyJob>(async () => {
  throw new Error("no measurement provided");
});

const errorOf = (event: unknown): unknown => (event as { error?: unknown }).error;
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The row's `error_message`: the reason of a failure, or what differs (partial); null on success. */
export function errorMessageOf(c: Pick<ApplyContext, "error" | "differences">): string | null {
  return c.error ?? (c.differences.length ? c.differences.join("; ") : null);
}

const jobOf = (c: ApplyContext): ApplyJob => ({
  applyId: c.applyId,
  cameraKey: c.cameraKey,
  cameraId: c.cameraId,
  method: c.method,
  settings: c.settings,
  segmentMs: c.segmentMs,
  appliedAtUtc: c.appliedAtUtc,
});

export const applyConfigMachine = setup({
  types: {
    context: {} as ApplyContext,
    events: {} as ApplyEvent,
    input: {} as ApplyInput,
    output: {} as ApplyOutput,
  },
  actors: {
    pushSettings: noPush,
    measure: noMeasure,
  },
  actions: {
    /** Row -> `in_progress` (journal transaction). */
    recordInProgress: () => {},
    /** Row's `applied_at` / `applied_by` (journal transaction). */
    recordApplied: () => {},
    /** Row -> success | partial | failed with error_message and verification; `camera.apply` event row. */
    recordOutcome: () => {},
    noteConfirmDeadline: assign(({ context, self }) => ({ confirmByUtc: context.confirmByUtc ?? nowOf(self) + MANUAL_CONFIRM_MS })),
    notePushed: assign(({ context, event, self }) => {
      const now = nowOf(self);
      const out = (event as { output?: PushOutput }).output;
      return {
        appliedAtUtc: now,
        readBack: out?.readBack ?? null,
        verifyAtUtc: verifyAt(now, context.segmentMs),
        giveUpAtUtc: giveUpAt(now, context.segmentMs),
      };
    }),
    noteConfirmed: assign(({ context, event, self }) => {
      assertEvent(event, "CONFIRM");
      const now = nowOf(self);
      return { appliedAtUtc: now, confirmedBy: event.by, verifyAtUtc: verifyAt(now, context.segmentMs), giveUpAtUtc: giveUpAt(now, context.segmentMs) };
    }),
    noteCancelled: assign(({ event }) => {
      assertEvent(event, "CANCEL");
      return { error: `cancelled by ${event.by}` };
    }),
    noteUnconfirmed: assign({ error: "nobody confirmed the change within 24 h" }),
    noteError: assign(({ event }) => ({ error: messageOf(errorOf(event)) })),
    noteMeasureError: assign(({ event, self }) => ({
      error: messageOf(errorOf(event)),
      measureRetryable: (errorOf(event) as { retryable?: unknown } | null)?.retryable === true,
      measuredAtUtc: nowOf(self),
    })),
    noteNoFootage: assign(({ context }) => ({
      error: `not enough footage to verify the change within ${Math.round(((context.giveUpAtUtc ?? 0) - (context.appliedAtUtc ?? 0)) / 1000)} s (${context.error}): is the camera recording?`,
    })),
    noteMeasureRetry: assign(({ context }) => ({ error: null, verifyAtUtc: (context.measuredAtUtc ?? 0) + Math.max(2_000, context.segmentMs) })),
    noteMeasured: assign(({ context, event }) => {
      const measured = (event as { output?: MeasuredStream }).output ?? null;
      return { measured, differences: compareSettings(context.settings.stream, context.readBack, measured) };
    }),
    noteReadBackDiffers: assign(({ context }) => ({ differences: compareSettings(context.settings.stream, context.readBack, null) })),
    noteJournalFailure: assign(({ event }) => {
      assertEvent(event, "JOURNAL.FAILED");
      return { failure: `journal failed: ${event.error}` };
    }),
  },
  guards: {
    isManual: ({ context }) => context.method === "manual",
    readBackDiffers: ({ context, event }) => compareSettings(context.settings.stream, (event as { output?: PushOutput }).output?.readBack ?? null, null).length > 0,
    allWithin: ({ context, event }) => compareSettings(context.settings.stream, context.readBack, (event as { output?: MeasuredStream }).output ?? null).length === 0,
    /** The last measurement lacked footage (`retryable`) before the give-up deadline (guards have no clock: `noteMeasureError` stored the time). */
    measureRetryable: ({ context }) => context.measureRetryable,
    canWaitMore: ({ context }) => context.measureRetryable && (context.measuredAtUtc ?? Infinity) < (context.giveUpAtUtc ?? 0),
  },
  delays: {
    untilConfirmDeadline: ({ context, self }) => Math.max(0, (context.confirmByUtc ?? 0) - nowOf(self)),
    untilVerify: ({ context, self }) => Math.max(0, (context.verifyAtUtc ?? 0) - nowOf(self)),
  },
}).createMachine({
  id: "applyConfig",
  initial: "pending",
  context: ({ input }) => ({
    ...input,
    appliedAtUtc: null,
    confirmByUtc: null,
    verifyAtUtc: null,
    giveUpAtUtc: null,
    confirmedBy: null,
    readBack: null,
    measured: null,
    differences: [],
    error: null,
    measureRetryable: false,
    measuredAtUtc: null,
    outcome: null,
    failure: null,
  }),
  output: ({ context }): ApplyOutput => {
    if (context.failure) return { failed: context.failure };
    return { status: context.outcome ?? "failed", applyId: context.applyId, error: errorMessageOf(context) };
  },
  on: {
    "JOURNAL.FAILED": { target: ".journalFailed", actions: "noteJournalFailure" },
  },
  states: {
    pending: { always: "in_progress" },
    in_progress: {
      entry: "recordInProgress",
      initial: "route",
      states: {
        route: {
          always: [{ guard: "isManual", target: "awaitingConfirm", actions: "noteConfirmDeadline" }, { target: "pushing" }],
        },
        pushing: {
          invoke: {
            src: "pushSettings",
            input: ({ context }) => jobOf(context),
            onDone: [
              // the camera refused part of it: no need to measure what it says it does not do
              { guard: "readBackDiffers", target: "#applyConfig.partial", actions: ["notePushed", "recordApplied", "noteReadBackDiffers"] },
              { target: "verifying", actions: ["notePushed", "recordApplied"] },
            ],
            onError: { target: "#applyConfig.failed", actions: "noteError" },
          },
        },
        awaitingConfirm: {
          after: { untilConfirmDeadline: { target: "#applyConfig.failed", actions: "noteUnconfirmed" } },
          on: {
            CONFIRM: { target: "verifying", actions: ["noteConfirmed", "recordApplied"] },
            CANCEL: { target: "#applyConfig.failed", actions: "noteCancelled" },
            "TIMERS.REARM": { target: "awaitingConfirm", reenter: true },
          },
        },
        verifying: {
          after: { untilVerify: "measuring" },
          on: { "TIMERS.REARM": { target: "verifying", reenter: true } },
        },
        measuring: {
          invoke: {
            src: "measure",
            input: ({ context }) => jobOf(context),
            onDone: [
              { guard: "allWithin", target: "#applyConfig.success", actions: "noteMeasured" },
              { target: "#applyConfig.partial", actions: "noteMeasured" },
            ],
            onError: { target: "measureFailed", actions: "noteMeasureError" },
          },
        },
        measureFailed: {
          always: [
            { guard: "canWaitMore", target: "verifying", actions: "noteMeasureRetry" },
            { guard: "measureRetryable", target: "#applyConfig.failed", actions: "noteNoFootage" },
            { target: "#applyConfig.failed" },
          ],
        },
      },
    },
    success: { type: "final", entry: [assign({ outcome: "success" as const }), "recordOutcome"] },
    partial: { type: "final", entry: [assign({ outcome: "partial" as const }), "recordOutcome"] },
    failed: { type: "final", entry: [assign({ outcome: "failed" as const }), "recordOutcome"] },
    journalFailed: { type: "final" },
  },
});

export type ApplyConfigMachine = typeof applyConfigMachine;
