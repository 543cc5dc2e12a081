/**
 * The pipeline's ffmpeg runs (frame sampling, snapshots) go through `runFfmpeg`
 * (src/media/ffmpeg.ts) at the lowest CPU priority (nice 19, as `nice -n 19` would), because
 * recording must never wait for ALPR; and their failures are reported by ffmpeg's last line.
 */
import { setPriority } from "node:os";
import type { FfmpegRun } from "../media/ffmpeg.ts";

/** The lowest scheduling priority (nice value) on Linux. */
export const BACKGROUND_NICE = 19;

/**
 * Lowers process `pid` to nice 19; pass it as `runFfmpeg`'s `onSpawn`. A process that already
 * exited (ESRCH) or a system that refuses is ignored: the run then keeps normal priority.
 */
export function lowerPriority(pid: number): void {
  try {
    setPriority(pid, BACKGROUND_NICE);
  } catch {
    // gone already, or not permitted: the run keeps its priority
  }
}

/** The last stderr line of a run (redacted; "" when ffmpeg printed nothing). */
export function lastStderrLine(run: FfmpegRun): string {
  return run.stderr.split(" | ").pop() ?? "";
}
