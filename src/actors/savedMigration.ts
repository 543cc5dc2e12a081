/**
 * Start-up migration of trips saved before schema upgrade 3 (layout `copies`: every segment
 * evidence-locked in the ring, copied to `saved/trip-<id>/`, and an MP4 of the copies) to the
 * layout where a saved trip is stored once (its evidence-locked ring segments; the MP4 is made
 * when it is downloaded).
 *
 * For each legacy saved trip, for each copy `saved/trip-<id>/<absolute index>.ts`:
 * - the ring row of that segment exists and its file has the copy's size: the row is
 *   evidence-locked for the trip (committed first), then the copy is deleted;
 * - the row exists but its file is missing: the row is pointed at the copy (rel_path, bytes,
 *   evidence lock), so the copy becomes the segment's one file;
 * - the row exists with a file of another size, or there is no row (the trip was unlocked and the
 *   ring reclaimed it): the copy is kept and listed in `saved_trip_files` (its duration measured
 *   with ffmpeg), part of the saved trip from now on.
 * Then the legacy MP4 (made from the copies) is deleted when every segment of the trip is kept, or
 * else when what the trip keeps lasts at least as long as the MP4 (within 1 s, measured with
 * ffmpeg); otherwise it is kept and the row points at it (`mp4_path`). Last, the row's layout
 * becomes `ring` and the emptied directory is removed.
 *
 * Nothing is lost at a crash: every database change is committed before the file it makes
 * redundant is deleted, and each step is safe to repeat (a copy already deleted is simply not
 * listed; a pointed row already names the copy). The trip stays `copies` until its last step, so
 * the next start finishes it. Runs before reconciliation (so a pointed row is not a "row without
 * a file") and before any actor reads saved trips. One `saved.migrated` event row per trip.
 */
import type { Database } from "bun:sqlite";
import { existsSync, readdirSync, rmdirSync, statSync, unlinkSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { logEvent } from "../db/eventLog.ts";
import { keepSavedTripFile, keptFootage, legacySavedTrips, lockSegmentForTrip, markSavedTripMigrated, pointSegmentAt, segmentRowAt } from "../db/savedTrips.ts";
import { tripById } from "../db/views.ts";
import { fsyncDirIfPresent, removeTempFiles } from "../fsx.ts";
import { probeMedia } from "../media/probe.ts";
import { resolveInside } from "../paths.ts";
import { savedDirRel } from "./saveTrip.ts";
import { log } from "../log.ts";

/** What the migration did to one trip. */
export interface TripMigration {
  tripId: number;
  /** Copies deleted because the ring holds the same file. */
  deletedCopies: number;
  /** Rows pointed at their copy (the ring file was gone). */
  pointedRows: number;
  /** Copies kept in saved_trip_files. */
  keptCopies: number;
  /** The legacy MP4: deleted, kept (it holds more than the segments), or absent. */
  mp4: "deleted" | "kept" | "absent";
  /** Bytes freed. */
  freedBytes: number;
}

const fileSize = (path: string): number | null => {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
};

/** Migrates one legacy saved trip (see the module comment). */
export async function migrateSavedTrip(db: Database, dataDir: string, tripId: number, legacyMp4: string | null): Promise<TripMigration> {
  const out: TripMigration = { tripId, deletedCopies: 0, pointedRows: 0, keptCopies: 0, mp4: "absent", freedBytes: 0 };
  const trip = tripById(db, tripId);
  if (!trip) throw new Error(`saved trip ${tripId} has no trips row`);
  const dirRel = savedDirRel(tripId);
  const dir = resolveInside(dataDir, dirRel);
  if (existsSync(dir)) removeTempFiles(dir);
  const copies = existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => /^\d+\.ts$/.test(n))
        .sort()
    : [];
  for (const name of copies) {
    const abs = Number(name.slice(0, -3));
    const copyRel = join(dirRel, name);
    const copyPath = join(dir, name);
    const copyBytes = fileSize(copyPath);
    if (copyBytes === null) continue;
    const row = segmentRowAt(db, trip.camera_id, abs);
    if (row && row.rel_path === copyRel) continue; // pointed at by an earlier, interrupted run
    const ringBytes = row ? fileSize(resolveInside(dataDir, row.rel_path)) : null;
    if (row && ringBytes === copyBytes) {
      lockSegmentForTrip(db, row.id, tripId); // committed before the copy goes
      unlinkSync(copyPath);
      out.deletedCopies++;
      out.freedBytes += copyBytes;
    } else if (row && ringBytes === null) {
      pointSegmentAt(db, row.id, tripId, copyRel, copyBytes);
      out.pointedRows++;
    } else {
      const probed = await probeMedia(copyPath);
      keepSavedTripFile(db, { trip_id: tripId, absolute_index: abs, rel_path: copyRel, bytes: copyBytes, duration_ms: Math.round((probed?.durationSec ?? 0) * 1000) });
      out.keptCopies++;
    }
  }
  fsyncDirIfPresent(dir);

  let keptMp4: string | null = null;
  const mp4Rel = legacyMp4 ?? join(dirRel, `trip-${tripId}.mp4`);
  const mp4Path = isAbsolute(mp4Rel) ? mp4Rel : resolveInside(dataDir, mp4Rel);
  const mp4Bytes = fileSize(mp4Path);
  if (mp4Bytes !== null) {
    // the MP4 was made from copies of this trip's segments: when every segment of the trip is
    // kept it holds nothing more (no need to read it); otherwise compare durations
    const kept = keptFootage(db, trip);
    let covered = mp4Bytes === 0 || kept.kept >= kept.expected;
    if (!covered) {
      const probed = await probeMedia(mp4Path);
      covered = probed !== null && Math.round(probed.durationSec * 1000) <= kept.keptMs + 1000;
    }
    if (covered) {
      unlinkSync(mp4Path);
      fsyncDirIfPresent(dir);
      out.mp4 = "deleted";
      out.freedBytes += mp4Bytes;
    } else {
      keptMp4 = mp4Rel;
      out.mp4 = "kept";
    }
  }
  db.transaction(() => {
    markSavedTripMigrated(db, tripId, keptMp4);
    logEvent(db, {
      kind: "saved.migrated",
      cameraId: trip.camera_id,
      message:
        `saved trip ${tripId} is now stored once: ${out.deletedCopies} cop${out.deletedCopies === 1 ? "y" : "ies"} of ring segments deleted` +
        `${out.pointedRows ? `, ${out.pointedRows} kept as the segment's file` : ""}${out.keptCopies ? `, ${out.keptCopies} kept (no longer in the ring)` : ""}` +
        `, MP4 ${out.mp4}, ${out.freedBytes} bytes freed`,
      data: { ...out },
    });
  })();
  try {
    if (existsSync(dir) && readdirSync(dir).length === 0) {
      rmdirSync(dir);
      fsyncDirIfPresent(join(dir, ".."));
    }
  } catch {
    /* not empty after all: kept copies stay */
  }
  return out;
}

/**
 * Migrates every legacy saved trip (layout `copies`); returns what was done per trip. Call at
 * start-up, before reconciliation. A trip that cannot be migrated (e.g. an unreadable file) is
 * logged (`saved.migrate_failed`) and left as it is, with every file, for the next start; it
 * never stops the start-up.
 */
export async function migrateSavedTrips(db: Database, dataDir: string): Promise<TripMigration[]> {
  const done: TripMigration[] = [];
  for (const row of legacySavedTrips(db)) {
    try {
      done.push(await migrateSavedTrip(db, dataDir, row.trip_id, row.mp4_path));
    } catch (err) {
      const message = `saved trip ${row.trip_id} could not be moved to the stored-once layout (kept as it is, tried again at the next start): ${(err as Error).message}`;
      log.error(message);
      logEvent(db, { kind: "saved.migrate_failed", level: "error", message, data: { tripId: row.trip_id } });
    }
  }
  return done;
}
