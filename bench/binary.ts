#!/usr/bin/env bun
/**
 * Benchmarks of the compiled x64 binary (numbers printed, nothing asserted):
 * - sizes of dist/dashcam-linux-{x64,arm64} and the ffmpeg shipped next to each;
 * - ms from exec to the first `/healthz` 200, median (and min/max) of `--runs` starts, on a fresh
 *   data directory ("first boot": database created) and on an existing one ("power-up");
 * - idle RSS: VmRSS of the dashcam process (and, separately, of its ffmpeg) `--idle-s` seconds
 *   after start, with one test-pattern camera and ALPR off.
 * Targets (a Pi-class device): start <= 300 ms, idle RSS <= 60 MB.
 *
 * usage: bun bench/binary.ts [--runs 7] [--idle-s 10] [--binary dist/release-x64/dashcam]
 * The binary is built first when missing or stale (`bun deploy/build.ts --if-stale --target x64`).
 * Runs from a temp folder outside the repository with a clean environment (systemd's PATH).
 */
import { parseArgs } from "node:util";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";

const REPO = resolve(import.meta.dir, "..");
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    runs: { type: "string", default: "7" },
    "idle-s": { type: "string", default: "10" },
    binary: { type: "string" },
  },
});
const RUNS = Math.max(1, Number(values.runs));
const IDLE_MS = Math.max(1, Number(values["idle-s"])) * 1000;

if (!values.binary) {
  const r = Bun.spawnSync([process.execPath, "deploy/build.ts", "--if-stale", "--target", "x64"], { cwd: REPO, stdout: "inherit", stderr: "inherit" });
  if (!r.success) process.exit(1);
}
const source = resolve(values.binary ?? join(REPO, "dist/release-x64/dashcam"));

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

console.log("binary sizes");
for (const arch of ["x64", "arm64"]) {
  const bin = join(REPO, `dist/dashcam-linux-${arch}`);
  const ff = join(REPO, `dist/release-${arch}/ffmpeg`);
  if (existsSync(bin)) console.log(`  dashcam-linux-${arch.padEnd(6)} ${mb(statSync(bin).size).padStart(9)}   ffmpeg next to it: ${existsSync(ff) ? mb(statSync(ff).size) : "-"}`);
}

// A temp folder outside the repository holding the binary and its ffmpeg.
const base = mkdtempSync(join(tmpdir(), "dashcam-bench-"));
const binDir = join(base, "bin");
mkdirSync(binDir);
copyFileSync(source, join(binDir, "dashcam"));
const ffmpeg = join(dirname(source), "ffmpeg");
if (existsSync(ffmpeg)) copyFileSync(ffmpeg, join(binDir, "ffmpeg"));
// systemd's default service PATH; the ffmpeg next to the binary is found before it.
const env = { HOME: base, PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", TZ: "UTC" };

function freePort(): number {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const p = s.port!;
  s.stop(true);
  return p;
}

function writeConfig(dataDir: string, port: number): string {
  const file = join(base, `config-${port}.toml`);
  writeFileSync(
    file,
    `data_dir = ${JSON.stringify(dataDir)}\n[http]\nlisten = "127.0.0.1:${port}"\n\n[[cameras]]\nkey = "bench"\nsource = "testsrc"\nwidth = 320\nheight = 240\nfps = 10\nsegment_seconds = 2\nring_segments = 100\n`,
  );
  return file;
}

/** Starts dashcam; resolves with ms from spawn to the first /healthz 200 (polled every 2 ms). */
async function startOnce(dataDir: string) {
  const port = freePort();
  const config = writeConfig(dataDir, port);
  const t0 = performance.now();
  const proc = Bun.spawn([join(binDir, "dashcam"), "run", "--config", config], { cwd: binDir, env, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const url = `http://127.0.0.1:${port}/healthz`;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`dashcam exited with ${proc.exitCode}: ${await new Response(proc.stderr).text()}`);
    const res = await fetch(url).catch(() => null);
    if (res?.status === 200) {
      await res.arrayBuffer();
      return { proc, ms: performance.now() - t0 };
    }
    if (performance.now() - t0 > 30_000) throw new Error("no /healthz 200 within 30 s");
    await sleep(2);
  }
}

async function stop(proc: ReturnType<typeof Bun.spawn>) {
  proc.kill("SIGTERM");
  await proc.exited;
}

function statusKb(pid: number, field: "VmRSS" | "VmHWM" | "RssAnon" | "RssFile"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** Descendants of `pid` running an executable named ffmpeg (the recorder may sit under setpriv/sh). */
function ffmpegDescendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) {
      if (pp !== p) continue;
      try {
        if (basename(readlinkSync(`/proc/${child}/exe`)) === "ffmpeg") out.push(child);
      } catch {
        // gone
      }
      walk(child);
    }
  };
  walk(pid);
  return out;
}

try {
  const fresh: number[] = [];
  const warm: number[] = [];
  const warmDir = join(base, "data-warm");
  for (let i = 0; i < RUNS; i++) {
    const dir = join(base, `data-fresh-${i}`);
    const a = await startOnce(dir);
    fresh.push(a.ms);
    await stop(a.proc);
    rmSync(dir, { recursive: true, force: true });
    const b = await startOnce(warmDir); // the first one creates it, later ones reopen it
    warm.push(b.ms);
    await stop(b.proc);
  }
  const line = (name: string, xs: number[]) =>
    console.log(`  ${name.padEnd(34)} median ${median(xs).toFixed(0).padStart(4)} ms   min ${Math.min(...xs).toFixed(0)}  max ${Math.max(...xs).toFixed(0)}  (n=${xs.length})`);
  console.log(`exec -> /healthz 200 (x64, one testsrc camera, ALPR off; target <= 300 ms)`);
  line("fresh data dir (database created)", fresh);
  line("existing data dir (power-up)", warm.slice(1).length ? warm.slice(1) : warm);

  const { proc } = await startOnce(warmDir);
  await sleep(IDLE_MS);
  const rss = statusKb(proc.pid, "VmRSS");
  const hwm = statusKb(proc.pid, "VmHWM");
  const anon = statusKb(proc.pid, "RssAnon");
  const file = statusKb(proc.pid, "RssFile");
  const ff = ffmpegDescendants(proc.pid).map((p) => statusKb(p, "VmRSS")).filter((n) => !Number.isNaN(n));
  await stop(proc);
  console.log(`idle RSS after ${IDLE_MS / 1000} s (target <= 60 MB)`);
  const both = (kb: number) => `${(kb / 1024).toFixed(1)} MiB = ${((kb * 1024) / 1e6).toFixed(1)} MB`;
  console.log(`  dashcam VmRSS ${both(rss)} (peak VmHWM ${both(hwm)})`);
  console.log(`    private (RssAnon) ${both(anon)}; file-backed (RssFile, clean pages of the executable) ${both(file)}`);
  if (ff.length) console.log(`  ffmpeg  VmRSS ${(ff.reduce((a, b) => a + b, 0) / 1024).toFixed(1)} MiB (separate process, not counted above)`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
