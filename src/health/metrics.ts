/**
 * Pure image metrics of one camera frame (no I/O), for the camera health checks of seed 003.
 *
 * Everything works on the frame's luma (ITU-R BT.601: Y = 0.299 R + 0.587 G + 0.114 B, 0..255):
 *
 * | metric | what | source |
 * | --- | --- | --- |
 * | `meanBrightness` | mean luma, 0..255 | exposure: seed 003 `exposure.meanBrightness` |
 * | `noiseLevel` | standard deviation of the sensor noise, luma levels | J. Immerkaer, "Fast noise variance estimation", CVIU 64(2), 1996: sigma = sqrt(pi/2) / (6 (W-2)(H-2)) * sum over the image of abs(I * N), N = [1 -2 1; -2 4 -2; 1 -2 1] (a difference of two Laplacians, blind to linear ramps). Full resolution: downscaling averages noise away. |
 * | `blurScore` | variance of the 4-neighbour Laplacian | J.L. Pech-Pacheco et al., "Diatom autofocusing in brightfield microscopy: a comparative study", ICPR 2000 (the "variance of the Laplacian" focus measure). On the frame box-downscaled to at most `ANALYSIS_WIDTH` pixels wide, so the score does not depend on the camera's resolution. Higher = sharper. |
 * | `lumaStdDev` | standard deviation of luma over the frame | a covered lens, a lens cap or a camera facing a wall gives a nearly uniform picture (camera-tampering detection: A. Saglam, A. Temizel, "Real-time adaptive camera tamper detection for video surveillance", AVSS 2009, uses the loss of image content the same way) |
 * | `frameDifference(a, b)` | mean absolute luma difference of two thumbnails, levels | a frozen picture repeats the same frame: the difference stays near 0 while any live scene (or live sensor noise) moves it |
 *
 * Costs (bench/health.ts): one pass to luma at full size, one Immerkaer pass, one box downscale,
 * one Laplacian pass; ~10 ms per 1280x720 frame on a 2-core x86-64 besides the JPEG decode.
 */
import type { RgbImage } from "../vision/image.ts";

/** A single-channel 8-bit image (luma), row-major. */
export interface LumaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Analysis width (px) for the blur score and the thumbnail: frames wider than this are box-downscaled first. */
export const ANALYSIS_WIDTH = 640;

/** Thumbnail width (px) kept to compare consecutive snapshots (`frameDifference`). */
export const THUMB_WIDTH = 160;

/** The metrics of one frame (see the module comment for each). */
export interface FrameMetrics {
  width: number;
  height: number;
  /** Mean luma, 0..255. */
  meanBrightness: number;
  /** Immerkaer noise sigma, luma levels. */
  noiseLevel: number;
  /** Variance of the Laplacian on the analysis-size frame. Higher = sharper. */
  blurScore: number;
  /** Standard deviation of luma, levels (near 0 = uniform picture). */
  lumaStdDev: number;
  /** Luma thumbnail, `THUMB_WIDTH` wide, for `frameDifference` with the next snapshot. */
  thumb: LumaImage;
}

/** BT.601 luma of an RGB image (rounded to 0..255). */
export function toLuma(img: RgbImage): LumaImage {
  const n = img.width * img.height;
  if (img.data.length < n * 3) throw new RangeError(`RGB image ${img.width}x${img.height} needs ${n * 3} bytes, has ${img.data.length}`);
  const out = new Uint8Array(n);
  const d = img.data;
  // fixed point: 0.299, 0.587, 0.114 scaled by 2^16
  for (let i = 0, j = 0; i < n; i++, j += 3) out[i] = (19595 * d[j] + 38470 * d[j + 1] + 7471 * d[j + 2] + 32768) >>> 16;
  return { width: img.width, height: img.height, data: out };
}

/**
 * Box-downscales `img` by the integer factor `ceil(width / maxWidth)` (each output pixel is the
 * mean of a factor x factor block; a partial block at the right/bottom edge is dropped). Returns
 * `img` itself when it is not wider than `maxWidth`.
 */
export function downscaleLuma(img: LumaImage, maxWidth: number): LumaImage {
  const f = Math.ceil(img.width / maxWidth);
  if (f <= 1) return img;
  const w = Math.floor(img.width / f);
  const h = Math.floor(img.height / f);
  const out = new Uint8Array(w * h);
  const acc = new Uint32Array(w);
  const area = f * f;
  const src = img.data;
  const sw = img.width;
  for (let y = 0; y < h; y++) {
    acc.fill(0);
    for (let dy = 0; dy < f; dy++) {
      const row = (y * f + dy) * sw;
      for (let x = 0, sx = row; x < w; x++) {
        let s = 0;
        for (let dx = 0; dx < f; dx++) s += src[sx++];
        acc[x] += s;
      }
    }
    const o = y * w;
    for (let x = 0; x < w; x++) out[o + x] = Math.round(acc[x] / area);
  }
  return { width: w, height: h, data: out };
}

/** Mean and standard deviation of the luma values. */
export function lumaStats(img: LumaImage): { mean: number; stdDev: number } {
  const d = img.data;
  const n = d.length;
  if (n === 0) return { mean: 0, stdDev: 0 };
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const v = d[i];
    s += v;
    s2 += v * v;
  }
  const mean = s / n;
  return { mean, stdDev: Math.sqrt(Math.max(0, s2 / n - mean * mean)) };
}

/**
 * Immerkaer's noise sigma (luma levels): sqrt(pi/2) / (6 (W-2)(H-2)) * sum abs(I * N) over the
 * interior pixels, N = [1 -2 1; -2 4 -2; 1 -2 1]. 0 for an image smaller than 3x3.
 */
export function immerkaerNoise(img: LumaImage): number {
  const { width: w, height: h, data: d } = img;
  if (w < 3 || h < 3) return 0;
  // N is separable: [1 -2 1]^T x [1 -2 1]. Keep the horizontal second differences of three rows
  // and combine them vertically (6 reads per pixel instead of 9).
  let prev = new Int16Array(w);
  let cur = new Int16Array(w);
  let next = new Int16Array(w);
  const rowDiff = (y: number, out: Int16Array) => {
    const o = y * w;
    for (let x = 1; x < w - 1; x++) out[x] = d[o + x - 1] - 2 * d[o + x] + d[o + x + 1];
  };
  rowDiff(0, prev);
  rowDiff(1, cur);
  let sum = 0;
  for (let y = 1; y < h - 1; y++) {
    rowDiff(y + 1, next);
    for (let x = 1; x < w - 1; x++) {
      const v = prev[x] - 2 * cur[x] + next[x];
      sum += v < 0 ? -v : v;
    }
    const t = prev;
    prev = cur;
    cur = next;
    next = t;
  }
  return (Math.sqrt(Math.PI / 2) * sum) / (6 * (w - 2) * (h - 2));
}

/**
 * Variance of the 4-neighbour Laplacian [0 1 0; 1 -4 1; 0 1 0] over the interior pixels
 * (Pech-Pacheco et al. 2000). 0 for an image smaller than 3x3.
 */
export function laplacianVariance(img: LumaImage): number {
  const { width: w, height: h, data: d } = img;
  if (w < 3 || h < 3) return 0;
  let s = 0;
  let s2 = 0;
  for (let y = 1; y < h - 1; y++) {
    let i = y * w + 1;
    for (let x = 1; x < w - 1; x++, i++) {
      const v = d[i - w] + d[i + w] + d[i - 1] + d[i + 1] - 4 * d[i];
      s += v;
      s2 += v * v;
    }
  }
  const n = (w - 2) * (h - 2);
  const mean = s / n;
  return s2 / n - mean * mean;
}

/**
 * Mean absolute difference of two luma thumbnails (levels, 0..255). Throws a RangeError when
 * their sizes differ (the camera changed resolution: the caller treats the pair as different).
 */
export function frameDifference(a: LumaImage, b: LumaImage): number {
  if (a.width !== b.width || a.height !== b.height) throw new RangeError(`thumbnails differ in size: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  const n = a.data.length;
  if (n === 0) return 0;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = a.data[i] - b.data[i];
    s += v < 0 ? -v : v;
  }
  return s / n;
}

/** Every metric of one decoded frame (see the module comment). Pure; throws only on a malformed image. */
export function measureFrame(img: RgbImage): FrameMetrics {
  const luma = toLuma(img);
  const noiseLevel = immerkaerNoise(luma);
  const analysis = downscaleLuma(luma, ANALYSIS_WIDTH);
  const { mean, stdDev } = lumaStats(analysis);
  return {
    width: img.width,
    height: img.height,
    meanBrightness: mean,
    noiseLevel,
    blurScore: laplacianVariance(analysis),
    lumaStdDev: stdDev,
    thumb: downscaleLuma(analysis, THUMB_WIDTH),
  };
}
