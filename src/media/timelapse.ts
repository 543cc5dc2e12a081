/**
 * Timelapse media: storing a captured still (rotated as the camera is mounted) and rendering a
 * batch of stills into an H.264 MP4, with seed 004's "Day N" overlay.
 *
 * Files (relative to data_dir):
 *   timelapse/images/<camera>/<YYYY-MM-DD>/<captured ms>.jpg   captured stills
 *   timelapse/videos/<camera>/batch-<id>.mp4                   rendered batches
 *   timelapse/font/DejaVuSansMono-Bold.ttf                     the overlay font, written from the binary
 *
 * Rendering: ffmpeg's concat demuxer reads an ffconcat list of the image files in place (no
 * copies), each listed for exactly 1 s (a time every stream time base holds exactly: the image
 * demuxer's is 1/25 s, too coarse for 1/30 s steps), then `settb=AVTB,setpts=round(T)/(FR*TB)`
 * gives frame i the time i/frame_rate (so the video holds exactly one frame per image; based on
 * the frame's time, not the filter's frame counter, which restarts when a new image size
 * re-creates the filter graph), frames of another size are scaled and padded to the first
 * one's, the overlay is `drawtext` whose text `sendcmd` changes at each new day, and the output
 * is libx264 yuv420p MP4 with `+faststart`. Progress is read from `-progress` (out_time ->
 * frames). The MP4 is written to a temp name and committed with src/fsx.ts, so a power cut
 * never leaves a partial video under its final name.
 */
import { createHash } from "node:crypto";
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import fontFile from "dejavu-fonts-ttf/ttf/DejaVuSansMono-Bold.ttf" with { type: "file" };
import { commitTempFile, discardTemp, fsyncDirIfPresent, removeTempFiles, tempPathFor, writeFileAtomic, writeFileAtomicFrom } from "../fsx.ts";
import { runFfmpeg } from "./ffmpeg.ts";
import { tripById, tripSegments } from "../db/views.ts";
import { acquireReadLock } from "../db/locks.ts";
import { cameraByKey } from "../db/cameras.ts";
import {
  cameraTimelapseSettings,
  insertCapture,
  checkpointOutputPath,
  continuousBatchOf,
  createBatch,
  insertCheckpoint,
  selectImageIds,
  type BatchFrame,
  type CameraTimelapseSettings,
} from "../db/timelapse.ts";

export const TIMELAPSE_DIR = "timelapse";
export const IMAGES_DIR = `${TIMELAPSE_DIR}/images`;
export const VIDEOS_DIR = `${TIMELAPSE_DIR}/videos`;
const FONT_REL = `${TIMELAPSE_DIR}/font/DejaVuSansMono-Bold.ttf`;

/** JPEG SOF0/SOF2 dimensions (the frame's width/height without decoding it); null when absent. */
export function jpegSize(jpeg: Uint8Array): { width: number; height: number } | null {
  let i = 2;
  while (i + 9 < jpeg.length) {
    if (jpeg[i] !== 0xff) {
      i++;
      continue;
    }
    const marker = jpeg[i + 1]!;
    const len = (jpeg[i + 2]! << 8) | jpeg[i + 3]!;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (jpeg[i + 5]! << 8) | jpeg[i + 6]!, width: (jpeg[i + 7]! << 8) | jpeg[i + 8]! };
    }
    i += 2 + len;
  }
  return null;
}

/** Rotation of the stored image (seed 004 `cameras.rotation`): `left` = 90° counter-clockwise. */
export type Rotation = CameraTimelapseSettings["rotation"];

/** ffmpeg filter for a rotation (null for none). transpose=1 is clockwise, 2 counter-clockwise. */
export function rotationFilter(r: Rotation): string | null {
  return r === "left" ? "transpose=2" : r === "right" ? "transpose=1" : r === "invert" ? "hflip,vflip" : null;
}

/**
 * The image file of a capture, relative to data_dir (the day folder is the UTC date); `prefix`
 * names images taken from recorded footage (e.g. `trip-12-`) so they never collide with captures.
 */
export function imageRelPath(cameraKey: string, capturedAt: number, prefix = ""): string {
  return `${IMAGES_DIR}/${cameraKey}/${new Date(capturedAt).toISOString().slice(0, 10)}/${prefix}${capturedAt}.jpg`;
}

/** What was stored. `width`/`height` are of the stored (rotated) image, pixels. */
export interface StoredImage {
  relPath: string;
  filename: string;
  bytes: number;
  width: number;
  height: number;
  sha256: string;
}

/** The `images` row columns of a stored JPEG, as `insertCapture` takes them. */
export function imageColumns(stored: StoredImage) {
  return {
    filename: stored.filename,
    filePath: stored.relPath,
    bytes: stored.bytes,
    width: stored.width,
    height: stored.height,
    format: "jpeg",
    fileHash: stored.sha256,
  } as const;
}

/** The capture could not be rotated or written. */
export class StoreImageError extends Error {}

/** Makes `dir` (and parents) and fsyncs the parent of each folder it created, so the new names survive a power cut. */
function ensureDurableDir(dir: string): void {
  if (existsSync(dir)) return;
  ensureDurableDir(dirname(dir));
  mkdirSync(dir);
  fsyncDirIfPresent(dirname(dir));
}

/**
 * Stores one captured JPEG of camera `cameraKey` taken at `capturedAt` (ms UTC): rotated with
 * ffmpeg when `rotation` is not `none`, then written crash-safely (fsynced file and directory)
 * under `imageRelPath`. Returns its size, dimensions and SHA-256. Throws StoreImageError when
 * ffmpeg cannot rotate it, or the write error (ENOSPC ...).
 */
export async function storeCapturedImage(
  dataDir: string,
  cameraKey: string,
  frame: { jpeg: Uint8Array; width: number; height: number; capturedAtMs: number },
  rotation: Rotation,
  signal?: AbortSignal,
  prefix = "",
): Promise<StoredImage> {
  let bytes = frame.jpeg;
  let width = frame.width;
  let height = frame.height;
  const filter = rotationFilter(rotation);
  if (filter) {
    const run = await runFfmpeg(
      ["-hide_banner", "-nostdin", "-v", "error", "-f", "image2pipe", "-c:v", "mjpeg", "-i", "pipe:0", "-vf", filter, "-q:v", "3", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1"],
      { input: frame.jpeg, captureStdout: true, signal },
    );
    if (run.code !== 0 || run.stdout.length < 100) throw new StoreImageError(`rotating the image failed: ${run.stderr || `ffmpeg exit ${run.code}`}`);
    bytes = run.stdout;
    if (rotation === "left" || rotation === "right") [width, height] = [height, width];
  }
  const relPath = imageRelPath(cameraKey, frame.capturedAtMs, prefix);
  const abs = join(dataDir, relPath);
  ensureDurableDir(dirname(abs));
  writeFileAtomic(abs, bytes);
  return {
    relPath,
    filename: relPath.slice(relPath.lastIndexOf("/") + 1),
    bytes: bytes.length,
    width,
    height,
    sha256: createHash("sha256").update(bytes).digest("hex"),
  };
}

/**
 * The overlay font as a real file ffmpeg can open (inside the compiled binary the embedded
 * file lives in Bun's virtual file system): written once to `<data_dir>/timelapse/font/`.
 * Returns its absolute path.
 */
export async function overlayFontPath(dataDir: string): Promise<string> {
  const abs = join(dataDir, FONT_REL);
  const embedded = Bun.file(fontFile);
  if (existsSync(abs) && statSync(abs).size === embedded.size) return abs;
  ensureDurableDir(dirname(abs));
  writeFileAtomic(abs, new Uint8Array(await embedded.arrayBuffer()));
  return abs;
}

/** The overlay's look (seed 004 `day_overlay_style` + `day_overlay_position`). */
export interface OverlayStyle {
  position: CameraTimelapseSettings["overlayPosition"];
  fontSize: number;
  fontColor: string;
  backgroundColor: string;
  backgroundOpacity: number;
}

/** Seed 004's defaults: 24 px white on 70 % black, top right. */
export const DEFAULT_OVERLAY: OverlayStyle = { position: "top-right", fontSize: 24, fontColor: "#FFFFFF", backgroundColor: "#000000", backgroundOpacity: 0.7 };

/** The overlay style of a camera's settings (unknown or malformed keys fall back to the seed's defaults). */
export function overlayStyleOf(s: Pick<CameraTimelapseSettings, "overlayPosition" | "overlayStyle">): OverlayStyle {
  const st = s.overlayStyle ?? {};
  const num = (v: unknown, d: number) => (typeof v === "number" && Number.isFinite(v) ? v : d);
  const color = (v: unknown, d: string) => (typeof v === "string" && /^#[0-9a-fA-F]{6}$/.test(v) ? v : d);
  return {
    position: s.overlayPosition,
    fontSize: Math.round(Math.min(400, Math.max(6, num(st.font_size, DEFAULT_OVERLAY.fontSize)))),
    fontColor: color(st.font_color, DEFAULT_OVERLAY.fontColor),
    backgroundColor: color(st.background_color, DEFAULT_OVERLAY.backgroundColor),
    backgroundOpacity: Math.min(1, Math.max(0, num(st.background_opacity, DEFAULT_OVERLAY.backgroundOpacity))),
  };
}

/**
 * Escapes a value for a filter option inside a filtergraph (ffmpeg-filters "Notes on
 * filtergraph escaping"): first the option level (`\ ' :`), then the graph level (`\ ' [ ] , ;`).
 */
export function escapeFilterValue(value: string): string {
  const level1 = value.replace(/[\\':]/g, (c) => `\\${c}`);
  return level1.replace(/[\\'[\],;]/g, (c) => `\\${c}`);
}

/** The drawtext filter of the overlay (text set by sendcmd; `Day N` of the first frame to start with). */
export function drawtextFilter(font: string, style: OverlayStyle, firstText: string): string {
  const m = Math.max(4, Math.round(style.fontSize / 2));
  const pad = Math.max(2, Math.round(style.fontSize / 3));
  const x = style.position.endsWith("left") ? `${m + pad}` : `w-tw-${m + pad}`;
  const y = style.position.startsWith("top") ? `${m + pad}` : `h-th-${m + pad}`;
  const opts = [
    `fontfile=${escapeFilterValue(font)}`,
    `text=${escapeFilterValue(firstText)}`,
    `fontsize=${style.fontSize}`,
    `fontcolor=${style.fontColor}`,
    "box=1",
    `boxcolor=${style.backgroundColor}@${style.backgroundOpacity.toFixed(2)}`,
    `boxborderw=${pad}`,
    `x=${x}`,
    `y=${y}`,
  ];
  return `drawtext=${opts.join(":")}`;
}

/** The overlay text of a frame: `Day N`, or nothing for an image without a day number. */
export const dayText = (day: number | null) => (day === null ? "" : `Day ${day}`);

/**
 * The sendcmd script that switches the overlay text where the day changes (frame i shows at
 * i / frameRate s; each command is placed half a frame early so rounding cannot delay it).
 */
export function dayCommands(frames: readonly Pick<BatchFrame, "day_number">[], frameRate: number): string {
  const lines: string[] = [];
  let last: string | undefined;
  frames.forEach((f, i) => {
    const text = dayText(f.day_number);
    if (text === last) return;
    last = text;
    const t = i === 0 ? 0 : (i - 0.5) / frameRate;
    lines.push(`${t.toFixed(6)} drawtext reinit 'text=${text}';`);
  });
  return lines.join("\n") + "\n";
}

/** ffconcat list of the image files (absolute paths, single-quoted), image i at i s (the render retimes them). */
export function ffconcatList(dataDir: string, frames: readonly Pick<BatchFrame, "file_path">[]): string {
  const quote = (p: string) => `'${p.replace(/'/g, "'\\''")}'`;
  return ["ffconcat version 1.0", ...frames.map((f) => `file ${quote(join(dataDir, f.file_path))}\nduration 1`), ""].join("\n");
}

/**
 * x264 preset of renders: `veryfast`. Measured with bench/timelapse.ts (600 stills 1280x720 with
 * the day overlay, on 2 x86-64 cores shared with other work): veryfast used 4.2-4.5 CPU s
 * (132-146 frames per CPU second, 83-143 frames/s wall depending on the load), ultrafast 4.7-5.0
 * CPU s (120-127 frames per CPU second) for a 2.3x larger file: decoding the JPEGs costs as much
 * as encoding, so the faster preset buys nothing.
 */
export const DEFAULT_RENDER_PRESET = "veryfast";

/** What to render. */
export interface RenderJob {
  dataDir: string;
  /** The final MP4, relative to data_dir. */
  relPath: string;
  frames: readonly BatchFrame[];
  frameRate: number;
  /** Draw the day counter (only frames with a day number show one). */
  overlay: OverlayStyle | null;
  /** x264 preset (default `DEFAULT_RENDER_PRESET`). */
  preset?: string;
  signal?: AbortSignal;
  /** Called with (frames done, total) as ffmpeg reports progress, at most every few hundred ms. */
  onProgress?: (done: number, total: number) => void;
  /** ffmpeg's pid as soon as it runs (tests). */
  onSpawn?: (pid: number) => void;
}

export interface RenderResult {
  relPath: string;
  bytes: number;
  frames: number;
  durationSeconds: number;
  overlayApplied: boolean;
}

/** Rendering failed; `cancelled` when the signal aborted it. The final file is untouched. */
export class RenderError extends Error {
  constructor(
    message: string,
    readonly cancelled = false,
  ) {
    super(message);
    this.name = "RenderError";
  }
}

/**
 * Renders `job.frames` into `job.relPath` (see the module comment). Missing image files are
 * an error (RenderError naming the first). The MP4 appears under its final name only complete.
 */
export async function renderTimelapse(job: RenderJob): Promise<RenderResult> {
  const total = job.frames.length;
  if (total === 0) throw new RenderError("the batch has no images");
  for (const f of job.frames) if (!existsSync(join(job.dataDir, f.file_path))) throw new RenderError(`image ${f.file_path} is missing`);
  const finalAbs = join(job.dataDir, job.relPath);
  ensureDurableDir(dirname(finalAbs));
  const tmp = tempPathFor(finalAbs, ".mp4");
  const list = tempPathFor(finalAbs, ".ffconcat");
  const cmds = tempPathFor(finalAbs, ".cmd");
  const fr = job.frameRate;
  // even dimensions of the first frame: yuv420p needs them; other sizes are fitted in
  const w0 = job.frames[0]!.width ?? 0;
  const h0 = job.frames[0]!.height ?? 0;
  const W = w0 - (w0 % 2);
  const H = h0 - (h0 % 2);
  const uniform = W > 0 && H > 0 && job.frames.every((f) => f.width === w0 && f.height === h0) && W === w0 && H === h0;
  const filters = ["settb=AVTB", `setpts=round(T)/(${fr}*TB)`];
  if (!uniform) {
    filters.push(
      W > 0 && H > 0
        ? `scale=${W}:${H}:force_original_aspect_ratio=decrease,pad=${W}:${H}:(ow-iw)/2:(oh-ih)/2,setsar=1`
        : "scale=trunc(iw/2)*2:trunc(ih/2)*2,setsar=1",
    );
  }
  const overlayApplied = job.overlay !== null && job.frames.some((f) => f.day_number !== null);
  try {
    await Bun.write(list, ffconcatList(job.dataDir, job.frames));
    if (overlayApplied) {
      const font = await overlayFontPath(job.dataDir);
      await Bun.write(cmds, dayCommands(job.frames, fr));
      filters.push(`sendcmd=f=${escapeFilterValue(cmds)}`, drawtextFilter(font, job.overlay!, dayText(job.frames[0]!.day_number)));
    }
    let lastReport = 0;
    const run = await runFfmpeg(
      [
        "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "concat", "-safe", "0", "-i", list,
        "-vf", filters.join(","),
        "-r", String(fr), "-an",
        "-c:v", "libx264", "-preset", job.preset ?? DEFAULT_RENDER_PRESET, "-crf", "23", "-pix_fmt", "yuv420p",
        "-movflags", "+faststart",
        "-progress", "pipe:1", "-nostats",
        "-f", "mp4", tmp,
      ],
      {
        signal: job.signal,
        onSpawn: job.onSpawn,
        onOutTimeMs: (ms) => {
          const now = Date.now();
          if (now - lastReport < 250) return;
          lastReport = now;
          job.onProgress?.(Math.min(total, Math.max(0, Math.round((ms * fr) / 1000) + 1)), total);
        },
      },
    );
    if (run.aborted) throw new RenderError("rendering was cancelled", true);
    if (run.code !== 0) throw new RenderError(`ffmpeg failed (exit ${run.code}): ${run.stderr}`);
    const bytes = statSync(tmp).size;
    if (bytes === 0) throw new RenderError("ffmpeg wrote an empty video");
    commitTempFile(tmp, finalAbs);
    job.onProgress?.(total, total);
    return { relPath: job.relPath, bytes, frames: total, durationSeconds: total / fr, overlayApplied };
  } finally {
    discardTemp(tmp);
    discardTemp(list);
    discardTemp(cmds);
  }
}

/** A timelapse request that cannot be met (unknown camera, empty range ...): a 4xx / exit 2. */
export class TimelapseRequestError extends Error {}

/** A manual batch: camera + time range (ms UTC) or day range, frame rate, overlay. */
export interface ManualBatchRequest {
  cameraKey: string;
  range: { fromUtc: number; toUtc: number } | { fromDay: number; toDay: number };
  frameRate?: number;
  overlay?: boolean;
}

/**
 * Validates `req` and creates its `pending` batch with its junction rows (one transaction).
 * Throws TimelapseRequestError (one line) for an unknown camera, a bad range or frame rate, or a
 * range without images. Returns the batch id and its frame count; rendering is the batch actor's.
 */
export function createManualBatch(db: Database, req: ManualBatchRequest, now = Date.now()): { batchId: number; cameraId: number; frames: number } {
  const cam = cameraByKey(db, req.cameraKey);
  if (!cam) throw new TimelapseRequestError(`no camera "${req.cameraKey}"`);
  const frameRate = req.frameRate ?? 30;
  if (!Number.isInteger(frameRate) || frameRate < 1 || frameRate > 120) throw new TimelapseRequestError(`frame rate must be an integer 1..120, got ${frameRate}`);
  const r = req.range;
  const [a, b] = "fromUtc" in r ? [r.fromUtc, r.toUtc] : [r.fromDay, r.toDay];
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) throw new TimelapseRequestError("the range must be two integers");
  if (a > b) throw new TimelapseRequestError("the range ends before it starts");
  const ids = selectImageIds(db, cam.id, r);
  if (ids.length === 0) {
    const what = "fromUtc" in r ? `between ${new Date(a).toISOString()} and ${new Date(b).toISOString()}` : `on days ${a}..${b}`;
    throw new TimelapseRequestError(`camera "${req.cameraKey}" has no timelapse images ${what}`);
  }
  const batchId = createBatch(
    db,
    { cameraId: cam.id, cameraKey: cam.key, type: "manual", generationMode: "manual_only", frameRate, overlay: req.overlay === true, now },
    ids,
  );
  return { batchId, cameraId: cam.id, frames: ids.length };
}

/**
 * "Checkpoint now": a kept copy of camera `cameraKey`'s continuous video as it is (a new
 * `checkpoint` batch, completed, with the same images). The copy is durable before its row.
 * Throws TimelapseRequestError when the camera has no rendered continuous video yet.
 */
export async function checkpointContinuous(db: Database, dataDir: string, cameraKey: string, now = Date.now()): Promise<{ batchId: number }> {
  const cam = cameraByKey(db, cameraKey);
  if (!cam) throw new TimelapseRequestError(`no camera "${cameraKey}"`);
  const source = continuousBatchOf(db, cam.id);
  if (!source?.output_path || !existsSync(join(dataDir, source.output_path)))
    throw new TimelapseRequestError(`camera "${cameraKey}" has no continuous timelapse video yet`);
  const rel = checkpointOutputPath(cameraKey, source.id, now);
  const bytes = await writeFileAtomicFrom(join(dataDir, rel), join(dataDir, source.output_path));
  return { batchId: insertCheckpoint(db, source, { relPath: rel, bytes }, now) };
}

/**
 * Deletes the temp files (`.tmp-*`) a crash left in the timelapse folders (videos being rendered,
 * images being written). Run at start-up, before anything renders or captures. Returns how many.
 */
export function cleanTimelapseTemps(dataDir: string): number {
  let n = 0;
  const sub = (dir: string) => {
    try {
      return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(dir, d.name));
    } catch {
      return [];
    }
  };
  for (const cam of sub(join(dataDir, VIDEOS_DIR))) n += removeTempFiles(cam);
  for (const cam of sub(join(dataDir, IMAGES_DIR))) for (const day of sub(cam)) n += removeTempFiles(day);
  return n;
}

/**
 * The frames of a recorded segment at `offsets` (seconds from its first frame, ascending), from
 * one decode of the file: ffmpeg's `select` keeps the first frame at or after each offset
 * (seeking does not work in a short MPEG-TS segment whose only keyframe is its first frame),
 * `showinfo` reports each kept frame's time, the JPEGs come concatenated on stdout and are split
 * at their end markers. A moment past the segment's last frame gives nothing. Returns each frame
 * with the offset it stands for.
 */
export async function framesAt(file: string, offsets: readonly number[], signal?: AbortSignal): Promise<{ offset: number; jpeg: Uint8Array; width: number; height: number }[]> {
  if (offsets.length === 0) return [];
  const prev = "if(isnan(prev_selected_t),-1,prev_selected_t)";
  const expr = offsets.map((o) => `gte(t,${o.toFixed(3)})*lt(${prev},${o.toFixed(3)})`).join("+");
  const run = await runFfmpeg(
    ["-hide_banner", "-nostdin", "-v", "info", "-i", file, "-an", "-vf", `setpts=PTS-STARTPTS,select='${expr}',showinfo`, "-vsync", "0", "-q:v", "3", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1"],
    { captureStdout: true, signal },
  );
  if (run.aborted) throw new TimelapseRequestError("cancelled");
  const times = [...run.stderrText.matchAll(/pts_time:\s*(-?[\d.]+)/g)].map((m) => Number(m[1]));
  // split the concatenated JPEGs at each end-of-image marker (0xFFD9; stuffed bytes keep it unique)
  const jpegs: Uint8Array[] = [];
  let from = 0;
  const out = run.stdout;
  for (let i = 1; i < out.length; i++) {
    if (out[i - 1] === 0xff && out[i] === 0xd9) {
      jpegs.push(out.subarray(from, i + 1));
      from = i + 1;
    }
  }
  const result: { offset: number; jpeg: Uint8Array; width: number; height: number }[] = [];
  let k = 0;
  jpegs.forEach((jpeg, i) => {
    const t = times[i];
    const size = jpegSize(jpeg);
    if (t === undefined || !size) return;
    // the latest offset this frame stands for (a gap may cover several: the frame stands for the last)
    while (k + 1 < offsets.length && offsets[k + 1]! <= t + 0.001) k++;
    if (offsets[k]! > t + 0.001) return;
    result.push({ offset: offsets[k]!, jpeg: new Uint8Array(jpeg), ...size });
    k++;
  });
  return result;
}

/** Most images a trip timelapse may take (choose a longer step for a longer trip). */
export const MAX_TRIP_FRAMES = 2000;

/** A checked trip timelapse request: which moments of which segments, read-locked until `makeTripTimelapse` ends. */
export interface TripTimelapsePlan {
  tripId: number;
  cameraId: number;
  cameraKey: string;
  frameRate: number;
  total: number;
  plan: { seg: ReturnType<typeof tripSegments>[number]; times: number[] }[];
  lock: ReturnType<typeof acquireReadLock>;
}

/**
 * Checks "Make a timelapse" of trip `req.tripId` (one frame every `everySeconds` of its footage
 * still in the ring) and read-locks that footage (the ring cannot overwrite it meanwhile).
 * Throws TimelapseRequestError for an unknown trip, a trip with no footage left, a bad step or
 * frame rate, or more than MAX_TRIP_FRAMES frames; nothing is locked then. Pass the plan to
 * `makeTripTimelapse`, which releases the lock.
 */
export function planTripTimelapse(db: Database, req: { tripId: number; everySeconds: number; frameRate?: number }): TripTimelapsePlan {
  const trip = tripById(db, req.tripId);
  if (!trip) throw new TimelapseRequestError(`no trip ${req.tripId}`);
  if (!Number.isFinite(req.everySeconds) || req.everySeconds < 1 || req.everySeconds > 3600) throw new TimelapseRequestError("the step must be 1..3600 seconds");
  const frameRate = req.frameRate ?? 30;
  if (!Number.isInteger(frameRate) || frameRate < 1 || frameRate > 120) throw new TimelapseRequestError(`frame rate must be an integer 1..120, got ${frameRate}`);
  const segments = tripSegments(db, trip);
  if (segments.length === 0) throw new TimelapseRequestError(`trip ${trip.id} has no footage left in the ring`);
  const step = req.everySeconds * 1000;
  // the trip's grid (start + k * step) falls into the segments; each segment is decoded once
  const plan: TripTimelapsePlan["plan"] = [];
  let total = 0;
  for (const seg of segments) {
    const times: number[] = [];
    const first = trip.start_time_utc + Math.max(0, Math.ceil((seg.start_utc - trip.start_time_utc) / step)) * step;
    for (let t = first; t < seg.end_utc; t += step) times.push(t);
    if (times.length) plan.push({ seg, times });
    total += times.length;
  }
  if (total === 0) throw new TimelapseRequestError(`trip ${trip.id} is shorter than one step`);
  if (total > MAX_TRIP_FRAMES)
    throw new TimelapseRequestError(`one frame every ${req.everySeconds} s makes ${total} frames; at most ${MAX_TRIP_FRAMES} (choose a longer step)`);
  const lock = acquireReadLock(
    db,
    plan.map((p) => p.seg.id),
  );
  return { tripId: trip.id, cameraId: trip.camera_id, cameraKey: trip.camera_key, frameRate, total, plan, lock };
}

/**
 * Takes the planned frames (each segment decoded once, `framesAt`), stores each as an image of
 * the camera (prefix `trip-<id>-`, rotated like captures, no capture attempt,
 * `processing_metadata.trip_id`), then creates the manual batch of them with its junction rows
 * (one transaction). Releases the plan's read-lock. Throws TimelapseRequestError when no frame
 * could be read or `signal` aborted. Returns the batch.
 */
export async function makeTripTimelapse(
  db: Database,
  dataDir: string,
  p: TripTimelapsePlan,
  signal?: AbortSignal,
): Promise<{ batchId: number; cameraId: number; cameraKey: string; frames: number }> {
  const trip = { id: p.tripId, camera_id: p.cameraId, camera_key: p.cameraKey };
  const { plan, frameRate, lock } = p;
  const settings = cameraTimelapseSettings(db, trip.camera_id);
  const imageIds: number[] = [];
  try {
    for (const { seg, times } of plan) {
      if (signal?.aborted) throw new TimelapseRequestError("cancelled");
      const offsets = times.map((t) => (t - seg.start_utc) / 1000);
      for (const f of await framesAt(join(dataDir, seg.rel_path), offsets, signal)) {
        const at = seg.start_utc + Math.round(f.offset * 1000);
        const stored = await storeCapturedImage(dataDir, trip.camera_key, { ...f, capturedAtMs: at }, settings?.rotation ?? "none", signal, `trip-${trip.id}-`);
        imageIds.push(
          insertCapture(db, {
            cameraId: trip.camera_id,
            ...imageColumns(stored),
            capturedAt: at,
            attemptedAt: at,
            durationMs: 0,
            retryCount: 0,
            metadata: { trip_id: trip.id, segment: seg.absolute_index },
            attempt: false,
          }).imageId,
        );
      }
    }
  } finally {
    lock.release();
  }
  if (imageIds.length === 0) throw new TimelapseRequestError(`no frame could be read from trip ${trip.id}'s footage`);
  const batchId = createBatch(
    db,
    { cameraId: trip.camera_id, cameraKey: trip.camera_key, type: "manual", generationMode: "manual_only", frameRate, overlay: false, now: Date.now() },
    imageIds,
  );
  return { batchId, cameraId: trip.camera_id, cameraKey: trip.camera_key, frames: imageIds.length };
}
