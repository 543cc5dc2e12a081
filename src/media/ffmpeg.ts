/**
 * Which ffmpeg binary to run, and its major version.
 *
 * Resolution order (DESIGN.md "media"):
 * 1. env `FFMPEG_PATH`;
 * 2. an `ffmpeg` file next to the running executable (`dirname(process.execPath)/ffmpeg`), the
 *    layout of the compiled binary's release folder; skipped when running under `bun` itself;
 * 3. `ffmpeg-static`, when installed and its binary exists (its install script downloads from
 *    GitHub, so it is often absent offline);
 * 4. `@ffmpeg-installer/ffmpeg` (binary inside the npm package; ffmpeg 4.1 on linux-x64/arm64);
 * 5. `ffmpeg` on PATH (`Bun.which`), else the bare name `ffmpeg` (spawn then fails with ENOENT,
 *    which the recorder reports as its PROCESS_EXIT error).
 *
 * No ffprobe is needed at run time: durations and stream parameters come from ffmpeg itself
 * (src/media/probe.ts).
 */
import { existsSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { createRequire } from "node:module";
import { redact } from "../log.ts";
import { probeCommand } from "../commandProbe.ts";

const require = createRequire(import.meta.url);

function isFile(path: string | null | undefined): path is string {
  if (!path) return false;
  try {
    return existsSync(path) && statSync(path).isFile();
  } catch {
    return false;
  }
}

/** True when this process is the `bun` runtime itself (running from source), not a compiled binary. */
function runningUnderBun(): boolean {
  const name = basename(process.execPath).toLowerCase();
  return name === "bun" || name === "bun.exe" || name.startsWith("bun-");
}

/** Returns the ffmpeg path to spawn (see the module comment for the order). Never throws. */
export function resolveFfmpeg(): string {
  const env = process.env.FFMPEG_PATH;
  if (env) return env;
  if (!runningUnderBun()) {
    const beside = join(dirname(process.execPath), "ffmpeg");
    if (isFile(beside)) return beside;
  }
  try {
    const mod = require("ffmpeg-static") as string | { default?: string } | null;
    const p = typeof mod === "string" ? mod : mod?.default;
    if (isFile(p)) return p;
  } catch {
    // not installed
  }
  try {
    const mod = require("@ffmpeg-installer/ffmpeg") as { path?: string };
    if (isFile(mod?.path)) return mod.path;
  } catch {
    // not installed, or no binary for this platform (the package throws a string)
  }
  return Bun.which("ffmpeg") ?? "ffmpeg";
}

const versions = new Map<string, Promise<number>>();

/** Deadline of `ffmpeg -version`, ms (it answers in tens of ms; a stuck binary must not stall recording). */
export const VERSION_PROBE_TIMEOUT_MS = 10_000;

/**
 * Parses the major version out of `ffmpeg -version` output. Release builds print
 * `ffmpeg version 5.1.9-0+deb12u1`; git builds (`ffmpeg version N-47683-g0e8eb07980-static`,
 * the @ffmpeg-installer binary) are mapped from libavformat's major: 58 -> 4, 59 -> 5, 60 -> 6,
 * 61 -> 7, 62 -> 8 (FFmpeg release notes). Returns 0 when neither is found.
 */
export function parseFfmpegMajor(versionText: string): number {
  const rel = /ffmpeg version n?(\d+)\.\d+/i.exec(versionText);
  if (rel) return Number(rel[1]);
  const lavf = /libavformat\s+(\d+)\./.exec(versionText);
  if (lavf) {
    const m = Number(lavf[1]);
    if (m >= 58) return m - 54;
    if (m === 57) return 3;
    return 2;
  }
  return 0;
}

/**
 * Major version of the ffmpeg at `path` (cached per path). Runs `ffmpeg -version` once,
 * asynchronously, with a deadline of VERSION_PROBE_TIMEOUT_MS. Resolves 0 when ffmpeg cannot
 * be run, does not answer in time or its output is not understood; callers treat 0 as
 * "modern" (>= 5). Never rejects.
 */
export function ffmpegMajorVersion(path: string): Promise<number> {
  let hit = versions.get(path);
  if (!hit) {
    hit = probeCommand([path, "-hide_banner", "-version"], { timeoutMs: VERSION_PROBE_TIMEOUT_MS })
      .then((r) => (r.timedOut ? 0 : parseFfmpegMajor(r.stdout + "\n" + r.stderr)))
      .catch(() => 0);
    versions.set(path, hit);
  }
  return hit;
}

/** How `runFfmpeg` runs ffmpeg. */
export interface RunOptions {
  /** Aborting kills ffmpeg (SIGKILL); the run then resolves with `aborted: true`. */
  signal?: AbortSignal;
  /** Called with ffmpeg's pid right after it is spawned (lets a caller or test stop it). */
  onSpawn?: (pid: number) => void;
  /** Called with each `out_time` of ffmpeg's `-progress pipe:1` output, in ms. */
  onOutTimeMs?: (ms: number) => void;
  /** The ffmpeg binary to run; default `resolveFfmpeg()`. */
  ffmpegPath?: string;
  /** Bytes written to ffmpeg's stdin, which is then closed (read them with `-i pipe:0`). Default: no stdin. */
  input?: Uint8Array;
  /**
   * Collect stdout in `FfmpegRun.stdout` (e.g. a JPEG from `-f image2pipe pipe:1`, or the
   * `-progress` key=value lines for a caller that wants more than out_time) instead of
   * reading it as `-progress` lines for `onOutTimeMs`.
   */
  captureStdout?: boolean;
}

/** How an ffmpeg run ended. */
export interface FfmpegRun {
  /** Exit code; null when ffmpeg was killed by a signal. */
  code: number | null;
  /** The last 5 non-empty stderr lines joined by ` | `, redacted, at most 500 characters: safe to show or log. */
  stderr: string;
  /** All of stderr as ffmpeg wrote it (not redacted): for parsing (`showinfo`, stream lines), never for display. */
  stderrText: string;
  /** Everything ffmpeg wrote to stdout with `captureStdout`; empty otherwise. */
  stdout: Uint8Array;
  /** True when `signal` aborted the run. */
  aborted: boolean;
}

/** A started ffmpeg with kill-on-abort, its stdin fed and its stderr collected (shared by `runFfmpeg` and `streamFfmpeg`). */
function spawnFfmpeg(args: string[], options: RunOptions) {
  const proc = Bun.spawn([options.ffmpegPath ?? resolveFfmpeg(), ...args], { stdin: options.input ? "pipe" : "ignore", stdout: "pipe", stderr: "pipe" });
  const state = { aborted: false };
  const onAbort = () => {
    state.aborted = true;
    proc.kill("SIGKILL");
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  options.onSpawn?.(proc.pid);
  const writeInput = (async () => {
    if (!options.input || !proc.stdin) return;
    try {
      proc.stdin.write(options.input);
      await proc.stdin.end();
    } catch {
      // ffmpeg exited before reading all of it (EPIPE): its exit code tells why
    }
  })();
  const readErr = new Response(proc.stderr).text();
  /** Waits for the exit (and stdin, stderr, `stdout`), then describes the run. */
  const finish = async (stdoutDone: Promise<Uint8Array>): Promise<FfmpegRun> => {
    const [code, stdout, stderrText] = await Promise.all([proc.exited, stdoutDone, readErr, writeInput]);
    options.signal?.removeEventListener("abort", onAbort);
    const tail = stderrText.split("\n").filter((l) => l.trim()).slice(-5).join(" | ");
    return { code, stderr: redact(tail).slice(0, 500), stderrText, stdout, aborted: state.aborted };
  };
  return { proc, finish, kill: onAbort };
}

/**
 * The one ffmpeg spawner: runs ffmpeg (`options.ffmpegPath` or `resolveFfmpeg()`) with `args`.
 * stdout is read as `-progress pipe:1` lines (each out_time goes to `onOutTimeMs`) unless
 * `captureStdout`; stdin is closed after `input`. Resolves with the exit code, stderr and
 * stdout; kills ffmpeg (SIGKILL) when `signal` aborts. Never rejects for a failed ffmpeg (the
 * caller decides); rejects only when ffmpeg cannot be spawned at all (ENOENT ...).
 */
export async function runFfmpeg(args: string[], options: RunOptions = {}): Promise<FfmpegRun> {
  const { proc, finish } = spawnFfmpeg(args, options);
  const readStdout = options.captureStdout
    ? new Response(proc.stdout).bytes()
    : (async () => {
        const decoder = new TextDecoder();
        let buf = "";
        for await (const chunk of proc.stdout) {
          buf += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            // out_time_us (ffmpeg >= 4.1) and out_time_ms (older name, also microseconds)
            const m = /^out_time_(?:us|ms)=(\d+)$/.exec(line);
            if (m) options.onOutTimeMs?.(Number(m[1]) / 1000);
          }
        }
        return new Uint8Array();
      })();
  return finish(readStdout);
}

/** A running ffmpeg whose stdout is handed on as a stream (`streamFfmpeg`). */
export interface FfmpegStream {
  /**
   * ffmpeg's stdout, chunk by chunk as it writes (pull-based: ffmpeg blocks when the reader is
   * slow). It errors when ffmpeg exits with a failure, so a consumer never mistakes a truncated
   * output for a complete one; cancelling it kills ffmpeg (SIGKILL).
   */
  stdout: ReadableStream<Uint8Array>;
  /** How the run ended (`stdout` of the result is empty: the bytes went to the stream). */
  done: Promise<FfmpegRun>;
  pid: number;
}

/**
 * The streaming variant of `runFfmpeg`, same spawner and options (`signal`, `input`, `onSpawn`,
 * `ffmpegPath`; `captureStdout`/`onOutTimeMs` do not apply): ffmpeg writes its output to
 * `pipe:1` and the caller streams it on (e.g. an HTTP body that starts at the first byte ffmpeg
 * writes). Kill it by aborting `signal` or cancelling `stdout` (a client that disconnects).
 * Throws only when ffmpeg cannot be spawned.
 */
export function streamFfmpeg(args: string[], options: RunOptions = {}): FfmpegStream {
  const { proc, finish, kill } = spawnFfmpeg(args, options);
  let release!: () => void;
  const streamDone = new Promise<Uint8Array>((r) => (release = () => r(new Uint8Array())));
  const done = finish(streamDone);
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const stdout = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done: end, value } = await reader.read();
          if (!end) {
            controller.enqueue(value);
            return;
          }
          release();
          const run = await done;
          if (run.code === 0 && !run.aborted) controller.close();
          else controller.error(new Error(`ffmpeg ${run.aborted ? "was stopped" : `exited with ${run.code}`}${run.stderr ? `: ${run.stderr}` : ""}`));
        } catch (err) {
          release();
          controller.error(err);
        }
      },
      cancel() {
        kill();
        release();
        reader.cancel().catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
  return { stdout, done, pid: proc.pid };
}
