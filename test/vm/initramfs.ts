/**
 * Builds the initramfs of the power-cut VM (test/vm/powercut.ts): an uncompressed `newc` cpio
 * archive (the kernel unpacks it as the root file system; no compression keeps the build and the
 * boot quick) holding
 * - `/init`: test/vm/init.sh, run by busybox's `sh`;
 * - `/bin/busybox` from Debian's `busybox-static` (`busybox --install -s` makes the applets);
 * - `/lib/modules/*.ko` + `/lib/modules/order`: virtio PCI, virtio block and ext4 with their
 *   dependencies in load order, from `modprobe --show-depends` for the kernel being booted
 *   (Debian builds them as modules);
 * - `/opt/dashcam/dashcam`: the compiled x64 executable (`bun deploy/build.ts --target x64`) and
 *   the shared libraries `ldd` lists for it (glibc: Bun's executables are dynamically linked);
 * - `/opt/dashcam/ffmpeg`: the static ffmpeg of `@ffmpeg-installer/linux-x64`;
 * - `/opt/dashcam/<name>`: video files for `file:` cameras;
 * - `/etc/dashcam.toml`: the runtime's config (text given by the caller).
 *
 * Needs `cpio` and `modprobe` (kmod) on the host. Throws Error naming what is missing.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";

export interface InitramfsOptions {
  /** Where the archive goes. */
  out: string;
  /** Kernel release the modules are taken from (`uname -r` style, e.g. `6.1.0-57-amd64`). */
  kernelRelease: string;
  dashcam: string;
  ffmpeg: string;
  /** Video files, by their name under /opt/dashcam. */
  clips: Record<string, string>;
  /** TOML text of /etc/dashcam.toml. */
  config: string;
  busybox?: string;
}

/** Kernel modules the guest needs, by name (dependencies are added). */
export const GUEST_MODULES = ["virtio_pci", "virtio_blk", "crc32c_generic", "ext4"];

function run(cmd: string[], what: string): string {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${what}: ${cmd.join(" ")} exited ${r.exitCode}: ${r.stderr.toString().trim().split("\n")[0]}`);
  return r.stdout.toString();
}

/** The module files (absolute host paths) of `names` and their dependencies, in load order. */
export function moduleFiles(kernelRelease: string, names: string[]): string[] {
  const out: string[] = [];
  for (const name of names) {
    const text = run(["modprobe", "--show-depends", "-S", kernelRelease, name], `modules of ${name}`);
    for (const line of text.split("\n")) {
      const m = /^insmod (\S+)/.exec(line.trim());
      if (m && !out.includes(m[1])) out.push(m[1]);
    }
  }
  return out;
}

/** Shared libraries of an executable (absolute paths, the loader included), from `ldd`. */
export function sharedLibraries(executable: string): string[] {
  const libs: string[] = [];
  for (const line of run(["ldd", executable], `libraries of ${executable}`).split("\n")) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/** Builds the archive (see the module comment). */
export function buildInitramfs(opts: InitramfsOptions): void {
  const busybox = opts.busybox ?? "/bin/busybox";
  for (const [what, path] of [["busybox (Debian package busybox-static)", busybox], ["the dashcam executable", opts.dashcam], ["ffmpeg", opts.ffmpeg], ...Object.values(opts.clips).map((c) => ["a clip", c] as const)] as const) {
    if (!existsSync(path)) throw new Error(`initramfs: ${what} is missing: ${path}`);
  }
  if (!Bun.which("cpio")) throw new Error("initramfs: cpio is missing (Debian package cpio)");
  const root = mkdtempSync(join(tmpdir(), "dashcam-initramfs-"));
  try {
    for (const d of ["bin", "dev", "proc", "sys", "tmp", "data", "etc", "lib/modules", "opt/dashcam"]) mkdirSync(join(root, d), { recursive: true });
    const put = (src: string, dest: string, mode = 0o755) => {
      mkdirSync(dirname(join(root, dest)), { recursive: true });
      copyFileSync(src, join(root, dest));
      chmodSync(join(root, dest), mode);
    };
    put(busybox, "bin/busybox");
    put(join(import.meta.dir, "init.sh"), "init");
    const modules = moduleFiles(opts.kernelRelease, GUEST_MODULES);
    for (const m of modules) put(m, `lib/modules/${basename(m)}`, 0o644);
    writeFileSync(join(root, "lib/modules/order"), modules.map((m) => basename(m)).join("\n") + "\n");
    put(opts.dashcam, "opt/dashcam/dashcam");
    for (const lib of sharedLibraries(opts.dashcam)) put(lib, lib.slice(1));
    put(opts.ffmpeg, "opt/dashcam/ffmpeg");
    for (const [name, src] of Object.entries(opts.clips)) put(src, `opt/dashcam/${name}`, 0o644);
    writeFileSync(join(root, "etc/dashcam.toml"), opts.config);
    const r = Bun.spawnSync(["sh", "-c", `find . -mindepth 1 | cpio -o -H newc --quiet > '${opts.out.replace(/'/g, "'\\''")}'`], { cwd: root, stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`initramfs: cpio failed: ${r.stderr.toString().trim()}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
