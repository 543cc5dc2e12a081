/**
 * Bench: footage lost per SIGKILL power cut (DESIGN.md invariant 6), many kills. Runs the soak
 * of test/helpers/powercut.ts (two cameras: the highway clip as a file source with 10 s
 * segments, the test pattern with 2 s segments; random kills and saves) and prints the loss per
 * kill (max, median, per camera), the salvaged bytes, and any broken invariant. Asserts nothing.
 *
 * Env: BENCH_KILLS (default 30), BENCH_MAX_LOSS (max_loss_seconds, default 2), BENCH_SEED.
 * SIGKILL leaves the page cache alone, so this measures what ffmpeg had not written yet; the
 * real power cut (page cache lost too) is `bun test/vm/powercut.ts`.
 */
import { makeTempDir, removeDir } from "../test/helpers/runtime.ts";
import { killAllStarted } from "../test/helpers/proc.ts";
import { median, runPowercutSoak, SOAK_CAMERAS } from "../test/helpers/powercut.ts";

const kills = Number(process.env.BENCH_KILLS ?? 30);
const maxLoss = Number(process.env.BENCH_MAX_LOSS ?? 2);
const seed = Number(process.env.BENCH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const dir = makeTempDir("dashcam-bench-loss-");
try {
  const r = await runPowercutSoak({ dir, kills, seed, maxLossSeconds: maxLoss, log: (l) => console.log(`  ${l}`) });
  const fmt = (xs: number[]) => `max ${Math.max(...xs)} ms, median ${median(xs)} ms`;
  console.log(`powercut-loss bench: ${kills} SIGKILLs (seed ${seed}), max_loss_seconds ${maxLoss}, ${r.seconds.toFixed(0)} s`);
  console.log(`  all cameras: loss ${fmt(r.losses.map((l) => l.lossMs))} (negative = within the measurement's ~0.1 s noise)`);
  for (const c of SOAK_CAMERAS) {
    const mine = r.losses.filter((l) => l.camera === c.key);
    const salvaged = mine.filter((l) => l.salvagedBytes > 0);
    console.log(
      `  ${c.key} (${c.segment_seconds} s segments): loss ${fmt(mine.map((l) => l.lossMs))}; segment in progress salvaged at ${salvaged.length}/${mine.length} kills, ` +
        `median ${(median(salvaged.map((l) => l.salvagedMs)) / 1000).toFixed(2)} s / ${median(salvaged.map((l) => l.salvagedBytes))} bytes`,
    );
  }
  console.log(`  ${r.saves} saves, ${r.savedTrips.length} saved trips, ${r.segments} segments; problems: ${r.problems.length ? `\n    ${r.problems.join("\n    ")}` : "none"}`);
} finally {
  killAllStarted();
  removeDir(dir);
}
