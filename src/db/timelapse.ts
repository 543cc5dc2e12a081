/**
 * Seed 004's timelapse tables: `images` (one captured still per row), `capture_attempts` (every
 * try, success or not), `timelapse_batches` (one video to render) and `timelapse_images` (which
 * images a batch holds, in `sequence_order`). Also the timelapse columns of `cameras`
 * (rotation, day counter, overlay) that the `[cameras.timelapse]` config table sets.
 *
 * Times are Unix ms UTC; `file_path` / `output_path` are relative to data_dir. Every multi-row
 * change is one transaction. Deletions of files go through `garbage` rows (src/db/garbage.ts's
 * protocol): the row is turned into a garbage row first, the caller unlinks, then deletes the
 * garbage row.
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";

export type BatchType = "continuous" | "checkpoint" | "manual";
export type BatchStatus = "pending" | "processing" | "completed" | "failed";
export type GenerationMode = "every_capture" | "periodic" | "manual_only";
export type AttemptStatus = "success" | "failed" | "timeout" | "error";

/** The `cameras` timelapse columns (seed 004). `overlayStyle` is the JSON object of `day_overlay_style`. */
export interface CameraTimelapseSettings {
  rotation: "none" | "left" | "right" | "invert";
  dayCounterStart: string | null;
  overlayPosition: "top-left" | "top-right" | "bottom-left" | "bottom-right";
  overlayStyle: Record<string, unknown>;
}

export interface ImageRow {
  id: number;
  camera_id: number;
  filename: string;
  file_path: string;
  file_size_bytes: number;
  width: number | null;
  height: number | null;
  format: string;
  file_hash: string | null;
  captured_at: number;
  day_number: number | null;
}

export interface BatchRow {
  id: number;
  camera_id: number;
  batch_type: BatchType;
  status: BatchStatus;
  output_filename: string | null;
  output_path: string | null;
  file_size_bytes: number | null;
  frame_rate: number;
  total_frames: number;
  duration_seconds: number | null;
  generation_mode: GenerationMode;
  day_overlay_applied: number;
  day_range_start: number | null;
  day_range_end: number | null;
  started_at: number | null;
  completed_at: number | null;
  error_message: string | null;
  created_at: number;
}

/** A batch row with its camera's key (lists, CLI). */
export interface BatchListRow extends BatchRow {
  camera_key: string;
}

/** One frame of a batch, in order: the image file and its day number. */
export interface BatchFrame {
  image_id: number;
  file_path: string;
  day_number: number | null;
  width: number | null;
  height: number | null;
  captured_at: number;
}

export interface AttemptRow {
  id: number;
  camera_id: number;
  attempted_at: number;
  status: AttemptStatus;
  image_id: number | null;
  error_message: string | null;
  duration_ms: number | null;
  retry_count: number;
}

const BATCH_COLS = `b.id, b.camera_id, b.batch_type, b.status, b.output_filename, b.output_path, b.file_size_bytes, b.frame_rate,
  b.total_frames, b.duration_seconds, b.generation_mode, b.day_overlay_applied, b.day_range_start, b.day_range_end,
  b.started_at, b.completed_at, b.error_message, b.created_at`;

/**
 * Images a cleanup must keep: used by a batch still to render, by a kept video (checkpoint,
 * manual; seed 004), or by any batch a gallery share shows that is active and not expired at
 * `$now` (a gallery shows the batch's stills themselves, so a continuous batch's old frames stay
 * while its gallery link works).
 */
const IMAGE_IN_USE = `EXISTS (SELECT 1 FROM timelapse_images ti JOIN timelapse_batches b ON b.id = ti.timelapse_batch_id
  WHERE ti.image_id = i.id AND (b.status IN ('pending', 'processing') OR b.batch_type IN ('checkpoint', 'manual')
    OR EXISTS (SELECT 1 FROM share_batches sb JOIN shares s ON s.id = sb.share_id
      WHERE sb.timelapse_batch_id = b.id AND s.share_type = 'gallery' AND s.is_active = 1
        AND (s.expires_at IS NULL OR s.expires_at > $now))))`;

const statements = perDatabase((db) => ({
  settings: db.prepare(
    `UPDATE cameras SET rotation = $rotation, day_counter_enabled = $enabled, day_counter_start_date = $start,
       day_overlay_position = $position, day_overlay_style = $style WHERE id = $id`,
  ),
  settingsOf: db.prepare(
    "SELECT rotation, day_counter_start_date, day_counter_enabled, day_overlay_position, day_overlay_style FROM cameras WHERE id = $id",
  ),
  insertImage: db.prepare(
    `INSERT INTO images (camera_id, filename, file_path, file_size_bytes, width, height, format, file_hash, captured_at, processing_metadata)
     VALUES ($camera_id, $filename, $file_path, $bytes, $width, $height, $format, $hash, $captured_at, $meta) RETURNING id`,
  ),
  dayOf: db.prepare("SELECT day_number FROM images WHERE id = $id"),
  insertAttempt: db.prepare(
    `INSERT INTO capture_attempts (camera_id, attempted_at, status, image_id, error_message, duration_ms, retry_count)
     VALUES ($camera_id, $at, $status, $image_id, $error, $duration, $retry) RETURNING id`,
  ),
  attempts: db.prepare("SELECT * FROM capture_attempts WHERE camera_id = $camera_id ORDER BY id DESC LIMIT $limit"),
  images: db.prepare("SELECT * FROM images WHERE camera_id = $camera_id ORDER BY captured_at, id"),
  imageById: db.prepare("SELECT * FROM images WHERE id = $id"),
  imageIdsInRange: db.prepare(
    "SELECT id FROM images WHERE camera_id = $camera_id AND captured_at >= $from AND captured_at <= $to ORDER BY captured_at, id",
  ),
  imageIdsInDays: db.prepare(
    "SELECT id FROM images WHERE camera_id = $camera_id AND day_number >= $from AND day_number <= $to ORDER BY captured_at, id",
  ),
  allImageIds: db.prepare("SELECT id FROM images WHERE camera_id = $camera_id ORDER BY captured_at, id"),
  insertBatch: db.prepare(
    `INSERT INTO timelapse_batches (camera_id, batch_type, status, frame_rate, generation_mode, day_overlay_applied, output_filename, created_at)
     VALUES ($camera_id, $type, 'pending', $frame_rate, $mode, $overlay, $filename, $now) RETURNING id`,
  ),
  setOutputName: db.prepare("UPDATE timelapse_batches SET output_filename = $filename, output_path = $path WHERE id = $id"),
  insertJunction: db.prepare(
    "INSERT INTO timelapse_images (timelapse_batch_id, image_id, sequence_order, included_at) VALUES ($batch, $image, $seq, $now)",
  ),
  clearJunction: db.prepare("DELETE FROM timelapse_images WHERE timelapse_batch_id = $batch"),
  junctionSummary: db.prepare(
    `SELECT COUNT(*) AS n, MIN(i.day_number) AS dmin, MAX(i.day_number) AS dmax FROM timelapse_images ti
     JOIN images i ON i.id = ti.image_id WHERE ti.timelapse_batch_id = $batch`,
  ),
  setFrames: db.prepare(
    "UPDATE timelapse_batches SET total_frames = $n, day_range_start = $dmin, day_range_end = $dmax WHERE id = $id",
  ),
  batchById: db.prepare(`SELECT ${BATCH_COLS}, c.key AS camera_key FROM timelapse_batches b JOIN cameras c ON c.id = b.camera_id WHERE b.id = $id`),
  batches: db.prepare(
    `SELECT ${BATCH_COLS}, c.key AS camera_key FROM timelapse_batches b JOIN cameras c ON c.id = b.camera_id ORDER BY b.id DESC LIMIT $limit`,
  ),
  batchesOfCamera: db.prepare(
    `SELECT ${BATCH_COLS}, c.key AS camera_key FROM timelapse_batches b JOIN cameras c ON c.id = b.camera_id
     WHERE b.camera_id = $camera_id ORDER BY b.id DESC LIMIT $limit`,
  ),
  unfinished: db.prepare(
    `SELECT ${BATCH_COLS}, c.key AS camera_key FROM timelapse_batches b JOIN cameras c ON c.id = b.camera_id
     WHERE b.status IN ('pending', 'processing') ORDER BY b.id`,
  ),
  continuousOf: db.prepare(
    `SELECT ${BATCH_COLS}, c.key AS camera_key FROM timelapse_batches b JOIN cameras c ON c.id = b.camera_id
     WHERE b.camera_id = $camera_id AND b.batch_type = 'continuous' ORDER BY b.id DESC LIMIT 1`,
  ),
  frames: db.prepare(
    `SELECT i.id AS image_id, i.file_path, i.day_number, i.width, i.height, i.captured_at FROM timelapse_images ti
     JOIN images i ON i.id = ti.image_id WHERE ti.timelapse_batch_id = $batch ORDER BY ti.sequence_order`,
  ),
  markProcessing: db.prepare(
    "UPDATE timelapse_batches SET status = 'processing', started_at = $at, completed_at = NULL, error_message = NULL WHERE id = $id",
  ),
  markPending: db.prepare("UPDATE timelapse_batches SET status = 'pending', error_message = $error WHERE id = $id"),
  markCompleted: db.prepare(
    `UPDATE timelapse_batches SET status = 'completed', completed_at = $at, output_filename = $filename, output_path = $path,
       file_size_bytes = $bytes, total_frames = $frames, duration_seconds = $duration, error_message = NULL WHERE id = $id`,
  ),
  markFailed: db.prepare("UPDATE timelapse_batches SET status = 'failed', completed_at = $at, error_message = $error WHERE id = $id"),
  insertCheckpoint: db.prepare(
    `INSERT INTO timelapse_batches (camera_id, batch_type, status, output_filename, output_path, file_size_bytes, frame_rate,
       total_frames, duration_seconds, generation_mode, day_overlay_applied, day_range_start, day_range_end, started_at, completed_at, created_at)
     VALUES ($camera_id, 'checkpoint', 'completed', $filename, $path, $bytes, $fr, $frames, $duration, $mode, $overlay, $dmin, $dmax, $now, $now, $now)
     RETURNING id`,
  ),
  deleteBatch: db.prepare("DELETE FROM timelapse_batches WHERE id = $id"),
  toGarbage: db.prepare(
    `INSERT INTO garbage (camera_id, rel_path, created_at) VALUES ($camera_id, $rel_path, $now)
     ON CONFLICT(rel_path) DO UPDATE SET created_at = excluded.created_at RETURNING id`,
  ),
  expired: db.prepare(
    `SELECT i.* FROM images i WHERE i.camera_id = $camera_id AND i.captured_at < $before AND NOT ${IMAGE_IN_USE}
     ORDER BY i.captured_at LIMIT $limit`,
  ),
  deleteImage: db.prepare(`DELETE FROM images AS i WHERE i.id = $id AND NOT ${IMAGE_IN_USE}`),
  allImagePaths: db.prepare("SELECT i.id, i.camera_id, i.file_path, i.file_size_bytes FROM images i ORDER BY i.id"),
  allOutputs: db.prepare(
    "SELECT id, camera_id, status, output_path, file_size_bytes FROM timelapse_batches WHERE output_path IS NOT NULL ORDER BY id",
  ),
  pruneAttempts: db.prepare("DELETE FROM capture_attempts WHERE camera_id = $camera_id AND attempted_at < $before AND image_id IS NULL"),
  imageByPath: db.prepare("SELECT id FROM images WHERE file_path = $path LIMIT 1"),
  batchByOutput: db.prepare("SELECT id FROM timelapse_batches WHERE output_path = $path LIMIT 1"),
  garbageByPath: db.prepare("SELECT id FROM garbage WHERE rel_path = $path"),
  countImages: db.prepare("SELECT COUNT(*) AS n FROM images WHERE camera_id = $camera_id"),
  latestImage: db.prepare("SELECT * FROM images WHERE camera_id = $camera_id ORDER BY captured_at DESC, id DESC LIMIT 1"),
  lastBatchImage: db.prepare(
    `SELECT i.* FROM timelapse_images ti JOIN images i ON i.id = ti.image_id WHERE ti.timelapse_batch_id = $batch
     ORDER BY ti.sequence_order DESC LIMIT 1`,
  ),
}));

/** Writes camera `cameraId`'s timelapse columns (`[cameras.timelapse]` of the config). */
export function setCameraTimelapseSettings(db: Database, cameraId: number, s: CameraTimelapseSettings): void {
  statements(db).settings.run({
    id: cameraId,
    rotation: s.rotation,
    enabled: s.dayCounterStart ? 1 : 0,
    start: s.dayCounterStart,
    position: s.overlayPosition,
    style: JSON.stringify(s.overlayStyle),
  });
}

/** Camera `cameraId`'s timelapse columns, or null for an unknown camera. */
export function cameraTimelapseSettings(db: Database, cameraId: number): CameraTimelapseSettings | null {
  const r = statements(db).settingsOf.get({ id: cameraId }) as
    | { rotation: CameraTimelapseSettings["rotation"]; day_counter_start_date: string | null; day_counter_enabled: number; day_overlay_position: CameraTimelapseSettings["overlayPosition"]; day_overlay_style: string }
    | null;
  if (!r) return null;
  return {
    rotation: r.rotation,
    dayCounterStart: r.day_counter_enabled ? r.day_counter_start_date : null,
    overlayPosition: r.day_overlay_position,
    overlayStyle: JSON.parse(r.day_overlay_style) as Record<string, unknown>,
  };
}

/** A stored capture: the image file is durable before this is called. */
export interface CaptureInput {
  cameraId: number;
  filename: string;
  filePath: string;
  bytes: number;
  width: number;
  height: number;
  format: string;
  fileHash: string;
  capturedAt: number;
  attemptedAt: number;
  durationMs: number;
  retryCount: number;
  metadata?: Record<string, unknown>;
  /** Also write the `capture_attempts` success row (default true; false for images taken from recorded footage). */
  attempt?: boolean;
}

/**
 * One transaction: the `images` row (its `day_number` set by the seed's trigger from the
 * camera's day counter) and its `capture_attempts` success row. Returns the image id and day.
 */
export function insertCapture(db: Database, c: CaptureInput): { imageId: number; dayNumber: number | null } {
  const s = statements(db);
  return db.transaction(() => {
    const { id } = s.insertImage.get({
      camera_id: c.cameraId,
      filename: c.filename,
      file_path: c.filePath,
      bytes: c.bytes,
      width: c.width,
      height: c.height,
      format: c.format,
      hash: c.fileHash,
      captured_at: c.capturedAt,
      meta: JSON.stringify(c.metadata ?? {}),
    }) as { id: number };
    if (c.attempt !== false)
      s.insertAttempt.run({ camera_id: c.cameraId, at: c.attemptedAt, status: "success", image_id: id, error: null, duration: c.durationMs, retry: c.retryCount });
    const day = (s.dayOf.get({ id }) as { day_number: number | null }).day_number;
    return { imageId: id, dayNumber: day };
  })();
}

/** A `capture_attempts` row for a try that gave no image. */
export function insertFailedAttempt(
  db: Database,
  a: { cameraId: number; attemptedAt: number; status: Exclude<AttemptStatus, "success">; error: string; durationMs: number; retryCount: number },
): number {
  const r = statements(db).insertAttempt.get({
    camera_id: a.cameraId,
    at: a.attemptedAt,
    status: a.status,
    image_id: null,
    error: a.error.slice(0, 500),
    duration: a.durationMs,
    retry: a.retryCount,
  }) as { id: number };
  return r.id;
}

/** Camera `cameraId`'s newest capture attempts, newest first. */
export function captureAttempts(db: Database, cameraId: number, limit = 1000): AttemptRow[] {
  return statements(db).attempts.all({ camera_id: cameraId, limit }) as AttemptRow[];
}

/** Every image of a camera, oldest first. */
export function imagesOf(db: Database, cameraId: number): ImageRow[] {
  return statements(db).images.all({ camera_id: cameraId }) as ImageRow[];
}

export function imageById(db: Database, id: number): ImageRow | null {
  return (statements(db).imageById.get({ id }) as ImageRow | null) ?? null;
}

/** The newest image of a camera, or null. */
export function latestImage(db: Database, cameraId: number): ImageRow | null {
  return (statements(db).latestImage.get({ camera_id: cameraId }) as ImageRow | null) ?? null;
}

export function imageCount(db: Database, cameraId: number): number {
  return (statements(db).countImages.get({ camera_id: cameraId }) as { n: number }).n;
}

/** Which images a manual batch takes: a time range (ms UTC, inclusive) or a day-number range (inclusive). */
export type ImageSelection = { fromUtc: number; toUtc: number } | { fromDay: number; toDay: number } | { all: true };

/** Ids of camera `cameraId`'s images in `sel`, in capture order. */
export function selectImageIds(db: Database, cameraId: number, sel: ImageSelection): number[] {
  const s = statements(db);
  const rows =
    "all" in sel
      ? s.allImageIds.all({ camera_id: cameraId })
      : "fromUtc" in sel
        ? s.imageIdsInRange.all({ camera_id: cameraId, from: sel.fromUtc, to: sel.toUtc })
        : s.imageIdsInDays.all({ camera_id: cameraId, from: sel.fromDay, to: sel.toDay });
  return (rows as { id: number }[]).map((r) => r.id);
}

/** What a new batch is. */
export interface NewBatch {
  cameraId: number;
  cameraKey: string;
  type: BatchType;
  generationMode: GenerationMode;
  frameRate: number;
  overlay: boolean;
  now: number;
}

/** The video of batch `id`, relative to data_dir: `timelapse/videos/<camera>/batch-<id>.mp4`. */
export const batchOutputPath = (cameraKey: string, id: number) => `timelapse/videos/${cameraKey}/batch-${id}.mp4`;

function writeJunction(db: Database, batchId: number, imageIds: readonly number[], now: number): void {
  const s = statements(db);
  s.clearJunction.run({ batch: batchId });
  imageIds.forEach((image, seq) => s.insertJunction.run({ batch: batchId, image, seq, now }));
  const sum = s.junctionSummary.get({ batch: batchId }) as { n: number; dmin: number | null; dmax: number | null };
  s.setFrames.run({ id: batchId, n: sum.n, dmin: sum.dmin, dmax: sum.dmax });
}

/**
 * One transaction: a `pending` batch row, its junction rows (`sequence_order` 0..n-1 in the
 * order given), total_frames and the day range. Returns the new batch id.
 */
export function createBatch(db: Database, b: NewBatch, imageIds: readonly number[]): number {
  const s = statements(db);
  return db.transaction(() => {
    const { id } = s.insertBatch.get({
      camera_id: b.cameraId,
      type: b.type,
      frame_rate: b.frameRate,
      mode: b.generationMode,
      overlay: b.overlay ? 1 : 0,
      filename: null,
      now: b.now,
    }) as { id: number };
    const path = batchOutputPath(b.cameraKey, id);
    s.setOutputName.run({ id, filename: path.slice(path.lastIndexOf("/") + 1), path: null });
    writeJunction(db, id, imageIds, b.now);
    return id;
  })();
}

/**
 * The continuous batch of a camera, made `pending` over every image the camera has (one
 * transaction; created when the camera has none). Returns its id and whether it was created.
 */
export function refreshContinuousBatch(db: Database, b: Omit<NewBatch, "type">): { batchId: number; created: boolean } {
  const s = statements(db);
  return db.transaction(() => {
    const existing = s.continuousOf.get({ camera_id: b.cameraId }) as BatchRow | null;
    const ids = selectImageIds(db, b.cameraId, { all: true });
    if (!existing) return { batchId: createBatch(db, { ...b, type: "continuous" }, ids), created: true };
    writeJunction(db, existing.id, ids, b.now);
    if (existing.status !== "processing") s.markPending.run({ id: existing.id, error: null });
    return { batchId: existing.id, created: false };
  })();
}

/** Re-reads the continuous batch's images (all of the camera's images now), one transaction. */
export function resnapshotContinuous(db: Database, batchId: number, now: number): void {
  const b = batchById(db, batchId);
  if (!b || b.batch_type !== "continuous") return;
  db.transaction(() => writeJunction(db, batchId, selectImageIds(db, b.camera_id, { all: true }), now))();
}

/** The file of a checkpoint of batch `sourceId` taken at `now`, relative to data_dir. */
export const checkpointOutputPath = (cameraKey: string, sourceId: number, now: number) => `timelapse/videos/${cameraKey}/checkpoint-${sourceId}-${now}.mp4`;

/**
 * A checkpoint: a new `completed` batch that keeps a copy of continuous batch `source`'s video
 * (the caller has made the copy durable at `copy.relPath` first), with the same junction rows.
 * One transaction. Returns the new batch id.
 */
export function insertCheckpoint(db: Database, source: BatchRow, copy: { relPath: string; bytes: number }, now: number): number {
  const s = statements(db);
  return db.transaction(() => {
    const { id } = s.insertCheckpoint.get({
      camera_id: source.camera_id,
      filename: copy.relPath.slice(copy.relPath.lastIndexOf("/") + 1),
      path: copy.relPath,
      bytes: copy.bytes,
      fr: source.frame_rate,
      frames: source.total_frames,
      duration: source.duration_seconds,
      mode: source.generation_mode,
      overlay: source.day_overlay_applied,
      dmin: source.day_range_start,
      dmax: source.day_range_end,
      now,
    }) as { id: number };
    batchFrames(db, source.id).forEach((f, seq) => s.insertJunction.run({ batch: id, image: f.image_id, seq, now }));
    return id;
  })();
}

export function batchById(db: Database, id: number): BatchListRow | null {
  return (statements(db).batchById.get({ id }) as BatchListRow | null) ?? null;
}

/** Newest batches first (all cameras, or one). */
export function listBatches(db: Database, cameraId?: number, limit = 200): BatchListRow[] {
  const s = statements(db);
  return (cameraId === undefined ? s.batches.all({ limit }) : s.batchesOfCamera.all({ camera_id: cameraId, limit })) as BatchListRow[];
}

/** The newest continuous batch of a camera, or null. */
export function continuousBatchOf(db: Database, cameraId: number): BatchListRow | null {
  return (statements(db).continuousOf.get({ camera_id: cameraId }) as BatchListRow | null) ?? null;
}

/** Batches still to render (pending or processing), oldest first: the ones the supervisor runs. */
export function unfinishedBatches(db: Database): BatchListRow[] {
  return statements(db).unfinished.all() as BatchListRow[];
}

/** The frames of batch `batchId` in sequence order. */
export function batchFrames(db: Database, batchId: number): BatchFrame[] {
  return statements(db).frames.all({ batch: batchId }) as BatchFrame[];
}

/** The last image of a batch (its poster), or null. */
export function batchPosterImage(db: Database, batchId: number): ImageRow | null {
  return (statements(db).lastBatchImage.get({ batch: batchId }) as ImageRow | null) ?? null;
}

export function markBatchProcessing(db: Database, id: number, at: number): void {
  statements(db).markProcessing.run({ id, at });
}

/** Back to pending (a retry waits); `error` = why the last try failed. */
export function markBatchPending(db: Database, id: number, error: string | null): void {
  statements(db).markPending.run({ id, error });
}

export function markBatchCompleted(
  db: Database,
  id: number,
  r: { at: number; relPath: string; bytes: number; frames: number; durationSeconds: number },
): void {
  statements(db).markCompleted.run({
    id,
    at: r.at,
    filename: r.relPath.slice(r.relPath.lastIndexOf("/") + 1),
    path: r.relPath,
    bytes: r.bytes,
    frames: r.frames,
    duration: r.durationSeconds,
  });
}

export function markBatchFailed(db: Database, id: number, error: string, at: number): void {
  statements(db).markFailed.run({ id, error: error.slice(0, 500), at });
}

/**
 * Step (1) of deleting a batch, one transaction: its video (when it has one) becomes a garbage
 * row, the batch row goes (its junction rows cascade). Returns the garbage row, or null when the
 * batch had no file. The caller unlinks, fsyncs, deletes the garbage row.
 */
export function batchToGarbage(db: Database, id: number, now: number): { found: boolean; garbage: { id: number; rel_path: string } | null } {
  const s = statements(db);
  return db.transaction(() => {
    const b = batchById(db, id);
    if (!b) return { found: false, garbage: null };
    let garbage: { id: number; rel_path: string } | null = null;
    if (b.output_path) {
      const g = s.toGarbage.get({ camera_id: b.camera_id, rel_path: b.output_path, now }) as { id: number };
      garbage = { id: g.id, rel_path: b.output_path };
    }
    s.deleteBatch.run({ id });
    return { found: true, garbage };
  })();
}

/**
 * Images of camera `cameraId` captured before `beforeUtc` that no pending/processing batch, no
 * checkpoint/manual batch and no gallery share live at `now` (Unix ms) uses, oldest first (at
 * most `limit`).
 */
export function expiredImages(db: Database, cameraId: number, beforeUtc: number, limit = 500, now = Date.now()): ImageRow[] {
  return statements(db).expired.all({ camera_id: cameraId, before: beforeUtc, limit, now }) as ImageRow[];
}

/**
 * Step (1) of deleting images, one transaction: each image still unused is deleted (its
 * junction rows of completed continuous batches cascade, its capture attempt keeps a NULL
 * image_id) and its file becomes a garbage row. Returns the garbage rows made.
 */
export function imagesToGarbage(db: Database, images: readonly ImageRow[], now: number): { id: number; rel_path: string }[] {
  const s = statements(db);
  return db.transaction(() => {
    const out: { id: number; rel_path: string }[] = [];
    for (const img of images) {
      if (s.deleteImage.run({ id: img.id, now }).changes === 0) continue; // a batch or a gallery share took it meanwhile
      const g = s.toGarbage.get({ camera_id: img.camera_id, rel_path: img.file_path, now }) as { id: number };
      out.push({ id: g.id, rel_path: img.file_path });
    }
    return out;
  })();
}

/** Every image's file (for `dashcam check`). */
export function allImageFiles(db: Database): { id: number; camera_id: number; file_path: string; file_size_bytes: number }[] {
  return statements(db).allImagePaths.all() as { id: number; camera_id: number; file_path: string; file_size_bytes: number }[];
}

/** Every batch that names a video file (for `dashcam check`). */
export function allBatchOutputs(db: Database): { id: number; camera_id: number; status: BatchStatus; output_path: string; file_size_bytes: number | null }[] {
  return statements(db).allOutputs.all() as { id: number; camera_id: number; status: BatchStatus; output_path: string; file_size_bytes: number | null }[];
}

/** The `[cameras.timelapse]` tables of the config written to the cameras' timelapse columns (one transaction). */
export function syncTimelapseSettings(
  db: Database,
  cameras: readonly { key: string; timelapse?: { rotation: string; day_counter_start?: string; overlay_position: string; overlay_style: Record<string, unknown> } }[],
  cameraIds: ReadonlyMap<string, number>,
): void {
  db.transaction(() => {
    for (const c of cameras) {
      const id = cameraIds.get(c.key);
      if (id === undefined) continue;
      const tl = c.timelapse;
      setCameraTimelapseSettings(db, id, {
        rotation: (tl?.rotation ?? "none") as CameraTimelapseSettings["rotation"],
        dayCounterStart: tl?.day_counter_start ?? null,
        overlayPosition: (tl?.overlay_position ?? "top-right") as CameraTimelapseSettings["overlayPosition"],
        overlayStyle: tl?.overlay_style ?? { font_size: 24, font_color: "#FFFFFF", background_color: "#000000", background_opacity: 0.7, font_family: "Arial" },
      });
    }
  })();
}

/** Whether a row names file `relPath`: an image, a batch's video, or a pending deletion (for `dashcam check`). */
export function timelapseFileKnown(db: Database, relPath: string): boolean {
  const s = statements(db);
  return s.imageByPath.get({ path: relPath }) !== null || s.batchByOutput.get({ path: relPath }) !== null || s.garbageByPath.get({ path: relPath }) !== null;
}

/**
 * Deletes camera `cameraId`'s capture attempts made before `beforeUtc` that name no image (the
 * failures, and successes whose image is gone), so the table does not grow forever. Returns how many.
 */
export function pruneCaptureAttempts(db: Database, cameraId: number, beforeUtc: number): number {
  return statements(db).pruneAttempts.run({ camera_id: cameraId, before: beforeUtc }).changes;
}
