/**
 * `plate_smooth`: one plate per vehicle track, by voting over the track's readings.
 *
 * 1. Readings are grouped by similarity: a reading joins the first group whose leading text is
 *    at most `maxEdits` (default 1) edits from it (Levenshtein), groups visited strongest
 *    first; otherwise it starts a new group. Texts are visited by summed confidence, strongest
 *    first, so a group leads with its most supported text.
 * 2. The group with the largest summed confidence wins; the final text is the group's text with
 *    the largest summed confidence (ties: the longer text, then the alphabetically first).
 * 3. Combined confidence = noisy-OR of the winning group's readings, 1 - prod(1 - c_i) (each
 *    agreeing reading is independent evidence), times the group's share of the track's total
 *    confidence (disagreement lowers it). One reading alone keeps its own confidence.
 *
 * The same multi-frame voting idea is used by OpenALPR's plate "grouping" of a vehicle's
 * reads; the formula here is this project's. Pure functions, no I/O.
 */
import { editDistance } from "../plateText.ts";

export interface Reading {
  text: string;
  confidence: number;
}

export interface Vote<R extends Reading = Reading> {
  /** Winning plate text ("" when there were no readings). */
  text: string;
  /** Combined confidence, 0..1. */
  confidence: number;
  /** Readings in the winning group / in the track. */
  support: number;
  total: number;
  /** The winning group's readings, most confident first. */
  group: R[];
  /** All groups, strongest first (texts and summed confidence), for the result row. */
  groups: { texts: string[]; score: number; size: number }[];
}

/** Votes over one track's readings (see the module comment). */
export function votePlate<R extends Reading>(readings: readonly R[], maxEdits = 1): Vote<R> {
  const valid = readings.filter((r) => r.text.length > 0 && Number.isFinite(r.confidence));
  if (valid.length === 0) return { text: "", confidence: 0, support: 0, total: readings.length, group: [], groups: [] };
  // summed confidence per distinct text
  const byText = new Map<string, { score: number; items: R[] }>();
  for (const r of valid) {
    const e = byText.get(r.text) ?? { score: 0, items: [] };
    e.score += Math.max(0, r.confidence);
    e.items.push(r);
    byText.set(r.text, e);
  }
  const texts = [...byText.entries()].sort((a, b) => b[1].score - a[1].score || b[0].length - a[0].length || (a[0] < b[0] ? -1 : 1));
  const groups: { lead: string; texts: string[]; score: number; items: R[] }[] = [];
  for (const [text, e] of texts) {
    const g = groups.find((g) => editDistance(g.lead, text, maxEdits) <= maxEdits);
    if (g) {
      g.texts.push(text);
      g.score += e.score;
      g.items.push(...e.items);
    } else groups.push({ lead: text, texts: [text], score: e.score, items: [...e.items] });
  }
  groups.sort((a, b) => b.score - a.score);
  const win = groups[0];
  const totalScore = groups.reduce((s, g) => s + g.score, 0);
  let miss = 1;
  for (const r of win.items) miss *= 1 - Math.min(1, Math.max(0, r.confidence));
  const share = totalScore > 0 ? win.score / totalScore : 0;
  const confidence = Math.min(0.9999, (1 - miss) * share);
  return {
    text: win.lead,
    confidence,
    support: win.items.length,
    total: readings.length,
    group: [...win.items].sort((a, b) => b.confidence - a.confidence),
    groups: groups.map((g) => ({ texts: g.texts, score: g.score, size: g.items.length })),
  };
}
