/**
 * Plate formats of a region (src/vision/formats.ts and formats/*.toml): pattern parsing, region
 * selection, fitting a reading's per-character distributions to a format, and the reader on
 * real Brazilian plates (format LLL-DDDD: letters and digits differ only by position) read in
 * place from ../shared/data/alpr/br. Expected plates come from the label files.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PLATE_ALPHABET } from "../src/vision/ctc.ts";
import { fitFormats, FIT_MIN, NO_FORMAT_CONFIDENCE, parsePattern, regionFormats } from "../src/vision/formats.ts";
import { decodeImage, type Box } from "../src/vision/image.ts";
import { configureVision } from "../src/vision/reader.ts";
import { recognizePlate } from "../src/vision/stages.ts";
import { readPlates } from "../src/vision/reader.ts";
import { iou } from "../src/vision/image.ts";
import { PLATE_FROM_LINE, plateBoxAround } from "../src/vision/plateRules.ts";
import { parseConfigText, ConfigError } from "../src/config.ts";

const ROOT = join(import.meta.dir, "..");
const BR = join(import.meta.dir, "../../shared/data/alpr/br");
const T = 120_000;

/** A distribution over PLATE_ALPHABET from a few entries. */
const dist = (m: Record<string, number>) => {
  const a = new Float32Array(36);
  for (const [c, p] of Object.entries(m)) a[PLATE_ALPHABET.indexOf(c)] = p;
  return a;
};
/** A reading whose every character was read with probability 0.95 and nothing else. */
const sure = (text: string) => ({ text, charProbs: [...text].map(() => 0.95), dists: [...text].map((c) => dist({ [c]: 0.95 })) });

describe("patterns and regions", () => {
  test("pattern notation: @ letter, # digit, sets, ranges, literals, separators, ? dropped, {m,n}", () => {
    const [p] = parsePattern("A[B-D]@-#?");
    expect(p.length).toBe(4);
    const allowed = (s: Uint8Array) => [...PLATE_ALPHABET].filter((_, k) => s[k]).join("");
    expect(allowed(p[0])).toBe("A");
    expect(allowed(p[1])).toBe("BCD");
    expect(allowed(p[2])).toBe("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    expect(allowed(p[3])).toBe("0123456789");
    expect(parsePattern("@{1,3}#").map((x) => x.length)).toEqual([2, 3, 4]);
    expect(() => parsePattern("[A-")).toThrow(RangeError);
    expect(() => parsePattern("@%")).toThrow(RangeError);
  });

  test("regions: files, areas, European country codes, lists; unknown names are errors", () => {
    expect(regionFormats("br").byLength.get(7)!.some((f) => f.pattern === "@@@-####")).toBe(true);
    // An area keeps the formats marked for every area: São Paulo's series and the Mercosur plate.
    expect(regionFormats("br-sp").byLength.get(7)!.map((f) => f.area).sort()).toContain("br-mercosur");
    expect(regionFormats("sk").count).toBe(1);
    expect(regionFormats("sk").byLength.get(7)![0].pattern).toBe("@@###@@");
    expect(regionFormats("de").byLength.has(8)).toBe(true);
    expect(regionFormats("de").byLength.has(10)).toBe(false);
    expect(regionFormats("DE, sk").count).toBe(regionFormats("de").count + 1);
    expect(regionFormats("eu").count).toBeGreaterThan(regionFormats("de").count + regionFormats("gb").count);
    expect(regionFormats("us-mo").byLength.get(6)!.some((f) => f.pattern === "@@#@#@")).toBe(true);
    expect(() => regionFormats("xx")).toThrow(/unknown plate region "xx"/);
    expect(() => regionFormats("us-zz")).toThrow(/unknown area "zz"/);
  });
});

describe("fitting a reading to the region's formats", () => {
  const br = regionFormats("br");

  test("the format decides letter or digit only where the reading disagrees with it", () => {
    // Read "AY09034" (O read as 0 at position 3, as with no region): LLL-DDDD makes it a letter.
    const r = sure("AY09034");
    r.dists[2] = dist({ "0": 0.6, O: 0.3, D: 0.05 });
    const f = fitFormats(r, br);
    expect(f.text).toBe("AYO9034");
    expect(f.format?.pattern).toBe("@@@-####");
    expect(f.charProbs.filter((p, i) => p !== r.charProbs[i]).length).toBe(1);
    // The same reading with no region is kept.
    expect(fitFormats(r, null).text).toBe("AY09034");
  });

  test("a confident look-alike (G for 6) is corrected; an unrelated character is not forced", () => {
    const g = sure("ABC12G4");
    g.dists[5] = dist({ G: 0.98, 6: 0.01 });
    expect(fitFormats(g, br).text).toBe("ABC1264");
    // K is no digit's look-alike: LLL-DDDD does not fit, nor does the Mercosur plate LLL-DLDD
    // (it would need the 2 to be a letter as well); the reading stays and its confidence drops.
    const k = sure("ABC12K4");
    k.dists[5] = dist({ K: 0.97, 4: 0.01 });
    k.dists[4] = dist({ 2: 0.97, Z: 0.01 });
    const f = fitFormats(k, br);
    expect(f.format).toBeNull();
    expect(f.text).toBe("ABC12K4");
    expect(f.confidence).toBeCloseTo(NO_FORMAT_CONFIDENCE * 0.95, 5);
    expect(0.01 / 0.97).toBeLessThan(FIT_MIN);
  });

  test("a reading of a length no format has is kept as read, with lower confidence", () => {
    const f = fitFormats(sure("NEILDMND"), regionFormats("us"));
    expect(f.text).toBe("NEILDMND");
    expect(f.format).toBeNull();
    expect(f.confidence).toBeLessThan(0.95);
  });

  test("an exact fit beats a fit that needs a look-alike swap", () => {
    // DBC123 fits @@@### as read; #@@### would need D -> 0.
    const f = fitFormats(sure("DBC123"), regionFormats("us"));
    expect(f.text).toBe("DBC123");
    expect(f.charProbs).toEqual([0.95, 0.95, 0.95, 0.95, 0.95, 0.95]);
  });
});

describe("the reader on real Brazilian plates (LLL-DDDD)", () => {
  afterAll(() => configureVision({ region: null }));
  const label = (name: string) => {
    const [file, x, y, w, h, plate] = readFileSync(join(BR, `${name}.txt`), "utf8").trim().split("\t");
    return { file: join(BR, file), box: [+x, +y, +w, +h] as Box, plate };
  };
  const isLetter = (c: string) => /[A-Z]/.test(c);

  test("region br changes a read only at a position where the format decides, and reads the label", async () => {
    let changed = 0;
    for (const name of ["AYO9034", "OKM2371", "OZU2104", "AZJ6991"]) {
      const l = label(name);
      const img = decodeImage(new Uint8Array(readFileSync(l.file)));
      configureVision({ region: null });
      const free = (await recognizePlate(img, l.box)).text;
      configureVision({ region: "br" });
      const fitted = (await recognizePlate(img, l.box)).text;
      expect(fitted).toBe(l.plate);
      expect(free.length).toBe(fitted.length);
      for (let i = 0; i < fitted.length; i++) {
        if (free[i] === fitted[i]) continue;
        changed++;
        // LLL-DDDD: positions 0-2 letters, 3-6 digits. A change puts the right kind there.
        expect(isLetter(fitted[i])).toBe(i < 3);
        expect(isLetter(free[i])).toBe(i >= 3);
      }
    }
    // Without a region the letter O of three of these plates reads as the digit 0.
    expect(changed).toBeGreaterThanOrEqual(3);
  }, T);
});

describe("tight plate boxes", () => {
  test("a registration line grows to its plate's edges with the region's plate aspect", () => {
    const line = { cx: 100, cy: 50, w: 60, h: 12, angle: 0, score: 1 };
    const [x, y, w, h] = plateBoxAround(line, 3.08, 0.15);
    expect(w).toBeCloseTo(PLATE_FROM_LINE.width * 60, 6);
    expect(h).toBeCloseTo(w / 3.08, 6);
    expect(x + w / 2).toBeCloseTo(100, 6);
    expect(y + h / 2).toBeCloseTo(50 - 0.15 * 12, 6);
    // Unknown aspect: the US plate's 2:1. A wide aspect never makes the plate lower than its characters.
    expect(plateBoxAround(line, null)[3]).toBeCloseTo(w / 2, 6);
    expect(plateBoxAround(line, 10)[3]).toBeCloseTo(PLATE_FROM_LINE.minHeight * 12, 6);
    // A tilted line gives the bounds of the tilted plate.
    const tilted = plateBoxAround({ ...line, angle: 0.2 }, 3.08, 0.15);
    expect(tilted[2]).toBeGreaterThan(w * Math.cos(0.2));
    expect(tilted[3]).toBeGreaterThan(h);
  });

  test("on a real Brazilian photo the plate read's box matches the labelled plate box", async () => {
    configureVision({ region: "br" });
    try {
      for (const name of ["AYO9034", "OKM2371"]) {
        const [file, x, y, w, h] = readFileSync(join(BR, `${name}.txt`), "utf8").trim().split("\t");
        const reads = await readPlates(decodeImage(new Uint8Array(readFileSync(join(BR, file)))));
        expect(reads[0].text).toBe(name);
        // The 2:1 search window around this plate reaches IoU 0.66 at best (3.08:1 plate).
        expect(iou(reads[0].box, [+x, +y, +w, +h])).toBeGreaterThan(0.75);
      }
    } finally {
      configureVision({ region: null });
    }
  }, T);
});

describe("configuration and command line", () => {
  test("[alpr] region is checked against the known regions", () => {
    expect(parseConfigText('[alpr]\nregion = "br"\n', "/tmp").alpr?.region).toBe("br");
    expect(parseConfigText('[alpr]\nregion = "de,sk"\n', "/tmp").alpr?.region).toBe("de,sk");
    expect(() => parseConfigText('[alpr]\nregion = "atlantis"\n', "/tmp")).toThrow(ConfigError);
    expect(() => parseConfigText('[alpr]\nregion = "atlantis"\n', "/tmp")).toThrow(/unknown plate region/);
  });

  const tmp = mkdtempSync(join(tmpdir(), "vision-formats-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const alpr = async (args: string[], env: Record<string, string> = {}) => {
    const proc = Bun.spawn([process.execPath, join(ROOT, "src/main.ts"), "alpr", ...args], { cwd: tmp, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { out, err, code };
  };

  test("dashcam alpr --region overrides the config's region for one run; an unknown region exits 2", async () => {
    const photo = join(BR, "AYO9034.jpg");
    const cfg = join(tmp, "dashcam.toml");
    writeFileSync(cfg, '[alpr]\nregion = "br"\n');
    const first = (out: string) => JSON.parse(out.trim()).plates[0].text as string;
    const fromConfig = await alpr(["--config", cfg, photo]);
    expect(fromConfig.code).toBe(0);
    expect(first(fromConfig.out)).toBe("AYO9034");
    const none = await alpr(["--region", "none", photo], { DASHCAM_CONFIG: cfg });
    expect(none.code).toBe(0);
    expect(first(none.out)).toBe("AY09034");
    const bad = await alpr(["--region", "atlantis", photo]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('unknown plate region "atlantis"');
    expect(bad.out).toBe("");
  }, T);
});
