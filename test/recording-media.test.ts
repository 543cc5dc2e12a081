/**
 * ffmpeg resolution and version parsing, the recorder's command lines per source kind, the
 * error-line picker, the boot id, and probeMedia against ffprobe on real files.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timecodeFilter } from "../src/media/timecode.ts";
import { ffmpegMajorVersion, parseFfmpegMajor, resolveFfmpeg } from "../src/media/ffmpeg.ts";
import { buildRecorderArgs } from "../src/media/recorderArgs.ts";
import { parseVideoStreamLine, probeMedia } from "../src/media/probe.ts";
import { pickErrorLine, redactLine } from "../src/actors/recorder.ts";
import { currentBootId } from "../src/bootId.ts";
import { cameraConfig, ffprobeDuration, makeTsFile, removeDir, tempDir, DEBIAN_FFMPEG } from "./recording-helpers.ts";

const HIGHWAY = join(import.meta.dir, "../../shared/data/video/highway-720p-25fps.mp4");

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

function withEnv<T>(name: string, value: string | undefined, fn: () => T): T {
  const before = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

/** Value following `flag` in `args`. */
const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe("ffmpeg resolution", () => {
  test("FFMPEG_PATH wins", () => {
    expect(withEnv("FFMPEG_PATH", "/opt/custom/ffmpeg", resolveFfmpeg)).toBe("/opt/custom/ffmpeg");
  });

  test("without FFMPEG_PATH, under bun: the npm @ffmpeg-installer binary (ffmpeg-static is not installed here)", () => {
    const p = withEnv("FFMPEG_PATH", undefined, resolveFfmpeg);
    expect(existsSync(p)).toBe(true);
    expect(p).toContain("@ffmpeg-installer");
  });

  test("version parsing: release strings, git builds via libavformat, unknown", () => {
    expect(parseFfmpegMajor("ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026")).toBe(5);
    expect(parseFfmpegMajor("ffmpeg version n7.0.2 Copyright")).toBe(7);
    expect(parseFfmpegMajor("ffmpeg version N-47683-g0e8eb07980-static\nlibavformat    58. 24.100 / 58. 24.100")).toBe(4);
    expect(parseFfmpegMajor("ffmpeg version N-1-gabc\nlibavformat    61.  1.100")).toBe(7);
    expect(parseFfmpegMajor("not ffmpeg")).toBe(0);
  });

  test("real binaries: Debian 5.x and the npm 4.1 build; a missing binary is 0", async () => {
    expect(await ffmpegMajorVersion(DEBIAN_FFMPEG)).toBe(5);
    const npm = withEnv("FFMPEG_PATH", undefined, resolveFfmpeg);
    expect(await ffmpegMajorVersion(npm)).toBe(4);
    expect(await ffmpegMajorVersion("/nonexistent/ffmpeg")).toBe(0);
  });
});

describe("recorder command lines", () => {
  const ring = "/data/recordings/cam";
  const opts = { ringDirAbs: ring, startNumber: 42, ffmpegMajor: 5 };

  test("common segment output: CSV list on stdout, absolute numbering, 9-digit names, progress", () => {
    const { args } = buildRecorderArgs(cameraConfig({ segment_seconds: 7 }), opts);
    expect(args.join(" ")).toContain("-f segment -segment_time 7");
    expect(after(args, "-segment_format")).toBe("mpegts");
    expect(after(args, "-segment_list")).toBe("pipe:1");
    expect(after(args, "-segment_list_type")).toBe("csv");
    expect(after(args, "-segment_start_number")).toBe("42");
    expect(after(args, "-reset_timestamps")).toBe("0");
    expect(after(args, "-progress")).toBe("pipe:2");
    expect(args[args.length - 1]).toBe(join(ring, "%09d.ts"));
  });

  test("rtsp: stream copy with audio, transport, 5 s socket timeout named per ffmpeg version", () => {
    const cam = cameraConfig({ source: "rtsp://u:p@10.0.0.5/s", rtsp_transport: "tcp" });
    const modern = buildRecorderArgs(cam, opts).args;
    expect(after(modern, "-rtsp_transport")).toBe("tcp");
    expect(after(modern, "-timeout")).toBe("5000000");
    expect(modern).not.toContain("-stimeout");
    expect(after(modern, "-c")).toBe("copy");
    expect(modern.join(" ")).toContain("-map 0:v:0 -map 0:a?");
    // audio: re-encoded to AAC by default; copied or dropped on request
    expect(after(modern, "-c:a")).toBe("aac");
    const copied = buildRecorderArgs(cameraConfig({ source: "rtsp://10.0.0.5/s", audio: "copy" }), opts).args;
    expect(copied).not.toContain("-c:a");
    expect(copied.join(" ")).toContain("-map 0:a?");
    const silent = buildRecorderArgs(cameraConfig({ source: "rtsp://10.0.0.5/s", audio: "none" }), opts).args;
    expect(silent).toContain("-an");
    expect(silent.join(" ")).not.toContain("0:a");
    expect(modern).not.toContain("libx264");
    expect(after(modern, "-i")).toBe("rtsp://u:p@10.0.0.5/s");
    const old = buildRecorderArgs(cam, { ...opts, ffmpegMajor: 4 }).args;
    expect(after(old, "-stimeout")).toBe("5000000");
    expect(old).not.toContain("-timeout");
    const noTransport = buildRecorderArgs(cameraConfig({ source: "rtsp://10.0.0.5/s" }), opts).args;
    expect(noTransport).not.toContain("-rtsp_transport");
  });

  test("file: real time, looped, stream copy", () => {
    const { args, pipeFrom } = buildRecorderArgs(cameraConfig({ source: `file:${HIGHWAY}` }), opts);
    expect(pipeFrom).toBeUndefined();
    expect(args).toContain("-re");
    expect(after(args, "-stream_loop")).toBe("-1");
    expect(after(args, "-i")).toBe(HIGHWAY);
    expect(after(args, "-c")).toBe("copy");
  });

  test("testsrc and v4l2: libx264 with a keyframe forced every second (live view), testsrc with its capture-time strip", () => {
    const t = buildRecorderArgs(cameraConfig({ source: "testsrc", width: 320, height: 240, fps: 10, segment_seconds: 3 }), opts).args;
    expect(after(t, "-vf")).toBe(timecodeFilter(320));
    expect(after(t, "-i")).toBe("testsrc=size=320x240:rate=10");
    expect(after(t, "-c:v")).toBe("libx264");
    expect(after(t, "-preset")).toBe("ultrafast");
    expect(after(t, "-tune")).toBe("zerolatency");
    expect(after(t, "-pix_fmt")).toBe("yuv420p");
    expect(after(t, "-force_key_frames")).toBe("expr:gte(t,n_forced*1)");
    expect(after(t, "-g")).toBe("10");
    const v = buildRecorderArgs(cameraConfig({ source: "v4l2:/dev/video2", width: 640, height: 480, fps: 30 }), opts).args;
    expect(after(v, "-f")).toBe("v4l2");
    expect(after(v, "-video_size")).toBe("640x480");
    expect(after(v, "-i")).toBe("/dev/video2");
    expect(after(v, "-c:v")).toBe("libx264");
    expect(after(v, "-g")).toBe("30");
    expect(v).not.toContain("-vf");
  });

  test("rpicam seam: rpicam-vid H.264 on stdout piped into ffmpeg, stream copy", () => {
    const { args, pipeFrom } = buildRecorderArgs(cameraConfig({ source: "rpicam", fps: 30, segment_seconds: 60 }), opts);
    expect(pipeFrom!.slice(0, 6)).toEqual(["rpicam-vid", "-t", "0", "--inline", "-n", "--width"]);
    expect(pipeFrom!.slice(-2)).toEqual(["-o", "-"]);
    expect(after(pipeFrom!, "--intra")).toBe("30");
    expect(after(args, "-i")).toBe("pipe:0");
    expect(after(args, "-f")).toBe("h264");
    expect(after(args, "-c")).toBe("copy");
    expect(args).not.toContain("-nostdin");
  });

  test("live output: one tee muxer writes the segments and an MPEG-TS copy to the live fd behind a dropping fifo", () => {
    const { args } = buildRecorderArgs(cameraConfig({ source: "rtsp://10.0.0.5/s", segment_seconds: 7 }), { ...opts, liveFd: 3 });
    expect(after(args, "-f")).toBe("tee");
    expect(args).not.toContain("-segment_list");
    const spec = args[args.length - 1];
    const [segment, live] = spec.split("|");
    // option values are escaped twice (tee splits slaves, then parses their options), the fifo's own options three times
    expect(segment).toBe(
      "[f=segment:segment_time=7:segment_format=mpegts:segment_format_options=mpegts_flags\\\\\\=+initial_discontinuity\\\\\\:flush_packets\\\\\\=1" +
        ":segment_list=pipe\\\\\\:1:segment_list_type=csv:segment_start_number=42:reset_timestamps=0]" + join(ring, "%09d.ts"),
    );
    expect(live).toBe(
      "[f=mpegts:onfail=ignore:use_fifo=1:fifo_options=queue_size\\\\\\=120\\\\\\:drop_pkts_on_overflow\\\\\\=1\\\\\\:attempt_recovery\\\\\\=0]pipe\\:3",
    );
    expect(after(args, "-progress")).toBe("pipe:2");
  });

  test("live output runs: segments and their CSV list as without it, and the same packets as MPEG-TS on fd 3", async () => {
    const ringDirAbs = mkdtempSync(join(tmpdir(), "dashcam-tee-"));
    try {
      const cam = cameraConfig({ source: "testsrc", width: 160, height: 120, fps: 10, segment_seconds: 1 });
      const { args } = buildRecorderArgs(cam, { ringDirAbs, startNumber: 5, ffmpegMajor: 5, liveFd: 3 });
      // 2.5 s of input, in real time (the capture-time strip makes the timeline the wall clock's)
      const proc = Bun.spawn([DEBIAN_FFMPEG, ...args.flatMap((a) => (a === "-re" ? ["-re", "-t", "2.5"] : [a]))], {
        stdio: ["ignore", "pipe", "pipe", "pipe"],
      });
      const live = new Response(Bun.file(proc.stdio[3] as number).stream()).bytes();
      const [list, , code, liveBytes] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited, live]);
      expect(code).toBe(0);
      const lines = list.trim().split("\n");
      expect(lines.map((l) => l.split(",")[0])).toEqual(["000000005.ts", "000000006.ts", "000000007.ts"]);
      const segmentBytes = lines.reduce((n, l) => n + readFileSync(join(ringDirAbs, l.split(",")[0])).length, 0);
      // the live copy carries the same video: its size is within a few TS packets of the segments' sum
      expect(liveBytes.length).toBeGreaterThan(segmentBytes * 0.9);
      expect(liveBytes.length).toBeLessThan(segmentBytes * 1.1);
      expect(liveBytes[0]).toBe(0x47);
    } finally {
      rmSync(ringDirAbs, { recursive: true, force: true });
    }
  });
});

describe("ffmpeg stderr handling", () => {
  test("pickErrorLine prefers the last real error, strips the level tags, redacts URLs", () => {
    const lines = [
      "[info] Input #0, rtsp, from 'rtsp://admin:pw@10.1.1.1/live':",
      "[tcp @ 0x55a1] [error] Connection to tcp://10.1.1.1:554?timeout=5000000 failed: Connection refused",
      "[error] rtsp://admin:pw@10.1.1.1/live: Connection refused",
      "[error] Conversion failed!",
    ];
    const line = pickErrorLine(lines)!;
    expect(line).toBe("<rtsp-url> Connection refused");
    expect(pickErrorLine(["setpriv: failed to execute ffmpeg: No such file or directory"])).toContain("No such file");
    expect(pickErrorLine(["[info] Exiting normally, received signal 2."])).toBeNull();
    expect(redactLine("x tcp://10.0.0.1:554 y")).toBe("x <url> y");
  });

  test("parseVideoStreamLine reads codec, size and rate", () => {
    const s = parseVideoStreamLine(
      "  Stream #0:0[0x100]: Video: h264 (High) ([27][0][0][0] / 0x001B), yuv420p(progressive), 1280x720 [SAR 1:1 DAR 16:9], 25 fps, 25 tbr, 90k tbn",
    );
    expect(s).toEqual({ codec: "H264", width: 1280, height: 720, fps: 25 });
    expect(parseVideoStreamLine("  Stream #0:1: Audio: aac (LC), 48000 Hz, stereo")).toBeNull();
    expect(parseVideoStreamLine("Stream #0:0: Video: hevc (Main), yuv420p(tv), 1920x1080, 15 tbr, 90k tbn")?.codec).toBe("H265");
  });
});

describe("probeMedia (ffmpeg only) against ffprobe", () => {
  test("duration within 0.1 s, stream parameters; an empty file is null", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const f = join(dir, "a.ts");
    makeTsFile(f, 3, "160x120", 10);
    const p = await probeMedia(f);
    expect(p).not.toBeNull();
    expect(Math.abs(p!.durationSec - ffprobeDuration(f))).toBeLessThan(0.1);
    expect(p!.frames).toBe(30);
    expect(p).toMatchObject({ codec: "H264", width: 160, height: 120, fps: 10 });
    const empty = join(dir, "empty.ts");
    writeFileSync(empty, "");
    expect(await probeMedia(empty)).toBeNull();
  });
});

describe("boot id", () => {
  test("DASHCAM_BOOT_ID, else the kernel's boot_id", () => {
    expect(withEnv("DASHCAM_BOOT_ID", "boot-test-1", currentBootId)).toBe("boot-test-1");
    const id = withEnv("DASHCAM_BOOT_ID", undefined, currentBootId);
    if (existsSync("/proc/sys/kernel/random/boot_id")) {
      expect(id).toBe(readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
    }
    expect(id.length).toBeGreaterThan(8);
  });
});
