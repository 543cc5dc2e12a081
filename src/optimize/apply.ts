/**
 * Starting a settings change (seed 003 `applied_configs`): checks the request and writes the
 * `pending` row; the runtime then spawns its `applyConfig` actor (src/machines/applyConfig.ts)
 * with the returned input.
 *
 * Methods: `self` for a camera dashcam encodes itself (testsrc, v4l2, rpicam: only the stream
 * part of a recommendation applies, to dashcam's own encoder), `onvif` for a camera reached over
 * ONVIF (the stream part, through its video encoder configuration), `manual` for a change the
 * user makes on the camera's own page and confirms here (the whole recommendation). The default
 * is `self` where it applies, else `manual`.
 */
import type { Database } from "bun:sqlite";
import type { CameraConfig } from "../config.ts";
import { cameraIdByKey } from "../db/cameras.ts";
import { applyById, insertApply, optimizationById } from "../db/optimize.ts";
import type { ApplyInput, ApplyMethod, ApplySettings, StreamTarget } from "../machines/applyConfig.ts";
import { encodesItself } from "../media/recorderArgs.ts";

/** A request that cannot be applied (unknown camera or recommendation, wrong method); the message is for the user. */
export class ApplyRequestError extends Error {}

export interface ApplyRequest {
  cameraKey: string;
  /** Apply this stored recommendation's settings ... */
  optimizationId?: number | null;
  /** ... or these (stream part at least). */
  settings?: ApplySettings | null;
  method?: ApplyMethod;
  /** User name, or `cli`. */
  by: string;
}

const STREAM_KEYS = ["resolution", "codec", "fps", "bitrateKbps", "gopSeconds"] as const;

/** Only the known stream fields, with the right types. Throws ApplyRequestError. */
export function streamTargetOf(raw: unknown): StreamTarget {
  if (!raw || typeof raw !== "object") throw new ApplyRequestError("settings.stream is missing");
  const s = raw as Record<string, unknown>;
  const out: StreamTarget = {};
  for (const k of STREAM_KEYS) {
    const v = s[k];
    if (v === undefined || v === null) continue;
    if (k === "resolution" || k === "codec") {
      if (typeof v !== "string") throw new ApplyRequestError(`settings.stream.${k} must be text`);
      out[k] = v;
    } else {
      if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new ApplyRequestError(`settings.stream.${k} must be a positive number`);
      out[k] = v;
    }
  }
  if (Object.keys(out).length === 0) throw new ApplyRequestError("settings.stream sets nothing");
  return out;
}

/**
 * Checks `req` against the configured `cameras`, writes the `pending` row and returns the
 * actor's input. Throws ApplyRequestError.
 */
export function createApply(db: Database, cameras: Map<string, CameraConfig>, req: ApplyRequest, now = Date.now()): ApplyInput {
  const camera = cameras.get(req.cameraKey);
  const cameraId = cameraIdByKey(db, req.cameraKey);
  if (!camera || cameraId === null) throw new ApplyRequestError(`no camera "${req.cameraKey}" is configured`);
  const self = encodesItself(camera.source);
  const method: ApplyMethod = req.method ?? (self ? "self" : "manual");
  if (method === "self" && !self) throw new ApplyRequestError(`dashcam does not encode camera "${req.cameraKey}" itself: apply over ONVIF or by hand`);
  let settings: ApplySettings;
  let optimizationId: number | null = null;
  if (req.optimizationId != null) {
    const o = optimizationById(db, req.optimizationId);
    if (!o || o.camera_id !== cameraId) throw new ApplyRequestError(`no recommendation ${req.optimizationId} for camera "${req.cameraKey}"`);
    optimizationId = o.id;
    settings = o.recommended_settings as ApplySettings;
  } else if (req.settings) settings = req.settings;
  else throw new ApplyRequestError("give a recommendation or settings to apply");
  const stream = streamTargetOf(settings.stream);
  // dashcam's encoder and ONVIF's encoder configuration take the stream only; by hand, everything
  const applied: ApplySettings = method === "manual" ? { ...settings, stream } : { stream };
  const applyId = insertApply(db, { cameraId, optimizationId, settings: applied, method, by: req.by, at: now });
  return { applyId, cameraKey: camera.key, cameraId, method, settings: applied, segmentMs: camera.segment_seconds * 1000, by: req.by };
}

/** The apply `applyId` of camera `cameraKey` when it is still waiting (for CONFIRM / CANCEL). Throws ApplyRequestError. */
export function unfinishedApplyOf(db: Database, applyId: number, cameraKey?: string): { id: number; method: string } {
  const a = applyById(db, applyId);
  if (!a || (cameraKey !== undefined && cameraIdByKey(db, cameraKey) !== a.camera_id)) throw new ApplyRequestError(`no settings change ${applyId}`);
  if (a.status !== "pending" && a.status !== "in_progress") throw new ApplyRequestError(`settings change ${applyId} has ended (${a.status})`);
  return { id: a.id, method: a.apply_method };
}
