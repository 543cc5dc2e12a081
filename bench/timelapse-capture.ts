/**
 * Bench: what timelapse capture costs the runtime. The runtime runs with 4 cameras recording
 * `file:` sources of the highway clip (real 1280x720 H.264, played in real time and looped, a
 * keyframe every 10 s) in three modes, for BENCH_SECONDS each (default 60), camera health checks
 * off in all (they take current frames too):
 * - `capture off`: no captures (the baseline);
 * - `immediate`: `[cameras.timelapse] interval_seconds = 10, keyframe_wait_seconds = 0` on every
 *   camera: each capture decodes the live GOP cache up to its newest frame (up to 250 frames);
 * - `aligned`: `interval_seconds = 10` with the default keyframe wait (min(interval, 12 s)): each
 *   capture waits for the camera's next keyframe and decodes it alone.
 * Each capture is stored as JPEG with an `images` and a `capture_attempts` row. The machine is
 * shared, so the modes alternate (BENCH_ROUNDS rounds, default 1, of off, immediate, aligned).
 * Target: capture adds under 2 % of one core and under 10 MB.
 *
 * Measured from /proc, sampled every second, after a 10 s warm-up:
 * - the runtime: VmRSS (mean, max) and utime + stime of the bun pid (fields 14, 15 of
 *   /proc/<pid>/stat, clock ticks, CLK_TCK = 100, see proc(5));
 * - the short ffmpeg runs it waited for: cutime + cstime (fields 16, 17), i.e. the current-frame
 *   decodes (the recorders run for the whole bench and are not in these fields);
 * - for information, the live children (the recorders' ffmpeg): summed RSS and CPU.
 * Prints numbers, asserts nothing. Env: BENCH_SECONDS, BENCH_CAMERAS (default 4), BENCH_KEEP=1.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "smol-toml";
import { BUN, MAIN, ROOT, makeTempDir, terminate, readDb } from "../test/helpers/runtime.ts";
import { killAllStarted, sleep, spawnProc } from "../test/helpers/proc.ts";
import { CLK_TCK, children, highwayCameras, sample, type ProcSample } from "./lib/runtimeBench.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const CAMERAS = Number(process.env.BENCH_CAMERAS ?? 4);
const WARMUP_S = 10;

interface Result {
  wall: number;
  cpuPct: number;
  decodePct: number;
  meanRss: number;
  maxRss: number;
  kidsRss: number;
  kidsPct: number;
  images: number;
  attempts: number;
  failed: number;
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);

type Mode = "capture off" | "immediate" | "aligned";
const MODES: Mode[] = ["capture off", "immediate", "aligned"];

/** The `[cameras.timelapse]` table of a mode, or undefined without captures. */
function timelapseOf(mode: Mode) {
  if (mode === "capture off") return undefined;
  return mode === "immediate" ? { interval_seconds: 10, keyframe_wait_seconds: 0 } : { interval_seconds: 10 };
}

async function run(mode: Mode): Promise<Result | null> {
  const tag = mode.replace(" ", "-");
  const dir = makeTempDir(`dashcam-bench-capture-${tag}-`);
  const dataDir = join(dir, "data");
  try {
    const timelapse = timelapseOf(mode);
    const cameras = highwayCameras(CAMERAS).map((cam) => (timelapse ? { ...cam, timelapse } : cam));
    const configPath = join(dir, "dashcam.toml");
    writeFileSync(configPath, stringify({ data_dir: dataDir, http: { listen: "127.0.0.1:0" }, health: { enabled: false }, cameras }));
    const proc = spawnProc([BUN, MAIN, "run", "--config", configPath], { cwd: ROOT, env: { DASHCAM_BOOT_ID: `bench-capture-${tag}`, NO_COLOR: "1" } });
    await proc.waitForLine(/listening on http:\/\//, 60_000, "stdout");
    await sleep(WARMUP_S * 1000);
    const pid = proc.pid;
    const samples: { t: number; self: ProcSample; kidsRss: number; kidsTicks: number }[] = [];
    const t0 = performance.now();
    while (performance.now() - t0 < SECONDS * 1000 && proc.alive()) {
      const self = sample(pid);
      if (!self) break;
      let kidsRss = 0;
      let kidsTicks = 0;
      for (const k of children(pid)) {
        const s = sample(k);
        if (s) {
          kidsRss += s.rssKb;
          kidsTicks += s.ticks;
        }
      }
      samples.push({ t: performance.now(), self, kidsRss, kidsTicks });
      await sleep(1000);
    }
    const counts = readDb(dataDir, (db) => ({
      images: (db.query("SELECT COUNT(*) AS n FROM images").get() as { n: number }).n,
      attempts: (db.query("SELECT COUNT(*) AS n FROM capture_attempts").get() as { n: number }).n,
      failed: (db.query("SELECT COUNT(*) AS n FROM capture_attempts WHERE status <> 'success'").get() as { n: number }).n,
    })) ?? { images: 0, attempts: 0, failed: 0 };
    await terminate(proc, 20_000);
    if (samples.length < 3) return null;
    const first = samples[0]!;
    const last = samples[samples.length - 1]!;
    const wall = (last.t - first.t) / 1000;
    const rss = samples.map((s) => s.self.rssKb / 1024);
    return {
      wall,
      cpuPct: ((last.self.ticks - first.self.ticks) / CLK_TCK / wall) * 100,
      decodePct: ((last.self.reapedTicks - first.self.reapedTicks) / CLK_TCK / wall) * 100,
      meanRss: rss.reduce((a, b) => a + b, 0) / rss.length,
      maxRss: Math.max(...rss),
      kidsRss: samples.reduce((a, s) => a + s.kidsRss, 0) / samples.length / 1024,
      kidsPct: ((last.kidsTicks - first.kidsTicks) / CLK_TCK / wall) * 100,
      ...counts,
    };
  } finally {
    killAllStarted();
    if (process.env.BENCH_KEEP) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

const results: Record<Mode, Result[]> = { "capture off": [], immediate: [], aligned: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of MODES) {
    const r = await run(mode);
    if (r) results[mode].push(r);
    else console.log(`  round ${round + 1} ${mode}: too few samples`);
  }
}
const line = (name: string, r: Result) =>
  `  ${name.padEnd(12)} runtime CPU ${r.cpuPct.toFixed(2)} % of one core, frame decodes ${r.decodePct.toFixed(2)} %, RSS mean ${r.meanRss.toFixed(1)} MB (max ${r.maxRss.toFixed(1)}); ` +
  `recorders ${r.kidsPct.toFixed(1)} %, ${r.kidsRss.toFixed(0)} MB; ${r.images} images, ${r.attempts} attempts (${r.failed} not successful) in ${r.wall.toFixed(0)} s`;
console.log(`timelapse capture bench: ${CAMERAS} cameras (file: highway 1280x720, 10 s GOP), ${SECONDS} s sampled after ${WARMUP_S} s, capture every 10 s, ${ROUNDS} round(s)`);
for (let round = 0; round < ROUNDS; round++) {
  const off = results["capture off"][round];
  for (const mode of MODES) {
    const r = results[mode][round];
    if (!r) continue;
    console.log(line(`${mode} ${round + 1}`, r));
    if (mode !== "capture off" && off) {
      const added = r.cpuPct + r.decodePct - (off.cpuPct + off.decodePct);
      console.log(
        `    ${mode} adds ${added.toFixed(2)} % of one core (runtime + its frame decodes; target < 2 %) and ${(r.meanRss - off.meanRss).toFixed(1)} MB mean RSS (max ${(r.maxRss - off.maxRss).toFixed(1)} MB; target < 10 MB)`,
      );
    }
  }
}
