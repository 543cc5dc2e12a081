/**
 * `dashcam check [--config FILE]`: READ-ONLY consistency check of the database and the rings
 * (DESIGN.md invariant 4: "`dashcam check` reports the same without changing anything").
 *
 * Opens the database with `openDatabase(path, { readonly: true })` and reports:
 * `PRAGMA integrity_check`, `PRAGMA foreign_key_check`, segment rows without files, segment
 * files without rows (the file at index == absolute_segments is the segment a running recorder
 * is writing: fine), timelapse images and videos against their rows (src/media/timelapseCleanup.ts
 * `scanTimelapseFiles`), health snapshot pictures against their `snapshots` rows (src/actors/health.ts
 * `scanHealthPictures`), ring counters (absolute_segments above every row's index,
 * segment_index == absolute_segments % ring_capacity,
 * segment_generation == floor(absolute_segments / ring_capacity)), rows whose size differs
 * from the file, pending garbage rows, open trips of a boot other than the current one, and saved
 * trips whose kept footage does not cover the trip (segments gone before the save, kept copies
 * whose file is missing, or recording cut short because the disk was full).
 *
 * Prints one line per finding on stdout and a summary line. Exit 0 when clean, 1 when any
 * problem was found, 2 on bad input (unknown option, bad config, missing database).
 * Safe to run while `dashcam run` records (see `scanRing` for how races are avoided).
 */
import { existsSync } from "node:fs";
import { parseCommandArgs, UsageError } from "./cli.ts";
import { loadConfig } from "./config.ts";
import { foreignKeyViolations, integrityProblems, openDatabase } from "./db/open.ts";
import { listCameras } from "./db/cameras.ts";
import { pendingGarbage } from "./db/garbage.ts";
import { openTripsOfOtherBootsWithKeys } from "./db/trips.ts";
import { dbPath } from "./paths.ts";
import { scanRing } from "./actors/reconcile.ts";
import { currentBootId } from "./bootId.ts";
import { scanTimelapseFiles } from "./media/timelapseCleanup.ts";
import { scanHealthPictures } from "./actors/health.ts";
import { listTrips } from "./db/views.ts";
import { keptFootage, savedTripFiles, savedTripOf } from "./db/savedTrips.ts";
import { resolveInside } from "./paths.ts";

/** A health picture without a row younger than this (ms) may be one a running check is committing. */
const HEALTH_PICTURE_SETTLE_MS = 60_000;

/** Re-reads pending garbage rows after this delay (ms): a running sweep finishes its rows within it. */
const GARBAGE_SETTLE_MS = 500;

/** `dashcam check [--config FILE]` (see the module comment): resolves with the exit code, 0 clean or 1 problems; UsageError for bad input (exit 2). */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { config: { type: "string" }, help: { type: "boolean", short: "h" } });
  if (values.help) {
    process.stdout.write("usage: dashcam check [--config FILE]\nread-only consistency check; exit 0 clean, 1 problems found\n");
    return 0;
  }
  const config = loadConfig(values.config);
  const file = dbPath(config.data_dir);
  if (!existsSync(file)) throw new UsageError(`no database at ${file} (has dashcam run been started with this config?)`);
  let db;
  try {
    db = openDatabase(file, { readonly: true });
  } catch (err) {
    throw new UsageError(`cannot open ${file}: ${String((err as Error).message).split("\n")[0]}`);
  }
  const problems: string[] = [];
  const notes: string[] = [];
  try {
    for (const m of integrityProblems(db)) problems.push(`integrity_check: ${m}`);

    for (const r of foreignKeyViolations(db)) problems.push(`foreign_key_check: ${r.table} row ${r.rowid} references a missing ${r.parent} row`);

    // every camera with a row (configured or not), so footage of a removed camera is checked too
    const cams = listCameras(db);
    const ids = new Map(cams.map((c) => [c.key, c.id]));
    const scan = scanRing(db, config.data_dir, cams, ids);
    let segments = 0;
    for (const f of scan.cameras) {
      segments += f.rowCount;
      for (const r of f.rowsWithoutFiles)
        problems.push(`camera ${f.cameraKey}: segment ${r.absoluteIndex} has a row but no file (${r.relPath})${r.evidenceLocked ? " [evidence-locked]" : ""}`);
      for (const x of f.filesWithoutRows) {
        if (x.inProgress) notes.push(`camera ${f.cameraKey}: ${x.relPath} is the segment in progress`);
        else problems.push(`camera ${f.cameraKey}: file ${x.relPath} (${x.bytes} bytes) has no segment row`);
      }
      for (const m of f.sizeMismatches)
        problems.push(`camera ${f.cameraKey}: segment ${m.absoluteIndex} row says ${m.rowBytes} bytes, file has ${m.fileBytes}`);
      for (const p of f.counterProblems) problems.push(`camera ${f.cameraKey}: ring counters: ${p}`);
    }

    if (scan.garbage.length) {
      await Bun.sleep(GARBAGE_SETTLE_MS);
      const still = new Set(pendingGarbage(db).map((r) => r.id));
      for (const g of scan.garbage) if (still.has(g.id)) problems.push(`pending garbage row ${g.id}: ${g.rel_path} awaits deletion`);
    }

    // timelapse images and videos against their rows
    const tl = scanTimelapseFiles(db, config.data_dir);
    for (const p of [...tl.imageProblems, ...tl.videoProblems]) problems.push(p);
    for (const rel of tl.filesWithoutRows) problems.push(`timelapse file ${rel} has no row`);
    for (const rel of tl.temps) notes.push(`${rel} is a timelapse file being written (or left by a crash; removed at start-up)`);

    // health snapshot pictures against their rows; a picture younger than a minute may be one a
    // running check is committing right now
    const hp = scanHealthPictures(db, config.data_dir);
    for (const r of hp.rowsWithoutFiles) problems.push(`camera ${r.cameraKey}: health snapshot ${r.id} has a row but no picture (${r.filePath})`);
    for (const f of hp.filesWithoutRows) {
      if (f.ageMs < HEALTH_PICTURE_SETTLE_MS) notes.push(`${f.filePath} is a health picture being committed`);
      else problems.push(`health picture ${f.filePath} has no snapshot row (removed by retention an hour after it was written)`);
    }
    for (const rel of hp.temps) notes.push(`${rel} is a health picture being written (or left by a crash; removed by retention)`);

    const boot = currentBootId();
    for (const t of openTripsOfOtherBootsWithKeys(db, boot)) problems.push(`camera ${t.key}: trip ${t.id} of an earlier boot (${t.boot_id}) is still open`);

    for (const t of listTrips(db, { kept: true, limit: Number.MAX_SAFE_INTEGER, offset: 0 }).rows) {
      const kept = keptFootage(db, t);
      const min = (ms: number) => `${(ms / 60000).toFixed(1)} min`;
      if (kept.kept < kept.expected)
        problems.push(`saved trip ${t.id} (camera ${t.camera_key}) keeps ${kept.kept} of its ${kept.expected} segments (${min(kept.keptMs)} kept)`);
      if (t.cut_reason)
        problems.push(`saved trip ${t.id} (camera ${t.camera_key}) is incomplete: recording stopped at ${new Date(t.cut_at_utc ?? 0).toISOString()} (${t.cut_reason === "disk_full" ? "the disk was full" : t.cut_reason})`);
      for (const f of savedTripFiles(db, t.id))
        if (!existsSync(resolveInside(config.data_dir, f.rel_path))) problems.push(`saved trip ${t.id}: kept copy ${f.rel_path} is missing`);
      if (savedTripOf(db, t.id)?.layout === "copies") notes.push(`saved trip ${t.id} is stored the old way (copies); the next start moves it`);
    }

    for (const p of problems) process.stdout.write(`PROBLEM ${p}\n`);
    for (const n of notes) process.stdout.write(`ok ${n}\n`);
    const summary = `${cams.length} camera${cams.length === 1 ? "" : "s"}, ${segments} segment rows${tl.images || tl.videos ? `, ${tl.images} timelapse images, ${tl.videos} timelapse videos` : ""}${hp.pictures ? `, ${hp.pictures} health pictures` : ""}, ${problems.length} problem${problems.length === 1 ? "" : "s"}`;
    process.stdout.write(problems.length ? `check FAILED: ${summary}\n` : `check ok: ${summary}\n`);
    return problems.length ? 1 : 0;
  } finally {
    db.close();
  }
}
