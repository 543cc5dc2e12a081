/**
 * The seed-001 ALPR task stages as functions: `vehicle_detect` (detectVehicles),
 * `plate_detect` (detectPlates), `ocr` (recognizePlate). Each takes a decoded RGB frame and
 * boxes in full-image pixels, runs its ONNX model(s) in this thread (see runtime.ts) and
 * returns plain JSON-able data. Model problems throw ModelLoadError naming the file.
 */
import { type Box, type RgbImage, clipBox, sampleToTensor, sampleOrientedToTensor } from "./image.ts";
import { dbPostProcess, type DbOptions, type RotRect } from "./dbpost.ts";
import { buildPlateClassMap, decodePlate, mixWithPlateHead, PLATE_HEAD_CLASSES, plateHeadClassMap, type PlateClassMap } from "./ctc.ts";
import { plateCandidates, registrationLine, type PlateCandidate } from "./plateRules.ts";
import { fullHeightGlyphs, glyphHeights } from "./glyphs.ts";
import { voteReadings, type Reading } from "./vote.ts";
import { plausibility } from "./plausibility.ts";
import { decodeYolox, yoloxInput, YOLOX_SIZE } from "./yolox.ts";
import { DEFAULT_DETECTOR_SIDE, detectorSide, getSession, ModelLoadError, modelPath, ort, plateFormats, plateHead, recognitionKeys, recognitionKeysPath, runExclusive, visionOptions } from "./runtime.ts";
import { fitFormats, NO_FORMAT_CONFIDENCE, type PlateFormat } from "./formats.ts";

/**
 * Longest side of the detector input for a frame or vehicle region by default (PaddleOCR
 * det_limit_side_len 960); VisionOptions.detectorSide ([alpr] detector_side) changes it.
 */
export const DET_LIMIT_SIDE = DEFAULT_DETECTOR_SIDE;
/** Largest enlargement of a small frame or vehicle region before text detection (small plates become legible). */
export const MAX_ZOOM = 2;
/**
 * PP-OCRv4 recogniser input height (PaddleOCR rec_image_shape 3,48,320) and minimum padded
 * width. PaddleOCR pads every line to at least 320; here a line is only rounded up to a
 * multiple of 8 (the recogniser's horizontal stride), which costs no measurable accuracy on
 * the benchmark and makes a typical plate row (~170 px at height 48) about 2x faster to read.
 */
export const REC_HEIGHT = 48;
/**
 * Horizontal stretch of a plate row before recognition. Plate fonts are condensed compared
 * with the text PP-OCR is trained on; widening the row helps the recogniser separate narrow
 * glyphs. Measured once over the 178 labelled photos, reading the labelled boxes: exact reads
 * 130 at 0.85, 136 at 1.0, 140 at 1.25, 139 at 1.35, 140 at 1.5 (no change on the crops set).
 */
export const REC_STRETCH = 1.3;
export const REC_MIN_WIDTH = 64;
/**
 * Horizontal margin added to a text line before recognition, as a fraction of its height
 * (half each side). The detector's line often ends right at the first or last glyph, and the
 * recogniser then drops that character. Measured on every 3rd item: crops 220 -> 224 of 251
 * exact at 0.3 (223 at 0.6), photos 44 -> 47 of 60.
 */
export const REC_PAD_X = 0.3;

/** PaddleOCR det normalisation (ImageNet mean/std on 0..1 values, BGR channel order). */
const DET_NORM = { mean: [0.485, 0.456, 0.406] as [number, number, number], std: [0.229, 0.224, 0.225] as [number, number, number], order: "bgr" as const };
/** PaddleOCR rec normalisation: (x / 255 - 0.5) / 0.5, BGR. */
const REC_NORM = { mean: [0.5, 0.5, 0.5] as [number, number, number], std: [0.5, 0.5, 0.5] as [number, number, number], order: "bgr" as const };

/** Per-stage wall time accumulator (ms), for the bench. */
export const stageTimes: Record<string, { ms: number; calls: number }> = {};
function timed<T>(name: string, p: Promise<T>): Promise<T> {
  const t0 = performance.now();
  return p.finally(() => {
    const s = (stageTimes[name] ??= { ms: 0, calls: 0 });
    s.ms += performance.now() - t0;
    s.calls++;
  });
}

/**
 * Vehicles (car, motorcycle, bus, truck) found by the configured YOLOX-nano model, best
 * first, boxes in image pixels. Returns [] when no vehicle model is configured.
 */
export async function detectVehicles(img: RgbImage): Promise<{ box: Box; score: number; cls: string }[]> {
  if (!modelPath("vehicle")) return [];
  assertImage(img);
  const session = await getSession("vehicle");
  return timed("vehicle_detect", runExclusive(async () => {
    const { data, ratio } = yoloxInput(img);
    const input = new ort.Tensor("float32", data, [1, 3, YOLOX_SIZE, YOLOX_SIZE]);
    const res = await session.run({ [session.inputNames[0]]: input });
    const out = res[session.outputNames[0]].data as Float32Array;
    return decodeYolox(out, ratio, img.width, img.height);
  }));
}

/**
 * Text lines (PP-OCRv4 det + DB post-processing) in `region` of the image, sampled at `scale`
 * detector pixels per image pixel (each side rounded to a multiple of 32, as PaddleOCR does).
 * Rectangles are returned in image pixels. The region may extend past the image: outside
 * pixels are mid grey.
 */
export async function detectTextLines(img: RgbImage, region: Box, scale: number, db: DbOptions = {}): Promise<RotRect[]> {
  const session = await getSession("det");
  const [rx, ry, rw, rh] = region;
  const W = Math.max(32, Math.round((rw * scale) / 32) * 32);
  const H = Math.max(32, Math.round((rh * scale) / 32) * 32);
  return runExclusive(async () => {
    const data = sampleToTensor(img, region, W, H, { ...DET_NORM, pad: 128 });
    const res = await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", data, [1, 3, H, W]) });
    const prob = res[session.outputNames[0]].data as Float32Array;
    const rects = dbPostProcess(prob, W, H, db);
    const sx = rw / W, sy = rh / H;
    return rects.map((r) => {
      const c = Math.cos(r.angle), s = Math.sin(r.angle);
      return {
        cx: rx + r.cx * sx,
        cy: ry + r.cy * sy,
        w: r.w * Math.hypot(sx * c, sy * s),
        h: r.h * Math.hypot(sx * s, sy * c),
        angle: Math.atan2(sy * s, sx * c),
        score: r.score,
      };
    });
  });
}

/**
 * Plate candidates with their registration lines (internal form of detectPlates): text
 * detection on `region` (default the whole image) scaled so its longer side is at most
 * the detector side (runtime.ts detectorSide(), default DET_LIMIT_SIDE; small regions are
 * enlarged up to MAX_ZOOM; measured: capping a vehicle
 * region at 640 px cost 5 plates of 60), then the plate rules of plateRules.ts.
 * Measured and not kept (every 3rd photo, 47 of 60 exact at 960): a frame limit of 800 px
 * (45, -20 % detector time), 1120 px (47); a coarse-to-fine search (whole frame at 640 px
 * with a permissive threshold, then only the areas around its hints at full scale; 2x
 * faster) lost 7 plates: the detector's lines change with the area's placement and small
 * plates give no hint at 640 px.
 */
export async function findPlateCandidates(img: RgbImage, region?: Box): Promise<PlateCandidate[]> {
  assertImage(img);
  const r = clipBox(region ?? [0, 0, img.width, img.height], img.width, img.height);
  if (r[2] < 8 || r[3] < 8) return [];
  const scale = Math.min(MAX_ZOOM, detectorSide() / Math.max(r[2], r[3]));
  const rects = await timed("plate_detect", detectTextLines(img, r, scale));
  return plateCandidates(rects, img);
}

/**
 * Licence-plate candidates in `region` (default the whole frame), boxes in full-image pixels,
 * best first; `score` is plate-likeness (0..1) before reading; `line` is the registration
 * line the candidate was derived from (oriented rectangle, image pixels), which the `ocr`
 * stage reads first (reader.ts readCandidates).
 */
export async function detectPlates(img: RgbImage, region?: Box): Promise<{ box: Box; score: number; line: RotRect }[]> {
  const cands = await findPlateCandidates(img, region);
  return cands.map((c) => ({ box: c.box, score: c.score, line: { cx: c.line.cx, cy: c.line.cy, w: c.line.w, h: c.line.h, angle: c.line.angle, score: c.line.score } }));
}

const PLATE_HEAD_MAP = plateHeadClassMap();
const classMaps = new Map<string, Promise<PlateClassMap>>();
/** The plate class map of the dictionary in effect (one per dictionary path). */
function plateClassMap(): Promise<PlateClassMap> {
  const path = recognitionKeysPath();
  let p = classMaps.get(path);
  if (!p) {
    p = recognitionKeys().then((k) => buildPlateClassMap(k, { letterOAsZero: true }));
    classMaps.set(path, p);
    p.catch(() => classMaps.delete(path));
  }
  return p;
}

/**
 * Reads the plate in `box` (image pixels). The box, widened by a context margin, is searched
 * for text lines at three detector scales (the box's height mapped to CROP_DET.boxHeights
 * detector pixels; the detector needs background around a line, and a single scale is
 * sensitive to sub-pixel placement); in each, the registration line is chosen by the plate
 * rules (small print such as state names and slogans ignored, split character groups merged,
 * text beside the box cut off) and read by PP-OCRv4 rec (height 48, aspect kept, right-padded
 * to REC_MIN_WIDTH as in PaddleOCR) with CTC greedy decoding restricted to A-Z and 0-9
 * (ctc.ts) and decorations removed (glyphs.ts); the readings are combined by vote.ts and
 * fitted to the plate formats of the configured region (formats.ts fitFormats).
 * Text is upper case without spaces; confidence is the mean character probability (0 and ""
 * when nothing is legible).
 */
export async function recognizePlate(img: RgbImage, box: Box): Promise<{ text: string; confidence: number }> {
  const r = await readPlateBox(img, box);
  return { text: r.text, confidence: r.confidence };
}

/**
 * Plate-crop text detection: context margin around the box (fraction of its w / h) and box
 * heights in detector pixels. Three scales instead of two (48, 72) measured on every 3rd item:
 * crops 226 -> 233 of 251, photos 47 -> 47 of 60 (40/56/72/96: 232 and 48; 48/64/80/96: 234
 * and 47); each scale costs one crop detection and one recognition (~55 ms) per refined plate.
 */
export const CROP_DET = {
  marginX: 0.25,
  marginY: 0.5,
  boxHeights: [48, 72, 96],
};

export interface PlateReading {
  text: string;
  confidence: number;
  charProbs: number[];
  /** The registration line read (image pixels), null when none was found. */
  line: RotRect | null;
  /** How many readings agreed on the length of the result. */
  support: number;
  /** The plate format of the region the text fits (formats.ts), null when none or no region set. */
  format?: PlateFormat | null;
  /** The voted reading before fitting to formats (vote.ts: text, per-character probabilities and distributions). */
  raw?: Reading;
}

/**
 * recognizePlate with details (internal). `extra` readings (e.g. of the frame detector's own
 * line for this plate) join the vote.
 */
export async function readPlateBox(img: RgbImage, box: Box, extra: Reading[] = []): Promise<PlateReading> {
  assertImage(img);
  const b = clipBox(box, img.width, img.height);
  if (b[2] < 4 || b[3] < 4) return { text: "", confidence: 0, line: null, charProbs: [], support: 0, format: null };
  const readings: (Reading & { line: RotRect })[] = [];
  for (const line of await registrationLines(img, b)) {
    const r = await timed("ocr", recognizeLine(img, line));
    readings.push({ ...r, line });
  }
  if (readings.length === 0 && extra.length === 0) {
    // No text region found: read the box itself (the registration fills most of a plate box).
    const line = { cx: b[0] + b[2] / 2, cy: b[1] + b[3] / 2, w: b[2], h: b[3], angle: 0, score: 0 };
    const r = await timed("ocr", recognizeLine(img, line));
    readings.push({ ...r, line });
  }
  // With a region, a length none of its formats has counts as a reading that fits no format.
  const formats = plateFormats();
  const v = voteReadings([...readings, ...extra], formats ? (n) => (formats.byLength.has(n) ? 1 : NO_FORMAT_CONFIDENCE) : undefined);
  const line = readings.find((r) => r.text === v.text)?.line ?? readings[0]?.line ?? null;
  const f = fitFormats(v, formats);
  return { text: f.text, confidence: f.confidence, charProbs: f.charProbs, line, support: v.support, format: f.format, raw: v };
}

/**
 * The registration lines found in plate box `b` (clipped to the image): the box widened by the
 * CROP_DET context margin is searched at each of CROP_DET.boxHeights, and each scale's text
 * lines give at most one registration line (plateRules.ts registrationLine). Image pixels.
 */
export async function registrationLines(img: RgbImage, b: Box): Promise<RotRect[]> {
  const mx = b[2] * CROP_DET.marginX, my = b[3] * CROP_DET.marginY;
  // Not clipped to the image: outside pixels read as mid grey, so a plate filling a crop
  // still has the background margin the detector needs.
  const x0 = Math.floor(b[0] - mx), y0 = Math.floor(b[1] - my);
  const crop: Box = [x0, y0, Math.ceil(b[0] + b[2] + mx) - x0, Math.ceil(b[1] + b[3] + my) - y0];
  const lines: RotRect[] = [];
  for (const boxH of CROP_DET.boxHeights) {
    const scale = Math.min(boxH / b[3], DET_LIMIT_SIDE / crop[2]);
    const rects = await timed("ocr_detect", detectTextLines(img, crop, scale, { boxThresh: 0.5 }));
    const line = registrationLine(rects, b);
    if (line) lines.push(line);
  }
  return lines;
}

export { plausibility };

/** One quick reading of a line found by the frame detector (the screening read of readPlates). */
export function screenLine(img: RgbImage, line: RotRect): Promise<{ text: string; confidence: number; charProbs: number[]; dists: Float32Array[] }> {
  return timed("ocr", recognizeLine(img, line));
}

/**
 * PP-OCRv4 recognition of one text line (oriented rectangle in image pixels), decoded with
 * the plate-restricted CTC (ctc.ts). With a plate head (runtime.ts plateHead(), the embedded
 * one by default) its reading of the recogniser's features is mixed with the recogniser's own
 * per CTC step (ctc.ts mixWithPlateHead) before decoding. Characters much shorter than the row's median character
 * (emblems, dots; glyphs.ts) are removed. The line is widened by REC_PAD_X x its height. `stretch` widens the row (REC_STRETCH). Voting over
 * two stretches (1.1 and 1.5) was measured and not kept: +1 to +6 plates of 178 (within the
 * run-to-run spread of sub-pixel placement), -1 of 151 crops, for twice the recognition time.
 * Also measured and not kept (every 3rd item): a contrast stretch of the row (2 %/98 %
 * quantiles to the full range; crops 226 -> 226, photos 47 -> 45); a third reading at stretch
 * 1.6 or 1.0 only when the readings of a plate disagree (crops 221 / 220, photos 46 / 47).
 */
export async function recognizeLine(img: RgbImage, line: RotRect, stretch = REC_STRETCH): Promise<{ text: string; confidence: number; charProbs: number[]; dists: Float32Array[] }> {
  const session = await getSession("rec");
  const cmap = await plateClassMap();
  const head = plateHead();
  const headSession = head ? await getSession("head") : null;
  return runExclusive(async () => {
    const { data, W, contentW } = recognizerInput(img, line, stretch);
    const res = await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", data, [1, 3, REC_HEIGHT, W]) });
    const out = res[session.outputNames[0]];
    const [, T, C] = out.dims as number[];
    if (C !== cmap.classes) {
      // `file` is the dictionary when one was configured (it is what usually has to change), else the model
      const rec = modelPath("rec") ?? "", dict = recognitionKeysPath();
      const file = visionOptions().recKeysPath ? dict : rec;
      throw new ModelLoadError(`recognition model ${rec} has ${C} classes but dictionary ${dict} gives ${cmap.classes} (blank + lines + space)`, file);
    }
    let dec;
    if (head && headSession) {
      // The plate head reads the recogniser's features; both opinions are mixed per step.
      const feats = res[session.outputNames[1]];
      const hp = (await headSession.run({ [headSession.inputNames[0]]: feats }))[headSession.outputNames[0]];
      if ((hp.dims as number[])[2] !== PLATE_HEAD_CLASSES) throw new ModelLoadError(`plate head ${head.path} has ${(hp.dims as number[])[2]} classes, expected ${PLATE_HEAD_CLASSES}`, head.path);
      const mixed = mixWithPlateHead(out.data as Float32Array, T, C, cmap, hp.data as Float32Array, head.mix);
      dec = decodePlate(mixed, T, PLATE_HEAD_CLASSES, PLATE_HEAD_MAP, { otherAsSeparator: true });
    } else dec = decodePlate(out.data as Float32Array, T, C, cmap, { otherAsSeparator: true });
    if (dec.text.length < 4) return dec;
    const stride = W / T;
    const centres = dec.spans.map(([a, b]) => ((a + b + 1) / 2) * stride);
    const gaps = centres.slice(1).map((c, i) => c - centres[i]).sort((a, b) => a - b);
    const pitch = gaps[Math.floor(gaps.length / 2)] ?? REC_HEIGHT / 2;
    const hs = glyphHeights(data, REC_HEIGHT, W, contentW, centres, Math.max(4, 0.4 * pitch));
    const keep = fullHeightGlyphs(hs, dec.charProbs);
    if (keep.every(Boolean)) return dec;
    const charProbs = dec.charProbs.filter((_, i) => keep[i]);
    return {
      text: [...dec.text].filter((_, i) => keep[i]).join(""),
      charProbs,
      dists: dec.dists.filter((_, i) => keep[i]),
      confidence: charProbs.length ? charProbs.reduce((a, b) => a + b, 0) / charProbs.length : 0,
    };
  });
}

/**
 * The recogniser's input for one text line (oriented rectangle, image pixels): the line widened
 * by REC_PAD_X x its height, stretched horizontally by `stretch`, sampled at REC_HEIGHT rows
 * (CHW, BGR, PaddleOCR rec normalisation) and zero-padded on the right to W, a multiple of 8 of
 * at least REC_MIN_WIDTH; `contentW` is the sampled width. Also used by the plate recogniser's
 * training tool (tools/plate-rec), so it sees exactly what the reader feeds the model.
 */
export function recognizerInput(img: RgbImage, line: RotRect, stretch = REC_STRETCH): { data: Float32Array; W: number; contentW: number } {
  line = { ...line, w: line.w + REC_PAD_X * line.h };
  const contentW = Math.max(8, Math.min(REC_HEIGHT * 25, Math.ceil((stretch * REC_HEIGHT * line.w) / Math.max(1, line.h))));
  const W = Math.max(REC_MIN_WIDTH, Math.ceil(contentW / 8) * 8);
  const data = new Float32Array(3 * REC_HEIGHT * W); // padding = 0 after normalisation (PaddleOCR)
  sampleOrientedToTensor(img, line, contentW, REC_HEIGHT, { ...REC_NORM, into: data, intoW: W });
  return { data, W, contentW };
}

function assertImage(img: RgbImage): void {
  if (!img || !(img.width > 0) || !(img.height > 0) || !img.data || img.data.length < img.width * img.height * 3)
    throw new RangeError(`not an RGB image: ${img?.width}x${img?.height}, ${img?.data?.length ?? 0} bytes`);
}
