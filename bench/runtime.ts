/**
 * Bench: memory and CPU of the runtime process with 4 cameras recording `file:` sources of the
 * highway clip (real 1280x720 H.264, played in real time and looped by the recorder) for
 * ~60 s (target: <= 80 MB RSS, ffmpeg excluded). Prints numbers, asserts nothing.
 *
 * Measured from /proc of the bun process only: VmRSS and VmHWM from /proc/<pid>/status,
 * utime + stime from /proc/<pid>/stat (fields 14 and 15, clock ticks; CLK_TCK = 100 on Linux
 * x86-64/arm64, see proc(5)), sampled every second. ffmpeg children are reported separately
 * for information (sum of their RSS and CPU), never added to the runtime's numbers.
 *
 * Env: BENCH_SECONDS (default 60), BENCH_CAMERAS (default 4), BENCH_KEEP=1 keeps the dir.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { BUN, MAIN, ROOT, makeTempDir, writeConfig, terminate, readDb } from "../test/helpers/runtime.ts";
import { killAllStarted, sleep, spawnProc } from "../test/helpers/proc.ts";
import { CLK_TCK, children, highwayCameras, sample, type ProcSample } from "./lib/runtimeBench.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const CAMERAS = Number(process.env.BENCH_CAMERAS ?? 4);

const dir = makeTempDir("dashcam-bench-runtime-");
const dataDir = join(dir, "data");
try {
  const cameras = highwayCameras(CAMERAS);
  const configPath = writeConfig(dir, { data_dir: dataDir, cameras });
  const proc = spawnProc([BUN, MAIN, "run", "--config", configPath], {
    cwd: ROOT,
    env: { DASHCAM_BOOT_ID: "bench-runtime", NO_COLOR: "1" },
  });
  await proc.waitForLine(/listening on http:\/\//, 60_000, "stdout");
  const pid = proc.pid;

  const samples: { t: number; self: ProcSample; kids: { rssKb: number; ticks: number; n: number } }[] = [];
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000 && proc.alive()) {
    const self = sample(pid);
    if (!self) break;
    let rssKb = 0;
    let ticks = 0;
    const kids = children(pid);
    for (const k of kids) {
      const s = sample(k);
      if (s) {
        rssKb += s.rssKb;
        ticks += s.ticks;
      }
    }
    samples.push({ t: performance.now(), self, kids: { rssKb, ticks, n: kids.length } });
    await sleep(1000);
  }
  const segments = readDb(dataDir, (db) => (db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n) ?? 0;
  const code = await terminate(proc, 20_000);

  if (samples.length < 3) {
    console.log(`runtime bench: too few samples (${samples.length}); runtime exit ${code}: ${proc.stderr.slice(-5).join(" | ")}`);
  } else {
    const first = samples[0];
    const last = samples[samples.length - 1];
    const wall = (last.t - first.t) / 1000;
    const cpuPct = ((last.self.ticks - first.self.ticks) / CLK_TCK / wall) * 100;
    const rss = samples.map((s) => s.self.rssKb / 1024);
    const meanRss = rss.reduce((a, b) => a + b, 0) / rss.length;
    const maxRss = Math.max(...rss);
    const hwm = last.self.hwmKb / 1024;
    const kidCpu = ((last.kids.ticks - first.kids.ticks) / CLK_TCK / wall) * 100;
    console.log(
      `runtime bench: ${CAMERAS} cameras (file: highway 1280x720), ${wall.toFixed(0)} s sampled, ${segments} segments indexed\n` +
        `  runtime (bun pid only): RSS mean ${meanRss.toFixed(1)} MB, max ${maxRss.toFixed(1)} MB, peak VmHWM ${hwm.toFixed(1)} MB (target <= 80 MB); ` +
        `CPU ${cpuPct.toFixed(1)} % of one core\n` +
        `  for information, its ${last.kids.n} child processes (ffmpeg): RSS ${(last.kids.rssKb / 1024).toFixed(1)} MB, CPU ${kidCpu.toFixed(1)} % of one core\n` +
        `  orderly stop exit code ${code}`,
    );
  }
} finally {
  killAllStarted();
  if (process.env.BENCH_KEEP) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
