/**
 * Fault (c): the ring is filled past its capacity. `ring_segments = 5`, 1 s test-pattern
 * segments. While the first segments exist, the test (playing an operator) evidence-locks
 * absolute 0 and 1 (`evidence_locked = 1, incident_id = 'test'`) and holds a read-lock on
 * absolute 2 (`locked = 1`), then lets recording run to three times the capacity:
 * the oldest unlocked segments go (files and rows), the locked ones stay, the unlocked ones
 * never exceed the capacity and are exactly the newest, and the garbage table ends empty.
 * Then a restart clears the transient read-lock (DESIGN.md invariant 3), after which absolute 2
 * is deleted like any old segment while the evidence stays.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { existsSync } from "node:fs";
import {
  makeTempDir, removeDir, writeConfig, startRuntime, runCli, readDb, writeDb, segmentsOf, cameraStateOf, type Runtime, type SegmentRow,
} from "./helpers/runtime.ts";
import { killAllStarted, sleep, waitFor } from "./helpers/proc.ts";
import { ringCounters, ringFiles, rowsMatchFiles } from "./helpers/invariants.ts";

const KEY = "ring";
const CAPACITY = 5;

let dir = "";
let rt: Runtime | null = null;

afterAll(async () => {
  await rt?.kill();
  killAllStarted();
  if (dir) removeDir(dir);
});

const unlocked = (rows: SegmentRow[]) => rows.filter((r) => !r.locked && !r.evidence_locked);
const garbageCount = (dataDir: string) => readDb(dataDir, (db) => (db.query("SELECT COUNT(*) AS n FROM garbage").get() as { n: number }).n) ?? 0;

/** Problems with "the unlocked segments are the newest ones, at most CAPACITY of them". */
function ringShape(dataDir: string, rows: SegmentRow[], checkFiles = true): string[] {
  const problems: string[] = [];
  const free = unlocked(rows);
  if (free.length > CAPACITY) problems.push(`${free.length} unlocked segments > capacity ${CAPACITY}`);
  const maxAbs = rows.reduce((m, r) => Math.max(m, r.absolute_index), -1);
  const oldestFree = free.length ? free[0].absolute_index : maxAbs + 1;
  // every absolute index from the oldest unlocked one up is present (nothing newer was deleted)
  for (let a = oldestFree; a <= maxAbs; a++) if (!rows.some((r) => r.absolute_index === a)) problems.push(`abs ${a} deleted while older unlocked abs ${oldestFree} kept`);
  // below it, only locked segments remain, and deleted ones have no file
  const files = ringFiles(dataDir, KEY);
  for (let a = 0; a < oldestFree; a++) {
    const r = rows.find((x) => x.absolute_index === a);
    if (r && !r.locked && !r.evidence_locked) problems.push(`abs ${a}: unlocked, older than the ring, still there`);
    if (!r && checkFiles && files.has(a)) problems.push(`abs ${a}: row deleted but file left`);
  }
  return problems;
}

test("ring past capacity: oldest unlocked segments go, evidence- and read-locked ones stay", async () => {
  dir = makeTempDir();
  const dataDir = join(dir, "data");
  const configPath = writeConfig(dir, {
    data_dir: dataDir,
    cameras: [{ key: KEY, source: "testsrc", width: 320, height: 240, fps: 10, segment_seconds: 1, ring_segments: CAPACITY }],
  });
  rt = await startRuntime(configPath, { env: { DASHCAM_BOOT_ID: `e2e-ring-${Date.now()}-a` }, label: "ring" });

  // lock 0, 1 (evidence) and 2 (read) as soon as they exist, before the ring is full
  await waitFor("absolute 0..2 indexed", () => segmentsOf(dataDir, KEY).filter((r) => r.absolute_index <= 2).length === 3, 60_000, 50);
  const changed = writeDb(dataDir, (db) =>
    db.transaction(() => {
      const ev = db.query("UPDATE segments SET evidence_locked = 1, incident_id = 'test' WHERE absolute_index IN (0, 1)").run().changes;
      const rl = db.query("UPDATE segments SET locked = 1 WHERE absolute_index = 2").run().changes;
      return ev + rl;
    })(),
  );
  expect(changed).toBe(3);

  // record to three times the capacity, sampling the ring as it goes
  const samples: string[] = [];
  let maxUnlocked = 0;
  while ((cameraStateOf(dataDir, KEY)?.absolute_segments ?? 0) < 3 * CAPACITY + 3) {
    const rows = segmentsOf(dataDir, KEY);
    maxUnlocked = Math.max(maxUnlocked, unlocked(rows).length);
    // files are not compared while recording: a deleted row's file is unlinked just after (garbage row)
    samples.push(...ringShape(dataDir, rows, false).map((p) => `sample: ${p}`));
    if (!rt.proc.alive()) throw new Error(`runtime exited: ${rt.proc.stderr.slice(-10).join("\n")}`);
    await sleep(150);
  }
  console.log(`max unlocked segments seen while recording: ${maxUnlocked} (capacity ${CAPACITY})`);
  expect(samples).toEqual([]);
  expect(maxUnlocked).toBeLessThanOrEqual(CAPACITY);

  await waitFor("garbage table empty", () => garbageCount(dataDir) === 0, 15_000);
  expect(await rt.terminate()).toBe(0);
  rt = null;

  let rows = segmentsOf(dataDir, KEY);
  expect(ringShape(dataDir, rows)).toEqual([]);
  expect(rowsMatchFiles(dataDir, KEY, rows, true)).toEqual([]);
  expect(ringCounters(cameraStateOf(dataDir, KEY)!, rows, CAPACITY)).toEqual([]);
  const byAbs = new Map(rows.map((r) => [r.absolute_index, r]));
  expect(byAbs.get(0)).toMatchObject({ evidence_locked: 1, incident_id: "test" });
  expect(byAbs.get(1)).toMatchObject({ evidence_locked: 1, incident_id: "test" });
  expect(byAbs.get(2)).toMatchObject({ locked: 1 });
  for (const a of [0, 1, 2]) expect(existsSync(join(dataDir, byAbs.get(a)!.rel_path))).toBe(true);
  // the ring really turned over: some unlocked segments were deleted, and the newest are kept
  const maxAbs = rows[rows.length - 1].absolute_index;
  expect(maxAbs).toBeGreaterThanOrEqual(3 * CAPACITY + 2);
  expect(byAbs.has(3)).toBe(false);
  // the ring is full: the held read-lock may count against the capacity (it is not evidence), so
  // CAPACITY - 1 or CAPACITY unlocked segments remain, the newest ones
  const kept = unlocked(rows).length;
  expect(kept).toBeGreaterThanOrEqual(CAPACITY - 1);
  expect(kept).toBeLessThanOrEqual(CAPACITY);
  expect(unlocked(rows).map((r) => r.absolute_index)).toEqual([...Array(kept)].map((_, i) => maxAbs - kept + 1 + i));
  expect(garbageCount(dataDir)).toBe(0);
  const check1 = await runCli(["check", "--config", configPath]);
  expect({ code: check1.code, out: check1.code ? check1.stdout + check1.stderr : "" }).toEqual({ code: 0, out: "" });

  // restart: read-locks are transient and cleared at start-up; absolute 2 then ages out
  rt = await startRuntime(configPath, { env: { DASHCAM_BOOT_ID: `e2e-ring-${Date.now()}-b` }, label: "ring2" });
  await waitFor("read-lock cleared at start-up", () => segmentsOf(dataDir, KEY).every((r) => r.locked === 0), 15_000);
  await waitFor("absolute 2 deleted once unlocked", () => !segmentsOf(dataDir, KEY).some((r) => r.absolute_index === 2), 60_000);
  await waitFor("garbage table empty", () => garbageCount(dataDir) === 0, 15_000);
  expect(await rt.terminate()).toBe(0);
  rt = null;

  rows = segmentsOf(dataDir, KEY);
  expect(ringShape(dataDir, rows)).toEqual([]);
  expect(rowsMatchFiles(dataDir, KEY, rows, true)).toEqual([]);
  expect(rows.filter((r) => r.evidence_locked).map((r) => r.absolute_index)).toEqual([0, 1]);
  expect(unlocked(rows).length).toBe(CAPACITY); // nothing read-locked any more: exactly a full ring
  expect(existsSync(join(dataDir, "recordings", KEY, "000000002.ts"))).toBe(false);
  expect(garbageCount(dataDir)).toBe(0);
  const check2 = await runCli(["check", "--config", configPath]);
  expect({ code: check2.code, out: check2.code ? check2.stdout + check2.stderr : "" }).toEqual({ code: 0, out: "" });
}, 240_000);
