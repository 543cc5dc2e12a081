#!/usr/bin/env bun
/**
 * Records `deploy/bytecode-order.bin`, the profile `deploy/build.ts` passes to
 * `bun build --bytecode-order`: which functions an idle `dashcam run` uses (one test-pattern
 * camera, ALPR off, the setup of bench/binary.ts), so the build lays their bytecode out together
 * and an idle runtime maps fewer pages of the executable (lower idle RSS).
 *
 * ```
 * bun deploy/record-bytecode-order.ts [--idle-s 10] [--out deploy/bytecode-order.bin]
 * ```
 * Compiles this machine's architecture (x64 or arm64) without a profile into a temp folder, runs
 * it there with `BUN_BYTECODE_ORDER_OUT` (Bun writes the profile when the process exits), waits
 * for `/healthz` 200 plus `--idle-s` seconds, sends SIGTERM and copies the profile to `--out`.
 * The profile names functions, not addresses: one recording serves both architectures, and a
 * profile from an older build still applies (functions it does not list are laid out after).
 * Re-record after a Bun upgrade (build.ts then shows Bun's warning) or a large change of the
 * start-up path. Needs ffmpeg (`@ffmpeg-installer/linux-<arch>`, else on PATH).
 * Exit code 0 on success, 1 on failure (message on stderr), 2 on bad arguments.
 */
import { parseArgs } from "node:util";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { BYTECODE_ORDER_FILE, compile, gitCommit } from "./build.ts";
import { REPO_ROOT, type Arch } from "./npm-pack.ts";

function freePort(): number {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** Builds, runs idle and writes the profile to `out`. Returns its size in bytes. Throws Error on failure. */
export async function recordBytecodeOrder(out: string, idleMs: number): Promise<number> {
  const arch = process.arch as Arch;
  if (arch !== "x64" && arch !== "arm64") throw new Error(`cannot record on ${process.arch}: x64 or arm64 only`);
  const base = mkdtempSync(join(tmpdir(), "dashcam-order-"));
  try {
    const bin = join(base, "dashcam");
    compile(arch, bin, { commit: gitCommit(), sourcemap: true, bytecode: true, bytecodeOrder: null });
    const ffmpeg = join(REPO_ROOT, `node_modules/@ffmpeg-installer/linux-${arch}/ffmpeg`);
    if (existsSync(ffmpeg)) copyFileSync(ffmpeg, join(base, "ffmpeg"));
    const port = freePort();
    const config = join(base, "dashcam.toml");
    writeFileSync(
      config,
      `data_dir = ${JSON.stringify(join(base, "data"))}\n[http]\nlisten = "127.0.0.1:${port}"\n\n[[cameras]]\nkey = "bench"\nsource = "testsrc"\nwidth = 320\nheight = 240\nfps = 10\nsegment_seconds = 2\nring_segments = 100\n`,
    );
    const profile = join(base, "order.bin");
    const proc = Bun.spawn([bin, "run", "--config", config], {
      cwd: base,
      env: { HOME: base, PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", TZ: "UTC", BUN_BYTECODE_ORDER_OUT: profile },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    const t0 = performance.now();
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`dashcam exited with ${proc.exitCode}: ${(await new Response(proc.stderr).text()).trim()}`);
      const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null);
      if (res?.status === 200) break;
      if (performance.now() - t0 > 30_000) {
        proc.kill("SIGKILL");
        throw new Error("no /healthz 200 within 30 s");
      }
      await Bun.sleep(10);
    }
    await Bun.sleep(idleMs);
    proc.kill("SIGTERM");
    const code = await proc.exited;
    if (code !== 0) throw new Error(`dashcam run exited with ${code} after SIGTERM`);
    if (!existsSync(profile) || statSync(profile).size === 0) throw new Error("the run wrote no bytecode order profile");
    copyFileSync(profile, out);
    chmodSync(out, 0o644);
    return statSync(out).size;
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  let values;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: { "idle-s": { type: "string", default: "10" }, out: { type: "string", default: BYTECODE_ORDER_FILE } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`record-bytecode-order: ${(err as Error).message.split("\n")[0]}\n`);
    process.exit(2);
  }
  const idleS = Number(values["idle-s"]);
  if (!Number.isFinite(idleS) || idleS < 0) {
    process.stderr.write("record-bytecode-order: --idle-s must be a number of seconds >= 0\n");
    process.exit(2);
  }
  const out = resolve(values.out!);
  try {
    const bytes = await recordBytecodeOrder(out, idleS * 1000);
    process.stderr.write(`record-bytecode-order: ${relative(process.cwd(), out)} (${bytes} bytes)\n`);
  } catch (err) {
    process.stderr.write(`record-bytecode-order: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
