/**
 * Shared helpers of the recording-core tests (test/recording-*.test.ts): temp data
 * directories with a real SQLite database, camera configs through the real validator, a tiny
 * parent machine that invokes the recorder actor and collects its events, and ffprobe
 * (Debian's /usr/bin/ffprobe; tests only) for independent measurements.
 */
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, readdirSync, statSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createHash } from "node:crypto";
import type { Database } from "bun:sqlite";
import { createActor, setup, type AnyActorRef } from "xstate";
import { validateConfig, type CameraConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { dbPath, segmentRelPath } from "../src/paths.ts";
import { recorderActor, type RecorderInput } from "../src/actors/recorder.ts";
import type { RecorderEvent } from "../src/machines/events.ts";
import { waitUntil as pollUntil } from "./helpers/wait.ts";

export const FFPROBE = "/usr/bin/ffprobe";
export const DEBIAN_FFMPEG = "/usr/bin/ffmpeg";

/** A fresh directory under `os.tmpdir()`; remove it with `removeDir`. */
export function tempDir(prefix = "dashcam-rec-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Removes `dir` and everything in it (no error when it is missing). */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A camera config through the real validator (defaults applied). */
export function cameraConfig(fields: Record<string, unknown>, baseDir = tmpdir()): CameraConfig {
  return validateConfig({ cameras: [{ key: "cam", source: "testsrc", ...fields }] }, baseDir).cameras[0];
}

/** Opens `<dataDir>/dashcam.db` and syncs `cameras` into it; returns db and key -> id. */
export function openTestDb(dataDir: string, cameras: CameraConfig[]): { db: Database; ids: Map<string, number> } {
  mkdirSync(dataDir, { recursive: true });
  const db = openDatabase(dbPath(dataDir));
  const ids = syncCameras(db, cameras, null);
  return { db, ids };
}

/** Writes a fake segment file of `bytes` bytes at its ring path; returns the relative path. */
export function writeSegmentFile(dataDir: string, key: string, abs: number, bytes: number): string {
  const rel = segmentRelPath(key, abs);
  mkdirSync(join(dataDir, "recordings", key), { recursive: true });
  writeFileSync(join(dataDir, rel), Buffer.alloc(bytes, abs % 251));
  return rel;
}

/** Makes a real MPEG-TS file of `seconds` of test pattern with Debian's ffmpeg. */
export function makeTsFile(path: string, seconds: number, size = "160x120", fps = 10): void {
  const r = Bun.spawnSync([
    DEBIAN_FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
    "-f", "lavfi", "-i", `testsrc=size=${size}:rate=${fps}`, "-t", String(seconds),
    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", String(fps),
    "-f", "mpegts", path,
  ]);
  if (r.exitCode !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
}

/** ffprobe format duration of a file, seconds. */
export function ffprobeDuration(path: string): number {
  const r = Bun.spawnSync([FFPROBE, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path]);
  if (r.exitCode !== 0) throw new Error(`ffprobe failed: ${r.stderr.toString()}`);
  return Number(r.stdout.toString().trim());
}

/** Polls `fn` every 50 ms until it returns a truthy value; throws after `timeoutMs` with `what` (./helpers/wait.ts). */
export const waitUntil = <T>(what: string, fn: () => T, timeoutMs: number): Promise<NonNullable<T>> =>
  pollUntil(what, fn as () => T | null | undefined | false, timeoutMs, 50);

export interface RecorderHarness {
  events: RecorderEvent[];
  /** Sends RECORDER.STOP to the recorder child. */
  stop(): void;
  /** Stops the parent machine (runs the recorder's cleanup). */
  stopParent(): void;
  exit(): RecorderEvent & { type: "PROCESS_EXIT" } | undefined;
}

/** Starts a parent machine that invokes the recorder (by string src) and records every event it gets. */
export function runRecorder(input: RecorderInput): RecorderHarness {
  const events: RecorderEvent[] = [];
  const machine = setup({
    types: { events: {} as RecorderEvent },
    actors: { recorder: recorderActor },
  }).createMachine({
    id: "recorderTestParent",
    invoke: { id: "rec", src: "recorder", input: () => input },
    on: {
      "*": { actions: ({ event }) => void events.push(event) },
    },
  });
  const actor = createActor(machine).start();
  return {
    events,
    stop: () => (actor.getSnapshot().children.rec as AnyActorRef | undefined)?.send({ type: "RECORDER.STOP" }),
    stopParent: () => actor.stop(),
    exit: () => events.find((e): e is RecorderEvent & { type: "PROCESS_EXIT" } => e.type === "PROCESS_EXIT"),
  };
}

/** sha256 of a file's bytes, or "absent". */
export function fileHash(path: string): string {
  if (!existsSync(path)) return "absent";
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Recursive listing `relative path -> size:mtime` of a directory, skipping SQLite's -wal/-shm. */
export function listing(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (!/-(wal|shm)$/.test(name)) out[relative(dir, p)] = `${st.size}:${st.mtimeMs}`;
    }
  };
  walk(dir);
  return out;
}
