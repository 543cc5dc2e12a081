/**
 * Camera health rows (seed 003): `snapshots` (one per check, with the JPEG's path relative to
 * data_dir, the seed's `health_metrics` JSON and `anomalies` list), `health_metrics` (one raw row
 * per measured value, `ok | warning | critical`), `health_metrics_hourly` (upgrade 0004: the
 * hourly aggregate of the raw rows, kept up to date with every insert so charts never wait for a
 * roll-up job) and the health columns of `cameras` (`last_health_check`, `connection_failures`).
 *
 * A check without a picture (no_signal) is still a `snapshots` row, with an empty `file_path`
 * and `health_metrics` NULL, so "cameras with warnings" (the seed's sample query 4) sees it.
 *
 * Retention (seed 003: snapshots 30 days, raw metrics 90 days, aggregates a year) deletes
 * snapshot files through the `garbage` protocol (src/db/garbage.ts): rows out and garbage rows in
 * one transaction, then the caller unlinks, fsyncs and drops the garbage rows; start-up
 * reconciliation finishes what a crash interrupted.
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";
import { addGarbage } from "./garbage.ts";

/** Start of the UTC hour holding `ms`. */
export const hourOf = (ms: number) => Math.floor(ms / 3_600_000) * 3_600_000;

/** One measured value of a check (`health_metrics` row). */
export interface HealthMetricInput {
  type: string;
  value: number;
  status: "ok" | "warning" | "critical";
}

/** One check to record (see `recordHealthCheck`). */
export interface HealthCheckRecord {
  cameraId: number;
  /** Capture time of the frame, or the check time when there was none; Unix ms UTC. */
  capturedAt: number;
  /** JPEG path relative to data_dir; "" when there was no frame. */
  filePath: string;
  /** Seed 003 `health_metrics` JSON (null without a frame). */
  healthMetrics: unknown;
  /** Seed 003 `anomalies` list. */
  anomalies: unknown[];
  metrics: HealthMetricInput[];
  /** When the check ran, Unix ms UTC (`cameras.last_health_check`, `health_metrics.created_at`). */
  checkedAt: number;
  /** True when a frame was had: resets `connection_failures`, else it counts up. */
  frameOk: boolean;
}

/** A `snapshots` row with its JSON parsed. */
export interface SnapshotRow {
  id: number;
  camera_id: number;
  file_path: string;
  captured_at: number;
  health_metrics: Record<string, { status: string; [k: string]: unknown }> | null;
  anomalies: { type: string; severity: string; message: string }[];
}

/** One hour of one metric (the seed's sample query 5). */
export interface HourlyPoint {
  metric_type: string;
  hour_utc: number;
  avg: number;
  min: number;
  max: number;
  samples: number;
}

/** A camera with anomalies in the window (the seed's sample query 4), newest snapshot first. */
export interface CameraWithWarnings {
  key: string;
  name: string;
  location: string | null;
  /** Snapshots with anomalies in the window. */
  snapshots: number;
  /** Newest such snapshot. */
  last_at: number;
  /** Its anomalies. */
  anomalies: { type: string; severity: string; message: string }[];
}

const statements = perDatabase((db) => ({
  insertSnapshot: db.prepare(
    `INSERT INTO snapshots (camera_id, file_path, captured_at, health_metrics, anomalies)
     VALUES ($camera_id, $file_path, $captured_at, $health_metrics, $anomalies)
     ON CONFLICT(camera_id, captured_at) DO NOTHING RETURNING id`,
  ),
  insertMetric: db.prepare(
    "INSERT INTO health_metrics (camera_id, metric_type, value, status, created_at) VALUES ($camera_id, $type, $value, $status, $at)",
  ),
  upsertHourly: db.prepare(
    `INSERT INTO health_metrics_hourly (camera_id, metric_type, hour_utc, samples, sum_value, min_value, max_value, warnings, criticals)
     VALUES ($camera_id, $type, $hour, 1, $value, $value, $value, $w, $c)
     ON CONFLICT(camera_id, metric_type, hour_utc) DO UPDATE SET
       samples = samples + 1, sum_value = sum_value + excluded.sum_value,
       min_value = MIN(min_value, excluded.min_value), max_value = MAX(max_value, excluded.max_value),
       warnings = warnings + excluded.warnings, criticals = criticals + excluded.criticals`,
  ),
  cameraOk: db.prepare("UPDATE cameras SET last_health_check = $at, connection_failures = 0 WHERE id = $id"),
  cameraFailed: db.prepare("UPDATE cameras SET last_health_check = $at, connection_failures = connection_failures + 1 WHERE id = $id"),
  cameraHealth: db.prepare("SELECT last_health_check, connection_failures FROM cameras WHERE id = $id"),
  latest: db.prepare(
    `SELECT id, camera_id, file_path, captured_at, health_metrics, anomalies FROM snapshots
     WHERE camera_id = $camera_id ORDER BY captured_at DESC LIMIT 1`,
  ),
  latestWithFile: db.prepare(
    `SELECT id, camera_id, file_path, captured_at, health_metrics, anomalies FROM snapshots
     WHERE camera_id = $camera_id AND file_path <> '' ORDER BY captured_at DESC LIMIT 1`,
  ),
  byId: db.prepare("SELECT id, camera_id, file_path, captured_at, health_metrics, anomalies FROM snapshots WHERE id = $id"),
  recent: db.prepare(
    `SELECT id, camera_id, file_path, captured_at, health_metrics, anomalies FROM snapshots
     WHERE camera_id = $camera_id ORDER BY captured_at DESC LIMIT $limit`,
  ),
  baseline: db.prepare(
    `SELECT AVG(value) AS avg, COUNT(*) AS n FROM health_metrics
     WHERE camera_id = $camera_id AND metric_type = $type AND created_at >= $from AND created_at < $to`,
  ),
  hourly: db.prepare(
    `SELECT metric_type, hour_utc, sum_value / samples AS avg, min_value AS min, max_value AS max, samples
     FROM health_metrics_hourly WHERE camera_id = $camera_id AND hour_utc >= $from ORDER BY metric_type, hour_utc`,
  ),
  raw: db.prepare(
    `SELECT metric_type, created_at AS hour_utc, value AS avg, value AS min, value AS max, 1 AS samples
     FROM health_metrics WHERE camera_id = $camera_id AND created_at >= $from ORDER BY metric_type, created_at`,
  ),
  withWarnings: db.prepare(
    `SELECT c.key, c.name, c.location, COUNT(*) AS snapshots, MAX(s.captured_at) AS last_at,
       (SELECT s2.anomalies FROM snapshots s2 WHERE s2.camera_id = c.id AND s2.captured_at >= $since
          AND json_array_length(s2.anomalies) > 0 ORDER BY s2.captured_at DESC LIMIT 1) AS anomalies
     FROM cameras c JOIN snapshots s ON s.camera_id = c.id
     WHERE s.captured_at >= $since AND s.anomalies IS NOT NULL AND s.anomalies <> '[]' AND json_array_length(s.anomalies) > 0
     GROUP BY c.id ORDER BY c.key`,
  ),
  oldSnapshots: db.prepare(
    "SELECT id, camera_id, file_path FROM snapshots WHERE captured_at < $cutoff ORDER BY captured_at LIMIT $limit",
  ),
  deleteSnapshot: db.prepare("DELETE FROM snapshots WHERE id = $id"),
  deleteOldMetrics: db.prepare("DELETE FROM health_metrics WHERE id IN (SELECT id FROM health_metrics WHERE created_at < $cutoff LIMIT $limit)"),
  deleteOldHourly: db.prepare("DELETE FROM health_metrics_hourly WHERE hour_utc < $cutoff"),
  snapshotPaths: db.prepare("SELECT file_path FROM snapshots WHERE camera_id = $camera_id AND file_path <> ''"),
  allPictures: db.prepare("SELECT id, camera_id, file_path, captured_at FROM snapshots WHERE file_path <> '' ORDER BY id"),
}));

type RawSnapshot = Omit<SnapshotRow, "health_metrics" | "anomalies"> & { health_metrics: string | null; anomalies: string | null };
const parse = (r: RawSnapshot | null): SnapshotRow | null =>
  r && { ...r, health_metrics: r.health_metrics ? JSON.parse(r.health_metrics) : null, anomalies: r.anomalies ? JSON.parse(r.anomalies) : [] };

/**
 * Records one check in one transaction (a savepoint inside a caller's): the `snapshots` row (a
 * second row for the same camera and capture time is ignored: a repeated check), one
 * `health_metrics` row per value (created_at = checkedAt) and its hourly aggregate, and the
 * camera's `last_health_check` / `connection_failures`. Returns the snapshot id, or null when
 * the row already existed.
 */
export function recordHealthCheck(db: Database, r: HealthCheckRecord): number | null {
  const s = statements(db);
  return db.transaction(() => {
    const row = s.insertSnapshot.get({
      camera_id: r.cameraId,
      file_path: r.filePath,
      captured_at: r.capturedAt,
      health_metrics: r.healthMetrics === null || r.healthMetrics === undefined ? null : JSON.stringify(r.healthMetrics),
      anomalies: JSON.stringify(r.anomalies),
    }) as { id: number } | null;
    if (!row) return null;
    const hour = hourOf(r.checkedAt);
    for (const m of r.metrics) {
      s.insertMetric.run({ camera_id: r.cameraId, type: m.type, value: m.value, status: m.status, at: r.checkedAt });
      s.upsertHourly.run({ camera_id: r.cameraId, type: m.type, hour, value: m.value, w: m.status === "warning" ? 1 : 0, c: m.status === "critical" ? 1 : 0 });
    }
    (r.frameOk ? s.cameraOk : s.cameraFailed).run({ id: r.cameraId, at: r.checkedAt });
    return row.id;
  })();
}

/** The camera's `last_health_check` (ms UTC or null) and `connection_failures` (consecutive checks without a frame). */
export function cameraHealthColumns(db: Database, cameraId: number): { last_health_check: number | null; connection_failures: number } | null {
  return (statements(db).cameraHealth.get({ id: cameraId }) as { last_health_check: number | null; connection_failures: number } | null) ?? null;
}

/** The camera's newest snapshot row (with or without a picture), or null. */
export function latestSnapshot(db: Database, cameraId: number): SnapshotRow | null {
  return parse(statements(db).latest.get({ camera_id: cameraId }) as RawSnapshot | null);
}

/** The camera's newest snapshot that has a picture, or null. */
export function latestSnapshotWithPicture(db: Database, cameraId: number): SnapshotRow | null {
  return parse(statements(db).latestWithFile.get({ camera_id: cameraId }) as RawSnapshot | null);
}

/** Snapshot `id`, or null. */
export function snapshotById(db: Database, id: number): SnapshotRow | null {
  return parse(statements(db).byId.get({ id }) as RawSnapshot | null);
}

/** The camera's newest `limit` snapshots, newest first. */
export function recentSnapshots(db: Database, cameraId: number, limit: number): SnapshotRow[] {
  return (statements(db).recent.all({ camera_id: cameraId, limit }) as RawSnapshot[]).map((r) => parse(r)!);
}

/** Mean and count of one metric's raw rows of a camera in [fromMs, toMs). */
export function metricMean(db: Database, cameraId: number, type: string, fromMs: number, toMs: number): { avg: number | null; n: number } {
  return statements(db).baseline.get({ camera_id: cameraId, type, from: fromMs, to: toMs }) as { avg: number | null; n: number };
}

/** Hourly aggregates of every metric of a camera since `fromMs` (the seed's sample query 5 over the rollup), by metric then hour. */
export function hourlySeries(db: Database, cameraId: number, fromMs: number): HourlyPoint[] {
  return statements(db).hourly.all({ camera_id: cameraId, from: hourOf(fromMs) }) as HourlyPoint[];
}

/** Raw metric rows of a camera since `fromMs` in the same shape as `hourlySeries` (one sample each; for short windows). */
export function rawSeries(db: Database, cameraId: number, fromMs: number): HourlyPoint[] {
  return statements(db).raw.all({ camera_id: cameraId, from: fromMs }) as HourlyPoint[];
}

/** Cameras with anomalies in snapshots captured since `sinceMs` (the seed's sample query 4), by key. */
export function camerasWithWarnings(db: Database, sinceMs: number): CameraWithWarnings[] {
  const rows = statements(db).withWarnings.all({ since: sinceMs }) as (Omit<CameraWithWarnings, "anomalies"> & { anomalies: string | null })[];
  return rows.map((r) => ({ ...r, anomalies: r.anomalies ? JSON.parse(r.anomalies) : [] }));
}

/** Every picture path (relative to data_dir) the camera's snapshot rows name. */
export function snapshotPaths(db: Database, cameraId: number): Set<string> {
  return new Set((statements(db).snapshotPaths.all({ camera_id: cameraId }) as { file_path: string }[]).map((r) => r.file_path));
}

/** Every snapshot row that names a picture (id, camera, path relative to data_dir, capture time ms), by id. */
export function snapshotPictures(db: Database): { id: number; camera_id: number; file_path: string; captured_at: number }[] {
  return statements(db).allPictures.all() as { id: number; camera_id: number; file_path: string; captured_at: number }[];
}

/** A snapshot turned into a pending deletion. */
export interface ExpiredSnapshot {
  garbageId: number | null;
  filePath: string;
}

/**
 * Step (1) of the snapshot deletion protocol, in one transaction: up to `limit` snapshots
 * captured before `cutoffMs` lose their row; each picture path becomes a garbage row (dated
 * `now`). Returns them (garbageId null for a check without a picture).
 */
export function expireSnapshots(db: Database, cutoffMs: number, limit: number, now: number): ExpiredSnapshot[] {
  const s = statements(db);
  return db.transaction(() => {
    const out: ExpiredSnapshot[] = [];
    for (const r of s.oldSnapshots.all({ cutoff: cutoffMs, limit }) as { id: number; camera_id: number; file_path: string }[]) {
      s.deleteSnapshot.run({ id: r.id });
      out.push({ garbageId: r.file_path ? addGarbage(db, r.camera_id, r.file_path, now) : null, filePath: r.file_path });
    }
    return out;
  })();
}

/** Deletes up to `limit` raw `health_metrics` rows created before `cutoffMs` (their hourly aggregates stay). Returns how many. */
export function deleteMetricsBefore(db: Database, cutoffMs: number, limit: number): number {
  return statements(db).deleteOldMetrics.run({ cutoff: cutoffMs, limit }).changes;
}

/** Deletes hourly aggregates of hours starting before `cutoffMs`. Returns how many. */
export function deleteHourlyBefore(db: Database, cutoffMs: number): number {
  return statements(db).deleteOldHourly.run({ cutoff: cutoffMs }).changes;
}
