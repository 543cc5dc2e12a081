/**
 * The "current frame" port: the picture a camera shows now, for "Snapshot now", the
 * `GET /cameras/<key>/frame.jpg` route, timelapse captures and camera health checks.
 *
 * Contract every implementation keeps:
 * - `current(key)` resolves with a JPEG whose `capturedAtMs` (Unix ms UTC, the wall-clock time
 *   the frame was captured, not when it was decoded) is at most `maxAgeMs` (default 2000) before
 *   the moment the call resolves, whatever the camera's GOP length;
 * - it costs nothing while nobody asks (no decoder runs between calls);
 * - it never hangs: it rejects with `FrameUnavailableError` after `timeoutMs` (default 5000) or
 *   when the camera is unknown, disabled or not delivering video (`reason` says which).
 *
 * Callers that can wait a little (timelapse captures, camera health checks) pass `keyframeWaitMs`:
 * the source may then wait up to that long for the camera's next keyframe and decode only it,
 * which for a camera with a long GOP costs one decoded frame instead of up to a whole GOP. The
 * contract above still holds (the keyframe is the newest frame when it is decoded; without a
 * keyframe in time the source decodes as usual). Anything a user waits for ("Snapshot now",
 * `frame.jpg`) asks without it.
 */

/** One decoded picture, JPEG-encoded. `width`/`height` in pixels. */
export interface CurrentFrame {
  jpeg: Uint8Array;
  /** Capture time of the frame, Unix ms UTC. */
  capturedAtMs: number;
  width: number;
  height: number;
  /**
   * Video frames the decoder ran through to produce it (1 = a keyframe alone; a frame in the
   * middle of a GOP needs every frame since the keyframe). Absent when the source does not know.
   */
  decodedFrames?: number;
}

/**
 * How long a caller that is not a waiting user lets the source wait for the next keyframe, ms:
 * 12 s, longer than the 10 s GOP that RTSP cameras commonly send (and the highway test clip
 * has), so the wait nearly always ends at a keyframe.
 */
export const KEYFRAME_WAIT_MS = 12_000;

/** Options of one request. */
export interface CurrentFrameRequest {
  /** Oldest acceptable frame, ms before now (default 2000). */
  maxAgeMs?: number;
  /** Give up after this long, ms (default 5000); includes any keyframe wait. */
  timeoutMs?: number;
  /**
   * May wait up to this long (ms) for the camera's next keyframe and decode only it (default 0:
   * decode at once). Bounded by `timeoutMs` too; without a keyframe in time the source decodes
   * as it would without the option, so the frame is still at most `maxAgeMs` old.
   */
  keyframeWaitMs?: number;
  signal?: AbortSignal;
}

/** Why no frame could be had. */
export type FrameUnavailableReason = "unknown_camera" | "not_recording" | "timeout" | "decode_failed";

/** Thrown (rejected) by `CurrentFrameSource.current` when no fresh frame can be delivered. */
export class FrameUnavailableError extends Error {
  constructor(
    readonly reason: FrameUnavailableReason,
    message: string,
  ) {
    super(message);
    this.name = "FrameUnavailableError";
  }
}

/** The port: one per runtime, serving every camera by key. */
export interface CurrentFrameSource {
  current(cameraKey: string, request?: CurrentFrameRequest): Promise<CurrentFrame>;
}
