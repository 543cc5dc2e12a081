/**
 * Release smoke test: the compiled binaries, run the way the device runs them.
 *
 * 1. `bun deploy/build.ts --if-stale` compiles dist/dashcam-linux-{x64,arm64} and the release
 *    folders (reused when newer than every input and built from this commit).
 * 2. x64, natively: the release folder (dashcam + ffmpeg) is copied to a temp folder outside the
 *    repository and run with that folder as cwd, a clean environment (systemd's default PATH, where
 *    /usr/bin/ffmpeg may exist: the test checks the ffmpeg next to the binary is the one run) and,
 *    where the kernel allows (`unshare --mount`), the repository hidden under an empty tmpfs, so
 *    nothing can be read from node_modules or src. `--version`; `run` with the test pattern
 *    (320x240, 2 s segments) on a temp data dir and a random loopback port: `/healthz` 200, an
 *    embedded web asset, at least one segment row (read from the SQLite file), ffmpeg spawned from
 *    next to the binary; SIGTERM: exit 0 within 5 s, no open trip, every segment file indexed;
 *    `check` on the result; the same run with `[alpr]` on, until a plate_detect task is done by
 *    the vision Worker (proves the Worker entrypoint is inside the binary); `alpr` on a real
 *    photo reads its labelled plate.
 * 3. arm64 under qemu-user (`qemu-aarch64-static -L /usr/aarch64-linux-gnu`) with the release's
 *    arm64 ffmpeg: the same checks (generous waits: emulation is slow). Without a binfmt_misc
 *    registration the emulated program cannot exec an arm64 ffmpeg directly, so FFMPEG_PATH then
 *    points to a two-line script that runs that same ffmpeg under qemu.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { openDatabase } from "../src/db/open.ts";

const REPO = resolve(import.meta.dir, "..");
const DIST = join(REPO, "dist");
const PHOTOS = resolve(REPO, "../shared/data/alpr/us");
const QEMU = Bun.which("qemu-aarch64-static");
const SYSROOT = "/usr/aarch64-linux-gnu";
/** systemd's default PATH for services: /usr/bin may hold another ffmpeg, which must not be used. */
const SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };

const tmpRoots: string[] = [];
const running = new Set<Subprocess>();

function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `dashcam-smoke-${label}-`));
  tmpRoots.push(dir);
  return dir;
}

afterAll(() => {
  for (const p of running) p.kill("SIGKILL");
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Thrown inside a `waitFor` callback to stop waiting at once (the process died). */
class Fatal extends Error {}

/** Polls `fn` every `everyMs` until it returns a non-null value; throws `what` after `timeoutMs`. */
async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | null> | T | null, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== null && v !== undefined) return v;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      lastErr = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${String(lastErr)})` : ""}`);
}

function freePort(): number {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = server.port!;
  server.stop(true);
  return port;
}

/** True when this process may make a private mount namespace and mount a tmpfs in it. */
const UNSHARE = Bun.which("unshare");
const MOUNT = Bun.which("mount");
const CAN_HIDE_REPO = (() => {
  if (!UNSHARE || !MOUNT) return false;
  const r = Bun.spawnSync([UNSHARE, "--mount", "/bin/sh", "-c", `${MOUNT} -t tmpfs tmpfs "${REPO}" && test ! -e "${REPO}/package.json"`], {
    stdout: "ignore",
    stderr: "ignore",
  });
  return r.success;
})();

/** Command prefix that runs the rest with the repository hidden under an empty tmpfs (exec chain, same pid). */
function hideRepo(cmd: string[]): string[] {
  if (!CAN_HIDE_REPO) return cmd;
  return [UNSHARE!, "--mount", "/bin/sh", "-c", `${MOUNT} -t tmpfs tmpfs "$0" && exec "$@"`, REPO, ...cmd];
}

interface Started {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  output: () => string;
}

function start(cmd: string[], cwd: string, env: Record<string, string>): Started {
  const proc = Bun.spawn(cmd, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  running.add(proc);
  proc.exited.then(() => running.delete(proc));
  let out = "";
  const decoder = new TextDecoder();
  for (const stream of [proc.stdout, proc.stderr]) {
    (async () => {
      for await (const chunk of stream) out += decoder.decode(chunk);
    })();
  }
  return { proc, output: () => out };
}

/** Runs a command to completion; returns exit code and both streams. */
async function runToEnd(cmd: string[], cwd: string, env: Record<string, string>) {
  const proc = Bun.spawn(cmd, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  running.add(proc);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  running.delete(proc);
  return { code, stdout, stderr };
}

/** Descendant pids of `pid` (from /proc/<n>/stat parent fields). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parent.set(Number(name), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) if (pp === p) (out.push(child), walk(child));
  };
  walk(pid);
  return out;
}

function procInfo(pid: number): { exe: string; cmdline: string[] } | null {
  try {
    let exe = "";
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      // zombie or no permission
    }
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    return { exe, cmdline };
  } catch {
    return null;
  }
}

/** True while `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** `<file>.txt` label of a photo: file, x, y, w, h, plate. */
function label(photo: string): { box: [number, number, number, number]; plate: string } {
  const line = readFileSync(join(PHOTOS, photo.replace(/\.jpg$/, ".txt")), "utf8").trim().split("\n")[0];
  const [, x, y, w, h, plate] = line.split("\t");
  return { box: [Number(x), Number(y), Number(w), Number(h)], plate };
}

function iou(a: number[], b: number[]): number {
  const ix = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

/** Checks `dashcam alpr` output: the labelled plate is read, at the labelled place. */
function expectLabelledPlate(stdout: string, photo: string) {
  const want = label(photo);
  const line = JSON.parse(stdout.trim().split("\n")[0]) as { file: string; plates?: { text: string; box: number[] }[]; error?: string };
  expect(line.error).toBeUndefined();
  const texts = (line.plates ?? []).map((p) => p.text);
  const hit = (line.plates ?? []).find((p) => p.text === want.plate);
  if (!hit) throw new Error(`plate ${want.plate} of ${photo} not read; got ${JSON.stringify(texts)}`);
  expect(iou(hit.box, want.box)).toBeGreaterThan(0.3);
}

/** The compiled binary's `--version` line must name the package version and the build's commit. */
function expectVersion(stdout: string, arch: "x64" | "arm64") {
  const manifest = JSON.parse(readFileSync(join(DIST, `dashcam-linux-${arch}.json`), "utf8")) as { commit: string };
  expect(stdout.trim()).toBe(`dashcam ${pkg.version} (${manifest.commit})`);
  const hash = manifest.commit.replace(/-dirty$/, "");
  expect(hash).toMatch(/^[0-9a-f]{7,}$/);
  const known = Bun.spawnSync(["git", "cat-file", "-e", `${hash}^{commit}`], { cwd: REPO });
  expect(known.success).toBe(true);
}

interface Scenario {
  label: string;
  /** Folder holding the copied `dashcam` (+ `ffmpeg`); cwd of the run. */
  binDir: string;
  /** Command prefix before the binary (qemu). */
  prefix: string[];
  env: Record<string, string>;
  /** Generous limits for slow (emulated) runs, ms. */
  startMs: number;
  segmentMs: number;
  /** SIGTERM -> exit allowed, ms. */
  stopMs: number;
  /** Asserts which ffmpeg the runtime spawned (given its process info). */
  expectFfmpeg: (info: { exe: string; cmdline: string[] }) => void;
  /** Appended to the config file. */
  extraToml?: string;
  /** Runs after the first segment is indexed, before SIGTERM. */
  whileRunning?: (dbFile: string, fail: (msg: string) => Error) => Promise<void>;
}

/** `run` with the test pattern, /healthz, a segment row, SIGTERM; returns the config path. */
async function runAndStop(s: Scenario): Promise<{ config: string; dataDir: string; stopMs: number }> {
  const work = tempDir(`${s.label}-data`);
  const dataDir = join(work, "data");
  const port = freePort();
  const config = join(work, "dashcam.toml");
  writeFileSync(
    config,
    `data_dir = ${JSON.stringify(dataDir)}

[http]
listen = "127.0.0.1:${port}"

[[cameras]]
key = "smoke"
name = "Smoke test"
source = "testsrc"
width = 320
height = 240
fps = 10
segment_seconds = 2
ring_segments = 50
${s.extraToml ?? ""}`,
  );
  const started = start(hideRepo([...s.prefix, join(s.binDir, "dashcam"), "run", "--config", config]), s.binDir, s.env);
  const { proc } = started;
  const fail = (msg: string) => new Fatal(`${s.label}: ${msg}\n--- dashcam output ---\n${started.output().slice(-4000)}`);
  try {
    const health = await waitFor("/healthz 200", s.startMs, async () => {
      if (proc.exitCode !== null) throw fail(`dashcam exited early with ${proc.exitCode}`);
      const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null);
      return res && res.status === 200 ? res : null;
    }).catch((err) => {
      throw err instanceof Fatal ? err : fail(String(err));
    });
    expect(health.status).toBe(200);
    await health.arrayBuffer();

    // An embedded web asset (htmx) is served from inside the binary.
    const asset = await fetch(`http://127.0.0.1:${port}/assets/htmx.min.js`);
    expect(asset.status).toBe(200);
    expect((await asset.text()).length).toBeGreaterThan(10_000);

    const dbFile = join(dataDir, "dashcam.db");
    const count = () => {
      if (!existsSync(dbFile)) return 0;
      const db = openDatabase(dbFile, { readonly: true });
      try {
        return (db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const before = await waitFor("a segment row", s.segmentMs, () => {
      if (proc.exitCode !== null) throw fail(`dashcam exited early with ${proc.exitCode}`);
      const n = count();
      return n >= 1 ? n : null;
    }).catch((err) => {
      throw err instanceof Fatal ? err : fail(String(err));
    });
    expect(before).toBeGreaterThanOrEqual(1);

    // The ffmpeg doing the recording is the one shipped with the release.
    const ffmpegPids = descendants(proc.pid).filter((pid) => {
      const i = procInfo(pid);
      if (!i) return false;
      if (basename(i.exe) === "ffmpeg") return true;
      return basename(i.exe).startsWith("qemu-aarch64") && i.cmdline.some((a) => basename(a) === "ffmpeg");
    });
    expect(ffmpegPids.length).toBeGreaterThan(0);
    s.expectFfmpeg(procInfo(ffmpegPids[0])!);

    if (s.whileRunning) await s.whileRunning(dbFile, fail);

    {
      const db = openDatabase(dbFile, { readonly: true });
      const open = db.query("SELECT COUNT(*) AS n FROM trips WHERE status = 'open'").get() as { n: number };
      db.close();
      expect(open.n).toBe(1);
    }

    const t0 = performance.now();
    proc.kill("SIGTERM");
    const code = await Promise.race([proc.exited, sleep(s.stopMs + 10_000).then(() => "timeout" as const)]);
    const stopMs = performance.now() - t0;
    if (code === "timeout") throw fail(`no exit ${s.stopMs + 10_000} ms after SIGTERM`);
    if (code !== 0) throw fail(`exit code ${code} after SIGTERM`);
    expect(stopMs).toBeLessThanOrEqual(s.stopMs);
    // ffmpeg went down with it (not left running as an orphan).
    await sleep(200);
    for (const pid of ffmpegPids) expect(alive(pid)).toBe(false);

    const db = openDatabase(dbFile, { readonly: true });
    try {
      const trips = db.query("SELECT status, end_time_utc FROM trips").all() as { status: string; end_time_utc: number | null }[];
      expect(trips.length).toBeGreaterThan(0);
      for (const t of trips) {
        expect(t.status).not.toBe("open");
        expect(t.end_time_utc).not.toBeNull();
      }
      const rows = db.query("SELECT rel_path FROM segments").all() as { rel_path: string }[];
      expect(rows.length).toBeGreaterThanOrEqual(before);
      // The segment being written at SIGTERM was finished and indexed: every file has its row.
      const onDisk = readdirSync(join(dataDir, "recordings", "smoke")).filter((f) => f.endsWith(".ts")).map((f) => join("recordings", "smoke", f));
      expect(onDisk.sort()).toEqual(rows.map((r) => r.rel_path).sort());
      for (const r of rows) expect(statSync(join(dataDir, r.rel_path)).size).toBeGreaterThan(0);
    } finally {
      db.close();
    }
    console.log(`${s.label}: /healthz ok, ${before} segment(s) before SIGTERM, stopped in ${stopMs.toFixed(0)} ms (repo ${CAN_HIDE_REPO ? "hidden" : "NOT hidden: no unshare"})`);
    return { config, dataDir, stopMs };
  } finally {
    if (proc.exitCode === null) proc.kill("SIGKILL");
  }
}

let built = false;

beforeAll(() => {
  const r = Bun.spawnSync([process.execPath, "deploy/build.ts", "--if-stale"], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString() + r.stderr.toString();
  if (!r.success) throw new Error(`deploy/build.ts failed:\n${out}`);
  process.stderr.write(out);
  built = true;
}, 240_000);

describe("x64 binary, natively, outside the repository", () => {
  let binDir = "";
  let env: Record<string, string> = {};

  beforeAll(() => {
    if (!built) return;
    const base = tempDir("x64");
    binDir = join(base, "bin");
    mkdirSync(binDir);
    for (const f of ["dashcam", "ffmpeg"]) cpSync(join(DIST, "release-x64", f), join(binDir, f));
    env = { HOME: base, PATH: SYSTEMD_PATH, LANG: "C.UTF-8", TZ: "UTC" };
  });

  test("--version prints version and commit", async () => {
    const r = await runToEnd(hideRepo([join(binDir, "dashcam"), "--version"]), binDir, env);
    expect(r.code).toBe(0);
    expectVersion(r.stdout, "x64");
  });

  /** runAndStop options of the native x64 binary: no emulator, the ffmpeg beside it. */
  const nativeRun = () => ({
    binDir,
    prefix: [] as string[],
    env,
    startMs: 30_000,
    segmentMs: 30_000,
    stopMs: 5_000,
    expectFfmpeg: (i: { exe: string }) => expect(i.exe).toBe(join(binDir, "ffmpeg")),
  });

  test("run: /healthz, segments, SIGTERM closes the trip; check passes", async () => {
    const { config } = await runAndStop({
      label: "x64",
      ...nativeRun(),
    });
    const check = await runToEnd(hideRepo([join(binDir, "dashcam"), "check", "--config", config]), binDir, env);
    if (check.code !== 0) throw new Error(`check exited ${check.code}:\n${check.stdout}${check.stderr}`);
  }, 90_000);

  test("run with [alpr] on: the vision Worker runs inside the binary (frames decoded, plates searched)", async () => {
    await runAndStop({
      label: "x64-alpr",
      ...nativeRun(),
      extraToml: "\n[alpr]\nenabled = true\nworkers = 1\nsample_fps = 1\npoll_ms = 200\n",
      whileRunning: async (dbFile, fail) => {
        // plate_detect runs only after its vehicle_detect finished, both in the Worker
        // (src/vision/pool.ts); a Worker that cannot load leaves tasks failed, never done.
        const done = await waitFor("a plate_detect task done by the vision Worker", 60_000, () => {
          const db = openDatabase(dbFile, { readonly: true });
          try {
            const row = db
              .query("SELECT COUNT(*) AS n FROM tasks t JOIN results r ON r.task_id = t.id WHERE t.category = 'plate_detect' AND t.status = 'done'")
              .get() as { n: number };
            return row.n > 0 ? row.n : null;
          } finally {
            db.close();
          }
        }).catch((err) => {
          throw fail(String(err));
        });
        expect(done).toBeGreaterThan(0);
      },
    });
  }, 120_000);

  test("alpr reads the labelled plate of a real photo", async () => {
    const photo = "us2.jpg";
    const r = await runToEnd(hideRepo([join(binDir, "dashcam"), "alpr", join(PHOTOS, photo)]), binDir, env);
    if (r.code !== 0) throw new Error(`alpr exited ${r.code}: ${r.stderr}`);
    expectLabelledPlate(r.stdout, photo);
  }, 60_000);
});

/** True when the kernel runs aarch64 ELF files through qemu by itself (binfmt_misc). */
function binfmtAarch64(): boolean {
  try {
    return readFileSync("/proc/sys/fs/binfmt_misc/qemu-aarch64", "utf8").startsWith("enabled");
  } catch {
    return false;
  }
}

describe.skipIf(!QEMU)("arm64 binary under qemu-user emulation", () => {
  let binDir = "";
  let env: Record<string, string> = {};
  let prefix: string[] = [];
  let armFfmpeg = "";

  beforeAll(() => {
    if (!built) return;
    const base = tempDir("arm64");
    binDir = join(base, "bin");
    mkdirSync(binDir);
    for (const f of ["dashcam", "ffmpeg"]) cpSync(join(DIST, "release-arm64", f), join(binDir, f));
    armFfmpeg = join(binDir, "ffmpeg");
    env = { HOME: base, PATH: SYSTEMD_PATH, LANG: "C.UTF-8", TZ: "UTC", QEMU_LD_PREFIX: SYSROOT };
    if (!binfmtAarch64()) {
      const wrapper = join(base, "ffmpeg-under-qemu");
      writeFileSync(wrapper, `#!/bin/sh\nexec ${QEMU} ${armFfmpeg} "$@"\n`);
      chmodSync(wrapper, 0o755);
      env.FFMPEG_PATH = wrapper;
    }
    prefix = [QEMU!, "-L", SYSROOT];
  });

  test("--version prints version and commit", async () => {
    const r = await runToEnd(hideRepo([...prefix, join(binDir, "dashcam"), "--version"]), binDir, env);
    expect(r.code).toBe(0);
    expectVersion(r.stdout, "arm64");
  }, 60_000);

  test("run with the arm64 ffmpeg: /healthz, segments, SIGTERM closes the trip", async () => {
    await runAndStop({
      label: "arm64",
      binDir,
      prefix,
      env,
      startMs: 120_000,
      segmentMs: 120_000,
      // systemd's TimeoutStopSec (deploy/dashcam.service): emulation is ~10x slower than a Pi.
      stopMs: 15_000,
      expectFfmpeg: (i) => {
        // Either the arm64 ffmpeg itself (binfmt_misc) or qemu running it.
        expect(i.cmdline.includes(armFfmpeg) || i.exe === armFfmpeg).toBe(true);
      },
    });
  }, 300_000);

  test("alpr reads the labelled plate inside the arm64 binary", async () => {
    const photo = "us4.jpg";
    const r = await runToEnd(hideRepo([...prefix, join(binDir, "dashcam"), "alpr", join(PHOTOS, photo)]), binDir, env);
    if (r.code !== 0) throw new Error(`alpr exited ${r.code}: ${r.stderr}`);
    expectLabelledPlate(r.stdout, photo);
  }, 240_000);
});
