/**
 * Configuration: one TOML file (`Bun.TOML.parse`) validated with valibot into a `Config`.
 *
 * With no file, `defaultConfig()` runs anywhere: one camera `dashcam` reading `/dev/video0`
 * when it exists, else ffmpeg's built-in test pattern. Every problem is reported as one
 * `ConfigError` whose message names the key (`cameras[0].segment_seconds: ...`); the CLI prints
 * it on one line and exits 2 before anything is written.
 */
import * as v from "valibot";
import { existsSync, readFileSync } from "node:fs";
import { resolve, dirname, isAbsolute } from "node:path";
import type { GpioConfig } from "./machines/supervisor.ts";

/** The validated `[gpio]` table: declared with the supervisor machine that takes it as input. */
export type { GpioConfig };

export class ConfigError extends Error {}

const KEY_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Camera source syntax: `rtsp://…`, `rtsps://…`, `file:PATH`, `v4l2:/dev/videoN`, `testsrc`, `rpicam`. */
export const SOURCE_RE = /^(rtsps?:\/\/.+|file:.+|v4l2:\/dev\/video\d+|testsrc|rpicam)$/;

const positiveInt = (max: number) => v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(max));

const CameraSchema = v.strictObject({
  key: v.pipe(v.string(), v.regex(KEY_RE, "must be 1-64 of a-z, 0-9, _ and -, starting with a letter or digit")),
  name: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
  source: v.pipe(v.string(), v.regex(SOURCE_RE, "must be rtsp://..., file:PATH, v4l2:/dev/videoN, testsrc or rpicam")),
  /** Target segment length in seconds; -c copy cuts at the next keyframe after it. */
  segment_seconds: v.optional(positiveInt(3600), 60),
  /** Ring capacity in segments. */
  ring_segments: v.optional(positiveInt(10_000_000), 1440),
  /** Optional ring capacity in bytes of unlocked segments. */
  ring_bytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  /** Keep at least this many bytes free on the data disk. */
  min_free_bytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  enabled: v.optional(v.boolean(), true),
  /** RTSP transport; absent = ffmpeg's default (UDP, falling back to TCP). */
  rtsp_transport: v.optional(v.picklist(["tcp", "udp"])),
  /**
   * Camera audio (rtsp and file sources): `aac` (default) re-encodes it to AAC, which MPEG-TS
   * segments and browsers always carry (G.711/PCM, common on IP cameras, cannot be stream-copied
   * into MPEG-TS); `copy` keeps it as sent (AAC/MP3/AC-3 only); `none` records video only.
   */
  audio: v.optional(v.picklist(["aac", "copy", "none"]), "aac"),
  /** Test pattern / v4l2 encode size and rate. */
  width: v.optional(positiveInt(7680), 1280),
  height: v.optional(positiveInt(4320), 720),
  fps: v.optional(positiveInt(240), 25),
  /** No closed segment for this long while recording = stalled (default: 2 x segment + 10 s). */
  stall_seconds: v.optional(positiveInt(86400)),
  /** Restart backoff: first delay and cap, ms. */
  backoff_initial_ms: v.optional(positiveInt(3_600_000), 1000),
  backoff_max_ms: v.optional(positiveInt(3_600_000), 30_000),
});

/**
 * `[alpr]`: the seed 001 plate-reading pipeline. Absent section = ALPR off. Times in ms,
 * boxes in pixels. Defaults: 1 sampled frame per second of closed footage, 1 worker.
 */
const AlprSchema = v.strictObject({
  enabled: v.optional(v.boolean(), true),
  /** Frames per second sampled from each closed segment (0.1 .. 30). */
  sample_fps: v.optional(v.pipe(v.number(), v.minValue(0.1), v.maxValue(30)), 1),
  /** Inference workers (Bun Workers). */
  workers: v.optional(positiveInt(16), 1),
  /** Optional YOLOX-nano vehicle detector (.onnx); absent = plates searched in the whole frame. */
  vehicle_model: v.optional(v.pipe(v.string(), v.minLength(1))),
  /**
   * Other ONNX models instead of the embedded PP-OCRv4 ones (e.g. a recogniser trained on
   * plates): text detection (`det_model`, DB output like PP-OCR's), recognition (`rec_model`,
   * CTC output [1, T, classes]) and its dictionary (`rec_dict`, one character per line, PaddleOCR's
   * format). Relative paths are resolved against the config file's folder.
   */
  det_model: v.optional(v.pipe(v.string(), v.minLength(1))),
  rec_model: v.optional(v.pipe(v.string(), v.minLength(1))),
  rec_dict: v.optional(v.pipe(v.string(), v.minLength(1))),
  /**
   * Longest side of the text detector's input, pixels (multiple of 32, 320..1920). 960 (the
   * default, PaddleOCR's) reads the most plates; 800 is ~17 % faster per frame and misses small
   * plates (bench/alpr.ts --detector-side prints both).
   */
  detector_side: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(320), v.maxValue(1920), v.check((n) => n % 32 === 0, "must be a multiple of 32")),
    960,
  ),
  /** Backpressure: unfinished frame tasks above this = new segments are skipped (and counted). */
  max_queue: v.optional(positiveInt(1_000_000), 200),
  /** Segments already recorded when ALPR first starts that are still read (0 = new footage only). */
  backfill_segments: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  /** Tracking: a reading joins a track when within this many ms of it and boxes overlap (IoU). */
  track_gap_ms: v.optional(positiveInt(600_000), 2000),
  track_iou: v.optional(v.pipe(v.number(), v.minValue(0.01), v.maxValue(1)), 0.3),
  /** A track with nothing new for this long (ms of wall clock, no footage pending) is closed. */
  track_flush_ms: v.optional(positiveInt(3_600_000), 30_000),
  /** Readings below this recognition confidence (0..1) are not tracked. */
  min_confidence: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1)), 0.5),
  /** Watchlist matching: 0 = exact plate, 1 = also plates one edit away. */
  watchlist_max_edits: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1)), 0),
  /** Poll interval of the sampler and dispatcher, ms. */
  poll_ms: v.optional(positiveInt(60_000), 500),
});

const ConfigSchema = v.strictObject({
  data_dir: v.optional(v.pipe(v.string(), v.minLength(1)), "./data"),
  http: v.optional(
    v.strictObject({
      listen: v.optional(v.pipe(v.string(), v.regex(/^[^\s:]*:\d{1,5}$/, "must be HOST:PORT")), "127.0.0.1:8080"),
    }),
    {},
  ),
  cameras: v.optional(v.array(CameraSchema), []),
  gpio: v.optional(
    v.strictObject({
      chip: v.optional(v.string(), "gpiochip0"),
      save_line: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 17),
      active_low: v.optional(v.boolean(), true),
      debounce_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 50),
      long_press_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 1500),
    }),
  ),
  /** Incident clip (long press, UI, API): the window from before_seconds to after_seconds around the moment. */
  incident: v.optional(
    v.strictObject({
      before_seconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(3600)), 30),
      after_seconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(3600)), 30),
    }),
    {},
  ),
  alpr: v.optional(AlprSchema),
  postgres: v.optional(v.strictObject({ url: v.pipe(v.string(), v.minLength(1)) })),
});

export type AlprConfig = v.InferOutput<typeof AlprSchema>;
export type CameraConfig = v.InferOutput<typeof CameraSchema> & { name: string };
export type Config = Omit<v.InferOutput<typeof ConfigSchema>, "cameras" | "http" | "incident" | "gpio"> & {
  cameras: CameraConfig[];
  /** Absent when the file has no `[gpio]` table (the schema's output must fit `GpioConfig`). */
  gpio?: GpioConfig;
  http: { listen: string };
  incident: { before_seconds: number; after_seconds: number };
  /** Absolute path of the file it came from, or null for the default. */
  path: string | null;
};

/** Stall timeout for a camera, ms: `stall_seconds`, default 2 x segment_seconds + 10 s. */
export function stallTimeoutMs(camera: Pick<CameraConfig, "stall_seconds" | "segment_seconds">): number {
  return (camera.stall_seconds ?? 2 * camera.segment_seconds + 10) * 1000;
}

/** The [alpr] section with its model paths (vehicle, det, rec, dictionary) made absolute against `baseDir`. */
function resolveModelPaths<A extends { vehicle_model?: string; det_model?: string; rec_model?: string; rec_dict?: string }>(a: A, baseDir: string): A {
  const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(baseDir, p));
  const out = { ...a };
  for (const k of ["vehicle_model", "det_model", "rec_model", "rec_dict"] as const) if (out[k] !== undefined) out[k] = abs(out[k]) as A[typeof k];
  return out;
}

/** Validates a parsed TOML object. Relative `data_dir` is resolved against `baseDir`. */
export function validateConfig(raw: unknown, baseDir: string, path: string | null = null): Config {
  const result = v.safeParse(ConfigSchema, raw, { abortEarly: true });
  if (!result.success) {
    const issue = result.issues[0];
    const where = (issue.path ?? [])
      .map((p, i) => (typeof p.key === "number" ? `[${p.key}]` : `${i === 0 ? "" : "."}${String(p.key)}`))
      .join("");
    const unknownKey = issue.kind === "schema" && issue.expected === "never";
    const message = unknownKey ? "unknown key" : issue.message;
    throw new ConfigError(`${where || "config"}: ${message}`);
  }
  const out = result.output;
  const seen = new Set<string>();
  out.cameras.forEach((camera, i) => {
    if (seen.has(camera.key)) throw new ConfigError(`cameras[${i}].key: duplicate camera key "${camera.key}"`);
    seen.add(camera.key);
    if (camera.backoff_max_ms < camera.backoff_initial_ms)
      throw new ConfigError(`cameras[${i}].backoff_max_ms: must be >= backoff_initial_ms`);
    if (camera.source.startsWith("file:")) {
      const file = camera.source.slice(5);
      if (!existsSync(isAbsolute(file) ? file : resolve(baseDir, file)))
        throw new ConfigError(`cameras[${i}].source: file ${file} does not exist`);
    }
  });
  return {
    ...out,
    data_dir: isAbsolute(out.data_dir) ? out.data_dir : resolve(baseDir, out.data_dir),
    http: { listen: out.http.listen ?? "127.0.0.1:8080" },
    incident: { before_seconds: out.incident?.before_seconds ?? 30, after_seconds: out.incident?.after_seconds ?? 30 },
    alpr: out.alpr && resolveModelPaths(out.alpr, baseDir),
    cameras: out.cameras.map((c) => ({
      ...c,
      name: c.name ?? c.key,
      source: c.source.startsWith("file:") && !isAbsolute(c.source.slice(5)) ? `file:${resolve(baseDir, c.source.slice(5))}` : c.source,
    })),
    path,
  };
}

/** Parses TOML text; a syntax error becomes a one-line ConfigError. */
export function parseConfigText(text: string, baseDir: string, path: string | null = null): Config {
  let raw: unknown;
  try {
    raw = Bun.TOML.parse(text);
  } catch (err) {
    throw new ConfigError(`TOML syntax: ${String((err as Error).message ?? err).split("\n")[0]}`);
  }
  return validateConfig(raw, baseDir, path);
}

/** The configuration used when no file is given. */
export function defaultConfig(cwd = process.cwd()): Config {
  const source = existsSync("/dev/video0") ? "v4l2:/dev/video0" : "testsrc";
  return validateConfig({ cameras: [{ key: "dashcam", name: "Dashcam", source }] }, cwd);
}

/**
 * Loads the config from `path` (or `DASHCAM_CONFIG`); no path = `defaultConfig()`.
 * Throws ConfigError (one line) on a missing file, bad TOML or a bad value.
 */
export function loadConfig(path: string | undefined = process.env.DASHCAM_CONFIG): Config {
  if (!path) return defaultConfig();
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch {
    throw new ConfigError(`cannot read config file ${path}`);
  }
  return parseConfigText(text, dirname(abs), abs);
}
