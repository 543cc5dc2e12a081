/**
 * Bench: the cost of bounded loss (DESIGN.md invariant 6): ffmpeg writing every packet through
 * and the runtime fdatasyncing the segment being written every `max_loss_seconds / 2`, with 4
 * cameras recording `file:` sources for BENCH_SECONDS (default 30) per setting. Prints numbers,
 * asserts nothing.
 *
 * Settings: `max_loss_seconds` = 60 (a sync every 30 s: as good as none over one run), 2 (the
 * default: every 1 s) and 0.5 (every 0.25 s); two sources: the highway clip as it is (1280x720,
 * ~0.11 Mbit/s: a worst case, little footage per sync) and the same clip re-encoded at ~4 Mbit/s
 * with a keyframe every 2 s (a real camera's rate; made once by Debian's ffmpeg).
 *
 * Measured:
 * - CPU of the runtime (bun pid) and of its ffmpeg children, % of one core, from utime + stime
 *   in /proc/<pid>/stat (clock ticks, CLK_TCK = 100);
 * - write amplification = bytes the data disk received / bytes of footage (segment files at the
 *   end). The data directory is an ext4 file system on a loop device made for the bench, so
 *   /sys/block/loopN/stat (sectors written, 512 bytes each) counts exactly this runtime's writes:
 *   file data, the rewrites of a partial last page at every sync, ext4's journal, SQLite's WAL.
 *   Without root (no loop device) it says so and reports the CPU only.
 *
 * Env: BENCH_SECONDS (default 30), BENCH_CAMERAS (default 4), BENCH_KEEP=1 keeps the files.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, MAIN, ROOT, makeTempDir, writeConfig, terminate } from "../test/helpers/runtime.ts";
import { HIGHWAY_CLIP } from "../test/helpers/rtsp.ts";
import { killAllStarted, sleep, spawnProc } from "../test/helpers/proc.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const CAMERAS = Number(process.env.BENCH_CAMERAS ?? 4);
const CLK_TCK = 100;
const SETTINGS = [60, 2, 0.5];

/** utime + stime of a pid, clock ticks (0 when gone). */
function ticks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** Pids whose parent is `ppid`. */
function children(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === ppid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Sectors written to a block device so far (field 7 of /sys/block/<dev>/stat). */
function sectorsWritten(dev: string): number {
  return Number(readFileSync(`/sys/block/${dev}/stat`, "utf8").trim().split(/\s+/)[6]);
}

function sh(cmd: string[]): { ok: boolean; out: string } {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { ok: r.exitCode === 0, out: (r.stdout.toString() + r.stderr.toString()).trim() };
}

/** An ext4 file system on a fresh loop device mounted at `mnt`: [loop device name, cleanup], or null. */
function loopFilesystem(dir: string, mnt: string): [string, () => void] | null {
  const img = join(dir, "disk.img");
  writeFileSync(img, "");
  if (!sh(["truncate", "-s", "4G", img]).ok || !sh(["mkfs.ext4", "-q", "-F", img]).ok) return null;
  const attach = sh(["losetup", "--find", "--show", img]);
  if (!attach.ok) return null;
  const dev = attach.out.split("\n").pop()!;
  mkdirSync(mnt, { recursive: true });
  if (!sh(["mount", "-t", "ext4", dev, mnt]).ok) {
    sh(["losetup", "-d", dev]);
    return null;
  }
  return [dev.replace("/dev/", ""), () => {
    sh(["umount", mnt]);
    sh(["losetup", "-d", dev]);
  }];
}

/** Total bytes of the segment files under `<dataDir>/recordings`. */
function footageBytes(dataDir: string): number {
  let sum = 0;
  const rec = join(dataDir, "recordings");
  for (const cam of readdirSync(rec)) for (const f of readdirSync(join(rec, cam))) if (f.endsWith(".ts")) sum += statSync(join(rec, cam, f)).size;
  return sum;
}

async function runOnce(dir: string, clip: string, maxLoss: number, disk: string | null): Promise<string> {
  const dataDir = join(dir, "data");
  rmSync(dataDir, { recursive: true, force: true });
  const configPath = writeConfig(dir, {
    data_dir: dataDir,
    cameras: [...Array(CAMERAS)].map((_, i) => ({ key: `cam${i + 1}`, source: `file:${clip}`, segment_seconds: 10, ring_segments: 1000, max_loss_seconds: maxLoss })),
  });
  const proc = spawnProc([BUN, MAIN, "run", "--config", configPath], { cwd: ROOT, env: { DASHCAM_BOOT_ID: `bench-sync-${maxLoss}`, NO_COLOR: "1" } });
  await proc.waitForLine(/listening on http:\/\//, 60_000, "stdout");
  await sleep(2000); // start-up writes (schema, first trips) are not the steady state
  const kids = children(proc.pid);
  const cpu0 = { self: ticks(proc.pid), kids: kids.reduce((a, k) => a + ticks(k), 0) };
  if (disk) sh(["sync"]); // start-up writes still in the page cache are not this window's
  const sectors0 = disk ? sectorsWritten(disk) : 0;
  const footage0 = footageBytes(dataDir);
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = { self: ticks(proc.pid), kids: kids.reduce((a, k) => a + ticks(k), 0) };
  // what reached the disk during the window: footage written meanwhile vs sectors written
  if (disk) sh(["sync"]); // the footage still in the page cache counts on both sides
  const sectors1 = disk ? sectorsWritten(disk) : 0;
  const footage1 = footageBytes(dataDir);
  await terminate(proc, 20_000);
  const footage = footage1 - footage0;
  const written = (sectors1 - sectors0) * 512;
  const selfPct = ((cpu1.self - cpu0.self) / CLK_TCK / wall) * 100;
  const kidPct = ((cpu1.kids - cpu0.kids) / CLK_TCK / wall) * 100;
  const amp = disk ? `disk ${(written / 1e6).toFixed(2)} MB for ${(footage / 1e6).toFixed(2)} MB of footage = ${(written / footage).toFixed(2)}x` : "disk: not measured (no loop device)";
  return `max_loss_seconds ${String(maxLoss).padStart(3)} (sync every ${(maxLoss / 2).toFixed(2)} s): runtime CPU ${selfPct.toFixed(1)} %, ffmpeg x${kids.length} CPU ${kidPct.toFixed(1)} %; ${amp}`;
}

const dir = makeTempDir("dashcam-bench-sync-");
let cleanup: (() => void) | null = null;
try {
  const mnt = join(dir, "mnt");
  const loop = process.getuid?.() === 0 ? loopFilesystem(dir, mnt) : null;
  cleanup = loop?.[1] ?? null;
  const work = loop ? mnt : dir;
  const high = join(dir, "highway-4mbit.mp4");
  const made = sh(["/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-i", HIGHWAY_CLIP, "-t", "20", "-an", "-c:v", "libx264", "-preset", "ultrafast",
    "-b:v", "4M", "-maxrate", "4M", "-bufsize", "8M", "-g", "50", "-keyint_min", "50", "-pix_fmt", "yuv420p", high]);
  const clips: [string, string][] = [["highway clip (0.11 Mbit/s)", HIGHWAY_CLIP]];
  if (made.ok) clips.push(["highway at ~4 Mbit/s", high]);
  else console.log(`(could not make the 4 Mbit/s clip: ${made.out.split("\n")[0]})`);
  console.log(`sync-cost bench: ${CAMERAS} cameras, ${SECONDS} s per setting, data on ${loop ? `ext4 on /dev/${loop[0]}` : "the temp dir (no loop device: not root or losetup failed)"}`);
  for (const [name, clip] of clips) {
    console.log(`  ${name}:`);
    for (const maxLoss of SETTINGS) console.log(`    ${await runOnce(work, clip, maxLoss, loop?.[0] ?? null)}`);
  }
} finally {
  killAllStarted();
  cleanup?.();
  if (process.env.BENCH_KEEP) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
