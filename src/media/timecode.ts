/**
 * A machine-readable capture-time strip for the `testsrc` source, so live latency can be measured
 * end to end on the picture itself (in a browser canvas, in a `frame.jpg`, in a recorded segment).
 *
 * Layout: the top `block` pixels of the frame are a black strip holding `TIMECODE_BITS` squares of
 * `block` x `block` pixels from x = 0, most significant bit first; a white square is a 1. The bits
 * are the frame's capture time, Unix ms modulo 2^TIMECODE_BITS (2^24 ms = 4.66 h), which the reader
 * unwraps to the instant nearest to its own clock. `block` = max(4, floor(width / 32)) pixels
 * (10 px at 320 wide, 40 px at 1280), large enough to survive H.264 and JPEG compression.
 *
 * The time is stamped by ffmpeg's filter graph when the frame is produced: `settb=1/1000` then
 * `setpts=RTCTIME/1000` (RTCTIME = wall clock in microseconds, FFmpeg filters documentation
 * "setpts") makes the frame's timestamp the wall clock in ms, each `drawbox` is enabled by its bit
 * of `t`, and `setpts=PTS-STARTPTS` restores a timeline from zero for the encoder.
 */

/** Bits of the capture time (Unix ms modulo 2^bits) drawn into the frame. */
export const TIMECODE_BITS = 24;

/** Side of one bit square, pixels, for a frame `width` pixels wide. */
export function timecodeBlock(width: number): number {
  return Math.max(4, Math.floor(width / 32));
}

/** The ffmpeg filter chain (comma-separated, for `-vf` or a lavfi graph) that draws the strip on a `width`-pixel-wide frame. */
export function timecodeFilter(width: number): string {
  const b = timecodeBlock(width);
  const parts = ["settb=1/1000", "setpts=RTCTIME/1000", `drawbox=x=0:y=0:w=${b * TIMECODE_BITS}:h=${b}:color=black:t=fill`];
  for (let i = 0; i < TIMECODE_BITS; i++) {
    const weight = 2 ** (TIMECODE_BITS - 1 - i);
    parts.push(`drawbox=x=${i * b}:y=0:w=${b}:h=${b}:color=white:t=fill:enable='mod(floor(t*1000/${weight}),2)'`);
  }
  parts.push("setpts=PTS-STARTPTS");
  return parts.join(",");
}

/**
 * Reads the strip back from RGBA pixels (`data` row-major, 4 bytes a pixel, `width` x `height`, as
 * from a canvas `getImageData` or a decoded JPEG): each square's centre pixel is a 1 when its
 * luma is above 128. Returns the capture time as Unix ms, the instant with those low bits nearest
 * to `nowMs`. Self-contained (no imports, no closures) so a test can also run it inside a browser
 * page through `Function.prototype.toString`.
 */
export function readTimecode(data: ArrayLike<number>, width: number, nowMs: number): number {
  const bits = 24;
  const b = Math.max(4, Math.floor(width / 32));
  const y = Math.floor(b / 2);
  let value = 0;
  for (let i = 0; i < bits; i++) {
    const x = i * b + Math.floor(b / 2);
    const o = (y * width + x) * 4;
    const luma = 0.299 * data[o] + 0.587 * data[o + 1] + 0.114 * data[o + 2];
    value = value * 2 + (luma > 128 ? 1 : 0);
  }
  const period = 2 ** bits;
  const base = nowMs - (((nowMs % period) + period) % period);
  let t = base + value;
  if (t - nowMs > period / 2) t -= period;
  else if (nowMs - t > period / 2) t += period;
  return t;
}
