/**
 * The ffmpeg command line of one camera's recorder (DESIGN.md recording invariant 1).
 *
 * Output: ffmpeg's segment muxer writing MPEG-TS files named by ABSOLUTE segment index
 * (`<ringDirAbs>/%09d.ts`, the name `segmentRelPath()` in src/paths.ts expects), the CSV segment
 * list on stdout (`000000007.ts,0.000000,14.960000` = file, start s, end s of ffmpeg's output
 * timeline, one line per closed segment) and `-progress` key=value blocks on stderr (liveness).
 * `-reset_timestamps 0` keeps one continuous timeline across the segments of a run.
 * Every packet is written through to the segment file as it is muxed (`flush_packets=1`), so
 * the file on disk trails the camera by one packet; the recorder syncs it to the disk
 * periodically (src/actors/recorder.ts, `max_loss_seconds`).
 *
 * Sources (src/config.ts SOURCE_RE):
 * - `rtsp://` / `rtsps://`: video `-c copy`, audio per the camera's `audio` (default re-encoded
 *   to AAC: G.711/PCM cannot be copied into MPEG-TS), `rtsp_transport` honoured, socket I/O timeout 5 s
 *   (`-timeout` in µs on ffmpeg >= 5; `-stimeout` in µs on 4.x, where `-timeout` still meant the
 *   listen timeout in seconds: FFmpeg 5.0 changelog).
 * - `file:PATH`: read in real time (`-re`) and looped (`-stream_loop -1`), video `-c copy`,
 *   audio as for rtsp.
 * - `rpicam`: the Raspberry Pi camera seam: `rpicam-vid` writes H.264 to its stdout, which is
 *   piped into ffmpeg's stdin (`pipeFrom` holds its argv); `-c copy`. Keyframe every
 *   `LIVE_KEYFRAME_SECONDS` (`--intra`).
 * - `testsrc`, `v4l2:/dev/videoN`: raw frames, so they are encoded with libx264
 *   (ultrafast, zerolatency, yuv420p) with a keyframe forced every `LIVE_KEYFRAME_SECONDS`.
 *   `testsrc` also carries its capture time as a machine-readable strip (src/media/timecode.ts).
 *
 * With `-c copy` the muxer can only cut at a keyframe, so a segment lasts at least one GOP
 * (the highway test clip has a keyframe every 10 s: its segments are >= 10 s).
 *
 * Live view (`liveFd`): the same packets also go, still without transcoding, as one continuous
 * MPEG-TS stream to the inherited file descriptor `liveFd`, which the runtime's live hub reads
 * (src/media/liveHub.ts). Both outputs hang off ffmpeg's `tee` muxer, so an encoded source is
 * encoded once. The live slave runs behind the `fifo` muxer with `drop_pkts_on_overflow`: when
 * the runtime does not read the pipe (its event loop is busy) packets of the LIVE copy are dropped
 * after `LIVE_FIFO_PACKETS`, and the recording never waits for it; `onfail=ignore` keeps recording
 * when the live pipe breaks. Tee slave options are escaped twice (tee splits slaves with
 * `av_get_token`, then parses each slave's options the same way: "Quoting and escaping" in
 * ffmpeg-utils), and the fifo's own options a third time.
 */
import { join } from "node:path";
import type { CameraConfig } from "../config.ts";
import { timecodeFilter } from "./timecode.ts";

export interface RecorderArgsOptions {
  /** Absolute path of the camera's ring directory (created by the caller). */
  ringDirAbs: string;
  /** Absolute index of the first segment file of this run. */
  startNumber: number;
  /** Major version of the ffmpeg that will run (0 = unknown, treated as modern). */
  ffmpegMajor: number;
  /** File descriptor (>= 3) the live MPEG-TS copy is written to; absent = recording only. */
  liveFd?: number;
  /**
   * dashcam's own encoder settings applied to this camera (src/db/optimize.ts `encoder_settings`),
   * for the sources it encodes or configures itself (testsrc, v4l2, rpicam); ignored for the
   * stream-copied ones. Absent fields keep the defaults: no bitrate cap (x264's CRF 23 /
   * rpicam's default), a keyframe every `LIVE_KEYFRAME_SECONDS`. The frame size and rate come from
   * `camera` (the wiring puts applied ones there).
   */
  encoder?: { bitrateKbps?: number | null; keyframeSeconds?: number | null };
}

export interface RecorderArgs {
  /** ffmpeg arguments (without the program name). May contain a camera URL: never log them. */
  args: string[];
  /** argv of a process whose stdout is piped into ffmpeg's stdin (rpicam only). */
  pipeFrom?: string[];
}

/** Bitrate of camera audio re-encoded to AAC (`audio = "aac"`), bits/s: ample for speech and road noise. */
export const AUDIO_AAC_BITRATE = 96_000;

/** RTSP socket I/O timeout, µs (5 s). */
export const RTSP_TIMEOUT_US = 5_000_000;

/** RTSP-over-UDP socket receive buffer, bytes (the kernel caps it at net.core.rmem_max). */
export const RTSP_UDP_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Keyframe interval of the sources dashcam encodes itself or configures (testsrc, v4l2, rpicam),
 * seconds: a live viewer starts at a keyframe and the live hub caches one GOP, so a short GOP
 * means a quick start and a small cache. Segments still cut every `segment_seconds` (a multiple).
 */
export const LIVE_KEYFRAME_SECONDS = 1;

/** Packets the live output's fifo queues before it drops (about 2 s at 25 frames/s plus audio). */
export const LIVE_FIFO_PACKETS = 120;

/**
 * Whether dashcam encodes (or, for rpicam, configures the encoder of) this source itself, so its
 * frame size, rate, bitrate and keyframe interval are dashcam's own settings: testsrc, v4l2, rpicam.
 */
export function encodesItself(source: string): boolean {
  return source === "testsrc" || source === "rpicam" || source.startsWith("v4l2:");
}

/** Escapes one level of ffmpeg's option syntax (`\` before `\ ' : = [ ] |`). */
const escapeLevel = (text: string) => text.replace(/[\\':=\[\]|]/g, (ch) => `\\${ch}`);

/** Builds the recorder command for `camera`. Throws Error on a source it does not know. */
export function buildRecorderArgs(camera: CameraConfig, opts: RecorderArgsOptions): RecorderArgs {
  const seg = camera.segment_seconds;
  const fps = camera.fps;
  const size = `${camera.width}x${camera.height}`;
  const src = camera.source;
  const head = ["-hide_banner", "-loglevel", "level+info"];
  let input: string[];
  let codec: string[];
  let pipeFrom: string[] | undefined;
  const copy =
    camera.audio === "none" ? ["-map", "0:v:0", "-an", "-c", "copy"]
    : camera.audio === "copy" ? ["-map", "0:v:0", "-map", "0:a?", "-c", "copy"]
    : ["-map", "0:v:0", "-map", "0:a?", "-c", "copy", "-c:a", "aac", "-b:a", String(AUDIO_AAC_BITRATE)];
  const keyframeSeconds = opts.encoder?.keyframeSeconds ?? LIVE_KEYFRAME_SECONDS;
  const bitrateKbps = opts.encoder?.bitrateKbps ?? null;
  // a bitrate cap: x264's ABR with a VBV of one second (maxrate = bitrate), so every second of
  // footage stays near the asked rate (x264 docs, "ratecontrol": --vbv-maxrate/--vbv-bufsize)
  const rate = bitrateKbps ? ["-b:v", `${bitrateKbps}k`, "-maxrate", `${bitrateKbps}k`, "-bufsize", `${bitrateKbps}k`] : [];
  const encode = [
    "-map", "0:v:0", "-an",
    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
    ...rate,
    "-g", String(Math.max(1, Math.round(fps * keyframeSeconds))),
    "-force_key_frames", `expr:gte(t,n_forced*${keyframeSeconds})`,
  ];

  if (/^rtsps?:\/\//i.test(src)) {
    const timeoutOpt = opts.ffmpegMajor > 0 && opts.ffmpegMajor < 5 ? "-stimeout" : "-timeout";
    input = ["-nostdin"];
    if (camera.rtsp_transport) input.push("-rtsp_transport", camera.rtsp_transport);
    // A keyframe arrives as a burst of RTP packets; ffmpeg's default UDP receive buffer
    // (64 KB, libavformat/udp.c) overflows and truncates it (measured with the npm ffmpeg 4.1:
    // 11-12 packets lost per keyframe of the highway clip; none with a 4 MiB buffer).
    if (camera.rtsp_transport !== "tcp") input.push("-buffer_size", String(RTSP_UDP_BUFFER_BYTES));
    input.push(timeoutOpt, String(RTSP_TIMEOUT_US), "-i", src);
    codec = copy;
  } else if (src.startsWith("file:")) {
    input = ["-nostdin", "-re", "-stream_loop", "-1", "-i", src.slice(5)];
    codec = copy;
  } else if (src === "testsrc") {
    input = ["-nostdin", "-re", "-f", "lavfi", "-i", `testsrc=size=${size}:rate=${fps}`];
    codec = [...encode, "-vf", timecodeFilter(camera.width)];
  } else if (src.startsWith("v4l2:")) {
    input = ["-nostdin", "-f", "v4l2", "-framerate", String(fps), "-video_size", size, "-i", src.slice(5)];
    codec = encode;
  } else if (src === "rpicam") {
    pipeFrom = [
      "rpicam-vid", "-t", "0", "--inline", "-n",
      "--width", String(camera.width), "--height", String(camera.height),
      "--framerate", String(fps), "--intra", String(Math.max(1, Math.round(fps * keyframeSeconds))),
      ...(bitrateKbps ? ["--bitrate", String(bitrateKbps * 1000)] : []),
      "--codec", "h264", "-o", "-",
    ];
    input = ["-fflags", "+genpts", "-f", "h264", "-framerate", String(fps), "-i", "pipe:0"];
    codec = copy;
  } else {
    throw new Error(`camera ${camera.key}: unsupported source kind`);
  }

  const segmentOptions: [string, string][] = [
    ["segment_time", String(seg)],
    ["segment_format", "mpegts"],
    // each segment restarts the MPEG-TS continuity counters; flag it so a reader joining
    // segments (HLS, concat) does not report the first packet of each as corrupt.
    // flush_packets=1 writes every packet through to the file (bounded loss, DESIGN.md
    // invariant 6): without it the segment's output buffer reached the file in 256 KiB chunks
    // and a killed ffmpeg left a 60 s segment at 0 bytes. It must be a segment_format_option:
    // the top-level `-flush_packets 1` is not passed on to the segment muxer's inner MPEG-TS
    // muxer (measured: 0 bytes after 4 s with ffmpeg 4.1 and 5.1 alike; 50-70 kB with this).
    ["segment_format_options", "mpegts_flags=+initial_discontinuity:flush_packets=1"],
    ["segment_list", "pipe:1"],
    ["segment_list_type", "csv"],
    ["segment_start_number", String(opts.startNumber)],
    ["reset_timestamps", "0"],
  ];
  const segmentPath = join(opts.ringDirAbs, "%09d.ts");
  const progress = ["-progress", "pipe:2", "-nostats"];
  let output: string[];
  if (opts.liveFd === undefined) {
    output = ["-f", "segment", ...segmentOptions.flatMap(([k, v]) => [`-${k}`, v]), ...progress, segmentPath];
  } else {
    const slave = (options: [string, string][], target: string) =>
      `[${options.map(([k, v]) => `${k}=${escapeLevel(escapeLevel(v))}`).join(":")}]${escapeLevel(target)}`;
    const fifo = `queue_size=${LIVE_FIFO_PACKETS}:drop_pkts_on_overflow=1:attempt_recovery=0`;
    const live = slave(
      [
        ["f", "mpegts"],
        ["onfail", "ignore"],
        ["use_fifo", "1"],
        ["fifo_options", fifo],
      ],
      `pipe:${opts.liveFd}`,
    );
    output = ["-f", "tee", ...progress, `${slave([["f", "segment"], ...segmentOptions], segmentPath)}|${live}`];
  }
  return { args: [...head, ...input, ...codec, ...output], ...(pipeFrom ? { pipeFrom } : {}) };
}
