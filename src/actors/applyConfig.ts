/**
 * Wiring of the pure `applyConfig` machine (src/machines/applyConfig.ts) with `.provide()`:
 *
 * - `pushSettings`, by method:
 *   - `self` (a camera dashcam encodes itself: testsrc, v4l2, rpicam): checks the stream settings
 *     against what dashcam's encoder can do (`selfEncoderProblem`: H.264 only, a keyframe
 *     interval no longer than the segment, sane ranges), stores them as the camera's
 *     `encoder_settings` (src/db/optimize.ts; they survive restarts) and sends the camera actor
 *     `RECORDER.RESTART`: ffmpeg finishes its segment and starts again with them
 *     (src/actors/camera.ts `wrapRecorder`, src/media/recorderArgs.ts);
 *   - `onvif`: `applyOnvifStreamSettings` (src/onvif/device.ts: SetVideoEncoderConfiguration,
 *     then GetVideoEncoderConfiguration) with the camera's ONVIF target (`onvifTargetOf`, in the
 *     runtime the config file's login, else the one stored from the UI); a camera without one
 *     fails with "ONVIF is not configured for this camera", a refusal with the device's fault
 *     string. What the camera reports back becomes `readBack` and the inventory's current
 *     stream settings;
 *   - `manual` never pushes (the user changes the camera and confirms).
 *   Safe to repeat: the same settings are stored / sent again.
 * - `measure`: the newest `VERIFY_SEGMENTS` segments that started after the change
 *   (`appliedAtUtc`): frame rate = frames / duration (`probeMedia`), bitrate = bytes x 8 /
 *   duration of the rows, keyframe interval = mean distance of the keyframes across the
 *   segments (`measureKeyframes`), size and codec from the stream. Fewer segments than that is a
 *   retryable error (the machine measures again a segment later, until its give-up deadline).
 * - `recordInProgress` / `recordApplied` / `recordOutcome`: the `applied_configs` row and a
 *   `camera.apply` event row in the journal transaction of the transition, announced after the
 *   commit.
 */
import { fromPromise, type AnyActorLogic, type PromiseActorLogic } from "xstate";
import {
  applyConfigMachine,
  errorMessageOf,
  VERIFY_SEGMENTS,
  type ApplyJob,
  type MeasuredStream,
  type PushOutput,
  type StreamTarget,
} from "../machines/applyConfig.ts";
import { nowOf } from "../machines/camera.ts";
import { finishApply, markApplyApplied, markApplyInProgress, setEncoderSettings } from "../db/optimize.ts";
import { segmentsInWindow } from "../db/views.ts";
import { meanKeyframeInterval, measureKeyframes, probeMedia } from "../media/probe.ts";
import { encodesItself } from "../media/recorderArgs.ts";
import { resolveInside } from "../paths.ts";
import { applyOnvifStreamSettings, type OnvifStreamSettings, type OnvifTarget } from "../onvif/device.ts";
import { storeCurrentStream, type CameraCapabilities } from "../db/inventory.ts";
import { parseResolution } from "../optimize/heuristic.ts";
import type { ActorDeps } from "./camera.ts";
import { logAndAnnounce } from "./journal.ts";

/** The ONVIF apply effect (the signature of src/onvif/device.ts `applyOnvifStreamSettings`). */
export type OnvifApply = typeof applyOnvifStreamSettings;

/** The reason an ONVIF apply fails when the camera has no ONVIF login (config file or UI). */
export const ONVIF_NOT_CONFIGURED = "ONVIF is not configured for this camera";

export interface ApplyDeps extends ActorDeps {
  /** The ONVIF apply effect (default: the real client, `applyOnvifStreamSettings`). */
  onvifApply?: OnvifApply;
  /**
   * The camera's ONVIF target by key; null (or no function) = none configured, and an ONVIF
   * apply fails with ONVIF_NOT_CONFIGURED. May throw a one-line Error (a stored login this data
   * directory's key cannot decrypt): the apply fails with it.
   */
  onvifTargetOf?: (cameraKey: string) => OnvifTarget | null;
  /** Replace the real push / measurement (tests). */
  applyPush?: AnyActorLogic;
  applyMeasure?: AnyActorLogic;
}

/** Most frames/s, kbit/s and pixels dashcam's own encoder is asked for (beyond: refused). */
const SELF_LIMITS = { fps: 120, minKbps: 16, maxKbps: 100_000, maxWidth: 7680, maxHeight: 4320 };

/** `"1280x720"` -> { width, height }; null when malformed. */
const sizeOf = (text: string | null | undefined) => {
  const m = /^(\d{2,5})x(\d{2,5})$/.exec(text ?? "");
  return m ? { width: Number(m[1]), height: Number(m[2]) } : null;
};

/**
 * Why dashcam's own encoder cannot take `s` (one sentence), or null when it can. `segmentSeconds`:
 * the camera's segment length (a keyframe interval beyond it would stop segments cutting on time).
 */
export function selfEncoderProblem(s: StreamTarget, segmentSeconds: number): string | null {
  if (s.codec && !/^h\.?264$/i.test(s.codec)) return `dashcam encodes this camera in H.264 only; ${s.codec} cannot be applied`;
  if (s.resolution != null) {
    const size = sizeOf(s.resolution);
    if (!size) return `"${s.resolution}" is not a frame size (WIDTHxHEIGHT)`;
    if (size.width % 2 || size.height % 2) return `${s.resolution}: width and height must be even for H.264 (4:2:0)`;
    if (size.width > SELF_LIMITS.maxWidth || size.height > SELF_LIMITS.maxHeight) return `${s.resolution} is larger than any camera dashcam encodes`;
  }
  if (s.fps != null && !(s.fps > 0 && s.fps <= SELF_LIMITS.fps)) return `${s.fps} frames/s is outside 1..${SELF_LIMITS.fps}`;
  if (s.bitrateKbps != null && !(s.bitrateKbps >= SELF_LIMITS.minKbps && s.bitrateKbps <= SELF_LIMITS.maxKbps))
    return `${s.bitrateKbps} kbit/s is outside ${SELF_LIMITS.minKbps}..${SELF_LIMITS.maxKbps}`;
  if (s.gopSeconds != null) {
    if (!(s.gopSeconds > 0)) return `a keyframe interval of ${s.gopSeconds} s is not possible`;
    if (s.gopSeconds > segmentSeconds) return `a keyframe every ${s.gopSeconds} s is longer than the camera's ${segmentSeconds} s recordings: they could not be cut on time`;
  }
  return null;
}

/** Recommendation stream settings -> ONVIF's (codec names without the dot, GOP in frames). */
export function toOnvif(s: StreamTarget): OnvifStreamSettings {
  const size = sizeOf(s.resolution);
  const codec = s.codec ? (s.codec.toUpperCase().replace(/[^A-Z0-9]/g, "").replace("HEVC", "H265") as OnvifStreamSettings["codec"]) : undefined;
  return {
    ...(size ? { width: size.width, height: size.height } : {}),
    ...(codec ? { codec } : {}),
    ...(s.fps ? { fps: s.fps } : {}),
    ...(s.bitrateKbps ? { bitrateKbps: s.bitrateKbps } : {}),
    ...(s.gopSeconds && s.fps ? { gopFrames: Math.max(1, Math.round(s.gopSeconds * s.fps)) } : {}),
  };
}

/** ONVIF's read-back -> stream settings. */
export function fromOnvif(o: OnvifStreamSettings): StreamTarget {
  return {
    resolution: o.width && o.height ? `${o.width}x${o.height}` : null,
    codec: o.codec ? o.codec.replace(/^H(26[45])$/, "H.$1") : null,
    fps: o.fps ?? null,
    bitrateKbps: o.bitrateKbps ?? null,
    gopSeconds: o.gopFrames && o.fps ? Math.round((o.gopFrames / o.fps) * 1000) / 1000 : null,
  };
}

/** The `pushSettings` actor (see the module comment). */
export function createApplyPush(deps: ApplyDeps) {
  return fromPromise<PushOutput, ApplyJob>(async ({ input, system }) => {
    // let the journal commit the `in_progress` transition first
    await new Promise((r) => setTimeout(r, 0));
    const s = input.settings.stream;
    if (input.method === "onvif") {
      const target = deps.onvifTargetOf?.(input.cameraKey) ?? null;
      if (!target) throw new Error(ONVIF_NOT_CONFIGURED);
      const r = await (deps.onvifApply ?? applyOnvifStreamSettings)(target, toOnvif(s));
      // the inventory shows the camera's settings as they are now, not as last discovered
      storeCurrentStream(deps.db, input.cameraId, r.readBack);
      return { readBack: fromOnvif(r.readBack) };
    }
    if (input.method !== "self") throw new Error(`${input.method} settings are not pushed`);
    const camera = deps.cameras.get(input.cameraKey);
    if (!camera) throw new Error(`camera ${input.cameraKey} is not configured`);
    if (!encodesItself(camera.source)) throw new Error(`dashcam does not encode camera ${input.cameraKey} itself (it records the camera's own stream): use ONVIF or change it by hand`);
    const problem = selfEncoderProblem(s, camera.segment_seconds);
    if (problem) throw new Error(problem);
    const size = sizeOf(s.resolution);
    setEncoderSettings(
      deps.db,
      input.cameraId,
      { width: size?.width ?? null, height: size?.height ?? null, fps: s.fps ?? null, bitrateKbps: s.bitrateKbps ?? null, keyframeSeconds: s.gopSeconds ?? null },
      input.applyId,
      Date.now(),
    );
    // the camera finishes its segment and records on with the new settings
    system.get(`camera:${input.cameraKey}`)?.send({ type: "RECORDER.RESTART" });
    return { readBack: null };
  });
}

/** A measured stream in the inventory's `currentStream` shape (pixels, fps, kbit/s, GOP frames). */
function streamOfMeasured(m: MeasuredStream): NonNullable<CameraCapabilities["currentStream"]> {
  return {
    ...(parseResolution(m.resolution) ?? {}),
    ...(m.codec ? { codec: m.codec } : {}),
    ...(m.fps ? { fps: m.fps } : {}),
    ...(m.bitrateKbps ? { bitrateKbps: m.bitrateKbps } : {}),
    ...(m.fps && m.gopSeconds ? { gopFrames: Math.round(m.fps * m.gopSeconds) } : {}),
  };
}

/** Retryable: not enough footage recorded since the change yet. */
class NotYetError extends Error {
  readonly retryable = true;
}

/** The `measure` actor (see the module comment). */
export function createApplyMeasure(deps: Pick<ApplyDeps, "db" | "dataDir">) {
  return fromPromise<MeasuredStream, ApplyJob>(async ({ input }) => {
    const since = input.appliedAtUtc ?? 0;
    const after = segmentsInWindow(deps.db, input.cameraId, since, Date.now() + 1).filter((s) => s.start_utc >= since && s.end_utc > s.start_utc && s.bytes !== null);
    if (after.length < VERIFY_SEGMENTS) throw new NotYetError(`only ${after.length} of ${VERIFY_SEGMENTS} recordings made since the change`);
    const use = after.slice(-VERIFY_SEGMENTS);
    let frames = 0;
    let seconds = 0;
    let bytes = 0;
    let rowSeconds = 0;
    const keyTimes: number[][] = [];
    let resolution: string | null = null;
    let codec: string | null = null;
    let measured = 0;
    for (const seg of use) {
      const file = resolveInside(deps.dataDir, seg.rel_path);
      const probe = await probeMedia(file).catch(() => null);
      if (!probe) continue;
      measured++;
      frames += probe.frames;
      seconds += probe.durationSec;
      bytes += seg.bytes ?? 0;
      rowSeconds += (seg.end_utc - seg.start_utc) / 1000;
      if (probe.width && probe.height) resolution = `${probe.width}x${probe.height}`;
      codec = probe.codec ?? codec;
      const k = await measureKeyframes(file).catch(() => null);
      if (k) keyTimes.push(k.keyTimesSec);
    }
    if (measured === 0) throw new NotYetError("the recordings made since the change could not be read");
    return {
      resolution,
      codec,
      fps: seconds > 0 ? Math.round((frames / seconds) * 100) / 100 : null,
      bitrateKbps: rowSeconds > 0 ? Math.round((bytes * 8) / rowSeconds / 1000) : null,
      gopSeconds: meanKeyframeInterval(keyTimes, (input.segmentMs / 1000) * 3),
      segments: measured,
    };
  });
}

/** The applyConfig machine with the real implementations. */
export function provideApplyConfig(deps: ApplyDeps) {
  const { journal, bus } = deps;
  return applyConfigMachine.provide({
    actors: {
      pushSettings: (deps.applyPush ?? createApplyPush(deps)) as unknown as PromiseActorLogic<PushOutput, ApplyJob>,
      measure: (deps.applyMeasure ?? createApplyMeasure(deps)) as unknown as PromiseActorLogic<MeasuredStream, ApplyJob>,
    },
    actions: {
      recordInProgress: ({ context, self }) => {
        journal.enqueue(self, (d) => {
          markApplyInProgress(d, context.applyId);
        });
      },
      recordApplied: ({ context, self }) => {
        const at = context.appliedAtUtc ?? nowOf(self);
        journal.enqueue(self, (d) => {
          markApplyApplied(d, context.applyId, at, context.confirmedBy);
        });
      },
      recordOutcome: ({ context, self }) => {
        const status = context.outcome ?? "failed";
        const error = errorMessageOf(context);
        const at = context.appliedAtUtc ?? nowOf(self);
        const verification = context.readBack || context.measured ? { readBack: context.readBack, measured: context.measured, differences: context.differences } : null;
        journal.enqueue(self, (d) => {
          finishApply(d, context.applyId, { status, error, verification, at });
          // dashcam's own encoder: the inventory shows the stream as now recorded
          if (context.method === "self" && context.measured) storeCurrentStream(d, context.cameraId, streamOfMeasured(context.measured), "recording");
          const words = status === "success" ? "applied and verified" : status === "partial" ? `applied in part: ${error}` : `failed: ${error}`;
          return logAndAnnounce(d, bus, {
            kind: "camera.apply",
            level: status === "success" ? "info" : status === "partial" ? "warn" : "error",
            cameraId: context.cameraId,
            message: `camera ${context.cameraKey}: settings change ${context.applyId} (${context.method}) ${words}`,
            data: { applyId: context.applyId, method: context.method, status, error, measured: context.measured, readBack: context.readBack },
          });
        });
      },
    },
  });
}
