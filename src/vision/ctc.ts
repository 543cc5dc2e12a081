/**
 * CTC decoding of text-recognition output (Graves et al., "Connectionist Temporal
 * Classification", ICML 2006): the recogniser emits, for each of T time steps, a probability
 * over C classes where class 0 is the CTC blank. Greedy (best-path) decoding takes the most
 * probable class per step, merges consecutive repeats and removes blanks; this is what
 * PaddleOCR's `CTCLabelDecode` does for PP-OCR models, whose confidence is the mean of the
 * kept steps' probabilities.
 */

/** Plate alphabet: US registrations use A-Z and 0-9 only. */
export const PLATE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/**
 * Look-alike rule for the letter I and the digit 1, which plate fonts draw alike (a plain
 * bar) and which the PP-OCR recogniser, trained mostly on other fonts, reads as I. When
 * choosing between characters, this fraction of I's probability is counted for 1 instead,
 * so an I wins only when 1 is below (1 - 2 x 0.4) = 0.2 x its probability. Unlike O/0 both
 * are issued (47 I and 283 1 in the 751 crop labels), so a confident I stays. Measured on
 * every 3rd crop: 224 -> 226 of 251 (14CVI0 -> 14CV10), photos unchanged (47 of 60); moving
 * 0.5 or more (a confident I becomes 1) cost 4 vanity plates.
 */
export const I_TO_ONE = 0.4;
const I_IDX = 8, ONE_IDX = 27;

const O_IDX = 14, ZERO_IDX = 26;

/**
 * Index of the most probable character of a distribution over PLATE_ALPHABET for a position
 * no plate format constrains: the letter O counts as the digit 0 (their probabilities are
 * summed, see buildPlateClassMap) unless `oAsZero` is false, and an I is read as 1 when the 1
 * is close behind: d[1] > (1 - 2 x I_TO_ONE) x d[I].
 */
export function priorArgmax(d: ArrayLike<number>, oAsZero = true): number {
  let best = 0;
  for (let k = 1; k < PLATE_ALPHABET.length; k++) {
    if (oAsZero && k === O_IDX) continue;
    if (freeProb(d, k, oAsZero) > freeProb(d, best, oAsZero)) best = k;
  }
  if (best === I_IDX && d[ONE_IDX] > (1 - 2 * I_TO_ONE) * d[I_IDX]) best = ONE_IDX;
  return best;
}

/** Probability of character `k` at a free position: d[k], with O's added to 0's when `oAsZero`. */
export function freeProb(d: ArrayLike<number>, k: number, oAsZero = true): number {
  if (!oAsZero) return d[k];
  if (k === ZERO_IDX) return d[ZERO_IDX] + d[O_IDX];
  return k === O_IDX ? 0 : d[k];
}

/** Greedy CTC result: class indices (blank removed) and, per kept symbol, its probability. */
export interface CtcPath {
  indices: number[];
  probs: number[];
}

/**
 * Best-path CTC decoding over a row-major [T, C] probability matrix (softmax output).
 * A symbol is kept at the first step of each run of equal argmax classes (PaddleOCR's rule);
 * its probability is the maximum over that run. Throws RangeError when `probs.length < T*C`.
 */
export function ctcGreedyDecode(probs: ArrayLike<number>, T: number, C: number, blank = 0): CtcPath {
  if (probs.length < T * C) throw new RangeError(`CTC input has ${probs.length} values, expected ${T}x${C}`);
  const indices: number[] = [];
  const out: number[] = [];
  let prev = -1;
  for (let t = 0; t < T; t++) {
    const row = t * C;
    let best = 0;
    let bestP = -Infinity;
    for (let c = 0; c < C; c++) {
      const p = probs[row + c];
      if (p > bestP) {
        bestP = p;
        best = c;
      }
    }
    if (best !== blank) {
      if (best !== prev) {
        indices.push(best);
        out.push(bestP);
      } else if (bestP > out[out.length - 1]) out[out.length - 1] = bestP;
    }
    prev = best;
  }
  return { indices, probs: out };
}

/** What a recogniser class means for a plate: a plate character, a separator, or nothing allowed. */
export interface PlateClassMap {
  /** For each class index: 0..35 = PLATE_ALPHABET position, -1 = blank, -2 = separator, -3 = excluded. */
  map: Int16Array;
  classes: number;
  /** The letter O is read as the digit 0 where no plate format decides (see buildPlateClassMap). */
  oAsZero: boolean;
}

/** Characters printed on plates between groups (dash, dots, space): they split runs, never appear in the text. */
const SEPARATORS = new Set([" ", "-", "·", "•", ".", "—", "–", "_", ":", "|", "/", "\\", "*", "+", "~"]);

/**
 * Maps the recogniser dictionary onto the plate alphabet. Upper-case, lower-case and full-width
 * forms of a letter or digit all map to the same plate character (plates have one case; the
 * PP-OCR Chinese model also knows full-width Latin). Punctuation in SEPARATORS becomes a
 * separator; every other class (CJK, symbols) is excluded from decoding.
 *
 * Look-alike rule (`letterOAsZero`, default on): the letter O is read as the digit 0. Most US
 * states leave O out of their standard serial formats because plate fonts draw O and 0 alike,
 * so a recogniser cannot tell them apart; in the openalpr benchmark ground truth (178 photos,
 * 751 crops) a zero is labelled 285 times and the letter O 16 times. The two classes'
 * probabilities are summed when choosing a character (priorArgmax, freeProb); the
 * distributions (`PlateText.dists`) keep them apart, so a plate format (formats.ts) with a
 * letter at that position reads O. No other look-alikes (1/I, 8/B, 2/Z, 6/G, 5/S) are mapped:
 * all of those letters are issued.
 * `keys[i]` is class i + 1 (class 0 = blank), as `recognitionKeys()` returns them.
 */
export function buildPlateClassMap(keys: string[], opts: { letterOAsZero?: boolean } = {}): PlateClassMap {
  const oAsZero = opts.letterOAsZero ?? true;
  const classes = keys.length + 1;
  const map = new Int16Array(classes).fill(-3);
  map[0] = -1;
  keys.forEach((k, i) => {
    let ch = k;
    if (ch.length === 1) {
      const code = ch.charCodeAt(0);
      if (code >= 0xff01 && code <= 0xff5e) ch = String.fromCharCode(code - 0xfee0); // full-width ASCII
    }
    const up = ch.toUpperCase();
    const pos = up.length === 1 ? PLATE_ALPHABET.indexOf(up) : -1;
    if (pos >= 0) map[i + 1] = pos;
    else if (SEPARATORS.has(ch)) map[i + 1] = -2;
  });
  return { map, classes, oAsZero };
}

/** A decoded plate string with per-character probabilities. */
export interface PlateText {
  text: string;
  /** Mean of the per-character probabilities (PaddleOCR's convention), 0 for empty text. */
  confidence: number;
  charProbs: number[];
  /** For each character, the first and last time step of its run (for locating it in the input). */
  spans: [number, number][];
  /**
   * For each character, the probabilities of all PLATE_ALPHABET characters at the step where
   * it peaked (its alternatives, e.g. for look-alike resolution and for voting distributions).
   */
  dists: Float32Array[];
}

/**
 * Greedy CTC decoding restricted to the plate alphabet (constrained best path): at each step
 * the probabilities of all classes mapping to one plate character are summed, and the step's
 * label is the most probable of {blank, separator, 36 plate characters}; excluded classes
 * (CJK etc.) cannot win. When a character wins, which one is decided by priorArgmax (the
 * O/0 and I/1 look-alike rules); its probability is freeProb's (O and 0 summed). Runs of one label collapse to one character; blank and separator
 * steps end a run and emit nothing. Probabilities are the summed class probabilities.
 *
 * `otherAsSeparator` (the reader uses it): the excluded classes' probability counts as
 * separator. A state emblem printed between character groups (Missouri, Alaska, ...) is not a
 * Latin character, and the recogniser spreads it over CJK and symbol classes; counted as a
 * separator it prints nothing, instead of being forced onto the nearest plate character.
 */
export function decodePlate(probs: ArrayLike<number>, T: number, C: number, cmap: PlateClassMap, opts: { otherAsSeparator?: boolean } = {}): PlateText {
  if (C !== cmap.classes) throw new RangeError(`recogniser has ${C} classes, dictionary ${cmap.classes}`);
  if (probs.length < T * C) throw new RangeError(`CTC input has ${probs.length} values, expected ${T}x${C}`);
  const n = PLATE_ALPHABET.length;
  const acc = new Float64Array(n + 2); // [0..n-1] plate chars, n = blank, n+1 = separator
  const map = cmap.map;
  let text = "";
  const charProbs: number[] = [];
  const spans: [number, number][] = [];
  const dists: Float32Array[] = [];
  let prev = -1;
  for (let t = 0; t < T; t++) {
    acc.fill(0);
    const row = t * C;
    for (let c = 0; c < C; c++) {
      const m = map[c];
      if (m >= 0) acc[m] += probs[row + c];
      else if (m === -1) acc[n] += probs[row + c];
      else if (m === -2 || (m === -3 && opts.otherAsSeparator)) acc[n + 1] += probs[row + c];
    }
    const p = (k: number) => (k < n ? freeProb(acc, k, cmap.oAsZero) : acc[k]);
    let best = n;
    for (let k = 0; k < n + 2; k++) if (p(k) > p(best)) best = k;
    if (best < n) best = priorArgmax(acc, cmap.oAsZero);
    if (best < n) {
      if (best !== prev) {
        text += PLATE_ALPHABET[best];
        charProbs.push(p(best));
        spans.push([t, t]);
        dists.push(Float32Array.from(acc.subarray(0, n)));
      } else {
        if (p(best) > charProbs[charProbs.length - 1]) {
          charProbs[charProbs.length - 1] = p(best);
          dists[dists.length - 1] = Float32Array.from(acc.subarray(0, n));
        }
        spans[spans.length - 1][1] = t;
      }
    }
    prev = best;
  }
  const confidence = charProbs.length ? charProbs.reduce((a, b) => a + b, 0) / charProbs.length : 0;
  return { text, confidence, charProbs, spans, dists };
}

/**
 * Classes of a plate head (tools/plate-rec): 0 = CTC blank, 1..36 = PLATE_ALPHABET, 37 = space
 * (a separator), the layout of its dictionary (PLATE_ALPHABET one per line, space appended).
 */
export const PLATE_HEAD_CLASSES = PLATE_ALPHABET.length + 2;

/** The class map of a plate head's output (PLATE_HEAD_CLASSES; O read as 0 where no format decides). */
export function plateHeadClassMap(): PlateClassMap {
  return buildPlateClassMap([...PLATE_ALPHABET, " "], { letterOAsZero: true });
}

/**
 * A recogniser's output [T, C] (softmax, classes mapped by `cmap`) mixed with a plate head's
 * [T, PLATE_HEAD_CLASSES] output: each step's recogniser probabilities are summed onto the
 * head's classes (a plate character's case and full-width forms onto it, separators and every
 * excluded class onto space, as decodePlate with `otherAsSeparator` counts them), then
 * `(1 - mix) x recogniser + mix x head`. Decode the result with plateHeadClassMap().
 */
export function mixWithPlateHead(probs: ArrayLike<number>, T: number, C: number, cmap: PlateClassMap, head: ArrayLike<number>, mix: number): Float32Array {
  const K = PLATE_HEAD_CLASSES;
  if (C !== cmap.classes) throw new RangeError(`recogniser has ${C} classes, dictionary ${cmap.classes}`);
  if (probs.length < T * C || head.length < T * K) throw new RangeError(`plate head mix needs ${T}x${C} and ${T}x${K} values`);
  const out = new Float32Array(T * K);
  for (let t = 0; t < T; t++) {
    const o = t * K, row = t * C;
    for (let c = 0; c < C; c++) {
      const m = cmap.map[c];
      out[o + (m >= 0 ? 1 + m : m === -1 ? 0 : K - 1)] += probs[row + c];
    }
    for (let k = 0; k < K; k++) out[o + k] = (1 - mix) * out[o + k] + mix * head[o + k];
  }
  return out;
}
