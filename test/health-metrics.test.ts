/**
 * Camera health image metrics (src/health/metrics.ts) and their judgement (src/health/assess.ts)
 * on real pictures: frames of the highway clip cut by real ffmpeg, and ffmpeg-made degraded
 * versions of the same frames (darkened, overexposed, noise added, Gaussian blur) plus solid
 * colours standing for a covered lens. Every degraded class must raise its anomaly, every clean
 * frame none. The stream-side anomalies (low_fps, bitrate_drop, no_signal) and the frozen
 * streak are checked on the pure assessment.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeImage } from "../src/vision/image.ts";
import { frameDifference, immerkaerNoise, laplacianVariance, measureFrame, toLuma, type FrameMetrics } from "../src/health/metrics.ts";
import { assessCheck, DEFAULT_THRESHOLDS, type StreamMetrics } from "../src/health/assess.ts";
import { HIGHWAY_CLIP } from "./helpers/rtsp.ts";
import { FFMPEG_BIN } from "./helpers/media.ts";

const dir = mkdtempSync(join(tmpdir(), "dashcam-health-"));

/** Frames 0, 40, ..., 240 and two from later in the clip. */
const SELECT = "select='not(mod(n\\,40))*lt(n\\,270)+eq(n\\,500)+eq(n\\,1000)'";
const CLASSES: Record<string, string> = {
  clean: "",
  dark: ",lutyuv=y=val*0.18",
  over: ",eq=brightness=0.45",
  noise: ",noise=alls=30:allf=t",
  blur: ",gblur=sigma=4",
};
const COVER_COLOURS = ["black", "gray", "0xd2a07a", "0x2040a0"];

async function ffmpeg(args: string[]): Promise<void> {
  const p = Bun.spawn([FFMPEG_BIN, "-v", "error", "-y", ...args], { stderr: "pipe" });
  const code = await p.exited;
  if (code !== 0) throw new Error(`ffmpeg ${args.join(" ")} failed: ${await new Response(p.stderr).text()}`);
}

const metrics = new Map<string, FrameMetrics[]>();
const load = (prefix: string) =>
  readdirSync(dir)
    .filter((f) => f.startsWith(`${prefix}_`))
    .sort()
    .map((f) => measureFrame(decodeImage(readFileSync(join(dir, f)))));

beforeAll(async () => {
  await Promise.all(
    Object.entries(CLASSES).map(([name, filter]) =>
      ffmpeg(["-i", HIGHWAY_CLIP, "-vf", `${SELECT}${filter}`, "-vsync", "vfr", "-q:v", "3", join(dir, `${name}_%02d.jpg`)]),
    ),
  );
  for (const c of COVER_COLOURS) await ffmpeg(["-f", "lavfi", "-i", `color=c=${c}:s=1280x720`, "-frames:v", "1", "-q:v", "3", join(dir, `covered_${c}.jpg`)]);
  for (const name of [...Object.keys(CLASSES), "covered"]) metrics.set(name, load(name));
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const noStream: StreamMetrics = { bitrateMbps: null, baselineBitrateMbps: null, fpsActual: null, fpsNominal: null, frameDrops: null, latencyMs: null };
const typesOf = (m: FrameMetrics) => assessCheck({ frame: m, frameDifference: null, identicalStreak: 0, stream: noStream }).anomalies.map((a) => a.type);

describe("image metrics on the highway clip", () => {
  test("every class has its frames (9 each, 4 covered)", () => {
    for (const name of Object.keys(CLASSES)) expect(metrics.get(name)!.length).toBe(9);
    expect(metrics.get("covered")!.length).toBe(4);
  });

  test("clean frames raise no anomaly", () => {
    for (const m of metrics.get("clean")!) {
      expect(typesOf(m)).toEqual([]);
      expect(m.width).toBe(1280);
      expect(m.height).toBe(720);
    }
  });

  test.each([
    ["dark", "too_dark"],
    ["over", "overexposed"],
    ["noise", "high_noise"],
    ["blur", "blurry"],
    ["covered", "obstructed"],
  ])("%s frames raise %s", (name, anomaly) => {
    for (const m of metrics.get(name)!) expect(typesOf(m) as string[]).toContain(anomaly);
  });

  test("each measure moves the right way against the clean frame", () => {
    const [clean, dark, over, noise, blur] = ["clean", "dark", "over", "noise", "blur"].map((n) => metrics.get(n)![0]);
    expect(dark.meanBrightness).toBeLessThan(clean.meanBrightness / 3);
    expect(over.meanBrightness).toBeGreaterThan(clean.meanBrightness + 80);
    expect(noise.noiseLevel).toBeGreaterThan(clean.noiseLevel * 10);
    expect(blur.blurScore).toBeLessThan(clean.blurScore / 10);
    for (const c of metrics.get("covered")!) expect(c.lumaStdDev).toBeLessThan(1);
    expect(clean.lumaStdDev).toBeGreaterThan(20);
  });
});

describe("measures on synthetic images", () => {
  const grey = (w: number, h: number, f: (x: number, y: number) => number) => {
    const data = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = Math.max(0, Math.min(255, Math.round(f(x, y))));
    return { width: w, height: h, data };
  };

  test("Immerkaer's estimate recovers the sigma of added Gaussian noise (within 15 %) and ignores a ramp", () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
    for (const sigma of [5, 10, 20]) {
      const img = grey(640, 360, () => 128 + sigma * gauss());
      expect(Math.abs(immerkaerNoise(img) - sigma) / sigma).toBeLessThan(0.15);
    }
    expect(immerkaerNoise(grey(640, 360, (x, y) => x * 0.2 + y * 0.3))).toBeLessThan(0.5);
  });

  test("the Laplacian variance is 0 for a flat image and high for a checkerboard", () => {
    expect(laplacianVariance(grey(64, 64, () => 90))).toBe(0);
    expect(laplacianVariance(grey(64, 64, (x, y) => ((x + y) % 2 ? 200 : 50)))).toBeGreaterThan(10_000);
  });

  test("frameDifference: 0 for the same thumbnail, the mean gap otherwise, RangeError on a size change", () => {
    const a = grey(16, 9, () => 100);
    const b = grey(16, 9, () => 103);
    expect(frameDifference(a, a)).toBe(0);
    expect(frameDifference(a, b)).toBe(3);
    expect(() => frameDifference(a, grey(8, 9, () => 1))).toThrow(RangeError);
  });

  test("toLuma uses BT.601 weights", () => {
    const px = (r: number, g: number, b: number) => toLuma({ width: 1, height: 1, data: new Uint8Array([r, g, b]) }).data[0];
    expect(px(255, 0, 0)).toBe(76);
    expect(px(0, 255, 0)).toBe(150);
    expect(px(0, 0, 255)).toBe(29);
    expect(px(200, 200, 200)).toBe(200);
  });
});

describe("assessment", () => {
  const clean = () => metrics.get("clean")![0];

  test("the same picture is frozen at the third snapshot, not before, and a change resets the streak", () => {
    const t = DEFAULT_THRESHOLDS;
    const first = assessCheck({ frame: clean(), frameDifference: null, identicalStreak: 0, stream: noStream }, t);
    expect(first.identicalStreak).toBe(0);
    const second = assessCheck({ frame: clean(), frameDifference: 0, identicalStreak: first.identicalStreak, stream: noStream }, t);
    expect(second.anomalies.map((a) => a.type)).not.toContain("frozen");
    const third = assessCheck({ frame: clean(), frameDifference: 0.01, identicalStreak: second.identicalStreak, stream: noStream }, t);
    expect(third.anomalies).toContainEqual(expect.objectContaining({ type: "frozen", severity: "high" }));
    expect(third.status).toBe("critical");
    const moved = assessCheck({ frame: clean(), frameDifference: 6, identicalStreak: third.identicalStreak, stream: noStream }, t);
    expect(moved.identicalStreak).toBe(0);
    expect(moved.status).toBe("ok");
  });

  test("no frame: no_signal (critical), no snapshot metrics, stream metrics still written", () => {
    const a = assessCheck({ frame: null, frameError: "timeout", frameDifference: null, identicalStreak: 2, stream: { ...noStream, bitrateMbps: 1.5 } });
    expect(a.status).toBe("critical");
    expect(a.healthMetrics).toBeNull();
    expect(a.anomalies).toEqual([{ type: "no_signal", severity: "high", message: "no picture from the camera: timeout" }]);
    expect(a.metrics).toEqual([{ type: "bitrate_mbps", value: 1.5, status: "ok" }]);
  });

  test("low_fps and bitrate_drop against the declared rate and the 24 h mean", () => {
    const stream: StreamMetrics = { bitrateMbps: 0.9, baselineBitrateMbps: 2, fpsActual: 18, fpsNominal: 25, frameDrops: 175, latencyMs: 800 };
    const a = assessCheck({ frame: clean(), frameDifference: 5, identicalStreak: 0, stream });
    expect(a.anomalies.map((x) => [x.type, x.severity])).toEqual([
      ["bitrate_drop", "medium"],
      ["low_fps", "medium"],
    ]);
    expect(a.status).toBe("warning");
    const types = Object.fromEntries(a.metrics.map((m) => [m.type, m.status]));
    expect(types).toEqual({ brightness: "ok", noise_level: "ok", blur_score: "ok", bitrate_mbps: "warning", fps_actual: "warning", frame_drops: "warning", latency_ms: "ok" });
    const worse = assessCheck({ frame: clean(), frameDifference: 5, identicalStreak: 0, stream: { ...stream, bitrateMbps: 0.2, fpsActual: 10 } });
    expect(worse.anomalies.map((x) => [x.type, x.severity])).toEqual([
      ["bitrate_drop", "high"],
      ["low_fps", "high"],
    ]);
    const fine = assessCheck({ frame: clean(), frameDifference: 5, identicalStreak: 0, stream: { ...stream, bitrateMbps: 1.9, fpsActual: 25, frameDrops: 0 } });
    expect(fine.anomalies).toEqual([]);
  });

  test("the seed's JSON shape: exposure/noise/motionBlur with status and value", () => {
    const a = assessCheck({ frame: metrics.get("noise")![0], frameDifference: null, identicalStreak: 0, stream: noStream });
    expect(a.healthMetrics!.exposure).toEqual({ status: "ok", meanBrightness: expect.any(Number) });
    expect(a.healthMetrics!.noise.status).toBe("critical");
    expect(a.healthMetrics!.noise.noiseLevel).toBeGreaterThan(15);
    expect(a.healthMetrics!.motionBlur).toEqual({ status: "ok", blurScore: expect.any(Number) });
    expect(a.anomalies[0]).toEqual({ type: "high_noise", severity: "high", message: expect.stringContaining("noise") });
  });
});
