/**
 * The whole licence-plate reader in this thread: vehicles (optional) -> plate candidates ->
 * recognition -> ranking. `readPlates` is what `dashcam alpr` and the bench run; the pipeline
 * (src/alpr) calls the same stages one task at a time.
 */
import { type Box, type RgbImage, iou } from "./image.ts";
import { detectVehicles, findPlateCandidates, plausibility, readPlateBox, screenLine } from "./stages.ts";
import { plateBoxAround, positionPrior, type PlateCandidate } from "./plateRules.ts";
import type { RotRect } from "./dbpost.ts";
import { fitFormats, plateShape, type PlateFormat, type PlateShape } from "./formats.ts";
import { plateFormats } from "./runtime.ts";
import type { Reading } from "./vote.ts";

export { positionPrior };

export { configureVision, ModelLoadError, type VisionOptions } from "./runtime.ts";

/**
 * One plate read: text (A-Z 0-9), confidence 0..1, the plate's own bounding box (image pixels,
 * RankedRead.plateBox) and the vehicle it was found on.
 */
export interface PlateRead {
  text: string;
  confidence: number;
  box: Box;
  vehicleBox: Box | null;
}

/**
 * How many plate candidates per frame get a first (screening) reading. 4 instead of 3 measured
 * on every labelled photo: US 151 -> 152 of 178 exact (a plate ranked fourth by plate-likeness
 * behind three lines of a sign), Brazil 112 of 114 unchanged; one more screening read (one
 * recognition, no detection) on frames with four or more candidates.
 */
export const MAX_READS_PER_FRAME = 4;
/** How many of the best screened candidates are read again closely (readPlateBox) and voted. */
export const MAX_REFINED_PER_FRAME = 2;
/** At most this many vehicles (best first) are searched for plates. */
export const MAX_VEHICLES = 6;

/**
 * Prior that a read is a registration rather than other text (dealer frame, badge, sign,
 * fleet number, on-screen timestamp), from its characters alone:
 * - length: most US registrations are 5-7 characters, 2-8 are issued (plausibility());
 * - mix: standard-issue serials mix letters and digits; letters-only strings are vanity plates
 *   or, far more often, words (dealer names, badges, state names), digits-only strings are
 *   some plates but also fleet/phone numbers and timestamps. In the openalpr benchmark ground
 *   truth, 176 of 178 photo labels contain a digit and 172 a letter.
 */
export function textPrior(text: string): number {
  // 0 does not count as a digit here: it also stands for the letter O (ctc.ts, letterOAsZero).
  const digits = /[1-9]/.test(text), letters = /[A-Z]/.test(text);
  const mix = digits && letters ? 1 : digits ? 0.75 : 0.6;
  return plausibility(text) * mix;
}

/** A plate candidate as plate_detect reports it: plate box, plate-likeness, and the text line it came from. */
export interface CandidateInput {
  /** Estimated plate box, image pixels. */
  box: Box;
  /** Plate-likeness before reading, 0..1. */
  score: number;
  /** The registration line found by the frame/region detector (image pixels); null = none known. */
  line: RotRect | null;
}

/** One read of a candidate, with the rank readPlates orders by. */
export interface RankedRead {
  text: string;
  confidence: number;
  /** The candidate's search box (plateRules.ts plateBoxFromLine), as given. */
  box: Box;
  score: number;
  rank: number;
  /** The registration line the text was read from (image pixels), null when none was found. */
  line: RotRect | null;
  /** The plate's own bounding box (plateRules.ts plateBoxAround), image pixels. */
  plateBox: Box;
  /** The reading before fitting to the region's formats (text, per-character probabilities and distributions). */
  raw: Reading | null;
}

/**
 * The candidates that get read: the MAX_READS_PER_FRAME most plate-like ones that do not
 * overlap a better one (IoU <= 0.3). Input order does not matter; best first.
 */
export function pickCandidates<C extends { box: Box; score: number }>(cands: readonly C[]): C[] {
  const sorted = [...cands].sort((a, b) => b.score - a.score);
  const picked: C[] = [];
  for (const c of sorted) {
    if (picked.length >= MAX_READS_PER_FRAME) break;
    if (picked.every((p) => iou(p.box, c.box) <= 0.3)) picked.push(c);
  }
  return picked;
}

/**
 * Rank of a read among the reads of a frame: recognition confidence x textPrior x
 * positionPrior (when the frame size is known) x (0.5 + 0.5 x plate-likeness of the candidate).
 */
export function readRank(text: string, confidence: number, box: Box, score: number, width: number | null, height: number | null): number {
  const pos = width && height ? positionPrior(box, width, height) : 1;
  return confidence * textPrior(text) * pos * (0.5 + 0.5 * score);
}

/**
 * Reads picked plate candidates of one frame (the `ocr` stage of the pipeline and the second half
 * of readPlates): each candidate's detector line is read once (screening); the best reads (up to
 * MAX_REFINED_PER_FRAME, ranked at least 0.7 x the best) are then read closely by readPlateBox,
 * with the screening reading joining the vote. A candidate without a line is read closely at once.
 * Returns every read (text may be empty), best rank first.
 */
export async function readCandidates(img: RgbImage, cands: readonly CandidateInput[]): Promise<RankedRead[]> {
  const rankOf = (text: string, confidence: number, c: CandidateInput) => readRank(text, confidence, c.box, c.score, img.width, img.height);
  const reads: { cand: CandidateInput; text: string; confidence: number; raw: Reading | null; rank: number; refine: boolean; line: RotRect | null; format: PlateFormat | null }[] = [];
  for (const c of cands) {
    if (!c.line) {
      reads.push({ cand: c, text: "", confidence: 0, raw: null, rank: 0, refine: true, line: null, format: null });
      continue;
    }
    const r = await screenLine(img, c.line);
    // Ranked as fitted to the region's formats; the raw reading joins the close reading's vote.
    const f = fitFormats(r, plateFormats());
    reads.push({ cand: c, text: f.text, confidence: f.confidence, raw: r, rank: rankOf(f.text, f.confidence, c), refine: false, line: c.line, format: f.format });
  }
  reads.sort((a, b) => b.rank - a.rank);
  const bestRank = reads[0]?.rank ?? 0;
  reads.forEach((r, i) => (r.refine ||= i < MAX_REFINED_PER_FRAME && r.rank >= 0.7 * bestRank));
  for (const r of reads) {
    if (!r.refine) continue;
    const close = await readPlateBox(img, r.cand.box, r.raw?.text ? [r.raw] : []);
    r.text = close.text;
    r.confidence = close.confidence;
    r.line = close.line ?? r.line;
    r.raw = close.raw ?? null;
    r.format = close.format ?? null;
    r.rank = rankOf(close.text, close.confidence, r.cand);
  }
  reads.sort((a, b) => b.rank - a.rank);
  return reads.map((r) => ({
    text: r.text,
    confidence: r.confidence,
    box: r.cand.box,
    score: r.cand.score,
    rank: r.rank,
    line: r.line,
    raw: r.raw,
    plateBox: r.line ? plateBoxOf(r.line, plateShape(r.format, plateFormats())) : r.cand.box,
  }));
}

/**
 * Reads the licence plates of one frame, best first. With a vehicle model configured, each
 * detected vehicle's box is searched (the whole frame when none is found); otherwise the whole
 * frame. The candidates of all regions are pooled, picked (pickCandidates) and read
 * (readCandidates). Reads shorter than 2 characters are dropped.
 * Measured and not kept: skipping the close reading when the screening read is confident
 * (mean >= 0.9, 5-7 characters) saves ~90 ms per 1280x720 frame but cost 9 of 178 photos;
 * refining only the best read per frame saved ~13 ms at equal accuracy on the photos (one
 * plate each) and is not worth the risk on frames with several plates; a second search of the
 * frame at 5/3 x the detector side when no read ranks 0.5 or more (7 of the 178 US photos, none
 * of the Brazilian ones) found 3 of the 4 plates the first search missed (28-42 px high) but
 * read each of them one character off (exact 152 of 178 unchanged), for ~2.5 x the detector's
 * time on every such frame (on the road: every frame without a legible plate).
 */
export async function readPlates(img: RgbImage): Promise<PlateRead[]> {
  const vehicles = (await detectVehicles(img)).slice(0, MAX_VEHICLES);
  const regions: { region: Box | undefined; vehicleBox: Box | null }[] = vehicles.length
    ? vehicles.map((v) => ({ region: v.box, vehicleBox: v.box }))
    : [{ region: undefined, vehicleBox: null }];
  const cands: (PlateCandidate & { vehicleBox: Box | null })[] = [];
  for (const { region, vehicleBox } of regions) {
    for (const c of await findPlateCandidates(img, region)) cands.push({ ...c, vehicleBox });
  }
  const picked = pickCandidates(cands);
  const reads = await readCandidates(img, picked);
  const out: PlateRead[] = [];
  for (const r of reads) {
    if (r.text.length < 2) continue;
    const vehicleBox = picked.find((c) => c.box === r.box)?.vehicleBox ?? null;
    out.push({
      text: r.text,
      confidence: round(r.confidence),
      box: r.plateBox.map(Math.round) as Box,
      vehicleBox: vehicleBox ? (vehicleBox.map(Math.round) as Box) : null,
    });
  }
  return out;
}

const plateBoxOf = (line: RotRect, s: PlateShape) => plateBoxAround(line, s.aspect, s.centreAbove);

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
