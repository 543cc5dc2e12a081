/**
 * Bench: what the camera health monitor adds to the runtime. Runs `dashcam run` twice with the
 * same 4 cameras recording `file:` sources of the highway clip (real 1280x720 H.264, played in
 * real time and looped): once with `[health] enabled = false`, once with every camera checked
 * every 60 s (`health_interval_seconds = 60`; the first check runs 30 s after start). Prints,
 * for each run, the bun process's CPU (% of one core) and RSS (mean, max, VmHWM), the CPU of
 * its child processes (the recorders, and the frame decodes a check asks for), the number of
 * checks done, and the difference (health on minus health off). Asserts nothing.
 *
 * Measured from /proc (bench/lib/runtimeBench.ts), sampled every second after the runtime listens.
 * The machine may be shared: run it on an idle machine for stable numbers.
 *
 * Env: BENCH_SECONDS per run (default 150, so every camera is checked at least twice),
 * BENCH_CAMERAS (default 4), BENCH_KEEP=1 keeps the directories.
 */
import { appendFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BUN, MAIN, ROOT, makeTempDir, writeConfig, terminate, readDb } from "../test/helpers/runtime.ts";
import { killAllStarted, sleep, spawnProc } from "../test/helpers/proc.ts";
import { CLK_TCK, children, highwayCameras, sample } from "./lib/runtimeBench.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 150);
const CAMERAS = Number(process.env.BENCH_CAMERAS ?? 4);

interface RunResult {
  cpuPct: number;
  kidsCpuPct: number;
  meanRssMb: number;
  maxRssMb: number;
  hwmMb: number;
  checks: number;
  seconds: number;
}

async function runOnce(health: boolean): Promise<RunResult | null> {
  const dir = makeTempDir(`dashcam-bench-health-${health ? "on" : "off"}-`);
  const dataDir = join(dir, "data");
  try {
    const cameras = highwayCameras(CAMERAS, health ? { health_interval_seconds: 60 } : {});
    const configPath = writeConfig(dir, { data_dir: dataDir, cameras });
    appendFileSync(configPath, `\n[health]\nenabled = ${health}\n`);
    const proc = spawnProc([BUN, MAIN, "run", "--config", configPath], { cwd: ROOT, env: { DASHCAM_BOOT_ID: `bench-health-${health}`, NO_COLOR: "1" } });
    await proc.waitForLine(/listening on http:\/\//, 60_000, "stdout");
    const samples: { t: number; rssKb: number; hwmKb: number; ticks: number; kidTicks: number }[] = [];
    // children that exit between samples (frame decodes) take their CPU with them; their ticks are
    // kept from the last sample in which they were seen
    const kidTicks = new Map<number, number>();
    const t0 = performance.now();
    while (performance.now() - t0 < SECONDS * 1000 && proc.alive()) {
      const self = sample(proc.pid);
      if (!self) break;
      for (const k of children(proc.pid)) {
        const s = sample(k);
        if (s) kidTicks.set(k, s.ticks);
      }
      samples.push({ t: performance.now(), ...self, kidTicks: [...kidTicks.values()].reduce((a, b) => a + b, 0) });
      await sleep(1000);
    }
    const checks = readDb(dataDir, (db) => (db.query("SELECT COUNT(*) AS n FROM snapshots").get() as { n: number }).n) ?? 0;
    await terminate(proc, 20_000);
    if (samples.length < 3) return null;
    const first = samples[0]!;
    const last = samples[samples.length - 1]!;
    const wall = (last.t - first.t) / 1000;
    const rss = samples.map((s) => s.rssKb / 1024);
    return {
      cpuPct: ((last.ticks - first.ticks) / CLK_TCK / wall) * 100,
      kidsCpuPct: ((last.kidTicks - first.kidTicks) / CLK_TCK / wall) * 100,
      meanRssMb: rss.reduce((a, b) => a + b, 0) / rss.length,
      maxRssMb: Math.max(...rss),
      hwmMb: last.hwmKb / 1024,
      checks,
      seconds: wall,
    };
  } finally {
    killAllStarted();
    if (process.env.BENCH_KEEP) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (r: RunResult) =>
  `runtime CPU ${r.cpuPct.toFixed(1)} %, RSS mean ${r.meanRssMb.toFixed(1)} MB / max ${r.maxRssMb.toFixed(1)} MB / VmHWM ${r.hwmMb.toFixed(1)} MB; ` +
  `children CPU ${r.kidsCpuPct.toFixed(1)} %; ${r.checks} health checks in ${r.seconds.toFixed(0)} s`;

const off = await runOnce(false);
const on = await runOnce(true);
console.log(`health monitor bench: ${CAMERAS} cameras (file: highway 1280x720 H.264), ${SECONDS} s per run`);
if (!off || !on) console.log("  a run gave too few samples (the runtime stopped early)");
else {
  console.log(`  health off:          ${fmt(off)}`);
  console.log(`  health every 60 s:   ${fmt(on)}`);
  console.log(
    `  added by health:     runtime CPU ${(on.cpuPct - off.cpuPct).toFixed(1)} % of one core, children CPU ${(on.kidsCpuPct - off.kidsCpuPct).toFixed(1)} %, ` +
      `RSS mean ${(on.meanRssMb - off.meanRssMb).toFixed(1)} MB, VmHWM ${(on.hwmMb - off.hwmMb).toFixed(1)} MB`,
  );
}
