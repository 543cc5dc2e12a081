/**
 * YOLOX-nano vehicle detection (Ge et al., "YOLOX: Exceeding YOLO Series in 2021"; model from
 * Megvii YOLOX via Kazuhito00/YOLOX-ONNX-TFLite-Sample, Apache-2.0). Format, per
 * ../shared/README.md: input `images` [1,3,416,416] BGR 0..255, the image letterboxed into the
 * top-left corner (aspect kept) on grey 114; output `output` [1,3549,85] with rows
 * [x, y, w, h, objectness, 80 COCO class scores] over grids of strides 8, 16, 32, decoded as
 * centre = (o + grid) * stride, size = exp(o) * stride; objectness and class scores are
 * already sigmoid. Vehicles are COCO classes car=2, motorcycle=3, bus=5, truck=7 (0-based).
 */
import { type Box, type RgbImage, iou, sampleToTensor } from "./image.ts";

export const YOLOX_SIZE = 416;
export const YOLOX_STRIDES = [8, 16, 32];
/** COCO class index -> vehicle class name. */
export const VEHICLE_CLASSES: Record<number, string> = { 2: "car", 3: "motorcycle", 5: "bus", 7: "truck" };

/** Letterboxed input tensor and the scale r (input pixels per image pixel). */
export function yoloxInput(img: RgbImage): { data: Float32Array; ratio: number } {
  const S = YOLOX_SIZE;
  const ratio = Math.min(S / img.width, S / img.height);
  const w = Math.max(1, Math.round(img.width * ratio));
  const h = Math.max(1, Math.round(img.height * ratio));
  const data = new Float32Array(3 * S * S).fill(114);
  sampleToTensor(img, [0, 0, img.width, img.height], w, h, {
    mean: [0, 0, 0],
    std: [1 / 255, 1 / 255, 1 / 255],
    order: "bgr",
    into: data,
    intoW: S,
    intoH: S,
  });
  return { data, ratio };
}

export interface Detection {
  box: Box;
  score: number;
  cls: string;
}

/**
 * Decodes the raw [N, 85] output into vehicle boxes in image pixels (clipped to the image),
 * keeping score = objectness x class score >= `minScore` (default 0.3), then class-agnostic
 * greedy NMS at IoU `nmsIou` (default 0.45, the YOLOX demo value), best first.
 */
export function decodeYolox(
  out: Float32Array,
  ratio: number,
  imgW: number,
  imgH: number,
  opts: { minScore?: number; nmsIou?: number } = {},
): Detection[] {
  const minScore = opts.minScore ?? 0.3;
  const S = YOLOX_SIZE;
  const K = 85;
  const dets: Detection[] = [];
  let row = 0;
  for (const stride of YOLOX_STRIDES) {
    const g = S / stride;
    for (let gy = 0; gy < g; gy++) {
      for (let gx = 0; gx < g; gx++, row++) {
        const o = row * K;
        if (o + K > out.length) throw new RangeError(`YOLOX output too short: ${out.length} values`);
        const obj = out[o + 4];
        if (obj < minScore) continue;
        let best = -1, bestS = 0;
        for (const c of [2, 3, 5, 7]) {
          const s = obj * out[o + 5 + c];
          if (s > bestS) {
            bestS = s;
            best = c;
          }
        }
        if (best < 0 || bestS < minScore) continue;
        const cx = (out[o] + gx) * stride, cy = (out[o + 1] + gy) * stride;
        const w = Math.exp(out[o + 2]) * stride, h = Math.exp(out[o + 3]) * stride;
        const x0 = Math.max(0, (cx - w / 2) / ratio), y0 = Math.max(0, (cy - h / 2) / ratio);
        const x1 = Math.min(imgW, (cx + w / 2) / ratio), y1 = Math.min(imgH, (cy + h / 2) / ratio);
        if (x1 <= x0 || y1 <= y0) continue;
        dets.push({ box: [x0, y0, x1 - x0, y1 - y0], score: bestS, cls: VEHICLE_CLASSES[best] });
      }
    }
  }
  return nms(dets, opts.nmsIou ?? 0.45);
}

/** Greedy non-maximum suppression: best first, drop any box with IoU > `thr` with a kept one. */
export function nms<T extends { box: Box; score: number }>(items: T[], thr: number): T[] {
  const sorted = [...items].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const d of sorted) if (kept.every((k) => iou(k.box, d.box) <= thr)) kept.push(d);
  return kept;
}
