/**
 * `dashcam check` as a real CLI process (`bun src/main.ts check --config FILE`) on a real data
 * directory: exit 0 on a clean ring (the segment in progress is fine), exit 1 on each broken
 * state with a line naming it, while the database file and the directory stay byte-identical;
 * exit 2 with one line for a missing database or a bad option. Health snapshot pictures are
 * compared with their `snapshots` rows the same way.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { writeFileSync, unlinkSync, appendFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { indexSegment } from "../src/db/segments.ts";
import { recordHealthCheck } from "../src/db/health.ts";
import { mkdirSync, utimesSync } from "node:fs";
import { dbPath, segmentRelPath } from "../src/paths.ts";
import { cameraConfig, fileHash, listing, openTestDb, removeDir, tempDir, writeSegmentFile } from "./recording-helpers.ts";

const MAIN = resolve(import.meta.dir, "../src/main.ts");
const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));
const T0 = Date.UTC(2026, 0, 1);

interface Fixture {
  dataDir: string;
  configPath: string;
  db: Database;
  cameraId: number;
}

/** A data dir with 4 indexed segments (boot-A, open trip) and the segment in progress (index 4). */
function fixture(): Fixture {
  const dataDir = tempDir("dashcam-check-");
  dirs.push(dataDir);
  const configPath = join(dataDir, "dashcam.toml");
  writeFileSync(configPath, `data_dir = "${dataDir}"\n\n[[cameras]]\nkey = "cam"\nsource = "testsrc"\nring_segments = 100\n`);
  const camera = cameraConfig({ key: "cam", ring_segments: 100 });
  const { db, ids } = openTestDb(dataDir, [camera]);
  const cameraId = ids.get("cam")!;
  for (let abs = 0; abs < 4; abs++) {
    const rel = writeSegmentFile(dataDir, "cam", abs, 2000 + abs);
    indexSegment(db, { cameraId, absoluteIndex: abs, relPath: rel, startUtc: T0 + abs * 2000, endUtc: T0 + (abs + 1) * 2000, bytes: 2000 + abs }, "boot-A");
  }
  writeSegmentFile(dataDir, "cam", 4, 500); // being written by a recorder
  return { dataDir, configPath, db, cameraId };
}

/** A health check row of camera `cam` at `at`, with its picture written unless `file` is false; returns the picture's relative path. */
function healthPicture(f: Fixture, at: number, opts: { row?: boolean; file?: boolean } = {}): string {
  const rel = join("health", "cam", `${at}.jpg`);
  if (opts.file !== false) {
    mkdirSync(join(f.dataDir, "health", "cam"), { recursive: true });
    writeFileSync(join(f.dataDir, rel), new Uint8Array([0xff, 0xd8, 0xff, 0xd9]));
  }
  if (opts.row !== false) {
    recordHealthCheck(f.db, {
      cameraId: f.cameraId, capturedAt: at, checkedAt: at, filePath: rel, frameOk: true,
      healthMetrics: { exposure: { status: "ok", meanBrightness: 120 } }, anomalies: [], metrics: [{ type: "brightness", value: 120, status: "ok" }],
    });
  }
  return rel;
}

/** Closes the writer, runs check, and proves nothing changed. */
function runCheck(f: Fixture, extraArgs: string[] = []): { code: number; out: string; err: string } {
  f.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  f.db.close();
  const snapshot = () => ({ db: fileHash(dbPath(f.dataDir)), wal: fileHash(`${dbPath(f.dataDir)}-wal`), files: listing(f.dataDir) });
  const before = snapshot();
  const r = Bun.spawnSync([process.execPath, MAIN, "check", "--config", f.configPath, ...extraArgs], {
    env: { ...process.env, DASHCAM_BOOT_ID: "boot-A", DASHCAM_CONFIG: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const after = snapshot();
  // an empty -wal may appear (a read-only WAL reader needs one); its content must stay empty/unchanged
  if (before.wal === "absent" && after.wal !== "absent") expect(after.wal).toBe(fileHash("/dev/null"));
  else expect(after.wal).toBe(before.wal);
  expect(after.db).toBe(before.db);
  expect(after.files).toEqual(before.files);
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe("dashcam check", () => {
  test("clean ring with the segment in progress: exit 0", () => {
    const f = fixture();
    const r = runCheck(f);
    expect(r.err).toBe("");
    expect(r.out).toContain("check ok: 1 camera, 4 segment rows, 0 problems");
    expect(r.out).toContain("000000004.ts is the segment in progress");
    expect(r.code).toBe(0);
  });

  test("health pictures with their rows, and one being committed: exit 0", () => {
    const f = fixture();
    healthPicture(f, T0 + 1000);
    healthPicture(f, T0 + 2000);
    const fresh = healthPicture(f, Date.now(), { row: false });
    const r = runCheck(f);
    expect(r.out).toContain("check ok: 1 camera, 4 segment rows, 2 health pictures, 0 problems");
    expect(r.out).toContain(`${fresh} is a health picture being committed`);
    expect(r.code).toBe(0);
  });

  const old = (f: Fixture, rel: string) => utimesSync(join(f.dataDir, rel), new Date(T0), new Date(T0));
  const broken: [string, (f: Fixture) => void, RegExp][] = [
    ["a health snapshot row without its picture", (f) => void healthPicture(f, T0 + 5000, { file: false }), /camera cam: health snapshot \d+ has a row but no picture \(health\/cam\/\d+\.jpg\)/],
    ["a health picture without a row", (f) => old(f, healthPicture(f, T0 + 6000, { row: false })), /health picture health\/cam\/\d+\.jpg has no snapshot row/],
    ["a row without its file", (f) => unlinkSync(join(f.dataDir, segmentRelPath("cam", 1))), /segment 1 has a row but no file/],
    ["a file beyond the segment in progress", (f) => void writeSegmentFile(f.dataDir, "cam", 9, 10), /file recordings\/cam\/000000009\.ts \(10 bytes\) has no segment row/],
    ["a file without a row below the counters", (f) => f.db.query("DELETE FROM segments WHERE absolute_index = 0").run(), /000000000\.ts .* has no segment row/],
    ["a row whose size differs from its file", (f) => appendFileSync(join(f.dataDir, segmentRelPath("cam", 2)), "xx"), /segment 2 row says 2002 bytes, file has 2004/],
    ["absolute_segments not above the rows", (f) => f.db.query("UPDATE camera_state SET absolute_segments = 3, segment_index = 3").run(), /absolute_segments 3 is not above the newest segment row 3/],
    ["a wrong ring slot", (f) => f.db.query("UPDATE camera_state SET segment_index = 9").run(), /segment_index 9 != absolute_segments % ring_capacity = 4/],
    ["a wrong generation", (f) => f.db.query("UPDATE camera_state SET segment_generation = 2").run(), /segment_generation 2 != floor/],
    [
      "a pending garbage row",
      (f) => f.db.query("INSERT INTO garbage (camera_id, rel_path, created_at) VALUES (?, 'recordings/cam/000000000.ts', 1)").run(f.cameraId),
      /pending garbage row \d+: recordings\/cam\/000000000\.ts/,
    ],
    [
      "an open trip of an earlier boot",
      (f) => f.db.query("UPDATE trips SET boot_id = 'boot-OLD'").run(),
      /trip 1 of an earlier boot \(boot-OLD\) is still open/,
    ],
    [
      "a foreign key violation",
      (f) => {
        f.db.exec("PRAGMA foreign_keys = OFF");
        f.db.query("INSERT INTO saved_trips (trip_id, saved_dir, saved_at_utc) VALUES (999, 'saved/x', 1)").run();
      },
      /foreign_key_check: saved_trips row \d+ references a missing trips row/,
    ],
  ];

  test.each(broken)("%s: exit 1, named, nothing changed", (_name, breakIt, expected) => {
    const f = fixture();
    breakIt(f);
    const r = runCheck(f);
    expect(r.out).toMatch(expected);
    expect(r.out).toMatch(/^check FAILED: .*[1-9]\d* problems?$/m);
    expect(r.code).toBe(1);
  });

  test("a missing database: one line, exit 2, nothing created", () => {
    const dataDir = tempDir("dashcam-check-");
    dirs.push(dataDir);
    const configPath = join(dataDir, "dashcam.toml");
    writeFileSync(configPath, `data_dir = "${join(dataDir, "data")}"\n`);
    const r = Bun.spawnSync([process.execPath, MAIN, "check", "--config", configPath], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(2);
    const lines = r.stderr.toString().trim().split("\n");
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/^dashcam check: no database at /);
    expect(Object.keys(listing(dataDir))).toEqual(["dashcam.toml"]);
  });

  test("a bad option: exit 2", () => {
    const r = Bun.spawnSync([process.execPath, MAIN, "check", "--bogus"], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toMatch(/^dashcam check: .*bogus/);
  });
});
