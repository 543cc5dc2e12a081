/**
 * The timelapse capturer (service actor `timelapseCapture`, src `timelapseCapture`): every camera
 * with `[cameras.timelapse] interval_seconds` gets a current frame (the runtime's
 * CurrentFrameSource) every interval, stored as an `images` row (src/media/timelapse.ts
 * `storeCapturedImage`: rotated, written crash-safely, SHA-256) with its `capture_attempts`
 * success row in one transaction, after the file is durable.
 *
 * Cost: a recording camera's try asks for a keyframe-aligned frame (`keyframeWaitMs` =
 * `captureKeyframeWaitMs`: `keyframe_wait_seconds`, default min(interval, 12 s)): it may wait for
 * the camera's next keyframe and then decodes that one frame instead of the GOP up to the
 * newest frame (up to 250 frames with a 10 s GOP at 25 frames/s). So a still is taken up to
 * that wait after its tick, and its `images.captured_at` is the keyframe's arrival time. The
 * try's time bound is `CAPTURE_TIMEOUT_MS` plus that wait, and `capture_attempts.duration_ms`
 * is the whole try, wait included. A timelapse-only camera's source grab starts at a keyframe
 * anyway and ignores the option.
 *
 * A try that gives no image is a `capture_attempts` row too: `timeout` (the source did not
 * deliver within `CAPTURE_TIMEOUT_MS` plus the keyframe wait), `failed` (the camera is unknown, not delivering or its
 * frame did not decode), `error` (storing failed: disk full ...), with `retry_count` = the
 * consecutive failures before it. After n failures in a row the next try waits
 * `captureBackoffMs(interval, n)` (the interval doubling, capped at max(interval, 5 min)), so a
 * dead camera costs little; the first success resets it. Nothing here can hang: every try is
 * bounded by the source's timeout plus a hard deadline of our own.
 *
 * Continuous videos: after a capture, a camera with `generation_mode = "every_capture"` (or
 * `periodic` once `periodic_minutes` have passed since its last regeneration) has its continuous
 * batch refreshed (src/db/timelapse.ts `refreshContinuousBatch`) and the supervisor told
 * (`TIMELAPSE.START`), which spawns or wakes the batch actor.
 */
import { fromCallback } from "xstate";
import type { CameraConfig } from "../config.ts";
import { cameraIdByKey } from "../db/cameras.ts";
import { insertCapture, insertFailedAttempt, refreshContinuousBatch, type AttemptStatus } from "../db/timelapse.ts";
import { FrameUnavailableError, KEYFRAME_WAIT_MS, type CurrentFrameSource } from "../media/currentFrame.ts";
import { imageColumns, storeCapturedImage, type Rotation } from "../media/timelapse.ts";
import type { TimelapseBatchInput } from "../machines/timelapseBatch.ts";
import { log } from "../log.ts";
import type { ActorDeps } from "./camera.ts";

/** Longest a try may take before it counts as `timeout`, ms, not counting the keyframe wait. */
export const CAPTURE_TIMEOUT_MS = 8_000;

/**
 * How long a capture of `cam` may wait for the camera's next keyframe, ms: its
 * `keyframe_wait_seconds`, else min(interval, `KEYFRAME_WAIT_MS` = 12 s) (a still is never
 * more than one interval late); 0 for a timelapse-only camera (no live GOP to save decoding on).
 */
export function captureKeyframeWaitMs(cam: CameraConfig): number {
  if (cam.record === false) return 0;
  const tl = cam.timelapse;
  if (tl?.keyframe_wait_seconds !== undefined) return tl.keyframe_wait_seconds * 1000;
  return Math.min((tl?.interval_seconds ?? 0) * 1000, KEYFRAME_WAIT_MS);
}

/** Wait after `failures` consecutive failed tries (>= 1), ms: the interval doubling, at most max(interval, 5 min). */
export function captureBackoffMs(intervalMs: number, failures: number): number {
  return Math.min(intervalMs * 2 ** Math.max(0, failures - 1), Math.max(intervalMs, 300_000));
}

export interface CaptureDeps extends Pick<ActorDeps, "db" | "dataDir" | "cameras"> {
  frameSource: CurrentFrameSource;
  /** Promises the runtime awaits before closing the database (a try in flight at stop). */
  background?: Set<Promise<unknown>>;
  /** Longest a try may take, ms, not counting the keyframe wait (default CAPTURE_TIMEOUT_MS). */
  captureTimeoutMs?: number;
}

/** How one try ended (for logs and tests). */
export interface CaptureOutcome {
  status: AttemptStatus;
  imageId: number | null;
  error: string | null;
}

class CaptureTimeoutError extends Error {}

/** The attempt status of a failed try's error. */
function statusOf(err: unknown): Exclude<AttemptStatus, "success"> {
  if (err instanceof CaptureTimeoutError) return "timeout";
  if (err instanceof FrameUnavailableError) return err.reason === "timeout" ? "timeout" : "failed";
  return "error";
}

/**
 * One capture try for camera `cam` (row id `cameraId`), `retryCount` failures before it.
 * Writes the rows; never throws (returns the outcome).
 */
export async function captureOnce(deps: CaptureDeps, cam: CameraConfig, cameraId: number, retryCount: number, signal?: AbortSignal): Promise<CaptureOutcome> {
  const attemptedAt = Date.now();
  const t0 = performance.now();
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const keyframeWaitMs = captureKeyframeWaitMs(cam);
  const timeoutMs = (deps.captureTimeoutMs ?? CAPTURE_TIMEOUT_MS) + keyframeWaitMs;
  try {
    const hardDeadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort();
        reject(new CaptureTimeoutError(`no frame within ${timeoutMs} ms`));
      }, timeoutMs + 1000);
    });
    const work = (async () => {
      const frame = await deps.frameSource.current(cam.key, { timeoutMs, keyframeWaitMs, signal: ac.signal });
      return storeCapturedImage(deps.dataDir, cam.key, frame, (cam.timelapse?.rotation ?? "none") as Rotation, ac.signal).then((stored) => ({ stored, frame }));
    })();
    const { stored, frame } = await Promise.race([work, hardDeadline]);
    const { imageId } = insertCapture(deps.db, {
      cameraId,
      ...imageColumns(stored),
      capturedAt: frame.capturedAtMs,
      attemptedAt,
      durationMs: Math.round(performance.now() - t0),
      retryCount,
    });
    return { status: "success", imageId, error: null };
  } catch (err) {
    const status = statusOf(err);
    const error = String((err as Error)?.message ?? err).split("\n")[0]!;
    try {
      insertFailedAttempt(deps.db, { cameraId, attemptedAt, status, error, durationMs: Math.round(performance.now() - t0), retryCount });
    } catch (dbErr) {
      log.warn(`timelapse ${cam.key}: cannot record the failed capture: ${(dbErr as Error).message}`);
    }
    return { status, imageId: null, error };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * The `timelapseCapture` service actor (see the module comment). Sends `TIMELAPSE.START { batch }` to its parent when a continuous batch is to be rendered.
 */
export function createTimelapseCapture(deps: CaptureDeps) {
  return fromCallback<{ type: string }, Record<string, never>>(({ sendBack }) => {
    const stop = new AbortController();
    const timers = new Set<ReturnType<typeof setTimeout>>();
    for (const cam of deps.cameras.values()) {
      const tl = cam.timelapse;
      if (!cam.enabled || !tl?.interval_seconds) continue;
      const cameraId = cameraIdByKey(deps.db, cam.key);
      if (cameraId === null) continue;
      const intervalMs = tl.interval_seconds * 1000;
      let failures = 0;
      let nextPeriodic = Date.now() + tl.periodic_minutes * 60_000;
      const regenerate = () => {
        const { batchId } = refreshContinuousBatch(deps.db, {
          cameraId,
          cameraKey: cam.key,
          generationMode: tl.generation_mode,
          frameRate: tl.frame_rate,
          overlay: tl.day_counter_start !== undefined,
          now: Date.now(),
        });
        const batch: TimelapseBatchInput = { batchId, cameraKey: cam.key, cameraId, batchType: "continuous" };
        sendBack({ type: "TIMELAPSE.START", batch } as never);
      };
      const tick = async () => {
        if (stop.signal.aborted) return;
        const started = Date.now();
        const attempt = captureOnce(deps, cam, cameraId, failures, stop.signal);
        deps.background?.add(attempt);
        const outcome = await attempt;
        deps.background?.delete(attempt);
        if (stop.signal.aborted) return;
        if (outcome.status === "success") {
          failures = 0;
          try {
            if (tl.generation_mode === "every_capture") regenerate();
            else if (tl.generation_mode === "periodic" && Date.now() >= nextPeriodic) {
              nextPeriodic = Date.now() + tl.periodic_minutes * 60_000;
              regenerate();
            }
          } catch (err) {
            log.warn(`timelapse ${cam.key}: cannot queue the continuous video: ${(err as Error).message}`);
          }
        } else {
          failures++;
          if (failures === 1 || failures % 10 === 0) log.warn(`timelapse ${cam.key}: capture ${outcome.status}: ${outcome.error} (${failures} in a row)`);
        }
        const delay = failures === 0 ? intervalMs : captureBackoffMs(intervalMs, failures);
        schedule(Math.max(0, started + delay - Date.now()));
      };
      const schedule = (ms: number) => {
        const t = setTimeout(() => {
          timers.delete(t);
          void tick();
        }, ms);
        timers.add(t);
      };
      schedule(0);
    }
    return () => {
      stop.abort();
      for (const t of timers) clearTimeout(t);
    };
  });
}
