/**
 * Events exchanged between the machines (pure, `src/machines`) and the actors that do I/O
 * (`src/actors`). Times are Unix ms UTC; stream times are seconds of ffmpeg's output timeline.
 */

/**
 * A segment file ffmpeg has closed, as the indexer stores it (src/db/segments.ts `SegmentInput`
 * adds the camera): `relPath` relative to data_dir, `absoluteIndex` parsed from the file name,
 * wall-clock bounds in ms UTC, size in bytes, and the run's video stream when ffmpeg reported it
 * ("H264", pixels, frames/s).
 */
export interface ClosedSegment {
  relPath: string;
  absoluteIndex: number;
  startUtc: number;
  endUtc: number;
  bytes: number;
  codec?: string | null;
  width?: number | null;
  height?: number | null;
  fps?: number | null;
}

/** Sent by the `recorder` actor (ffmpeg child) to its parent camera machine. */
export type RecorderEvent =
  /** ffmpeg was spawned. */
  | { type: "RECORDER.STARTED"; pid: number; at: number }
  /** ffmpeg reports media flowing (first progress with out_time > 0). */
  | { type: "RECORDER.RECEIVING"; at: number }
  /**
   * ffmpeg closed a segment (a line of its CSV segment list). The file is complete on disk;
   * `absoluteIndex` is parsed from its name. `startUtc`/`endUtc` are wall-clock ms derived from
   * the stream times anchored at the run's first segment, so segments of one run are contiguous.
   */
  | ({ type: "SEGMENT_CLOSED"; startSec: number; endSec: number } & ClosedSegment)
  /** No segment closed for the stall timeout while the process is alive. */
  | { type: "STALL"; at: number; reason: string }
  /** ffmpeg exited (any reason). `error` is a redacted one-line reason, or null on a clean stop. */
  | { type: "PROCESS_EXIT"; code: number | null; signal: string | null; error: string | null; at: number };

/** Sent to the recorder actor by its parent. */
export type RecorderCommand = { type: "RECORDER.STOP" };

/** Sent to a camera machine from outside (supervisor, CLI, web). */
export type CameraCommand =
  | { type: "START" }
  | { type: "STOP" }
  | { type: "DISABLE" }
  | { type: "ENABLE" }
  /**
   * Restart the recorder to pick up new encoder settings: ffmpeg finishes (and the runtime
   * indexes) its current segment, then a new run starts; the trip goes on. Ignored unless online.
   */
  | { type: "RECORDER.RESTART" }
  /** Ring enforcement found only evidence left and the disk full: stop with a clear status. */
  | { type: "DISK_FULL_LOCKED"; at: number; reason: string }
  /**
   * A pending incident's window on this camera (Unix ms UTC): segments that overlap it are
   * evidence-locked as they are indexed, so retention cannot take them before the clip is cut.
   */
  | { type: "INCIDENT.WINDOW"; incidentId: string; fromUtc: number; toUtc: number };

/** Sent to a trip machine. */
export type TripCommand =
  | { type: "SEGMENT_ADDED"; absoluteIndex: number; endUtc: number }
  | { type: "CLOSE"; at: number; reason: "shutdown" | "older_boot" | "camera_stopped" }
  | { type: "SAVE"; at: number; source: "button" | "ui" | "api" | "cli" }
  /** The driver deleted the saved trip while it still records (to make room): it goes on unsaved (a closed one: `TripInput.unsave`). */
  | { type: "UNSAVE"; at: number; by: string }
  | { type: "EVICTED"; at: number };

/** State of the GPIO save button, for the UI and the event log. */
export type GpioStatus = "starting" | "ready" | "unavailable";

/**
 * Sent by the GPIO button actor (src/actors/gpio.ts) to its parent. `SAVE` has the trip's SAVE
 * shape, so the parent can forward it to the current trip as is; `INCIDENT` asks for an
 * incident clip around `at` (ms UTC, the press time). `GPIO.STATUS.reason` is one line for the
 * UI when the button is unavailable (tool missing, chip missing, permission, line busy).
 */
export type GpioEvent =
  | { type: "SAVE"; at: number; source: "button" }
  | { type: "INCIDENT"; at: number; source: "button" }
  | { type: "GPIO.STATUS"; status: GpioStatus; reason: string | null; at: number };
