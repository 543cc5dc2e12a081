/**
 * Combining several readings of one plate (different crops / detector scales of the same
 * frame, or the frames of one track): a ROVER-style vote (Fiscus, "A post-processing system
 * to yield reduced word error rates: Recognizer Output Voting Error Reduction", 1997)
 * restricted to hypotheses of equal length, which needs no alignment:
 * 1. the length is chosen by summed weight (confidence x weight of each reading) x the length's
 *    plausibility x `lengthWeight` (the reader's: whether the region has formats of that length);
 * 2. at each position, the character with the largest summed probability (weight x the
 *    reading's probability of that character) wins; its probability is that sum divided by
 *    the total weight of the readings of that length. When every reading of that length
 *    carries its per-character distributions (`dists`), whole distributions are summed (a
 *    reading's runner-up counts too) and the winner is chosen by ctc.ts priorArgmax.
 */
import { plausibility } from "./plausibility.ts";
import { freeProb, PLATE_ALPHABET, priorArgmax } from "./ctc.ts";

export interface Reading {
  text: string;
  /** Per-character probabilities (same length as text). */
  charProbs: number[];
  /** Optional weight of this reading (default 1). */
  weight?: number;
  /** Optional per-character distributions over PLATE_ALPHABET (ctc.ts decodePlate `dists`). */
  dists?: Float32Array[];
}

/** The voted text, per-character probabilities and their mean (0 / "" for no usable reading). */
export function voteReadings(readings: Reading[], lengthWeight: (length: number) => number = () => 1): { text: string; charProbs: number[]; confidence: number; support: number; dists?: Float32Array[] } {
  const usable = readings.filter((r) => r.text.length > 0 && r.charProbs.length === r.text.length);
  if (usable.length === 0) return { text: "", charProbs: [], confidence: 0, support: 0 };
  const byLen = new Map<number, Reading[]>();
  for (const r of usable) byLen.set(r.text.length, [...(byLen.get(r.text.length) ?? []), r]);
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  let bestLen = 0, bestScore = -1;
  for (const [len, rs] of byLen) {
    const score = rs.reduce((s, r) => s + (r.weight ?? 1) * mean(r.charProbs), 0) * plausibility("x".repeat(len)) * lengthWeight(len);
    if (score > bestScore) {
      bestScore = score;
      bestLen = len;
    }
  }
  const group = byLen.get(bestLen)!;
  const total = group.reduce((s, r) => s + (r.weight ?? 1), 0);
  let text = "";
  const charProbs: number[] = [];
  const withDists = group.every((r) => r.dists?.length === bestLen);
  const dists: Float32Array[] = [];
  for (let i = 0; i < bestLen; i++) {
    const acc = new Map<string, number>();
    if (withDists) {
      // Summed distributions: a reading's runner-up characters count too.
      const d = new Float32Array(PLATE_ALPHABET.length);
      for (const r of group) {
        const w = r.weight ?? 1, ri = r.dists![i];
        for (let k = 0; k < d.length; k++) d[k] += w * ri[k];
      }
      // The character is chosen with the character prior of ctc.ts, as decodePlate does.
      const k = priorArgmax(d);
      acc.set(PLATE_ALPHABET[k], freeProb(d, k));
      dists.push(d.map((x) => x / total));
    } else for (const r of group) acc.set(r.text[i], (acc.get(r.text[i]) ?? 0) + (r.weight ?? 1) * r.charProbs[i]);
    let ch = "", p = -1;
    for (const [c, v] of acc) if (v > p) {
      p = v;
      ch = c;
    }
    text += ch;
    charProbs.push(p / total);
  }
  return { text, charProbs, confidence: mean(charProbs), support: group.length, ...(withDists ? { dists } : {}) };
}
