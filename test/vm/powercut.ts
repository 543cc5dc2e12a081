#!/usr/bin/env bun
/**
 * A real power cut, in a virtual machine: `bun test/vm/powercut.ts [--kills N] [--seed N] [--accel kvm|tcg] [--max-loss S] [--keep] [--verbose]`.
 *
 * The guest (KVM, or qemu's TCG emulator where /dev/kvm cannot run a stock kernel, Debian's `qemu-system-x86` and `linux-image-amd64` kernel, the initramfs of
 * ./initramfs.ts: busybox, the compiled x64 dashcam, the static npm ffmpeg, the highway clip)
 * records two cameras onto a virtio disk (an ext4 image this script formats with mkfs.ext4):
 * the highway clip as a `file:` source (10 s segments) and a 320x180 copy of it with a keyframe
 * every second (2 s segments; made here by Debian's ffmpeg: stream copy is cheap enough for an
 * emulated guest, the test pattern's libx264 encoding was not real-time under TCG),
 * `max_loss_seconds = 2`. Each boot: the guest mounts the disk (ext4 replays its journal),
 * starts `dashcam run` (reconciliation salvages the segment the last cut interrupted), runs
 * `dashcam check` until clean, sometimes saves the current trips (`dashcam trips save
 * --current`), records, and prints its wall clock every 100 ms. The host then SIGKILLs qemu at
 * a random moment 4-14 s into the recording: the guest's page cache is gone, exactly as at a
 * power cut (the disk image is written by qemu with cache=unsafe: what the guest had sent to its
 * disk is in the host's page cache, which survives; only what the guest had not sent is lost).
 *
 * A final boot (`dashcam.mode=final`) reconciles, checks, stops the runtime in order and powers
 * off; the host then reads the database and the saved MP4s out of the image with `debugfs`
 * (e2fsprogs, no mount needed) and measures the loss of every camera at every kill, like the
 * SIGKILL soak (test/helpers/powercut.ts): kill time (the last guest clock tick received + the
 * host time since) - (end of the run's last segment indexed before the cut + the durations of
 * the segments salvaged after it), or, when the cut came in the run's first segment, kill time -
 * (ffmpeg's start from the runtime's log + the salvaged durations), an upper bound.
 *
 * Prints every kill's loss and the max/median; exits 1 when a check was not clean, a loss was
 * over max_loss_seconds + one packet (+ 0.1 s of tick granularity), a row was removed because
 * its file was missing, or a saved trip's MP4 is unplayable; 2 when something it needs is
 * missing. Not part of `npm test`: a boot loads a 150 MB initramfs and the run takes ~2-3 min.
 * `--keep` keeps the work directory (disk image, console logs).
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildInitramfs } from "./initramfs.ts";
import { rng, sleep, spawnProc, type Proc } from "../helpers/proc.ts";
import { probe } from "../helpers/media.ts";
import { HIGHWAY_CLIP } from "../helpers/rtsp.ts";

const ROOT = resolve(import.meta.dir, "../..");
const TICK_MS = 100;
const CAMERAS = [
  { key: "hwy", packetMs: 40 },
  { key: "small", packetMs: 40 },
];
const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: {
    kills: { type: "string", default: "4" },
    seed: { type: "string" },
    accel: { type: "string" },
    "max-loss": { type: "string", default: "2" },
    keep: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
  },
});
const KILLS = Number(args.kills);
const SEED = Number(args.seed ?? Math.floor(Math.random() * 2 ** 31));
/** The guest's max_loss_seconds (`--max-loss 60` syncs every 30 s: a control run without syncing). */
const MAX_LOSS_SECONDS = Number(args["max-loss"]);
const CONFIG = `data_dir = "/data/dc"
max_loss_seconds = ${MAX_LOSS_SECONDS}
[http]
listen = "127.0.0.1:8080"
[[cameras]]
key = "hwy"
source = "file:/opt/dashcam/clip.mp4"
segment_seconds = 10
ring_segments = 100000
[[cameras]]
key = "small"
source = "file:/opt/dashcam/small.mp4"
segment_seconds = 2
ring_segments = 100000
`;


function missing(why: string): never {
  console.error(`vm powercut: ${why}`);
  process.exit(2);
}

/** The newest installed Debian kernel: [release, vmlinuz path]. */
function kernel(): [string, string] {
  const names = existsSync("/boot") ? readdirSync("/boot").filter((n) => /^vmlinuz-/.test(n)).sort() : [];
  if (!names.length) missing("no kernel in /boot (apt-get install linux-image-amd64)");
  const name = names[names.length - 1];
  return [name.slice("vmlinuz-".length), join("/boot", name)];
}

/** Guest wall clock of a `VM: TICK <s> <us>` / `VM: BOOT <s> <us>` line, ms. */
const guestMs = (s: string, us: string) => Number(s) * 1000 + Math.floor(Number(us) / 1000);
/** Unix ms of a runtime log line `2026-...Z level message`, or NaN. */
const logMs = (line: string) => Date.parse(line.split(" ")[0] ?? "");

interface Boot {
  index: number;
  console: string[];
  checkRc: number | null;
  /** camera -> [first segment of the run, ffmpeg spawn time (guest ms)] */
  ffmpegStarted: Map<string, [number, number]>;
  /** camera -> absolute indexes salvaged at this boot's start-up */
  salvaged: Map<string, Set<number>>;
  removedRows: string[];
  killedAt: number | null;
  saved: boolean;
}

function parseBoot(index: number, lines: string[]): Boot {
  const b: Boot = { index, console: lines, checkRc: null, ffmpegStarted: new Map(), salvaged: new Map(), removedRows: [], killedAt: null, saved: false };
  for (const raw of lines) {
    const line = raw.replace(/^VM: log: /, "");
    let m = /^VM: CHECK (\d+)/.exec(raw);
    if (m) b.checkRc = Number(m[1]);
    m = /camera (\w+): ffmpeg started \(pid \d+, first segment (\d+)\)/.exec(line);
    if (m && !b.ffmpegStarted.has(m[1])) b.ffmpegStarted.set(m[1], [Number(m[2]), logMs(line)]);
    m = /camera (\w+): salvaged segment (\d+)/.exec(line);
    if (m) {
      if (!b.salvaged.has(m[1])) b.salvaged.set(m[1], new Set());
      b.salvaged.get(m[1])!.add(Number(m[2]));
    }
    if (/removed the row of segment/.test(line)) b.removedRows.push(line);
    if (/^VM: SAVE 0/.test(raw)) b.saved = true;
  }
  return b;
}

/**
 * The accelerator: `kvm` where /dev/kvm runs ordinary guests, else `tcg` (qemu's emulator). A
 * host whose /dev/kvm is PVM (`kvm_pvm` module: nested virtualisation without VMX, as on this
 * project's build machines) runs only guest kernels built for PVM; Debian's kernel hangs there
 * right after decompression, so TCG it is (measured: boot to recording ~25 s).
 */
function accelerator(): "kvm" | "tcg" {
  if (args.accel === "kvm" || args.accel === "tcg") return args.accel;
  if (args.accel) missing("--accel must be kvm or tcg");
  return existsSync("/dev/kvm") && !existsSync("/sys/module/kvm_pvm") ? "kvm" : "tcg";
}

/** Starts the VM (its serial console is the process's stdout). */
async function boot(kernelPath: string, initrd: string, disk: string, append: string, label: string): Promise<Proc> {
  const accel = accelerator() === "kvm" ? ["-enable-kvm", "-cpu", "host"] : ["-accel", "tcg,thread=multi", "-cpu", "max"];
  const qemu = spawnProc(
    [
      "qemu-system-x86_64", ...accel, "-smp", "2", "-m", "1024",
      "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot", "-nic", "none",
      "-kernel", kernelPath, "-initrd", initrd,
      "-append", `console=ttyS0 quiet loglevel=3 panic=-1 ${append}`,
      "-drive", `file=${disk},format=raw,if=virtio,cache=unsafe`,
      "-rtc", "base=utc",
    ],
    { onLine: args.verbose ? (_, l) => console.log(`[${label}] ${l}`) : undefined },
  );
  return qemu;
}

/** Reads a file out of an ext4 image with debugfs; false when it is not there. */
function dumpFromImage(disk: string, path: string, out: string): boolean {
  const r = Bun.spawnSync(["debugfs", "-R", `dump ${path} ${out}`, disk], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 && existsSync(out) && !/File not found/.test(r.stderr.toString());
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : 0;
};

async function main(): Promise<number> {
  for (const tool of ["qemu-system-x86_64", "mkfs.ext4", "debugfs", "cpio", "modprobe"])
    if (!Bun.which(tool)) missing(`${tool} is missing (test/system-deps.sh installs qemu-system-x86, e2fsprogs, cpio, kmod)`);
  const [release, vmlinuz] = kernel();
  const ffmpeg = join(ROOT, "node_modules/@ffmpeg-installer/linux-x64/ffmpeg");
  if (!existsSync(ffmpeg)) missing(`${ffmpeg} is missing (npm install)`);

  const t0 = Date.now();
  const build = Bun.spawnSync([process.execPath, join(ROOT, "deploy/build.ts"), "--target", "x64", "--if-stale", "--no-release"], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (build.exitCode !== 0) missing("bun deploy/build.ts --target x64 failed");
  const work = mkdtempSync(join(tmpdir(), "dashcam-vm-"));
  const initrd = join(work, "initramfs.cpio");
  const small = join(work, "small.mp4");
  const made = Bun.spawnSync(["/usr/bin/ffmpeg", "-hide_banner", "-loglevel", "error", "-i", HIGHWAY_CLIP, "-vf", "scale=320:180", "-an",
    "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-pix_fmt", "yuv420p", small], { stderr: "pipe" });
  if (made.exitCode !== 0) missing(`Debian's ffmpeg could not make the small clip: ${made.stderr.toString().trim()}`);
  buildInitramfs({ out: initrd, kernelRelease: release, dashcam: join(ROOT, "dist/dashcam-linux-x64"), ffmpeg, clips: { "clip.mp4": HIGHWAY_CLIP, "small.mp4": small }, config: CONFIG });
  const disk = join(work, "data.img");
  writeFileSync(disk, "");
  Bun.spawnSync(["truncate", "-s", "1G", disk]);
  const mkfs = Bun.spawnSync(["mkfs.ext4", "-q", "-F", disk], { stderr: "pipe" });
  if (mkfs.exitCode !== 0) missing(`mkfs.ext4 failed: ${mkfs.stderr.toString()}`);
  console.log(`vm powercut: kernel ${release}, accelerator ${accelerator()}, seed ${SEED}, ${KILLS} kills, work dir ${work} (built in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  const random = rng(SEED);
  const boots: Boot[] = [];
  const problems: string[] = [];
  try {
    for (let i = 0; i <= KILLS; i++) {
      const final = i === KILLS;
      const save = !final && random() < 0.5;
      const append = `dashcam.mode=${final ? "final" : "record"}${save ? " dashcam.save=1" : ""}`;
      const bootT0 = Date.now();
      const qemu = await boot(vmlinuz, initrd, disk, append, `boot ${i}`);
      let lastTick: { guest: number; host: number } | null = null;
      const ticks = qemu.waitForLine(/^VM: RECORDING|^VM: FINAL-DONE|^VM: FATAL/, 120_000, "stdout");
      const watch = setInterval(() => {
        for (let k = qemu.stdout.length - 1; k >= 0 && k >= qemu.stdout.length - 5; k--) {
          const m = /^VM: TICK (\d+) (\d+)/.exec(qemu.stdout[k]);
          if (m) {
            const g = guestMs(m[1], m[2]);
            if (!lastTick || g > lastTick.guest) lastTick = { guest: g, host: Date.now() };
            break;
          }
        }
      }, 5);
      let killedAt: number | null = null;
      try {
        const first = await ticks;
        if (/FATAL/.test(first[0])) throw new Error(`boot ${i}: ${first[0]}\n${qemu.stdout.slice(-30).join("\n")}`);
        if (final) {
          const code = await Promise.race([qemu.exited, sleep(60_000).then(() => -1)]);
          if (code === -1) problems.push("the final boot did not power off within 60 s");
        } else {
          const recordMs = 4000 + Math.floor(random() * 10_000);
          await sleep(recordMs);
          // the guest clock at the cut: its last tick + the host time since we received it
          const tick = lastTick as { guest: number; host: number } | null;
          const hostKill = Date.now();
          qemu.signalGroup("SIGKILL");
          await qemu.exited;
          if (!tick) throw new Error(`boot ${i}: no clock tick from the guest`);
          killedAt = tick.guest + (hostKill - tick.host);
        }
      } finally {
        clearInterval(watch);
        if (qemu.alive()) {
          qemu.signalGroup("SIGKILL");
          await qemu.exited;
        }
      }
      const b = parseBoot(i, qemu.stdout);
      b.killedAt = killedAt;
      boots.push(b);
      writeFileSync(join(work, `console-${i}.log`), qemu.stdout.join("\n"));
      if (b.checkRc !== 0) problems.push(`boot ${i}: dashcam check exit ${b.checkRc}: ${qemu.stdout.filter((l) => l.startsWith("VM: check:")).join(" | ")}`);
      for (const r of b.removedRows) problems.push(`boot ${i}: ${r}`);
      if (save && !b.saved) problems.push(`boot ${i}: the save failed: ${qemu.stdout.find((l) => l.startsWith("VM: SAVE")) ?? "no SAVE line"}`);
      if (final && !qemu.stdout.some((l) => l === "VM: FINAL-DONE")) problems.push("the final boot did not finish");
      console.log(`boot ${i}: ${((Date.now() - bootT0) / 1000).toFixed(1)} s, check ${b.checkRc}${save ? ", saved" : ""}${killedAt ? ", killed" : ""}`);
    }

    // read the database out of the image (clean: the final boot unmounted it)
    const dbDir = join(work, "db");
    mkdirSync(dbDir);
    if (!dumpFromImage(disk, "/dc/dashcam.db", join(dbDir, "dashcam.db"))) throw new Error("no /dc/dashcam.db in the image");
    dumpFromImage(disk, "/dc/dashcam.db-wal", join(dbDir, "dashcam.db-wal"));
    const db = new Database(join(dbDir, "dashcam.db"), { readonly: false, strict: true });
    const rows = new Map<string, { absolute_index: number; start_utc: number; end_utc: number; bytes: number }[]>();
    for (const c of CAMERAS) {
      rows.set(c.key, db.query(
        "SELECT s.absolute_index, s.start_utc, s.end_utc, s.bytes FROM segments s JOIN cameras c ON c.id = s.camera_id WHERE c.key = ? ORDER BY s.absolute_index",
      ).all(c.key) as { absolute_index: number; start_utc: number; end_utc: number; bytes: number }[]);
    }

    const losses: { kill: number; camera: string; lossMs: number; kind: string; salvagedMs: number; salvagedBytes: number }[] = [];
    for (let i = 0; i < KILLS; i++) {
      const b = boots[i];
      const next = boots[i + 1];
      for (const c of CAMERAS) {
        const started = b.ffmpegStarted.get(c.key);
        const nextFirst = next.ffmpegStarted.get(c.key)?.[0];
        if (!started || nextFirst === undefined) {
          problems.push(`kill ${i} ${c.key}: no "ffmpeg started" line in boot ${started ? i + 1 : i}`);
          continue;
        }
        const run = rows.get(c.key)!.filter((r) => r.absolute_index >= started[0] && r.absolute_index < nextFirst);
        const salvagedSet = next.salvaged.get(c.key) ?? new Set<number>();
        const salvaged = run.filter((r) => salvagedSet.has(r.absolute_index));
        const lastIndexed = run.filter((r) => !salvagedSet.has(r.absolute_index)).at(-1);
        const dur = (rs: typeof run) => rs.reduce((a, r) => a + (r.end_utc - r.start_utc), 0);
        const lossMs = lastIndexed
          ? b.killedAt! - (lastIndexed.end_utc + dur(run.filter((r) => r.absolute_index > lastIndexed.absolute_index)))
          : b.killedAt! - (started[1] + dur(run));
        const sample = { kill: i, camera: c.key, lossMs, kind: lastIndexed ? "anchored" : "upper", salvagedMs: dur(salvaged), salvagedBytes: salvaged.reduce((a, r) => a + r.bytes, 0) };
        losses.push(sample);
        console.log(`kill ${i} ${c.key}: loss ${lossMs} ms (${sample.kind}), salvaged ${salvaged.length} segment(s), ${(sample.salvagedMs / 1000).toFixed(2)} s, ${sample.salvagedBytes} bytes`);
        if (lossMs > MAX_LOSS_SECONDS * 1000 + c.packetMs + TICK_MS) problems.push(`kill ${i} ${c.key}: lost ${lossMs} ms`);
      }
    }

    // saved trips: status saved, MP4 playable
    const saved = db.query("SELECT t.id, t.status, s.mp4_path FROM trips t JOIN saved_trips s ON s.trip_id = t.id").all() as { id: number; status: string; mp4_path: string | null }[];
    for (const s of saved) {
      const out = join(work, `trip-${s.id}.mp4`);
      if (s.status !== "saved" || !s.mp4_path || !dumpFromImage(disk, `/dc/${s.mp4_path}`, out)) {
        problems.push(`saved trip ${s.id}: status ${s.status}, MP4 ${s.mp4_path} not in the image`);
        continue;
      }
      try {
        const p = await probe(out);
        if (p.video?.codec !== "h264" || !(p.duration > 0)) problems.push(`saved trip ${s.id}: ${JSON.stringify(p)}`);
      } catch (err) {
        problems.push(`saved trip ${s.id}: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    const locked = (db.query("SELECT COUNT(*) AS n FROM segments WHERE evidence_locked = 1").get() as { n: number }).n;
    db.close();

    const ms = losses.map((l) => l.lossMs);
    console.log(
      `vm powercut: ${KILLS} power cuts x ${CAMERAS.length} cameras: loss max ${Math.max(...ms)} ms, median ${median(ms)} ms; ` +
        `segment in progress salvaged at ${losses.filter((l) => l.salvagedBytes > 0).length}/${losses.length}; ` +
        `${saved.length} saved trip(s), ${locked} evidence-locked segments; ${((Date.now() - t0) / 1000).toFixed(0)} s in all`,
    );
    if (problems.length) console.log(`PROBLEMS:\n  ${problems.join("\n  ")}`);
    else console.log("vm powercut: every check clean, every loss within max_loss_seconds + one packet");
    return problems.length ? 1 : 0;
  } finally {
    if (args.keep) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

process.exit(await main());
