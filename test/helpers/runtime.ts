/**
 * The dashcam runtime as a real process, for end-to-end tests and benches.
 *
 * - `makeTempDir()` / `writeConfig()` write a TOML config (`data_dir`, `[http] listen`,
 *   `[[cameras]]`) into a temp directory under `os.tmpdir()`.
 * - `startRuntime()` spawns `bun src/main.ts run --config FILE` in its own process group and
 *   waits for the `listening on http://HOST:PORT` line; `kill()` is a power cut (SIGKILL to bun's
 *   process tree and group: bun and its ffmpeg children, which run in their own sessions),
 *   `terminate()` an orderly stop (SIGTERM to bun only, which must stop its own children).
 * - `runCli()` runs any other CLI command (`check`) to completion.
 * - `readDb()` opens `<data_dir>/dashcam.db` read-only for one callback and closes it, so a
 *   test never holds a read snapshot or a lock across the runtime's writes.
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawnProc, killWithArg, type Proc } from "./proc.ts";
import type { SegmentRow } from "../../src/db/segments.ts";
import type { TripRow } from "../../src/db/trips.ts";
import type { CameraStatusRow } from "../../src/db/cameraStatus.ts";
import type { RingCounters } from "../../src/actors/reconcile.ts";

/** Repository root (where src/main.ts lives). */
export const ROOT = resolve(import.meta.dir, "../..");
/** The CLI entry point the tests spawn. */
export const MAIN = join(ROOT, "src/main.ts");
/** The bun binary running this test (so children use the same version). */
export const BUN = process.execPath;

export const VERBOSE = !!process.env.E2E_VERBOSE;

/** A fresh temp directory (prefix `dashcam-e2e-`); remove it with `removeDir`. */
export function makeTempDir(prefix = "dashcam-e2e-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Removes a temp directory (kept when E2E_KEEP is set), after killing ffmpeg children still writing into it. */
export function removeDir(dir: string): void {
  if (process.env.E2E_KEEP) {
    console.log(`kept ${dir}`);
    return;
  }
  killWithArg(dir); // ffmpeg children that could still write into it
  rmSync(dir, { recursive: true, force: true });
}

export interface CameraSpec {
  key: string;
  source: string;
  name?: string;
  segment_seconds?: number;
  ring_segments?: number;
  ring_bytes?: number;
  min_free_bytes?: number;
  enabled?: boolean;
  rtsp_transport?: "tcp" | "udp";
  width?: number;
  height?: number;
  fps?: number;
  stall_seconds?: number;
  backoff_initial_ms?: number;
  backoff_max_ms?: number;
  [extra: string]: unknown;
}

/** ffmpeg's built-in test pattern at 320x240, 10 frames/s, 2 s segments (small, quick to encode on 2 cores). */
export const TEST_CAMERA: CameraSpec = { key: "front", source: "testsrc", segment_seconds: 2, width: 320, height: 240, fps: 10 };

export interface ConfigSpec {
  data_dir: string;
  /** HOST:PORT; default 127.0.0.1:0 (the runtime prints the port it bound). */
  listen?: string;
  cameras: CameraSpec[];
}

function tomlValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v); // TOML basic strings accept JSON escapes
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw new Error(`cannot write ${typeof v} as TOML`);
}

/** Renders a ConfigSpec as TOML text. */
export function configToml(spec: ConfigSpec): string {
  const lines = [`data_dir = ${tomlValue(spec.data_dir)}`, "", "[http]", `listen = ${tomlValue(spec.listen ?? "127.0.0.1:0")}`];
  for (const cam of spec.cameras) {
    lines.push("", "[[cameras]]");
    for (const [k, v] of Object.entries(cam)) if (v !== undefined) lines.push(`${k} = ${tomlValue(v)}`);
  }
  return lines.join("\n") + "\n";
}

/** Writes `spec` as `<dir>/<name>` and returns its path. */
export function writeConfig(dir: string, spec: ConfigSpec, name = "dashcam.toml"): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, configToml(spec));
  return path;
}

export interface Runtime {
  proc: Proc;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  /** Power cut: SIGKILL to the whole process tree (bun and every ffmpeg it started). */
  kill(): Promise<number>;
  /** Orderly stop: SIGTERM to the bun process only; SIGKILL to the group after `graceMs`. */
  terminate(graceMs?: number): Promise<number>;
}

/**
 * Spawns `bun src/main.ts run --config FILE` and waits (up to `timeoutMs`) for
 * `listening on http://HOST:PORT` on stdout. Throws with the output if it exits first.
 */
export async function startRuntime(
  configPath: string,
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number; label?: string } = {},
): Promise<Runtime> {
  const label = opts.label ?? "runtime";
  const proc = spawnProc([BUN, MAIN, "run", "--config", configPath], {
    cwd: ROOT,
    env: { NO_COLOR: "1", ...opts.env },
    onLine: VERBOSE ? (s, l) => console.log(`[${label} ${s}] ${l}`) : undefined,
  });
  const m = await proc.waitForLine(/listening on (http:\/\/[^\s:]+:(\d+))/, opts.timeoutMs ?? 30_000, "stdout");
  const port = Number(m[2]);
  if (!port) throw new Error(`runtime printed a useless address: ${m[0]}`);
  return {
    proc,
    url: m[1],
    port,
    async kill() {
      proc.signalGroup("SIGKILL");
      return proc.exited;
    },
    terminate: (graceMs = 20_000) => terminate(proc, graceMs),
  };
}

/**
 * Orderly stop: SIGTERM to the runtime process only (it must stop its own ffmpeg children);
 * SIGKILL to the whole group after `graceMs`. Resolves with the exit code.
 */
export async function terminate(proc: Proc, graceMs = 20_000): Promise<number> {
  proc.signal("SIGTERM");
  const t = setTimeout(() => proc.signalGroup("SIGKILL"), graceMs);
  const code = await proc.exited;
  clearTimeout(t);
  return code;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `bun src/main.ts ...args` to completion (killed after `timeoutMs`). */
export async function runCli(args: string[], opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<CliResult> {
  const p = spawnProc([BUN, MAIN, ...args], { cwd: ROOT, env: { NO_COLOR: "1", ...opts.env } });
  const t = setTimeout(() => p.signalGroup("SIGKILL"), opts.timeoutMs ?? 60_000);
  const code = await p.exited;
  clearTimeout(t);
  return { code, stdout: p.stdout.join("\n"), stderr: p.stderr.join("\n") };
}

/** Path of the database in a data dir. */
export const dbFile = (dataDir: string) => join(dataDir, "dashcam.db");

/**
 * Opens the database read-only, runs `fn`, closes it. Returns undefined (without calling `fn`)
 * while the file does not exist yet.
 */
export function readDb<T>(dataDir: string, fn: (db: Database) => T): T | undefined {
  const path = dbFile(dataDir);
  if (!existsSync(path)) return undefined;
  const db = new Database(path, { readonly: true, strict: true });
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    return fn(db);
  } finally {
    db.close();
  }
}

/** Opens the database read-write (for a test that plays an operator, e.g. locking footage). */
export function writeDb<T>(dataDir: string, fn: (db: Database) => T): T {
  const db = new Database(dbFile(dataDir), { strict: true });
  try {
    db.exec("PRAGMA busy_timeout = 10000");
    db.exec("PRAGMA foreign_keys = ON");
    return fn(db);
  } finally {
    db.close();
  }
}

/** Row shapes: the owning src/db modules declare them; re-exported for the tests. */
export type { SegmentRow, TripRow, CameraStatusRow };

/** One `camera_state` row: the ring counters of a camera. */
export interface CameraStateRow extends RingCounters {
  camera_id: number;
}

/** Camera id for `key`, or null while its row does not exist. */
export function cameraId(dataDir: string, key: string): number | null {
  return readDb(dataDir, (db) => (db.query("SELECT id FROM cameras WHERE key = ?").get(key) as { id: number } | null)?.id ?? null) ?? null;
}

/** All segment rows of a camera, oldest first. */
export function segmentsOf(dataDir: string, key: string): SegmentRow[] {
  return (
    readDb(dataDir, (db) =>
      db
        .query("SELECT s.* FROM segments s JOIN cameras c ON c.id = s.camera_id WHERE c.key = ? ORDER BY s.absolute_index")
        .all(key) as SegmentRow[],
    ) ?? []
  );
}

/** All trip rows of a camera, oldest first. */
export function tripsOf(dataDir: string, key: string): TripRow[] {
  return (
    readDb(dataDir, (db) =>
      db.query("SELECT t.* FROM trips t JOIN cameras c ON c.id = t.camera_id WHERE c.key = ? ORDER BY t.id").all(key) as TripRow[],
    ) ?? []
  );
}

/** The camera's `camera_state` row, or null while it does not exist. */
export function cameraStateOf(dataDir: string, key: string): CameraStateRow | null {
  return (
    readDb(dataDir, (db) =>
      db.query("SELECT s.* FROM camera_state s JOIN cameras c ON c.id = s.camera_id WHERE c.key = ?").get(key) as CameraStateRow | null,
    ) ?? null
  );
}

/** The camera's `camera_status` row, or null while it does not exist. */
export function cameraStatusOf(dataDir: string, key: string): CameraStatusRow | null {
  return (
    readDb(dataDir, (db) =>
      db.query("SELECT s.* FROM camera_status s JOIN cameras c ON c.id = s.camera_id WHERE c.key = ?").get(key) as CameraStatusRow | null,
    ) ?? null
  );
}

/** Number of rows in `table` (a fixed identifier chosen by the test). */
export function countRows(dataDir: string, table: string, where = "1"): number {
  return readDb(dataDir, (db) => (db.query(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`).get() as { n: number }).n) ?? 0;
}
