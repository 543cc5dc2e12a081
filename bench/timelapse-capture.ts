/**
 * Bench: what timelapse capture costs the runtime. The runtime runs twice with 4 cameras
 * recording `file:` sources of the highway clip (real 1280x720 H.264, played in real time and
 * looped), once without captures and once with `[cameras.timelapse] interval_seconds = 10` on
 * every camera (a current frame decoded from the live GOP cache by a short ffmpeg run, stored
 * as JPEG, an `images` and a `capture_attempts` row), for BENCH_SECONDS each (default 60),
 * camera health checks off in both (they take current frames too). Target (issue: capture
 * adds under 2 % of one core and under 10 MB).
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

async function run(capture: boolean): Promise<Result | null> {
  const dir = makeTempDir(`dashcam-bench-capture-${capture ? "on" : "off"}-`);
  const dataDir = join(dir, "data");
  try {
    const cameras = highwayCameras(CAMERAS).map((cam) => (capture ? { ...cam, timelapse: { interval_seconds: 10 } } : cam));
    const configPath = join(dir, "dashcam.toml");
    writeFileSync(configPath, stringify({ data_dir: dataDir, http: { listen: "127.0.0.1:0" }, health: { enabled: false }, cameras }));
    const proc = spawnProc([BUN, MAIN, "run", "--config", configPath], { cwd: ROOT, env: { DASHCAM_BOOT_ID: `bench-capture-${capture}`, NO_COLOR: "1" } });
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

const off = await run(false);
const on = await run(true);
const line = (name: string, r: Result) =>
  `  ${name.padEnd(12)} runtime CPU ${r.cpuPct.toFixed(2)} % of one core, frame decodes ${r.decodePct.toFixed(2)} %, RSS mean ${r.meanRss.toFixed(1)} MB (max ${r.maxRss.toFixed(1)}); ` +
  `recorders ${r.kidsPct.toFixed(1)} %, ${r.kidsRss.toFixed(0)} MB; ${r.images} images, ${r.attempts} attempts (${r.failed} not successful) in ${r.wall.toFixed(0)} s`;
if (!off || !on) console.log("timelapse capture bench: a run gave too few samples");
else {
  console.log(`timelapse capture bench: ${CAMERAS} cameras (file: highway 1280x720), ${SECONDS} s sampled after ${WARMUP_S} s, capture every 10 s`);
  console.log(line("capture off", off));
  console.log(line("capture on", on));
  const addedCpu = on.cpuPct + on.decodePct - (off.cpuPct + off.decodePct);
  console.log(
    `  capture adds ${addedCpu.toFixed(2)} % of one core (runtime + its frame decodes; target < 2 %) and ${(on.meanRss - off.meanRss).toFixed(1)} MB mean RSS (max ${(on.maxRss - off.maxRss).toFixed(1)} MB; target < 10 MB)`,
  );
}
