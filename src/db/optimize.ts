/**
 * Recommended settings and their application (seed 003 `optimizations`, `applied_configs`) and
 * dashcam's own encoder settings of the cameras it encodes itself (`encoder_settings`).
 * Times are Unix ms UTC; JSON columns are parsed on the way out.
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";

export type ApplyMethod = "self" | "manual" | "onvif";
export type ApplyStatus = "pending" | "in_progress" | "success" | "failed" | "partial";

/** An `optimizations` row with its JSON parsed. */
export interface OptimizationRow {
  id: number;
  camera_id: number;
  request_data: unknown;
  recommended_settings: Record<string, unknown>;
  confidence: number | null;
  warnings: string[];
  explanation: string | null;
  ai_provider: string | null;
  processing_time_ms: number | null;
  created_at: number;
}

/** An `applied_configs` row with its JSON parsed. */
export interface AppliedConfigRow {
  id: number;
  camera_id: number;
  optimization_id: number | null;
  settings: Record<string, unknown>;
  apply_method: string;
  status: ApplyStatus;
  applied_at: number | null;
  applied_by: string | null;
  error_message: string | null;
  created_at: number;
  verification: Record<string, unknown> | null;
}

/** A failed apply with its camera (the seed's sample query 2). */
export interface FailedApplyRow {
  id: number;
  key: string;
  name: string;
  ip: string | null;
  apply_method: string;
  error_message: string | null;
  created_at: number;
}

/** dashcam's own encoder settings of a camera (`encoder_settings`); null fields keep the config's value. */
export interface EncoderSettings {
  width: number | null;
  height: number | null;
  fps: number | null;
  bitrateKbps: number | null;
  keyframeSeconds: number | null;
}

/** Seed 003 inventory columns of `cameras` that the optimizer reads. */
export interface CameraInventory {
  ip: string | null;
  vendor: string | null;
  model: string | null;
  location: string | null;
  scene_type: string | null;
  purpose: string | null;
  capabilities: Record<string, unknown> | null;
}

const APPLY_COLUMNS = "id, camera_id, optimization_id, settings, apply_method, status, applied_at, applied_by, error_message, created_at, verification";
const OPT_COLUMNS = "id, camera_id, request_data, recommended_settings, confidence, warnings, explanation, ai_provider, processing_time_ms, created_at";

const statements = perDatabase((db) => ({
  insertOptimization: db.prepare(
    `INSERT INTO optimizations (camera_id, request_data, recommended_settings, confidence, warnings, explanation, ai_provider, processing_time_ms, created_at)
     VALUES ($camera_id, $request_data, $recommended_settings, $confidence, $warnings, $explanation, $ai_provider, $processing_time_ms, $created_at) RETURNING id`,
  ),
  optimizationById: db.prepare(`SELECT ${OPT_COLUMNS} FROM optimizations WHERE id = $id`),
  latestOptimization: db.prepare(`SELECT ${OPT_COLUMNS} FROM optimizations WHERE camera_id = $camera_id ORDER BY created_at DESC, id DESC LIMIT 1`),
  insertApply: db.prepare(
    `INSERT INTO applied_configs (camera_id, optimization_id, settings, apply_method, status, applied_by, created_at)
     VALUES ($camera_id, $optimization_id, $settings, $apply_method, 'pending', $applied_by, $created_at) RETURNING id`,
  ),
  applyById: db.prepare(`SELECT ${APPLY_COLUMNS} FROM applied_configs WHERE id = $id`),
  setStatus: db.prepare("UPDATE applied_configs SET status = $status WHERE id = $id AND status IN ('pending', 'in_progress')"),
  setAppliedAt: db.prepare("UPDATE applied_configs SET applied_at = $at, applied_by = COALESCE($by, applied_by) WHERE id = $id"),
  finish: db.prepare(
    `UPDATE applied_configs SET status = $status, error_message = $error, verification = $verification,
       applied_at = COALESCE(applied_at, $at) WHERE id = $id AND status IN ('pending', 'in_progress')`,
  ),
  appliesOfCamera: db.prepare(`SELECT ${APPLY_COLUMNS} FROM applied_configs WHERE camera_id = $camera_id ORDER BY created_at DESC, id DESC LIMIT $limit`),
  unfinished: db.prepare(`SELECT ${APPLY_COLUMNS} FROM applied_configs WHERE status IN ('pending', 'in_progress') ORDER BY id`),
  // the seed's sample query 2: cameras with failed apply jobs
  failed: db.prepare(
    `SELECT ac.id, c.key, c.name, c.ip, ac.apply_method, ac.error_message, ac.created_at
       FROM cameras c JOIN applied_configs ac ON c.id = ac.camera_id
      WHERE ac.status = 'failed' ORDER BY ac.created_at DESC, ac.id DESC LIMIT $limit`,
  ),
  encoderOf: db.prepare("SELECT width, height, fps, bitrate_kbps, keyframe_seconds FROM encoder_settings WHERE camera_id = $camera_id"),
  setEncoder: db.prepare(
    `INSERT INTO encoder_settings (camera_id, width, height, fps, bitrate_kbps, keyframe_seconds, applied_config_id, updated_at)
     VALUES ($camera_id, $width, $height, $fps, $bitrate_kbps, $keyframe_seconds, $applied_config_id, $at)
     ON CONFLICT(camera_id) DO UPDATE SET
       width = COALESCE(excluded.width, encoder_settings.width),
       height = COALESCE(excluded.height, encoder_settings.height),
       fps = COALESCE(excluded.fps, encoder_settings.fps),
       bitrate_kbps = COALESCE(excluded.bitrate_kbps, encoder_settings.bitrate_kbps),
       keyframe_seconds = COALESCE(excluded.keyframe_seconds, encoder_settings.keyframe_seconds),
       applied_config_id = excluded.applied_config_id, updated_at = excluded.updated_at`,
  ),
  inventory: db.prepare("SELECT ip, vendor, model, location, scene_type, purpose, capabilities FROM cameras WHERE id = $id"),
  failOrphans: db.prepare(
    `UPDATE applied_configs SET status = 'failed', error_message = $reason
      WHERE status IN ('pending', 'in_progress') AND camera_id NOT IN (SELECT value FROM json_each($ids))`,
  ),
  expireApplies: db.prepare("DELETE FROM applied_configs WHERE created_at < $cutoff AND status NOT IN ('pending', 'in_progress')"),
  expireOptimizations: db.prepare(
    "DELETE FROM optimizations WHERE created_at < $cutoff AND NOT EXISTS (SELECT 1 FROM applied_configs ac WHERE ac.optimization_id = optimizations.id AND ac.status IN ('pending', 'in_progress'))",
  ),
}));

const json = (text: unknown): unknown => (typeof text === "string" ? JSON.parse(text) : null);

function optimizationOf(r: Record<string, unknown> | null): OptimizationRow | null {
  if (!r) return null;
  return { ...(r as unknown as OptimizationRow), request_data: json(r.request_data), recommended_settings: json(r.recommended_settings) as Record<string, unknown>, warnings: (json(r.warnings) as string[] | null) ?? [] };
}

function applyOf(r: Record<string, unknown> | null): AppliedConfigRow | null {
  if (!r) return null;
  return { ...(r as unknown as AppliedConfigRow), settings: json(r.settings) as Record<string, unknown>, verification: json(r.verification) as Record<string, unknown> | null };
}

/** What `insertOptimization` stores (seed 003 columns). */
export interface OptimizationInput {
  cameraId: number;
  request: unknown;
  recommended: unknown;
  confidence: number;
  warnings: string[];
  explanation: string;
  aiProvider: "heuristic";
  processingTimeMs: number;
  at: number;
}

/** Stores one recommendation; returns its id. */
export function insertOptimization(db: Database, o: OptimizationInput): number {
  const row = statements(db).insertOptimization.get({
    camera_id: o.cameraId,
    request_data: JSON.stringify(o.request),
    recommended_settings: JSON.stringify(o.recommended),
    confidence: o.confidence,
    warnings: JSON.stringify(o.warnings),
    explanation: o.explanation,
    ai_provider: o.aiProvider,
    processing_time_ms: o.processingTimeMs,
    created_at: o.at,
  }) as { id: number };
  return row.id;
}

export function optimizationById(db: Database, id: number): OptimizationRow | null {
  return optimizationOf(statements(db).optimizationById.get({ id }) as Record<string, unknown> | null);
}

/** The camera's newest recommendation, or null. */
export function latestOptimization(db: Database, cameraId: number): OptimizationRow | null {
  return optimizationOf(statements(db).latestOptimization.get({ camera_id: cameraId }) as Record<string, unknown> | null);
}

/** Creates an apply job (`pending`); returns its id. */
export function insertApply(db: Database, a: { cameraId: number; optimizationId: number | null; settings: unknown; method: ApplyMethod; by: string; at: number }): number {
  const row = statements(db).insertApply.get({
    camera_id: a.cameraId,
    optimization_id: a.optimizationId,
    settings: JSON.stringify(a.settings),
    apply_method: a.method,
    applied_by: a.by,
    created_at: a.at,
  }) as { id: number };
  return row.id;
}

export function applyById(db: Database, id: number): AppliedConfigRow | null {
  return applyOf(statements(db).applyById.get({ id }) as Record<string, unknown> | null);
}

/** An unfinished apply -> `in_progress` (a finished one is left alone). */
export function markApplyInProgress(db: Database, id: number): void {
  statements(db).setStatus.run({ id, status: "in_progress" });
}

/** The settings reached the camera (or the user confirmed them) at `at`, by `by` (null keeps the requester). */
export function markApplyApplied(db: Database, id: number, at: number, by: string | null): void {
  statements(db).setAppliedAt.run({ id, at, by });
}

/** Ends an unfinished apply with its outcome (a finished one is left alone). */
export function finishApply(db: Database, id: number, f: { status: "success" | "failed" | "partial"; error: string | null; verification: unknown; at: number }): void {
  statements(db).finish.run({ id, status: f.status, error: f.error, verification: f.verification == null ? null : JSON.stringify(f.verification), at: f.status === "failed" ? null : f.at });
}

/** The camera's applies, newest first. */
export function appliesOfCamera(db: Database, cameraId: number, limit = 20): AppliedConfigRow[] {
  return (statements(db).appliesOfCamera.all({ camera_id: cameraId, limit }) as Record<string, unknown>[]).map((r) => applyOf(r)!);
}

/** Applies still `pending` or `in_progress` (their actors run, or are started again at BOOT). */
export function unfinishedApplies(db: Database): AppliedConfigRow[] {
  return (statements(db).unfinished.all() as Record<string, unknown>[]).map((r) => applyOf(r)!);
}

/**
 * Unfinished applies of cameras not in `configuredIds` (removed from the configuration) end
 * `failed` with `reason`: nothing will ever run them. Returns how many.
 */
export function failOrphanApplies(db: Database, configuredIds: number[], reason: string): number {
  return statements(db).failOrphans.run({ ids: JSON.stringify(configuredIds), reason }).changes;
}

/** Failed applies of every camera, newest first (the seed's sample query 2). */
export function failedApplies(db: Database, limit = 20): FailedApplyRow[] {
  return statements(db).failed.all({ limit }) as FailedApplyRow[];
}

/** The camera's own encoder settings, or null when none were applied. */
export function encoderSettingsOf(db: Database, cameraId: number): EncoderSettings | null {
  const r = statements(db).encoderOf.get({ camera_id: cameraId }) as { width: number | null; height: number | null; fps: number | null; bitrate_kbps: number | null; keyframe_seconds: number | null } | null;
  return r ? { width: r.width, height: r.height, fps: r.fps, bitrateKbps: r.bitrate_kbps, keyframeSeconds: r.keyframe_seconds } : null;
}

/** Sets (merges: a null field keeps the stored one) the camera's own encoder settings. */
export function setEncoderSettings(db: Database, cameraId: number, s: EncoderSettings, appliedConfigId: number | null, at: number): void {
  statements(db).setEncoder.run({
    camera_id: cameraId,
    width: s.width,
    height: s.height,
    fps: s.fps,
    bitrate_kbps: s.bitrateKbps,
    keyframe_seconds: s.keyframeSeconds,
    applied_config_id: appliedConfigId,
    at,
  });
}

/** The camera's seed 003 inventory columns (capabilities parsed), or null for an unknown camera. */
export function cameraInventory(db: Database, cameraId: number): CameraInventory | null {
  const r = statements(db).inventory.get({ id: cameraId }) as (Omit<CameraInventory, "capabilities"> & { capabilities: string | null }) | null;
  if (!r) return null;
  let capabilities: Record<string, unknown> | null = null;
  try {
    capabilities = r.capabilities ? (JSON.parse(r.capabilities) as Record<string, unknown>) : null;
  } catch {
    capabilities = null;
  }
  return { ...r, capabilities };
}

/**
 * Seed 003 retention: recommendations and finished applies older than `cutoffMs` are deleted
 * (one transaction); unfinished applies and the recommendations they use are kept.
 */
export function expireOptimizations(db: Database, cutoffMs: number): { applies: number; optimizations: number } {
  return db.transaction(() => {
    const applies = statements(db).expireApplies.run({ cutoff: cutoffMs }).changes;
    const optimizations = statements(db).expireOptimizations.run({ cutoff: cutoffMs }).changes;
    return { applies, optimizations };
  })();
}
