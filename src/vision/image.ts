/**
 * Images for the vision stages: decoding (JPEG via mozjpeg in WebAssembly, mozjpeg.ts; PNG via
 * pngjs, pure JS; both embedded, so the compiled binary stays one file; binary PPM by hand),
 * cropping, JPEG encoding (jpeg-js) and resampling.
 *
 * `RgbImage` is 8-bit RGB, 3 bytes per pixel, row-major, top-left origin. A `Box` is
 * `[x, y, w, h]` in pixels of the image it refers to (top-left corner, width, height).
 */
import { encode as jpegEncode } from "jpeg-js";
import { decodeJpegRgba } from "./mozjpeg.ts";
import { PNG } from "pngjs";

export interface RgbImage {
  width: number;
  height: number;
  /** RGB, 3 bytes/pixel, row-major; length = width * height * 3. */
  data: Uint8Array;
}

/** `[x, y, w, h]` in pixels, top-left origin. */
export type Box = [x: number, y: number, w: number, h: number];

/** The bytes are not a decodable JPEG/PNG image; `message` says why (empty, truncated, corrupt, ...). */
export class ImageDecodeError extends Error {
  override name = "ImageDecodeError";
}

/** Largest image accepted, in pixels (100 MP, jpeg-js's default limit, kept for every format). */
const MAX_PIXELS = 100_000_000;

/**
 * Decodes a JPEG, PNG or binary PPM (detected by signature) into RGB. Alpha is dropped, grey is
 * expanded.
 * Throws `ImageDecodeError` for empty input, an unknown format, a truncated file (JPEG without
 * its end-of-image marker, PNG without IEND), a zero-size image or any decoder failure.
 */
export function decodeImage(bytes: Uint8Array): RgbImage {
  if (!bytes || bytes.length === 0) throw new ImageDecodeError("empty file (0 bytes)");
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  const isPng =
    bytes.length >= 8 &&
    bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47 &&
    bytes[4] === 0x0d && bytes[5] === 0x0a && bytes[6] === 0x1a && bytes[7] === 0x0a;
  if (isJpeg) return decodeJpeg(bytes);
  if (isPng) return decodePng(bytes);
  if (bytes[0] === 0x50 && bytes[1] === 0x36) return decodePpm(bytes);
  throw new ImageDecodeError(`not a JPEG, PNG or PPM image (${bytes.length} bytes, unknown signature)`);
}

/**
 * Binary PPM (netpbm P6, maxval 255): raw RGB after a short text header. Decoding is a copy,
 * so frames written by ffmpeg as `.ppm` (`-f image2 -c:v ppm`) skip JPEG decoding entirely.
 */
function decodePpm(bytes: Uint8Array): RgbImage {
  // Header: "P6" whitespace width whitespace height whitespace maxval, one whitespace, pixels.
  const fields: number[] = [];
  let i = 2;
  while (fields.length < 3 && i < bytes.length && i < 1024) {
    const c = bytes[i];
    if (c === 0x23) {
      while (i < bytes.length && bytes[i] !== 0x0a) i++; // comment to end of line
    } else if (c >= 0x30 && c <= 0x39) {
      let v = 0;
      while (i < bytes.length && bytes[i] >= 0x30 && bytes[i] <= 0x39) v = v * 10 + bytes[i++] - 0x30;
      fields.push(v);
      continue;
    } else if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) {
      throw new ImageDecodeError("corrupt PPM header");
    }
    i++;
  }
  if (fields.length < 3) throw new ImageDecodeError("truncated PPM header");
  const [width, height, maxval] = fields;
  if (!width || !height) throw new ImageDecodeError("zero-size PPM image");
  if (maxval !== 255) throw new ImageDecodeError(`unsupported PPM maxval ${maxval} (only 8-bit)`);
  if (width * height > MAX_PIXELS) throw new ImageDecodeError(`PPM too large: ${width}x${height}`);
  const start = i + 1;
  const need = width * height * 3;
  if (bytes.length - start < need) throw new ImageDecodeError(`truncated PPM: ${bytes.length - start} of ${need} pixel bytes`);
  return { width, height, data: bytes.slice(start, start + need) };
}

function decodeJpeg(bytes: Uint8Array): RgbImage {
  if (!hasJpegEnd(bytes)) throw new ImageDecodeError(`truncated JPEG: no end-of-image marker in ${bytes.length} bytes`);
  const size = jpegFrameSize(bytes);
  if (size && size.width * size.height > MAX_PIXELS) throw new ImageDecodeError(`JPEG too large: ${size.width}x${size.height}`);
  let raw: { width: number; height: number; data: Uint8ClampedArray };
  try {
    raw = decodeJpegRgba(bytes);
  } catch (err) {
    throw new ImageDecodeError(`corrupt JPEG: ${oneLine(err)}`);
  }
  if (!raw.width || !raw.height) throw new ImageDecodeError("zero-size JPEG image");
  if (raw.data.length !== raw.width * raw.height * 4)
    throw new ImageDecodeError(`corrupt JPEG: decoded ${raw.data.length} bytes for ${raw.width}x${raw.height}`);
  return { width: raw.width, height: raw.height, data: rgbaToRgb(raw.data, raw.width, raw.height) };
}

/** Drops the alpha byte of 8-bit RGBA pixels (`width` x `height`): 3 bytes per pixel out. */
function rgbaToRgb(src: ArrayLike<number>, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < out.length; i += 4, j += 3) {
    out[j] = src[i];
    out[j + 1] = src[i + 1];
    out[j + 2] = src[i + 2];
  }
  return out;
}

/**
 * Width and height (pixels) from a JPEG's start-of-frame marker (any SOFn), without decoding;
 * null when no frame header is found before the data ends or the marker chain breaks.
 */
export function jpegFrameSize(b: Uint8Array): { width: number; height: number } | null {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return null;
    const m = b[i + 1];
    if (m === 0xff) {
      i++;
      continue;
    }
    const len = (b[i + 2] << 8) | b[i + 3];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return { height: (b[i + 5] << 8) | b[i + 6], width: (b[i + 7] << 8) | b[i + 8] };
    i += 2 + len;
  }
  return null;
}

/** True when an EOI marker (FF D9) ends the file, allowing a little trailing padding. */
function hasJpegEnd(bytes: Uint8Array): boolean {
  const stop = Math.max(2, bytes.length - 64);
  for (let i = bytes.length - 2; i >= stop; i--) if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  return false;
}

function decodePng(bytes: Uint8Array): RgbImage {
  let png: { width: number; height: number; data: Uint8Array };
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    const msg = oneLine(err);
    const truncated = /unexpected end|end of input|incomplete|too short|No IEND|ended prematurely/i.test(msg);
    throw new ImageDecodeError(`${truncated ? "truncated" : "corrupt"} PNG: ${msg}`);
  }
  const { width, height } = png;
  if (!width || !height) throw new ImageDecodeError("zero-size PNG image");
  if (width * height > MAX_PIXELS) throw new ImageDecodeError(`PNG too large: ${width}x${height}`);
  return { width, height, data: rgbaToRgb(png.data, width, height) };
}

function oneLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split("\n")[0];
}

/** Rounds a box to whole pixels and clips it to the image; a box entirely outside yields w or h = 0. */
export function clipBox(box: Box, width: number, height: number): Box {
  const x0 = Math.max(0, Math.min(width, Math.floor(box[0])));
  const y0 = Math.max(0, Math.min(height, Math.floor(box[1])));
  const x1 = Math.max(0, Math.min(width, Math.ceil(box[0] + box[2])));
  const y1 = Math.max(0, Math.min(height, Math.ceil(box[1] + box[3])));
  return [x0, y0, Math.max(0, x1 - x0), Math.max(0, y1 - y0)];
}

/**
 * Copies the pixels of `box` (clipped to the image, rounded outwards to whole pixels).
 * Throws RangeError when the clipped box is empty.
 */
export function cropImage(img: RgbImage, box: Box): RgbImage {
  const [x, y, w, h] = clipBox(box, img.width, img.height);
  if (w === 0 || h === 0) throw new RangeError(`crop box [${box.join(", ")}] is empty inside ${img.width}x${img.height}`);
  const out = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++) {
    const src = ((y + r) * img.width + x) * 3;
    out.set(img.data.subarray(src, src + w * 3), r * w * 3);
  }
  return { width: w, height: h, data: out };
}

/** Baseline JPEG of the image (jpeg-js), quality 1-100 (default 85). */
export function encodeJpeg(img: RgbImage, quality = 85): Uint8Array {
  const rgba = new Uint8Array(img.width * img.height * 4);
  for (let i = 0, j = 0; i < img.data.length; i += 3, j += 4) {
    rgba[j] = img.data[i];
    rgba[j + 1] = img.data[i + 1];
    rgba[j + 2] = img.data[i + 2];
    rgba[j + 3] = 255;
  }
  const out = jpegEncode({ width: img.width, height: img.height, data: rgba }, quality);
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
}

/** IoU (intersection over union) of two boxes; 0 when either is empty. */
export function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Samples the region `box` of `img` into a planar float tensor of `outW` x `outH` (CHW order,
 * channels in `order`), value = (pixel / 255 - mean[c]) / std[c]. Resampling is separable:
 * along an axis that shrinks, each output pixel is the area-weighted mean of the source pixels
 * it covers (box filter with fractional edge weights, so thin strokes are not aliased away);
 * along an axis that grows, it is linear interpolation between pixel centres. Source pixels
 * outside the image read as the nearest edge pixel within one pixel of the border, else as
 * `pad` (0..255). With `into`/`intoW`/`intoH` the samples land in the top-left corner of a
 * larger preallocated CHW tensor (letterboxing). Used to build ONNX inputs without
 * intermediate images.
 */
export function sampleToTensor(
  img: RgbImage,
  box: Box,
  outW: number,
  outH: number,
  opts: { mean: [number, number, number]; std: [number, number, number]; order: "rgb" | "bgr"; pad?: number; into?: Float32Array; intoW?: number; intoH?: number },
): Float32Array {
  const W = opts.intoW ?? outW;
  const plane = W * (opts.intoH ?? outH);
  const out = opts.into ?? new Float32Array(3 * plane);
  const pad = opts.pad ?? 0;
  const chan = opts.order === "bgr" ? [2, 1, 0] : [0, 1, 2];
  const scale = [0, 1, 2].map((c) => 1 / (255 * opts.std[c]));
  const bias = [0, 1, 2].map((c) => -opts.mean[c] / opts.std[c]);
  const { width, height, data } = img;
  const xt = resampleTaps(box[0], box[2], outW);
  const yt = resampleTaps(box[1], box[3], outH);
  // Source columns resolved once: edge clamp within one pixel of the border, -1 = padding.
  const xs = new Int32Array(xt.idx.length);
  for (let i = 0; i < xs.length; i++) xs[i] = resolve(xt.idx[i], width);
  // Horizontal pass over the contiguous range of source rows the vertical taps use.
  let rmin = Infinity, rmax = -Infinity;
  for (const r of yt.idx) {
    if (r < rmin) rmin = r;
    if (r > rmax) rmax = r;
  }
  const rows = rmax - rmin + 1;
  const mid = new Float32Array(rows * outW * 3);
  const xoff = xt.off, xw = xt.w;
  // Byte offset of each tap's source pixel within a row, -1 = padding.
  const xb = new Int32Array(xs.length);
  for (let i = 0; i < xs.length; i++) xb[i] = xs[i] < 0 ? -1 : xs[i] * 3;
  for (let r = 0; r < rows; r++) {
    const sy = resolve(rmin + r, height);
    const base = r * outW * 3;
    const rowPad = sy < 0;
    const rowOff = sy * width * 3;
    for (let ox = 0, o = base; ox < outW; ox++, o += 3) {
      let cr = 0, cg = 0, cb = 0;
      for (let t = xoff[ox], e = xoff[ox + 1]; t < e; t++) {
        const w = xw[t], b = xb[t];
        if (rowPad || b < 0) {
          cr += w * pad; cg += w * pad; cb += w * pad;
        } else {
          const p = rowOff + b;
          cr += w * data[p]; cg += w * data[p + 1]; cb += w * data[p + 2];
        }
      }
      mid[o] = cr; mid[o + 1] = cg; mid[o + 2] = cb;
    }
  }
  // Vertical pass row by row: the tap rows of `mid` are summed into one output row (contiguous
  // memory, same summation order per pixel as a per-pixel loop), then normalised into CHW.
  const c0 = chan[0], c1 = chan[1], c2 = chan[2];
  const s0 = scale[0], s1 = scale[1], s2 = scale[2], b0 = bias[0], b1 = bias[1], b2 = bias[2];
  const rowLen = outW * 3;
  const acc = new Float32Array(rowLen);
  for (let oy = 0; oy < outH; oy++) {
    const t0 = yt.off[oy], t1 = yt.off[oy + 1];
    acc.fill(0);
    for (let t = t0; t < t1; t++) {
      const w = yt.w[t];
      const base = (yt.idx[t] - rmin) * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] += w * mid[base + i];
    }
    const o = oy * W;
    for (let ox = 0, a = 0; ox < outW; ox++, a += 3) {
      out[o + ox] = acc[a + c0] * s0 + b0;
      out[plane + o + ox] = acc[a + c1] * s1 + b1;
      out[2 * plane + o + ox] = acc[a + c2] * s2 + b2;
    }
  }
  return out;
}

/** Source index `i` on an axis of `size` pixels: itself inside, the edge pixel within one pixel outside, else -1 (padding). */
function resolve(i: number, size: number): number {
  return i >= 0 && i < size ? i : i >= -1 && i <= size ? Math.min(size - 1, Math.max(0, i)) : -1;
}

/**
 * Resampling taps along one axis: output pixel o of `n` covering [start, start+len) of the
 * source axis uses source indices idx[off[o]..off[o+1]) (unresolved, may lie outside the
 * image) with weights w summing to 1: box filter with fractional edge weights when shrinking,
 * linear interpolation between pixel centres when growing.
 */
function resampleTaps(start: number, len: number, n: number): { off: Int32Array; idx: Int32Array; w: Float32Array } {
  const step = len / n;
  const idx: number[] = [];
  const w: number[] = [];
  const off = new Int32Array(n + 1);
  for (let o = 0; o < n; o++) {
    off[o] = idx.length;
    if (step > 1) {
      const a = start + o * step, b = a + step;
      for (let i = Math.floor(a); i < b; i++) {
        const wt = Math.min(b, i + 1) - Math.max(a, i);
        if (wt > 1e-6) {
          idx.push(i);
          w.push(wt / step);
        }
      }
    } else {
      const f = start + (o + 0.5) * step - 0.5;
      const i0 = Math.floor(f), t = f - i0;
      idx.push(i0);
      w.push(1 - t);
      if (t > 1e-6) {
        idx.push(i0 + 1);
        w.push(t);
      }
    }
  }
  off[n] = idx.length;
  return { off, idx: Int32Array.from(idx), w: Float32Array.from(w) };
}

function px(data: Uint8Array, w: number, h: number, x: number, y: number, c: number, pad: number): number {
  if (x < 0 || y < 0 || x >= w || y >= h) {
    // Clamp to the edge inside the image, pad only far outside it.
    if (x >= -1 && y >= -1 && x <= w && y <= h) {
      const cx = Math.min(w - 1, Math.max(0, x)), cy = Math.min(h - 1, Math.max(0, y));
      return data[(cy * w + cx) * 3 + c];
    }
    return pad;
  }
  return data[(y * w + x) * 3 + c];
}

/** An oriented rectangle in image pixels: centre, size along its own axes, rotation (radians). */
export interface OrientedBox {
  cx: number;
  cy: number;
  w: number;
  h: number;
  angle: number;
}

/**
 * Like `sampleToTensor` for an oriented rectangle: output pixel (ox, oy) reads the image at the
 * rectangle point (u, v) = ((ox + 0.5) / outW - 0.5) * w, ((oy + 0.5) / outH - 0.5) * h),
 * rotated by `angle` about the centre, bilinearly; when shrinking, k x k samples per output
 * pixel are averaged (k = ceil of the shrink factor). Writes into the first `outW` columns of a
 * CHW tensor `intoW` wide (default outW) and returns it.
 */
export function sampleOrientedToTensor(
  img: RgbImage,
  r: OrientedBox,
  outW: number,
  outH: number,
  opts: { mean: [number, number, number]; std: [number, number, number]; order: "rgb" | "bgr"; pad?: number; into?: Float32Array; intoW?: number },
): Float32Array {
  const W = opts.intoW ?? outW;
  const plane = W * outH;
  const out = opts.into ?? new Float32Array(3 * plane);
  const pad = opts.pad ?? 0;
  const chan = opts.order === "bgr" ? [2, 1, 0] : [0, 1, 2];
  const scale = [0, 1, 2].map((c) => 1 / (255 * opts.std[c]));
  const bias = [0, 1, 2].map((c) => -opts.mean[c] / opts.std[c]);
  const cos = Math.cos(r.angle), sin = Math.sin(r.angle);
  const du = r.w / outW, dv = r.h / outH;
  const k = Math.max(1, Math.ceil(Math.max(du, dv) - 1e-6));
  const { width, height, data } = img;
  const rgb = [0, 0, 0];
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      rgb[0] = rgb[1] = rgb[2] = 0;
      for (let sy = 0; sy < k; sy++) {
        for (let sx = 0; sx < k; sx++) {
          const u = (ox + (sx + 0.5) / k) * du - r.w / 2;
          const v = (oy + (sy + 0.5) / k) * dv - r.h / 2;
          const fx = r.cx + u * cos - v * sin - 0.5;
          const fy = r.cy + u * sin + v * cos - 0.5;
          const x0 = Math.floor(fx), y0 = Math.floor(fy);
          const ax = fx - x0, ay = fy - y0;
          for (let c = 0; c < 3; c++) {
            const p00 = px(data, width, height, x0, y0, c, pad);
            const p10 = px(data, width, height, x0 + 1, y0, c, pad);
            const p01 = px(data, width, height, x0, y0 + 1, c, pad);
            const p11 = px(data, width, height, x0 + 1, y0 + 1, c, pad);
            rgb[c] += (p00 * (1 - ax) + p10 * ax) * (1 - ay) + (p01 * (1 - ax) + p11 * ax) * ay;
          }
        }
      }
      const o = oy * W + ox;
      const kk = k * k;
      for (let c = 0; c < 3; c++) out[c * plane + o] = (rgb[chan[c]] / kk) * scale[c] + bias[c];
    }
  }
  return out;
}

