/**
 * Camera health monitors: wiring of the pure `cameraHealth` machine (src/machines/cameraHealth.ts)
 * with `.provide()`, and the retention of their rows and pictures.
 *
 * - `healthCheck` (one check, safe to repeat): asks the runtime's `CurrentFrameSource` for the
 *   camera's current frame, keyframe-aligned for a scheduled check of a recording camera (it
 *   may wait up to `KEYFRAME_WAIT_MS`, 12 s, for the camera's next keyframe and then decodes that
 *   one frame instead of a whole GOP; the bound is `[health] frame_timeout_seconds` plus that
 *   wait; a check a user asked for takes the frame at once),
 *   decodes it in-process
 *   (src/vision/image.ts), measures it (src/health/metrics.ts), compares its thumbnail with the
 *   previous snapshot's (kept in memory; after a restart decoded from the previous snapshot's
 *   file), reads the stream metrics the recorder already produced and judges everything
 *   (src/health/assess.ts). The JPEG is written to `health/<camera>/<UTC stamp>.jpg` through
 *   `writeFileAtomic` before the rows exist; a crash in between leaves a file without a row,
 *   which `enforceHealthRetention` deletes.
 *   Stream metrics: `bitrate_mbps` = bytes x 8 / duration of the segments recorded in the last
 *   check interval; `fps_actual` = video packets counted in the newest segment (src/media/probe.ts,
 *   no decoding) / its duration; `frame_drops` = frames the declared rate expects in that
 *   segment minus those counted; `latency_ms` = the current frame's capture time to the moment
 *   it was available; the `bitrate_drop` baseline is the mean `bitrate_mbps` of the last 24 h.
 *   Only `FrameUnavailableError` (the port's "no picture") counts as `no_signal`; any other
 *   error of the frame source fails the check without rows (the monitor keeps its status).
 *   A camera stopped on purpose (status `stopped` or `disabled`: an operator stopped it, or the
 *   config disabled it) is not checked: the check fails with "camera is stopped" (no rows; the
 *   monitor waits for its next deadline), so stopping a camera raises no `no_signal`.
 * - `recordCheck`: `recordHealthCheck` (src/db/health.ts) in the journal transaction; after
 *   commit a LiveBus `health` event (the health page's newest-check section refreshes).
 * - `announceStatus`: a `camera.health` event row (warn/error/info by the new status) and, after
 *   commit, the LiveBus `event_log` event and a live `alert` toast of kind `camera.health` (not
 *   for the first `ok` after start: nothing changed for the user).
 *
 * `enforceHealthRetention` (daily maintenance and start-up): seed 003's policy with the
 * `[health]` retention settings: snapshots (row and picture) after `snapshot_retention_days`,
 * raw metrics after `metrics_retention_days` (their hourly aggregates stay), aggregates after
 * `rollup_retention_days`. Pictures leave through the garbage protocol: rows out and garbage
 * rows in (one transaction), unlink, fsync the directory, garbage rows dropped.
 */
import type { Database } from "bun:sqlite";
import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { fromPromise, type AnyActorLogic, type PromiseActorLogic } from "xstate";
import { healthSettings, type Config } from "../config.ts";
import { cameraHealthMachine, type HealthCheckInput, type HealthCheckOutput, type HealthMonitorInput, type StatusChange } from "../machines/cameraHealth.ts";
import { FrameUnavailableError, KEYFRAME_WAIT_MS, type CurrentFrame, type CurrentFrameSource } from "../media/currentFrame.ts";
import { probeMedia } from "../media/probe.ts";
import { downscaleLuma, frameDifference, measureFrame, toLuma, ANALYSIS_WIDTH, THUMB_WIDTH, type FrameMetrics, type LumaImage } from "../health/metrics.ts";
import { assessCheck, thresholdsOf, type StreamMetrics } from "../health/assess.ts";
import {
  deleteHourlyBefore,
  deleteMetricsBefore,
  expireSnapshots,
  latestSnapshotWithPicture,
  metricMean,
  recordHealthCheck,
  snapshotPaths,
  snapshotPictures,
} from "../db/health.ts";
import { deleteGarbageRows, pendingGarbage } from "../db/garbage.ts";
import { segmentsInWindow } from "../db/views.ts";
import { logEvent } from "../db/eventLog.ts";
import { listCameras } from "../db/cameras.ts";
import { getCameraStatus } from "../db/cameraStatus.ts";
import { fsyncDirIfPresent, removeTempFiles, TEMP_PREFIX, writeFileAtomic } from "../fsx.ts";
import { resolveInside } from "../paths.ts";
import { log } from "../log.ts";
import type { ActorDeps } from "./camera.ts";
import type { RgbImage } from "../vision/image.ts";

/** Folder (under data_dir) of the health snapshot pictures, one sub-folder per camera key. */
export const HEALTH_DIR = "health";

const DAY_MS = 24 * 3600 * 1000;

/**
 * The monitor inputs for BOOT: one per enabled camera when `[health] enabled`. The interval is
 * the camera's `health_interval_seconds`, else `[health] interval_seconds`; the first check runs
 * after min(interval, 30 s), when the recorder has had time to connect.
 */
export function healthMonitorInputs(config: Pick<Config, "health" | "cameras">, cameraIds: Map<string, number>): HealthMonitorInput[] {
  const settings = healthSettings(config);
  if (!settings.enabled) return [];
  const out: HealthMonitorInput[] = [];
  for (const c of config.cameras) {
    const id = cameraIds.get(c.key);
    if (id === undefined || !c.enabled) continue;
    const intervalMs = (c.health_interval_seconds ?? settings.interval_seconds) * 1000;
    out.push({ cameraKey: c.key, cameraId: id, intervalMs, firstDelayMs: Math.min(intervalMs, 30_000) });
  }
  return out;
}

export interface HealthDeps extends ActorDeps {
  /** The runtime's current-frame port (also feeds timelapse captures). */
  frameSource?: CurrentFrameSource;
  config?: Config;
  /** Replaces the real check (tests). */
  healthCheck?: AnyActorLogic;
}

/** UTC stamp for a picture name: `20260107T031500123Z`. */
const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:.]/g, "");

/**
 * The image decoder (src/vision/image.ts: mozjpeg in WebAssembly, pngjs, jpeg-js), loaded at the
 * first check rather than at start-up, so an idle runtime does not carry it (ALPR loads it the
 * same way).
 */
let vision: typeof import("../vision/image.ts") | null = null;
const loadDecoder = async () => (vision ??= await import("../vision/image.ts"));

/** The thumbnail of a stored snapshot picture (to compare the next frame with), or null. */
function thumbOfFile(decodeImage: (bytes: Uint8Array) => RgbImage, dataDir: string, relPath: string): LumaImage | null {
  try {
    return downscaleLuma(downscaleLuma(toLuma(decodeImage(new Uint8Array(readFileSync(resolveInside(dataDir, relPath))))), ANALYSIS_WIDTH), THUMB_WIDTH);
  } catch {
    return null;
  }
}

/** Stream metrics of camera `cameraId` for a check at `now` over the last `windowMs` (see the module comment). */
export async function streamMetricsOf(db: Database, dataDir: string, cameraId: number, now: number, windowMs: number, frame: CurrentFrame | null, frameAvailableAt: number | null, fallbackFps: number | null): Promise<StreamMetrics> {
  const segments = segmentsInWindow(db, cameraId, now - windowMs, now + 1).filter((s) => s.end_utc > s.start_utc && s.bytes !== null);
  let bitrateMbps: number | null = null;
  let fpsActual: number | null = null;
  let fpsNominal: number | null = null;
  let frameDrops: number | null = null;
  if (segments.length > 0) {
    const bytes = segments.reduce((n, s) => n + (s.bytes ?? 0), 0);
    const ms = segments.reduce((n, s) => n + (s.end_utc - s.start_utc), 0);
    bitrateMbps = (bytes * 8) / (ms / 1000) / 1e6;
    const newest = segments[segments.length - 1];
    fpsNominal = newest.fps ?? fallbackFps;
    try {
      const probe = await probeMedia(resolveInside(dataDir, newest.rel_path));
      const seconds = (newest.end_utc - newest.start_utc) / 1000;
      if (probe && probe.frames > 0 && seconds > 0) {
        fpsActual = probe.frames / seconds;
        if (fpsNominal) frameDrops = Math.max(0, Math.round(fpsNominal * seconds - probe.frames));
      }
    } catch {
      // the segment left the ring meanwhile: no frame count this time
    }
  }
  const prior = metricMean(db, cameraId, "bitrate_mbps", now - DAY_MS, now);
  return {
    bitrateMbps,
    baselineBitrateMbps: prior.n >= 3 ? prior.avg : null,
    fpsActual,
    fpsNominal,
    frameDrops,
    latencyMs: frame && frameAvailableAt !== null ? Math.max(0, frameAvailableAt - frame.capturedAtMs) : null,
  };
}

/** The `healthCheck` actor: one check of one camera (see the module comment). */
export function createHealthCheck(deps: HealthDeps) {
  const thumbs = new Map<string, LumaImage>();
  return fromPromise<HealthCheckOutput, HealthCheckInput>(async ({ input, signal }) => {
    const settings = healthSettings(deps.config);
    const state = getCameraStatus(deps.db, input.cameraId)?.state;
    if (state === "stopped" || state === "disabled") throw new Error(`camera ${input.cameraKey} is ${state}: not checked`);
    const checkedAt = Date.now();
    let frame: CurrentFrame | null = null;
    let frameError: string | null = null;
    let availableAt: number | null = null;
    const frames = deps.frameSource;
    if (!frames) throw new Error("no current-frame source");
    try {
      // a timelapse-only camera's frame is grabbed from its source, which starts at a keyframe
      // anyway; a check a user asked for takes the frame at once
      const keyframeWaitMs = input.requested || deps.cameras.get(input.cameraKey)?.record === false ? 0 : KEYFRAME_WAIT_MS;
      frame = await frames.current(input.cameraKey, { timeoutMs: settings.frame_timeout_seconds * 1000 + keyframeWaitMs, keyframeWaitMs, signal });
      availableAt = Date.now();
    } catch (err) {
      // the port's "no picture" is no_signal; any other failure means the check could not run
      if (!(err instanceof FrameUnavailableError)) throw err;
      frameError = `${err.reason}: ${err.message}`;
    }
    let metrics: FrameMetrics | null = null;
    const { decodeImage } = await loadDecoder();
    if (frame) {
      try {
        metrics = measureFrame(decodeImage(frame.jpeg));
      } catch (err) {
        frameError = `decode_failed: ${(err as Error).message}`;
        frame = null;
      }
    }
    let difference: number | null = null;
    if (metrics) {
      let previous = thumbs.get(input.cameraKey) ?? null;
      if (!previous) {
        const last = latestSnapshotWithPicture(deps.db, input.cameraId);
        previous = last ? thumbOfFile(decodeImage, deps.dataDir, last.file_path) : null;
      }
      if (previous) {
        try {
          difference = frameDifference(previous, metrics.thumb);
        } catch {
          difference = null; // the resolution changed: a different picture
        }
      }
      thumbs.set(input.cameraKey, metrics.thumb);
    }
    const fallbackFps = deps.cameras.get(input.cameraKey)?.fps ?? null;
    const stream = await streamMetricsOf(deps.db, deps.dataDir, input.cameraId, checkedAt, input.intervalMs, frame, availableAt, fallbackFps);
    const a = assessCheck({ frame: metrics, frameError, frameDifference: difference, identicalStreak: input.identicalStreak, stream }, thresholdsOf(settings.thresholds));
    let filePath = "";
    if (frame) {
      filePath = join(HEALTH_DIR, input.cameraKey, `${stamp(frame.capturedAtMs)}.jpg`);
      const abs = resolveInside(deps.dataDir, filePath);
      mkdirSync(dirname(abs), { recursive: true });
      writeFileAtomic(abs, frame.jpeg);
    }
    return {
      status: a.status,
      checkedAt,
      capturedAt: frame ? frame.capturedAtMs : checkedAt,
      filePath,
      frameOk: frame !== null,
      healthMetrics: a.healthMetrics,
      anomalies: a.anomalies,
      metrics: a.metrics,
      identicalStreak: a.identicalStreak,
    };
  });
}

const LEVEL = { ok: "info", warning: "warn", critical: "error", unknown: "info" } as const;

/** The cameraHealth machine with the real check and effects. */
export function provideCameraHealth(deps: HealthDeps) {
  const { journal } = deps;
  return cameraHealthMachine.provide({
    actors: {
      healthCheck: (deps.healthCheck ?? createHealthCheck(deps)) as unknown as PromiseActorLogic<HealthCheckOutput, HealthCheckInput>,
    },
    actions: {
      recordCheck: ({ event, self, context }) => {
        const out = (event as unknown as { output: HealthCheckOutput }).output;
        journal.enqueue(self, (d) => {
          recordHealthCheck(d, { ...out, cameraId: context.cameraId });
          return () => deps.bus.publish({ type: "health", key: context.cameraKey });
        });
      },
      announceStatus: ({ self }, change: StatusChange) => {
        journal.enqueue(self, (d) => {
          const what = change.anomalies.length ? ` (${change.anomalies.join(", ")})` : "";
          const message = `camera ${change.cameraKey} health: ${change.from} -> ${change.to}${what}`;
          const id = logEvent(d, { kind: "camera.health", level: LEVEL[change.to], cameraId: change.cameraId, message, data: change, at: change.at || undefined });
          return () => {
            deps.bus.publish({ type: "event_log", id, kind: "camera.health", message });
            if (change.from === "unknown" && change.to === "ok") return;
            deps.bus.publish({ type: "alert", kind: "camera.health", cameraKey: change.cameraKey, status: change.to, previous: change.from, anomalies: change.anomalies, ts: change.at, message });
          };
        });
      },
    },
  });
}

/** What `scanHealthPictures` found (paths relative to data_dir). */
export interface HealthPictureFindings {
  /** Snapshot rows naming a picture. */
  pictures: number;
  rowsWithoutFiles: { id: number; cameraKey: string; filePath: string }[];
  /** Pictures no row names, with their age in ms (a crash between the write and the commit leaves one; retention removes them after an hour). */
  filesWithoutRows: { filePath: string; ageMs: number }[];
  /** Temp files (`.tmp-*`) of a picture being written, or left by a crash. */
  temps: string[];
}

/**
 * Read-only comparison of the health pictures (`<data_dir>/health/<camera>/*.jpg`) with the
 * `snapshots` rows, for `dashcam check`. A picture whose path is a pending garbage row (being
 * deleted by retention) is neither a problem here nor missing.
 */
export function scanHealthPictures(db: Database, dataDir: string, now = Date.now()): HealthPictureFindings {
  const cams = listCameras(db);
  const keyOf = new Map(cams.map((c) => [c.id, c.key]));
  const rows = snapshotPictures(db);
  const named = new Set(rows.map((r) => r.file_path));
  const garbage = new Set(pendingGarbage(db).map((g) => g.rel_path));
  const out: HealthPictureFindings = { pictures: rows.length, rowsWithoutFiles: [], filesWithoutRows: [], temps: [] };
  const onDisk = new Set<string>();
  for (const cam of cams) {
    const dir = join(dataDir, HEALTH_DIR, cam.key);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const rel = join(HEALTH_DIR, cam.key, name);
      if (name.startsWith(TEMP_PREFIX)) out.temps.push(rel);
      else if (name.endsWith(".jpg")) {
        onDisk.add(rel);
        if (named.has(rel) || garbage.has(rel)) continue;
        let ageMs = 0;
        try {
          ageMs = now - statSync(join(dir, name)).mtimeMs;
        } catch {
          continue; // deleted meanwhile
        }
        out.filesWithoutRows.push({ filePath: rel, ageMs });
      }
    }
  }
  for (const r of rows) {
    if (onDisk.has(r.file_path)) continue;
    let exists = false;
    try {
      exists = statSync(resolveInside(dataDir, r.file_path)).isFile();
    } catch {
      exists = false;
    }
    if (!exists) out.rowsWithoutFiles.push({ id: r.id, cameraKey: keyOf.get(r.camera_id) ?? String(r.camera_id), filePath: r.file_path });
  }
  return out;
}

/** What one retention run did. */
export interface HealthRetentionResult {
  snapshots: number;
  files: number;
  metrics: number;
  hourly: number;
  orphans: number;
}

/** Rows handled per transaction. */
const BATCH = 500;

/**
 * Applies the `[health]` retention (see the module comment) at `now`. Never throws: a failure is
 * logged and the rest is left for the next run. Orphan pictures (a crash between writing the
 * file and committing its row) older than an hour and temp files are deleted too.
 */
export function enforceHealthRetention(db: Database, dataDir: string, config: Pick<Config, "health"> | undefined, now = Date.now()): HealthRetentionResult {
  const settings = healthSettings(config);
  const result: HealthRetentionResult = { snapshots: 0, files: 0, metrics: 0, hourly: 0, orphans: 0 };
  try {
    for (;;) {
      const expired = expireSnapshots(db, now - settings.snapshot_retention_days * DAY_MS, BATCH, now);
      if (expired.length === 0) break;
      result.snapshots += expired.length;
      const dirs = new Set<string>();
      for (const e of expired) {
        if (!e.filePath) continue;
        try {
          const abs = resolveInside(dataDir, e.filePath);
          dirs.add(dirname(abs));
          unlinkSync(abs);
          result.files++;
        } catch {
          // already gone (or a path outside the data directory, which is never unlinked)
        }
      }
      for (const d of dirs) fsyncDirIfPresent(d);
      deleteGarbageRows(db, expired.flatMap((e) => (e.garbageId === null ? [] : [e.garbageId])));
      if (expired.length < BATCH) break;
    }
    for (let n = BATCH; n === BATCH; ) {
      n = deleteMetricsBefore(db, now - settings.metrics_retention_days * DAY_MS, BATCH);
      result.metrics += n;
    }
    result.hourly = deleteHourlyBefore(db, now - settings.rollup_retention_days * DAY_MS);
    for (const cam of listCameras(db)) {
      const dir = join(dataDir, HEALTH_DIR, cam.key);
      removeTempFiles(dir, 3600_000, now);
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      const known = snapshotPaths(db, cam.id);
      for (const name of names) {
        const rel = join(HEALTH_DIR, cam.key, name);
        if (!name.endsWith(".jpg") || known.has(rel)) continue;
        try {
          if (now - statSync(join(dir, name)).mtimeMs < 3600_000) continue; // a check may be committing it
          unlinkSync(join(dir, name));
          result.orphans++;
        } catch {
          // gone meanwhile
        }
      }
      if (result.orphans > 0) fsyncDirIfPresent(dir);
    }
    if (result.snapshots + result.metrics + result.hourly + result.orphans > 0) {
      logEvent(db, {
        kind: "health.retention",
        at: now,
        message: `health retention: ${result.snapshots} snapshot(s) (${result.files} picture(s)), ${result.metrics} raw metric(s), ${result.hourly} hourly aggregate(s), ${result.orphans} orphan picture(s) deleted`,
        data: result,
      });
    }
  } catch (err) {
    log.warn(`health retention failed: ${(err as Error).message}`);
  }
  return result;
}
