/**
 * Clip export: the footage of one camera between two times, as one MP4 made from the ring's
 * MPEG-TS segments without transcoding.
 *
 * How: the segments overlapping [fromUtc, toUtc) are selected and read-locked in one
 * transaction (src/db/locks.ts; the lock is held until ffmpeg is done, also when it fails or is
 * cancelled), listed in an ffconcat file (concat demuxer, one `file` + `duration` per segment),
 * and ffmpeg copies the streams (`-c copy`, no transcoding) for `-t` into MP4 with
 * `-movflags +faststart` (index first, so a phone can start playing a download before it has
 * all of it). Cut at keyframes: the first segment is read from the byte offset of its last
 * keyframe at or before `fromUtc` (see `keyframes`), so the clip starts on a keyframe up to one
 * GOP before `fromUtc` and ends at `toUtc`. Holes in the recording (gaps) are skipped: the MP4
 * holds only recorded time.
 *
 * Crash safety: ffmpeg writes a temp file beside the final one (`tempPathFor` of src/fsx.ts,
 * `exports/.tmp-<name>.mp4.<random>.part`); only after a clean exit does `commitTempFile` fsync
 * it, rename it to `exports/<name>.mp4` and fsync the directory — a file under a final name is
 * always complete. A killed/failed/cancelled ffmpeg leaves no final file and its temp file is
 * deleted (`cleanExportTemps` removes leftovers of a crash at start-up). The same
 * request twice returns the finished file (names are deterministic), so the work is safe to
 * repeat.
 *
 * Bad input throws `MediaRequestError` with an HTTP status for the web layer: malformed times
 * (400), reversed or empty ranges (400), ranges over MAX_CLIP_MS (2 h, 413), an unknown camera
 * (404), a range with no footage (404). ffmpeg failing or being cancelled throws
 * `ExportFailedError`.
 *
 * Serving a finished export: the route must stream it, never read it whole —
 * `new Response(Bun.file(resolveInside(dataDir, relPath)))` (Bun sends the file with sendfile),
 * with `Content-Disposition: attachment`. Serving a ring segment (HLS): use
 * `segmentResponse` below, which holds a read-lock until the body is sent or the client goes.
 */
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cameraKeyById } from "../db/cameras.ts";
import { logEvent } from "../db/eventLog.ts";
import { acquireReadLock, acquireRangeReadLock, lockedStream, newIncidentId, setEvidenceLocked, type SegmentRef } from "../db/locks.ts";
import { recordedUntil, segmentById } from "../db/segments.ts";
import { commitTempFile, discardTemp, removeTempFiles, tempPathFor } from "../fsx.ts";
import { redact } from "../log.ts";
import { resolveInside } from "../paths.ts";
import { runFfmpeg, type FfmpegRun, type RunOptions } from "./ffmpeg.ts";
import { DEFAULT_INCIDENT_SETTINGS, incidentReadyAt as readyAtMs } from "../machines/incident.ts";

/** Longest clip one export may cover (ms): 2 h. A phone download of more is not useful. */
export const MAX_CLIP_MS = 2 * 3600 * 1000;
/** Directory of clips and snapshots, relative to data_dir. */
export const EXPORTS_DIR = "exports";

export type MediaErrorCode = "bad_time" | "bad_range" | "too_long" | "unknown_camera" | "no_footage" | "not_recorded_yet";

/** A request the web layer answers with `status` and `message` (one line, safe to show). */
export class MediaRequestError extends Error {
  constructor(
    readonly code: MediaErrorCode,
    message: string,
    readonly status: 400 | 404 | 409 | 413,
  ) {
    super(message);
  }
}

/** ffmpeg failed, was killed, or the export was cancelled (`cancelled`). */
export class ExportFailedError extends Error {
  constructor(
    message: string,
    readonly cancelled = false,
  ) {
    super(message);
  }
}

/**
 * Parses a time given by a client: integer Unix ms, or ISO 8601 with a zone (`Z` or `+hh:mm`).
 * A time without a zone is refused (the phone's zone and the device's may differ).
 * Throws MediaRequestError("bad_time", 400).
 */
export function parseUtc(value: unknown, name = "time"): number {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === "string") {
    const s = value.trim();
    if (/^\d{1,15}$/.test(s)) return Number(s);
    if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i.test(s)) {
      const ms = Date.parse(s);
      if (Number.isFinite(ms) && ms >= 0) return ms;
    }
  }
  throw new MediaRequestError("bad_time", `${name}: expected Unix milliseconds or an ISO 8601 time with a zone, got ${JSON.stringify(String(value)).slice(0, 60)}`, 400);
}

/** Checks a range [fromUtc, toUtc): ordered, non-empty, at most `maxMs`. */
export function validateRange(fromUtc: number, toUtc: number, maxMs = MAX_CLIP_MS): void {
  for (const [n, v] of [
    ["from", fromUtc],
    ["to", toUtc],
  ] as const)
    if (!Number.isSafeInteger(v) || v < 0) throw new MediaRequestError("bad_time", `${n}: not a valid time`, 400);
  if (toUtc <= fromUtc) throw new MediaRequestError("bad_range", `range is empty or reversed (to must be after from)`, 400);
  if (toUtc - fromUtc > maxMs)
    throw new MediaRequestError("too_long", `range is ${Math.round((toUtc - fromUtc) / 60000)} min; at most ${maxMs / 60000} min per export`, 413);
}

/** What the segments give for a range: where to start in the concatenation and how long to copy. */
export interface ClipPlan {
  /** Offset into the first segment (ms). */
  offsetMs: number;
  /** Recorded time inside the range (ms), the sum over segments. */
  durationMs: number;
  /** First and last recorded instants inside the range (ms UTC). */
  coveredFrom: number;
  coveredTo: number;
}

/**
 * Plans a clip over segments (oldest first) overlapping [fromUtc, toUtc). The concat demuxer
 * lays segments end to end, so the copy starts `offsetMs` into the first one and lasts the
 * recorded time; holes between segments are skipped. Null when nothing overlaps.
 */
export function planClip(segments: readonly Pick<SegmentRef, "start_utc" | "end_utc">[], fromUtc: number, toUtc: number): ClipPlan | null {
  let duration = 0;
  for (const s of segments) duration += Math.max(0, Math.min(toUtc, s.end_utc) - Math.max(fromUtc, s.start_utc));
  if (segments.length === 0 || duration <= 0) return null;
  const first = segments[0]!;
  const last = segments[segments.length - 1]!;
  return {
    offsetMs: Math.max(0, fromUtc - first.start_utc),
    durationMs: duration,
    coveredFrom: Math.max(fromUtc, first.start_utc),
    coveredTo: Math.min(toUtc, last.end_utc),
  };
}

export interface Progress {
  /** Media time written so far (ms). */
  doneMs: number;
  /** Media time the output will have (ms). */
  totalMs: number;
}

/** A keyframe of a segment file: its time from the file's first frame (ms) and byte offset. */
export interface Keyframe {
  ms: number;
  pos: number;
}

const keyframeCache = new Map<string, Keyframe[]>();

/**
 * The keyframes of a media file, found by decoding only keyframes (`-skip_frame nokey`, cheap:
 * one frame per GOP) with ffmpeg's `showinfo` filter, which prints each frame's pts and byte
 * position. Why not `-ss` before `-i`: on MPEG-TS, ffmpeg's input seek lands on an arbitrary
 * packet (the demuxer's binary search by timestamp does not stop at keyframes), so the decoder
 * skips to the NEXT keyframe and the frame is up to a GOP late, or missing in the last GOP.
 * Starting to read at a keyframe's byte offset (`-skip_initial_bytes`, or the `subfile`
 * protocol in a concat list) is exact. Cached per path and size (segments never change).
 */
export async function keyframes(path: string): Promise<Keyframe[]> {
  const key = `${path}\0${Bun.file(path).size}`;
  const hit = keyframeCache.get(key);
  if (hit) return hit;
  const run = await runFfmpeg(["-hide_banner", "-nostdin", "-loglevel", "info", "-skip_frame", "nokey", "-i", path, "-map", "0:v:0", "-an", "-vf", "showinfo", "-vsync", "0", "-f", "null", "-"]);
  const { code, stderrText: err } = run;
  if (code !== 0) throw new ExportFailedError(`cannot index keyframes: ffmpeg exited with ${code}: ${redact(err.trim().split("\n").slice(-1)[0] ?? "").slice(0, 200)}`);
  const list: Keyframe[] = [];
  for (const m of err.matchAll(/Parsed_showinfo.*?pts_time:\s*(-?[\d.]+)\s+(?:\S+\s+)*?pos:\s*(-?\d+)/g)) {
    list.push({ ms: Math.round(Number(m[1]) * 1000), pos: Number(m[2]) });
  }
  if (keyframeCache.size >= 256) keyframeCache.delete(keyframeCache.keys().next().value!);
  keyframeCache.set(key, list);
  return list;
}

/** The last keyframe at or before `offsetMs` with a known byte position; {0, 0} when none. */
export function keyframeAtOrBefore(list: readonly Keyframe[], offsetMs: number): Keyframe {
  let best: Keyframe = { ms: 0, pos: 0 };
  for (const k of list) if (k.ms <= offsetMs + 1 && k.pos >= 0) best = k;
  return best;
}

/** Quotes a path for an ffconcat `file` line (single quotes; a `'` becomes `'\''`). */
export const concatQuote = (p: string) => `'${p.replaceAll("'", "'\\''")}'`;

const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z").replace("T", "-");

/** The key of camera `cameraId`; throws MediaRequestError("unknown_camera", 404) for an unknown id. */
export function cameraKeyOf(db: Database, cameraId: number): string {
  const key = cameraKeyById(db, cameraId);
  if (key === null) throw new MediaRequestError("unknown_camera", `no camera with id ${cameraId}`, 404);
  return key;
}

/** Deletes `exports/.tmp-*` files left by a crash mid-export; returns how many. Call at start-up. */
export function cleanExportTemps(dataDir: string): number {
  return removeTempFiles(join(dataDir, EXPORTS_DIR));
}

/** The two files ffmpeg's arguments name in `concatToFile`: the ffconcat list it reads and the temp file it writes. */
export interface ConcatIo {
  listPath: string;
  tmpPath: string;
}

/**
 * Runs the ffmpeg concat demuxer into `finalPath` crash-safely: writes `lines` (an ffconcat list)
 * to a temp list beside `finalPath`, runs ffmpeg with `args(io)` (which must read `io.listPath`
 * and write `io.tmpPath`, a `tempPathFor(finalPath, ".part")`), deletes the list whatever
 * happens. On a clean exit with a non-empty temp file `commitTempFile` makes it final (fsync,
 * rename, directory fsync), so a final name only ever holds a complete file (`ok: true`).
 * Otherwise it deletes the temp file and returns the failed run (`ok: false`) for the caller to
 * report. Throws only for file system errors, never for a failed or aborted ffmpeg.
 */
export async function concatToFile(finalPath: string, lines: string[], args: (io: ConcatIo) => string[], options: RunOptions = {}): Promise<FfmpegRun & { ok: boolean }> {
  const io: ConcatIo = { listPath: tempPathFor(finalPath, ".ffconcat"), tmpPath: tempPathFor(finalPath, ".part") };
  writeFileSync(io.listPath, lines.join("\n") + "\n");
  let result: FfmpegRun;
  try {
    result = await runFfmpeg(args(io), options);
  } finally {
    discardTemp(io.listPath);
  }
  const ok = result.code === 0 && !result.aborted && existsSync(io.tmpPath) && statSync(io.tmpPath).size > 0;
  if (!ok) {
    discardTemp(io.tmpPath);
    return { ...result, ok };
  }
  commitTempFile(io.tmpPath, finalPath);
  return { ...result, ok };
}

export interface ClipRequest {
  cameraId: number;
  fromUtc: number;
  toUtc: number;
  /** Tag for the segments and the file name (evidence exports). */
  incidentId?: string | null;
  /** Evidence-lock the segments used (durable, seed 002). */
  evidence?: boolean;
  /** Cancels the export (ffmpeg is killed, nothing is left). */
  signal?: AbortSignal;
  onSpawn?: (pid: number) => void;
  /** Longest allowed range (ms), default MAX_CLIP_MS. */
  maxMs?: number;
}

export interface ClipResult {
  /** Relative to data_dir: `exports/<camera>-<from>-<seconds>s[-<incident>].mp4`. */
  relPath: string;
  bytes: number;
  /** Recorded time inside the requested range (ms). */
  durationMs: number;
  /** Media time of the MP4 (ms): durationMs plus the lead-in from the keyframe before fromUtc. */
  clipMs: number;
  /** Wall-clock time of the MP4's first frame (ms UTC), the keyframe at or before fromUtc. */
  startUtc: number;
  segments: number;
  coveredFrom: number;
  coveredTo: number;
  /** True when the file already existed (same request made before). */
  reused: boolean;
}

/**
 * Exports [fromUtc, toUtc) of one camera to an MP4 under `<dataDir>/exports/`.
 * `onProgress` gets media ms done / total as ffmpeg goes. Throws MediaRequestError (bad input,
 * no footage) before anything is written, ExportFailedError when ffmpeg fails or is cancelled.
 */
export async function exportClip(db: Database, dataDir: string, req: ClipRequest, onProgress?: (p: Progress) => void): Promise<ClipResult> {
  validateRange(req.fromUtc, req.toUtc, req.maxMs);
  const cameraKey = cameraKeyOf(db, req.cameraId);
  using lock = acquireRangeReadLock(db, req.cameraId, req.fromUtc, req.toUtc);
  const plan = planClip(lock.segments, req.fromUtc, req.toUtc);
  if (!plan) throw new MediaRequestError("no_footage", `camera ${cameraKey} has no footage between ${new Date(req.fromUtc).toISOString()} and ${new Date(req.toUtc).toISOString()}`, 404);
  if (req.evidence) setEvidenceLocked(db, lock.segmentIds, true, req.incidentId ?? null);

  const dir = join(dataDir, EXPORTS_DIR);
  mkdirSync(dir, { recursive: true });
  const tag = req.incidentId ? `-${req.incidentId.replace(/[^A-Za-z0-9_-]/g, "")}` : "";
  const name = `${cameraKey}-${stamp(req.fromUtc)}-${Math.round((req.toUtc - req.fromUtc) / 1000)}s${tag}`;
  const relPath = join(EXPORTS_DIR, `${name}.mp4`);
  const finalPath = join(dataDir, relPath);
  // Start at the keyframe at or before fromUtc: the first segment is read from that keyframe's
  // byte offset (subfile protocol), so no seek is needed and the copy starts on a keyframe.
  const first = lock.segments[0]!;
  let startKey: Keyframe = { ms: 0, pos: 0 };
  if (plan.offsetMs > 0) startKey = keyframeAtOrBefore(await keyframes(resolveInside(dataDir, first.rel_path)), plan.offsetMs);
  const clipMs = plan.durationMs + (plan.offsetMs - startKey.ms);
  const result0 = { relPath, durationMs: plan.durationMs, clipMs, startUtc: first.start_utc + startKey.ms, segments: lock.segments.length, coveredFrom: plan.coveredFrom, coveredTo: plan.coveredTo };
  if (existsSync(finalPath)) return { ...result0, bytes: statSync(finalPath).size, reused: true };
  const lines = ["ffconcat version 1.0"];
  for (const [i, s] of lock.segments.entries()) {
    const abs = resolveInside(dataDir, s.rel_path);
    const skip = i === 0 && startKey.pos > 0;
    lines.push(`file ${concatQuote(skip ? `subfile,,start,${startKey.pos},end,0,,:${abs}` : abs)}`);
    lines.push(`duration ${((s.end_utc - s.start_utc - (i === 0 ? startKey.ms : 0)) / 1000).toFixed(3)}`);
  }
  const args = ({ listPath, tmpPath }: ConcatIo) => [
    "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
    "-f", "concat", "-safe", "0", "-protocol_whitelist", "file,subfile",
    "-i", listPath,
    "-t", (clipMs / 1000).toFixed(3),
    "-map", "0:v?", "-map", "0:a?", "-c", "copy",
    "-movflags", "+faststart",
    "-f", "mp4",
    "-progress", "pipe:1", "-nostats",
    tmpPath,
  ];
  const totalMs = clipMs;
  const result = await concatToFile(finalPath, lines, args, {
    signal: req.signal,
    onSpawn: req.onSpawn,
    onOutTimeMs: (ms) => onProgress?.({ doneMs: Math.min(totalMs, Math.max(0, Math.round(ms))), totalMs }),
  });
  if (!result.ok) {
    const why = result.aborted ? "cancelled" : `ffmpeg exited with ${result.code}${result.stderr ? `: ${result.stderr}` : ""}`;
    logEvent(db, { kind: "export.failed", level: "warn", cameraId: req.cameraId, message: `clip export ${name} failed: ${why}`, data: { fromUtc: req.fromUtc, toUtc: req.toUtc } });
    throw new ExportFailedError(`clip export failed: ${why}`, result.aborted);
  }
  const bytes = statSync(finalPath).size;
  onProgress?.({ doneMs: totalMs, totalMs });
  logEvent(db, {
    kind: "export.clip",
    cameraId: req.cameraId,
    message: `exported ${relPath} (${(plan.durationMs / 1000).toFixed(1)} s, ${bytes} bytes${req.evidence ? ", evidence-locked" : ""})`,
    data: { relPath, bytes, durationMs: plan.durationMs, fromUtc: req.fromUtc, toUtc: req.toUtc, incidentId: req.incidentId ?? null },
  });
  return { ...result0, bytes, reused: false };
}

// ---------------------------------------------------------------------------------------------
// Incident clips: N s before to M s after a moment, evidence-locked, tagged with an incident id.

export interface IncidentSettings {
  before_seconds: number;
  after_seconds: number;
}
/** 30 s before and after the moment (the supervisor machine's default). */
export const DEFAULT_INCIDENT: IncidentSettings = DEFAULT_INCIDENT_SETTINGS;

export interface Incident {
  incidentId: string;
  cameraId: number;
  atUtc: number;
  fromUtc: number;
  toUtc: number;
  /**
   * When the export can run (ms UTC): the segment holding `toUtc` closes at most one segment
   * length after it, plus 2 s for indexing. Store it as the deadline (survives a restart).
   */
  readyAtUtc: number;
}

/** The window of an incident at `atUtc`. */
export function incidentWindow(atUtc: number, s: IncidentSettings = DEFAULT_INCIDENT): { fromUtc: number; toUtc: number } {
  return { fromUtc: atUtc - s.before_seconds * 1000, toUtc: atUtc + s.after_seconds * 1000 };
}

/** When an incident ending at `toUtc` can be exported, given the camera's segment length (s). */
export function incidentReadyAt(toUtc: number, segmentSeconds: number): number {
  return readyAtMs(toUtc, segmentSeconds * 1000);
}

/** True when the camera's recorded segments already reach `toUtc`. */
export function isRecordedUntil(db: Database, cameraId: number, toUtc: number): boolean {
  const until = recordedUntil(db, cameraId);
  return until !== null && until >= toUtc;
}

/**
 * Starts an incident: a new incident id, and the footage already recorded in its window is
 * evidence-locked and tagged at once (so retention cannot take it while the "after" part is
 * being recorded). Logs `incident.begin`. The caller stores the returned Incident and runs
 * `exportIncident` at `readyAtUtc`.
 */
export function beginIncident(
  db: Database,
  cameraId: number,
  atUtc: number,
  opts: { settings?: IncidentSettings; segmentSeconds: number; incidentId?: string },
): Incident {
  const { fromUtc, toUtc } = incidentWindow(atUtc, opts.settings);
  const incidentId = opts.incidentId ?? newIncidentId(atUtc);
  const locked = setEvidenceLocked(db, { cameraId, fromUtc, toUtc }, true, incidentId);
  logEvent(db, {
    kind: "incident.begin",
    cameraId,
    message: `incident ${incidentId} at ${new Date(atUtc).toISOString()}: ${locked} segment${locked === 1 ? "" : "s"} locked so far`,
    data: { incidentId, atUtc, fromUtc, toUtc },
  });
  return { incidentId, cameraId, atUtc, fromUtc, toUtc, readyAtUtc: incidentReadyAt(toUtc, opts.segmentSeconds) };
}

/**
 * Exports an incident's window as an evidence-locked MP4 tagged with its id. Throws
 * MediaRequestError("not_recorded_yet", 409) while the recording does not reach `toUtc`,
 * unless `partial` (e.g. the camera stopped: export what exists).
 */
export async function exportIncident(
  db: Database,
  dataDir: string,
  incident: Incident,
  options: { partial?: boolean; signal?: AbortSignal } = {},
  onProgress?: (p: Progress) => void,
): Promise<ClipResult> {
  if (!options.partial && !isRecordedUntil(db, incident.cameraId, incident.toUtc))
    throw new MediaRequestError("not_recorded_yet", `incident ${incident.incidentId}: footage until ${new Date(incident.toUtc).toISOString()} is not recorded yet`, 409);
  return exportClip(
    db,
    dataDir,
    { cameraId: incident.cameraId, fromUtc: incident.fromUtc, toUtc: incident.toUtc, incidentId: incident.incidentId, evidence: true, signal: options.signal },
    onProgress,
  );
}

// ---------------------------------------------------------------------------------------------
// Serving ring segments under a read-lock.

/**
 * A streaming Response for one ring segment that holds a read-lock until the body has been
 * sent, fails, or the client disconnects (HLS reads: retention must not delete a segment a
 * phone is still downloading). Null when the segment row or its file does not exist. `range`
 * (inclusive byte span) gives a 206 partial body.
 */
export async function segmentResponse(
  db: Database,
  dataDir: string,
  segmentId: number,
  headers: Record<string, string> = {},
  range?: { start: number; end: number },
): Promise<Response | null> {
  const lock = acquireReadLock(db, [segmentId]);
  if (lock.segmentIds.length === 0) return null;
  try {
    const row = segmentById(db, segmentId);
    if (!row) {
      lock.release();
      return null;
    }
    const file = Bun.file(resolveInside(dataDir, row.rel_path));
    if (!(await file.exists())) {
      lock.release();
      return null;
    }
    const size = file.size;
    const part = range ? file.slice(range.start, range.end + 1) : file;
    const length = range ? range.end - range.start + 1 : size;
    const h: Record<string, string> = { "Content-Type": "video/mp2t", "Content-Length": String(length), ...headers };
    if (range) h["Content-Range"] = `bytes ${range.start}-${range.end}/${size}`;
    return new Response(lockedStream(lock, part.stream()), { status: range ? 206 : 200, headers: h });
  } catch (err) {
    lock.release();
    throw err;
  }
}
