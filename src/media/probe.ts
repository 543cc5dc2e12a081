/**
 * Measuring a media file with ffmpeg itself (no ffprobe at run time).
 *
 * `probeMedia(file)` runs `ffmpeg -i FILE -map 0:v:0 -c copy -f null -progress pipe:1 -` (a
 * stream copy to nowhere: reads every packet, decodes nothing) and reads:
 * - the number of video packets (`frame=`) and the last `out_time_us=` of the progress report,
 *   which is the last packet's timestamp relative to the first one; one frame duration (1/fps)
 *   is added to get the file's duration, the way ffprobe's format duration counts it;
 * - codec, size and frame rate from the input's `Stream #0:N: Video:` line.
 *
 * Used by start-up reconciliation to salvage the segment that was being written at a power cut.
 */
import { resolveFfmpeg, runFfmpeg } from "./ffmpeg.ts";

export interface StreamInfo {
  /** Field-standard upper-case name: "H264", "H265", else ffmpeg's codec name upper-cased. */
  codec: string | null;
  width: number | null;
  height: number | null;
  fps: number | null;
}

export interface ProbeResult extends StreamInfo {
  /** Video packets (frames) read. */
  frames: number;
  /** Duration in seconds (last minus first timestamp, plus one frame). */
  durationSec: number;
}

/**
 * Whether a measured segment file is footage worth a row: at least two video frames and a
 * positive duration. A file below that (ffmpeg opened it and was stopped or killed before a
 * second frame) is deleted by the recorder and by start-up salvage alike.
 */
export function holdsFootage(probe: ProbeResult): boolean {
  return probe.frames >= 2 && probe.durationSec > 0;
}

/** Maps ffmpeg codec names to the names the segments table uses (seed 000: "H264", "H265"). */
export function codecName(ffmpegName: string): string {
  const n = ffmpegName.toLowerCase();
  if (n === "h264") return "H264";
  if (n === "hevc" || n === "h265") return "H265";
  return n.toUpperCase();
}

/**
 * Parses one ffmpeg `Stream #0:0...: Video: h264 (High) ..., 1280x720 [SAR 1:1 DAR 16:9], 25 fps, ...`
 * line; null when the line is not a video stream line.
 */
export function parseVideoStreamLine(line: string): StreamInfo | null {
  const m = /Stream #\d+:\d+.*?: Video: ([A-Za-z0-9_]+)(.*)$/.exec(line);
  if (!m) return null;
  const rest = m[2];
  const size = /,\s*(\d{2,5})x(\d{2,5})(?=[\s,\[]|$)/.exec(rest);
  const fps = /,\s*([\d.]+)(k?) fps/.exec(rest) ?? /,\s*([\d.]+)(k?) tbr/.exec(rest);
  const fpsValue = fps ? Number(fps[1]) * (fps[2] === "k" ? 1000 : 1) : null;
  return {
    codec: codecName(m[1]),
    width: size ? Number(size[1]) : null,
    height: size ? Number(size[2]) : null,
    fps: fpsValue && Number.isFinite(fpsValue) && fpsValue > 0 ? fpsValue : null,
  };
}

/**
 * Measures `file`. Returns null when ffmpeg finds no video stream or no packet (an empty or
 * truncated-before-the-first-frame file). Never throws for a bad file; throws only if ffmpeg
 * cannot be spawned at all.
 */
export async function probeMedia(file: string, ffmpegPath: string = resolveFfmpeg()): Promise<ProbeResult | null> {
  const run = await runFfmpeg(
    ["-hide_banner", "-nostdin", "-loglevel", "info", "-i", file,
      "-map", "0:v:0", "-c", "copy", "-f", "null", "-progress", "pipe:1", "-nostats", "-"],
    { ffmpegPath, captureStdout: true },
  );
  const out = new TextDecoder().decode(run.stdout);
  const err = run.stderrText;
  let frames = 0;
  let outUs = 0;
  for (const line of out.split("\n")) {
    const [k, v] = line.trim().split("=");
    if (k === "frame") frames = Math.max(frames, Number(v) || 0);
    else if (k === "out_time_us") {
      const n = Number(v);
      if (Number.isFinite(n) && n > outUs) outUs = n;
    }
  }
  let info: StreamInfo | null = null;
  for (const line of err.split("\n")) {
    info = parseVideoStreamLine(line);
    if (info) break;
  }
  if (!info || frames === 0) return null;
  const frameSec = info.fps ? 1 / info.fps : 0;
  return { ...info, frames, durationSec: outUs / 1e6 + frameSec };
}

/** Keyframes of a file's first video stream (`measureKeyframes`). */
export interface KeyframeInfo {
  /** Video packets read. */
  frames: number;
  /** Packets flagged as keyframes. */
  keyframes: number;
  /** Mean distance between consecutive keyframes, s; null with fewer than two. */
  meanIntervalSec: number | null;
  /** Presentation times of the keyframes (the file's own timestamps), s, ascending. */
  keyTimesSec: number[];
}

/**
 * Counts the keyframes of `file`'s first video stream and their mean distance, without decoding:
 * ffmpeg's `framecrc` muxer over a stream copy prints one line per packet
 * (`stream, dts, pts, duration, size, crc[, F=0xFLAGS][, side data]`) in the time base of its
 * `#tb` header; `F=` appears only when the flags are not exactly "keyframe"
 * (libavformat/framecrcenc.c), so a line without it, or with bit 0 set, is a keyframe.
 * Returns null when ffmpeg reads no packet. Throws only if ffmpeg cannot be spawned.
 */
export async function measureKeyframes(file: string, ffmpegPath: string = resolveFfmpeg()): Promise<KeyframeInfo | null> {
  // -copyts: the file's own timestamps, so the keyframes of consecutive segments line up
  const run = await runFfmpeg(["-hide_banner", "-nostdin", "-loglevel", "error", "-copyts", "-i", file, "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-"], {
    ffmpegPath,
    captureStdout: true,
  });
  const text = new TextDecoder().decode(run.stdout);
  let tb = 1 / 90_000;
  let frames = 0;
  const keyPts: number[] = [];
  for (const line of text.split("\n")) {
    const tbMatch = /^#tb \d+: (\d+)\/(\d+)/.exec(line);
    if (tbMatch) {
      tb = Number(tbMatch[1]) / Number(tbMatch[2]);
      continue;
    }
    if (!line || line.startsWith("#")) continue;
    const cols = line.split(",").map((c) => c.trim());
    if (cols.length < 6) continue;
    frames++;
    const flags = cols.find((c) => c.startsWith("F="));
    const key = flags === undefined || (parseInt(flags.slice(2), 16) & 1) === 1;
    if (key) keyPts.push(Number(cols[2]) * tb);
  }
  if (frames === 0) return null;
  keyPts.sort((a, b) => a - b);
  const meanIntervalSec = keyPts.length >= 2 ? (keyPts[keyPts.length - 1]! - keyPts[0]!) / (keyPts.length - 1) : null;
  return { frames, keyframes: keyPts.length, meanIntervalSec, keyTimesSec: keyPts };
}

/**
 * Mean distance between keyframes, s (3 decimals), over consecutive segments: `perSegment` holds
 * each segment's keyframe times (`KeyframeInfo.keyTimesSec`) in recording order. Distances within
 * a segment count, and from a segment's last keyframe to the next one's first when the next
 * continues the same timeline (the segments of one recorder run share ffmpeg's timeline,
 * `-reset_timestamps 0`; a new run starts a new one), so a GOP as long as a segment (one
 * keyframe per segment) is measured too. Null with no distance at all.
 */
export function meanKeyframeInterval(perSegment: number[][], maxGapSec = 60): number | null {
  let sum = 0;
  let n = 0;
  let last: number | null = null;
  for (const times of perSegment) {
    for (const t of times) {
      if (last !== null && t > last && t - last <= maxGapSec) {
        sum += t - last;
        n++;
      }
      last = t;
    }
  }
  return n > 0 ? Math.round((sum / n) * 1000) / 1000 : null;
}
