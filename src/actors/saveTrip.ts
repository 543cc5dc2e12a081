/**
 * Saving a trip (the GPIO save button, `trips save`, the UI's Save): the invoked `saveTrip` actor
 * of the trip machine's `saving` state.
 *
 * A saved trip is stored ONCE: its segments stay where they are, in the ring, evidence-locked
 * (retention never deletes them, and the ring's capacity counts only unlocked segments, see
 * src/db/segments.ts `ringUsage`). Nothing is copied and no MP4 is written: the download
 * `GET /trips/<id>/saved.mp4` remuxes the segments on the fly (src/media/tripMp4.ts). So saving
 * needs no free space and cannot fail for a full disk.
 *
 * `saveTripInRing(db, dataDir, tripId)`:
 * 1. evidence-locks every segment of the trip still in the ring (`lockTripSegments`, tag
 *    `trip-<id>`; the trip machine already did it in the transaction that entered `saving`, this
 *    repeats it for a resumed save);
 * 2. checks that each locked segment's file exists and counts what is kept (segments, bytes,
 *    recorded ms) and what is missing (rows whose file is gone);
 * 3. looks at the trip again: closed with no segment added meanwhile = `complete: true`; still
 *    open = `complete: false` (the trip machine checks again when it closes); closed with more
 *    segments = count again.
 * Safe to repeat at any point (an invoked actor restarts from scratch after a restore). The
 * `saved_trips` row is NOT written here: the trip machine writes it in the same transaction as
 * its transition to `saved`.
 *
 * A trip saved right after recording started has no closed segment yet: the save waits for it
 * (polling every 250 ms while the trip is open). Throws when the trip is unknown, is closed with
 * no footage left in the ring, or `signal` aborts.
 */
import type { Database } from "bun:sqlite";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fromPromise } from "xstate";
import type { SaveTripInput } from "../machines/trip.ts";
import { tripById, tripSegments } from "../db/views.ts";
import { lockTripSegments } from "../db/savedTrips.ts";
import { removeTempFiles } from "../fsx.ts";
import { resolveInside, ringDirRel } from "../paths.ts";

/** Directory of trips saved before schema upgrade 3 (copies), relative to data_dir. */
export const SAVED_DIR = "saved";
/** A legacy saved trip's directory of copies, relative to data_dir: `saved/trip-<id>`. */
export const savedDirRel = (tripId: number) => join(SAVED_DIR, `trip-${tripId}`);

/** Output of a finished save (the trip machine keeps it in context and writes `saved_trips`). */
export interface SaveTripOutput {
  /** The kept footage covers the whole, closed trip. False: the trip is still open. */
  complete: boolean;
  /** Where the footage is, relative to data_dir: the camera's ring directory. */
  savedDir: string;
  /** Always null: the MP4 is made when it is downloaded. */
  mp4Path: null;
  /** Segments kept and their bytes. */
  segments: number;
  bytes: number;
  /** Recorded time kept (sum of the segments' durations, ms). */
  durationMs: number;
  /** Absolute index of the newest segment kept. */
  lastAbsolute: number;
  /** Segments of the trip's range whose row or file is gone (overwritten before the save). */
  missing: number;
}

export interface SaveOptions {
  signal?: AbortSignal;
  /** A closed trip that keeps growing (it cannot) is not counted more than this many times. */
  maxRounds?: number;
}

/** Poll interval while a saved trip waits for its first segment, ms. */
const EMPTY_TRIP_POLL_MS = 250;

function abortIfNeeded(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Error("saving was interrupted (the actor stopped); it resumes at the next start");
}

/**
 * Deletes the `.tmp-*` files interrupted writes left under `<data_dir>/saved/*` (all of them, or
 * only those older than `olderThanMs`, for a periodic sweep). Returns how many.
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

/** Saves a trip in place in the ring (see the module comment). */
export async function saveTripInRing(db: Database, dataDir: string, tripId: number, opts: SaveOptions = {}): Promise<SaveTripOutput> {
  const { signal } = opts;
  const maxRounds = opts.maxRounds ?? 5;
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
    let kept = 0;
    let bytes = 0;
    let durationMs = 0;
    for (const s of segs) {
      if (!existsSync(resolveInside(dataDir, s.rel_path))) continue;
      kept++;
      bytes += s.bytes ?? 0;
      durationMs += s.end_utc - s.start_utc;
    }
    if (kept === 0) throw new Error(`trip ${tripId}: none of its ${segs.length} segment files exists`);
    const lastAbsolute = segs[segs.length - 1]!.absolute_index;
    const after = tripById(db, tripId);
    const open = !after || after.end_time_utc === null;
    const grew = !!after && after.last_absolute > lastAbsolute;
    if (!open && grew && round < maxRounds) continue;
    return {
      complete: !open && !grew,
      savedDir: ringDirRel(trip.camera_key),
      mp4Path: null,
      segments: kept,
      bytes,
      durationMs,
      lastAbsolute,
      missing: trip.last_absolute - trip.start_absolute + 1 - kept,
    };
  }
}

export interface SaveTripDeps {
  db: Database;
  dataDir: string;
}

/**
 * The `saveTrip` actor logic for the trip machine (`provideTrip`): a `fromPromise` over
 * `saveTripInRing`. It first yields once, so the journal has committed the transition into
 * `saving` (status + evidence locks) before it reads.
 */
export function createSaveTrip(deps: SaveTripDeps) {
  return fromPromise<SaveTripOutput, SaveTripInput>(async ({ input, signal }) => {
    await new Promise((r) => setTimeout(r, 0));
    return saveTripInRing(deps.db, deps.dataDir, input.tripId, { signal });
  });
}
