/**
 * ffprobe/ffmpeg helpers for end-to-end checks, using Debian's /usr/bin/ffprobe and
 * /usr/bin/ffmpeg (the npm ffmpeg has no ffprobe).
 */
import { spawnProc } from "./proc.ts";

export const FFPROBE = process.env.TEST_FFPROBE ?? "/usr/bin/ffprobe";
export const FFMPEG_BIN = process.env.TEST_FFMPEG ?? "/usr/bin/ffmpeg";

export interface ProbeResult {
  /** Container duration, seconds (ffprobe `format.duration`). */
  duration: number;
  formatName: string;
  video: { codec: string; width: number; height: number } | null;
  /** Codec of every stream, in stream order (e.g. ["h264", "aac"]). */
  codecs: string[];
}

/** ffprobe of a file or URL (`inputArgs` go before it, e.g. `-rtsp_transport udp`); throws with ffprobe's stderr on failure. */
export async function probe(target: string, timeoutMs = 30_000, inputArgs: string[] = []): Promise<ProbeResult> {
  const p = spawnProc([FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", ...inputArgs, target]);
  const t = setTimeout(() => p.signalGroup("SIGKILL"), timeoutMs);
  const code = await p.exited;
  clearTimeout(t);
  if (code !== 0) throw new Error(`ffprobe ${target} failed (${code}): ${p.stderr.join("\n")}`);
  const json = JSON.parse(p.stdout.join("\n"));
  const v = (json.streams ?? []).find((s: { codec_type: string }) => s.codec_type === "video");
  return {
    duration: Number(json.format?.duration),
    formatName: String(json.format?.format_name),
    video: v ? { codec: v.codec_name, width: v.width, height: v.height } : null,
    codecs: (json.streams ?? []).map((s: { codec_name: string }) => s.codec_name),
  };
}

/**
 * Reads `input` (file or URL, e.g. an HLS playlist) end to end with
 * `ffmpeg -i INPUT -c copy -f null -` (`inputArgs` before `-i`, e.g. `-headers "Cookie: ..."`,
 * which the HLS demuxer passes on to every segment request), or with `decode: true` decodes
 * every video frame instead of copying (`-f null -` without `-c copy`), which is what reveals
 * damaged frames (`error while decoding MB ...`). Returns the exit code, stderr lines at
 * `-v warning` and the frames/output time from `-progress`.
 */
export async function readThrough(
  input: string,
  opts: { inputArgs?: string[]; decode?: boolean; timeoutMs?: number } = {},
): Promise<{ code: number; stderr: string[]; frames: number; outTimeSec: number }> {
  const p = spawnProc([
    FFMPEG_BIN, "-hide_banner", "-nostdin", "-v", "warning",
    ...(opts.inputArgs ?? []), "-i", input, "-map", "0:v:0", ...(opts.decode ? [] : ["-c", "copy"]),
    "-progress", "pipe:1", "-f", "null", "-",
  ]);
  const t = setTimeout(() => p.signalGroup("SIGKILL"), opts.timeoutMs ?? 120_000);
  const code = await p.exited;
  clearTimeout(t);
  let frames = 0;
  let outTimeSec = 0;
  for (const line of p.stdout) {
    const m = /^frame=(\d+)/.exec(line);
    if (m) frames = Number(m[1]);
    const o = /^out_time_us=(\d+)/.exec(line);
    if (o) outTimeSec = Number(o[1]) / 1e6;
  }
  return { code, stderr: p.stderr, frames, outTimeSec };
}

/**
 * Encodes `seconds` of ffmpeg's test pattern (160x120, 10 frames/s, H.264 without B-frames, a
 * keyframe exactly every `gop` frames) into the MPEG-TS file `file` and returns its bytes: a
 * stream like the recorder's live copy of a `testsrc` camera. Throws with ffmpeg's stderr on failure.
 */
export async function encodeTestPatternTs(file: string, seconds: number, gop: number): Promise<Uint8Array> {
  const { runFfmpeg } = await import("../../src/media/ffmpeg.ts");
  const run = await runFfmpeg(
    [
      "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", String(seconds),
      "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
      "-g", String(gop), "-keyint_min", String(gop), "-sc_threshold", "0", "-bf", "0",
      "-f", "mpegts", "-y", file,
    ],
    { ffmpegPath: FFMPEG_BIN },
  );
  if (run.code !== 0) throw new Error(`encoding the test pattern failed: ${run.stderrText}`);
  return new Uint8Array(await Bun.file(file).arrayBuffer());
}
