/**
 * Fault (b): power cuts. `dashcam run` records ffmpeg's test pattern (320x240, 1 s segments)
 * and is killed with SIGKILL (its whole process group: bun and ffmpeg, as a power cut would)
 * 20 times at random moments; each run has its own DASHCAM_BOOT_ID, as after a reboot.
 * Most kills come 0.5-4 s after the runtime is up; every fourth comes 0.5-4 s after the
 * process was spawned, without waiting, so some land inside start-up and reconciliation.
 *
 * After every restart (once it listens): `dashcam check` exits 0 against its config, no open
 * trip of an earlier boot remains, and every (absolute_index, bytes) the database held before
 * any kill still has its row and its file of that size (the ring is far larger than what is
 * recorded, so retention never deletes legitimately). The random schedule is printed with its
 * seed; `E2E_SEED=<n>` replays it.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { statSync } from "node:fs";
import {
  BUN, MAIN, ROOT, terminate, makeTempDir, removeDir, writeConfig, runCli, readDb, segmentsOf, cameraStateOf, tripsOf, VERBOSE,
} from "./helpers/runtime.ts";
import { killAllStarted, killWithArg, rng, sleep, spawnProc, waitFor, type Proc } from "./helpers/proc.ts";
import { gapRowsMatch, ringCounters, rowsMatchFiles } from "./helpers/invariants.ts";

const KEY = "pcut";
const CAPACITY = 100_000;
const KILLS = 20;

let dir = "";
let current: Proc | null = null;

afterAll(async () => {
  current?.signalGroup("SIGKILL");
  killAllStarted();
  if (dir) removeDir(dir);
});

test("SIGKILL at 20 random moments: check passes after each restart, no segment with a row is lost", async () => {
  const seed = Number(process.env.E2E_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const random = rng(seed);
  console.log(`power-cut schedule seed ${seed} (E2E_SEED=${seed} replays it)`);
  dir = makeTempDir();
  const dataDir = join(dir, "data");
  const configPath = writeConfig(dir, {
    data_dir: dataDir,
    cameras: [{ key: KEY, source: "testsrc", width: 640, height: 480, fps: 25, segment_seconds: 1, ring_segments: CAPACITY }],
  });

  /** absolute_index -> bytes of every row ever seen before a kill */
  const seen = new Map<number, number>();
  const bootIds: string[] = [];
  const orphans: number[] = [];
  const log: string[] = [];

  const verifyAfterRestart = async (boot: string, i: number) => {
    // check runs as on the same boot as the runtime (it judges "open trip of an earlier boot")
    const check = await runCli(["check", "--config", configPath], { env: { DASHCAM_BOOT_ID: boot } });
    expect({ run: i, code: check.code, out: check.code ? `${check.stdout}\n${check.stderr}` : "" }).toEqual({ run: i, code: 0, out: "" });
    // reconciliation closes every trip of an earlier boot (allowed to finish shortly after listening)
    await waitFor(
      `no open trip of an earlier boot (run ${i})`,
      () => tripsOf(dataDir, KEY).filter((t) => t.status === "open" && t.boot_id !== boot).length === 0,
      15_000,
    );
    const rows = new Map(segmentsOf(dataDir, KEY).map((r) => [r.absolute_index, r]));
    const lost: string[] = [];
    for (const [abs, bytes] of seen) {
      const r = rows.get(abs);
      if (!r) {
        lost.push(`abs ${abs}: row gone`);
        continue;
      }
      if (r.bytes !== bytes) lost.push(`abs ${abs}: bytes ${bytes} -> ${r.bytes}`);
      let size = -1;
      try {
        size = statSync(join(dataDir, r.rel_path)).size;
      } catch {
        /* missing */
      }
      if (size !== bytes) lost.push(`abs ${abs}: file size ${size}, row said ${bytes}`);
    }
    expect({ run: i, lost }).toEqual({ run: i, lost: [] });
  };

  for (let i = 0; i <= KILLS; i++) {
    const boot = `e2e-pcut-${seed}-${i}`;
    bootIds.push(boot);
    const t0 = Date.now();
    current = spawnProc([BUN, MAIN, "run", "--config", configPath], {
      cwd: ROOT,
      env: { DASHCAM_BOOT_ID: boot, NO_COLOR: "1" },
      onLine: VERBOSE ? (s, l) => console.log(`[boot ${i} ${s}] ${l}`) : undefined,
    });
    const early = i < KILLS && i % 4 === 3;
    const delay = 500 + Math.floor(random() * 3500);
    if (early) {
      // kill 0.5-4 s after spawn, wherever start-up is
      await sleep(Math.max(0, t0 + delay - Date.now()));
    } else {
      await current.waitForLine(/listening on http:\/\//, 60_000, "stdout");
      await verifyAfterRestart(boot, i);
      if (i === KILLS) break;
      await sleep(delay);
    }
    // remember what the database holds right before the cut
    for (const r of segmentsOf(dataDir, KEY)) if (r.bytes !== null) seen.set(r.absolute_index, r.bytes);
    current.signalGroup("SIGKILL");
    await current.exited;
    // an ffmpeg that left the process group would keep writing, which after a real power cut
    // it could not: give SIGKILL a moment to land, then count and remove any survivor
    await sleep(300);
    const survivors = killWithArg(dataDir);
    orphans.push(...survivors);
    log.push(`run ${i}: ${early ? "early " : ""}kill after ${Date.now() - t0} ms, ${seen.size} segments seen${survivors.length ? `, ${survivors.length} orphan(s)` : ""}`);
    current = null;
  }
  console.log(log.join("\n"));

  // the last boot stops in order; everything is consistent and complete
  expect(await terminate(current!)).toBe(0);
  current = null;
  const rows = segmentsOf(dataDir, KEY);
  expect(rowsMatchFiles(dataDir, KEY, rows, true)).toEqual([]);
  expect(ringCounters(cameraStateOf(dataDir, KEY)!, rows, CAPACITY)).toEqual([]);
  const trips = tripsOf(dataDir, KEY);
  expect(trips.filter((t) => t.status === "open")).toEqual([]);
  // every segment lies in exactly one trip (indexing a segment moves its trip's bound in the
  // same transaction, and a trip of an earlier boot is closed at its last segment)
  const homeless: string[] = [];
  for (const r of rows) {
    const owners = trips.filter((t) => t.start_absolute <= r.absolute_index && r.absolute_index <= t.last_absolute);
    if (owners.length !== 1) homeless.push(`abs ${r.absolute_index}: in trips [${owners.map((t) => t.id).join(",")}]`);
  }
  expect(homeless).toEqual([]);
  expect(gapRowsMatch(dataDir, KEY, rows)).toEqual([]);
  const garbage = readDb(dataDir, (db) => (db.query("SELECT COUNT(*) AS n FROM garbage").get() as { n: number }).n);
  expect(garbage).toBe(0);
  const check = await runCli(["check", "--config", configPath], { env: { DASHCAM_BOOT_ID: bootIds[bootIds.length - 1] } });
  expect({ code: check.code, out: check.code ? check.stdout + check.stderr : "" }).toEqual({ code: 0, out: "" });
  console.log(`${rows.length} segments, ${trips.length} trips over ${bootIds.length} boots; ffmpeg processes that outlived their runtime: ${orphans.length}`);
  expect(rows.length).toBeGreaterThan(0);
}, 420_000);
