/**
 * DB (Differentiable Binarization) post-processing for the PP-OCR text detector.
 *
 * Source: Liao et al., "Real-time Scene Text Detection with Differentiable Binarization"
 * (AAAI 2020) and PaddleOCR's `DBPostProcess` (ppocr/postprocess/db_postprocess.py), whose
 * defaults are used: binarisation threshold 0.3, box score threshold 0.6, unclip ratio 1.5,
 * minimum box side 3 px. The detector predicts a *shrunk* text kernel; each connected region
 * of the binarised map is a text instance, and it is grown back ("unclipped") by an offset
 * D = A * r / L (A area, L perimeter, r unclip ratio; Vatti clipping offset in the paper).
 *
 * Differences from PaddleOCR, stated: regions are 8-connected pixel components (not OpenCV
 * contours); the rectangle is fitted from the component's second moments (principal axis)
 * instead of `cv2.minAreaRect`; the score is the mean probability over the component's
 * pixels (PaddleOCR's "fast" score averages over the rectangle); a rectangle is unclipped by
 * offsetting each side by D (exact for an axis-parallel rectangle).
 */

/** An oriented rectangle: centre, size along its own axes, rotation (radians, +x towards +y). */
export interface RotRect {
  cx: number;
  cy: number;
  w: number;
  h: number;
  angle: number;
  /** Mean detector probability over the region (0..1). */
  score: number;
}

export interface DbOptions {
  /** Probability above which a pixel is text (PaddleOCR det_db_thresh, 0.3). */
  thresh?: number;
  /** Minimum mean probability of a region (det_db_box_thresh, 0.6). */
  boxThresh?: number;
  /** Unclip ratio r (det_db_unclip_ratio, 1.5). */
  unclipRatio?: number;
  /** Minimum short side in map pixels (min_size, 3). */
  minSize?: number;
  /** Largest |angle| kept; steeper regions are treated as axis-parallel (radians, default 30 deg). */
  maxAngle?: number;
  /** At most this many regions (max_candidates, 1000). */
  maxCandidates?: number;
}

/**
 * Text regions of a probability map `prob` (row-major, `width` x `height`, values 0..1) as
 * unclipped oriented rectangles in map pixel coordinates, largest first.
 */
export function dbPostProcess(prob: ArrayLike<number>, width: number, height: number, opts: DbOptions = {}): RotRect[] {
  const thresh = opts.thresh ?? 0.3;
  const boxThresh = opts.boxThresh ?? 0.6;
  const ratio = opts.unclipRatio ?? 1.5;
  const minSize = opts.minSize ?? 3;
  const maxAngle = opts.maxAngle ?? (30 * Math.PI) / 180;
  const maxCandidates = opts.maxCandidates ?? 1000;
  const n = width * height;
  if (prob.length < n) throw new RangeError(`probability map has ${prob.length} values, expected ${width}x${height}`);
  const label = new Uint8Array(n); // 0 = background or unvisited, 1 = visited text
  const queue = new Int32Array(n);
  const rects: RotRect[] = [];
  for (let start = 0; start < n; start++) {
    if (label[start] || !(prob[start] > thresh)) continue;
    // Breadth-first flood fill; the component's pixels end up in queue[0..len).
    let head = 0;
    let len = 0;
    queue[len++] = start;
    label[start] = 1;
    while (head < len) {
      const p = queue[head++];
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width || (dx === 0 && dy === 0)) continue;
          const q = yy * width + xx;
          if (!label[q] && prob[q] > thresh) {
            label[q] = 1;
            queue[len++] = q;
          }
        }
      }
    }
    const rect = fitRect(queue, len, width, prob, maxAngle);
    if (Math.min(rect.w, rect.h) < minSize) continue;
    if (rect.score < boxThresh) continue;
    const d = (rect.w * rect.h * ratio) / (2 * (rect.w + rect.h));
    rect.w += 2 * d;
    rect.h += 2 * d;
    if (Math.min(rect.w, rect.h) < minSize + 2) continue;
    rects.push(rect);
  }
  rects.sort((a, b) => b.w * b.h - a.w * a.h);
  return rects.slice(0, maxCandidates);
}

/** Oriented rectangle around pixels `idx[0..len)` from their principal axis (second moments). */
function fitRect(idx: Int32Array, len: number, width: number, prob: ArrayLike<number>, maxAngle: number): RotRect {
  let sx = 0, sy = 0, sp = 0;
  for (let i = 0; i < len; i++) {
    const p = idx[i];
    const x = p % width;
    sx += x;
    sy += (p - x) / width;
    sp += prob[p];
  }
  const mx = sx / len, my = sy / len;
  let cxx = 0, cyy = 0, cxy = 0;
  for (let i = 0; i < len; i++) {
    const p = idx[i];
    const x = p % width;
    const dx = x - mx, dy = (p - x) / width - my;
    cxx += dx * dx;
    cyy += dy * dy;
    cxy += dx * dy;
  }
  let angle = 0.5 * Math.atan2(2 * cxy, cxx - cyy);
  // Elongated along y, or too steep for a text line: fit axis-parallel.
  if (Math.abs(angle) > maxAngle || cxx < cyy) angle = 0;
  const cos = Math.cos(angle), sin = Math.sin(angle);
  let umin = Infinity, umax = -Infinity, vmin = Infinity, vmax = -Infinity;
  for (let i = 0; i < len; i++) {
    const p = idx[i];
    const x = p % width;
    const dx = x - mx, dy = (p - x) / width - my;
    const u = dx * cos + dy * sin;
    const v = -dx * sin + dy * cos;
    if (u < umin) umin = u;
    if (u > umax) umax = u;
    if (v < vmin) vmin = v;
    if (v > vmax) vmax = v;
  }
  const uc = (umin + umax) / 2, vc = (vmin + vmax) / 2;
  return {
    // +0.5: pixel (x, y) covers [x, x+1) x [y, y+1).
    cx: mx + uc * cos - vc * sin + 0.5,
    cy: my + uc * sin + vc * cos + 0.5,
    w: umax - umin + 1,
    h: vmax - vmin + 1,
    angle,
    score: sp / len,
  };
}

/** Axis-parallel bounding box `[x, y, w, h]` of an oriented rectangle. */
export function rotRectBounds(r: RotRect): [number, number, number, number] {
  const cos = Math.abs(Math.cos(r.angle)), sin = Math.abs(Math.sin(r.angle));
  const bw = r.w * cos + r.h * sin;
  const bh = r.w * sin + r.h * cos;
  return [r.cx - bw / 2, r.cy - bh / 2, bw, bh];
}
