/**
 * Live hub and current-frame service costs (prints numbers, asserts nothing):
 *
 * 1. hub fan-out: the highway clip's MPEG-TS (1280x720, keyframe every 10 s) pushed
 *    in 64 KiB pieces into one hub with 0, 1, 4 and 16 viewers (sinks that only count bytes):
 *    MB/s of stream the hub handles on one core, i.e. how little of the event loop a camera costs;
 * 2. one current frame (`LiveFrameService.current`: decode the cached GOP up to its newest
 *    complete frame, JPEG of that one) as a function of how many frames the GOP cache holds:
 *    the highway clip (720p, 10 s GOP) cut after 1, 5 and 10 s of its GOP, and the same footage
 *    re-encoded with a 1 s GOP (what dashcam's own sources send).
 *
 * `bun bench/live.ts`; the clip is read in place from ../shared/data/video.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LiveHub, LiveHubs, type LiveSink } from "../src/media/liveHub.ts";
import { LiveFrameService } from "../src/media/currentFrameService.ts";
import { runFfmpeg } from "../src/media/ffmpeg.ts";

const CLIP = join(import.meta.dir, "../../shared/data/video/highway-720p-25fps.mp4");
const FFMPEG = process.env.FFMPEG_PATH ?? "/usr/bin/ffmpeg";
const dir = mkdtempSync(join(tmpdir(), "dashcam-bench-live-"));

async function toTs(name: string, args: string[]): Promise<Uint8Array> {
  const out = join(dir, name);
  const r = await runFfmpeg(["-hide_banner", "-nostdin", "-loglevel", "error", "-i", CLIP, "-t", "20", "-map", "0:v:0", ...args, "-f", "mpegts", "-y", out], { ffmpegPath: FFMPEG });
  if (r.code !== 0) throw new Error(`ffmpeg: ${r.stderr}`);
  return new Uint8Array(readFileSync(out));
}

try {
  const copied = await toTs("copy.ts", ["-c", "copy"]);
  const gop1 = await toTs("gop1.ts", ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0"]);

  const mbitps = (copied.length * 8) / 20 / 1e6;
  console.log(`hub fan-out (highway 720p, ${mbitps.toFixed(2)} Mbit/s, 20 s, 64 KiB pieces; first row warms up the JIT)`);
  for (const viewers of [0, 0, 1, 4, 16]) {
    const hub = new LiveHub("bench");
    hub.beginRun();
    let bytes = 0;
    const sink: LiveSink = { write: (b) => ((bytes += b.length), 0), close() {} };
    for (let i = 0; i < viewers; i++) hub.subscribe(sink);
    const rounds = 20;
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) for (let o = 0; o < copied.length; o += 65536) hub.push(copied.subarray(o, o + 65536));
    const ms = performance.now() - t0;
    const mb = (copied.length * rounds) / 1e6;
    // ms of CPU per second of footage, as a share of one core
    const share = ms / rounds / 20 / 1000;
    console.log(`  ${String(viewers).padStart(2)} viewers: ${(mb / (ms / 1000)).toFixed(0)} MB/s in, ${(share * 100).toFixed(3)} % of a core for this camera, ${(bytes / 1e6).toFixed(0)} MB out`);
  }

  console.log("current frame (one decode, JPEG of the newest frame)");
  const cases: [string, Uint8Array, number][] = [
    ["10 s GOP, 1 s into it", copied, 25],
    ["10 s GOP, 5 s into it", copied, 125],
    ["10 s GOP, 9.9 s into it", copied, 248],
    ["1 s GOP, 0.9 s into it", gop1, 23],
  ];
  for (const [label, ts, want] of cases) {
    const hubs = new LiveHubs();
    const hub = hubs.get("cam");
    hub.beginRun();
    // feed packets until the cached GOP holds `want` complete frames
    for (let o = 0; o < ts.length && (hub.frameInput()?.frames ?? 0) < want; o += 188) hub.push(ts.subarray(o, o + 188));
    const frames = hub.frameInput()?.frames ?? 0;
    const service = new LiveFrameService(hubs, () => "enabled", { reuseMs: -1, ffmpegPath: FFMPEG } /* never reuse: every call decodes */);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await service.current("cam", { maxAgeMs: 60_000 });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    console.log(`  ${label.padEnd(24)} ${String(frames).padStart(3)} frames cached: median ${times[2].toFixed(0)} ms, max ${times[4].toFixed(0)} ms`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
