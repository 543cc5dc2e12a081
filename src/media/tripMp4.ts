/**
 * A trip (or one segment) as one MP4, made while it is downloaded: the trip's segments (evidence-locked ring
 * files, plus copies a legacy saved trip kept in `saved_trip_files`) remuxed by ffmpeg without
 * transcoding (`-c copy`) into a fragmented MP4 (`-movflags frag_keyframe+empty_moov+default_base_moof`:
 * the header comes first and needs no sizes, so ffmpeg can write to a pipe and the download
 * starts with the first byte ffmpeg writes) streamed from ffmpeg's stdout (`streamFfmpeg`).
 * Nothing is written to disk: a saved trip is stored once, as its segments.
 *
 * The ffconcat list goes to ffmpeg's stdin (`-f concat -i pipe:0`; each entry is a `file:` URL,
 * since a bare path would be read relative to `pipe:`). The ring segments are read-locked until
 * the body is sent or the client goes (`lockedStream`); a client that disconnects cancels the
 * body, which kills ffmpeg. The size is not known in advance, so the response has no
 * Content-Length and no Range support (`Accept-Ranges: none`). At most `MAX_TRIP_STREAMS` run at
 * once (each is one ffmpeg copying at disk speed); one more throws `TripStreamsBusyError`.
 *
 * `streamSegmentMp4` does the same for a single ring segment (a phone plays MP4, not MPEG-TS):
 * the same arguments with a one-entry list, the same read-lock and the same limit.
 */
import type { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { acquireReadLock, lockedStream, type ReadLock } from "../db/locks.ts";
import { savedTripFiles } from "../db/savedTrips.ts";
import { tripSegments, type TripSummary } from "../db/views.ts";
import { resolveInside } from "../paths.ts";
import { concatQuote } from "./export.ts";
import { streamFfmpeg, type RunOptions } from "./ffmpeg.ts";

/** MP4 downloads made at once (a phone may open two requests for one video; a few phones at once). */
export const MAX_TRIP_STREAMS = 4;
let activeStreams = 0;

/** `MAX_TRIP_STREAMS` downloads are running: try again when one ends (the web answers 503). */
export class TripStreamsBusyError extends Error {}

/** One file of a trip's footage, oldest first. */
export interface TripPart {
  absoluteIndex: number;
  /** Absolute path. */
  path: string;
  bytes: number;
  durationMs: number;
  /** The segment row (read-locked while streaming); null for a kept copy. */
  segmentId: number | null;
}

/**
 * The files holding trip `trip`'s footage, oldest first: its ring segments whose file exists,
 * and kept copies (`saved_trip_files`) of segments the ring no longer has.
 */
export function tripParts(db: Database, dataDir: string, trip: Pick<TripSummary, "id" | "camera_id" | "start_absolute" | "last_absolute">): TripPart[] {
  const parts = new Map<number, TripPart>();
  for (const s of tripSegments(db, trip)) {
    const path = resolveInside(dataDir, s.rel_path);
    if (existsSync(path)) parts.set(s.absolute_index, { absoluteIndex: s.absolute_index, path, bytes: s.bytes ?? 0, durationMs: s.end_utc - s.start_utc, segmentId: s.id });
  }
  for (const f of savedTripFiles(db, trip.id)) {
    if (parts.has(f.absolute_index)) continue;
    const path = resolveInside(dataDir, f.rel_path);
    if (existsSync(path)) parts.set(f.absolute_index, { absoluteIndex: f.absolute_index, path, bytes: f.bytes, durationMs: f.duration_ms, segmentId: null });
  }
  return [...parts.values()].sort((a, b) => a.absoluteIndex - b.absoluteIndex);
}

/** ffmpeg arguments of the on-the-fly MP4: ffconcat list on stdin, fragmented MP4 on stdout. */
export const TRIP_MP4_ARGS = [
  "-hide_banner", "-nostdin", "-loglevel", "error",
  "-f", "concat", "-safe", "0", "-protocol_whitelist", "file,pipe", "-i", "pipe:0",
  "-map", "0:v?", "-map", "0:a?", "-c", "copy",
  "-movflags", "frag_keyframe+empty_moov+default_base_moof",
  "-f", "mp4", "pipe:1",
];

/** The ffconcat list of `parts` (each a `file:` URL; see the module comment). */
export const tripConcatList = (parts: readonly Pick<TripPart, "path">[]) =>
  ["ffconcat version 1.0", ...parts.map((p) => `file ${concatQuote(`file:${p.path}`)}`)].join("\n") + "\n";

/** A trip MP4 being made: the body to send and what it holds. */
export interface TripMp4Stream {
  body: ReadableStream<Uint8Array>;
  parts: number;
  /** Recorded time in it (sum of the parts, ms). */
  durationMs: number;
  /** Sum of the parts' sizes (the MP4 is about this size; not exact). */
  bytes: number;
  pid: number;
}

/**
 * Starts the MP4 of `trip` (see the module comment). Null when no file of the trip is left.
 * `options.signal` / cancelling `body` kill ffmpeg; the read-lock is released when the body ends.
 */
export function streamTripMp4(
  db: Database,
  dataDir: string,
  trip: Pick<TripSummary, "id" | "camera_id" | "start_absolute" | "last_absolute">,
  options: Pick<RunOptions, "signal" | "onSpawn" | "ffmpegPath"> = {},
): TripMp4Stream | null {
  if (activeStreams >= MAX_TRIP_STREAMS) throw busy();
  const lock = acquireReadLock(db, tripSegments(db, trip).map((s) => s.id));
  try {
    const parts = tripParts(db, dataDir, trip);
    if (parts.length === 0) {
      lock.release();
      return null;
    }
    return streamParts(lock, parts, options);
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * Starts the MP4 of one ring segment (row `segment`, path relative to `dataDir`), read-locked
 * while it is sent. Null when the row is gone or its file is missing (taken by retention before
 * the lock); throws `TripStreamsBusyError` when `MAX_TRIP_STREAMS` run, and what `resolveInside`
 * throws for a path outside `dataDir`.
 */
export function streamSegmentMp4(
  db: Database,
  dataDir: string,
  segment: { id: number; absolute_index: number; rel_path: string; bytes: number | null; start_utc: number; end_utc: number },
  options: Pick<RunOptions, "signal" | "onSpawn" | "ffmpegPath"> = {},
): TripMp4Stream | null {
  if (activeStreams >= MAX_TRIP_STREAMS) throw busy();
  // lock first, then look: retention skips locked rows (its DELETE re-checks `locked = 0`)
  const lock = acquireReadLock(db, [segment.id]);
  try {
    const path = resolveInside(dataDir, segment.rel_path);
    if (lock.segmentIds.length === 0 || !existsSync(path)) {
      lock.release();
      return null;
    }
    const part: TripPart = { absoluteIndex: segment.absolute_index, path, bytes: segment.bytes ?? 0, durationMs: segment.end_utc - segment.start_utc, segmentId: segment.id };
    return streamParts(lock, [part], options);
  } catch (err) {
    lock.release();
    throw err;
  }
}

const busy = () => new TripStreamsBusyError(`busy: ${activeStreams} MP4 downloads are running, try again when one has finished`);

/** ffmpeg remuxing `parts` to stdout; `lock` is released when the body ends or is cancelled. */
function streamParts(lock: ReadLock, parts: TripPart[], options: Pick<RunOptions, "signal" | "onSpawn" | "ffmpegPath">): TripMp4Stream {
  const run = streamFfmpeg(TRIP_MP4_ARGS, { ...options, input: new TextEncoder().encode(tripConcatList(parts)) });
  activeStreams++;
  void run.done.finally(() => activeStreams--);
  return {
    body: lockedStream(lock, run.stdout),
    parts: parts.length,
    durationMs: parts.reduce((n, p) => n + p.durationMs, 0),
    bytes: parts.reduce((n, p) => n + p.bytes, 0),
    pid: run.pid,
  };
}

const pad = (n: number) => String(n).padStart(2, "0");

/**
 * A phone-friendly file name for a trip's MP4: `<camera>-YYYY-MM-DD-HHMM.mp4`, the trip's start
 * in the device's local time (what the driver's clock showed), e.g. `front-2026-12-07-0812.mp4`.
 */
export function tripFileName(cameraKey: string, startUtc: number): string {
  const d = new Date(startUtc);
  const safeKey = cameraKey.replace(/[^A-Za-z0-9_-]/g, "_");
  return `${safeKey}-${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}.mp4`;
}
