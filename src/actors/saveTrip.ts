/**
 * Saving a trip (the GPIO save button, `trips save`, the UI's Save): the invoked `saveTrip` actor
 * of the trip machine's `saving` state.
 *
 * `saveTripFiles(db, dataDir, tripId)`:
 * 1. evidence-locks every segment of the trip still in the ring (`lockTripSegments`, tag
 *    `trip-<id>`; the trip machine already did it in the transaction that entered `saving`, this
 *    repeats it for a resumed save);
 * 2. copies each segment out of the ring into `<data_dir>/saved/trip-<id>/` under its own file
 *    name with `writeFileAtomicFrom` (src/fsx.ts: temp name, fsync, rename), and one directory
 *    fsync after the last copy instead of one per file. A file already there with the source's
 *    size is skipped, so a resumed save copies only what is missing;
 * 3. concatenates the copies (ffmpeg concat demuxer, `-c copy`, `-movflags +faststart`, MP4)
 *    with `concatToFile` into a temp file that is fsynced and renamed to `trip-<id>.mp4` (then a
 *    directory fsync): the final name only ever holds a complete MP4, and a rebuild replaces it
 *    atomically;
 * 4. looks at the trip again: closed with no segment added meanwhile = `complete: true`; still
 *    open = `complete: false` (the MP4 holds what was recorded so far; the trip machine rebuilds
 *    it when the trip closes); closed with more segments = build again (step 1).
 * Leftover `.tmp-*` files of an interrupted run in the trip's directory are deleted first.
 * Safe to repeat at any point (an invoked actor restarts from scratch after a restore): no
 * duplicate file, no half file under a final name. The `saved_trips` row is NOT written here:
 * the trip machine writes it in the same transaction as its transition to `saved`.
 *
 * Throws when the trip is unknown, has no footage left in the ring, ffmpeg fails, or `signal`
 * aborts (the actor was stopped, e.g. at power-down: ffmpeg is killed, the save resumes at the
 * next start because the trip's status stays `saving`).
 */
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { fromPromise } from "xstate";
import type { SaveTripInput } from "../machines/trip.ts";
import { tripById, tripSegments } from "../db/views.ts";
import { lockTripSegments } from "../db/savedTrips.ts";
import { fsyncPath, removeTempFiles, writeFileAtomicFrom } from "../fsx.ts";
import { concatQuote, concatToFile, type ConcatIo } from "../media/export.ts";
import { resolveInside } from "../paths.ts";

/** Directory of saved trips, relative to data_dir. */
export const SAVED_DIR = "saved";
/** A trip's saved directory, relative to data_dir: `saved/trip-<id>`. */
export const savedDirRel = (tripId: number) => join(SAVED_DIR, `trip-${tripId}`);
/** A trip's MP4, relative to data_dir: `saved/trip-<id>/trip-<id>.mp4`. */
export const savedMp4Rel = (tripId: number) => join(savedDirRel(tripId), `trip-${tripId}.mp4`);

/** Output of a finished save (the trip machine keeps it in context and writes `saved_trips`). */
export interface SaveTripOutput {
  /** The MP4 covers the whole trip, which is closed. False: the trip is still open. */
  complete: boolean;
  /** Relative to data_dir. */
  savedDir: string;
  mp4Path: string;
  /** Segments in the MP4 and their bytes (copies). */
  segments: number;
  bytes: number;
  /** Recorded time in the MP4 (sum of the segments' durations, ms). */
  durationMs: number;
  /** Absolute index of the last segment in the MP4. */
  lastAbsolute: number;
  /** Segment rows whose file was missing (not in the MP4). */
  missing: number;
}

export interface SaveOptions {
  signal?: AbortSignal;
  /** A closed trip that keeps growing (it cannot) is not rebuilt more than this many times. */
  maxRounds?: number;
}

/** Poll interval while a saved trip waits for its first segment, ms. */
const EMPTY_TRIP_POLL_MS = 250;

function abortIfNeeded(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Error("saving was interrupted (the actor stopped); it resumes at the next start");
}

/**
 * Deletes the `.tmp-*` files interrupted saves left under `<data_dir>/saved/*` (all of them, or
 * only those older than `olderThanMs`, for a periodic sweep while saves may run). Returns how many.
 */
export function cleanSavedTemps(dataDir: string, olderThanMs = 0): number {
  const root = join(dataDir, SAVED_DIR);
  if (!existsSync(root)) return 0;
  let n = 0;
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    try {
      if (statSync(dir).isDirectory()) n += removeTempFiles(dir, olderThanMs);
    } catch {
      /* gone */
    }
  }
  return n;
}

/**
 * Copies `src` to `dest` crash-safely (streamed, never loaded whole), unless `dest` already has
 * `src`'s size. The directory is not fsynced here: the caller does it once after the last copy.
 * Returns bytes copied (0 = skipped).
 */
async function copyInto(src: string, dest: string): Promise<number> {
  const size = statSync(src).size;
  if (existsSync(dest) && statSync(dest).size === size) return 0;
  await writeFileAtomicFrom(dest, src, { syncDir: false });
  return size;
}

/** Concatenates `files` (oldest first) into `finalPath` via a temp file; see the module comment. */
async function buildMp4(files: string[], finalPath: string, signal?: AbortSignal): Promise<void> {
  const args = ({ listPath, tmpPath }: ConcatIo) => [
    "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
    "-f", "concat", "-safe", "0", "-i", listPath,
    "-map", "0:v?", "-map", "0:a?", "-c", "copy",
    "-movflags", "+faststart",
    "-f", "mp4", tmpPath,
  ];
  const result = await concatToFile(finalPath, ["ffconcat version 1.0", ...files.map((f) => `file ${concatQuote(f)}`)], args, { signal });
  if (!result.ok) {
    if (result.aborted) abortIfNeeded(signal ?? AbortSignal.abort());
    throw new Error(`ffmpeg could not concatenate the trip (exit ${result.code})${result.stderr ? `: ${result.stderr}` : ""}`);
  }
}

/** Saves a trip out of the ring (see the module comment). */
export async function saveTripFiles(db: Database, dataDir: string, tripId: number, opts: SaveOptions = {}): Promise<SaveTripOutput> {
  const { signal } = opts;
  const maxRounds = opts.maxRounds ?? 5;
  const dirRel = savedDirRel(tripId);
  const dir = resolveInside(dataDir, dirRel);
  const mp4Rel = savedMp4Rel(tripId);
  const mp4 = resolveInside(dataDir, mp4Rel);
  for (let round = 1; ; round++) {
    abortIfNeeded(signal);
    const trip = tripById(db, tripId);
    if (!trip) throw new Error(`trip ${tripId} does not exist`);
    lockTripSegments(db, tripId);
    const segs = tripSegments(db, trip);
    if (segs.length === 0) {
      // saved right after recording started: the first segment is not closed yet. It is
      // evidence-locked as it is indexed; wait for it (the trip stays `saving`)
      if (trip.end_time_utc === null) {
        await Bun.sleep(EMPTY_TRIP_POLL_MS);
        round--;
        continue;
      }
      throw new Error(`trip ${tripId} has no footage left in the ring`);
    }

    mkdirSync(dir, { recursive: true });
    if (round === 1) removeTempFiles(dir);
    const files: string[] = [];
    let bytes = 0;
    let durationMs = 0;
    let missing = 0;
    for (const s of segs) {
      abortIfNeeded(signal);
      const src = resolveInside(dataDir, s.rel_path);
      if (!existsSync(src)) {
        missing++;
        continue;
      }
      const dest = join(dir, basename(s.rel_path));
      await copyInto(src, dest);
      files.push(dest);
      bytes += statSync(dest).size;
      durationMs += s.end_utc - s.start_utc;
    }
    if (files.length === 0) throw new Error(`trip ${tripId}: none of its ${segs.length} segment files exists`);
    fsyncPath(dir);
    abortIfNeeded(signal);
    await buildMp4(files, mp4, signal);

    const lastAbsolute = segs[segs.length - 1]!.absolute_index;
    const after = tripById(db, tripId);
    const open = !after || after.end_time_utc === null;
    const grew = !!after && after.last_absolute > lastAbsolute;
    // closed while we built, with segments added meanwhile: build again with all of them (a
    // closed trip never grows again, so this happens at most once; maxRounds is a safety net)
    if (!open && grew && round < maxRounds) continue;
    return { complete: !open && !grew, savedDir: dirRel, mp4Path: mp4Rel, segments: files.length, bytes, durationMs, lastAbsolute, missing };
  }
}

export interface SaveTripDeps {
  db: Database;
  dataDir: string;
}

/**
 * The `saveTrip` actor logic for the trip machine (`provideTrip`): a `fromPromise` over
 * `saveTripFiles`, aborted (ffmpeg killed) when the actor stops. It first yields once, so the
 * journal has committed the transition into `saving` (status + evidence locks) before it reads.
 */
export function createSaveTrip(deps: SaveTripDeps) {
  return fromPromise<SaveTripOutput, SaveTripInput>(async ({ input, signal }) => {
    await new Promise((r) => setTimeout(r, 0));
    return saveTripFiles(deps.db, deps.dataDir, input.tripId, { signal });
  });
}
