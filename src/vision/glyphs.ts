/**
 * Glyph geometry check on a recognised plate row: every registration character is printed
 * full height (AAMVA plate characters share one height), while decorations between character
 * groups (state emblems such as Missouri's, dots, small dashes, the stacked small letters of
 * some specialty plates) are markedly shorter. A recogniser trained on general text reads such
 * a decoration as a character; this check removes characters whose ink is much shorter than
 * the row's median character.
 *
 * Ink is found by Otsu's threshold (Otsu 1979) on the grey recogniser input: the polarity
 * from the whole row (ink is the minority class: characters cover less of a plate row than its
 * background), the threshold per character window (faint or shaded characters keep their
 * height). Windows are centred on the CTC peaks, which are only roughly aligned with glyphs.
 *
 * Measured effect (readings of the labelled boxes): 178 photos 138 exact vs 137 without;
 * 151 crops 131 vs 128. It removes emblem reads (2DA0044 -> 2DA044) and sometimes a real
 * faint character.
 */

/** Minimum ink height of a kept character, as a fraction of the row's median character height. */
export const MIN_GLYPH_HEIGHT = 0.7;

/**
 * Vertical ink extent (rows) of the window around each character. `strip` is the recogniser
 * input (CHW, 3 x H x stride W, normalised to about -1..1), `contentW` its filled width,
 * `centres` the characters' x centres in input pixels, `half` the half-width of each window.
 */
export function glyphHeights(strip: Float32Array, H: number, W: number, contentW: number, centres: number[], half: number): number[] {
  const plane = H * W;
  const grey = new Float32Array(H * contentW);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < contentW; x++) {
      const o = y * W + x;
      grey[y * contentW + x] = (strip[o] + strip[plane + o] + strip[2 * plane + o]) / 3;
    }
  const t = otsu(grey);
  let below = 0;
  for (const v of grey) if (v <= t) below++;
  const inkIsDark = below <= grey.length / 2;
  return centres.map((c) => {
    const x0 = Math.max(0, Math.round(c - half)), x1 = Math.min(contentW, Math.round(c + half));
    if (x1 <= x0) return 0;
    // Local threshold: the window's own Otsu split, so faint or shaded characters keep their height.
    const win = new Float32Array((x1 - x0) * H);
    for (let y = 0; y < H; y++) for (let x = x0; x < x1; x++) win[y * (x1 - x0) + x - x0] = grey[y * contentW + x];
    const lt = otsu(win);
    const isInk = (v: number) => (inkIsDark ? v <= lt : v > lt);
    const need = Math.max(1, Math.round((x1 - x0) * 0.1));
    let run = 0, best = 0, gap = 0;
    for (let y = 0; y < H; y++) {
      let n = 0;
      for (let x = x0; x < x1; x++) if (isInk(grey[y * contentW + x])) n++;
      if (n >= need) {
        run += 1 + gap;
        gap = 0;
        if (run > best) best = run;
      } else if (run > 0 && gap < 2) gap++;
      else {
        run = 0;
        gap = 0;
      }
    }
    return best;
  });
}

/** Otsu's threshold of values (any range): maximises the between-class variance over 64 bins. */
export function otsu(values: Float32Array): number {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return lo;
  const bins = 64;
  const hist = new Float64Array(bins);
  const k = (bins - 1) / (hi - lo);
  for (const v of values) hist[Math.round((v - lo) * k)]++;
  const total = values.length;
  let sumAll = 0;
  for (let i = 0; i < bins; i++) sumAll += i * hist[i];
  let wB = 0, sumB = 0, best = 0, bestI = 0;
  for (let i = 0; i < bins; i++) {
    wB += hist[i];
    if (wB === 0) continue;
    const wF = total - wB;
    if (wF === 0) break;
    sumB += i * hist[i];
    const mB = sumB / wB, mF = (sumAll - sumB) / wF;
    const between = wB * wF * (mB - mF) * (mB - mF);
    if (between > best) {
      best = between;
      bestI = i;
    }
  }
  return lo + (bestI + 0.5) / k;
}

/**
 * Which characters to keep: a character is dropped as a decoration when its ink height is
 * below MIN_GLYPH_HEIGHT x the row's median AND the recogniser was unsure of it (probability
 * below MAX_DECORATION_PROB; real characters that merely print faint are read confidently).
 * Rows of fewer than 4 characters are left alone (no reliable median).
 */
export function fullHeightGlyphs(heights: number[], probs: number[]): boolean[] {
  if (heights.length < 4) return heights.map(() => true);
  const sorted = [...heights].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return heights.map((h, i) => h >= MIN_GLYPH_HEIGHT * median || probs[i] >= MAX_DECORATION_PROB);
}

/** A character read with at least this probability is never dropped as a decoration. */
export const MAX_DECORATION_PROB = 0.9;
