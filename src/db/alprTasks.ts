/**
 * Typed queries of the ALPR pipeline (seed 001): `tasks`, `results`, `task_dependencies`,
 * `vehicles`, `watchlist` and the `alpr.*` rows of `counters`.
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
 * Statements are prepared once per Database (WeakMap). Multi-row changes are one transaction;
 * functions named `...Tx` expect to run inside the caller's transaction. Times are ms UTC.
 */
import type { Database, Statement } from "bun:sqlite";
import { editDistance, normalizePlate, oneEditNeighbours } from "../plateText.ts";

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

/** A `vehicles` row (bboxes parsed), joined with its camera's key and name when known. */
export interface VehicleRow {
  id: number;
  track_id: number | null;
  video_id: string;
  frame_idx: number;
  ts: number;
  final_plate: string;
  plate_confidence: number;
  car_bbox: number[] | null;
  plate_bbox: number[] | null;
  created_at: number;
  camera_id: number | null;
  camera_key: string | null;
  camera_name: string | null;
  snapshot_path: string | null;
  pg_synced: number;
}

export interface NewVehicle {
  trackId: number | null;
  videoId: string;
  frameIdx: number;
  ts: number;
  finalPlate: string;
  plateConfidence: number;
  carBbox: number[] | null;
  plateBbox: number[] | null;
  cameraId: number | null;
  snapshotPath: string | null;
}

export interface WatchEntry {
  id: number;
  plate: string;
  note: string | null;
  created_at: number;
}

export type SearchMode = "exact" | "prefix" | "fuzzy";

/** Plate search: text is normalised; `from`/`to` are ms UTC (inclusive / exclusive). */
export interface VehicleQuery {
  text?: string;
  mode?: SearchMode;
  cameraId?: number | null;
  from?: number | null;
  to?: number | null;
  limit?: number;
  offset?: number;
}

class Statements {
  insertTask: Statement;
  insertDep: Statement;
  deleteDeps: Statement;
  setDeps: Statement;
  getTask: Statement;
  setStatus: Statement;
  setTrack: Statement;
  setMeta: Statement;
  insertResult: Statement;
  unhandled: Statement;
  markHandled: Statement;
  dependents: Statement;
  dependentsSeed: Statement;
  queued: Statement;
  counterGet: Statement;
  counterAdd: Statement;
  counterSet: Statement;
  insertVehicle: Statement;
  vehicleByKey: Statement;
  vehicleById: Statement;
  watchAll: Statement;
  watchAdd: Statement;
  watchDel: Statement;
  unsynced: Statement;
  markSynced: Statement;

  constructor(db: Database) {
    this.insertTask = db.prepare(
      `INSERT INTO tasks (category, payload, priority, video_id, frame_idx, track_id, meta, dependencies, status)
       VALUES ($category, $payload, $priority, $video_id, $frame_idx, $track_id, $meta, $dependencies, $status)`,
    );
    this.insertDep = db.prepare("INSERT OR IGNORE INTO task_dependencies (task_id, payload_ref) VALUES ($task_id, $ref)");
    this.deleteDeps = db.prepare("DELETE FROM task_dependencies WHERE task_id = $task_id");
    this.setDeps = db.prepare("UPDATE tasks SET dependencies = $dependencies WHERE id = $id");
    this.getTask = db.prepare("SELECT * FROM tasks WHERE id = $id");
    this.setStatus = db.prepare("UPDATE tasks SET status = $status WHERE id = $id");
    this.setTrack = db.prepare("UPDATE tasks SET track_id = $track_id WHERE id = $id");
    this.setMeta = db.prepare("UPDATE tasks SET meta = $meta WHERE id = $id");
    this.insertResult = db.prepare("INSERT INTO results (task_id, result, handled) VALUES ($task_id, $result, 0)");
    this.unhandled = db.prepare(
      `SELECT r.id AS result_id, r.result AS result, t.*
       FROM results r JOIN tasks t ON t.id = r.task_id
       WHERE r.handled = 0 ORDER BY r.id LIMIT $limit`,
    );
    this.markHandled = db.prepare("UPDATE results SET handled = 1 WHERE id = $id");
    // The seed's cleanup query in its exact, indexed form: task_dependencies(payload_ref, task_id)
    // replaces the `dependencies LIKE ?` scan; the rest of the query is the seed's.
    this.dependents = db.prepare(
      `SELECT COUNT(*) AS n
       FROM task_dependencies d
       JOIN tasks t ON t.id = d.task_id
       LEFT JOIN results r ON r.task_id = t.id
       WHERE d.payload_ref = $ref
         AND t.id != $task_id
         AND (t.status != 'done' OR (r.id IS NOT NULL AND r.handled = 0))`,
    );
    // Seed 001 section 2.3, verbatim apart from named parameters.
    this.dependentsSeed = db.prepare(
      `SELECT COUNT(*) AS n
       FROM tasks t
       LEFT JOIN results r ON r.task_id = t.id
       WHERE t.id != $task_id
         AND t.dependencies LIKE $pattern
         AND (
               t.status != 'done'
               OR (r.id IS NOT NULL AND r.handled = 0)
             )`,
    );
    this.queued = db.prepare(
      `SELECT * FROM tasks WHERE status = 'queued' AND category = $category ORDER BY id LIMIT $limit`,
    );
    this.counterGet = db.prepare("SELECT value FROM counters WHERE name = $name");
    this.counterAdd = db.prepare(
      "INSERT INTO counters (name, value) VALUES ($name, $delta) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
    );
    this.counterSet = db.prepare(
      "INSERT INTO counters (name, value) VALUES ($name, $value) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
    );
    this.insertVehicle = db.prepare(
      `INSERT INTO vehicles (track_id, video_id, frame_idx, ts, final_plate, plate_confidence, car_bbox, plate_bbox,
                             created_at, camera_id, snapshot_path, pg_synced)
       VALUES ($track_id, $video_id, $frame_idx, $ts, $final_plate, $plate_confidence, $car_bbox, $plate_bbox,
               $created_at, $camera_id, $snapshot_path, 0)
       ON CONFLICT (video_id, frame_idx, track_id) DO NOTHING
       RETURNING id`,
    );
    this.vehicleByKey = db.prepare(
      "SELECT id FROM vehicles WHERE video_id = $video_id AND frame_idx = $frame_idx AND track_id IS $track_id",
    );
    this.vehicleById = db.prepare(
      `SELECT v.*, c.key AS camera_key, c.name AS camera_name FROM vehicles v
       LEFT JOIN cameras c ON c.id = v.camera_id WHERE v.id = $id`,
    );
    this.watchAll = db.prepare("SELECT id, plate, note, created_at FROM watchlist ORDER BY plate");
    this.watchAdd = db.prepare(
      `INSERT INTO watchlist (plate, note, created_at) VALUES ($plate, $note, $created_at)
       ON CONFLICT(plate) DO UPDATE SET note = excluded.note RETURNING id`,
    );
    this.watchDel = db.prepare("DELETE FROM watchlist WHERE id = $id");
    this.unsynced = db.prepare(
      `SELECT v.*, c.key AS camera_key, c.name AS camera_name FROM vehicles v
       LEFT JOIN cameras c ON c.id = v.camera_id WHERE v.pg_synced = 0 ORDER BY v.id LIMIT $limit`,
    );
    this.markSynced = db.prepare("UPDATE vehicles SET pg_synced = 1 WHERE id = $id");
  }
}

const cache = new WeakMap<Database, Statements>();

function st(db: Database): Statements {
  let s = cache.get(db);
  if (!s) {
    s = new Statements(db);
    cache.set(db, s);
  }
  return s;
}

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
  const s = st(db);
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
  const s = st(db);
  const deps = [...new Set(dependencies)];
  s.setDeps.run({ id: taskId, dependencies: JSON.stringify(deps) });
  s.deleteDeps.run({ task_id: taskId });
  for (const ref of deps) s.insertDep.run({ task_id: taskId, ref });
}

export function getTask(db: Database, id: number): Task | null {
  const row = st(db).getTask.get({ id }) as TaskDbRow | null;
  return row ? parseTask(row) : null;
}

export function setTaskStatus(db: Database, id: number, status: TaskStatus): void {
  st(db).setStatus.run({ id, status });
}

export function setTaskTrack(db: Database, id: number, trackId: number): void {
  st(db).setTrack.run({ id, track_id: trackId });
}

export function setTaskMeta(db: Database, id: number, meta: Record<string, unknown>): void {
  st(db).setMeta.run({ id, meta: JSON.stringify(meta) });
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
  const s = st(db);
  return db.transaction(() => {
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
  return (st(db).queued.all({ category, limit }) as TaskDbRow[]).map(parseTask);
}

/**
 * Records a worker's outcome: one `results` row (handled = 0) and the task's new status, in one
 * transaction. `status` is `done` for a result (including a permanent error, e.g. a corrupt
 * frame) and `failed` for a retryable runtime error.
 */
export function completeTask(db: Database, taskId: number, result: Record<string, unknown>, status: "done" | "failed" = "done"): number {
  const s = st(db);
  return db.transaction(() => {
    const r = s.insertResult.run({ task_id: taskId, result: JSON.stringify(result) });
    s.setStatus.run({ id: taskId, status });
    return Number(r.lastInsertRowid);
  })();
}

/** Inserts a result row inside the caller's transaction (used when a task completes in-process). */
export function completeTaskTx(db: Database, taskId: number, result: Record<string, unknown>, status: "done" | "failed" = "done"): number {
  const s = st(db);
  const r = s.insertResult.run({ task_id: taskId, result: JSON.stringify(result) });
  s.setStatus.run({ id: taskId, status });
  return Number(r.lastInsertRowid);
}

/** Results the dispatcher has not handled yet, oldest first. */
export function unhandledResults(db: Database, limit = 100): PendingResult[] {
  const rows = st(db).unhandled.all({ limit }) as (TaskDbRow & { result_id: number; result: string | null })[];
  return rows.map((row) => ({
    resultId: row.result_id,
    task: parseTask(row),
    result: row.result ? JSON.parse(row.result) : {},
  }));
}

export function markResultHandled(db: Database, resultId: number): void {
  st(db).markHandled.run({ id: resultId });
}

/**
 * How many unfinished tasks other than `exceptTaskId` still depend on frame `ref`: tasks not
 * `done`, or `done` with a result the dispatcher has not handled. 0 = the frame may be deleted.
 * The seed's query in exact indexed form (see the module comment).
 */
export function countFrameDependents(db: Database, ref: string, exceptTaskId = -1): number {
  return (st(db).dependents.get({ ref, task_id: exceptTaskId }) as { n: number }).n;
}

/** The seed's own cleanup query (`dependencies LIKE ?`, a full scan); same answer as above. */
export function countFrameDependentsSeed(db: Database, ref: string, exceptTaskId = -1): number {
  return (st(db).dependentsSeed.get({ pattern: seedDependencyPattern(ref), task_id: exceptTaskId }) as { n: number }).n;
}

/** Counts tasks by status (and category), for the UI and the backlog check. */
export function taskCounts(db: Database): { category: TaskCategory; status: TaskStatus; n: number }[] {
  return db
    .query("SELECT category, status, COUNT(*) AS n FROM tasks GROUP BY category, status ORDER BY category, status")
    .all() as { category: TaskCategory; status: TaskStatus; n: number }[];
}

/** Unfinished frame tasks (queued, running or failed): the backlog compared with `max_queue`. */
export function frameBacklog(db: Database): number {
  const row = db
    .query(
      `SELECT COUNT(*) AS n FROM tasks
       WHERE status IN ('queued', 'running', 'failed') AND category IN ('vehicle_detect', 'plate_detect', 'ocr')`,
    )
    .get() as { n: number };
  return row.n;
}

/** Start-up repair: tasks left `running` by a crash go back to `queued` (they are safe to repeat). */
export function requeueRunning(db: Database): number {
  return db.query("UPDATE tasks SET status = 'queued' WHERE status = 'running'").run().changes;
}

/** Retry: `failed` tasks (retryable runtime errors) go back to `queued`. */
export function requeueFailed(db: Database): number {
  return db.query("UPDATE tasks SET status = 'queued' WHERE status = 'failed'").run().changes;
}

/**
 * Deletes finished history beyond the newest `keep` tasks: tasks `done` whose results are all
 * handled and that no open track (queued plate_smooth) still reads. Cascades to results and
 * task_dependencies. Returns how many tasks were deleted.
 */
export function pruneTasks(db: Database, keep = 50_000, batch = 2000): number {
  const max = (db.query("SELECT MAX(id) AS m FROM tasks").get() as { m: number | null }).m;
  if (max === null || max <= keep) return 0;
  return db
    .query(
      `DELETE FROM tasks WHERE id IN (
         SELECT t.id FROM tasks t
         WHERE t.id <= $below AND t.status = 'done'
           AND NOT EXISTS (SELECT 1 FROM results r WHERE r.task_id = t.id AND r.handled = 0)
           AND NOT (t.category = 'ocr' AND t.track_id IS NOT NULL AND EXISTS (
                 SELECT 1 FROM tasks o WHERE o.id = t.track_id AND o.status != 'done'))
         ORDER BY t.id LIMIT $batch)`,
    )
    .run({ below: max - keep, batch }).changes;
}

// ---------------------------------------------------------------- counters

export function getCounter(db: Database, name: string): number | null {
  const row = st(db).counterGet.get({ name }) as { value: number } | null;
  return row ? row.value : null;
}

export function addCounter(db: Database, name: string, delta: number): void {
  st(db).counterAdd.run({ name, delta });
}

export function setCounter(db: Database, name: string, value: number): void {
  st(db).counterSet.run({ name, value });
}

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

// ---------------------------------------------------------------- vehicles

function parseVehicle(row: Record<string, unknown>): VehicleRow {
  return {
    ...(row as unknown as VehicleRow),
    car_bbox: JSON.parse(row.car_bbox as string),
    plate_bbox: JSON.parse(row.plate_bbox as string),
    camera_key: (row.camera_key as string | null) ?? null,
    camera_name: (row.camera_name as string | null) ?? null,
  };
}

/**
 * Inserts a final read, idempotently: UNIQUE(video_id, frame_idx, track_id) makes a repeat a
 * no-op. Returns `{ id, inserted }` (`inserted` false when the row already existed).
 */
export function insertVehicleTx(db: Database, v: NewVehicle): { id: number; inserted: boolean } {
  const s = st(db);
  const row = s.insertVehicle.get({
    track_id: v.trackId,
    video_id: v.videoId,
    frame_idx: v.frameIdx,
    ts: v.ts,
    final_plate: v.finalPlate,
    plate_confidence: v.plateConfidence,
    car_bbox: JSON.stringify(v.carBbox),
    plate_bbox: JSON.stringify(v.plateBbox),
    created_at: Date.now(),
    camera_id: v.cameraId,
    snapshot_path: v.snapshotPath,
  }) as { id: number } | null;
  if (row) return { id: row.id, inserted: true };
  const existing = s.vehicleByKey.get({ video_id: v.videoId, frame_idx: v.frameIdx, track_id: v.trackId }) as { id: number };
  return { id: existing.id, inserted: false };
}

export function getVehicle(db: Database, id: number): VehicleRow | null {
  const row = st(db).vehicleById.get({ id }) as Record<string, unknown> | null;
  return row ? parseVehicle(row) : null;
}

/** Final reads not yet written to PostgreSQL, oldest first. */
export function unsyncedVehicles(db: Database, limit = 200): VehicleRow[] {
  return (st(db).unsynced.all({ limit }) as Record<string, unknown>[]).map(parseVehicle);
}

/** Marks rows as written to PostgreSQL (one transaction). */
export function markVehiclesSynced(db: Database, ids: number[]): void {
  const s = st(db);
  db.transaction(() => {
    for (const id of ids) s.markSynced.run({ id });
  })();
}

/** The upper bound of a prefix range over A-Z0-9 strings: "AB" -> "AC", "A9" -> "A:" (':' follows '9'). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/**
 * Searches final reads, newest first. Text modes (on the normalised plate):
 * - `exact`: equal;
 * - `prefix`: starts with (an index range, `final_plate >= q AND final_plate < q'`);
 * - `fuzzy`: equal or one edit away (insertion, deletion or substitution), by probing the index
 *   with every one-edit neighbour of the query (`oneEditNeighbours`).
 * An empty text matches every plate. Returns the page and the total count.
 */
export function searchVehicles(db: Database, q: VehicleQuery): { rows: VehicleRow[]; total: number } {
  const where: string[] = [];
  const params: Record<string, string | number> = {};
  const text = normalizePlate(q.text ?? "");
  const mode = q.mode ?? "exact";
  if (text) {
    if (mode === "exact") {
      where.push("v.final_plate = $text");
      params.text = text;
    } else if (mode === "prefix") {
      where.push("v.final_plate >= $lo AND v.final_plate < $hi");
      params.lo = text;
      params.hi = prefixEnd(text);
    } else {
      where.push("v.final_plate IN (SELECT value FROM json_each($cands))");
      params.cands = JSON.stringify(oneEditNeighbours(text));
    }
  }
  if (q.cameraId !== undefined && q.cameraId !== null) {
    where.push("v.camera_id = $camera_id");
    params.camera_id = q.cameraId;
  }
  if (q.from !== undefined && q.from !== null) {
    where.push("v.ts >= $from");
    params.from = q.from;
  }
  if (q.to !== undefined && q.to !== null) {
    where.push("v.ts < $to");
    params.to = q.to;
  }
  const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const total = (db.query(`SELECT COUNT(*) AS n FROM vehicles v ${clause}`).get(params) as { n: number }).n;
  const rows = db
    .query(
      `SELECT v.*, c.key AS camera_key, c.name AS camera_name FROM vehicles v
       LEFT JOIN cameras c ON c.id = v.camera_id ${clause}
       ORDER BY v.ts DESC, v.id DESC LIMIT $limit OFFSET $offset`,
    )
    .all({ ...params, limit: q.limit ?? 50, offset: q.offset ?? 0 }) as Record<string, unknown>[];
  return { rows: rows.map(parseVehicle), total };
}

// ---------------------------------------------------------------- watchlist

export function listWatchlist(db: Database): WatchEntry[] {
  return st(db).watchAll.all() as WatchEntry[];
}

/** Adds (or updates the note of) a watched plate; the plate is normalised. Returns its id. */
export function addWatch(db: Database, plate: string, note: string | null): number {
  const p = normalizePlate(plate);
  if (!p) throw new Error("plate must contain at least one letter or digit");
  return (st(db).watchAdd.get({ plate: p, note, created_at: Date.now() }) as { id: number }).id;
}

/** Removes a watched plate; returns false when there was no such id. */
export function removeWatch(db: Database, id: number): boolean {
  return st(db).watchDel.run({ id }).changes > 0;
}

/** Watchlist entries a read plate matches: equal, or within `maxEdits` (0 or 1) edits. */
export function matchWatchlist(db: Database, plate: string, maxEdits = 0): WatchEntry[] {
  const p = normalizePlate(plate);
  if (!p) return [];
  return listWatchlist(db).filter((w) => editDistance(w.plate, p, maxEdits) <= maxEdits);
}

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

export function pipelineStatus(db: Database): PipelineStatus {
  const counts = taskCounts(db);
  const sum = (pred: (c: { category: TaskCategory; status: TaskStatus }) => boolean) =>
    counts.filter(pred).reduce((s, c) => s + c.n, 0);
  const frame = (c: { category: TaskCategory }) => FRAME_CATEGORIES.includes(c.category);
  return {
    backlog: sum((c) => frame(c) && c.status !== "done"),
    queued: sum((c) => c.status === "queued" && c.category !== "plate_smooth"),
    running: sum((c) => c.status === "running"),
    failed: sum((c) => c.status === "failed"),
    openTracks: sum((c) => c.category === "plate_smooth" && c.status === "queued"),
    sampledFrames: getCounter(db, COUNTERS.sampledFrames) ?? 0,
    skippedFrames: getCounter(db, COUNTERS.skippedFrames) ?? 0,
    failedTasks: getCounter(db, COUNTERS.failedTasks) ?? 0,
    vehicles: (db.query("SELECT COUNT(*) AS n FROM vehicles").get() as { n: number }).n,
    unsynced: (db.query("SELECT COUNT(*) AS n FROM vehicles WHERE pg_synced = 0").get() as { n: number }).n,
  };
}
