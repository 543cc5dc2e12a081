/**
 * Classes of ALPR misses, for the bench's miss table: why the first plate read of a labelled
 * photo (or crop) is not its label. Pure functions over the label and the reads; the class is
 * decided in this order:
 *
 * - `detection`: no read lies on the labelled plate (plate not found or not among the reads);
 * - `other text first`: a read on the plate exists, but text elsewhere (a sign, a dealer frame,
 *   another car's plate, a timestamp) was ranked first;
 * - `look-alike O/0 I/1`: the first read equals the label with O/0 and I/1 folded;
 * - `dropped edge char`: the label without its first or last character(s) (up to 2 in all);
 * - `extra edge char`: the read has up to 2 characters more at its ends (an emblem, a frame);
 * - `look-alike other`: same length, every differing position a known letter/digit or
 *   letter/letter look-alike (B/8, D/0, G/6, Z/2, S/5, Q/0, U/0, ...);
 * - `wrong line`: the read shares less than half of its characters (in order) with the label:
 *   the state name, a slogan or a sticker was read instead of the registration;
 * - `other misread`: everything else (a middle character dropped, added or misread).
 *
 * A read lies "on the plate" when its box overlaps the labelled box by IoU >= 0.3 or its
 * centre is inside the labelled box (labels are drawn loosely).
 */
import { iou, type Box } from "../src/vision/image.ts";

export const MISS_CLASSES = [
  "detection",
  "other text first",
  "look-alike O/0 I/1",
  "dropped edge char",
  "extra edge char",
  "look-alike other",
  "wrong line",
  "other misread",
] as const;
export type MissClass = (typeof MISS_CLASSES)[number];

const fold = (s: string) => s.replace(/O/g, "0").replace(/I/g, "1");

/** Look-alike pairs on plates (either direction), beyond O/0 and I/1. */
const LOOK_ALIKE_PAIRS = new Set(
  ["B8", "D0", "G6", "Z2", "S5", "Q0", "U0", "A4", "T7", "DO", "QO", "UO", "G0", "GO", "C0", "CO", "B3", "E8", "F7", "HM", "MN", "NH", "VY", "KX", "LI", "L1", "J1", "JI", "T1", "TI", "Z7", "Y1", "8S", "6S", "V4", "WV"].flatMap((p) => [p, p[1] + p[0]]),
);

/** Length of the longest common subsequence of a and b. */
export function lcs(a: string, b: string): number {
  const dp = new Array(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    let prev = 0;
    for (let j = 1; j <= b.length; j++) {
      const cur = dp[j];
      dp[j] = a[i - 1] === b[j - 1] ? prev + 1 : Math.max(dp[j], dp[j - 1]);
      prev = cur;
    }
  }
  return dp[b.length];
}

/** True when `short` is `long` with up to `n` characters removed from its two ends. */
function trimmedEnds(long: string, short: string, n = 2): boolean {
  const d = long.length - short.length;
  if (d < 1 || d > n || short.length === 0) return false;
  for (let left = 0; left <= d; left++) if (long.slice(left, left + short.length) === short) return true;
  return false;
}

/** The class of a text miss (the first read lies on the plate), comparing read and label. */
export function textMissClass(label: string, read: string): Exclude<MissClass, "detection" | "other text first"> {
  const fl = fold(label), fr = fold(read);
  if (fl === fr) return "look-alike O/0 I/1";
  if (trimmedEnds(fl, fr)) return "dropped edge char";
  if (trimmedEnds(fr, fl)) return "extra edge char";
  if (fl.length === fr.length && [...fl].every((c, i) => c === fr[i] || LOOK_ALIKE_PAIRS.has(c + fr[i]))) return "look-alike other";
  if (lcs(fl, fr) < Math.max(fl.length, fr.length) / 2) return "wrong line";
  return "other misread";
}

/** True when a read's box lies on the labelled plate box (see the module comment). */
export function onPlate(box: Box, label: Box): boolean {
  const cx = box[0] + box[2] / 2, cy = box[1] + box[3] / 2;
  return iou(box, label) >= 0.3 || (cx >= label[0] && cx <= label[0] + label[2] && cy >= label[1] && cy <= label[1] + label[3]);
}

/** The class of a photo miss: `reads` best first (text, plate box), `label` text and box. */
export function photoMissClass(label: string, labelBox: Box, reads: readonly { text: string; box: Box }[]): MissClass {
  const first = reads[0];
  if (!reads.some((r) => onPlate(r.box, labelBox))) return "detection";
  if (!onPlate(first.box, labelBox)) return "other text first";
  return textMissClass(label, first.text);
}

/** Counts per class, in MISS_CLASSES order, as table lines ("  class  n"). */
export function missTable(classes: MissClass[]): string[] {
  const counts = new Map<MissClass, number>();
  for (const c of classes) counts.set(c, (counts.get(c) ?? 0) + 1);
  return MISS_CLASSES.filter((c) => counts.has(c)).map((c) => `    ${c.padEnd(22)} ${counts.get(c)}`);
}
