/**
 * The ALPR pipeline's state for the UI and the service's status: task counts by stage and
 * status (alprTasks.ts), the `alpr.*` counters (counters.ts) and the final reads (vehicles.ts).
 */
import type { Database } from "bun:sqlite";
import { COUNTERS, FRAME_CATEGORIES, taskCounts, type TaskCategory, type TaskStatus } from "./alprTasks.ts";
import { getCounter } from "./counters.ts";
import { vehicleCounts } from "./vehicles.ts";

/** Pipeline state for the UI: task counts, counters. */
export interface PipelineStatus {
  /** Unfinished frame tasks (queued + running + failed). */
  backlog: number;
  queued: number;
  running: number;
  failed: number;
  openTracks: number;
  sampledFrames: number;
  skippedFrames: number;
  failedTasks: number;
  vehicles: number;
  unsynced: number;
}

/** The pipeline's task counts, ALPR counters and vehicle counts, read now. */
export function pipelineStatus(db: Database): PipelineStatus {
  const counts = taskCounts(db);
  const sum = (pred: (c: { category: TaskCategory; status: TaskStatus }) => boolean) =>
    counts.filter(pred).reduce((s, c) => s + c.n, 0);
  const frame = (c: { category: TaskCategory }) => FRAME_CATEGORIES.includes(c.category);
  const vehicles = vehicleCounts(db);
  return {
    backlog: sum((c) => frame(c) && c.status !== "done"),
    queued: sum((c) => c.status === "queued" && c.category !== "plate_smooth"),
    running: sum((c) => c.status === "running"),
    failed: sum((c) => c.status === "failed"),
    openTracks: sum((c) => c.category === "plate_smooth" && c.status === "queued"),
    sampledFrames: getCounter(db, COUNTERS.sampledFrames) ?? 0,
    skippedFrames: getCounter(db, COUNTERS.skippedFrames) ?? 0,
    failedTasks: getCounter(db, COUNTERS.failedTasks) ?? 0,
    vehicles: vehicles.total,
    unsynced: vehicles.unsynced,
  };
}
