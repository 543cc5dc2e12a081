/**
 * Start-up reconciliation of disk and database (DESIGN.md invariant 4), run before recording
 * starts, and the read-only scan `dashcam check` shares with it.
 *
 * `reconcileAtStartup` repairs, in this order:
 * 1. transient read-locks (`segments.locked`) are cleared: no reader survived the restart;
 * 2. pending `garbage` rows are finished: unlink the file if present, fsync its directory,
 *    delete the row (Moonfire NVR's protocol, second half);
 * 3. for each camera's ring directory (`<data_dir>/recordings/<key>/`):
 *    - (full scan, skipped with `{ fullScan: false }` and then run later by `reconcileFullScan`)
 *      rows whose file is missing are deleted (an evidence-locked one is only reported), and a
 *      file without a row below the next index is a leftover and deleted;
 *    - a file without a row at or above the ring's next index (max(absolute_segments, newest
 *      row + 1)) is the segment that was being written at a power cut: it is SALVAGED when it
 *      holds media (measured with ffmpeg itself, src/media/probe.ts: at least 2 video frames),
 *      i.e. cut back to whole 188-byte MPEG-TS packets (a power cut leaves a partial last one),
 *      synced and indexed via `commitSegment` with its real duration: end = file mtime (the
 *      last write), start = end - duration (moved later, keeping the duration, if that would
 *      overlap the previous segment), in the camera's newest open trip (its boot) or else the
 *      current boot, evidence-locked when that trip is being saved; otherwise deleted;
 *    - `camera_state` counters are made consistent: absolute_segments > every row's index,
 *      segment_index = absolute_segments % ring_capacity,
 *      segment_generation = floor(absolute_segments / ring_capacity).
 * Every repair is one human line in `repairs` and one `reconcile` event_log row. Open trips of
 * older boots are NOT closed here (the supervisor does it through the trip machines).
 *
 * `scanRing` gathers the same findings without changing anything.
 */
import type { Database } from "bun:sqlite";
import { existsSync, readdirSync, statSync, truncateSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import type { CameraConfig } from "../config.ts";
import { logEvent } from "../db/eventLog.ts";
import {
  commitSegment,
  deleteRowOfMissingFile,
  latestSegment,
  maxAbsoluteIndex,
  ringRows,
  segmentExists,
  segmentIdAt,
  type RingRow,
} from "../db/segments.ts";
import { ringCounters, setRingCounters, type RingCounters } from "../db/cameraState.ts";
import { deleteGarbageRow, pendingGarbage, type GarbageRow } from "../db/garbage.ts";
import { clearReadLocks, readLockedCount } from "../db/locks.ts";
import { newestOpenTripBoot } from "../db/trips.ts";
import { fsyncDirIfPresent } from "../fsx.ts";
import { lockIfTripSaved } from "../db/savedTrips.ts";
import { absoluteIndexOf, resolveInside, ringDirRel, segmentRelPath } from "../paths.ts";
import { holdsFootage, probeMedia } from "../media/probe.ts";
import { resolveFfmpeg } from "../media/ffmpeg.ts";
import { log } from "../log.ts";

export interface ReconcileReport {
  /** One human line per repair (also in event_log, kind "reconcile"). */
  repairs: string[];
  /** Power-cut segments indexed. */
  salvaged: number;
  /** Files deleted (orphans, unsalvageable files, finished garbage). */
  deletedFiles: number;
  /** Segment rows deleted (their file was missing). */
  deletedRows: number;
  /** Segments whose read-lock was cleared. */
  clearedReadLocks: number;
  /** Garbage rows finished. */
  garbageFinished: number;
}

export type { RingCounters };

export interface CameraFindings {
  cameraKey: string;
  cameraId: number;
  /** Ring directory relative to data_dir. */
  ringDir: string;
  /** camera_state row, or null when missing. */
  counters: RingCounters | null;
  /** Highest absolute_index among the rows, or null without rows. */
  maxRowIndex: number | null;
  rowCount: number;
  /** Rows whose file does not exist. */
  rowsWithoutFiles: { id: number; absoluteIndex: number; relPath: string; evidenceLocked: boolean }[];
  /**
   * Segment files without a row. `nextIndex` = the index a new segment would get
   * (max(absolute_segments, newest row + 1)); `inProgress` = index == absolute_segments (the
   * file a running recorder is writing: fine for `check`); `aboveNext` = index >= nextIndex
   * (what reconcile salvages).
   */
  filesWithoutRows: { absoluteIndex: number; relPath: string; bytes: number; inProgress: boolean; aboveNext: boolean }[];
  /** Rows whose recorded size differs from the file. */
  sizeMismatches: { id: number; absoluteIndex: number; relPath: string; rowBytes: number | null; fileBytes: number }[];
  /** Human descriptions of inconsistent ring counters (empty when fine). */
  counterProblems: string[];
  /** The index a new segment would get. */
  nextIndex: number;
}

export interface ScanResult {
  cameras: CameraFindings[];
  garbage: GarbageRow[];
  /** Segments holding a transient read-lock. */
  readLocked: number;
}

/**
 * Lists `<absolute index> -> {name, bytes}` of a ring directory (empty when missing).
 * Without `withSizes` only names are read (one readdir, no stat per file; bytes = -1): the
 * start-up path on a 100k-segment ring, where a stat per file costs ~0.4 s.
 */
function listRing(dir: string, withSizes: boolean): Map<number, { name: string; bytes: number }> {
  const files = new Map<number, { name: string; bytes: number }>();
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return files;
  }
  for (const entry of entries) {
    const abs = absoluteIndexOf(entry.name);
    if (abs === null || !entry.isFile()) continue;
    if (!withSizes) {
      files.set(abs, { name: entry.name, bytes: -1 });
      continue;
    }
    try {
      files.set(abs, { name: entry.name, bytes: statSync(join(dir, entry.name)).size });
    } catch {
      // vanished meanwhile
    }
  }
  return files;
}

function fileSize(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

function countersProblems(c: RingCounters, maxRow: number | null): string[] {
  const p: string[] = [];
  if (maxRow !== null && c.absolute_segments <= maxRow)
    p.push(`absolute_segments ${c.absolute_segments} is not above the newest segment row ${maxRow}`);
  if (c.segment_index !== c.absolute_segments % c.ring_capacity)
    p.push(`segment_index ${c.segment_index} != absolute_segments % ring_capacity = ${c.absolute_segments % c.ring_capacity}`);
  const gen = Math.floor(c.absolute_segments / c.ring_capacity);
  if (c.segment_generation !== gen) p.push(`segment_generation ${c.segment_generation} != floor(absolute_segments / ring_capacity) = ${gen}`);
  return p;
}

/**
 * Compares one camera's ring directory with its rows. The directory is listed BEFORE the rows
 * are read (in one read transaction), and every mismatch is re-checked on disk afterwards, so
 * a recorder and retention running meanwhile produce no false findings.
 */
function scanCamera(db: Database, dataDir: string, key: string, cameraId: number, withSizes = true): CameraFindings {
  const ringDir = ringDirRel(key);
  const ringAbs = join(dataDir, ringDir);
  const files = listRing(ringAbs, withSizes);
  const { rows, counters } = db.transaction(() => ({ rows: ringRows(db, cameraId), counters: ringCounters(db, cameraId) }))();
  const maxRowIndex = rows.length ? rows[rows.length - 1].absolute_index : null;
  const nextIndex = Math.max(counters?.absolute_segments ?? 0, (maxRowIndex ?? -1) + 1);
  const byIndex = new Map<number, RingRow>();
  for (const r of rows) byIndex.set(r.absolute_index, r);

  const rowsWithoutFiles: CameraFindings["rowsWithoutFiles"] = [];
  const sizeMismatches: CameraFindings["sizeMismatches"] = [];
  for (const r of rows) {
    const listed = r.rel_path === segmentRelPath(key, r.absolute_index) ? files.get(r.absolute_index) : undefined;
    if (listed && listed.bytes < 0) continue; // names-only scan: the file exists, size not compared
    const path = resolveInside(dataDir, r.rel_path);
    const size = listed ? listed.bytes : fileSize(path);
    if (size === null) {
      // re-check: a file created after the listing is fine; one deleted meanwhile has no row any more
      if (!existsSync(path)) {
        if (segmentExists(db, r.id)) rowsWithoutFiles.push({ id: r.id, absoluteIndex: r.absolute_index, relPath: r.rel_path, evidenceLocked: r.evidence_locked === 1 });
      }
    } else if (r.bytes !== null && r.bytes !== size) {
      sizeMismatches.push({ id: r.id, absoluteIndex: r.absolute_index, relPath: r.rel_path, rowBytes: r.bytes, fileBytes: size });
    }
  }

  const filesWithoutRows: CameraFindings["filesWithoutRows"] = [];
  for (const [abs, f] of [...files.entries()].sort((a, b) => a[0] - b[0])) {
    if (byIndex.has(abs)) continue;
    const relPath = join(ringDir, f.name);
    // re-check: retention may have deleted it (row first, then file), or it was indexed meanwhile
    if (!existsSync(join(ringAbs, f.name))) continue;
    if (segmentIdAt(db, cameraId, abs) !== null) continue;
    filesWithoutRows.push({
      absoluteIndex: abs,
      relPath,
      bytes: f.bytes >= 0 ? f.bytes : (fileSize(join(ringAbs, f.name)) ?? 0),
      inProgress: counters !== null && abs === counters.absolute_segments,
      aboveNext: abs >= nextIndex,
    });
  }

  const counterProblems = counters ? countersProblems(counters, maxRowIndex) : ["camera_state row is missing"];
  return {
    cameraKey: key,
    cameraId,
    ringDir,
    counters,
    maxRowIndex,
    rowCount: rows.length,
    rowsWithoutFiles,
    filesWithoutRows,
    sizeMismatches,
    counterProblems,
    nextIndex,
  };
}

/**
 * Read-only: compares every listed camera's ring with the database and returns the findings
 * (nothing is changed; safe on a read-only connection and while recording runs).
 * Cameras missing from `cameraIds` are skipped.
 */
export function scanRing(
  db: Database,
  dataDir: string,
  cameras: Pick<CameraConfig, "key">[],
  cameraIds: Map<string, number>,
): ScanResult {
  const out: CameraFindings[] = [];
  for (const c of cameras) {
    const id = cameraIds.get(c.key);
    if (id === undefined) continue;
    out.push(scanCamera(db, dataDir, c.key, id));
  }
  return { cameras: out, garbage: pendingGarbage(db), readLocked: readLockedCount(db) };
}

/** Size of one MPEG-TS packet, bytes (ISO/IEC 13818-1). */
const TS_PACKET_BYTES = 188;

/** Waits until `path` has not been modified for `quietMs` (max `maxMs`): a dying ffmpeg may still be finalising it. */
async function waitQuiet(path: string, quietMs = 1500, maxMs = 6000): Promise<void> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    let mtime: number;
    try {
      mtime = statSync(path).mtimeMs;
    } catch {
      return;
    }
    const age = Date.now() - mtime;
    if (age >= quietMs || Date.now() >= deadline) return;
    await Bun.sleep(Math.min(quietMs - age + 50, deadline - Date.now()));
  }
}

/**
 * Repairs disk and database before recording starts (see the module comment). `cameraIds` maps
 * camera keys to cameras.id (from `syncCameras`). `bootId` is the current boot, used for a
 * salvaged segment when the camera has no open trip. Throws only on database errors.
 */
export async function reconcileAtStartup(
  db: Database,
  dataDir: string,
  cameras: CameraConfig[],
  cameraIds: Map<string, number>,
  bootId: string,
  options: { fullScan?: boolean } = {},
): Promise<ReconcileReport> {
  const report = emptyReport();
  const repair = reporter(db, report, "reconcile");

  // 1. transient read-locks
  const cleared = clearReadLocks(db);
  if (cleared > 0) {
    report.clearedReadLocks = cleared;
    repair(`cleared the read-lock of ${cleared} segment${cleared === 1 ? "" : "s"}`, null, { segments: cleared });
  }

  // 2. pending garbage
  const garbage = pendingGarbage(db);
  if (garbage.length) {
    const dirs = new Set<string>();
    for (const g of garbage) {
      let path: string;
      try {
        path = resolveInside(dataDir, g.rel_path);
      } catch {
        repair(`dropped garbage row ${g.id} whose path escapes the data directory`, g.camera_id, { garbage_id: g.id }, "warn");
        deleteGarbageRow(db, g.id);
        report.garbageFinished++;
        continue;
      }
      let unlinked = false;
      try {
        unlinkSync(path);
        unlinked = true;
        report.deletedFiles++;
      } catch {
        // already gone
      }
      dirs.add(dirname(path));
      g.rel_path = unlinked ? `${g.rel_path} (file deleted)` : `${g.rel_path} (file already gone)`;
    }
    for (const d of dirs) fsyncDirIfPresent(d);
    db.transaction(() => {
      for (const g of garbage) {
        if (!deleteGarbageRow(db, g.id)) continue;
        report.garbageFinished++;
        repair(`finished pending deletion of ${g.rel_path}`, g.camera_id, { garbage_id: g.id });
      }
    })();
  }

  // 3. each camera's ring: the crash-relevant part (files at the tail, counters) always;
  //    the whole-directory comparison only when asked (it reads 100k names: ~0.6 s)
  for (const camera of cameras) {
    const cameraId = cameraIds.get(camera.key);
    if (cameraId === undefined) continue;
    if (options.fullScan !== false) await repairRing(db, dataDir, camera.key, cameraId, report, repair);
    await settleTail(db, dataDir, camera.key, cameraId, bootId, report, repair);
    fixCounters(db, camera.key, cameraId, repair);
  }
  return report;
}

function deleteFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

type RepairFn = (message: string, cameraId: number | null, data?: unknown, level?: "info" | "warn") => void;

function emptyReport(): ReconcileReport {
  return { repairs: [], salvaged: 0, deletedFiles: 0, deletedRows: 0, clearedReadLocks: 0, garbageFinished: 0 };
}

/** A RepairFn that records each repair in `report.repairs`, as a `reconcile` event_log row and as a log line `<prefix>: ...`. */
function reporter(db: Database, report: { repairs: string[] }, prefix: string): RepairFn {
  return (message, cameraId, data, level = "info") => {
    report.repairs.push(message);
    logEvent(db, { kind: "reconcile", level, cameraId, message, data });
    log.info(`${prefix}: ${message}`);
  };
}

/**
 * The segment files without rows at the ring's tail: names from the next index
 * (max(absolute_segments, newest row + 1)) upward, probed one by one until three in a row are
 * missing. That is where a power cut or a killed ffmpeg leaves files (files are named by
 * absolute index and written in order), found without listing a 100k-file directory.
 */
function tailFilesWithoutRows(db: Database, dataDir: string, key: string, cameraId: number): CameraFindings["filesWithoutRows"] {
  const c = ringCounters(db, cameraId);
  const max = maxAbsoluteIndex(db, cameraId);
  const next = Math.max(c?.absolute_segments ?? 0, (max ?? -1) + 1);
  const out: CameraFindings["filesWithoutRows"] = [];
  for (let n = next, misses = 0; misses < 3; n++) {
    const relPath = segmentRelPath(key, n);
    const bytes = fileSize(join(dataDir, relPath));
    if (bytes === null) {
      misses++;
      continue;
    }
    misses = 0;
    out.push({ absoluteIndex: n, relPath, bytes, inProgress: n === c?.absolute_segments, aboveNext: true });
  }
  return out;
}

/** Salvages or deletes the tail files of one camera (see settleFileWithoutRow). */
async function settleTail(
  db: Database,
  dataDir: string,
  key: string,
  cameraId: number,
  bootId: string,
  report: { salvaged: number; deletedFiles: number },
  repair: RepairFn,
): Promise<void> {
  const tail = tailFilesWithoutRows(db, dataDir, key, cameraId);
  for (const file of tail) {
    if ((await settleFileWithoutRow(db, dataDir, key, cameraId, file, bootId, repair)) === "salvaged") report.salvaged++;
    else report.deletedFiles++;
  }
  if (tail.length) fsyncDirIfPresent(join(dataDir, ringDirRel(key)));
}

/**
 * Whole-ring comparison of one camera: rows whose file is missing are deleted (evidence only
 * reported), files without rows BELOW the next index are deleted. Files at or above it are left
 * to settleTail (a running recorder may be writing them), so this is safe while recording.
 */
async function repairRing(db: Database, dataDir: string, key: string, cameraId: number, report: ReconcileReport, repair: RepairFn): Promise<void> {
  const f = scanCamera(db, dataDir, key, cameraId, false);
  const gone = f.rowsWithoutFiles.filter((r) => !r.evidenceLocked);
  for (const r of f.rowsWithoutFiles.filter((r) => r.evidenceLocked)) {
    repair(`camera ${key}: evidence-locked segment ${r.absoluteIndex} has no file (${r.relPath}); row kept`, cameraId, { segment_id: r.id }, "warn");
  }
  if (gone.length) {
    db.transaction(() => {
      for (const r of gone) {
        if (!deleteRowOfMissingFile(db, r.id)) continue;
        report.deletedRows++;
        repair(`camera ${key}: removed the row of segment ${r.absoluteIndex}, whose file ${r.relPath} is missing`, cameraId, {
          absolute_index: r.absoluteIndex,
        }, "warn");
      }
    })();
  }
  const below = f.filesWithoutRows.filter((x) => !x.aboveNext);
  for (const file of below) {
    await settleFileWithoutRow(db, dataDir, key, cameraId, file, "", repair);
    report.deletedFiles++;
  }
  if (below.length) fsyncDirIfPresent(join(dataDir, f.ringDir));
}

/** Makes camera_state consistent with the rows (absolute_segments above every row, slot, generation). */
function fixCounters(db: Database, key: string, cameraId: number, repair: RepairFn): void {
  const c = ringCounters(db, cameraId);
  if (!c) return;
  const max = maxAbsoluteIndex(db, cameraId);
  const problems = countersProblems(c, max);
  if (!problems.length) return;
  const abs = Math.max(c.absolute_segments, (max ?? -1) + 1);
  setRingCounters(db, cameraId, abs);
  repair(`camera ${key}: fixed ring counters (${problems.join("; ")}) to absolute_segments ${abs}`, cameraId, {
    before: c,
    absolute_segments: abs,
  }, "warn");
}

/**
 * The whole-directory part of start-up reconciliation, for running AFTER recording has started
 * (the runtime defers it so a 100k-segment ring does not delay start-up): rows without files
 * and leftover files below each ring's next index. Safe while recording: tail files are not
 * touched and retention runs in the same thread.
 */
export async function reconcileFullScan(
  db: Database,
  dataDir: string,
  cameras: Pick<CameraConfig, "key">[],
  cameraIds: Map<string, number>,
): Promise<ReconcileReport> {
  const report = emptyReport();
  const repair = reporter(db, report, "reconcile");
  for (const camera of cameras) {
    const cameraId = cameraIds.get(camera.key);
    if (cameraId !== undefined) await repairRing(db, dataDir, camera.key, cameraId, report, repair);
  }
  return report;
}

/**
 * One segment file without a row: at or above the ring's next index it is an interrupted
 * segment, salvaged when it holds media (>= 2 video frames, measured by ffmpeg) else deleted;
 * below it, a leftover, deleted. Reports through `repair`.
 */
async function settleFileWithoutRow(
  db: Database,
  dataDir: string,
  key: string,
  cameraId: number,
  file: CameraFindings["filesWithoutRows"][number],
  bootId: string,
  repair: RepairFn,
): Promise<"salvaged" | "deleted"> {
  const path = join(dataDir, file.relPath);
  if (!file.aboveNext) {
    deleteFile(path);
    repair(`camera ${key}: deleted ${file.relPath}, a file without a segment row below the ring's next index`, cameraId, {
      absolute_index: file.absoluteIndex,
      bytes: file.bytes,
    }, "warn");
    return "deleted";
  }
  await waitQuiet(path);
  let probe = null;
  try {
    probe = await probeMedia(path, resolveFfmpeg());
  } catch (err) {
    log.warn(`reconcile: cannot run ffmpeg to measure ${file.relPath}: ${(err as Error).message}`);
  }
  if (probe && holdsFootage(probe)) {
    let st = statSync(path);
    if (st.size % TS_PACKET_BYTES !== 0) {
      // drop the partial last packet; keep the mtime of the last write (truncating changes it)
      truncateSync(path, st.size - (st.size % TS_PACKET_BYTES));
      st = { ...st, size: statSync(path).size } as typeof st;
    }
    const durationMs = Math.round(probe.durationSec * 1000);
    let endUtc = Math.round(st.mtimeMs);
    let startUtc = endUtc - durationMs;
    const previous = latestSegment(db, cameraId);
    if (previous && previous.absolute_index < file.absoluteIndex && startUtc < previous.end_utc) {
      startUtc = previous.end_utc;
      endUtc = startUtc + durationMs;
    }
    const r = commitSegment(
      db,
      dataDir,
      {
        cameraId,
        absoluteIndex: file.absoluteIndex,
        relPath: file.relPath,
        startUtc,
        endUtc,
        bytes: st.size,
        codec: probe.codec,
        width: probe.width,
        height: probe.height,
        fps: probe.fps,
      },
      newestOpenTripBoot(db, cameraId) ?? bootId,
    );
    // a trip being saved keeps every segment, also the one a power cut interrupted
    if (!r.duplicate && r.tripId) lockIfTripSaved(db, r.tripId, r.segmentId);
    repair(
      `camera ${key}: salvaged segment ${file.absoluteIndex} interrupted while recording (${probe.durationSec.toFixed(1)} s, ${st.size} bytes) into trip ${r.tripId}`,
      cameraId,
      { absolute_index: file.absoluteIndex, duration_s: probe.durationSec, bytes: st.size, trip_id: r.tripId },
    );
    return "salvaged";
  }
  deleteFile(path);
  repair(`camera ${key}: deleted ${file.relPath}, an interrupted segment without playable media (${file.bytes} bytes)`, cameraId, {
    absolute_index: file.absoluteIndex,
    bytes: file.bytes,
  }, "warn");
  return "deleted";
}

export interface SalvageResult {
  salvaged: number;
  deletedFiles: number;
  repairs: string[];
}

/**
 * Settles one camera's interrupted segments between two recorder runs of the same process:
 * every file without a row at or above the ring's next index (left by an ffmpeg that was killed
 * or crashed before it reported the segment) is salvaged into the index or deleted, exactly as
 * at start-up. Call it only while the camera's recorder is NOT running (e.g. on PROCESS_EXIT,
 * before starting the next run with `startNumber` = camera_state.absolute_segments), so a new
 * run never has to skip a number. Files below the next index are left for start-up.
 */
export async function salvageInterrupted(
  db: Database,
  dataDir: string,
  camera: Pick<CameraConfig, "key">,
  cameraId: number,
  bootId: string,
): Promise<SalvageResult> {
  const result: SalvageResult = { salvaged: 0, deletedFiles: 0, repairs: [] };
  await settleTail(db, dataDir, camera.key, cameraId, bootId, result, reporter(db, result, "salvage"));
  return result;
}
