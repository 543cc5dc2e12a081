#!/usr/bin/env bun
/**
 * Release build: compiles `src/main.ts` into single executables and lays out release folders.
 *
 * ```
 * bun deploy/build.ts [--target arm64|x64|all] [--outdir dist] [--if-stale] [--no-release] [--tar]
 *                     [--no-sourcemap] [--no-bytecode]
 * ```
 * Outputs (per target):
 * - `dist/dashcam-linux-<arch>`        the executable (`bun build --compile --target=bun-linux-<arch>
 *                                       --minify --sourcemap --bytecode --format=esm
 *                                       --compile-jit-policy=16 --bytecode-order=deploy/bytecode-order.bin
 *                                       --define DASHCAM_COMMIT='"<short hash>"'`)
 * - `dist/dashcam-linux-<arch>.json`   build manifest: version, commit, bun version, bytes, inputs time
 * - `dist/release-<arch>/`             `dashcam`, `ffmpeg` (arm64: npm `@ffmpeg-installer/linux-arm64`,
 *                                       x64: `@ffmpeg-installer/linux-x64`), `dashcam.service`,
 *                                       `install.sh`, `dashcam.toml.example`, `GUIDE.md`, `FFMPEG-NOTICE.txt`
 * - with `--tar`: `dist/dashcam-<version>-linux-<arch>.tar.gz` of that folder.
 *
 * Everything the program reads at run time is inside the executable: `schema.sql` and upgrades
 * (`with { type: "text" }`), web assets, the ONNX Runtime WASM files and the PaddleOCR models
 * (`with { type: "file" }`); lazy `import("./x.ts")` with a literal specifier is bundled too.
 * `.env` and `bunfig.toml` autoloading is turned off so the service never picks up files from its
 * working directory.
 *
 * `deploy/bytecode-order.bin` (recorded by `bun deploy/record-bytecode-order.ts`: which functions an
 * idle `dashcam run` uses) lays that bytecode out together at the front, so an idle runtime maps
 * fewer pages of the executable (measured x64: 54.5 -> 52.1 MiB VmRSS). A profile from an older
 * build still applies; from another Bun version Bun warns and ignores it (re-record it then).
 *
 * Cross-compiling needs Bun's runtime for the other architecture. `bun build` fetches it itself
 * (from the npm registry, cached in ~/.bun/install/cache); if that fails, this script fetches the
 * same version with `npm pack @oven/bun-linux-aarch64@<version>` (or `-x64`) and passes it with
 * `--compile-executable-path`.
 *
 * `--if-stale` skips a target whose executable is newer than every input (src/, schema.sql,
 * package.json, package-lock.json, installed packages, this folder's build scripts) and was built
 * from the current commit. Exit code 0 on success, 1 on a failed build (compiler output shown).
 */
import { parseArgs } from "node:util";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { bunRuntime, elfArch, REPO_ROOT, type Arch } from "./npm-pack.ts";
import { fetchArm64Ffmpeg, ARM64_FFMPEG_SPEC } from "./fetch-arm64-ffmpeg.ts";

export const ARCHES: readonly Arch[] = ["arm64", "x64"];

/**
 * Worker entrypoints. Bun bundles a Worker's file only when it is an entrypoint of the build.
 * Inside the executable every module bundled into the main entry has
 * `import.meta.url === "file:///$bunfs/root/<executable>"`, so `new URL("./worker.ts",
 * import.meta.url)` (src/vision/pool.ts) names `/$bunfs/root/worker.ts`; `--root` set to the
 * worker's folder puts the worker exactly there (checked: without it the Worker fails with
 * "ModuleNotFound resolving /$bunfs/root/worker.ts").
 */
export const WORKER_ENTRYPOINTS = ["src/vision/worker.ts"];

/**
 * JIT policy the executable starts with (`--compile-jit-policy`, Bun's `Bun.unsafe.setJITPolicy`):
 * JavaScriptCore's tier-up thresholds are multiplied by it, so code that runs a few times at
 * start-up and in the idle loop (one camera, ALPR off) stays in the interpreter instead of pulling
 * in the JIT compilers' code and memory. Measured on x64 (median of 5 fresh starts, 10 s idle,
 * bench/binary.ts setup): policy 1 -> 58.9 MiB VmRSS, 8 -> 56.6, 16 -> 54.6, 64 -> 53.9; hot code
 * (ALPR) still tiers up: `dashcam alpr` on 4 photos took the same time (4.4-4.7 s) at 1 and 16.
 */
export const JIT_POLICY = 16;

/** Bytecode order profile passed with `--bytecode-order` when present (see the module comment). */
export const BYTECODE_ORDER_FILE = join(REPO_ROOT, "deploy/bytecode-order.bin");

export interface BuildOptions {
  arches: Arch[];
  /** Output folder, default `<repo>/dist`. */
  outdir: string;
  ifStale: boolean;
  release: boolean;
  tar: boolean;
  sourcemap: boolean;
  bytecode: boolean;
}

export interface BuildManifest {
  name: string;
  version: string;
  commit: string;
  arch: Arch;
  bun: string;
  bytes: number;
  builtAt: number;
  /** Newest mtime (ms) of the inputs when it was built. */
  inputsMtime: number;
  flags: string[];
}

/** Path of the executable for `arch` in `outdir`. */
export const binaryPath = (outdir: string, arch: Arch) => join(outdir, `dashcam-linux-${arch}`);
/** Path of the release folder for `arch` in `outdir`. */
export const releaseDir = (outdir: string, arch: Arch) => join(outdir, `release-${arch}`);

function git(args: string[]): string | null {
  const r = Bun.spawnSync(["git", ...args], { cwd: REPO_ROOT, stdout: "pipe", stderr: "ignore" });
  return r.success ? r.stdout.toString().trim() : null;
}

/**
 * `<short hash>` of HEAD, with `-dirty` when tracked files under src/, schema.sql or package.json
 * differ from it; "unknown" outside a git checkout.
 */
export function gitCommit(): string {
  const hash = git(["rev-parse", "--short", "HEAD"]);
  if (!hash) return "unknown";
  const dirty = git(["status", "--porcelain", "--untracked-files=no", "--", "src", "schema.sql", "package.json"]);
  return dirty ? `${hash}-dirty` : hash;
}

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Newest modification time (ms) among everything a build reads. */
export function inputsMtime(): number {
  const inputs = [
    "src",
    "schema.sql",
    "package.json",
    "package-lock.json",
    "node_modules/.package-lock.json",
    "deploy/build.ts",
    "deploy/npm-pack.ts",
    "deploy/fetch-arm64-ffmpeg.ts",
    "deploy/bytecode-order.bin",
  ];
  return Math.max(...inputs.map((p) => newestMtime(join(REPO_ROOT, p))));
}

/** Reads the manifest written next to an executable, or null. */
export function readManifest(outdir: string, arch: Arch): BuildManifest | null {
  try {
    return JSON.parse(readFileSync(`${binaryPath(outdir, arch)}.json`, "utf8")) as BuildManifest;
  } catch {
    return null;
  }
}

/** True when `dist/dashcam-linux-<arch>` must be rebuilt for the current sources and commit. */
export function isStale(outdir: string, arch: Arch, commit = gitCommit()): boolean {
  const bin = binaryPath(outdir, arch);
  const manifest = readManifest(outdir, arch);
  if (!existsSync(bin) || !manifest || manifest.commit !== commit || manifest.bun !== Bun.version) return true;
  return statSync(bin).mtimeMs < inputsMtime() || manifest.inputsMtime < inputsMtime();
}

const DOWNLOAD_FAILURE = /download|fetch|network|connect|ENOTFOUND|ECONNREFUSED|timed out|404|403/i;

/**
 * Compiles one executable. Returns the compiler's flags used. Throws Error with the compiler's
 * output when the build fails.
 */
export function compile(
  arch: Arch,
  outfile: string,
  opts: { commit: string; sourcemap: boolean; bytecode: boolean; /** `--bytecode-order` profile, used when it exists. */ bytecodeOrder?: string | null },
): string[] {
  const flags = [
    "--compile",
    `--target=bun-linux-${arch}`,
    "--minify",
    `--define=DASHCAM_COMMIT=${JSON.stringify(opts.commit)}`,
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    `--compile-jit-policy=${JIT_POLICY}`,
  ];
  const workers = WORKER_ENTRYPOINTS.filter((w) => existsSync(join(REPO_ROOT, w)));
  const roots = new Set(workers.map((w) => dirname(w)));
  if (roots.size > 1) throw new Error(`worker entrypoints must share one folder: ${workers.join(", ")}`);
  if (roots.size === 1) flags.push(`--root=${[...roots][0]}`);
  // The source map is embedded (stack traces name src/*.ts lines, +0.8 MB); bun also writes
  // *.map files next to the output, which are removed below.
  if (opts.sourcemap) flags.push("--sourcemap");
  // Bytecode cache: the measured exec -> /healthz time drops from ~150 to ~100 ms (x64), +3 MB.
  // ESM keeps main.ts's top-level await (bytecode defaults to CJS otherwise).
  if (opts.bytecode) flags.push("--bytecode", "--format=esm");
  if (opts.bytecode && opts.bytecodeOrder && existsSync(opts.bytecodeOrder)) flags.push(`--bytecode-order=${relative(REPO_ROOT, opts.bytecodeOrder)}`);
  const outDir = dirname(outfile);
  const before = new Set(existsSync(outDir) ? readdirSync(outDir) : []);
  const attempt = (extra: string[]) =>
    Bun.spawnSync([process.execPath, "build", "src/main.ts", ...workers, ...flags, ...extra, `--outfile=${outfile}`], {
      cwd: REPO_ROOT,
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NODE_ENV: "production" },
    });
  let r = attempt([]);
  let output = r.stdout.toString() + r.stderr.toString();
  if (!r.success && DOWNLOAD_FAILURE.test(output)) {
    // Bun could not fetch the target runtime itself: take it from the npm registry with npm.
    const exe = bunRuntime(arch, Bun.version);
    process.stderr.write(`build: using Bun runtime from npm: ${exe}\n`);
    r = attempt([`--compile-executable-path=${exe}`]);
    output = r.stdout.toString() + r.stderr.toString();
  }
  if (!r.success) throw new Error(`bun build for linux-${arch} failed:\n${output.trim()}`);
  // A stale or unreadable order profile is only a warning from bun build: show it.
  for (const line of output.split("\n")) if (/bytecode order/i.test(line)) process.stderr.write(`build: ${line.trim()}\n`);
  for (const f of readdirSync(outDir)) if (f.endsWith(".map") && !before.has(f)) rmSync(join(outDir, f));
  const got = elfArch(outfile);
  if (got !== arch) throw new Error(`${outfile}: expected a linux-${arch} executable, got ${got ?? "not an ELF"}`);
  if (arch === process.arch) {
    // Sanity check on the build machine's own architecture: the executable starts and names its commit.
    const v = Bun.spawnSync([outfile, "--version"], { cwd: outDir, env: { PATH: "/usr/bin:/bin" }, stdout: "pipe", stderr: "pipe" });
    const line = v.stdout.toString().trim();
    if (!v.success || !line.endsWith(`(${opts.commit})`)) throw new Error(`${outfile} --version: "${line}" ${v.stderr.toString().trim()}`);
  }
  return flags;
}

/** The x64 ffmpeg from the installed `@ffmpeg-installer/linux-x64` package. */
function x64Ffmpeg(): string {
  const p = join(REPO_ROOT, "node_modules/@ffmpeg-installer/linux-x64/ffmpeg");
  if (!existsSync(p) || elfArch(p) !== "x64") throw new Error(`${p} is missing: npm install the optional @ffmpeg-installer/ffmpeg`);
  return p;
}

/** The example configuration shipped as `dashcam.toml.example` (installed as /etc/dashcam/dashcam.toml). */
export const EXAMPLE_CONFIG = `# dashcam configuration: /etc/dashcam/dashcam.toml (see GUIDE.md).
# The service runs \`dashcam run --config /etc/dashcam/dashcam.toml\` as user dashcam.

data_dir = "/var/lib/dashcam"

[http]
# The phone connects to the car's Wi-Fi hotspot; port 80 works because the unit grants
# CAP_NET_BIND_SERVICE. Use "127.0.0.1:8080" to keep the UI private to the device.
listen = "0.0.0.0:80"

[[cameras]]
key = "front"
name = "Front"
# rpicam (Raspberry Pi camera module), v4l2:/dev/video0 (USB camera), rtsp://..., or testsrc
source = "rpicam"
width = 1920
height = 1080
fps = 25
segment_seconds = 60
# Ring capacity: the oldest unlocked segments are deleted past any of these limits.
ring_segments = 1440
min_free_bytes = 1_000_000_000

# Save button: physical pin 11 (GPIO17) to a ground pin, active low.
[gpio]
chip = "gpiochip0"
save_line = 17
active_low = true
debounce_ms = 50
long_press_ms = 1500
`;

const FFMPEG_NOTICE = (spec: string) => `The file "ffmpeg" in this folder is a static FFmpeg build by John Van Sickle
(https://johnvansickle.com/ffmpeg/), taken unchanged from the npm package ${spec}.
FFmpeg is licensed under the GNU GPL version 3 (this build enables GPL components such as
libx264); its source code is available from https://ffmpeg.org/ and the build's page.
dashcam runs it as a separate program (a child process); set FFMPEG_PATH to use another ffmpeg.
`;

/** Lays out `dist/release-<arch>/`. Returns the folder. */
export function makeRelease(outdir: string, arch: Arch, version: string): string {
  const dir = releaseDir(outdir, arch);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const put = (from: string, name: string, mode: number) => {
    copyFileSync(from, join(dir, name));
    chmodSync(join(dir, name), mode);
  };
  put(binaryPath(outdir, arch), "dashcam", 0o755);
  put(arch === "arm64" ? fetchArm64Ffmpeg() : x64Ffmpeg(), "ffmpeg", 0o755);
  put(join(REPO_ROOT, "deploy/dashcam.service"), "dashcam.service", 0o644);
  put(join(REPO_ROOT, "deploy/install.sh"), "install.sh", 0o755);
  put(join(REPO_ROOT, "deploy/GUIDE.md"), "GUIDE.md", 0o644);
  writeFileSync(join(dir, "dashcam.toml.example"), EXAMPLE_CONFIG, { mode: 0o644 });
  writeFileSync(
    join(dir, "FFMPEG-NOTICE.txt"),
    FFMPEG_NOTICE(arch === "arm64" ? ARM64_FFMPEG_SPEC : "@ffmpeg-installer/linux-x64"),
    { mode: 0o644 },
  );
  writeFileSync(join(dir, "VERSION"), `${version}\n`, { mode: 0o644 });
  return dir;
}

/** Packs a release folder into `dist/dashcam-<version>-linux-<arch>.tar.gz` (top folder `dashcam/`). */
export function makeTarball(outdir: string, arch: Arch, version: string): string {
  const tgz = join(outdir, `dashcam-${version}-linux-${arch}.tar.gz`);
  const r = Bun.spawnSync(
    ["tar", "-czf", tgz, "-C", outdir, "--transform", `s,^release-${arch},dashcam,`, `release-${arch}`],
    { stderr: "pipe" },
  );
  if (!r.success) throw new Error(`tar failed: ${r.stderr.toString().trim()}`);
  return tgz;
}

/** Runs the whole build. Returns the manifests of the targets built or reused. */
export function build(opts: BuildOptions): BuildManifest[] {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
  const commit = gitCommit();
  mkdirSync(opts.outdir, { recursive: true });
  const out: BuildManifest[] = [];
  for (const arch of opts.arches) {
    const bin = binaryPath(opts.outdir, arch);
    let manifest: BuildManifest;
    if (opts.ifStale && !isStale(opts.outdir, arch, commit)) {
      manifest = readManifest(opts.outdir, arch)!;
      process.stderr.write(`build: ${relative(process.cwd(), bin)} is up to date (${commit})\n`);
    } else {
      const mtime = inputsMtime();
      const started = performance.now();
      const flags = compile(arch, bin, { commit, sourcemap: opts.sourcemap, bytecode: opts.bytecode, bytecodeOrder: BYTECODE_ORDER_FILE });
      manifest = {
        name: "dashcam",
        version: pkg.version,
        commit,
        arch,
        bun: Bun.version,
        bytes: statSync(bin).size,
        builtAt: Date.now(),
        inputsMtime: mtime,
        flags,
      };
      writeFileSync(`${bin}.json`, JSON.stringify(manifest, null, 2) + "\n");
      const secs = ((performance.now() - started) / 1000).toFixed(1);
      process.stderr.write(`build: ${relative(process.cwd(), bin)} ${(manifest.bytes / 1e6).toFixed(1)} MB in ${secs} s (${commit})\n`);
    }
    if (opts.release) {
      const dir = makeRelease(opts.outdir, arch, `${manifest.version} (${manifest.commit})`);
      process.stderr.write(`build: ${relative(process.cwd(), dir)}/\n`);
      if (opts.tar) process.stderr.write(`build: ${relative(process.cwd(), makeTarball(opts.outdir, arch, manifest.version))}\n`);
    }
    out.push(manifest);
  }
  return out;
}

if (import.meta.main) {
  let values;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        target: { type: "string", default: "all" },
        outdir: { type: "string", default: join(REPO_ROOT, "dist") },
        "if-stale": { type: "boolean", default: false },
        "no-release": { type: "boolean", default: false },
        tar: { type: "boolean", default: false },
        "no-sourcemap": { type: "boolean", default: false },
        "no-bytecode": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`build: ${(err as Error).message.split("\n")[0]}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(
      "usage: bun deploy/build.ts [--target arm64|x64|all] [--outdir DIR] [--if-stale] [--no-release] [--tar] [--no-sourcemap] [--no-bytecode]\n",
    );
    process.exit(0);
  }
  const target = values.target!;
  if (target !== "all" && !ARCHES.includes(target as Arch)) {
    process.stderr.write(`build: --target must be arm64, x64 or all\n`);
    process.exit(2);
  }
  try {
    build({
      arches: target === "all" ? [...ARCHES] : [target as Arch],
      outdir: resolve(values.outdir!),
      ifStale: values["if-stale"]!,
      release: !values["no-release"],
      tar: values.tar!,
      sourcemap: !values["no-sourcemap"],
      bytecode: !values["no-bytecode"],
    });
  } catch (err) {
    process.stderr.write(`build: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
