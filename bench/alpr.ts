/**
 * ALPR accuracy and speed on real data (read in place from ../shared/data/alpr), each set
 * reported separately with two scores: exact (read == label, ignoring case and spaces) and
 * folded (O/0 and I/1 counted as one character, the look-alikes the labels themselves mix up):
 *
 * - US photos (`us/`, photos + `<name>.txt` labels `file\tx\ty\tw\th\tPLATE`), end to end:
 *   first plate read vs label, and detection rate (some plate box has IoU >= 0.5 with the
 *   labelled box);
 * - US crops (`ocr-crops/`, groundtruth.csv `file,state,plate`): the whole crop is the plate box;
 * - Brazil photos (`br/`, same format as `us/`), end to end;
 * - speed at 1280x720: frames/s end to end (JPEG bytes in, plate reads out, decoding included)
 *   with a pool of 1 and of 2 workers, and mean ms per stage.
 *
 * Plate formats (`--region`): `auto` (default) reads the Brazilian set with Brazil's formats and
 * the US sets without formats (the US formats measured worse on both US sets: see
 * src/vision/formats/us.toml), `none` reads every set without formats, any other value
 * (formats.ts regionFormats) is used for every set.
 *
 * usage: bun bench/alpr.ts [--limit N] [--every K] [--only us,crops,br,speed] [--vehicle-model FILE]
 *                          [--region auto|none|SPEC]
 *                          [--detector-side PX] [--det-model FILE] [--rec-model FILE] [--rec-dict FILE]
 *                          [--plate-head FILE|none | --plate-head-folds DIR] [--plate-head-mix W]
 *                          [--speed-frames N] [--verbose] [--dump FILE]
 * Prints numbers; asserts nothing. Thresholds are never tuned per image.
 */
import { parseArgs } from "node:util";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { cpus, loadavg } from "node:os";
import { decodeImage, iou, jpegFrameSize, type Box } from "../src/vision/image.ts";
import { configureVision, readPlates } from "../src/vision/reader.ts";
import { visionOptions } from "../src/vision/runtime.ts";
import { recognizePlate, stageTimes } from "../src/vision/stages.ts";
import { createVisionPool } from "../src/vision/pool.ts";
import { missTable, photoMissClass, textMissClass, type MissClass } from "./alprMisses.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    limit: { type: "string" },
    every: { type: "string" },
    only: { type: "string" },
    "vehicle-model": { type: "string" },
    "detector-side": { type: "string" },
    "det-model": { type: "string" },
    "rec-model": { type: "string" },
    "rec-dict": { type: "string" },
    region: { type: "string" },
    "speed-frames": { type: "string" },
    data: { type: "string" },
    dump: { type: "string" },
    "plate-head": { type: "string" },
    "plate-head-folds": { type: "string" },
    "plate-head-mix": { type: "string" },
    verbose: { type: "boolean", short: "v" },
  },
});
const DATA = resolve(values.data ?? join(import.meta.dir, "../../shared/data/alpr"));
const limit = values.limit ? Number(values.limit) : Infinity;
/** `--every K`: take every K-th item (a spread-out subset for quick runs). */
const every = values.every ? Number(values.every) : 1;
const sample = <T>(xs: T[]) => xs.filter((_, i) => i % every === 0).slice(0, limit);
// "e2e" is the former name of the US photo set.
const only = new Set((values.only ?? "us,crops,br,speed").split(",").map((x) => (x === "e2e" ? "us" : x)));
const vehicleModelPath = values["vehicle-model"] ?? null;
const detectorSide = values["detector-side"] ? Number(values["detector-side"]) : undefined;
const verbose = !!values.verbose;
const models = { detModelPath: values["det-model"] ?? null, recModelPath: values["rec-model"] ?? null, recKeysPath: values["rec-dict"] ?? null };
const regionArg = values.region ?? "auto";
const plateHeadMix = values["plate-head-mix"] ? Number(values["plate-head-mix"]) : undefined;
/**
 * The plate head (runtime.ts plateHeadPath). By default the sets are read with the fold heads
 * of tools/plate-rec/heads (`train.py folds`, made with the embedded head): fold<f>.onnx was
 * trained without the plates of fold f (CRC-32 of the labelled registration text, modulo the
 * fold count), and each plate is read with the head of its own fold, so no plate is read by a
 * head that saw that registration in training; the speed part uses the embedded head. `--plate-head-folds DIR`
 * takes other fold heads, `--plate-head FILE` one head for everything (only for data it was
 * not trained on), `--plate-head none` reads without a head.
 */
const headArg = values["plate-head"] ?? null;
const foldDir = headArg || models.recModelPath ? null : resolve(values["plate-head-folds"] ?? join(import.meta.dir, "../tools/plate-rec/heads"));
const foldCount = foldDir ? readdirSync(foldDir).filter((f) => /^fold\d+\.onnx$/.test(f)).length : 0;
if (foldDir && foldCount < 2) throw new Error(`${foldDir}: no fold<f>.onnx heads`);
/** Sets the plate head a labelled plate (its registration text, A-Z 0-9) is read with. */
const headFor = (plate: string) => {
  if (foldDir) configureVision({ plateHeadPath: join(foldDir, `fold${Bun.hash.crc32(plate) % foldCount}.onnx`) });
};
const plateHead = {
  ...(headArg ? { plateHeadPath: headArg === "none" ? null : resolve(headArg) } : {}),
  ...(plateHeadMix !== undefined ? { plateHeadMix } : {}),
};
/** The plate region a set of `country` is read with (see --region). */
const regionFor = (country: string): string | null => (regionArg === "auto" ? (country === "us" ? null : country) : regionArg === "none" ? null : regionArg);
configureVision({ vehicleModelPath, detectorSide, ...models, ...plateHead });
const visionOptionsAtStart = visionOptions();

const norm = (s: string) => s.toUpperCase().replace(/\s+/g, "");
/** O/0 and I/1 folded: the score that forgives the look-alikes. */
const fold = (s: string) => s.replace(/O/g, "0").replace(/I/g, "1");
/** `--dump FILE`: every item's label and reads as JSON lines, for comparing runs item by item. */
const dump: string[] = [];
const pct = (a: number, b: number) => (b ? ((100 * a) / b).toFixed(1) : "n/a") + " %";

interface Label { file: string; box: Box; plate: string }
function photoLabels(set: string): Label[] {
  const dir = join(DATA, set);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".txt"))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, f), "utf8").split("\n").filter((l) => l.trim()).map((l) => {
        const [file, x, y, w, h, plate] = l.split("\t");
        return { file: join(dir, file), box: [+x, +y, +w, +h] as Box, plate: norm(plate) };
      }),
    );
}
const usLabels = () => photoLabels("us");

const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(`ALPR bench — data ${DATA}, vehicle model ${vehicleModelPath ?? "none"}, detector side ${detectorSide ?? 960} px, region ${regionArg}, ${models.recModelPath ? `rec ${models.recModelPath}, ` : ""}${foldDir ? `plate head per fold ${foldDir} (${foldCount} folds), ` : `plate head ${headArg ?? "none"}, `}${plateHeadMix !== undefined ? `mix ${plateHeadMix}, ` : ""}${cpus().length} CPUs, load average ${load()}`);

/** End to end over a photo set: exact and folded first-plate reads, detection rate. */
async function photoSet(set: string, title: string): Promise<void> {
  const region = regionFor(set);
  configureVision({ region });
  const labels = sample(photoLabels(set));
  let exact = 0, folded = 0, detected = 0, anyRead = 0;
  const misses: MissClass[] = [];
  const t0 = performance.now();
  for (const l of labels) {
    const img = decodeImage(new Uint8Array(readFileSync(l.file)));
    headFor(l.plate);
    const reads = await readPlates(img);
    const first = reads[0]?.text ?? "";
    const ok = first === l.plate;
    const bestIou = Math.max(0, ...reads.map((r) => iou(r.box, l.box)));
    if (ok) exact++;
    if (fold(first) === fold(l.plate)) folded++;
    if (bestIou >= 0.5) detected++;
    if (reads.some((r) => r.text === l.plate)) anyRead++;
    const miss = ok ? null : photoMissClass(l.plate, l.box, reads);
    if (miss) misses.push(miss);
    if (values.dump) dump.push(JSON.stringify({ set, file: l.file.split("/").pop(), label: l.plate, box: l.box, miss, reads: reads.map((r) => ({ text: r.text, confidence: r.confidence, box: r.box })) }));
    if (verbose && !ok)
      console.log(`  miss ${l.file.split("/").pop()} [${miss}] want ${l.plate} got [${reads.map((r) => `${r.text}:${r.confidence.toFixed(2)}@${r.box.join(",")}`).join(" ")}] label box ${l.box.join(",")} iou ${bestIou.toFixed(2)}`);
  }
  const ms = performance.now() - t0;
  console.log(`${title} (${set}/, ${labels.length} photos, region ${region ?? "none"}):`);
  console.log(`  exact match (first plate)   ${pct(exact, labels.length)}  (${exact}/${labels.length})`);
  console.log(`  O/0 and I/1 folded          ${pct(folded, labels.length)}  (${folded}/${labels.length})`);
  console.log(`  plate among reads           ${pct(anyRead, labels.length)}`);
  console.log(`  detection rate (IoU >= 0.5) ${pct(detected, labels.length)}  (${detected}/${labels.length})`);
  console.log(`  ${(ms / labels.length).toFixed(0)} ms/photo in-process, any size`);
  console.log(`  misses by class (bench/alprMisses.ts):`);
  for (const line of missTable(misses)) console.log(line);
}

if (only.has("us")) await photoSet("us", "US photos, end to end");

if (only.has("crops")) {
  const region = regionFor("us");
  configureVision({ region });
  const dir = join(DATA, "ocr-crops");
  const allRows = readFileSync(join(dir, "groundtruth.csv"), "utf8").split("\n").filter((l) => l.trim() && !l.startsWith("file,"));
  const rows = sample(allRows);
  let ok = 0, folded = 0, bad = 0;
  const misses: MissClass[] = [];
  for (const row of rows) {
    const [file, state, plate] = row.split(",");
    let text = "";
    try {
      const img = decodeImage(new Uint8Array(readFileSync(join(dir, "images", file))));
      headFor(norm(plate));
      text = (await recognizePlate(img, [0, 0, img.width, img.height])).text;
    } catch (err) {
      bad++;
      text = `<error ${(err as Error).message}>`;
    }
    const miss = text === norm(plate) ? null : textMissClass(norm(plate), text);
    if (miss) misses.push(miss);
    if (values.dump) dump.push(JSON.stringify({ set: "crops", file, label: norm(plate), miss, reads: [{ text }] }));
    if (!miss) ok++;
    else if (verbose) console.log(`  miss ${file} (${state}) [${miss}] want ${norm(plate)} got ${text}`);
    if (fold(text) === fold(norm(plate))) folded++;
  }
  console.log(`US crops, OCR (ocr-crops/, ${rows.length} plates, region ${region ?? "none"}):`);
  console.log(`  exact match                 ${pct(ok, rows.length)}  (${ok}/${rows.length}${bad ? `, ${bad} unreadable files` : ""})`);
  console.log(`  O/0 and I/1 folded          ${pct(folded, rows.length)}  (${folded}/${rows.length})`);
  console.log(`  misses by class (bench/alprMisses.ts; no boxes: text classes only):`);
  for (const line of missTable(misses)) console.log(line);
}

if (only.has("br")) await photoSet("br", "Brazil photos, end to end");

if (values.dump) writeFileSync(values.dump, dump.join("\n") + "\n");

if (only.has("speed")) {
  const frames = usLabels()
    .map((l) => l.file)
    .filter((f) => {
      const size = jpegFrameSize(readFileSync(f));
      return size?.width === 1280 && size.height === 720;
    })
    .slice(0, Math.min(limit, values["speed-frames"] ? Number(values["speed-frames"]) : 40));
  const bytes = frames.map((f) => new Uint8Array(readFileSync(f)));
  const region = regionFor("us");
  // The speed part reads with the head the product reads with (or --plate-head's).
  configureVision({ region, plateHeadPath: visionOptionsAtStart.plateHeadPath ?? null });
  console.log(`speed (${bytes.length} real 1280x720 JPEG frames, decode included, region ${region ?? "none"}):`);
  // Stage times in this thread (sequential).
  for (const k of Object.keys(stageTimes)) delete stageTimes[k];
  await readPlates(decodeImage(bytes[0])); // warm-up
  for (const k of Object.keys(stageTimes)) delete stageTimes[k];
  let decodeMs = 0;
  const t0 = performance.now();
  for (const b of bytes) {
    const td = performance.now();
    const img = decodeImage(b);
    decodeMs += performance.now() - td;
    await readPlates(img);
  }
  const seq = performance.now() - t0;
  console.log(`  in-process, 1 thread: ${((1000 * bytes.length) / seq).toFixed(2)} frames/s, ${(seq / bytes.length).toFixed(0)} ms/frame`);
  console.log(`    decode ${(decodeMs / bytes.length).toFixed(1)} ms/frame`);
  for (const [k, v] of Object.entries(stageTimes))
    console.log(`    ${k.padEnd(16)} ${(v.ms / bytes.length).toFixed(1)} ms/frame (${(v.calls / bytes.length).toFixed(2)} calls/frame, ${(v.ms / v.calls).toFixed(1)} ms/call)`);
  for (const workers of [1, 2]) {
    const pool = createVisionPool({ workers, vehicleModelPath, detectorSide, ...models, plateHeadPath: visionOptionsAtStart.plateHeadPath ?? null, ...(plateHeadMix !== undefined ? { plateHeadMix } : {}), region });
    await Promise.all(Array.from({ length: workers }, () => pool.readPlatesFromBytes(bytes[0]))); // load models
    const t1 = performance.now();
    await Promise.all(bytes.map((b) => pool.readPlatesFromBytes(b)));
    const wall = performance.now() - t1;
    await pool.close();
    console.log(`  pool of ${workers} worker${workers > 1 ? "s" : ""}: ${((1000 * bytes.length) / wall).toFixed(2)} frames/s`);
  }
  console.log(`  (load average at the end: ${load()}; other processes on the machine slow every number)`);
}
