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
 */

/** One decoded picture, JPEG-encoded. `width`/`height` in pixels. */
export interface CurrentFrame {
  jpeg: Uint8Array;
  /** Capture time of the frame, Unix ms UTC. */
  capturedAtMs: number;
  width: number;
  height: number;
}

/** Options of one request. */
export interface CurrentFrameRequest {
  /** Oldest acceptable frame, ms before now (default 2000). */
  maxAgeMs?: number;
  /** Give up after this long, ms (default 5000). */
  timeoutMs?: number;
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
