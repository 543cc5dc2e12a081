/**
 * Configuration: one TOML file (parsed by smol-toml, whose syntax errors carry a line and a
 * column) validated with valibot into a `Config`.
 *
 * With no file, `defaultConfig()` runs anywhere: one camera `dashcam` reading `/dev/video0`
 * when it exists, else ffmpeg's built-in test pattern. Every problem is reported as one
 * `ConfigError` whose message names the key (`cameras[0].segment_seconds: ...`); an unknown key
 * is named as written (with the known key it most likely meant), a missing required key is
 * called missing. The CLI prints it on one line and exits 2 before anything is written.
 */
import * as v from "valibot";
import { parse as parseToml, TomlError } from "smol-toml";
import { existsSync, readFileSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import { editDistance } from "./plateText.ts";
import { resolve, dirname, isAbsolute } from "node:path";
import { knownRegions, regionFormats } from "./vision/formats.ts";
import type { GpioConfig } from "./machines/supervisor.ts";

/** The validated `[gpio]` table: declared with the supervisor machine that takes it as input. */
export type { GpioConfig };

export class ConfigError extends Error {}

const KEY_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Camera source syntax: `rtsp://…`, `rtsps://…`, `file:PATH`, `v4l2:/dev/videoN`, `testsrc`, `rpicam`. */
export const SOURCE_RE = /^(rtsps?:\/\/.+|file:.+|v4l2:\/dev\/video\d+|testsrc|rpicam)$/;

const positiveInt = (max: number) => v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(max));

/**
 * `max_loss_seconds`: the most footage (seconds) a power cut may lose from the segment being
 * written (DESIGN.md invariant 6); the recorder syncs that segment every half of it. 0.5 .. 60:
 * below 0.5 s the syncs cost more than they save, above 60 s a segment is the better unit.
 */
const MaxLossSeconds = v.pipe(v.number(), v.minValue(0.5, "must be at least 0.5"), v.maxValue(60, "must be at most 60"));

/** Default of `max_loss_seconds`. */
export const DEFAULT_MAX_LOSS_SECONDS = 2;

/** Overlay corners of the day counter (seed 004 `cameras.day_overlay_position`). */
export const OVERLAY_POSITIONS = ["top-left", "top-right", "bottom-left", "bottom-right"] as const;

/**
 * `[cameras.timelapse]`: seed 004's per-camera timelapse settings. `interval_seconds` absent =
 * no captures. Images are rotated before they are stored; `day_counter_start` (YYYY-MM-DD)
 * turns on `images.day_number` (seed trigger) and the "Day N" overlay.
 */
const TimelapseSchema = v.strictObject({
  interval_seconds: v.optional(positiveInt(86_400)),
  rotation: v.optional(v.picklist(["none", "left", "right", "invert"]), "none"),
  day_counter_start: v.optional(v.pipe(v.string(), v.isoDate("must be a date YYYY-MM-DD"))),
  overlay_position: v.optional(v.picklist(OVERLAY_POSITIONS), "top-right"),
  /** Seed 004's `day_overlay_style` keys; font_family is accepted, the shipped font is always used. */
  overlay_style: v.optional(
    v.strictObject({
      font_size: v.optional(v.pipe(v.number(), v.integer(), v.minValue(6), v.maxValue(400)), 24),
      font_color: v.optional(v.pipe(v.string(), v.hexColor("must be a #RRGGBB colour")), "#FFFFFF"),
      background_color: v.optional(v.pipe(v.string(), v.hexColor("must be a #RRGGBB colour")), "#000000"),
      background_opacity: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1)), 0.7),
      font_family: v.optional(v.pipe(v.string(), v.maxLength(100)), "Arial"),
    }),
    {},
  ),
  generation_mode: v.optional(v.picklist(["every_capture", "periodic", "manual_only"]), "manual_only"),
  /** With `periodic`: regenerate the continuous video this often. */
  periodic_minutes: v.optional(positiveInt(10_080), 60),
  frame_rate: v.optional(positiveInt(120), 30),
  /** Images older than this are deleted unless a pending/processing/checkpoint/manual batch uses them. */
  keep_images_days: v.optional(positiveInt(36_500), 30),
  /**
   * A recording camera's capture may wait this long for the camera's next keyframe and decode
   * only it (0 = capture on the tick; absent = min(interval, 12 s)). See src/actors/timelapseCapture.ts.
   */
  keyframe_wait_seconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(60))),
});

/**
 * `[cameras.inventory]`: seed 003's inventory columns of a camera. Every key is optional; a key
 * set here is written to the database at every start and is read-only in the web UI (the file
 * wins), a key left out may be edited by admins. `scene_type` and `purpose` are short words the
 * optimizer matches (seed examples: scene hallway, parking, entrance; purpose overview, facial,
 * plates). `onvif` names the camera's ONVIF device service; with it, vendor, model and
 * capabilities are discovered over ONVIF (and stream settings can be applied), and the user and
 * password are stored only encrypted (`cameras.credentials_encrypted`).
 */
export const INVENTORY_WORD_RE = /^[a-z][a-z0-9_-]{0,31}$/;
/** One text field of the inventory: trimmed, non-empty, at most `max` characters, no control characters. */
export const inventoryText = (max: number) =>
  v.pipe(v.string(), v.trim(), v.minLength(1, "must not be empty"), v.maxLength(max, `must be at most ${max} characters`), v.regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters"));
/** `scene_type` / `purpose`: 1-32 of a-z, 0-9, _ and -, starting with a letter. */
export const inventoryWord = v.pipe(v.string(), v.trim(), v.toLowerCase(), v.regex(INVENTORY_WORD_RE, "must be one word of 1-32 letters a-z, digits, _ or -, starting with a letter"));
/** An ONVIF device-service URL: http(s)://host[:port][/path]. */
export const onvifUrl = v.pipe(
  v.string(),
  v.trim(),
  v.check((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "" && !u.username && !u.password;
    } catch {
      return false;
    }
  }, "must be http://host[:port]/onvif/device_service (user and password go in user/password, not in the URL)"),
);
const InventorySchema = v.strictObject({
  location: v.optional(inventoryText(200)),
  scene_type: v.optional(inventoryWord),
  purpose: v.optional(inventoryWord),
  vendor: v.optional(inventoryText(100)),
  model: v.optional(inventoryText(100)),
  vms_system: v.optional(inventoryText(64)),
  vms_camera_id: v.optional(inventoryText(128)),
  onvif: v.optional(
    v.strictObject({
      url: onvifUrl,
      user: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(100))),
      password: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
    }),
  ),
});

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
  /** Record into the ring (false: a timelapse-only camera, captures but no segments). */
  record: v.optional(v.boolean(), true),
  timelapse: v.optional(TimelapseSchema),
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
  /** Bound on the footage a power cut may lose, s; default: the top-level `max_loss_seconds`. */
  max_loss_seconds: v.optional(MaxLossSeconds),
  /** Camera health check period for this camera, s (default: `[health] interval_seconds`). */
  health_interval_seconds: v.optional(positiveInt(86_400)),
  /** Seed 003 inventory (see InventorySchema). */
  inventory: v.optional(InventorySchema),
});

const nonNegative = v.pipe(v.number(), v.minValue(0));

/**
 * `[health]`: camera health checks (seed 003). Absent section = on with these defaults. The
 * thresholds are optional; absent ones take `DEFAULT_THRESHOLDS` of src/health/assess.ts, whose
 * comment gives the source of each number.
 */
const HealthSchema = v.strictObject({
  enabled: v.optional(v.boolean(), true),
  /** Seconds between checks of each camera (a camera's `health_interval_seconds` overrides it). */
  interval_seconds: v.optional(positiveInt(86_400), 300),
  /** How long one check waits for the current frame, s. */
  frame_timeout_seconds: v.optional(positiveInt(120), 15),
  /** Retention (seed 003): snapshot pictures and rows, raw metrics, hourly aggregates, days. */
  snapshot_retention_days: v.optional(positiveInt(36_500), 30),
  metrics_retention_days: v.optional(positiveInt(36_500), 90),
  rollup_retention_days: v.optional(positiveInt(36_500), 365),
  thresholds: v.optional(
    v.strictObject({
      dark_warning: v.optional(nonNegative),
      dark_critical: v.optional(nonNegative),
      bright_warning: v.optional(nonNegative),
      bright_critical: v.optional(nonNegative),
      noise_warning: v.optional(nonNegative),
      noise_critical: v.optional(nonNegative),
      blur_warning: v.optional(nonNegative),
      blur_critical: v.optional(nonNegative),
      obstructed_warning: v.optional(nonNegative),
      obstructed_critical: v.optional(nonNegative),
      frozen_difference: v.optional(nonNegative),
      frozen_snapshots: v.optional(v.pipe(v.number(), v.integer(), v.minValue(2), v.maxValue(1000))),
      low_fps_warning: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
      low_fps_critical: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
      bitrate_drop_warning: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
      bitrate_drop_critical: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
      latency_warning_ms: v.optional(nonNegative),
      latency_critical_ms: v.optional(nonNegative),
    }),
    {},
  ),
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
  /**
   * Plate formats the reader fits its readings to: a region ("us", "br", "eu", "de", "gb"), a
   * European country code ("sk"), an area ("us-mo"), or a comma-separated list of these
   * (src/vision/formats/*.toml). Absent = no formats (every reading kept as read).
   */
  region: v.optional(
    v.pipe(
      v.string(),
      v.minLength(1),
      v.check((s) => {
        try {
          regionFormats(s);
          return true;
        } catch {
          return false;
        }
      }, (issue) => `unknown plate region ${JSON.stringify(issue.input)} (known: ${knownRegions().join(", ")}, an area such as us-mo, or a list)`),
    ),
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

/** `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces); the parts are checked by `parseListen`. */
const LISTEN_RE = /^(?:\[([^\]\s]*)\]|([^\s:[\]]*)):(\d{1,5})$/;

/** A DNS host name (RFC 1123 labels); a numeric last label would be read as an IPv4 address. */
const HOSTNAME_RE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/**
 * Splits `http.listen` into what `Bun.serve` takes: `hostname` (an IPv4 or IPv6 literal, without
 * brackets, or a host name; "0.0.0.0" for an empty host) and `port` (0-65535, 0 = any free port).
 * Throws ConfigError naming `http.listen` for anything else.
 */
export function parseListen(listen: string): { hostname: string; port: number } {
  const m = LISTEN_RE.exec(listen);
  if (!m) throw new ConfigError("http.listen: must be HOST:PORT");
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(`http.listen: port ${m[3]} is out of range (0-65535)`);
  if (m[1] !== undefined) {
    if (!isIPv6(m[1])) throw new ConfigError(`http.listen: "[${m[1]}]" is not an IPv6 address`);
    return { hostname: m[1], port };
  }
  const host = m[2]!;
  if (host === "") return { hostname: "0.0.0.0", port };
  const numeric = /^[\d.]+$/.test(host) || /\.\d+\.?$/.test(host);
  if (!(isIPv4(host) || (!numeric && HOSTNAME_RE.test(host))))
    throw new ConfigError(`http.listen: "${host}" is not an IPv4/IPv6 address or a host name`);
  return { hostname: host, port };
}

const ConfigSchema = v.strictObject({
  data_dir: v.optional(v.pipe(v.string(), v.minLength(1)), "./data"),
  /** Every camera's default `max_loss_seconds`. */
  max_loss_seconds: v.optional(MaxLossSeconds, DEFAULT_MAX_LOSS_SECONDS),
  http: v.optional(
    v.strictObject({
      listen: v.optional(v.pipe(v.string(), v.regex(LISTEN_RE, "must be HOST:PORT")), "127.0.0.1:8080"),
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
  health: v.optional(HealthSchema, {}),
  postgres: v.optional(v.strictObject({ url: v.pipe(v.string(), v.minLength(1)) })),
});

export type AlprConfig = v.InferOutput<typeof AlprSchema>;
export type HealthConfig = v.InferOutput<typeof HealthSchema>;
export type TimelapseConfig = v.InferOutput<typeof TimelapseSchema>;
export type InventoryConfig = v.InferOutput<typeof InventorySchema>;
export type CameraConfig = v.InferOutput<typeof CameraSchema> & { name: string };
export type Config = Omit<v.InferOutput<typeof ConfigSchema>, "cameras" | "http" | "incident" | "gpio" | "health"> & {
  /** `[health]`, defaults filled in (absent from hand-made test configs = defaults). */
  health?: HealthConfig;
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

type Issue = v.InferIssue<typeof ConfigSchema>;

/** `cameras[0].source` for an issue's path. */
const keyPath = (issue: Issue) =>
  (issue.path ?? []).map((p, i) => (typeof p.key === "number" ? `[${p.key}]` : `${i === 0 ? "" : "."}${String(p.key)}`)).join("");

/** The keys a table at `path` may hold (walks the schema: optional, arrays, objects). */
function knownKeys(path: readonly { key: unknown }[]): string[] {
  type Node = { entries?: Record<string, Node>; wrapped?: Node; item?: Node };
  let node: Node | undefined = ConfigSchema as unknown as Node;
  for (const step of path) {
    while (node?.wrapped) node = node.wrapped;
    if (typeof step.key === "number") node = node?.item;
    else node = node?.entries?.[String(step.key)];
  }
  while (node?.wrapped) node = node.wrapped;
  return Object.keys(node?.entries ?? {});
}

/** The one line for a failed validation: an unknown key first (a typo also makes its key "missing"). */
function describeIssues(issues: readonly Issue[]): string {
  const unknown = issues.find((i) => i.kind === "schema" && i.expected === "never");
  if (unknown) {
    const name = String(unknown.path?.at(-1)?.key ?? "");
    const near = knownKeys(unknown.path?.slice(0, -1) ?? []).filter((k) => editDistance(k, name, 2) <= 2);
    const best = near.sort((a, b) => editDistance(a, name) - editDistance(b, name))[0];
    return `${keyPath(unknown)}: unknown key${best ? ` (did you mean "${best}"?)` : ""}`;
  }
  const issue = issues[0]!;
  const missing = issue.kind === "schema" && issue.received === "undefined" && /^Invalid key/.test(issue.message);
  return `${keyPath(issue) || "config"}: ${missing ? "missing (required)" : issue.message}`;
}

/** Validates a parsed TOML object. Relative `data_dir` is resolved against `baseDir`. */
export function validateConfig(raw: unknown, baseDir: string, path: string | null = null): Config {
  const result = v.safeParse(ConfigSchema, raw);
  if (!result.success) throw new ConfigError(describeIssues(result.issues));
  const out = result.output;
  parseListen(out.http.listen ?? "127.0.0.1:8080");
  const seen = new Set<string>();
  out.cameras.forEach((camera, i) => {
    if (seen.has(camera.key)) throw new ConfigError(`cameras[${i}].key: duplicate camera key "${camera.key}"`);
    seen.add(camera.key);
    if (camera.backoff_max_ms < camera.backoff_initial_ms)
      throw new ConfigError(`cameras[${i}].backoff_max_ms: must be >= backoff_initial_ms`);
    const onvif = camera.inventory?.onvif;
    if (onvif?.password !== undefined && onvif.user === undefined)
      throw new ConfigError(`cameras[${i}].inventory.onvif.password: needs onvif.user as well`);
    if (camera.source.startsWith("file:")) {
      const file = camera.source.slice(5);
      if (!existsSync(isAbsolute(file) ? file : resolve(baseDir, file)))
        throw new ConfigError(`cameras[${i}].source: file ${file} does not exist`);
    }
  });
  // a warning comes before its critical level: below it for measures that are bad when low, above otherwise
  const t = out.health?.thresholds ?? {};
  for (const [name, lowIsBad] of [["dark", true], ["blur", true], ["obstructed", true], ["low_fps", true], ["bitrate_drop", true], ["bright", false], ["noise", false]] as const) {
    const w = t[`${name}_warning`];
    const c = t[`${name}_critical`];
    if (w !== undefined && c !== undefined && (lowIsBad ? c > w : c < w))
      throw new ConfigError(`health.thresholds.${name}_critical: must be ${lowIsBad ? "at most" : "at least"} ${name}_warning (${w})`);
  }
  if (t.latency_warning_ms !== undefined && t.latency_critical_ms !== undefined && t.latency_critical_ms < t.latency_warning_ms)
    throw new ConfigError(`health.thresholds.latency_critical_ms: must be at least latency_warning_ms (${t.latency_warning_ms})`);
  return {
    ...out,
    data_dir: isAbsolute(out.data_dir) ? out.data_dir : resolve(baseDir, out.data_dir),
    http: { listen: out.http.listen ?? "127.0.0.1:8080" },
    incident: { before_seconds: out.incident?.before_seconds ?? 30, after_seconds: out.incident?.after_seconds ?? 30 },
    alpr: out.alpr && resolveModelPaths(out.alpr, baseDir),
    cameras: out.cameras.map((c) => ({
      ...c,
      name: c.name ?? c.key,
      max_loss_seconds: c.max_loss_seconds ?? out.max_loss_seconds,
      source: c.source.startsWith("file:") && !isAbsolute(c.source.slice(5)) ? `file:${resolve(baseDir, c.source.slice(5))}` : c.source,
    })),
    path,
  };
}

/** `[health]` with its defaults (a config made by hand in a test may lack the section). */
export function healthSettings(config: Pick<Config, "health"> | undefined): HealthConfig {
  return {
    enabled: true,
    interval_seconds: 300,
    frame_timeout_seconds: 15,
    snapshot_retention_days: 30,
    metrics_retention_days: 90,
    rollup_retention_days: 365,
    thresholds: {},
    ...config?.health,
  };
}

/** Parses TOML text; a syntax error becomes a one-line ConfigError with its line and column. */
export function parseConfigText(text: string, baseDir: string, path: string | null = null): Config {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.replace(/^Invalid TOML document: /, "").split("\n")[0];
      throw new ConfigError(`TOML syntax error at line ${err.line}, column ${err.column}: ${reason}`);
    }
    throw new ConfigError(`TOML syntax error: ${String((err as Error).message ?? err).split("\n")[0]}`);
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
