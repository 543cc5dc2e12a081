/**
 * Timelapse render benchmark: N real 1280x720 stills (frames of
 * ../shared/data/video/highway-720p-25fps.mp4, JPEG q 3, as the capturer stores them) rendered
 * by `renderTimelapse` (src/media/timelapse.ts: ffconcat of the files, libx264 yuv420p,
 * faststart) with and without the day-counter overlay (a new day every 24 frames), with each
 * x264 preset given. Prints frames, wall time, frames/s, the CPU time ffmpeg used (user + system,
 * from /proc/self/stat's children fields: steadier than wall time on a shared machine) and
 * frames per CPU second, and the MP4 size for each.
 *
 * usage: bun bench/timelapse.ts [--frames N] [--presets veryfast,superfast,ultrafast] [--ffmpeg PATH]
 * (default 600 frames, veryfast and ultrafast; ffmpeg as the runtime resolves it). Asserts nothing.
 */
import { parseArgs } from "node:util";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderTimelapse, DEFAULT_OVERLAY } from "../src/media/timelapse.ts";
import { resolveFfmpeg, runFfmpeg } from "../src/media/ffmpeg.ts";
import type { BatchFrame } from "../src/db/timelapse.ts";

const CLIP = join(import.meta.dir, "../../shared/data/video/highway-720p-25fps.mp4");
const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { frames: { type: "string" }, presets: { type: "string" }, ffmpeg: { type: "string" } },
});
const N = Number(values.frames ?? 600);
const presets = (values.presets ?? "veryfast,ultrafast").split(",");
if (values.ffmpeg) process.env.FFMPEG_PATH = values.ffmpeg;

/** CPU seconds used by this process's finished children (cutime + cstime of /proc/self/stat). */
function childCpuSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): cutime is field 16, cstime field 17, in clock ticks (100 Hz)
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

const dir = mkdtempSync(join(tmpdir(), "dashcam-bench-tl-"));
try {
  const imgDir = join(dir, "timelapse/images/bench/2026-01-01");
  mkdirSync(imgDir, { recursive: true });
  const fps = Math.max(1, Math.ceil(N / 50));
  const t0 = performance.now();
  const ex = await runFfmpeg(["-v", "error", "-i", CLIP, "-vf", `fps=${fps}`, "-frames:v", String(N), "-q:v", "3", join(imgDir, "%05d.jpg")]);
  if (ex.code !== 0) throw new Error(`extracting frames failed: ${ex.stderr}`);
  const frames: BatchFrame[] = Array.from({ length: N }, (_, i) => ({
    image_id: i + 1,
    file_path: `timelapse/images/bench/2026-01-01/${String(i + 1).padStart(5, "0")}.jpg`,
    day_number: 1 + Math.floor(i / 24),
    width: 1280,
    height: 720,
    captured_at: i * 3_600_000,
  }));
  console.log(`ffmpeg ${resolveFfmpeg()}; ${N} stills 1280x720 extracted in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log("preset      overlay  frames  seconds  frames/s  cpu s  frames/cpu-s  MB");
  for (const preset of presets) {
    for (const overlay of [true, false]) {
      const t = performance.now();
      const cpu0 = childCpuSeconds();
      const r = await renderTimelapse({
        dataDir: dir,
        relPath: `timelapse/videos/bench/${preset}-${overlay ? "overlay" : "plain"}.mp4`,
        frames,
        frameRate: 30,
        overlay: overlay ? DEFAULT_OVERLAY : null,
        preset,
      });
      const s = (performance.now() - t) / 1000;
      const cpu = childCpuSeconds() - cpu0;
      console.log(
        `${preset.padEnd(11)} ${String(overlay).padEnd(8)} ${String(r.frames).padStart(6)}  ${s.toFixed(2).padStart(7)}  ${(r.frames / s).toFixed(1).padStart(8)}  ${cpu.toFixed(2).padStart(5)}  ${(r.frames / cpu).toFixed(1).padStart(12)}  ${(r.bytes / 1e6).toFixed(1)}`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
