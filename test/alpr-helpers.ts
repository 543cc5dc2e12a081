/**
 * Shared helpers of the ALPR tests and bench: a temp data dir with a real SQLite database and
 * one camera, a slideshow "recording" of the US photos made by real ffmpeg with the recorder's
 * segment muxer settings and indexed with the indexer, a real PostgreSQL server, idle waits.
 */
import type { Database } from "bun:sqlite";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { indexSegment } from "../src/db/segments.ts";
import { Hono } from "hono";
import { defaultConfig, parseConfigText, type Config } from "../src/config.ts";
import { LiveBus } from "../src/events.ts";
import { depsMiddleware, type WebEnv } from "../src/web/env.ts";
import { renderer } from "../src/web/layout.tsx";
import { platesRoutes } from "../src/web/routes/plates.tsx";
import { segmentRelPath } from "../src/paths.ts";
import { normalizePlate } from "../src/plateText.ts";
import { bestRead, type RegionRead } from "../src/alpr/dispatcher.ts";
import type { StagePool } from "../src/alpr/runner.ts";
import { MAX_VEHICLES, pickCandidates } from "../src/vision/reader.ts";
import type { VehicleRow } from "../src/db/vehicles.ts";

/** A `vehicles` row as SQLite returns it: the boxes still JSON text (tests check the stored form). */
export type StoredVehicleRow = Omit<VehicleRow, "car_bbox" | "plate_bbox" | "camera_key" | "camera_name"> & { car_bbox: string; plate_bbox: string };

export const US_DIR = join(import.meta.dir, "../../shared/data/alpr/us");
export const YOLOX = join(import.meta.dir, "../../shared/models/yolox_nano.onnx");
export const FFMPEG = Bun.which("ffmpeg") ?? "/usr/bin/ffmpeg";

export interface Photo {
  file: string;
  path: string;
  plate: string;
  box: [number, number, number, number];
}

/** The US benchmark photos with their ground truth (`file x y w h PLATE`), sorted by file name. */
export function usPhotos(): Photo[] {
  return readdirSync(US_DIR)
    .filter((f) => f.endsWith(".jpg"))
    .sort()
    .map((file) => {
      const [, x, y, w, h, plate] = readFileSync(join(US_DIR, file.replace(/\.jpg$/, ".txt")), "utf8").trim().split("\t");
      return { file, path: join(US_DIR, file), plate: normalizePlate(plate), box: [+x, +y, +w, +h] as [number, number, number, number] };
    });
}

/**
 * `n` photos spread evenly over the sorted list, skipping one whose plate equals the previous
 * pick (the same car twice in a row would be one continuous vehicle pass, not two).
 */
export function pickPhotos(n: number): Photo[] {
  const all = usPhotos();
  if (n >= all.length) return all.filter((p, i) => i === 0 || p.plate !== all[i - 1].plate);
  const out: Photo[] = [];
  for (let i = 0; out.length < n && i < all.length; i++) {
    const p = all[Math.floor((i * all.length) / n) % all.length];
    if (out.some((o) => o.file === p.file)) continue;
    if (out.length && out[out.length - 1].plate === p.plate) continue;
    out.push(p);
  }
  return out;
}

export interface TestEnv {
  dir: string;
  dataDir: string;
  db: Database;
  cameraId: number;
  cameraKey: string;
  cleanup(): void;
}

/** A temp data dir with a real database file and one camera `cam1` (source testsrc). */
export function makeEnv(prefix = "alpr-test-"): TestEnv {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const dataDir = join(dir, "data");
  mkdirSync(dataDir, { recursive: true });
  const db = openDatabase(join(dataDir, "dashcam.db"));
  const cfg = parseConfigText(`[[cameras]]\nkey = "cam1"\nsource = "testsrc"\n`, dir);
  const ids = syncCameras(db, cfg.cameras, null);
  return {
    dir,
    dataDir,
    db,
    cameraId: ids.get("cam1")!,
    cameraKey: "cam1",
    cleanup() {
      try {
        db.close();
      } catch {
        // already closed
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A config with `[alpr]` set from `alpr` (TOML lines) and optionally `[postgres] url`. */
export function alprConfig(env: TestEnv, alpr: string, pgUrl?: string): Config {
  const text = `data_dir = "${env.dataDir}"\n[[cameras]]\nkey = "cam1"\nsource = "testsrc"\n[alpr]\n${alpr}\n${pgUrl ? `[postgres]\nurl = "${pgUrl}"\n` : ""}`;
  return parseConfigText(text, env.dir);
}

export interface Slideshow {
  /** Start of the recording, ms UTC (photo i is on screen [t0 + i*secs*1000, t0 + (i+1)*secs*1000)). */
  t0: number;
  secondsPerPhoto: number;
  segments: { absoluteIndex: number; startUtc: number; endUtc: number; relPath: string }[];
}

/**
 * Records the photos as a slideshow into the camera's ring: each photo `secondsPerPhoto` s,
 * scaled and padded to 1280x720, H.264 at 5 fps with a keyframe every second, cut by ffmpeg's
 * segment muxer exactly as the recorder does (`-f segment -segment_format mpegts
 * -segment_list csv -reset_timestamps 0`, files named by absolute index), then every closed
 * segment is indexed with the indexer (src/db/segments.ts). Returns the timeline.
 */
export async function recordSlideshow(env: TestEnv, photos: Photo[], opts: { secondsPerPhoto?: number; segmentSeconds?: number; t0?: number } = {}): Promise<Slideshow> {
  const secs = opts.secondsPerPhoto ?? 2;
  const segSecs = opts.segmentSeconds ?? 10;
  const t0 = opts.t0 ?? Date.UTC(2026, 0, 15, 12, 0, 0);
  // every photo scaled and padded to 1280x720 first: a size change inside one ffmpeg run
  // re-initialises the filter graph and the fps filter would drop frames
  const slides = join(env.dir, "slides");
  mkdirSync(slides, { recursive: true });
  const scaled: string[] = [];
  for (const [i, p] of photos.entries()) {
    const out = join(slides, `${String(i).padStart(4, "0")}.png`);
    const r = Bun.spawnSync([FFMPEG, "-nostdin", "-loglevel", "error", "-y", "-i", p.path, "-vf", "scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2", out]);
    if (r.exitCode !== 0) throw new Error(`ffmpeg could not scale ${p.path}: ${r.stderr.toString()}`);
    scaled.push(out);
  }
  const list = join(env.dir, "slides.txt");
  const lines = scaled.flatMap((p) => [`file '${p}'`, `duration ${secs}`]);
  lines.push(`file '${scaled[scaled.length - 1]}'`); // the concat demuxer ignores the last duration otherwise
  writeFileSync(list, lines.join("\n") + "\n");
  const ringRel = join("recordings", env.cameraKey);
  mkdirSync(join(env.dataDir, ringRel), { recursive: true });
  const csv = join(env.dir, "segments.csv");
  const args = [
    FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
    "-f", "concat", "-safe", "0", "-i", list,
    "-vf", "fps=5,format=yuv420p",
    "-t", String(photos.length * secs),
    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-g", "5", "-keyint_min", "5", "-sc_threshold", "0",
    "-f", "segment", "-segment_time", String(segSecs), "-segment_format", "mpegts",
    "-segment_list", csv, "-segment_list_type", "csv", "-segment_start_number", "0", "-reset_timestamps", "0",
    join(env.dataDir, ringRel, "%09d.ts"),
  ];
  const proc = Bun.spawn(args, { stdout: "ignore", stderr: "pipe" });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`ffmpeg slideshow failed: ${err}`);
  const segments: Slideshow["segments"] = [];
  for (const line of readFileSync(csv, "utf8").trim().split("\n")) {
    const [file, start, end] = line.split(",");
    const abs = Number(file.replace(/\.ts$/, ""));
    const relPath = segmentRelPath(env.cameraKey, abs);
    const startUtc = t0 + Math.round(Number(start) * 1000);
    const endUtc = t0 + Math.round(Number(end) * 1000);
    segments.push({ absoluteIndex: abs, startUtc, endUtc, relPath });
  }
  return { t0, secondsPerPhoto: secs, segments };
}

/** Indexes slideshow segments (all, or the given ones) as the recorder's indexer does. */
export function indexSlideshow(env: TestEnv, show: Slideshow, only?: number[]): void {
  for (const s of show.segments) {
    if (only && !only.includes(s.absoluteIndex)) continue;
    const bytes = statSync(join(env.dataDir, s.relPath)).size;
    indexSegment(env.db, { cameraId: env.cameraId, absoluteIndex: s.absoluteIndex, relPath: s.relPath, startUtc: s.startUtc, endUtc: s.endUtc, bytes }, "test-boot");
  }
}

/** Every file under `dir` (recursive), relative paths; [] when it does not exist. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full, join(rel, name));
      else out.push(join(rel, name));
    }
  };
  walk(dir, "");
  return out;
}

/** Polls `cond` every `stepMs` until true; throws after `timeoutMs` with `what`. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string, stepMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(stepMs);
  }
}

// ---------------------------------------------------------------- a real PostgreSQL server

const PG_BIN = "/usr/lib/postgresql/15/bin";

export interface PgServer {
  url: string;
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

/** A free loopback TCP port (bound once by the OS, then released). */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

function asPostgres(cmd: string[]): string[] {
  // tests run as root; PostgreSQL refuses to run as root, so its processes run as `postgres`
  return process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd;
}

async function run(cmd: string[]): Promise<void> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (${code}): ${out}\n${err}`);
}

/**
 * initdb into a temp dir (owned by the `postgres` OS user when running as root) with trust
 * authentication, listening on 127.0.0.1 at a random port, socket in the temp dir.
 */
export async function makePostgres(): Promise<PgServer> {
  const dir = mkdtempSync(join(tmpdir(), "alpr-pg-"));
  chmodSync(dir, 0o755);
  const data = join(dir, "data");
  if (process.getuid?.() === 0) {
    const uid = Number((await Bun.$`id -u postgres`.text()).trim());
    const gid = Number((await Bun.$`id -g postgres`.text()).trim());
    chownSync(dir, uid, gid);
  }
  await run(asPostgres([`${PG_BIN}/initdb`, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]));
  const port = freePort();
  const server: PgServer = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      await run(
        asPostgres([
          `${PG_BIN}/pg_ctl`, "-D", data, "-l", join(dir, "log"), "-w", "-t", "60",
          "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB`,
          "start",
        ]),
      );
    },
    async stop() {
      await run(asPostgres([`${PG_BIN}/pg_ctl`, "-D", data, "-m", "fast", "-w", "stop"]));
    },
    async destroy() {
      try {
        await server.stop();
      } catch {
        // not running
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

// ---------------------------------------------------------------- reference reads

/**
 * What the pipeline's stages read on one frame when composed directly, outside the task
 * graph: decode, vehicles (or the whole frame), plate candidates per region
 * (`pickCandidates`), `readCandidates` on them, the region's `bestRead`, confidence >=
 * `minConfidence`. One text per region. The pipeline must produce exactly these reads; what
 * it adds (tasks, joins, tracks, votes, rows) is what the tests check.
 */
export async function stageReads(pool: StagePool, bytes: Uint8Array, minConfidence: number): Promise<string[]> {
  const img = await pool.decodeImage(bytes);
  const vehicles = (await pool.detectVehicles(img)).slice(0, MAX_VEHICLES);
  const regions = vehicles.length ? vehicles.map((v) => v.box) : [undefined];
  const out: string[] = [];
  for (const region of regions) {
    const picked = pickCandidates(await pool.detectPlates(img, region));
    const reads: RegionRead[] = picked.length ? await pool.readCandidates(img, picked) : [];
    const best = bestRead(reads, img.width, img.height);
    if (best && best.confidence >= minConfidence) out.push(best.text);
  }
  return out;
}

/**
 * The `/plates` sub-app mounted the way the real app mounts it: `depsMiddleware` with the test
 * env's database and data directory, `config` (default: the default config, plate reading off)
 * and a fresh live bus, then the layout.
 */
export function platesApp(env: TestEnv, config: Config = defaultConfig(env.dir)): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  app.use("*", depsMiddleware({ db: env.db, dataDir: env.dataDir, config, bus: new LiveBus(), startedAt: Date.now() }));
  app.use("*", renderer);
  app.route("/plates", platesRoutes());
  return app;
}
