/**
 * Share links (seed 004): checking a request to make one, and what each item of a share plays.
 *
 * A share holds, in display order, timelapse batches (their rendered MP4; a gallery shows the
 * batch's frames), saved trips (their MP4 made on the fly from the evidence-locked ring, see
 * tripMp4.ts) and clip files under `exports/` (incident clips and exported clips). The link
 * `/share/<token>` is public: the token (a UUID v4, 122 random bits) is the only secret.
 *
 * `createShare` checks everything before writing (one transaction, src/db/shares.ts):
 * - `video_only`: exactly one video; `gallery`: exactly one timelapse batch with frames;
 *   `info_page`: 1..`MAX_SHARE_ITEMS` videos, in the order given;
 * - a batch must have its video (completed, or a continuous one being re-rendered: its previous
 *   video plays meanwhile), a trip saved, a clip file present;
 * - the title 1..200 characters (default: from the first item, e.g. "Front timelapse"), the
 *   description at most 2000, an expiry in the future, the colour `#rrggbb`.
 * It throws `ShareRequestError` (status 400 bad input, 404 an item that does not exist, 409 an
 * item not ready to share) and writes nothing then.
 */
import type { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { isAbsolute } from "node:path";
import { batchById, batchFrames, type BatchFrame } from "../db/timelapse.ts";
import { tripById, type TripSummary } from "../db/views.ts";
import { cameraByKey } from "../db/cameras.ts";
import { insertShare, newShareToken, type NewShare, type NewShareItem, type ShareItem } from "../db/shares.ts";
import { resolveInside } from "../paths.ts";
import { tripParts } from "./tripMp4.ts";

/** A request to make a share that cannot be met: `status` 400 (bad input), 404 (no such item) or 409 (not ready). */
export class ShareRequestError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 = 400,
  ) {
    super(message);
  }
}

/** Most items one share holds (an info page of a project's videos). */
export const MAX_SHARE_ITEMS = 20;
export const MAX_TITLE_CHARS = 200;
export const MAX_DESCRIPTION_CHARS = 2000;
/** Longest expiry a share may be given from now: 10 years, ms. */
export const MAX_SHARE_LIFETIME_MS = 3650 * 86_400_000;

/** A clip file a share may hold: an MP4 directly under `exports/`. */
export const CLIP_PATH_RE = /^exports\/[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.mp4$/;

/** A share to make: as `NewShare`, with the title and description optional (the title then comes from the first item). */
export type ShareRequest = Omit<NewShare, "title" | "description"> & {
  title?: string | null;
  description?: string | null;
  /** Who asks, for the event log: a username, `cli`, `cli via the runtime`. */
  by?: string;
};

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * A share lifetime as the CLI and forms write it: `30m`, `12h`, `7d`, `2w` (ms), or `never`
 * (null). Throws ShareRequestError for anything else or more than 10 years.
 */
export function parseShareLifetime(text: string): number | null {
  const s = text.trim().toLowerCase();
  if (s === "never") return null;
  const m = /^(\d{1,5})\s*([mhdw])$/.exec(s);
  if (!m || Number(m[1]) === 0) throw new ShareRequestError(`expiry must be like 30m, 12h, 7d, 2w or never, got ${JSON.stringify(text.slice(0, 20))}`);
  const ms = Number(m[1]) * UNITS[m[2]!]!;
  if (ms > MAX_SHARE_LIFETIME_MS) throw new ShareRequestError("expiry must be at most 10 years");
  return ms;
}

/** A video file on disk or a saved trip (its MP4 made while it is sent). */
export type ShareVideo = { kind: "file"; path: string; name: string } | { kind: "trip"; trip: TripSummary; name: string };

const pad = (n: number) => String(n).padStart(2, "0");
const stamp = (ms: number) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}-${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}`;
};
const safe = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, "_");

/**
 * What item `item` plays, or null when it has nothing to play (a batch not completed or whose
 * file is gone, a trip no longer saved or whose footage is all gone, a clip file deleted).
 * Download names say the camera and the moment (UTC), never an id: `front-timelapse-2026-12-07-0812.mp4`.
 */
export function shareVideo(db: Database, dataDir: string, item: ShareItem): ShareVideo | null {
  if (item.kind === "batch") {
    // the video under its final name is always whole (written to a temp file, then renamed), so
    // a continuous timelapse being re-rendered keeps playing its previous video meanwhile
    if (!item.output_path) return null;
    const path = resolveInside(dataDir, item.output_path);
    if (!existsSync(path)) return null;
    return { kind: "file", path, name: `${safe(item.camera_key ?? "camera")}-timelapse-${stamp(item.made_at ?? item.end_utc ?? 0)}.mp4` };
  }
  if (item.kind === "clip") {
    if (!item.clip_path || !CLIP_PATH_RE.test(item.clip_path)) return null;
    const path = resolveInside(dataDir, item.clip_path);
    if (!existsSync(path)) return null;
    return { kind: "file", path, name: item.clip_path.slice("exports/".length) };
  }
  const trip = item.ref_id === null ? null : tripById(db, item.ref_id);
  if (!trip || trip.status !== "saved") return null;
  const name = `${safe(trip.camera_key)}-${stamp(trip.start_time_utc)}.mp4`;
  // a legacy MP4 the start-up migration kept is sent from disk (Range works there)
  if (trip.saved_mp4 && trip.saved_mp4.endsWith(".mp4") && !isAbsolute(trip.saved_mp4)) {
    try {
      const legacy = resolveInside(dataDir, trip.saved_mp4);
      if (existsSync(legacy)) return { kind: "file", path: legacy, name };
    } catch {
      /* a path outside data_dir is never opened */
    }
  }
  if (tripParts(db, dataDir, trip).length === 0) return null;
  return { kind: "trip", trip, name };
}

/** The frames of a gallery item (a batch) whose files still exist, in sequence order. */
export function galleryFrames(db: Database, dataDir: string, item: ShareItem): BatchFrame[] {
  if (item.kind !== "batch" || item.ref_id === null) return [];
  return batchFrames(db, item.ref_id).filter((f) => {
    try {
      return existsSync(resolveInside(dataDir, f.file_path));
    } catch {
      return false;
    }
  });
}

/** The title a share gets when none is given: from its first item ("Front timelapse", "Front drive", "Incident clip"). */
function defaultTitle(db: Database, first: NewShareItem): string {
  const r = first.ref;
  if (r.kind === "batch") return `${batchCameraName(db, r.batchId)} timelapse`;
  if (r.kind === "trip") return `${tripById(db, r.tripId)?.camera_name ?? "Camera"} drive`;
  return /-\d+s-[^/]+\.mp4$/.test(r.clipPath) ? "Incident clip" : "Video clip";
}

function batchCameraName(db: Database, batchId: number): string {
  const b = batchById(db, batchId);
  if (!b) return "Camera";
  return cameraByKey(db, b.camera_key)?.name ?? b.camera_key;
}

/** Checks one item (see the module comment); `video` = it must play as a video. */
function checkItem(db: Database, dataDir: string, item: NewShareItem, video: boolean): void {
  const r = item.ref;
  if (item.customTitle && item.customTitle.length > MAX_TITLE_CHARS) throw new ShareRequestError(`an item's title must be at most ${MAX_TITLE_CHARS} characters`);
  if (r.kind === "batch") {
    if (!Number.isSafeInteger(r.batchId) || r.batchId <= 0) throw new ShareRequestError("a timelapse id must be a positive whole number");
    const b = batchById(db, r.batchId);
    if (!b) throw new ShareRequestError(`no timelapse ${r.batchId}`, 404);
    if (video && (!b.output_path || !existsSync(resolveInside(dataDir, b.output_path))))
      throw new ShareRequestError(`timelapse ${b.id} is ${b.status}: it can be shared once its video is made`, 409);
    if (!video && b.total_frames === 0) throw new ShareRequestError(`timelapse ${b.id} has no frames to show`, 409);
    return;
  }
  if (r.kind === "trip") {
    if (!Number.isSafeInteger(r.tripId) || r.tripId <= 0) throw new ShareRequestError("a trip id must be a positive whole number");
    const t = tripById(db, r.tripId);
    if (!t) throw new ShareRequestError(`no trip ${r.tripId}`, 404);
    if (t.status !== "saved") throw new ShareRequestError(`trip ${t.id} is not saved: keep it first, then share it`, 409);
    if (!video) throw new ShareRequestError("a gallery shows a timelapse's frames, not a trip");
    return;
  }
  if (!CLIP_PATH_RE.test(r.clipPath)) throw new ShareRequestError("a clip must be an MP4 file under exports/");
  if (!existsSync(resolveInside(dataDir, r.clipPath))) throw new ShareRequestError(`no clip ${r.clipPath}`, 404);
  if (!video) throw new ShareRequestError("a gallery shows a timelapse's frames, not a clip");
}

/**
 * Makes a share after checking `req` (see the module comment). Returns its id, token and
 * public path (`/share/<token>`). Throws ShareRequestError; nothing is written then.
 */
export function createShare(db: Database, dataDir: string, req: ShareRequest, now = Date.now()): { id: number; token: string; path: string } {
  if (!["video_only", "info_page", "gallery"].includes(req.type)) throw new ShareRequestError("type must be video_only, info_page or gallery");
  const n = req.items.length;
  if (n === 0) throw new ShareRequestError("choose what to share: at least one timelapse, saved trip or clip");
  if (n > MAX_SHARE_ITEMS) throw new ShareRequestError(`a share holds at most ${MAX_SHARE_ITEMS} items`);
  if ((req.type === "video_only" || req.type === "gallery") && n !== 1)
    throw new ShareRequestError(`a ${req.type === "gallery" ? "gallery" : "video-only share"} holds exactly one item; use an info page for several`);
  if (req.type === "gallery" && req.items[0]!.ref.kind !== "batch") throw new ShareRequestError("a gallery shows a timelapse's frames, not a trip or clip");
  const keys = new Set(req.items.map((i) => JSON.stringify(i.ref)));
  if (keys.size !== n) throw new ShareRequestError("an item is listed twice");
  for (const item of req.items) checkItem(db, dataDir, item, req.type !== "gallery");
  const title = (req.title ?? "").trim() || defaultTitle(db, req.items[0]!);
  if (title.length > MAX_TITLE_CHARS) throw new ShareRequestError(`title must be at most ${MAX_TITLE_CHARS} characters`);
  const description = (req.description ?? "").trim() || null;
  if (description && description.length > MAX_DESCRIPTION_CHARS) throw new ShareRequestError(`description must be at most ${MAX_DESCRIPTION_CHARS} characters`);
  if (req.expiresAt !== null && (!Number.isSafeInteger(req.expiresAt) || req.expiresAt <= now)) throw new ShareRequestError("the expiry must be in the future");
  if (req.primaryColor !== undefined && !/^#[0-9a-fA-F]{6}$/.test(req.primaryColor)) throw new ShareRequestError("colour must be #rrggbb");
  const token = newShareToken();
  const id = insertShare(
    db,
    {
      title,
      description,
      type: req.type,
      items: req.items,
      expiresAt: req.expiresAt,
      downloadEnabled: req.downloadEnabled,
      embedEnabled: req.embedEnabled,
      primaryColor: req.primaryColor?.toLowerCase(),
      displayOptions: req.displayOptions,
    },
    token,
    now,
    req.by,
  );
  return { id, token, path: `/share/${token}` };
}
