/**
 * The whole licence-plate reader in this thread: vehicles (optional) -> plate candidates ->
 * recognition -> ranking. `readPlates` is what `dashcam alpr` and the bench run; the pipeline
 * (src/vision/pipeline) calls the same stages one task at a time.
 */
import { type Box, type RgbImage, iou } from "./image.ts";
import { detectVehicles, findPlateCandidates, readPlateBox } from "./stages.ts";
import type { PlateCandidate } from "./plateRules.ts";

export { configureVision, ModelLoadError, type VisionOptions } from "./runtime.ts";

/** One plate read: text (A-Z 0-9), confidence 0..1, plate box and the vehicle it was found on. */
export interface PlateRead {
  text: string;
  confidence: number;
  box: Box;
  vehicleBox: Box | null;
}

/** How many plate candidates per frame are read (best plate-likeness first). */
export const MAX_READS_PER_FRAME = 5;
/** At most this many vehicles (best first) are searched for plates. */
export const MAX_VEHICLES = 6;

/**
 * Prior on the length of a US registration: most are 5-7 characters, the legal range is about
 * 2-8 (vanity plates); anything else is more likely a sign, a slogan or a misread.
 */
export function lengthPrior(n: number): number {
  if (n >= 5 && n <= 7) return 1;
  if (n === 4 || n === 8) return 0.8;
  if (n === 3) return 0.5;
  if (n === 2) return 0.3;
  return 0.1;
}

/**
 * Reads the licence plates of one frame, best first. With a vehicle model configured, each
 * detected vehicle's box is searched (the whole frame when none is found); otherwise the whole
 * frame. Reads whose text is shorter than 2 characters are dropped, as are candidates
 * overlapping a better one (IoU > 0.3). Ranking = recognition confidence x length prior x
 * (0.5 + 0.5 x plate-likeness).
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
  const reads: (PlateRead & { rank: number })[] = [];
  for (const c of picked) {
    const r = await readPlateBox(img, c.box);
    if (r.text.length < 2) continue;
    reads.push({
      text: r.text,
      confidence: r.confidence,
      box: c.box,
      vehicleBox: c.vehicleBox,
      rank: r.confidence * lengthPrior(r.text.length) * (0.5 + 0.5 * c.score),
    });
  }
  reads.sort((a, b) => b.rank - a.rank);
  const out: PlateRead[] = [];
  for (const r of reads) {
    if (out.some((o) => iou(o.box, r.box) > 0.3)) continue;
    out.push({ text: r.text, confidence: round(r.confidence), box: r.box.map(Math.round) as Box, vehicleBox: r.vehicleBox ? (r.vehicleBox.map(Math.round) as Box) : null });
  }
  return out;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
