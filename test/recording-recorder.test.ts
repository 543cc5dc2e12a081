/**
 * The recorder actor with real ffmpeg: segments of the built-in test pattern (320x240, 2 s
 * segments) match their SEGMENT_CLOSED events (name, size, ffprobe duration), a stop yields the
 * last segment then a clean PROCESS_EXIT, a closed RTSP port and a silent RTSP server yield
 * PROCESS_EXIT with a redacted error (with Debian's ffmpeg 5.x and the npm ffmpeg 4.1).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import type { RecorderEvent } from "../src/machines/events.ts";
import { measureSegmentLine, syncIntervalMs, waitRecorderIdle } from "../src/actors/recorder.ts";
import { probe } from "./helpers/media.ts";
import {
  cameraConfig, ffprobeDuration, makeTsFile, removeDir, runRecorder, tempDir, waitUntil, DEBIAN_FFMPEG,
} from "./recording-helpers.ts";

const HIGHWAY = join(import.meta.dir, "../../shared/data/video/highway-720p-25fps.mp4");

type Closed = Extract<RecorderEvent, { type: "SEGMENT_CLOSED" }>;
const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

const INSTALLER_FFMPEG = (() => {
  try {
    return (require("@ffmpeg-installer/ffmpeg") as { path: string }).path;
  } catch {
    return null;
  }
})();

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A TCP server on 127.0.0.1 that accepts connections and never answers (a hung camera). */
async function silentServer(): Promise<{ port: number; close(): void }> {
  const sockets: import("node:net").Socket[] = [];
  const srv = createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    port: (srv.address() as { port: number }).port,
    close() {
      sockets.forEach((s) => s.destroy());
      srv.close();
    },
  };
}

function withFfmpeg<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env.FFMPEG_PATH;
  process.env.FFMPEG_PATH = path;
  return fn().finally(() => {
    if (before === undefined) delete process.env.FFMPEG_PATH;
    else process.env.FFMPEG_PATH = before;
  });
}

/**
 * A 3 s H.264 clip (176x144, 10 frames/s, a keyframe every second) made by Debian's ffmpeg at
 * `path`, with an audio track from the lavfi source `audio.input` in codec `audio.codec` when
 * given. Returns `path`.
 */
function makeClip(path: string, audio?: { input: string; codec: string }): string {
  const made = Bun.spawnSync([DEBIAN_FFMPEG, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=176x144:rate=10",
    ...(audio ? ["-f", "lavfi", "-i", audio.input] : []), "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10",
    "-pix_fmt", "yuv420p", ...(audio ? ["-c:a", audio.codec] : []), path]);
  if (made.exitCode !== 0) throw new Error(`ffmpeg could not make ${path}: ${made.stderr.toString()}`);
  return path;
}

describe("recorder", () => {
  test("segments match events; STOP yields the last segment, then PROCESS_EXIT without error", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const camera = cameraConfig({ key: "pattern", segment_seconds: 2, width: 320, height: 240, fps: 10 });
    const h = runRecorder({ camera, cameraId: 1, dataDir, startNumber: 5 });
    await waitUntil("3 closed segments", () => h.events.filter((e) => e.type === "SEGMENT_CLOSED").length >= 3, 30_000);
    const beforeStop = h.events.filter((e) => e.type === "SEGMENT_CLOSED").length;
    h.stop();
    const exit = await waitUntil("PROCESS_EXIT", () => h.exit(), 15_000);

    expect(exit.error).toBeNull();
    const types = h.events.map((e) => e.type);
    expect(types[0]).toBe("RECORDER.STARTED");
    expect(types).toContain("RECORDER.RECEIVING");
    expect(types[types.length - 1]).toBe("PROCESS_EXIT");
    expect(types.filter((t) => t === "PROCESS_EXIT").length).toBe(1);
    const started = h.events[0] as Extract<RecorderEvent, { type: "RECORDER.STARTED" }>;
    expect(started.pid).toBeGreaterThan(0);

    const closed = h.events.filter((e): e is Closed => e.type === "SEGMENT_CLOSED");
    // the segment in progress at STOP was finalised and reported
    expect(closed.length).toBe(beforeStop + 1);
    expect(closed.map((c) => c.absoluteIndex)).toEqual(closed.map((_, i) => 5 + i));

    const ringDir = join(dataDir, "recordings", "pattern");
    const files = readdirSync(ringDir).sort();
    expect(files).toEqual(closed.map((c) => `${String(c.absoluteIndex).padStart(9, "0")}.ts`));
    for (const [i, c] of closed.entries()) {
      expect(c.relPath).toBe(join("recordings", "pattern", files[i]));
      expect(c.bytes).toBe(statSync(join(dataDir, c.relPath)).size);
      expect(c.bytes).toBeGreaterThan(0);
      const probed = ffprobeDuration(join(dataDir, c.relPath));
      expect(Math.abs(probed - (c.endSec - c.startSec))).toBeLessThan(0.5);
      expect(Math.abs((c.endUtc - c.startUtc) / 1000 - probed)).toBeLessThan(0.5);
      expect(c.codec).toBe("H264");
      expect(c.width).toBe(320);
      expect(c.height).toBe(240);
      if (i > 0) expect(Math.abs(c.startUtc - closed[i - 1].endUtc)).toBeLessThanOrEqual(1);
    }
    // full segments (not the one cut by STOP) last about segment_seconds
    for (const c of closed.slice(0, -1)) expect(Math.abs(c.endSec - c.startSec - 2)).toBeLessThan(0.5);
  }, 60_000);

  test("file source: played in real time, looped past its end, stream-copied (no re-encode)", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const clip = makeClip(join(dataDir, "clip.mp4"));
    const camera = cameraConfig({ key: "clip", source: `file:${clip}`, segment_seconds: 1 });
    const h = runRecorder({ camera, cameraId: 1, dataDir, startNumber: 0 });
    // 4+ segments of 1 s = past the end of the 3 s clip
    await waitUntil("4 segments", () => h.events.filter((e) => e.type === "SEGMENT_CLOSED").length >= 4, 30_000);
    h.stop();
    const exit = await waitUntil("PROCESS_EXIT", () => h.exit(), 15_000);
    expect(exit.error).toBeNull();
    const closed = h.events.filter((e): e is Closed => e.type === "SEGMENT_CLOSED");
    for (const c of closed.slice(0, -1)) {
      expect(Math.abs(ffprobeDuration(join(dataDir, c.relPath)) - 1)).toBeLessThan(0.5);
      expect(c).toMatchObject({ codec: "H264", width: 176, height: 144 });
    }
    // contiguous output timeline across the loop
    for (let i = 1; i < closed.length; i++) expect(closed[i].startSec).toBeCloseTo(closed[i - 1].endSec, 3);
  }, 60_000);

  test("camera audio in G.711 (common on IP cameras) is recorded as AAC; audio = \"none\" drops it", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    // H.264 video with G.711 mu-law audio, which MPEG-TS cannot carry as is
    const clip = makeClip(join(dataDir, "ulaw.mkv"), { input: "sine=frequency=440:sample_rate=8000", codec: "pcm_mulaw" });
    const streams = async (file: string) => (await probe(file)).codecs.sort();
    expect(await streams(clip)).toEqual(["h264", "pcm_mulaw"]);
    for (const [audio, want] of [[undefined, ["aac", "h264"]], ["none", ["h264"]]] as const) {
      const camera = cameraConfig({ key: `ulaw-${audio ?? "default"}`, source: `file:${clip}`, segment_seconds: 1, ...(audio ? { audio } : {}) });
      const h = runRecorder({ camera, cameraId: 1, dataDir, startNumber: 0 });
      await waitUntil("2 segments", () => h.events.filter((e) => e.type === "SEGMENT_CLOSED").length >= 2, 30_000);
      h.stop();
      const exit = await waitUntil("PROCESS_EXIT", () => h.exit(), 15_000);
      expect(exit.error).toBeNull();
      const first = h.events.find((e): e is Closed => e.type === "SEGMENT_CLOSED")!;
      expect({ audio: audio ?? "default", streams: await streams(join(dataDir, first.relPath)) }).toEqual({ audio: audio ?? "default", streams: [...want] });
    }
  }, 90_000);

  // bounded loss (DESIGN.md invariant 6): ffmpeg used to keep a segment in its output buffer and
  // write it in 256 KiB chunks, so a 60 s segment was still 0 bytes after several seconds
  for (const [name, path] of [["Debian's ffmpeg", DEBIAN_FFMPEG], ["the npm ffmpeg 4.1", INSTALLER_FFMPEG]] as const) {
    test.skipIf(!path)(`${name}: the segment being written is on disk packet by packet, long before it closes`, async () => {
      const dataDir = tempDir();
      dirs.push(dataDir);
      await withFfmpeg(path!, async () => {
        const camera = cameraConfig({ key: "through", segment_seconds: 60, width: 160, height: 120, fps: 10 });
        const h = runRecorder({ camera, cameraId: 1, dataDir, startNumber: 0 });
        await waitUntil("media flowing", () => h.events.some((e) => e.type === "RECORDER.RECEIVING"), 15_000);
        await Bun.sleep(3000);
        const file = join(dataDir, "recordings", "through", "000000000.ts");
        // a copy taken while ffmpeg writes: what a power cut would leave (had it been synced)
        const copy = join(dataDir, "copy.ts");
        require("node:fs").copyFileSync(file, copy);
        h.stop();
        await waitUntil("PROCESS_EXIT", () => h.exit(), 15_000);
        expect(h.events.filter((e) => e.type === "SEGMENT_CLOSED").length).toBe(1);
        // at least ~2 of the ~3 s recorded so far are in the file (a few frames are in flight)
        expect(ffprobeDuration(copy)).toBeGreaterThan(2);
      });
    }, 60_000);
  }

  test("a segment list line with no duration is indexed with its measured duration, or not at all without media", async () => {
    const ring = tempDir();
    dirs.push(ring);
    mkdirSync(ring, { recursive: true });
    makeTsFile(join(ring, "000000007.ts"), 1); // 1 s at 10 fps
    writeFileSync(join(ring, "000000008.ts"), Buffer.alloc(188 * 4, 0)); // opened, no frame written
    // reported without duration but holding a second of media: its measured length
    const media = await measureSegmentLine("000000007.ts,0.000000,0.000000", ring, DEBIAN_FFMPEG, false);
    if (media.kind !== "segment") throw new Error(`expected a segment, got ${media.kind}`);
    expect(media.absoluteIndex).toBe(7);
    expect(media.startSec).toBe(0);
    expect(media.endSec).toBeCloseTo(1, 1);
    // the same as a run's first segment: the reported end is kept as its start, not before it
    const first = await measureSegmentLine("000000007.ts,4.000000,4.000000", ring, DEBIAN_FFMPEG, true);
    expect(first).toMatchObject({ kind: "segment", startSec: 4 });
    expect((first as { endSec: number }).endSec).toBeGreaterThan(4.9);
    // no playable media: not footage (the recorder deletes the file)
    const empty = await measureSegmentLine("000000008.ts,14.960000,14.960000", ring, DEBIAN_FFMPEG, false);
    expect(empty.kind).toBe("empty");
    // ffmpeg cannot run: left for start-up salvage, never deleted unmeasured
    expect((await measureSegmentLine("000000008.ts,1.0,1.0", ring, "/nonexistent/ffmpeg", false)).kind).toBe("unmeasured");
    // an ordinary line is taken as reported (no file needed: nothing is measured)
    expect(await measureSegmentLine("000000009.ts,0.000000,14.960000", ring, DEBIAN_FFMPEG, false)).toEqual({
      kind: "segment", name: "000000009.ts", absoluteIndex: 9, startSec: 0, endSec: 14.96,
    });
    expect((await measureSegmentLine("frame=12", ring, DEBIAN_FFMPEG, false)).kind).toBe("invalid");
  });

  test("syncIntervalMs: half of max_loss_seconds (default 2 s), at least 100 ms", () => {
    expect(syncIntervalMs(cameraConfig({ key: "a" }))).toBe(1000);
    expect(syncIntervalMs(cameraConfig({ key: "a", max_loss_seconds: 0.5 }))).toBe(250);
    expect(syncIntervalMs({ max_loss_seconds: 0.1 })).toBe(100);
  });

  test("a second run never overwrites an existing file and continues after it", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const camera = cameraConfig({ key: "again", segment_seconds: 1, width: 160, height: 120, fps: 10 });
    const first = runRecorder({ camera, cameraId: 1, dataDir, startNumber: 0 });
    await waitUntil("a segment", () => first.events.some((e) => e.type === "SEGMENT_CLOSED"), 30_000);
    first.stop();
    await waitUntil("exit", () => first.exit(), 15_000);
    const firstFiles = readdirSync(join(dataDir, "recordings", "again")).sort();
    const sizes = firstFiles.map((f) => statSync(join(dataDir, "recordings", "again", f)).size);
    // parent asks to start at 0 again (e.g. counters not advanced): the recorder skips past the files
    const second = runRecorder({ camera, cameraId: 1, dataDir, startNumber: 0 });
    const seg = await waitUntil("a segment", () => second.events.find((e): e is Closed => e.type === "SEGMENT_CLOSED"), 30_000);
    second.stop();
    await waitUntil("exit", () => second.exit(), 15_000);
    expect(seg.absoluteIndex).toBe(firstFiles.length);
    expect(firstFiles.map((f) => statSync(join(dataDir, "recordings", "again", f)).size)).toEqual(sizes);
  }, 60_000);

  test("stopping the parent machine stops ffmpeg (no process left)", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const camera = cameraConfig({ key: "cleanup", segment_seconds: 1, width: 160, height: 120, fps: 10 });
    const h = runRecorder({ camera, cameraId: 1, dataDir, startNumber: 0 });
    const started = await waitUntil("STARTED", () => h.events.find((e) => e.type === "RECORDER.STARTED"), 15_000);
    const pid = (started as Extract<RecorderEvent, { type: "RECORDER.STARTED" }>).pid;
    await waitUntil("receiving", () => h.events.some((e) => e.type === "RECORDER.RECEIVING"), 15_000);
    h.stopParent();
    expect(await waitRecorderIdle(dataDir, "cleanup")).toBe(true);
    // the cleanup sent SIGINT; Bun reaps the child, so its /proc entry disappears
    await waitUntil("ffmpeg gone", () => !existsSync(`/proc/${pid}`), 10_000);
    // and the run's files are finalised MPEG-TS (no event is sent after cleanup)
    const ring = join(dataDir, "recordings", "cleanup");
    for (const f of readdirSync(ring)) expect(ffprobeDuration(join(ring, f))).toBeGreaterThan(0);
  }, 30_000);
});

describe("recorder when the runtime dies", () => {
  test.skipIf(process.platform !== "linux")("SIGKILL of the runtime: ffmpeg exits (no orphan recorder writing into the ring)", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const script = join(dataDir, "runtime-stand-in.ts");
    const helpers = join(import.meta.dir, "recording-helpers.ts");
    require("node:fs").writeFileSync(
      script,
      `import { runRecorder, cameraConfig, waitUntil } from ${JSON.stringify(helpers)};
const h = runRecorder({ camera: cameraConfig({ key: "orphan", segment_seconds: 1, width: 160, height: 120, fps: 10 }), cameraId: 1, dataDir: ${JSON.stringify(dataDir)}, startNumber: 0 });
const s = await waitUntil("started", () => h.events.find((e) => e.type === "RECORDER.STARTED"), 15000);
await waitUntil("a segment", () => h.events.some((e) => e.type === "SEGMENT_CLOSED"), 15000);
await Bun.sleep(500); // half-way into the next segment
console.log("FFPID " + s.pid);
await Bun.sleep(60000);
`,
    );
    const child = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "ignore", stdin: "ignore", env: { ...process.env, DASHCAM_LOG: "error" } });
    const reader = child.stdout.getReader();
    let text = "";
    while (!/FFPID (\d+)/.test(text)) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const ffpid = Number(/FFPID (\d+)/.exec(text)?.[1]);
    expect(ffpid).toBeGreaterThan(0);
    expect(existsSync(`/proc/${ffpid}`)).toBe(true);
    child.kill("SIGKILL");
    await child.exited;
    // the kernel sends ffmpeg SIGINT (setpriv --pdeathsig): it finalises and exits
    try {
      await waitUntil("ffmpeg to exit after its parent died", () => {
        if (!existsSync(`/proc/${ffpid}`)) return true;
        const stat = require("node:fs").readFileSync(`/proc/${ffpid}/stat`, "utf8") as string;
        return / Z /.test(stat.slice(stat.lastIndexOf(")")));
      }, 10_000);
    } finally {
      try {
        if ((await Bun.file(`/proc/${ffpid}/cmdline`).text()).includes(dataDir)) process.kill(ffpid, "SIGKILL");
      } catch {
        // gone
      }
    }
    // nothing records on: no file grows after the exit
    const ring = join(dataDir, "recordings", "orphan");
    const sizes = () => readdirSync(ring).sort().map((f) => `${f}:${statSync(join(ring, f)).size}`).join(",");
    const before = sizes();
    await Bun.sleep(1500);
    expect(sizes()).toBe(before);
    // every segment before the interrupted one is intact (the interrupted one is finalised when
    // ffmpeg got exactly one signal; Linux may send the parent-death signal once per exiting
    // thread of the runtime, and a second SIGINT makes ffmpeg abandon its output: start-up
    // reconciliation settles that file)
    const files = readdirSync(ring).sort();
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files.slice(0, -1)) expect(ffprobeDuration(join(ring, f))).toBeGreaterThan(0.5);
  }, 40_000);
});

/** True when something listens on TCP 127.0.0.1:port (from /proc/net/tcp; no connection made). */
function listening(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const text = require("node:fs").readFileSync("/proc/net/tcp", "utf8") as string;
  return text.split("\n").some((l) => {
    const c = l.trim().split(/\s+/);
    return c.length > 3 && c[1].endsWith(hex) && c[3] === "0A";
  });
}

describe("recorder on a live RTSP camera (rtsp-server-perl on loopback)", () => {
  test.skipIf(!existsSync("/usr/bin/rtsp-server-perl"))(
    "joining mid-GOP (real footage): every segment's wall-clock span matches its ffprobe duration, segments contiguous",
    async () => {
      const dataDir = tempDir();
      dirs.push(dataDir);
      const serverPort = await closedPort();
      let clientPort = await closedPort();
      while (clientPort === serverPort) clientPort = await closedPort();
      const rtpStart = 2 * (10_000 + Math.floor(Math.random() * 12_000));
      // rtsp-server-perl resets its RTP port counter to the package default; set it to ours first
      const server = Bun.spawn(
        ["perl", "-MRTSP::Server", "-e", '$RTSP::Server::RTP_START_PORT = shift @ARGV; do "/usr/bin/rtsp-server-perl"; die $@ if $@',
          String(rtpStart), "--serverport", String(serverPort), "--clientport", String(clientPort),
          "--client_listen_address", "127.0.0.1", "--source_listen_address", "127.0.0.1", "--rtp_start_port", String(rtpStart), "--loglevel", "1"],
        { stdout: "ignore", stderr: "ignore", stdin: "ignore" },
      );
      let publisher: ReturnType<typeof Bun.spawn> | null = null;
      try {
        await waitUntil("RTSP server ports", () => listening(serverPort) && listening(clientPort), 15_000);
        // the real highway clip stream-copied in a loop (keyframe every 10 s, like a camera's encoder
        // output): the recorder joins mid-GOP and ffmpeg drops packets until the next keyframe
        publisher = Bun.spawn(
          [DEBIAN_FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", HIGHWAY,
            "-an", "-c", "copy", "-f", "rtsp", `rtsp://127.0.0.1:${serverPort}/cam`],
          { stdout: "ignore", stderr: "ignore", stdin: "ignore" },
        );
        await Bun.sleep(1000);
        const camera = cameraConfig({ key: "live", source: `rtsp://127.0.0.1:${clientPort}/cam`, rtsp_transport: "udp", segment_seconds: 1 });
        const h = runRecorder({ camera, cameraId: 1, dataDir, startNumber: 0 });
        await waitUntil("2 segments", () => h.events.filter((e) => e.type === "SEGMENT_CLOSED").length >= 2, 45_000);
        h.stop();
        const exit = await waitUntil("PROCESS_EXIT", () => h.exit(), 15_000);
        expect(exit.error).toBeNull();
        const closed = h.events.filter((e): e is Closed => e.type === "SEGMENT_CLOSED");
        for (const [i, c] of closed.entries()) {
          const probed = ffprobeDuration(join(dataDir, c.relPath));
          expect(Math.abs((c.endUtc - c.startUtc) / 1000 - probed)).toBeLessThan(0.5);
          expect(c.bytes).toBe(statSync(join(dataDir, c.relPath)).size);
          if (i > 0) expect(Math.abs(c.startUtc - closed[i - 1].endUtc)).toBeLessThanOrEqual(1);
        }
        expect(closed[0]).toMatchObject({ codec: "H264", width: 1280, height: 720, fps: 25 });
      } finally {
        publisher?.kill("SIGKILL");
        server.kill("SIGKILL");
        await Promise.all([publisher?.exited, server.exited]);
      }
    },
    90_000,
  );
});

const binaries: [string, string | null][] = [
  ["Debian ffmpeg 5.x", DEBIAN_FFMPEG],
  ["npm @ffmpeg-installer ffmpeg 4.1", INSTALLER_FFMPEG],
];

describe.each(binaries)("recorder with %s", (_name, binary) => {
  test.skipIf(!binary || !existsSync(binary))("records the test pattern: files, sizes and durations match the events", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const camera = cameraConfig({ key: "short", segment_seconds: 1, width: 160, height: 120, fps: 10 });
    const h = await withFfmpeg(binary!, async () => runRecorder({ camera, cameraId: 1, dataDir, startNumber: 0 }));
    await waitUntil("2 segments", () => h.events.filter((e) => e.type === "SEGMENT_CLOSED").length >= 2, 30_000);
    h.stop();
    const exit = await waitUntil("PROCESS_EXIT", () => h.exit(), 15_000);
    expect(exit.error).toBeNull();
    const closed = h.events.filter((e): e is Closed => e.type === "SEGMENT_CLOSED");
    expect(readdirSync(join(dataDir, "recordings", "short")).length).toBe(closed.length);
    for (const c of closed) {
      expect(c.bytes).toBe(statSync(join(dataDir, c.relPath)).size);
      expect(Math.abs(ffprobeDuration(join(dataDir, c.relPath)) - (c.endSec - c.startSec))).toBeLessThan(0.5);
    }
  }, 40_000);

  test.skipIf(!binary || !existsSync(binary))("a closed RTSP port yields PROCESS_EXIT with a redacted error", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const port = await closedPort();
    const camera = cameraConfig({ key: "badrtsp", source: `rtsp://admin:hunter2@127.0.0.1:${port}/stream`, rtsp_transport: "tcp", segment_seconds: 2 });
    const h = await withFfmpeg(binary!, async () => runRecorder({ camera, cameraId: 1, dataDir, startNumber: 0 }));
    const exit = await waitUntil("PROCESS_EXIT", () => h.exit(), 30_000);
    expect(exit.error).not.toBeNull();
    expect(exit.error!).toMatch(/^connection refused: nothing accepts connections on the camera's RTSP port/);
    expect(exit.error!).not.toContain("hunter2");
    expect(exit.error!).not.toContain("rtsp://");
    expect(exit.error!).not.toContain("\n");
    expect(exit.code).not.toBe(0);
    expect(h.events.some((e) => e.type === "SEGMENT_CLOSED")).toBe(false);
    expect(JSON.stringify(h.events)).not.toContain("hunter2");
  }, 40_000);

  test.skipIf(!binary || !existsSync(binary))("an RTSP port that accepts but never answers: PROCESS_EXIT says timed out, not invalid data", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const { port, close } = await silentServer();
    try {
      // stall time longer than ffmpeg's 5 s socket timeout: ffmpeg gives up by itself
      const camera = cameraConfig({ key: "mute", source: `rtsp://admin:hunter2@127.0.0.1:${port}/x`, rtsp_transport: "tcp", segment_seconds: 10, stall_seconds: 60 });
      const h = await withFfmpeg(binary!, async () => runRecorder({ camera, cameraId: 1, dataDir, startNumber: 0 }));
      const exit = await waitUntil("PROCESS_EXIT", () => h.exit(), 30_000);
      expect(h.events.map((e) => e.type)).not.toContain("STALL");
      expect(exit.error).toMatch(/^timed out: the camera accepted the connection but sent no RTSP answer within 5 s/);
      expect(exit.error!).not.toContain("hunter2");
      expect(exit.error!).not.toContain("\n");
    } finally {
      close();
    }
  }, 40_000);

  test.skipIf(!binary || !existsSync(binary))("a silent RTSP server: STALL, then ffmpeg is stopped and PROCESS_EXIT says why", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    // ffmpeg waits: its 5 s socket timeout is longer than the stall timeout
    const { port, close } = await silentServer();
    try {
      const camera = cameraConfig({ key: "silent", source: `rtsp://127.0.0.1:${port}/x`, rtsp_transport: "tcp", segment_seconds: 1, stall_seconds: 1 });
      const h = await withFfmpeg(binary!, async () => runRecorder({ camera, cameraId: 1, dataDir, startNumber: 0 }));
      const exit = await waitUntil("PROCESS_EXIT", () => h.exit(), 30_000);
      const types = h.events.map((e) => e.type);
      expect(types).toContain("STALL");
      expect(types.indexOf("STALL")).toBeLessThan(types.indexOf("PROCESS_EXIT"));
      expect(exit.error).toMatch(/stalled|no segment/);
      expect(exit.error!).not.toContain("rtsp://");
    } finally {
      close();
    }
  }, 40_000);
});
