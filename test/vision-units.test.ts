/**
 * Pure parts of the plate reader on crafted inputs: CTC greedy decoding (generic and
 * plate-restricted), DB post-processing of a probability map, plate rules, voting, YOLOX decode.
 */
import { describe, expect, test } from "bun:test";
import { buildPlateClassMap, ctcGreedyDecode, decodePlate, mixWithPlateHead, PLATE_ALPHABET, PLATE_HEAD_CLASSES, plateHeadClassMap } from "../src/vision/ctc.ts";
import { dbPostProcess, rotRectBounds } from "../src/vision/dbpost.ts";
import { isSmallPrintOf, mergeRows, PLATE_RULES, plateCandidates, registrationLine } from "../src/vision/plateRules.ts";
import { voteReadings } from "../src/vision/vote.ts";
import { decodeYolox, nms, YOLOX_SIZE } from "../src/vision/yolox.ts";
import { fullHeightGlyphs } from "../src/vision/glyphs.ts";

/** Probability rows from a list of (class -> prob) maps, C classes each. */
function rows(C: number, steps: Record<number, number>[]): Float32Array {
  const out = new Float32Array(steps.length * C);
  steps.forEach((s, t) => {
    let rest = 1;
    for (const [c, p] of Object.entries(s)) {
      out[t * C + Number(c)] = p;
      rest -= p;
    }
    // Spread what is left evenly over the other classes so rows sum to 1.
    const others = C - Object.keys(s).length;
    for (let c = 0; c < C; c++) if (!(c in s)) out[t * C + c] = rest / others;
  });
  return out;
}

describe("CTC greedy decoding", () => {
  test("collapses repeats, drops blanks, keeps a doubled symbol separated by a blank", () => {
    // classes: 0 blank, 1 'A', 2 'B'
    const p = rows(3, [{ 1: 0.9 }, { 1: 0.8 }, { 0: 0.9 }, { 1: 0.7 }, { 2: 0.6 }, { 2: 0.95 }, { 0: 0.99 }]);
    const r = ctcGreedyDecode(p, 7, 3);
    expect(r.indices).toEqual([1, 1, 2]);
    expect(r.probs[0]).toBeCloseTo(0.9, 5); // max over the run
    expect(r.probs[1]).toBeCloseTo(0.7, 5);
    expect(r.probs[2]).toBeCloseTo(0.95, 5);
  });

  test("all blank gives nothing; short input is an error", () => {
    expect(ctcGreedyDecode(rows(3, [{ 0: 1 }, { 0: 1 }]), 2, 3).indices).toEqual([]);
    expect(() => ctcGreedyDecode(new Float32Array(5), 2, 3)).toThrow(RangeError);
  });

  // A miniature dictionary shaped like ppocr_keys_v1: class i+1 = keys[i].
  const keys = ["A", "b", "Ｃ", "1", "O", "0", "-", "中", "I", " "];
  const cmap = buildPlateClassMap(keys);
  const C = keys.length + 1;
  const cls = (k: string) => keys.indexOf(k) + 1;

  test("plate decoding: lower-case and full-width map to upper case, O reads as 0", () => {
    const p = rows(C, [{ [cls("A")]: 0.9 }, { 0: 0.9 }, { [cls("b")]: 0.8 }, { [cls("Ｃ")]: 0.85 }, { [cls("O")]: 0.6 }, { [cls("1")]: 0.9 }]);
    const r = decodePlate(p, 6, C, cmap);
    expect(r.text).toBe("ABC01");
    expect(r.charProbs.length).toBe(5);
    expect(r.spans).toEqual([[0, 0], [2, 2], [3, 3], [4, 4], [5, 5]]);
    expect(r.confidence).toBeCloseTo(r.charProbs.reduce((a, b) => a + b) / 5, 6);
  });

  test("O and 0 probabilities are summed before the argmax", () => {
    // 'I' 0.4 beats 'O' 0.35 and '0' 0.2 separately, but not their sum 0.55.
    const p = rows(C, [{ [cls("I")]: 0.4, [cls("O")]: 0.35, [cls("0")]: 0.2 }]);
    expect(decodePlate(p, 1, C, cmap).text).toBe("0");
    const keep = buildPlateClassMap(keys, { letterOAsZero: false });
    expect(decodePlate(p, 1, C, keep).text).toBe("I");
  });

  test("separators split runs and print nothing; excluded classes cannot win", () => {
    const p = rows(C, [{ [cls("1")]: 0.9 }, { [cls("-")]: 0.9 }, { [cls("1")]: 0.9 }, { [cls(" ")]: 0.8 }, { [cls("中")]: 0.7, [cls("A")]: 0.2 }]);
    expect(decodePlate(p, 5, C, cmap).text).toBe("11A");
    // With otherAsSeparator the CJK step is a separator (an emblem between groups).
    expect(decodePlate(p, 5, C, cmap, { otherAsSeparator: true }).text).toBe("11");
  });

  test("I reads as 1 when 1 is close behind, a confident I stays; dists hold each character's alternatives", () => {
    const close = decodePlate(rows(C, [{ [cls("I")]: 0.6, [cls("1")]: 0.3 }]), 1, C, cmap);
    expect(close.text).toBe("1");
    expect(close.charProbs[0]).toBeCloseTo(0.3, 5);
    expect(close.dists[0].length).toBe(36);
    expect(close.dists[0][8]).toBeCloseTo(0.6, 5); // I
    expect(close.dists[0][27]).toBeCloseTo(0.3, 5); // 1
    expect(decodePlate(rows(C, [{ [cls("I")]: 0.9, [cls("1")]: 0.05 }]), 1, C, cmap).text).toBe("I");
  });

  test("class count mismatch is an error", () => {
    expect(() => decodePlate(new Float32Array(C + 1), 1, C + 1, cmap)).toThrow(RangeError);
  });
});

describe("plate head", () => {
  test("the recogniser's classes are summed onto the head's and mixed step by step", () => {
    // Recogniser dictionary: A, a, 0, -, 中 (classes 1..5); head: blank, A-Z, 0-9, space.
    const cmap = buildPlateClassMap(["A", "a", "0", "-", "中"]);
    const C = 6, K = PLATE_HEAD_CLASSES, A = 1 + PLATE_ALPHABET.indexOf("A"), Z0 = 1 + PLATE_ALPHABET.indexOf("0"), B8 = 1 + PLATE_ALPHABET.indexOf("8");
    const rec = Float32Array.from([0.1, 0.3, 0.3, 0.1, 0.1, 0.1, /* t1 */ 0.9, 0, 0, 0.1, 0, 0]);
    const head = new Float32Array(2 * K);
    head[B8] = 1; // step 0: the head reads 8
    head[K] = 1; // step 1: blank
    const m = mixWithPlateHead(rec, 2, C, cmap, head, 0.5);
    expect(m[A]).toBeCloseTo(0.5 * 0.6, 6); // A and a summed
    expect(m[Z0]).toBeCloseTo(0.5 * 0.1, 6);
    expect(m[K - 1]).toBeCloseTo(0.5 * 0.2, 6); // separator and CJK onto space
    expect(m[0]).toBeCloseTo(0.5 * 0.1, 6);
    expect(m[B8]).toBeCloseTo(0.5, 6);
    expect(m[K]).toBeCloseTo(0.5 * 0.9 + 0.5, 6);
    expect(decodePlate(m, 2, K, plateHeadClassMap()).text).toBe("8"); // 0.5 for 8 beats 0.3 for A
    expect(decodePlate(mixWithPlateHead(rec, 2, C, cmap, head, 0.3), 2, K, plateHeadClassMap()).text).toBe("A");
    expect(decodePlate(mixWithPlateHead(rec, 2, C, cmap, head, 0.8), 2, K, plateHeadClassMap()).text).toBe("8");
    expect(() => mixWithPlateHead(rec, 2, 5, cmap, head, 0.5)).toThrow(RangeError);
  });
});

describe("DB post-processing", () => {
  function map(w: number, h: number, fill: (x: number, y: number) => number): Float32Array {
    const m = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) m[y * w + x] = fill(x, y);
    return m;
  }

  test("finds each text kernel and unclips it by A*r/L", () => {
    // Kernel 1: x 10..49 (40 px), y 20..29 (10 px), prob 0.9. Kernel 2: x 70..79, y 5..14, prob 0.4 (below box threshold).
    const m = map(100, 40, (x, y) => (x >= 10 && x < 50 && y >= 20 && y < 30 ? 0.9 : x >= 70 && x < 80 && y >= 5 && y < 15 ? 0.4 : 0.05));
    const rects = dbPostProcess(m, 100, 40);
    expect(rects.length).toBe(1);
    const r = rects[0];
    const d = (40 * 10 * 1.5) / (2 * (40 + 10)); // PaddleOCR unclip offset = 6
    expect(r.cx).toBeCloseTo(30, 5);
    expect(r.cy).toBeCloseTo(25, 5);
    expect(r.w).toBeCloseTo(40 + 2 * d, 5);
    expect(r.h).toBeCloseTo(10 + 2 * d, 5);
    expect(r.angle).toBeCloseTo(0, 5);
    expect(r.score).toBeCloseTo(0.9, 5);
    // Lower box threshold keeps the faint kernel too.
    expect(dbPostProcess(m, 100, 40, { boxThresh: 0.35 }).length).toBe(2);
  });

  test("a tilted bar gets its angle; tiny specks are dropped", () => {
    const angle = (10 * Math.PI) / 180;
    const m = map(200, 100, (x, y) => {
      const u = (x - 100) * Math.cos(angle) + (y - 50) * Math.sin(angle);
      const v = -(x - 100) * Math.sin(angle) + (y - 50) * Math.cos(angle);
      if (Math.abs(u) < 60 && Math.abs(v) < 8) return 0.95;
      if (x === 5 && y === 5) return 0.99; // 1-pixel speck
      return 0;
    });
    const rects = dbPostProcess(m, 200, 100);
    expect(rects.length).toBe(1);
    expect(rects[0].angle).toBeCloseTo(angle, 1);
    expect(rects[0].w).toBeGreaterThan(120);
    const [bx, by, bw, bh] = rotRectBounds(rects[0]);
    expect(bx).toBeLessThan(45);
    expect(bx + bw).toBeGreaterThan(155);
    expect(bh).toBeGreaterThan(16 + 120 * Math.sin(angle) - 2);
    expect(by).toBeLessThan(50);
  });

  test("an empty map has no regions; a short map is an error", () => {
    expect(dbPostProcess(new Float32Array(64 * 32), 64, 32)).toEqual([]);
    expect(() => dbPostProcess(new Float32Array(10), 64, 32)).toThrow(RangeError);
  });
});

describe("plate rules", () => {
  const rect = (cx: number, cy: number, w: number, h: number, score = 0.9) => ({ cx, cy, w, h, angle: 0, score });

  test("pieces of one row (split by an emblem gap) merge; a line above does not", () => {
    const rows = mergeRows([rect(100, 100, 60, 30), rect(190, 101, 70, 30), rect(150, 60, 120, 12)]);
    expect(rows.length).toBe(2);
    const reg = rows.find((r) => r.parts === 2)!;
    expect(reg.cx).toBeCloseTo(147.5, 5);
    expect(reg.w).toBeCloseTo(155, 5);
  });

  test("candidates: registration-shaped rows become 2:1 plate boxes, long or tall text does not", () => {
    const c = plateCandidates([rect(100, 100, 100, 30), rect(400, 200, 600, 30), rect(50, 300, 20, 40)]);
    expect(c.length).toBe(1);
    const [x, y, w, h] = c[0].box;
    expect(w / h).toBeCloseTo(2, 5);
    expect(x + w / 2).toBeCloseTo(100, 5);
    expect(y + h / 2).toBeCloseTo(100, 5);
    expect(w).toBeGreaterThanOrEqual(100);
  });

  test("candidates: a state name over a much taller registration is small print and ranks below it", () => {
    // TEXAS (h 23) over CWM 3083 (h 50) on one plate, the state name scored higher by the detector.
    const state = rect(536, 432, 75, 23, 0.99), reg = rect(543, 462, 97, 50, 0.97);
    expect(isSmallPrintOf(state, reg)).toBe(true);
    expect(isSmallPrintOf(reg, state)).toBe(false);
    const c = plateCandidates([state, reg]);
    expect(c[0].line.cy).toBeCloseTo(462, 5);
    // The registration has small print (no factor; its aspect 1.94 gives a prior of 0.966); the
    // state name is small print and has none.
    expect(c[0].score).toBeCloseTo(0.97 * (0.6 + (0.4 * (97 / 50 - 1.3)) / 0.7), 5);
    expect(c[1].score).toBeCloseTo(0.99 * PLATE_RULES.smallPrintScore * PLATE_RULES.noSmallPrintScore, 5);
    // The same short line beside the registration (not over or under it) is not small print,
    // nor is a line of equal height above it (a two-line sign).
    expect(isSmallPrintOf(rect(700, 462, 75, 23), reg)).toBe(false);
    expect(isSmallPrintOf(rect(543, 410, 97, 48), reg)).toBe(false);
    expect(isSmallPrintOf(rect(543, 462 - 3 * 50, 75, 23), reg)).toBe(false);
  });

  test("candidates: a line with no small print over or under it is less plate-like than one with", () => {
    // A badge (h 36, no small print) scored higher by the detector than a vanity plate (h 67)
    // with its slogan (h 26) under it.
    const badge = rect(1330, 780, 156, 36, 0.99), reg = rect(946, 725, 204, 67, 0.98), slogan = rect(954, 771, 209, 26, 0.9);
    const c = plateCandidates([badge, reg, slogan]);
    expect(c[0].line.cx).toBeCloseTo(946, 5);
    expect(c[0].score).toBeCloseTo(0.98, 5);
    expect(c.find((x) => x.line.cx === 1330)!.score).toBeCloseTo(0.99 * PLATE_RULES.noSmallPrintScore, 5);
  });

  test("registration line: small print is ignored, text beside the plate is cut off", () => {
    const plate: [number, number, number, number] = [0, 0, 200, 100];
    const line = registrationLine([rect(100, 15, 120, 14), rect(100, 52, 170, 40), rect(100, 88, 150, 10)], plate)!;
    expect(line.cy).toBeCloseTo(52, 5);
    expect(line.h).toBeCloseTo(40, 5);
    // A row running 100 px past the right edge is clipped to the box + 30 %.
    const long = registrationLine([rect(150, 50, 300, 40)], plate)!;
    expect(long.cx + long.w / 2).toBeCloseTo(260, 5);
    expect(registrationLine([rect(500, 500, 50, 20)], plate)).toBeNull();
  });

  test("glyph check drops a short, uncertain symbol only", () => {
    expect(fullHeightGlyphs([30, 31, 30, 18, 30, 29], [0.99, 0.98, 0.97, 0.5, 0.99, 0.99])).toEqual([true, true, true, false, true, true]);
    // Confident short glyphs stay (faint but certain characters).
    expect(fullHeightGlyphs([30, 31, 30, 18, 30, 29], [0.99, 0.98, 0.97, 0.95, 0.99, 0.99]).every(Boolean)).toBe(true);
    expect(fullHeightGlyphs([30, 5, 30], [1, 0.1, 1]).every(Boolean)).toBe(true);
  });
});

describe("voting", () => {
  test("majority length wins, then per-position probability", () => {
    const v = voteReadings([
      { text: "ABC123", charProbs: [0.9, 0.9, 0.5, 0.9, 0.9, 0.9] },
      { text: "A8C123", charProbs: [0.9, 0.6, 0.9, 0.9, 0.9, 0.9] },
      { text: "ABC1234", charProbs: [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9] },
    ]);
    expect(v.text).toBe("ABC123");
    expect(v.support).toBe(2);
    expect(v.charProbs[1]).toBeCloseTo(0.45, 5); // 0.9 of 2 readings for B
  });

  test("with distributions, runner-up characters of every reading count", () => {
    const d = (m: Record<string, number>) => {
      const a = new Float32Array(36);
      for (const [c, p] of Object.entries(m)) a["ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".indexOf(c)] = p;
      return a;
    };
    // Two readings say B (0.5 each) with 8 as runner-up (0.45 each); one says 8 (0.6): 8 sums 1.5, B 1.0.
    const v = voteReadings([
      { text: "B", charProbs: [0.5], dists: [d({ B: 0.5, 8: 0.45 })] },
      { text: "B", charProbs: [0.5], dists: [d({ B: 0.5, 8: 0.45 })] },
      { text: "8", charProbs: [0.6], dists: [d({ 8: 0.6, B: 0.0 })] },
    ]);
    expect(v.text).toBe("8");
    expect(v.charProbs[0]).toBeCloseTo(1.5 / 3, 5);
    expect(v.dists?.[0].length).toBe(36);
  });

  test("no usable reading", () => {
    expect(voteReadings([{ text: "", charProbs: [] }])).toEqual({ text: "", charProbs: [], confidence: 0, support: 0 });
  });
});

describe("YOLOX decoding", () => {
  test("decodes grid cells, keeps vehicle classes only, NMS merges duplicates", () => {
    const N = 3549;
    const out = new Float32Array(N * 85);
    const put = (row: number, o: number[], obj: number, cls: number, score: number) => {
      out.set(o, row * 85);
      out[row * 85 + 4] = obj;
      out[row * 85 + 5 + cls] = score;
    };
    // Stride 8 grid is 52x52: row = gy * 52 + gx. A car at cell (10, 20): centre ((0.5+10)*8, (0.5+20)*8) = (84, 164), size e^2*8.
    put(20 * 52 + 10, [0.5, 0.5, 2, 2], 0.9, 2, 0.9);
    put(20 * 52 + 11, [-0.5, 0.5, 2, 2], 0.8, 2, 0.9); // same car from the next cell
    put(40 * 52 + 40, [0.5, 0.5, 1, 1], 0.9, 0, 0.9); // a person: not a vehicle
    // Stride 32 grid starts at row 2704 + 676: a truck at cell (3, 4).
    put(2704 + 676 + 4 * 13 + 3, [0, 0, 1, 1], 0.7, 7, 0.8);
    const ratio = YOLOX_SIZE / 832; // image 832 wide, letterboxed by 0.5
    const dets = decodeYolox(out, ratio, 832, 600);
    expect(dets.map((d) => d.cls).sort()).toEqual(["car", "truck"]);
    const car = dets.find((d) => d.cls === "car")!;
    const s = Math.exp(2) * 8;
    expect(car.box[0]).toBeCloseTo((84 - s / 2) / ratio, 3);
    expect(car.box[2]).toBeCloseTo(s / ratio, 3);
    expect(car.score).toBeCloseTo(0.81, 5);
  });

  test("nms keeps the best of overlapping boxes", () => {
    const kept = nms([{ box: [0, 0, 10, 10], score: 0.5 }, { box: [1, 1, 10, 10], score: 0.9 }, { box: [50, 50, 5, 5], score: 0.1 }], 0.45);
    expect(kept.map((k) => k.score)).toEqual([0.9, 0.1]);
  });
});
