/**
 * Plate formats of a region (`[alpr] region`, `dashcam alpr --region`): which positions of a
 * registration hold a letter, which a digit, which a known prefix. The formats are data, one
 * TOML file per region in ./formats/ (facts with their source in each file), embedded in the
 * binary.
 *
 * A recogniser's reading comes with a distribution over A-Z 0-9 for every character (ctc.ts
 * decodePlate `dists`). fitFormats picks the most probable reading that fits a format of the
 * region: a position the format leaves open keeps what was read, a position it decides (a
 * letter where a digit was read, or the reverse) takes the most probable allowed character.
 * Probabilities pass through a look-alike model (LOOK_ALIKES): a recogniser that reads G with
 * 0.98 on a plate whose format puts a digit there most likely saw a 6, so look-alike partners
 * lend each other part of their probability. A reading that fits no format (a vanity or a
 * foreign plate, or text that is not a plate) is kept as read with its confidence lowered
 * (NO_FORMAT_CONFIDENCE).
 *
 * Pattern notation (as OpenALPR's runtime_data/postprocess/*.patterns): `@` a letter, `#` a
 * digit, `*` a letter or a digit, `[A-HJ]` one of these characters, a literal letter or digit
 * itself, `?` a position holding an emblem or symbol (dropped: the reader prints nothing for
 * it), `{m,n}` repeats the position before it, `-` `.` and spaces are separators (not read).
 */
import { PLATE_ALPHABET } from "./ctc.ts";
import us from "./formats/us.toml";
import br from "./formats/br.toml";
import eu from "./formats/eu.toml";
import de from "./formats/de.toml";
import gb from "./formats/gb.toml";

/** A region file as parsed from TOML. */
export interface RegionFile {
  region: string;
  name?: string;
  include?: string[];
  /** Width / height of the region's standard plate. */
  plate_aspect?: number;
  /** How far the plate's centre lies above the registration line's centre, in line heights. */
  plate_centre_above?: number;
  areas: Record<string, { name?: string; all_areas?: boolean; max_length?: number; patterns: string[] }>;
}

const FILES: Record<string, RegionFile> = { us, br, eu, de, gb } as unknown as Record<string, RegionFile>;

/** One plate format: a character set (36 flags over PLATE_ALPHABET) per position. */
export interface PlateFormat {
  /** The pattern as written in the region file. */
  pattern: string;
  /** Region file and area (state, country) it came from, e.g. "us-mo", "eu-sk", "br". */
  area: string;
  positions: Uint8Array[];
}

/** The formats of one region selection, by length. */
export interface FormatSet {
  spec: string;
  /** The first region file selected (its plate shape is the default of plateShape). */
  file: RegionFile;
  byLength: Map<number, PlateFormat[]>;
  count: number;
}

/**
 * Letter/digit look-alikes on plates: [letter, digit, weight]. The weight is the share of one
 * character's probability lent to its partner when a format rules the character out. O/0 and
 * I/1 are one glyph in most plate fonts (see ctc.ts, buildPlateClassMap and I_TO_ONE); D/0,
 * G/6, Z/2, B/8 and S/5 are the pairs the recogniser confuses with confidence on the openalpr
 * benchmark's US plates. Measured with the US formats (all of the benchmark's reads fitted
 * offline): adding A/4, T/7, Q/0 and U/0 at 0.3 cost 4 of 250 crops.
 */
export const LOOK_ALIKES: [string, string, number][] = [
  ["O", "0", 1], ["I", "1", 1],
  ["D", "0", 0.3], ["G", "6", 0.3], ["Z", "2", 0.3], ["B", "8", 0.3], ["S", "5", 0.3],
];

/**
 * A format fits a reading when the product over its decided positions of
 * (probability of the format's character / probability of the character read), both through
 * the look-alike model, is at least this: one look-alike swap of a confident reading passes
 * (~0.3), two pass (~0.09), a letter where the recogniser saw an unrelated digit does not.
 */
export const FIT_MIN = 0.05;
/** Confidence factor of a reading that fits no format of the region (kept as read). */
export const NO_FORMAT_CONFIDENCE = 0.8;

const N = PLATE_ALPHABET.length;
const idx = (c: string) => PLATE_ALPHABET.indexOf(c);
/** partners[k] = [[j, w], ...]: the characters lending probability to k. */
type Partners = [number, number][][];
function partnersOf(pairs: readonly [string, string, number][]): Partners {
  const partners: Partners = Array.from({ length: N }, () => []);
  for (const [l, d, w] of pairs) {
    partners[idx(l)].push([idx(d), w]);
    partners[idx(d)].push([idx(l), w]);
  }
  return partners;
}
const PARTNERS = partnersOf(LOOK_ALIKES);

/** Probability of character k at a position with distribution d, through the look-alike model. */
function lookAlikeProbOf(partners: Partners, d: ArrayLike<number>, k: number): number {
  let p = d[k];
  for (const [j, w] of partners[k]) p += w * d[j];
  return p;
}

/** Knobs of fitFormats (defaults: LOOK_ALIKES, FIT_MIN, NO_FORMAT_CONFIDENCE); for measuring alternatives. */
export interface FitOptions {
  lookAlikes?: readonly [string, string, number][];
  fitMin?: number;
  noFormatConfidence?: number;
}

/**
 * Expands one pattern into fixed-length position sets (several when it has `{m,n}`).
 * Throws RangeError on a malformed pattern (naming it).
 */
export function parsePattern(pattern: string): Uint8Array[][] {
  const items: { set: Uint8Array; min: number; max: number }[] = [];
  const bad = (why: string) => new RangeError(`plate format "${pattern}": ${why}`);
  const setOf = (chars: string) => {
    const s = new Uint8Array(N);
    for (const c of chars) s[idx(c)] = 1;
    return s;
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "-" || c === " " || c === "." || c === "?") continue;
    if (c === "@") items.push({ set: setOf(PLATE_ALPHABET.slice(0, 26)), min: 1, max: 1 });
    else if (c === "#") items.push({ set: setOf(PLATE_ALPHABET.slice(26)), min: 1, max: 1 });
    else if (c === "*") items.push({ set: setOf(PLATE_ALPHABET), min: 1, max: 1 });
    else if (c === "[") {
      const end = pattern.indexOf("]", i);
      if (end < 0) throw bad("unclosed [");
      const body = pattern.slice(i + 1, end);
      const s = new Uint8Array(N);
      for (let j = 0; j < body.length; j++) {
        if (body[j + 1] === "-" && j + 2 < body.length) {
          const a = idx(body[j]), b = idx(body[j + 2]);
          if (a < 0 || b < a) throw bad(`bad range ${body.slice(j, j + 3)}`);
          for (let k = a; k <= b; k++) s[k] = 1;
          j += 2;
        } else if (idx(body[j]) >= 0) s[idx(body[j])] = 1;
        else throw bad(`bad character ${body[j]}`);
      }
      items.push({ set: s, min: 1, max: 1 });
      i = end;
    } else if (c === "{") {
      const m = /^\{(\d+),(\d+)\}/.exec(pattern.slice(i));
      if (!m || items.length === 0) throw bad("bad {m,n}");
      const last = items[items.length - 1];
      last.min = +m[1];
      last.max = +m[2];
      if (last.max < last.min || last.max > 8) throw bad("bad {m,n}");
      i += m[0].length - 1;
    } else if (idx(c) >= 0) items.push({ set: setOf(c), min: 1, max: 1 });
    else throw bad(`bad character ${c}`);
  }
  if (items.length === 0) throw bad("empty");
  let out: Uint8Array[][] = [[]];
  for (const it of items) {
    const next: Uint8Array[][] = [];
    for (const prefix of out) for (let r = it.min; r <= it.max; r++) next.push([...prefix, ...Array(r).fill(it.set)]);
    out = next;
  }
  return out.filter((p) => p.length > 0);
}

/** Region names a spec may use: the region files and the areas of the European file (countries). */
export function knownRegions(): string[] {
  return [...Object.keys(FILES), ...Object.keys(FILES.eu.areas).filter((c) => !(c in FILES))].sort();
}

const cache = new Map<string, FormatSet>();

/**
 * The formats selected by `spec`: a region file (`us`, `br`, `eu`, `de`, `gb`), one area of it
 * (`us-mo`, `br-sp`; plus the file's areas marked `all_areas`), a European country code (`sk`,
 * `fr`: that area of eu.toml), or a comma-separated list of these. Case-insensitive.
 * Throws RangeError naming an unknown region or area.
 */
export function regionFormats(spec: string): FormatSet {
  const key = spec.toLowerCase();
  const hit = cache.get(key);
  if (hit) return hit;
  const picked: { file: RegionFile; area: string }[] = [];
  const addFile = (f: RegionFile, only: string | null, seen: Set<string>) => {
    if (seen.has(f.region)) return;
    seen.add(f.region);
    if (only !== null && !(only in f.areas)) throw new RangeError(`unknown area "${only}" of plate region "${f.region}" (known: ${Object.keys(f.areas).join(", ")})`);
    for (const [a, def] of Object.entries(f.areas)) if (only === null || a === only || def.all_areas) picked.push({ file: f, area: a });
    if (only === null) for (const inc of f.include ?? []) addFile(FILES[inc], null, seen);
  };
  const seen = new Set<string>();
  for (const raw of spec.split(",")) {
    const item = raw.trim().toLowerCase();
    if (!item) continue;
    const [reg, area, ...rest] = item.split("-");
    if (rest.length) throw new RangeError(`unknown plate region "${item}"`);
    if (reg in FILES) addFile(FILES[reg], area ?? null, seen);
    else if (!area && reg in FILES.eu.areas) picked.push({ file: FILES.eu, area: reg });
    else throw new RangeError(`unknown plate region "${item}" (known: ${knownRegions().join(", ")}; a file's area as e.g. us-mo)`);
  }
  if (picked.length === 0) throw new RangeError(`no plate region in "${spec}"`);
  const byPattern = new Map<string, PlateFormat>();
  for (const { file, area } of picked) {
    const def = file.areas[area];
    for (const p of def.patterns)
      for (const positions of parsePattern(p)) {
        if (def.max_length && positions.length > def.max_length) continue;
        const sig = positions.map((s) => s.join("")).join("|");
        if (!byPattern.has(sig)) byPattern.set(sig, { pattern: p, area: file.region === area ? area : `${file.region}-${area}`, positions });
      }
  }
  const byLength = new Map<number, PlateFormat[]>();
  for (const f of byPattern.values()) byLength.set(f.positions.length, [...(byLength.get(f.positions.length) ?? []), f]);
  const set = { spec, byLength, count: byPattern.size, file: picked[0].file };
  cache.set(key, set);
  return set;
}

/** A reading after fitFormats. */
export interface FormatFit {
  text: string;
  charProbs: number[];
  confidence: number;
  /** The format the text fits, null when none (text kept as read, confidence lowered). */
  format: PlateFormat | null;
}

/**
 * The most probable reading of `text` (with per-character `charProbs` and distributions
 * `dists` over PLATE_ALPHABET) that fits a format of `set`: for each format of the reading's
 * length, every position whose character the format allows keeps it; every other position
 * takes the allowed character of highest look-alike probability, and the format's fit is the
 * product of (its probability / the read character's) over those positions. The format of
 * highest fit wins if its fit is at least FIT_MIN (ties: fewer changed characters).
 * A changed character's probability is its share among the characters the format allows
 * there. With no fitting format the text stays and the confidence is multiplied by
 * NO_FORMAT_CONFIDENCE. Without distributions (or with no set) the reading is returned as is.
 */
export function fitFormats(reading: { text: string; charProbs: number[]; dists?: Float32Array[] }, set: FormatSet | null, opts: FitOptions = {}): FormatFit {
  const { text, charProbs, dists } = reading;
  const partners = opts.lookAlikes ? partnersOf(opts.lookAlikes) : PARTNERS;
  const fitMin = opts.fitMin ?? FIT_MIN, noFormat = opts.noFormatConfidence ?? NO_FORMAT_CONFIDENCE;
  const lookAlikeProb = (d: ArrayLike<number>, k: number) => lookAlikeProbOf(partners, d, k);
  const mean = (a: number[]) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : 0);
  if (!set || !dists || dists.length !== text.length || text.length === 0) return { text, charProbs, confidence: mean(charProbs), format: null };
  const read = [...text].map(idx);
  let best: { f: PlateFormat; fit: number; changes: number; chars: number[] } | null = null;
  for (const f of set.byLength.get(text.length) ?? []) {
    let fit = 1, changes = 0;
    const chars = read.slice();
    for (let i = 0; i < chars.length && fit >= fitMin; i++) {
      const allowed = f.positions[i];
      if (allowed[read[i]]) continue;
      let c = -1, pc = -1;
      for (let k = 0; k < N; k++) if (allowed[k]) {
        const p = lookAlikeProb(dists[i], k);
        if (p > pc) {
          pc = p;
          c = k;
        }
      }
      fit *= pc / Math.max(1e-9, lookAlikeProb(dists[i], read[i]));
      chars[i] = c;
      changes++;
    }
    if (fit < fitMin) continue;
    if (!best || fit > best.fit || (fit === best.fit && changes < best.changes)) best = { f, fit, changes, chars };
  }
  if (!best) return { text, charProbs, confidence: noFormat * mean(charProbs), format: null };
  const probs = best.chars.map((c, i) => {
    if (c === read[i]) return charProbs[i];
    let sum = 0;
    for (let k = 0; k < N; k++) if (best.f.positions[i][k]) sum += lookAlikeProb(dists[i], k);
    return sum > 0 ? lookAlikeProb(dists[i], c) / sum : 0;
  });
  return { text: best.chars.map((c) => PLATE_ALPHABET[c]).join(""), charProbs: probs, confidence: mean(probs), format: best.f };
}

/** The plate a reading is printed on: width / height, and how far its centre lies above the registration line's. */
export interface PlateShape {
  aspect: number | null;
  centreAbove: number;
}

/**
 * The plate shape (region file's `plate_aspect`, from the plate's standard dimensions, and
 * `plate_centre_above`, in line heights) of the format a reading fits, else of the first region
 * selected, else unknown (null aspect, centre on the line).
 */
export function plateShape(format: PlateFormat | null | undefined, set: FormatSet | null): PlateShape {
  const file = format ? (FILES[format.area.split("-")[0]] ?? FILES.eu) : set?.file;
  return { aspect: file?.plate_aspect ?? null, centreAbove: file?.plate_centre_above ?? 0 };
}
