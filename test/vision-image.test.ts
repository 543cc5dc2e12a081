/** Image decoding and handling on real files from ../shared (read in place) and broken copies in memory. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cropImage, decodeImage, encodeJpeg, ImageDecodeError, iou, sampleToTensor } from "../src/vision/image.ts";

const SHARED = join(import.meta.dir, "../../shared/data/alpr");
const jpg = new Uint8Array(readFileSync(join(SHARED, "us/car11.jpg")));
const png = new Uint8Array(readFileSync(join(SHARED, "ocr-crops/images/ak1165.png")));

describe("decodeImage", () => {
  test("decodes a real JPEG and PNG to RGB", () => {
    const a = decodeImage(jpg);
    expect(a.width).toBeGreaterThan(100);
    expect(a.data.length).toBe(a.width * a.height * 3);
    const b = decodeImage(png);
    expect(b.data.length).toBe(b.width * b.height * 3);
    // The Alaska crop is mostly yellow/white: red and green well above blue on average.
    let r = 0, bl = 0;
    for (let i = 0; i < b.data.length; i += 3) {
      r += b.data[i];
      bl += b.data[i + 2];
    }
    expect(r).toBeGreaterThan(bl);
  });

  test("binary PPM decodes as the same pixels", () => {
    const img = decodeImage(png);
    const header = new TextEncoder().encode(`P6\n# made by the test\n${img.width} ${img.height}\n255\n`);
    const ppm = new Uint8Array(header.length + img.data.length);
    ppm.set(header);
    ppm.set(img.data, header.length);
    const back = decodeImage(ppm);
    expect(back.width).toBe(img.width);
    expect(back.data).toEqual(img.data);
    expect(() => decodeImage(ppm.subarray(0, ppm.length - 10))).toThrow(/truncated PPM/);
  });

  const cases: [string, Uint8Array, RegExp][] = [
    ["zero bytes", new Uint8Array(0), /empty file/],
    ["truncated JPEG", jpg.subarray(0, Math.floor(jpg.length / 2)), /truncated JPEG/],
    ["corrupt JPEG body", (() => {
      const b = jpg.slice();
      for (let i = 600; i < b.length - 2; i += 7) b[i] = (b[i] * 31 + 7) & 0xff; // scramble scan data and tables
      return b;
    })(), /JPEG/],
    ["JPEG header only", new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), /JPEG/],
    ["truncated PNG", png.subarray(0, Math.floor(png.length / 2)), /PNG/],
    ["not an image", new TextEncoder().encode("hello, world"), /not a JPEG, PNG or PPM/],
    ["zero-size PPM", new TextEncoder().encode("P6\n0 0\n255\n"), /zero-size/],
  ];
  for (const [name, bytes, msg] of cases) {
    test(`${name} -> ImageDecodeError`, () => {
      let err: unknown;
      try {
        decodeImage(bytes);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ImageDecodeError);
      expect(String((err as Error).message)).toMatch(msg);
    });
  }
});

describe("crop, encode, sample", () => {
  test("crop is clipped to the image and copies the right pixels", () => {
    const img = decodeImage(png);
    const c = cropImage(img, [10, 20, 30, 40]);
    expect([c.width, c.height]).toEqual([30, 40]);
    const src = ((20 + 5) * img.width + 10 + 7) * 3;
    expect([...c.data.subarray((5 * 30 + 7) * 3, (5 * 30 + 7) * 3 + 3)]).toEqual([...img.data.subarray(src, src + 3)]);
    const edge = cropImage(img, [img.width - 10, -5, 50, 20]);
    expect([edge.width, edge.height]).toEqual([10, 15]);
    expect(() => cropImage(img, [img.width + 5, 0, 10, 10])).toThrow(RangeError);
  });

  test("JPEG encoding round-trips size and approximate colour", () => {
    const img = decodeImage(png);
    const back = decodeImage(encodeJpeg(img, 90));
    expect([back.width, back.height]).toEqual([img.width, img.height]);
    let diff = 0;
    for (let i = 0; i < img.data.length; i++) diff += Math.abs(img.data[i] - back.data[i]);
    expect(diff / img.data.length).toBeLessThan(8);
  });

  test("area resampling preserves the mean; padding fills outside", () => {
    const img = { width: 4, height: 2, data: new Uint8Array([0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255]) };
    const id = { mean: [0, 0, 0] as [number, number, number], std: [1 / 255, 1 / 255, 1 / 255] as [number, number, number], order: "rgb" as const };
    const t = sampleToTensor(img, [0, 0, 4, 2], 2, 1, id); // 2x shrink: each output averages a black and a white column
    expect(t[0]).toBeCloseTo(127.5, 3);
    expect(t[1]).toBeCloseTo(127.5, 3);
    const p = sampleToTensor(img, [-10, 0, 4, 2], 2, 1, { ...id, pad: 100 });
    expect(p[0]).toBeCloseTo(100, 3);
  });

  test("IoU", () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [5, 0, 10, 10])).toBeCloseTo(1 / 3, 6);
    expect(iou([0, 0, 10, 10], [20, 20, 5, 5])).toBe(0);
  });
});
