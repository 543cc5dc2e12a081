/**
 * The current-frame service: `CurrentFrameSource` (src/media/currentFrame.ts) over the cameras'
 * live hubs (src/media/liveHub.ts). One instance per runtime serves every camera.
 *
 * A request takes the hub's GOP cache up to its newest complete frame (PAT, PMT, keyframe and the
 * frames since) and decodes it with one short ffmpeg run (`runFfmpeg`): every frame is decoded
 * (they depend on each other) but only the newest is selected and JPEG-encoded (`select`,
 * MJPEG quality 3). The frame's capture time is its arrival time at the hub. Nothing runs
 * between requests: the only standing cost is the hub's cache, which live viewers share.
 *
 * - Concurrent requests for one camera share one decode; a frame decoded less than
 *   `reuseMs` (default 250 ms) before is handed out again without a decode.
 * - Before the first keyframe of a run there is nothing to decode: the request waits for one
 *   (a recorder starts within a second; dashcam's own sources send a keyframe every second).
 * - Cost: decoding is proportional to the frames since the keyframe; with a camera sending a
 *   keyframe every 10 s at 25 frames/s an immediate request decodes up to 250 frames.
 * - Keyframe-aligned requests (`keyframeWaitMs` > 0; timelapse captures and health checks) cost
 *   one decoded frame instead: when the cached GOP holds at most `IMMEDIATE_MAX_FRAMES` (2)
 *   complete frames it is decoded at once (as cheap as it gets); otherwise the request waits for
 *   the hub's next keyframe (`LiveHub.nextKeyframe`) and decodes that keyframe alone, which is
 *   then the newest frame (its capture time is its arrival, so it is fresh). The wait ends by
 *   `keyframeWaitMs` and at least `FALLBACK_RESERVE_MS` before the request's deadline; without a
 *   keyframe by then the request decodes the GOP to its newest frame like an immediate one.
 *   Such requests wait on their own: an immediate request never waits behind one. Those that
 *   wake at the same keyframe share its decode, and a fresh decoded frame (`reuseMs`) is handed
 *   to either kind.
 *
 * Errors are `FrameUnavailableError`: `unknown_camera` (not configured), `not_recording`
 * (disabled, or no recorder feeding its hub), `timeout` (no complete frame within
 * `timeoutMs`, or the caller aborted), `decode_failed` (ffmpeg produced no JPEG).
 */
import { runFfmpeg } from "./ffmpeg.ts";
import type { LiveFrameInput, LiveHubs } from "./liveHub.ts";
import { FrameUnavailableError, type CurrentFrame, type CurrentFrameRequest, type CurrentFrameSource } from "./currentFrame.ts";

/** What the runtime knows about a camera key. */
export type CameraAvailability = "unknown" | "disabled" | "enabled";

export interface LiveFrameServiceOptions {
  /** A decoded frame younger than this (ms) is handed out again without decoding (default 250). */
  reuseMs?: number;
  /** How long a request waits for a recorder to start feeding a hub before `not_recording`, ms (default 1500). */
  startWaitMs?: number;
  /** ffmpeg binary (default: `resolveFfmpeg()` inside runFfmpeg). */
  ffmpegPath?: string;
}

const DEFAULT_MAX_AGE_MS = 2000;
const DEFAULT_TIMEOUT_MS = 5000;
/** A keyframe-aligned request decodes at once when the cached GOP holds at most this many complete frames. */
export const IMMEDIATE_MAX_FRAMES = 2;
/**
 * A keyframe wait ends at least this long (ms) before the request's deadline, leaving time to
 * decode a whole GOP instead (measured: 250 frames of 1280x720 H.264 take about 1 s on one
 * loaded x86-64 core; a Pi-class ARM core is slower).
 */
export const FALLBACK_RESERVE_MS = 3000;

/** Width and height from a JPEG's SOF marker, or 0 x 0 when there is none. */
export function jpegSize(jpeg: Uint8Array): { width: number; height: number } {
  let i = 2;
  while (i + 9 < jpeg.length) {
    if (jpeg[i] !== 0xff) {
      i++;
      continue;
    }
    const marker = jpeg[i + 1];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (jpeg[i + 5] << 8) | jpeg[i + 6], width: (jpeg[i + 7] << 8) | jpeg[i + 8] };
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    i += 2 + ((jpeg[i + 2] << 8) | jpeg[i + 3]);
  }
  return { width: 0, height: 0 };
}

const isJpeg = (b: Uint8Array) => b.length > 4 && b[0] === 0xff && b[1] === 0xd8;

/** Decodes `input` and returns the JPEG of its newest frame. Throws FrameUnavailableError("decode_failed"). */
async function decodeNewest(input: LiveFrameInput, ffmpegPath: string | undefined, signal?: AbortSignal): Promise<Uint8Array> {
  const base = ["-hide_banner", "-nostdin", "-loglevel", "error", "-f", "mpegts", "-i", "pipe:0", "-map", "0:v:0", "-an"];
  const out = ["-c:v", "mjpeg", "-q:v", "3", "-f", "image2pipe", "pipe:1"];
  // only the newest frame is encoded; the decoder still decodes them all
  const run = await runFfmpeg([...base, "-vf", `select=gte(n\\,${input.frames - 1})`, "-frames:v", "1", ...out], {
    input: input.bytes,
    captureStdout: true,
    signal,
    ...(ffmpegPath ? { ffmpegPath } : {}),
  });
  if (run.aborted) throw new FrameUnavailableError("timeout", "the frame request was cancelled");
  if (run.code === 0 && isJpeg(run.stdout)) return run.stdout;
  // a frame the decoder dropped shifts the count: encode every frame and keep the last JPEG
  const all = await runFfmpeg([...base, ...out], { input: input.bytes, captureStdout: true, signal, ...(ffmpegPath ? { ffmpegPath } : {}) });
  if (all.aborted) throw new FrameUnavailableError("timeout", "the frame request was cancelled");
  const bytes = all.stdout;
  let start = -1;
  for (let i = bytes.length - 3; i >= 0; i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd8 && bytes[i + 2] === 0xff) {
      start = i;
      break;
    }
  }
  if (all.code !== 0 || start < 0) throw new FrameUnavailableError("decode_failed", `decoding the live stream failed: ${all.stderr || run.stderr || `ffmpeg exited with ${all.code}`}`);
  return bytes.subarray(start);
}

/** The current-frame service (see the module comment). */
export class LiveFrameService implements CurrentFrameSource {
  private readonly inflight = new Map<string, Promise<CurrentFrame>>();
  /** Keyframe-aligned decodes in flight per camera, by the hub's keyframe number they decode. */
  private readonly keyframeDecodes = new Map<string, { keyframe: number; decode: Promise<CurrentFrame> }>();
  private readonly last = new Map<string, { frame: CurrentFrame; decodedAt: number }>();
  private readonly reuseMs: number;
  private readonly startWaitMs: number;

  /** `availability(key)`: whether the runtime has that camera and it is enabled. */
  constructor(
    private readonly hubs: LiveHubs,
    private readonly availability: (cameraKey: string) => CameraAvailability,
    private readonly options: LiveFrameServiceOptions = {},
  ) {
    this.reuseMs = options.reuseMs ?? 250;
    this.startWaitMs = options.startWaitMs ?? 1500;
  }

  async current(cameraKey: string, request: CurrentFrameRequest = {}): Promise<CurrentFrame> {
    const availability = this.availability(cameraKey);
    if (availability === "unknown") throw new FrameUnavailableError("unknown_camera", `no camera "${cameraKey}" is configured`);
    if (availability === "disabled") throw new FrameUnavailableError("not_recording", `camera "${cameraKey}" is disabled`);
    const maxAgeMs = request.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    const deadline = Date.now() + (request.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const hub = this.hubs.get(cameraKey);
    if ((request.keyframeWaitMs ?? 0) > 0) {
      const aligned = await this.keyframeAligned(cameraKey, request.keyframeWaitMs!, maxAgeMs, deadline, request.signal);
      if (aligned) return aligned;
    }
    for (let attempt = 0; ; attempt++) {
      if (request.signal?.aborted) throw new FrameUnavailableError("timeout", "the frame request was cancelled");
      const cached = this.fresh(cameraKey, maxAgeMs);
      if (cached) return cached;
      let pending = this.inflight.get(cameraKey);
      if (!pending) {
        // shared: not tied to one caller's signal, bounded by this caller's deadline; it leaves
        // the in-flight map before any caller resumes, so a later request decodes anew
        const started: Promise<CurrentFrame> = this.decode(cameraKey, deadline).finally(() => {
          if (this.inflight.get(cameraKey) === started) this.inflight.delete(cameraKey);
        });
        this.inflight.set(cameraKey, started);
        pending = started;
      }
      const frame = await pending;
      if (Date.now() - frame.capturedAtMs <= maxAgeMs) return frame;
      // a shared decode started too early for this request, or the camera lags: one more try
      if (Date.now() >= deadline || attempt >= 2) {
        if (!hub.live) throw new FrameUnavailableError("not_recording", `camera "${cameraKey}" is not recording`);
        throw new FrameUnavailableError("timeout", `no frame of camera "${cameraKey}" younger than ${maxAgeMs} ms`);
      }
    }
  }

  /** The last decoded frame when it was decoded within `reuseMs` and is at most `maxAgeMs` old. */
  private fresh(cameraKey: string, maxAgeMs: number): CurrentFrame | null {
    const cached = this.last.get(cameraKey);
    const now = Date.now();
    return cached && now - cached.decodedAt <= this.reuseMs && now - cached.frame.capturedAtMs <= maxAgeMs ? cached.frame : null;
  }

  /**
   * The keyframe-aligned part of a request (see the module comment): a fresh frame, or the next
   * keyframe decoded alone, or null when the request is to decode immediately instead (the GOP
   * is short already, nothing is cached yet, or no keyframe came in time).
   */
  private async keyframeAligned(cameraKey: string, waitMs: number, maxAgeMs: number, deadline: number, signal?: AbortSignal): Promise<CurrentFrame | null> {
    const cached = this.fresh(cameraKey, maxAgeMs);
    if (cached) return cached;
    const hub = this.hubs.get(cameraKey);
    const frames = hub.gopFrames;
    // not live / no keyframe yet / GOP beyond the cache: the immediate path waits for the first
    // keyframe anyway, and a GOP of a keyframe or two is as cheap as a frame gets
    if (!hub.live || frames === null || frames <= IMMEDIATE_MAX_FRAMES) return null;
    const until = Math.min(Date.now() + waitMs, deadline - FALLBACK_RESERVE_MS);
    if (until <= Date.now() || !(await hub.nextKeyframe(until - Date.now(), signal))) return null;
    const keyframe = hub.keyframes;
    const shared = this.keyframeDecodes.get(cameraKey);
    let pending: Promise<CurrentFrame>;
    if (shared && shared.keyframe === keyframe) pending = shared.decode;
    else {
      const input = hub.frameInput(1);
      if (!input) return null;
      const started: Promise<CurrentFrame> = this.decodeInput(cameraKey, input, deadline).finally(() => {
        if (this.keyframeDecodes.get(cameraKey)?.decode === started) this.keyframeDecodes.delete(cameraKey);
      });
      this.keyframeDecodes.set(cameraKey, { keyframe, decode: started });
      pending = started;
    }
    let frame: CurrentFrame;
    try {
      frame = await pending;
    } catch (err) {
      // e.g. a sharer's earlier deadline cut the decode short: the immediate path decides
      if (err instanceof FrameUnavailableError) return null;
      throw err;
    }
    return Date.now() - frame.capturedAtMs <= maxAgeMs ? frame : null;
  }

  /** One decode of the camera's newest complete frame, waiting for one when the hub has none yet. */
  private async decode(cameraKey: string, deadline: number, signal?: AbortSignal): Promise<CurrentFrame> {
    const hub = this.hubs.get(cameraKey);
    const startBy = Math.min(deadline, Date.now() + this.startWaitMs);
    while (!hub.live) {
      if (Date.now() >= startBy || signal?.aborted) throw new FrameUnavailableError("not_recording", `camera "${cameraKey}" is not recording`);
      await Bun.sleep(50);
    }
    let input = hub.frameInput();
    while (!input) {
      const left = deadline - Date.now();
      if (left <= 0 || !(await hub.nextFrame(left, signal))) {
        if (!hub.live) throw new FrameUnavailableError("not_recording", `camera "${cameraKey}" stopped recording`);
        throw new FrameUnavailableError("timeout", `no complete frame from camera "${cameraKey}" yet`);
      }
      if (!hub.live) throw new FrameUnavailableError("not_recording", `camera "${cameraKey}" stopped recording`);
      input = hub.frameInput();
    }
    return this.decodeInput(cameraKey, input, deadline, signal);
  }

  /** Decodes `input` to the JPEG of its newest frame, by `deadline`, and keeps it for reuse. */
  private async decodeInput(cameraKey: string, input: LiveFrameInput, deadline: number, signal?: AbortSignal): Promise<CurrentFrame> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
    const onAbort = () => abort.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const jpeg = await decodeNewest(input, this.options.ffmpegPath, abort.signal);
      const frame: CurrentFrame = { jpeg, capturedAtMs: input.newestFrameAtMs, ...jpegSize(jpeg), decodedFrames: input.frames };
      this.last.set(cameraKey, { frame, decodedAt: Date.now() });
      return frame;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}
