/**
 * The start-up migration of trips saved as copies (before schema upgrade 3) to the stored-once
 * layout (src/actors/savedMigration.ts), on real files: MPEG-TS segments made by ffmpeg, indexed
 * in a real SQLite file, copies under saved/trip-<id>/ and an MP4 of them made by ffmpeg's concat
 * demuxer, as the old saver left them.
 * - a copy whose ring file exists with the same size is deleted; a copy whose ring file is gone
 *   becomes the segment's file (the row points at it); a copy of a segment the ring no longer
 *   has is kept in saved_trip_files; the MP4 goes only when the kept footage covers it, else the
 *   row points at it;
 * - SIGKILL at any moment of the migration (a child process, killed after a growing delay, then
 *   run again) loses no byte: every segment's content stays reachable; the finished migration
 *   passes `dashcam check`;
 * - the on-the-fly MP4 of a migrated trip spans kept copies and ring segments.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { validateConfig } from "../src/config.ts";
import { commitSegment } from "../src/db/segments.ts";
import { closeTrip } from "../src/db/trips.ts";
import { tripById } from "../src/db/views.ts";
import { dbPath, ringDirRel, segmentRelPath } from "../src/paths.ts";
import { migrateSavedTrips } from "../src/actors/savedMigration.ts";
import { streamTripMp4 } from "../src/media/tripMp4.ts";
import { FFMPEG_BIN, probe } from "./helpers/media.ts";
import { BUN, ROOT, runCli } from "./helpers/runtime.ts";
import { spawnProc } from "./helpers/proc.ts";

const root = mkdtempSync(join(tmpdir(), "dashcam-save-migration-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SEGMENTS = 6;
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const run = (args: string[]) => {
  const r = Bun.spawnSync([FFMPEG_BIN, "-hide_banner", "-loglevel", "error", "-y", ...args]);
  if (r.exitCode !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
};

/** Segment files of 2 s each (distinct content: the test pattern at other times), made once. */
const pieces: string[] = [];
beforeAll(() => {
  mkdirSync(join(root, "pieces"));
  for (let i = 0; i < SEGMENTS + 3; i++) {
    const p = join(root, "pieces", `${i}.ts`);
    run(["-f", "lavfi", "-i", `testsrc=size=320x240:rate=10,trim=start=${i * 2}`, "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "20", "-f", "mpegts", p]);
    pieces.push(p);
  }
});

interface Legacy {
  dataDir: string;
  configPath: string;
  /** Content hash of every segment of trip 1, by absolute index. */
  segmentSha: Map<number, string>;
}

/**
 * A data directory as the old saver left it: trip 1 = segments 0..5, saved (evidence-locked,
 * copied to saved/trip-1/, MP4 of the copies), layout `copies`. Then `perturb` changes it.
 */
function legacyDataDir(name: string, perturb: (db: Database, dataDir: string) => void = () => {}): Legacy {
  const dataDir = join(root, name);
  mkdirSync(join(dataDir, ringDirRel("front")), { recursive: true });
  const config = validateConfig({ data_dir: dataDir, cameras: [{ key: "front", source: "testsrc", ring_segments: 100 }] }, dataDir);
  const configPath = join(dataDir, "dashcam.toml");
  writeFileSync(configPath, `data_dir = "${dataDir}"\n[[cameras]]\nkey = "front"\nsource = "testsrc"\nring_segments = 100\n`);
  const db = openDatabase(dbPath(dataDir));
  const cameraId = syncCameras(db, config.cameras, null).get("front")!;
  const segmentSha = new Map<number, string>();
  let t = Date.UTC(2026, 11, 7, 8, 12);
  const savedDir = join(dataDir, "saved/trip-1");
  mkdirSync(savedDir, { recursive: true });
  for (let i = 0; i < SEGMENTS; i++) {
    const rel = segmentRelPath("front", i);
    cpSync(pieces[i]!, join(dataDir, rel));
    commitSegment(db, dataDir, { cameraId, absoluteIndex: i, relPath: rel, startUtc: t, endUtc: t + 2000, bytes: statSync(join(dataDir, rel)).size }, "boot");
    cpSync(pieces[i]!, join(savedDir, rel.split("/").pop()!));
    segmentSha.set(i, sha(pieces[i]!));
    t += 2000;
  }
  closeTrip(db, 1, t);
  db.exec("UPDATE segments SET evidence_locked = 1, incident_id = 'trip-1'");
  db.exec("UPDATE trips SET status = 'saved' WHERE id = 1");
  const list = join(root, `${name}.ffconcat`);
  writeFileSync(list, "ffconcat version 1.0\n" + [...Array(SEGMENTS).keys()].map((i) => `file '${join(savedDir, `${String(i).padStart(9, "0")}.ts`)}'`).join("\n") + "\n");
  run(["-f", "concat", "-safe", "0", "-i", list, "-c", "copy", "-movflags", "+faststart", join(savedDir, "trip-1.mp4")]);
  db.exec("INSERT INTO saved_trips (trip_id, saved_dir, saved_at_utc, mp4_path, layout) VALUES (1, 'saved/trip-1', 1, 'saved/trip-1/trip-1.mp4', 'copies')");
  perturb(db, dataDir);
  db.close();
  return { dataDir, configPath, segmentSha };
}

/** Every segment of trip 1 whose content can still be found: a row's file, a kept copy's, or a copy not migrated yet. */
function reachable(dataDir: string, segmentSha: Map<number, string>): number[] {
  const db = openDatabase(dbPath(dataDir));
  try {
    const out: number[] = [];
    for (const [abs, want] of segmentSha) {
      const candidates: string[] = [join(dataDir, "saved/trip-1", `${String(abs).padStart(9, "0")}.ts`)];
      const row = db.query("SELECT rel_path FROM segments WHERE absolute_index = ?").get(abs) as { rel_path: string } | null;
      if (row) candidates.push(join(dataDir, row.rel_path));
      const kept = db.query("SELECT rel_path FROM saved_trip_files WHERE absolute_index = ?").get(abs) as { rel_path: string } | null;
      if (kept) candidates.push(join(dataDir, kept.rel_path));
      if (candidates.some((p) => existsSync(p) && sha(p) === want)) out.push(abs);
    }
    return out;
  } finally {
    db.close();
  }
}

describe("migration of saved trips to the stored-once layout", () => {
  test("copies of ring files go, a copy whose ring file is gone becomes the segment's file, a copy the ring lost is kept, the MP4 goes; check is clean", async () => {
    const { dataDir, configPath, segmentSha } = legacyDataDir("mixed", (db, dir) => {
      unlinkSync(join(dir, segmentRelPath("front", 2))); // ring file gone, row kept (evidence rows are never dropped)
      unlinkSync(join(dir, segmentRelPath("front", 5))); // unlocked and reclaimed: neither row nor file
      db.exec("DELETE FROM segments WHERE absolute_index = 5");
    });
    const db = openDatabase(dbPath(dataDir));
    const done = await migrateSavedTrips(db, dataDir);
    expect(done).toEqual([{ tripId: 1, deletedCopies: 4, pointedRows: 1, keptCopies: 1, mp4: "deleted", freedBytes: expect.any(Number) }]);
    expect(db.query("SELECT layout, mp4_path FROM saved_trips").get()).toEqual({ layout: "ring", mp4_path: null });
    expect(db.query("SELECT rel_path, evidence_locked FROM segments WHERE absolute_index = 2").get()).toEqual({ rel_path: "saved/trip-1/000000002.ts", evidence_locked: 1 });
    expect(db.query("SELECT absolute_index, rel_path, duration_ms FROM saved_trip_files").all()).toEqual([
      { absolute_index: 5, rel_path: "saved/trip-1/000000005.ts", duration_ms: expect.any(Number) },
    ]);
    expect(Math.abs((db.query("SELECT duration_ms FROM saved_trip_files").get() as { duration_ms: number }).duration_ms - 2000)).toBeLessThanOrEqual(150);
    // one copy of each segment: the two kept copies, nothing else, under saved/
    expect(readdirSync(join(dataDir, "saved/trip-1")).sort()).toEqual(["000000002.ts", "000000005.ts"]);
    expect(reachable(dataDir, segmentSha)).toEqual([0, 1, 2, 3, 4, 5]);
    expect((db.query("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'saved.migrated'").get() as { n: number }).n).toBe(1);

    // the download spans ring segments and kept copies: all 12 s
    const mp4 = join(root, "mixed.mp4");
    writeFileSync(mp4, new Uint8Array(await new Response(streamTripMp4(db, dataDir, tripById(db, 1)!)!.body).arrayBuffer()));
    expect(Math.abs((await probe(mp4)).duration - 12)).toBeLessThanOrEqual(1);
    // running it again finds nothing to do
    expect(await migrateSavedTrips(db, dataDir)).toEqual([]);
    db.close();
    const check = await runCli(["check", "--config", configPath]);
    expect(check.stdout).toContain("check ok");
    expect(check.code).toBe(0);
  }, 60_000);

  test("an MP4 holding more than the kept footage stays, and the row points at it", async () => {
    const { dataDir } = legacyDataDir("longer-mp4", (db, dir) => {
      // a segment gone from the ring and from saved/: only the MP4 still has it
      unlinkSync(join(dir, segmentRelPath("front", 4)));
      db.exec("DELETE FROM segments WHERE absolute_index = 4");
      unlinkSync(join(dir, "saved/trip-1/000000004.ts"));
    });
    const db = openDatabase(dbPath(dataDir));
    const before = sha(join(dataDir, "saved/trip-1/trip-1.mp4"));
    const [m] = await migrateSavedTrips(db, dataDir);
    expect(m).toEqual(expect.objectContaining({ deletedCopies: 5, mp4: "kept" }));
    expect(db.query("SELECT layout, mp4_path FROM saved_trips").get()).toEqual({ layout: "ring", mp4_path: "saved/trip-1/trip-1.mp4" });
    expect(sha(join(dataDir, "saved/trip-1/trip-1.mp4"))).toBe(before);
    db.close();
  }, 60_000);

  test("SIGKILL at any moment of the migration loses nothing; run again it finishes and check is clean", async () => {
    const script = join(root, "migrate-child.ts");
    writeFileSync(
      script,
      `import { openDatabase } from "${ROOT}/src/db/open.ts";\nimport { migrateSavedTrips } from "${ROOT}/src/actors/savedMigration.ts";\n` +
        `const db = openDatabase(process.argv[2] + "/dashcam.db");\nconsole.log("start");\nawait migrateSavedTrips(db, process.argv[2]);\nconsole.log("done");\n`,
    );
    const kills: string[] = [];
    for (const [i, delayMs] of [0, 2, 5, 10, 20, 40, 80, 160].entries()) {
      const { dataDir, configPath, segmentSha } = legacyDataDir(`kill-${i}`, (db, dir) => {
        unlinkSync(join(dir, segmentRelPath("front", 1)));
        unlinkSync(join(dir, segmentRelPath("front", 3)));
        db.exec("DELETE FROM segments WHERE absolute_index = 3");
      });
      const p = spawnProc([BUN, script, dataDir], { cwd: ROOT });
      await p.waitForLine(/^start$/, 20_000);
      await Bun.sleep(delayMs);
      p.signalGroup("SIGKILL");
      await p.exited;
      kills.push(p.stdout.includes("done") ? "finished" : "killed");
      expect(reachable(dataDir, segmentSha)).toEqual([0, 1, 2, 3, 4, 5]);
      // the next start finishes it
      const db = openDatabase(dbPath(dataDir));
      await migrateSavedTrips(db, dataDir);
      expect(db.query("SELECT layout FROM saved_trips").get()).toEqual({ layout: "ring" });
      db.close();
      expect(reachable(dataDir, segmentSha)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(readdirSync(join(dataDir, "saved/trip-1")).sort()).toEqual(["000000001.ts", "000000003.ts"]);
      const check = await runCli(["check", "--config", configPath]);
      expect(check.stdout).toContain("check ok");
    }
    console.log(`migration SIGKILL rounds: ${kills.join(", ")}`);
    // at least one kill landed mid-way (the others prove the finished state)
    expect(kills).toContain("killed");
  }, 120_000);
});
