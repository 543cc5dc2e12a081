/**
 * Gathering a camera's OptimizeRequest (seed 003) and running the heuristic over it:
 *
 * - capabilities (`capabilitiesOf`): the inventory (`cameras.capabilities`, from the config or
 *   ONVIF discovery) when it is there, else what the newest recorded segment shows (its size,
 *   codec and frame rate, measured with ffmpeg), else the configured size and rate of a camera
 *   dashcam encodes itself;
 * - current settings: the newest segment's size, codec and frame rate, its keyframe interval,
 *   and the bitrate measured over the recent segments (`measuredBitrateBps`);
 * - context: `scene_type` / `purpose` of the inventory, the measured health (the newest
 *   `snapshots` row and the 24 h means of `health_metrics`), the bandwidth limit, and the ring's
 *   space (`ringSpaceOf`) with the days to keep.
 *
 * `runOptimization` stores the result as an `optimizations` row (`ai_provider = 'heuristic'`).
 */
import type { Database } from "bun:sqlite";
import { statfsSync } from "node:fs";
import type { CameraConfig } from "../config.ts";
import { cameraInventory, encoderSettingsOf, insertOptimization } from "../db/optimize.ts";
import { latestSnapshot, metricMean } from "../db/health.ts";
import { recentSegments } from "../db/views.ts";
import { ringUsage } from "../db/segments.ts";
import { meanKeyframeInterval, measureKeyframes, probeMedia } from "../media/probe.ts";
import { encodesItself } from "../media/recorderArgs.ts";
import { resolveInside } from "../paths.ts";
import { optimize, type Capabilities, type MeasuredHealth, type OptimizeRequest, type OptimizeResult, type StreamSettings } from "./heuristic.ts";
import { ringCapacityBytes, type RingSpace } from "./retention.ts";
import { ApplyRequestError } from "./apply.ts";
import { cameraIdByKey } from "../db/cameras.ts";

/** Days of footage the optimizer plans for when nobody says (the retention planner's default too). */
export const DEFAULT_KEEP_DAYS = 7;
/** Segments the measured bitrate is averaged over. */
const BITRATE_SEGMENTS = 30;
const DAY_MS = 86_400_000;

export interface OptimizeOptions {
  /** Days of footage the ring should hold (default `DEFAULT_KEEP_DAYS`). */
  keepDays?: number;
  /** The camera's uplink limit, Mbit/s (default none). */
  bandwidthLimitMbps?: number | null;
  /** Recording cameras that share the data disk's free space (default 1). */
  sharingCameras?: number;
  now?: number;
}

/**
 * The bitrate measured over the camera's newest segments: bytes x 8 / recorded duration, bit/s;
 * null when nothing is recorded.
 */
export function measuredBitrateBps(db: Database, cameraId: number): number | null {
  const segs = recentSegments(db, cameraId, BITRATE_SEGMENTS).filter((s) => s.bytes !== null && s.end_utc > s.start_utc);
  const ms = segs.reduce((n, s) => n + (s.end_utc - s.start_utc), 0);
  if (ms <= 0) return null;
  return (segs.reduce((n, s) => n + (s.bytes ?? 0), 0) * 8) / (ms / 1000);
}

/** The space camera's ring may use (see src/optimize/retention.ts); `sharingCameras` divide the free disk. */
export function ringSpaceOf(db: Database, dataDir: string, camera: CameraConfig, cameraId: number, sharingCameras = 1): RingSpace {
  let free = 0;
  try {
    const st = statfsSync(dataDir);
    free = Number(st.bavail) * Number(st.bsize);
  } catch {
    free = 0;
  }
  const n = Math.max(1, sharingCameras);
  return {
    ringSegments: camera.ring_segments,
    segmentSeconds: camera.segment_seconds,
    ringBytes: camera.ring_bytes ?? null,
    usedBytes: ringUsage(db, cameraId).bytes,
    freeBytes: Math.floor(free / n),
    minFreeBytes: Math.floor((camera.min_free_bytes ?? 0) / n),
  };
}

/** The newest segment's stream, measured; the keyframe interval across the newest three (null when none can be read). */
async function newestStream(db: Database, dataDir: string, cameraId: number): Promise<{ resolution: string | null; codec: string | null; fps: number | null; gopSeconds: number | null } | null> {
  const recent = recentSegments(db, cameraId, 3).reverse();
  const keyTimes: number[][] = [];
  let probe: Awaited<ReturnType<typeof probeMedia>> = null;
  for (const seg of recent) {
    const file = resolveInside(dataDir, seg.rel_path);
    probe = (await probeMedia(file).catch(() => null)) ?? probe;
    keyTimes.push((await measureKeyframes(file).catch(() => null))?.keyTimesSec ?? []);
  }
  if (!probe) return null;
  const gop = meanKeyframeInterval(keyTimes);
  return {
    resolution: probe.width && probe.height ? `${probe.width}x${probe.height}` : null,
    codec: probe.codec ? probe.codec.replace(/^H(26[45])$/, "H.$1") : null,
    fps: probe.fps,
    gopSeconds: gop !== null ? Math.round(gop * 100) / 100 : null,
  };
}

/**
 * `cameras.capabilities` as the optimizer reads it, in either shape it is stored in: seed 003's
 * (`maxResolution: "3840x2160"`, `supportedCodecs: ["H.264"]`, `maxFps`, `wdrLevels`) or ONVIF
 * discovery's (`maxResolution: { width, height }`, `codecs: ["H264"]`, `maxFps`,
 * `wdr: { modes: ["OFF", "ON"] }`, `source: "onvif" | "recording"`). A record measured from a
 * recording says what the camera sends, not its maximum (`source: "probe"`). Null when it holds
 * nothing usable.
 */
export function capabilitiesFromInventory(inv: Record<string, unknown>): Capabilities | null {
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : undefined);
  const res = inv.maxResolution as unknown;
  const maxResolution =
    typeof res === "string" ? res
    : res && typeof res === "object" && typeof (res as { width?: unknown }).width === "number" ? `${(res as { width: number }).width}x${(res as { height: number }).height}`
    : null;
  const codecs = (list(inv.supportedCodecs) ?? list(inv.codecs))?.map((c) => c.replace(/^H(26[45])$/i, "H.$1"));
  const wdr = list(inv.wdrLevels) ?? list((inv.wdr as { modes?: unknown } | undefined)?.modes);
  const maxFps = typeof inv.maxFps === "number" ? inv.maxFps : null;
  if (!maxResolution && !codecs?.length && maxFps === null) return null;
  return { maxResolution, supportedCodecs: codecs, maxFps, wdrLevels: wdr, source: inv.source === "recording" ? "probe" : "inventory" };
}

/**
 * The camera's capabilities: the inventory when present, else measured from its footage, else
 * (a camera dashcam encodes itself) its configured size and rate. Kept behind this one function
 * so the source can change without touching the optimizer.
 */
export async function capabilitiesOf(db: Database, dataDir: string, camera: CameraConfig, cameraId: number): Promise<Capabilities> {
  const inv = cameraInventory(db, cameraId)?.capabilities;
  const fromInventory = inv ? capabilitiesFromInventory(inv) : null;
  if (fromInventory) return fromInventory;
  if (encodesItself(camera.source)) {
    // dashcam's own encoder: H.264; the configured mode is what the device is known to deliver
    // (ffmpeg's test pattern has no limit: up to 1920x1080 at 30)
    const test = camera.source === "testsrc";
    return {
      maxResolution: test ? "1920x1080" : `${camera.width}x${camera.height}`,
      supportedCodecs: ["H.264"],
      maxFps: test ? 30 : camera.fps,
      wdrLevels: [],
      source: "encoder",
    };
  }
  const s = await newestStream(db, dataDir, cameraId);
  return { maxResolution: s?.resolution ?? null, supportedCodecs: s?.codec ? [s.codec] : [], maxFps: s?.fps ?? null, wdrLevels: [], source: "probe" };
}

/** The camera's measured health: the newest check's anomalies and values, and 24 h means of the stream metrics. */
export function measuredHealthOf(db: Database, cameraId: number, now: number): MeasuredHealth | null {
  const snap = latestSnapshot(db, cameraId);
  if (!snap) return null;
  const m = snap.health_metrics ?? {};
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  return {
    anomalies: snap.anomalies.map((a) => a.type),
    meanBrightness: num(m.exposure?.meanBrightness),
    noiseLevel: num(m.noise?.noiseLevel),
    blurScore: num(m.motionBlur?.blurScore),
    bitrateMbps: metricMean(db, cameraId, "bitrate_mbps", now - DAY_MS, now).avg,
    fpsActual: metricMean(db, cameraId, "fps_actual", now - DAY_MS, now).avg,
    checkedAt: snap.captured_at,
  };
}

/** Builds the camera's OptimizeRequest (see the module comment). */
export async function buildOptimizeRequest(db: Database, dataDir: string, camera: CameraConfig, cameraId: number, opts: OptimizeOptions = {}): Promise<OptimizeRequest> {
  const now = opts.now ?? Date.now();
  const inv = cameraInventory(db, cameraId);
  const self = encodesItself(camera.source);
  const measured = await newestStream(db, dataDir, cameraId);
  const enc = self ? encoderSettingsOf(db, cameraId) : null;
  const bps = measuredBitrateBps(db, cameraId);
  const current: StreamSettings = {
    resolution: measured?.resolution ?? (self ? `${enc?.width ?? camera.width}x${enc?.height ?? camera.height}` : null),
    codec: measured?.codec ?? (self ? "H.264" : null),
    fps: measured?.fps ?? (self ? (enc?.fps ?? camera.fps) : null),
    bitrateKbps: bps !== null ? Math.round(bps / 1000) : (enc?.bitrateKbps ?? null),
    gopSeconds: measured?.gopSeconds ?? (self ? (enc?.keyframeSeconds ?? 1) : null),
  };
  const space = ringSpaceOf(db, dataDir, camera, cameraId, opts.sharingCameras);
  return {
    camera: { id: camera.key, name: camera.name, ip: inv?.ip ?? null, vendor: inv?.vendor ?? null, model: inv?.model ?? null, location: inv?.location ?? null },
    capabilities: await capabilitiesOf(db, dataDir, camera, cameraId),
    currentSettings: { stream: current },
    context: {
      sceneType: inv?.scene_type ?? null,
      purpose: inv?.purpose ?? null,
      health: measuredHealthOf(db, cameraId, now),
      bandwidthLimitMbps: opts.bandwidthLimitMbps ?? null,
      storage: { ringBytes: ringCapacityBytes(space), retentionDays: opts.keepDays ?? DEFAULT_KEEP_DAYS },
      segmentSeconds: camera.segment_seconds,
      encodedBy: self ? "self" : "camera",
    },
  };
}

/** A stored recommendation. */
export interface StoredOptimization {
  id: number;
  request: OptimizeRequest;
  result: OptimizeResult;
}

/**
 * Gathers the request, runs the heuristic and stores the `optimizations` row.
 * `processing_time_ms` is the whole run: gathering (ffmpeg reads the newest segment) and the rules.
 */
export async function runOptimization(db: Database, dataDir: string, camera: CameraConfig, cameraId: number, opts: OptimizeOptions = {}): Promise<StoredOptimization> {
  const started = performance.now();
  const request = await buildOptimizeRequest(db, dataDir, camera, cameraId, opts);
  const result = { ...optimize(request), processing_time_ms: 0 };
  result.processing_time_ms = Math.round(performance.now() - started);
  const id = insertOptimization(db, {
    cameraId,
    request,
    recommended: result.recommended_settings,
    confidence: result.confidence,
    warnings: result.warnings,
    explanation: result.explanation,
    aiProvider: result.ai_provider,
    processingTimeMs: result.processing_time_ms,
    at: opts.now ?? Date.now(),
  });
  return { id, request, result };
}

/**
 * `runOptimization` for configured camera `cameraKey` (the recording cameras of `cameras` share
 * the disk's free space). Throws ApplyRequestError for a camera that is not configured or has no
 * database row.
 */
export async function optimizeCameraByKey(db: Database, dataDir: string, cameras: CameraConfig[], cameraKey: string, opts: OptimizeOptions = {}): Promise<StoredOptimization> {
  const camera = cameras.find((c) => c.key === cameraKey);
  const cameraId = cameraIdByKey(db, cameraKey);
  if (!camera || cameraId === null) throw new ApplyRequestError(`no camera "${cameraKey}" is configured`);
  const sharingCameras = cameras.filter((c) => c.enabled && c.record !== false).length;
  return runOptimization(db, dataDir, camera, cameraId, { sharingCameras, ...opts });
}
