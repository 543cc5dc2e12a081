/**
 * Typed queries of the ALPR task graph (seed 001): `tasks`, `results`, `task_dependencies`, and
 * the names of the `alpr.*` rows of `counters` (`COUNTERS`; the values live in counters.ts).
 * Final reads are in vehicles.ts, watched plates in watchlist.ts, the UI summary in alprStatus.ts.
 *
 * Tasks follow the seed: `payload` is a small JSON pointer (`{"payload_ref": "frames/3/12-4.jpg"}`),
 * `dependencies` a JSON list of the frame references (payload_refs) the task needs, `status`
 * `queued` until a worker finishes it, then `done`. This program also uses `running` (claimed by
 * a worker, reset to `queued` at start-up) and `failed` (a retryable runtime failure, e.g. a
 * worker crash; requeued later; the frame is kept meanwhile because the seed's cleanup query
 * counts any status other than `done` as unfinished).
 *
 * `task_dependencies` holds one row per (task, payload_ref) and is written in the same
 * transaction as `tasks.dependencies`, so `countFrameDependents` (an index lookup) returns
 * exactly what the seed's `dependencies LIKE '%"ref"%'` query returns (`countFrameDependentsSeed`,
 * kept for the equivalence test and `dashcam check`). Frame references contain only digits,
 * `/`, `-`, `.` and the word `frames`, so the LIKE pattern has no `_`/`%` wildcards and no
 * case folding to disagree on.
 *
 * Statements are prepared once per Database (`perDatabase`). Multi-row changes are one transaction;
 * functions named `...Tx` expect to run inside the caller's transaction. Times are ms UTC.
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";

export type TaskCategory = "vehicle_detect" | "plate_detect" | "ocr" | "plate_smooth" | "summary";
export type TaskStatus = "queued" | "running" | "done" | "failed";

/** Categories that run on one sampled frame (the inference stages). */
export const FRAME_CATEGORIES: readonly TaskCategory[] = ["vehicle_detect", "plate_detect", "ocr"];

/**
 * Default priority per category: later stages first, so a frame's work finishes (and its file
 * is deleted) before new frames are started (depth-first through the graph).
 */
export const PRIORITY: Record<TaskCategory, number> = {
  vehicle_detect: 1,
  plate_detect: 2,
  ocr: 3,
  plate_smooth: 4,
  summary: 5,
};

/** A `tasks` row with its JSON columns parsed. */
export interface Task<M = Record<string, unknown>> {
  id: number;
  category: TaskCategory;
  payload: { payload_ref?: string | null; [k: string]: unknown } | null;
  priority: number;
  video_id: string | null;
  frame_idx: number | null;
  track_id: number | null;
  meta: M;
  dependencies: string[];
  status: TaskStatus;
}

interface TaskDbRow {
  id: number;
  category: TaskCategory;
  payload: string | null;
  priority: number | null;
  video_id: string | null;
  frame_idx: number | null;
  track_id: number | null;
  meta: string | null;
  dependencies: string | null;
  status: TaskStatus;
}

/** What `insertTaskTx` needs; `dependencies` are payload_refs (frame files relative to data_dir). */
export interface NewTask {
  category: TaskCategory;
  payload?: Record<string, unknown> | null;
  videoId?: string | null;
  frameIdx?: number | null;
  trackId?: number | null;
  meta?: Record<string, unknown>;
  dependencies?: string[];
  priority?: number;
  status?: TaskStatus;
}

/** An unhandled `results` row with its task. */
export interface PendingResult {
  resultId: number;
  task: Task;
  result: Record<string, unknown>;
}

const statements = perDatabase((db) => ({
  insertTask: db.prepare(
    `INSERT INTO tasks (category, payload, priority, video_id, frame_idx, track_id, meta, dependencies, status)
     VALUES ($category, $payload, $priority, $video_id, $frame_idx, $track_id, $meta, $dependencies, $status)`,
  ),
  insertDep: db.prepare("INSERT OR IGNORE INTO task_dependencies (task_id, payload_ref) VALUES ($task_id, $ref)"),
  deleteDeps: db.prepare("DELETE FROM task_dependencies WHERE task_id = $task_id"),
  setDeps: db.prepare("UPDATE tasks SET dependencies = $dependencies WHERE id = $id"),
  getTask: db.prepare("SELECT * FROM tasks WHERE id = $id"),
  setStatus: db.prepare("UPDATE tasks SET status = $status WHERE id = $id"),
  setTrack: db.prepare("UPDATE tasks SET track_id = $track_id WHERE id = $id"),
  setMeta: db.prepare("UPDATE tasks SET meta = $meta WHERE id = $id"),
  insertResult: db.prepare("INSERT INTO results (task_id, result, handled) VALUES ($task_id, $result, 0)"),
  unhandled: db.prepare(
    `SELECT r.id AS result_id, r.result AS result, t.*
     FROM results r JOIN tasks t ON t.id = r.task_id
     WHERE r.handled = 0 ORDER BY r.id LIMIT $limit`,
  ),
  markHandled: db.prepare("UPDATE results SET handled = 1 WHERE id = $id"),
  // The seed's cleanup query in its exact, indexed form: task_dependencies(payload_ref, task_id)
  // replaces the `dependencies LIKE ?` scan; the rest of the query is the seed's.
  dependents: db.prepare(
    `SELECT COUNT(*) AS n
     FROM task_dependencies d
     JOIN tasks t ON t.id = d.task_id
     LEFT JOIN results r ON r.task_id = t.id
     WHERE d.payload_ref = $ref
       AND t.id != $task_id
       AND (t.status != 'done' OR (r.id IS NOT NULL AND r.handled = 0))`,
  ),
  // Seed 001 section 2.3, verbatim apart from named parameters.
  dependentsSeed: db.prepare(
    `SELECT COUNT(*) AS n
     FROM tasks t
     LEFT JOIN results r ON r.task_id = t.id
     WHERE t.id != $task_id
       AND t.dependencies LIKE $pattern
       AND (
             t.status != 'done'
             OR (r.id IS NOT NULL AND r.handled = 0)
           )`,
  ),
  queued: db.prepare(
    `SELECT * FROM tasks WHERE status = 'queued' AND category = $category ORDER BY id LIMIT $limit`,
  ),
  taskCounts: db.prepare("SELECT category, status, COUNT(*) AS n FROM tasks GROUP BY category, status ORDER BY category, status"),
  frameBacklog: db.prepare(
    `SELECT COUNT(*) AS n FROM tasks
     WHERE status IN ('queued', 'running', 'failed') AND category IN ('vehicle_detect', 'plate_detect', 'ocr')`,
  ),
  requeueRunning: db.prepare("UPDATE tasks SET status = 'queued' WHERE status = 'running'"),
  requeueFailed: db.prepare("UPDATE tasks SET status = 'queued' WHERE status = 'failed'"),
  maxId: db.prepare("SELECT MAX(id) AS m FROM tasks"),
  prune: db.prepare(
    `DELETE FROM tasks WHERE id IN (
       SELECT t.id FROM tasks t
       WHERE t.id <= $below AND t.status = 'done'
         AND NOT EXISTS (SELECT 1 FROM results r WHERE r.task_id = t.id AND r.handled = 0)
         AND NOT (t.category = 'ocr' AND t.track_id IS NOT NULL AND EXISTS (
               SELECT 1 FROM tasks o WHERE o.id = t.track_id AND o.status != 'done'))
       ORDER BY t.id LIMIT $batch)`,
  ),
  oldestUnfinishedFrame: db.prepare(
    `SELECT json_extract(meta, '$.camera_id') AS cam, MIN(json_extract(meta, '$.ts')) AS ts FROM tasks
     WHERE status IN ('queued', 'running', 'failed') AND category IN ('vehicle_detect', 'plate_detect', 'ocr')
     GROUP BY cam
     UNION ALL
     SELECT json_extract(t.meta, '$.camera_id'), MIN(json_extract(t.meta, '$.ts')) FROM results r
     JOIN tasks t ON t.id = r.task_id
     WHERE r.handled = 0 AND t.category IN ('vehicle_detect', 'plate_detect', 'ocr')
     GROUP BY 1`,
  ),
  unfinishedWork: db.prepare(
    `SELECT (SELECT COUNT(*) FROM tasks WHERE status != 'done')
          + (SELECT COUNT(*) FROM results WHERE handled = 0) AS n`,
  ),
}));

function parseTask(row: TaskDbRow): Task {
  return {
    id: row.id,
    category: row.category,
    payload: row.payload ? JSON.parse(row.payload) : null,
    priority: row.priority ?? 0,
    video_id: row.video_id,
    frame_idx: row.frame_idx,
    track_id: row.track_id,
    meta: row.meta ? JSON.parse(row.meta) : {},
    dependencies: row.dependencies ? (JSON.parse(row.dependencies) as string[]) : [],
    status: row.status,
  };
}

/** The LIKE pattern the seed's cleanup query is called with for one frame reference. */
export const seedDependencyPattern = (ref: string) => `%${JSON.stringify(ref)}%`;

// ---------------------------------------------------------------- tasks and results

/** Inserts one task and its `task_dependencies` rows (call inside a transaction); returns its id. */
export function insertTaskTx(db: Database, t: NewTask): number {
  const s = statements(db);
  const deps = [...new Set(t.dependencies ?? [])];
  const r = s.insertTask.run({
    category: t.category,
    payload: t.payload === undefined || t.payload === null ? null : JSON.stringify(t.payload),
    priority: t.priority ?? PRIORITY[t.category],
    video_id: t.videoId ?? null,
    frame_idx: t.frameIdx ?? null,
    track_id: t.trackId ?? null,
    meta: JSON.stringify(t.meta ?? {}),
    dependencies: JSON.stringify(deps),
    status: t.status ?? "queued",
  });
  const id = Number(r.lastInsertRowid);
  for (const ref of deps) s.insertDep.run({ task_id: id, ref });
  return id;
}

/** Replaces a task's dependencies (JSON column and index rows together; inside a transaction). */
export function setDependenciesTx(db: Database, taskId: number, dependencies: string[]): void {
  const s = statements(db);
  const deps = [...new Set(dependencies)];
  s.setDeps.run({ id: taskId, dependencies: JSON.stringify(deps) });
  s.deleteDeps.run({ task_id: taskId });
  for (const ref of deps) s.insertDep.run({ task_id: taskId, ref });
}

/** One task by id (JSON columns parsed), or null. */
export function getTask(db: Database, id: number): Task | null {
  const row = statements(db).getTask.get({ id }) as TaskDbRow | null;
  return row ? parseTask(row) : null;
}

/** Sets a task's status. */
export function setTaskStatus(db: Database, id: number, status: TaskStatus): void {
  statements(db).setStatus.run({ id, status });
}

/** Sets the plate_smooth task (track) a task belongs to. */
export function setTaskTrack(db: Database, id: number, trackId: number): void {
  statements(db).setTrack.run({ id, track_id: trackId });
}

/** Replaces a task's `meta` JSON. */
export function setTaskMeta(db: Database, id: number, meta: Record<string, unknown>): void {
  statements(db).setMeta.run({ id, meta: JSON.stringify(meta) });
}

/**
 * Claims up to `limit` queued tasks of the given categories for a worker (status -> running),
 * highest priority first, then oldest. One transaction.
 */
export function claimTasks(db: Database, categories: readonly TaskCategory[], limit: number): Task[] {
  if (limit <= 0) return [];
  const placeholders = categories.map((_, i) => `$c${i}`).join(", ");
  const params: Record<string, string | number> = { limit };
  categories.forEach((c, i) => (params[`c${i}`] = c));
  const s = statements(db);
  return db.transaction(() => {
    // The IN list depends on the categories, so this one is not prepared up front; Bun's query
    // cache compiles each distinct text once.
    const rows = db
      .query(
        `SELECT * FROM tasks WHERE status = 'queued' AND category IN (${placeholders})
         ORDER BY priority DESC, id LIMIT $limit`,
      )
      .all(params) as TaskDbRow[];
    for (const row of rows) s.setStatus.run({ id: row.id, status: "running" });
    return rows.map((r) => ({ ...parseTask(r), status: "running" as TaskStatus }));
  })();
}

/** Queued tasks of one category, oldest first (plate_smooth = the open tracks). */
export function queuedTasks(db: Database, category: TaskCategory, limit = 10_000): Task[] {
  return (statements(db).queued.all({ category, limit }) as TaskDbRow[]).map(parseTask);
}

/**
 * Records a worker's outcome: one `results` row (handled = 0) and the task's new status, in one
 * transaction. `status` is `done` for a result (including a permanent error, e.g. a corrupt
 * frame) and `failed` for a retryable runtime error.
 */
export function completeTask(db: Database, taskId: number, result: Record<string, unknown>, status: "done" | "failed" = "done"): number {
  const s = statements(db);
  return db.transaction(() => {
    const r = s.insertResult.run({ task_id: taskId, result: JSON.stringify(result) });
    s.setStatus.run({ id: taskId, status });
    return Number(r.lastInsertRowid);
  })();
}

/** Inserts a result row inside the caller's transaction (used when a task completes in-process). */
export function completeTaskTx(db: Database, taskId: number, result: Record<string, unknown>, status: "done" | "failed" = "done"): number {
  const s = statements(db);
  const r = s.insertResult.run({ task_id: taskId, result: JSON.stringify(result) });
  s.setStatus.run({ id: taskId, status });
  return Number(r.lastInsertRowid);
}

/** Results the dispatcher has not handled yet, oldest first. */
export function unhandledResults(db: Database, limit = 100): PendingResult[] {
  const rows = statements(db).unhandled.all({ limit }) as (TaskDbRow & { result_id: number; result: string | null })[];
  return rows.map((row) => ({
    resultId: row.result_id,
    task: parseTask(row),
    result: row.result ? JSON.parse(row.result) : {},
  }));
}

/** Marks a result as handled by the dispatcher (its frames may then be released). */
export function markResultHandled(db: Database, resultId: number): void {
  statements(db).markHandled.run({ id: resultId });
}

/**
 * How many unfinished tasks other than `exceptTaskId` still depend on frame `ref`: tasks not
 * `done`, or `done` with a result the dispatcher has not handled. 0 = the frame may be deleted.
 * The seed's query in exact indexed form (see the module comment).
 */
export function countFrameDependents(db: Database, ref: string, exceptTaskId = -1): number {
  return (statements(db).dependents.get({ ref, task_id: exceptTaskId }) as { n: number }).n;
}

/** The seed's own cleanup query (`dependencies LIKE ?`, a full scan); same answer as above. */
export function countFrameDependentsSeed(db: Database, ref: string, exceptTaskId = -1): number {
  return (statements(db).dependentsSeed.get({ pattern: seedDependencyPattern(ref), task_id: exceptTaskId }) as { n: number }).n;
}

/**
 * Per camera, the frame time (`meta.ts`, ms UTC) of its oldest frame task that is unfinished
 * (queued, running or failed) or done with a result not handled yet; a camera can appear twice
 * (once per kind). What the track-closing rule waits for (src/alpr/tracker.ts).
 */
export function oldestUnfinishedFrames(db: Database): { cam: number; ts: number }[] {
  return statements(db).oldestUnfinishedFrame.all() as { cam: number; ts: number }[];
}

/** Tasks not `done` plus results not handled: 0 when the task graph has nothing left to do. */
export function unfinishedWork(db: Database): number {
  return (statements(db).unfinishedWork.get() as { n: number }).n;
}

/** Counts tasks by status (and category), for the UI and the backlog check. */
export function taskCounts(db: Database): { category: TaskCategory; status: TaskStatus; n: number }[] {
  return statements(db).taskCounts.all() as { category: TaskCategory; status: TaskStatus; n: number }[];
}

/** Unfinished frame tasks (queued, running or failed): the backlog compared with `max_queue`. */
export function frameBacklog(db: Database): number {
  return (statements(db).frameBacklog.get() as { n: number }).n;
}

/** Start-up repair: tasks left `running` by a crash go back to `queued` (they are safe to repeat). */
export function requeueRunning(db: Database): number {
  return statements(db).requeueRunning.run().changes;
}

/** Retry: `failed` tasks (retryable runtime errors) go back to `queued`. */
export function requeueFailed(db: Database): number {
  return statements(db).requeueFailed.run().changes;
}

/**
 * Deletes finished history beyond the newest `keep` tasks: tasks `done` whose results are all
 * handled and that no open track (queued plate_smooth) still reads. Cascades to results and
 * task_dependencies. Returns how many tasks were deleted.
 */
export function pruneTasks(db: Database, keep = 50_000, batch = 2000): number {
  const s = statements(db);
  const max = (s.maxId.get() as { m: number | null }).m;
  if (max === null || max <= keep) return 0;
  return s.prune.run({ below: max - keep, batch }).changes;
}

// ---------------------------------------------------------------- counters

/** Names of the ALPR rows in `counters`. */
export const COUNTERS = {
  /** Last absolute segment index of a camera the sampler has read (or skipped). */
  sampled: (cameraId: number) => `alpr.sampled.${cameraId}`,
  /** end_utc (ms) of that segment: every frame before it has been turned into tasks or skipped. */
  horizon: (cameraId: number) => `alpr.horizon.${cameraId}`,
  /** Frames skipped because ALPR was behind (backpressure) or the segment was gone. */
  skippedFrames: "alpr.skipped_frames",
  skippedCamera: (cameraId: number) => `alpr.skipped.${cameraId}`,
  sampledFrames: "alpr.sampled_frames",
  failedTasks: "alpr.failed_tasks",
  vehicles: "alpr.vehicles",
} as const;
