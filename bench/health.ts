/**
 * Camera health analysis cost per 1280x720 frame: JPEG decode (mozjpeg, src/vision/image.ts)
 * and the image metrics (src/health/metrics.ts: luma, Immerkaer noise, downscale, Laplacian
 * variance, thumbnail) plus the assessment, on real frames of the highway clip cut by ffmpeg.
 * Prints median and p95 in ms over `RUNS` passes after a warm-up. Asserts nothing.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeImage } from "../src/vision/image.ts";
import { measureFrame } from "../src/health/metrics.ts";
import { assessCheck } from "../src/health/assess.ts";

const CLIP = join(import.meta.dir, "../../shared/data/video/highway-720p-25fps.mp4");
const RUNS = 200;
const dir = mkdtempSync(join(tmpdir(), "bench-health-"));
try {
  const p = Bun.spawn(["ffmpeg", "-v", "error", "-i", CLIP, "-vf", "select='not(mod(n\\,60))'", "-vsync", "vfr", "-q:v", "3", join(dir, "f_%03d.jpg")]);
  if ((await p.exited) !== 0) throw new Error("ffmpeg could not cut frames from the clip");
  const jpegs = readdirSync(dir).sort().map((f) => readFileSync(join(dir, f)));
  const decodeMs: number[] = [];
  const measureMs: number[] = [];
  const totalMs: number[] = [];
  const stream = { bitrateMbps: 1, baselineBitrateMbps: 1, fpsActual: 25, fpsNominal: 25, frameDrops: 0, latencyMs: 100 };
  for (let i = 0; i < RUNS + 20; i++) {
    const jpeg = jpegs[i % jpegs.length];
    const t0 = performance.now();
    const img = decodeImage(jpeg);
    const t1 = performance.now();
    const m = measureFrame(img);
    assessCheck({ frame: m, frameDifference: 1, identicalStreak: 0, stream });
    const t2 = performance.now();
    if (i >= 20) {
      decodeMs.push(t1 - t0);
      measureMs.push(t2 - t1);
      totalMs.push(t2 - t0);
    }
  }
  const q = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))].toFixed(1);
  console.log(`health analysis, 1280x720 JPEG frames of the highway clip, ${RUNS} runs over ${jpegs.length} frames`);
  console.log(`  decode (mozjpeg):        median ${q(decodeMs, 0.5)} ms, p95 ${q(decodeMs, 0.95)} ms`);
  console.log(`  metrics + assessment:    median ${q(measureMs, 0.5)} ms, p95 ${q(measureMs, 0.95)} ms`);
  console.log(`  total per frame:         median ${q(totalMs, 0.5)} ms, p95 ${q(totalMs, 0.95)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
