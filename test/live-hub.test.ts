/**
 * The live hub (src/media/liveHub.ts) and the current-frame service
 * (src/media/currentFrameService.ts) on a real MPEG-TS stream: ffmpeg encodes 4 s of its test
 * pattern at 10 frames/s with a keyframe every second (as the recorder does for `testsrc`) into
 * one `.ts` file, which is fed to a hub in pipe-sized pieces that do not respect packet
 * boundaries. Checked with ffmpeg reading what each viewer received:
 * - a viewer that joins mid-stream gets PAT, PMT and the cached GOP from its keyframe (ffmpeg
 *   decodes it without an error, starting with a keyframe), then every later packet;
 * - a viewer whose backlog is too large skips to the next keyframe (what it got still decodes,
 *   fewer frames), and one that stays behind past `maxLagMs` is closed with a reason;
 * - a GOP larger than `maxCacheBytes` is not cached: a new viewer waits for the next keyframe;
 * - `endRun` closes every viewer and drops the cache;
 * - the frame service decodes the newest complete frame, stamps it with its arrival, shares one
 *   decode among concurrent requests, and reports unknown / disabled / idle cameras.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LiveHub, LiveHubs, type LiveSink } from "../src/media/liveHub.ts";
import { LiveFrameService, jpegSize } from "../src/media/currentFrameService.ts";
import { FrameUnavailableError } from "../src/media/currentFrame.ts";
import { runFfmpeg } from "../src/media/ffmpeg.ts";
import { encodeTestPatternTs } from "./helpers/media.ts";

const FFMPEG = "/usr/bin/ffmpeg";
let dir = "";
let stream: Uint8Array;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "dashcam-live-hub-"));
  stream = await encodeTestPatternTs(join(dir, "src.ts"), 4, 10);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A viewer that keeps what it receives and reports `backlog(bytes written so far)` as its backlog. */
class Collector implements LiveSink {
  chunks: Uint8Array[] = [];
  closed: string | null = null;
  written = 0;
  constructor(private readonly backlog: (written: number) => number = () => 0) {}
  write(bytes: Uint8Array): number {
    this.chunks.push(bytes.slice());
    this.written += bytes.length;
    return this.backlog(this.written);
  }
  close(reason: string): void {
    this.closed = reason;
  }
  get bytes(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

/** Feeds `bytes` to `hub` in pieces of `piece` bytes (not a multiple of 188), calling `between` after each. */
function feed(hub: LiveHub, bytes: Uint8Array, piece = 1000, between?: (offset: number) => void): void {
  for (let o = 0; o < bytes.length; o += piece) {
    hub.push(bytes.subarray(o, Math.min(bytes.length, o + piece)));
    between?.(o);
  }
}

/** Frames ffmpeg decodes from `bytes` and whether the first is a keyframe (I), with any decode error. */
async function decode(bytes: Uint8Array): Promise<{ frames: number; firstType: string | null; errors: string }> {
  const path = join(dir, `got-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(path, bytes);
  const run = await runFfmpeg(["-hide_banner", "-nostdin", "-loglevel", "info", "-i", path, "-map", "0:v:0", "-vf", "showinfo", "-f", "null", "-"], { ffmpegPath: FFMPEG });
  const types = [...run.stderrText.matchAll(/Parsed_showinfo.*? type:([IPB])/g)].map((m) => m[1]);
  const errors = run.stderrText.split("\n").filter((l) => /error|corrupt|non-existing PPS|no frame/i.test(l)).join("\n");
  return { frames: types.length, firstType: types[0] ?? null, errors };
}

/** The PID of TS packet number `packet` of `bytes`. */
const pidAt = (bytes: Uint8Array, packet: number) => ((bytes[packet * 188 + 1] & 0x1f) << 8) | bytes[packet * 188 + 2];

describe("live hub", () => {
  test("a viewer joining mid-stream starts at the cached GOP's keyframe with PAT and PMT, then follows live", async () => {
    const hub = new LiveHub("t");
    hub.beginRun();
    const half = Math.floor(stream.length / 2 / 188) * 188 + 77; // mid-GOP, mid-packet
    feed(hub, stream.subarray(0, half));
    const late = new Collector();
    hub.subscribe(late);
    expect(late.chunks.length).toBeGreaterThan(0); // the cache arrived at once
    feed(hub, stream.subarray(half));
    const got = late.bytes;
    expect(got.length % 188).toBe(0);
    expect(pidAt(got, 0)).toBe(0); // PAT first
    const d = await decode(got);
    expect(d.errors).toBe("");
    expect(d.firstType).toBe("I");
    // it joined in the third second: the GOP before it plus the rest, about 2-3 s of the 4 s
    expect(d.frames).toBeGreaterThanOrEqual(20);
    expect(d.frames).toBeLessThan(40);
    const all = await decode(stream);
    expect(all.frames).toBe(40);
  });

  test("a viewer that falls behind skips to the next keyframe and is closed when it stays behind", async () => {
    let now = 1_000_000;
    const hub = new LiveHub("t", { maxBacklogBytes: 10_000, maxLagMs: 5_000, now: () => now });
    hub.beginRun();
    let backlog = 0;
    const slow = new Collector(() => backlog);
    const fast = new Collector();
    hub.subscribe(slow);
    hub.subscribe(fast);
    // the slow viewer's connection stalls during the second second of the stream, then recovers
    const quarter = Math.floor(stream.length / 4);
    feed(hub, stream, 1000, (o) => {
      backlog = o > quarter && o < 2 * quarter ? 50_000 : 0;
    });
    const fastDecoded = await decode(fast.bytes);
    const slowDecoded = await decode(slow.bytes);
    expect(fastDecoded.frames).toBe(40);
    expect(fastDecoded.errors).toBe("");
    expect(slowDecoded.frames).toBeLessThan(40);
    expect(slowDecoded.frames).toBeGreaterThan(10);
    expect(slow.closed).toBeNull();
    // a viewer that never catches up is closed once it has been behind for maxLagMs
    // (its connection sends nothing: its backlog is everything it was given)
    const stuck = new Collector((written) => written);
    hub.subscribe(stuck);
    feed(hub, stream.subarray(0, 20_000));
    expect(stuck.closed).toBeNull();
    now += 6_000;
    feed(hub, stream);
    expect(stuck.closed).toContain("too slow");
    expect(hub.viewerCount).toBe(2);
  });

  test("the cached GOP sent on joining does not count as falling behind: the viewer keeps every packet while it drains", async () => {
    const hub = new LiveHub("t", { maxBacklogBytes: 2_000 });
    hub.beginRun();
    const third = Math.floor(stream.length / 3 / 188) * 188;
    feed(hub, stream.subarray(0, third));
    // backlog = bytes written and not yet "sent": the test drains 2 kB after each piece, then all
    let sent = 0;
    const v = new Collector((written) => written - sent);
    hub.subscribe(v);
    expect(v.written).toBeGreaterThan(2_000); // more than maxBacklogBytes arrived at once
    feed(hub, stream.subarray(third, third + 1880), 188, () => (sent = Math.min(v.written, sent + 2_000)));
    feed(hub, stream.subarray(third + 1880), 1000, () => (sent = v.written));
    const d = await decode(v.bytes);
    expect(d.errors).toBe("");
    const all = await decode(stream);
    // every frame from its keyframe on: the second GOP's 10 plus the rest
    expect(d.frames).toBe(all.frames - 10);
  });

  test("a GOP larger than the cache bound is not cached: a new viewer waits for the next keyframe", async () => {
    const hub = new LiveHub("t", { maxCacheBytes: 2_000 });
    hub.beginRun();
    feed(hub, stream.subarray(0, 30_000));
    expect(hub.frameInput()).toBeNull();
    const v = new Collector();
    hub.subscribe(v);
    expect(v.chunks.length).toBe(0);
    feed(hub, stream.subarray(30_000));
    const d = await decode(v.bytes);
    expect(d.firstType).toBe("I");
    expect(d.frames).toBeGreaterThan(0);
  });

  test("endRun closes every viewer with the reason and drops the cache", () => {
    const hub = new LiveHub("t");
    hub.beginRun();
    feed(hub, stream);
    const v = new Collector();
    hub.subscribe(v);
    expect(hub.frameInput()).not.toBeNull();
    hub.endRun("the camera stopped recording");
    expect(v.closed).toBe("the camera stopped recording");
    expect(hub.live).toBe(false);
    expect(hub.frameInput()).toBeNull();
    expect(hub.viewerCount).toBe(0);
  });
});

describe("current-frame service", () => {
  test("decodes the newest complete frame, stamped with its arrival; concurrent requests share one decode", async () => {
    const hubs = new LiveHubs();
    const hub = hubs.get("cam");
    hub.beginRun();
    let spawned = 0;
    const service = new LiveFrameService(hubs, (k) => (k === "cam" ? "enabled" : k === "off" ? "disabled" : "unknown"), { ffmpegPath: FFMPEG });
    const arrival = Date.now();
    feed(hub, stream.subarray(0, 60_000));
    const input = hub.frameInput()!;
    expect(input.newestFrameAtMs).toBeGreaterThanOrEqual(arrival);
    const countSpawns = (orig: typeof Bun.spawn) =>
      ((...args: Parameters<typeof Bun.spawn>) => {
        spawned++;
        return orig(...args);
      }) as typeof Bun.spawn;
    const orig = Bun.spawn;
    Bun.spawn = countSpawns(orig);
    let frames;
    try {
      frames = await Promise.all([service.current("cam"), service.current("cam"), service.current("cam")]);
    } finally {
      Bun.spawn = orig;
    }
    expect(spawned).toBe(1);
    expect(frames[0]).toBe(frames[1]);
    expect(frames[0]).toBe(frames[2]);
    const f = frames[0];
    expect([f.jpeg[0], f.jpeg[1]]).toEqual([0xff, 0xd8]);
    expect(jpegSize(f.jpeg)).toEqual({ width: 160, height: 120 });
    expect({ width: f.width, height: f.height }).toEqual({ width: 160, height: 120 });
    expect(f.capturedAtMs).toBe(input.newestFrameAtMs);
  });

  test("unknown, disabled and idle cameras are refused with their reason", async () => {
    const hubs = new LiveHubs();
    const service = new LiveFrameService(hubs, (k) => (k === "cam" ? "enabled" : k === "off" ? "disabled" : "unknown"), { startWaitMs: 200 });
    const reason = (p: Promise<unknown>) => p.then(() => "resolved", (e) => (e instanceof FrameUnavailableError ? e.reason : String(e)));
    expect(await reason(service.current("nope"))).toBe("unknown_camera");
    expect(await reason(service.current("off"))).toBe("not_recording");
    expect(await reason(service.current("cam"))).toBe("not_recording"); // no recorder feeds its hub
    hubs.get("cam").beginRun(); // a recorder runs but no frame arrives
    expect(await reason(service.current("cam", { timeoutMs: 300 }))).toBe("timeout");
  });
});
