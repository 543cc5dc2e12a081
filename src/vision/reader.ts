/**
 * The whole licence-plate reader in this thread: vehicles (optional) -> plate candidates ->
 * recognition -> ranking. `readPlates` is what `dashcam alpr` and the bench run; the pipeline
 * (src/vision/pipeline) calls the same stages one task at a time.
 */
import { type Box, type RgbImage, iou } from "./image.ts";
import { detectVehicles, findPlateCandidates, plausibility, readPlateBox, screenLine } from "./stages.ts";
import { positionPrior, type PlateCandidate } from "./plateRules.ts";

export { positionPrior };

export { configureVision, ModelLoadError, type VisionOptions } from "./runtime.ts";

/** One plate read: text (A-Z 0-9), confidence 0..1, plate box and the vehicle it was found on. */
export interface PlateRead {
  text: string;
  confidence: number;
  box: Box;
  vehicleBox: Box | null;
}

/** How many plate candidates per frame get a first (screening) reading. */
export const MAX_READS_PER_FRAME = 3;
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

/**
 * Reads the licence plates of one frame, best first. With a vehicle model configured, each
 * detected vehicle's box is searched (the whole frame when none is found); otherwise the whole
 * frame. The MAX_READS_PER_FRAME most plate-like candidates (not overlapping a better one,
 * IoU <= 0.3) are read once from the frame detector's own line; the best ones (up to
 * MAX_REFINED_PER_FRAME, ranked at least 0.7 x the best) are then read closely by readPlateBox with
 * the first reading joining the vote. Reads shorter than 2 characters are dropped.
 * Rank = recognition confidence x textPrior x positionPrior x (0.5 + 0.5 x plate-likeness).
 * Measured and not kept: skipping the close reading when the screening read is confident
 * (mean >= 0.9, 5-7 characters) saves ~60 ms per 1280x720 frame but cost 1 of 60 photos.
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
  cands.sort((a, b) => b.score - a.score);
  const picked: typeof cands = [];
  for (const c of cands) {
    if (picked.length >= MAX_READS_PER_FRAME) break;
    if (picked.every((p) => iou(p.box, c.box) <= 0.3)) picked.push(c);
  }
  const rankOf = (text: string, confidence: number, c: PlateCandidate) =>
    confidence * textPrior(text) * positionPrior(c.box, img.width, img.height) * (0.5 + 0.5 * c.score);
  const reads = [];
  for (const c of picked) {
    const r = await screenLine(img, c.line);
    reads.push({ cand: c, text: r.text, confidence: r.confidence, charProbs: r.charProbs, dists: r.dists, rank: rankOf(r.text, r.confidence, c) });
  }
  reads.sort((a, b) => b.rank - a.rank);
  const bestRank = reads[0]?.rank ?? 0;
  for (const r of reads.slice(0, MAX_REFINED_PER_FRAME)) {
    if (r.rank < 0.7 * bestRank) continue;
    const close = await readPlateBox(img, r.cand.box, r.text ? [{ text: r.text, charProbs: r.charProbs, dists: r.dists }] : []);
    r.text = close.text;
    r.confidence = close.confidence;
    r.rank = rankOf(close.text, close.confidence, r.cand);
  }
  reads.sort((a, b) => b.rank - a.rank);
  const out: PlateRead[] = [];
  for (const r of reads) {
    if (r.text.length < 2) continue;
    out.push({
      text: r.text,
      confidence: round(r.confidence),
      box: r.cand.box.map(Math.round) as Box,
      vehicleBox: r.cand.vehicleBox ? (r.cand.vehicleBox.map(Math.round) as Box) : null,
    });
  }
  return out;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
