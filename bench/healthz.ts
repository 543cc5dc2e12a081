/**
 * Bench: milliseconds from process start to the first `/healthz` 200 with 100,000 segment
 * rows in the database (target: <= 300 ms, so monitoring never times out). Prints numbers, asserts nothing.
 *
 * The database is built once with the real schema (`openDatabase()` + `syncCameras()`), then
 * 100,000 `segments` rows (60 s each, consecutive, ending now), the ring counters and one
 * closed trip are inserted in one transaction. Every row gets its file (one 188-byte MPEG-TS
 * null packet) so start-up reconciliation sees a consistent ring, as on a real device.
 * The runtime is then started `RUNS` times (`bun src/main.ts run --config FILE`, one disabled
 * camera so only start-up and serving are measured); each run polls `/healthz` every 2 ms from
 * the moment of spawn and is stopped with SIGTERM. Reported: every run, the median, and the
 * time to the `listening on` line.
 *
 * Env: BENCH_SEGMENTS (default 100000), BENCH_RUNS (default 5), BENCH_KEEP=1 keeps the dir.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { validateConfig } from "../src/config.ts";
import { segmentRelPath } from "../src/paths.ts";
import { BUN, MAIN, ROOT, makeTempDir, writeConfig, terminate } from "../test/helpers/runtime.ts";
import { freeTcpPort, killAllStarted, sleep, spawnProc } from "../test/helpers/proc.ts";

const SEGMENTS = Number(process.env.BENCH_SEGMENTS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const KEY = "bench";
const SEGMENT_MS = 60_000;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const dir = makeTempDir("dashcam-bench-healthz-");
const dataDir = join(dir, "data");
try {
  const port = freeTcpPort();
  const camera = { key: KEY, source: "testsrc", width: 320, height: 240, segment_seconds: 60, ring_segments: SEGMENTS * 2, enabled: false };
  const configPath = writeConfig(dir, { data_dir: dataDir, listen: `127.0.0.1:${port}`, cameras: [camera] });

  // --- build the database and the ring
  const tBuild = performance.now();
  mkdirSync(join(dataDir, "recordings", KEY), { recursive: true });
  const db = openDatabase(join(dataDir, "dashcam.db"));
  const config = validateConfig({ data_dir: dataDir, cameras: [camera] }, dir);
  const cameraId = syncCameras(db, config.cameras, null).get(KEY)!;
  const end = Date.now() - 60_000;
  const start = end - SEGMENTS * SEGMENT_MS;
  const packet = new Uint8Array(188);
  packet[0] = 0x47; // MPEG-TS sync byte, PID 0x1fff (null packet)
  packet[1] = 0x1f;
  packet[2] = 0xff;
  packet[3] = 0x10;
  const insert = db.prepare(
    `INSERT INTO segments (camera_id, segment_index, segment_gen, absolute_index, start_utc, end_utc, rel_path, codec, width, height, fps, bytes)
     VALUES ($camera_id, $segment_index, $segment_gen, $absolute_index, $start_utc, $end_utc, $rel_path, 'h264', 320, 240, 25, 188)`,
  );
  const capacity = SEGMENTS * 2;
  db.transaction(() => {
    for (let i = 0; i < SEGMENTS; i++) {
      const rel = segmentRelPath(KEY, i);
      insert.run({
        camera_id: cameraId,
        segment_index: i % capacity,
        segment_gen: Math.floor(i / capacity),
        absolute_index: i,
        start_utc: start + i * SEGMENT_MS,
        end_utc: start + (i + 1) * SEGMENT_MS,
        rel_path: rel,
      });
      writeFileSync(join(dataDir, rel), packet);
    }
    db.query(
      "UPDATE camera_state SET absolute_segments = $n, segment_index = $n % ring_capacity, segment_generation = $n / ring_capacity WHERE camera_id = $id",
    ).run({ n: SEGMENTS, id: cameraId });
    db.query(
      `INSERT INTO trips (camera_id, boot_id, start_time_utc, end_time_utc, start_segment, final_segment, start_gen, end_gen,
                          start_absolute, last_absolute, last_time_utc, status)
       VALUES ($id, 'bench-boot', $start, $end, 0, $last, 0, 0, 0, $last, $end, 'closed')`,
    ).run({ id: cameraId, start, end, last: SEGMENTS - 1 });
  })();
  db.close();
  console.log(`healthz bench: built ${SEGMENTS} segment rows + files in ${((performance.now() - tBuild) / 1000).toFixed(1)} s`);

  // --- start the runtime RUNS times
  const toHealthz: number[] = [];
  const toListening: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    let listening = NaN;
    const proc = spawnProc([BUN, MAIN, "run", "--config", configPath], {
      cwd: ROOT,
      env: { DASHCAM_BOOT_ID: `bench-healthz-${run}`, NO_COLOR: "1" },
      onLine: (s, l) => {
        if (s === "stdout" && Number.isNaN(listening) && /listening on http:\/\//.test(l)) listening = performance.now() - t0;
      },
    });
    let ms = NaN;
    while (proc.alive() && performance.now() - t0 < 60_000) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/healthz`);
        await r.arrayBuffer();
        if (r.status === 200) {
          ms = performance.now() - t0;
          break;
        }
      } catch {
        /* not listening yet */
      }
      await sleep(2);
    }
    if (Number.isNaN(ms)) {
      console.log(`run ${run}: no /healthz 200 (exit ${proc.alive() ? "-" : await proc.exited}): ${proc.stderr.slice(-5).join(" | ")}`);
      await terminate(proc, 10_000);
      continue;
    }
    await sleep(50);
    await terminate(proc, 10_000);
    toHealthz.push(ms);
    toListening.push(listening);
    console.log(`run ${run}: /healthz 200 after ${ms.toFixed(0)} ms (listening line at ${listening.toFixed(0)} ms)`);
  }
  if (toHealthz.length)
    console.log(
      `healthz bench: ${SEGMENTS} segments, median ${median(toHealthz).toFixed(0)} ms from process start to /healthz 200 ` +
        `(min ${Math.min(...toHealthz).toFixed(0)}, max ${Math.max(...toHealthz).toFixed(0)}, n=${toHealthz.length}; target <= 300 ms); ` +
        `median to "listening" ${median(toListening).toFixed(0)} ms`,
    );
} finally {
  killAllStarted();
  if (process.env.BENCH_KEEP) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
