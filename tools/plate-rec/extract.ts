/**
 * Plate recogniser training data (offline tool): for every labelled plate of ../shared/data/alpr
 * (US photos and Brazilian photos: the labelled box; OCR crops: the whole crop) the
 * registration lines the reader finds in the box (stages.ts registrationLines, one per
 * detector scale; the box itself when none), each sampled as the recogniser's input
 * (stages.ts recognizerInput) at the horizontal stretches STRETCHES (augmentation; the reader
 * uses REC_STRETCH), run through PP-OCRv4 recognition up to its final layer.
 *
 * usage: bun tools/plate-rec/extract.ts FEATURES_MODEL.onnx OUT_DIR [--data DIR] [--sets us,br,crops] [--every K]
 *   FEATURES_MODEL.onnx: `onnx_head.py features` of the PP-OCRv4 recogniser.
 *   --sets: the labelled sets read (default all three); --every K: every K-th crop only.
 * Writes OUT_DIR/features.f32 (float32 [sum T, 120]) and OUT_DIR/samples.json: one entry per
 * sequence { set, file, plate, scale, stretch, T, offset }. Both grow as plates are read (a
 * plate's sequences are appended together), so an interrupted run keeps what it read, and a
 * run into a directory that has them continues after the plates already read.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { decodeImage, clipBox, type Box } from "../../src/vision/image.ts";
import { configureVision, getSession, ort } from "../../src/vision/runtime.ts";
import { recognizerInput, registrationLines, REC_HEIGHT } from "../../src/vision/stages.ts";

const { values, positionals } = parseArgs({ args: Bun.argv.slice(2), options: { data: { type: "string" }, sets: { type: "string" }, every: { type: "string" } }, allowPositionals: true });
if (positionals.length !== 2) {
  console.error("usage: bun tools/plate-rec/extract.ts FEATURES_MODEL.onnx OUT_DIR [--data DIR]");
  process.exit(2);
}
const [modelPath, outDir] = positionals;
const DATA = resolve(values.data ?? join(import.meta.dir, "../../../shared/data/alpr"));
/** Horizontal stretches sampled per line (the reader reads at 1.3). */
const STRETCHES = [1.3, 1.1, 1.5];

interface Sample { set: string; file: string; plate: string; box: Box | null }
const norm = (s: string) => s.toUpperCase().replace(/\s+/g, "");
const sets = new Set((values.sets ?? "us,br,crops").split(","));
const every = Number(values.every ?? 1);
const samples: Sample[] = [];
for (const set of ["us", "br"].filter((s) => sets.has(s))) {
  const dir = join(DATA, set);
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".txt")).sort())
    for (const l of readFileSync(join(dir, f), "utf8").split("\n").filter((l) => l.trim())) {
      const [file, x, y, w, h, plate] = l.split("\t");
      samples.push({ set, file: join(set, file), plate: norm(plate), box: [+x, +y, +w, +h] });
    }
}
const cropRows = sets.has("crops") ? readFileSync(join(DATA, "ocr-crops/groundtruth.csv"), "utf8").split("\n").filter((l) => l.trim() && !l.startsWith("file,")) : [];
for (const row of cropRows.filter((_, i) => i % every === 0)) {
  const [file, , plate] = row.split(",");
  samples.push({ set: "crops", file: join("ocr-crops/images", file), plate: norm(plate), box: null });
}

configureVision({ recModelPath: resolve(modelPath) });
const session = await getSession("rec");
const featName = session.outputNames.find((n) => n !== session.outputNames[0])!;
mkdirSync(outDir, { recursive: true });
const featPath = join(outDir, "features.f32"), indexPath = join(outDir, "samples.json");
const index: { set: string; file: string; plate: string; scale: number; stretch: number; T: number; offset: number }[] = existsSync(indexPath) ? JSON.parse(readFileSync(indexPath, "utf8")) : [];
const done = new Set(index.map((s) => s.file));
let offset = index.reduce((o, s) => Math.max(o, s.offset + s.T), 0);
if (existsSync(featPath) && statSync(featPath).size !== offset * 120 * 4) throw new Error(`${featPath} does not match ${indexPath}`);
const t0 = performance.now();
for (const [n, s] of samples.entries()) {
  if (done.has(s.file)) continue;
  const img = decodeImage(new Uint8Array(readFileSync(join(DATA, s.file))));
  const b = clipBox(s.box ?? [0, 0, img.width, img.height], img.width, img.height);
  let lines = await registrationLines(img, b);
  if (lines.length === 0) lines = [{ cx: b[0] + b[2] / 2, cy: b[1] + b[3] / 2, w: b[2], h: b[3], angle: 0, score: 0 }];
  const chunks: Float32Array[] = [];
  for (const [scale, line] of lines.entries())
    for (const stretch of STRETCHES) {
      const { data, W } = recognizerInput(img, line, stretch);
      const res = await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", data, [1, 3, REC_HEIGHT, W]) });
      const feat = res[featName];
      const [, T, D] = feat.dims as number[];
      if (D !== 120) throw new Error(`features of width ${D}, expected 120`);
      chunks.push(Float32Array.from(feat.data as Float32Array));
      index.push({ set: s.set, file: s.file, plate: s.plate, scale, stretch, T, offset });
      offset += T;
    }
  for (const c of chunks) appendFileSync(featPath, new Uint8Array(c.buffer));
  writeFileSync(indexPath, JSON.stringify(index));
  if (n % 50 === 49) console.log(`${n + 1}/${samples.length} plates, ${index.length} sequences, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
console.log(`${index.length} sequences (${offset} steps) of ${new Set(index.map((s) => s.file)).size} plates in ${outDir}`);
