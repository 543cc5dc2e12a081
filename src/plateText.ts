/**
 * Plate text helpers shared by smoothing, search and the watchlist: the normal form of a plate,
 * edit distance and one-edit neighbours. Imports nothing of ours, so the database layer
 * (src/db), the web routes and the ALPR pipeline (src/alpr) can all use it.
 *
 * Plates are compared in a normal form: upper case A-Z and 0-9 only (spaces, dashes and dots
 * dropped), the convention of plate-reading benchmarks (OpenALPR's `endtoend` ground truth
 * ignores case and separators).
 */

/** Upper-cases and keeps only A-Z, 0-9 ("abc-12 3" -> "ABC123"). */
export function normalizePlate(text: string): string {
  return text.toUpperCase().replace(/[^A-Z0-9]/g, "");
}

/**
 * Levenshtein edit distance (insertions, deletions, substitutions each cost 1), with an
 * early exit: returns `max + 1` as soon as the distance is known to exceed `max`.
 * Classic dynamic programme over two rows (Wagner & Fischer 1974).
 */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (a === b) return 0;
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let prev = new Array<number>(b.length + 1);
  let cur = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = cur[0];
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (cur[j] < rowMin) rowMin = cur[j];
    }
    if (rowMin > max) return max + 1;
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/**
 * Every normalised plate exactly one edit away from `q` (plus `q` itself): n deletions,
 * 35n substitutions and 36(n+1) insertions over A-Z0-9, about 36(2n+1) strings (~540 for a
 * 7-character plate). Used for indexed fuzzy search (`IN (...)` probes instead of a scan).
 */
export function oneEditNeighbours(q: string): string[] {
  const out = new Set<string>([q]);
  for (let i = 0; i < q.length; i++) out.add(q.slice(0, i) + q.slice(i + 1));
  for (let i = 0; i < q.length; i++)
    for (const ch of ALPHABET) if (ch !== q[i]) out.add(q.slice(0, i) + ch + q.slice(i + 1));
  for (let i = 0; i <= q.length; i++) for (const ch of ALPHABET) out.add(q.slice(0, i) + ch + q.slice(i));
  out.delete("");
  return [...out];
}
