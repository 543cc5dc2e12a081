/**
 * Plate rules: from detected text lines to licence-plate candidates, and from the text lines
 * inside one plate to its registration line. Pure geometry, no models.
 *
 * Facts used (US plates): the standard passenger plate is 12 x 6 inches (AAMVA / SAE J686,
 * aspect 2:1); the registration characters are about 2.5-3 inches tall, i.e. roughly half the
 * plate height, and span most of its width; state names, slogans, month/year stickers and
 * county names are printed in much smaller type above or below them. A registration can be
 * split into groups by a gap, a dash or a state emblem, all on one baseline with equal
 * character height.
 */
import type { Box } from "./image.ts";
import type { RotRect } from "./dbpost.ts";
import { rotRectBounds } from "./dbpost.ts";

/** Plate width / height of a US plate (12 in x 6 in). */
export const PLATE_ASPECT = 2;

/** The numbers the rules use, in one place (units: ratios of line height unless noted). */
export const PLATE_RULES = {
  /** Two line pieces are one row when their heights differ by less than this factor... */
  rowHeightRatio: 0.7,
  /** ...their centres are vertically closer than this x the taller height... */
  rowCentreDy: 0.45,
  /** ...and the horizontal gap between them is at most this x the taller height (emblem/dash gap). */
  rowGap: 1.3,
  /**
   * Smallest registration row considered, image pixels: below ~8 px of row height (characters
   * of ~6 px) no recogniser reads a plate; the smallest plate in the openalpr benchmark is 50 x 25.
   */
  minLineHeight: 8,
  /** Registration line aspect (width / height of the unclipped line box) accepted as a plate. */
  minAspect: 1.3,
  maxAspect: 9,
  /** Plate box height is at least this x the registration line height. */
  plateFromLineH: 1.1,
  /** Plate box width is at least this x the registration line width. */
  plateFromLineW: 1.02,
  /**
   * A registration row found in a plate box may reach this fraction of the box width past
   * either side (the frame detector can miss an edge character, ~12 % of a plate's width);
   * anything further out is text beside the plate and is cut off.
   */
  rowOverhang: 0.3,
  /** In a plate crop, a line shorter than this x the tallest line is small print (state, slogan, sticker). */
  smallPrint: 0.62,
  /**
   * In a frame, a line is the small print of a plate when a line at least 1 / smallPrint x
   * taller lies over or under it (its centre within the taller line's width, vertically within
   * this x the taller line's height): a state name, slogan or dealer frame text of that plate.
   */
  smallPrintDy: 1.3,
  /** Plate-likeness factor of a frame line that is the small print of a taller one. */
  smallPrintScore: 0.5,
  /**
   * Plate-likeness factor of a frame line with no small print over or under it. A plate's
   * registration has its state name or slogan printed there; other text rarely has: among the
   * frame candidates of the labelled photos (detector side 960), those on the plate had small
   * print found in 57 of 194 (US) and 92 of 121 (Brazil), the others in 17 of 330 and 11 of
   * 278. The factor is smallPrintScore's, not fitted: US photos 152 -> 153 of 178 exact (a
   * vanity plate read after a car badge before), Brazil 112 -> 112 of 114.
   */
  noSmallPrintScore: 0.5,
} as const;

/** A text line with its axis-parallel bounds (image pixels). */
export interface Line extends RotRect {
  /** Number of detector regions merged into this line. */
  parts: number;
}

/** Axis-parallel extent helpers. */
function bounds(r: RotRect): Box {
  return rotRectBounds(r);
}

/**
 * Union of two oriented rectangles in the frame of `a` (its angle), as an oriented rectangle.
 * Score is the area-weighted mean.
 */
export function unionRect(a: RotRect, b: RotRect): RotRect {
  const angle = a.w >= b.w ? a.angle : b.angle;
  const cos = Math.cos(angle), sin = Math.sin(angle);
  let umin = Infinity, umax = -Infinity, vmin = Infinity, vmax = -Infinity;
  for (const r of [a, b]) {
    const rc = Math.cos(r.angle), rs = Math.sin(r.angle);
    for (const [su, sv] of [[-1, -1], [1, -1], [1, 1], [-1, 1]]) {
      const x = r.cx + (su * r.w * rc) / 2 - (sv * r.h * rs) / 2;
      const y = r.cy + (su * r.w * rs) / 2 + (sv * r.h * rc) / 2;
      const u = x * cos + y * sin, v = -x * sin + y * cos;
      umin = Math.min(umin, u); umax = Math.max(umax, u);
      vmin = Math.min(vmin, v); vmax = Math.max(vmax, v);
    }
  }
  const uc = (umin + umax) / 2, vc = (vmin + vmax) / 2;
  const area = (r: RotRect) => r.w * r.h;
  return {
    cx: uc * cos - vc * sin,
    cy: uc * sin + vc * cos,
    w: umax - umin,
    h: vmax - vmin,
    angle,
    score: (a.score * area(a) + b.score * area(b)) / (area(a) + area(b)),
  };
}

/** True when `a` and `b` are pieces of one text row (same height, same baseline, small gap). */
export function sameRow(a: RotRect, b: RotRect, gapFactor: number = PLATE_RULES.rowGap): boolean {
  const hMax = Math.max(a.h, b.h), hMin = Math.min(a.h, b.h);
  if (hMin < PLATE_RULES.rowHeightRatio * hMax) return false;
  if (Math.abs(a.cy - b.cy) > PLATE_RULES.rowCentreDy * hMax) return false;
  const [ax, , aw] = bounds(a), [bx, , bw] = bounds(b);
  const gap = Math.max(ax, bx) - Math.min(ax + aw, bx + bw);
  return gap <= gapFactor * hMax;
}

/** Merges detector regions that belong to one text row (repeatedly, until stable). */
export function mergeRows(rects: RotRect[], gapFactor: number = PLATE_RULES.rowGap): Line[] {
  let lines: Line[] = rects.map((r) => ({ ...r, parts: 1 }));
  let changed = true;
  while (changed) {
    changed = false;
    outer: for (let i = 0; i < lines.length; i++) {
      for (let j = i + 1; j < lines.length; j++) {
        if (sameRow(lines[i], lines[j], gapFactor)) {
          const u = unionRect(lines[i], lines[j]);
          const merged: Line = { ...u, parts: lines[i].parts + lines[j].parts };
          lines = lines.filter((_, k) => k !== i && k !== j);
          lines.push(merged);
          changed = true;
          break outer;
        }
      }
    }
  }
  return lines;
}

/** A plate candidate found from one registration-like text line. */
export interface PlateCandidate {
  /** Estimated plate box, image pixels. */
  box: Box;
  /** The registration line it was derived from. */
  line: Line;
  /** Plate-likeness before reading, 0..1. */
  score: number;
}

/**
 * Prior from where a plate box lies in the frame: a box reaching past the frame edge is either
 * cut off (not readable as a whole) or an overlay in a corner (timestamps, camera names): 0.4;
 * otherwise 1.
 */
export function positionPrior(box: Box, width: number, height: number): number {
  const [x, y, w, h] = box;
  const out = x < -0.5 || y < -0.5 || x + w > width + 0.5 || y + h > height + 0.5;
  return out ? 0.4 : 1;
}

/**
 * Plate candidates from the text lines of a frame or vehicle region: rows are merged, lines
 * whose aspect or size cannot be a registration are dropped, and each remaining line gives a plate
 * box (plateBoxFromLine). The score is the detector's mean probability times an aspect prior
 * peaking at 5-7 characters, times positionPrior when the frame size is given, times
 * PLATE_RULES.smallPrintScore for a line that is small print of a taller one and
 * PLATE_RULES.noSmallPrintScore for a line with no small print over or under it. Best first.
 */
export function plateCandidates(rects: RotRect[], frame?: { width: number; height: number }): PlateCandidate[] {
  const lines = mergeRows(rects);
  const out: PlateCandidate[] = [];
  const small = (a: Line) => lines.some((b) => isSmallPrintOf(a, b));
  const hasSmallPrint = (b: Line) => lines.some((a) => isSmallPrintOf(a, b));
  for (const line of lines) {
    const aspect = line.w / line.h;
    if (aspect < PLATE_RULES.minAspect || aspect > PLATE_RULES.maxAspect) continue;
    if (line.h < PLATE_RULES.minLineHeight) continue;
    const box = plateBoxFromLine(line);
    // Aspect prior: 5-7 characters of a US plate give an unclipped line aspect of ~2.3-4.5.
    const prior = aspect < 2 ? 0.6 + 0.4 * ((aspect - PLATE_RULES.minAspect) / (2 - PLATE_RULES.minAspect))
      : aspect <= 5 ? 1 : Math.max(0.4, 1 - (aspect - 5) / 8);
    const pos = frame ? positionPrior(box, frame.width, frame.height) : 1;
    const printed = hasSmallPrint(line) ? 1 : PLATE_RULES.noSmallPrintScore;
    out.push({ box, line, score: line.score * prior * pos * printed * (small(line) ? PLATE_RULES.smallPrintScore : 1) });
  }
  out.sort((a, b) => b.score - a.score);
  return out;
}

/**
 * True when line `a` is small print of a plate whose registration is `b` (PLATE_RULES
 * smallPrint, smallPrintDy): `b` is much taller, and `a` lies over or under it on the plate.
 * US plates print the state name, slogans and county names in type about a third to a half
 * of the registration's height, above and below it (AAMVA plate standard).
 */
export function isSmallPrintOf(a: RotRect, b: RotRect): boolean {
  if (a === b || a.h > PLATE_RULES.smallPrint * b.h) return false;
  const [bx, , bw] = bounds(b);
  return a.cx >= bx && a.cx <= bx + bw && Math.abs(a.cy - b.cy) <= PLATE_RULES.smallPrintDy * b.h;
}

/**
 * Plate box around a registration line, in the convention of the openalpr benchmark labels:
 * 2:1, about as wide as the registration row (label width / detected row width: median 1.02
 * over the first 40 labelled photos) and centred on it; never smaller than the row's bounds.
 */
export function plateBoxFromLine(line: RotRect): Box {
  const [bx, by, bw, bh] = rotRectBounds(line);
  let w = Math.max(PLATE_RULES.plateFromLineW * line.w, PLATE_ASPECT * PLATE_RULES.plateFromLineH * line.h);
  let h = w / PLATE_ASPECT;
  w = Math.max(w, bw);
  h = Math.max(h, bh);
  const cx = bx + bw / 2, cy = by + bh / 2;
  return [cx - w / 2, cy - h / 2, w, h];
}

/**
 * The registration line among the text lines found around one plate box `plate`: only lines
 * whose centre lies inside the box count; the tallest one that is not small print, preferring
 * lines near the box's vertical centre, is merged with the other pieces of its row (a wider gap
 * is allowed inside a plate: emblems between groups); lines shorter than
 * PLATE_RULES.smallPrint x its height (state name, slogan, stickers) are ignored. The result is
 * clipped horizontally to the box widened by PLATE_RULES.rowOverhang each side, so text beside
 * the plate that the detector joined to the row is not read. Returns null when there is no line.
 */
export function registrationLine(rects: RotRect[], plate: Box): RotRect | null {
  const [px, py, pw, ph] = plate;
  const inside = rects.filter((r) => r.cx >= px && r.cx <= px + pw && r.cy >= py && r.cy <= py + ph);
  if (inside.length === 0) return null;
  const cy = py + ph / 2;
  const weight = (r: RotRect) => r.h * (1 - 0.5 * Math.min(1, Math.abs(r.cy - cy) / (ph / 2))) * Math.min(1, r.w / r.h / 1.5);
  const sorted = [...inside].sort((a, b) => weight(b) - weight(a));
  let main: RotRect = sorted[0];
  const pool = sorted.slice(1).filter((r) => r.h >= PLATE_RULES.smallPrint * main.h);
  let grown = true;
  while (grown) {
    grown = false;
    for (let i = 0; i < pool.length; i++) {
      if (sameRow(main, pool[i], 2.5)) {
        main = unionRect(main, pool[i]);
        pool.splice(i, 1);
        grown = true;
        break;
      }
    }
  }
  return clipRowToX(main, px - PLATE_RULES.rowOverhang * pw, px + (1 + PLATE_RULES.rowOverhang) * pw);
}

/** Shortens a (near-horizontal) line so its centre line stays within x0..x1. */
export function clipRowToX(r: RotRect, x0: number, x1: number): RotRect {
  const cos = Math.cos(r.angle);
  if (cos < 0.5) return r;
  const half = (r.w / 2) * cos;
  const left = Math.max(x0, r.cx - half), right = Math.min(x1, r.cx + half);
  if (right <= left || (left === r.cx - half && right === r.cx + half)) return r;
  const ncx = (left + right) / 2;
  const t = Math.tan(r.angle);
  return { ...r, cx: ncx, cy: r.cy + (ncx - r.cx) * t, w: (right - left) / cos };
}

/**
 * Growth of a registration line (the detector's rectangle, image pixels) to its plate's edges:
 * the plate is `width` x the line's width and as high as the plate's aspect gives (never lower
 * than `minHeight` x the line's height, so the characters fit). Measured on every 2nd Brazilian
 * and every 3rd US labelled photo (label box vs the line read): width ratio median 1.05 in both.
 * Where the plate's centre lies relative to the line is the region's (formats/*.toml
 * `plate_centre_above`); with these values the median IoU with the labelled box is 0.85 (br)
 * and 0.83 (us), against 0.66 and 0.80 for the 2:1 search window.
 */
export const PLATE_FROM_LINE = { width: 1.05, minHeight: 1.1 } as const;

/**
 * The plate's own bounding box (axis-parallel, image pixels) around its registration line:
 * the line's rectangle grown to the plate's edges (PLATE_FROM_LINE) with the plate's `aspect`
 * (width / height; null = PLATE_ASPECT, the US plate's), its centre `centreAbove` x the line's
 * height above the line's (0 when unknown), rotated with the line, then bounded.
 */
export function plateBoxAround(line: RotRect, aspect: number | null, centreAbove = 0): Box {
  const w = PLATE_FROM_LINE.width * line.w;
  const h = Math.max(w / (aspect ?? PLATE_ASPECT), PLATE_FROM_LINE.minHeight * line.h);
  const sin = Math.sin(line.angle), cos = Math.cos(line.angle);
  const cx = line.cx + centreAbove * line.h * sin, cy = line.cy - centreAbove * line.h * cos;
  const bw = w * Math.abs(cos) + h * Math.abs(sin), bh = w * Math.abs(sin) + h * Math.abs(cos);
  return [cx - bw / 2, cy - bh / 2, bw, bh];
}
