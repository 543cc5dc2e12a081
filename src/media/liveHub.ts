/**
 * The live hub of one camera: the recorder's live MPEG-TS copy (src/media/recorderArgs.ts
 * `liveFd`) goes in, live viewers (WebSocket or chunked HTTP, src/web/routes/liveStream.ts) and the
 * current-frame service (src/media/currentFrameService.ts) read from it. No transcoding anywhere.
 *
 * - GOP cache: the packets since the newest keyframe, so a viewer that joins starts decoding at
 *   once (with a 1 s GOP it receives at most ~1 s of footage, which its player skips through to
 *   the live edge) and a frame request has everything a decoder needs (a request that can wait
 *   takes the next keyframe alone: `nextKeyframe`, `frameInput(1)`). Bounded by
 *   `maxCacheBytes`: a longer GOP than that stops caching until the next keyframe.
 * - Every GOP starts with the newest PAT and PMT, so any GOP is a valid start of a stream.
 * - Keyframes are found from the MPEG-TS headers alone: a video packet starting a PES
 *   (payload_unit_start_indicator) with the adaptation field's random_access_indicator set,
 *   which ffmpeg's mpegts muxer sets on every keyframe (libavformat/mpegtsenc.c). The video PID
 *   comes from the PMT (stream types H.264 0x1b, H.265 0x24, MPEG-2 0x02, MPEG-4 0x10).
 * - Backpressure: each viewer reports its backlog (bytes queued and not yet sent). Above
 *   `maxBacklogBytes` (plus, until it first drains below that, the size of the GOP it got on
 *   joining) the viewer skips everything up to the next keyframe (a slow phone shows fewer
 *   frames but stays live); one that stays behind for `maxLagMs` is closed (its player
 *   reconnects). `push()` never waits for a viewer, so the recorder and the indexer are never
 *   slowed by one.
 * - Capture time: each video PES (one frame as ffmpeg muxes it) is stamped with the wall-clock
 *   time its first packet arrived here (Unix ms). ffmpeg writes a packet as soon as it is muxed
 *   (measured: one write per frame), so for sources dashcam encodes this is within a few tens of
 *   ms of capture; for a camera it is the arrival time, which is the best a receiver knows.
 */

/** A live viewer: where the hub writes MPEG-TS bytes. */
export interface LiveSink {
  /** Queues `bytes` for the viewer and returns its backlog after that (bytes not yet sent). Never blocks. */
  write(bytes: Uint8Array): number;
  /** Ends the viewer's stream; `reason` is one line for the viewer (a WebSocket close reason). */
  close(reason: string): void;
}

export interface LiveHubOptions {
  /** Most bytes kept in the GOP cache (default 8 MiB: a 10 s GOP at 6 Mbit/s). */
  maxCacheBytes?: number;
  /** Backlog above which a viewer skips to the next keyframe (default 1 MiB). */
  maxBacklogBytes?: number;
  /** A viewer behind for this long is closed (default 15 s). */
  maxLagMs?: number;
  /** The clock, Unix ms (tests). */
  now?: () => number;
}

/** The newest complete frames the hub holds, for a decoder. */
export interface LiveFrameInput {
  /** PAT, PMT and the GOP from its keyframe up to the end of the newest complete frame. */
  bytes: Uint8Array;
  /** Video frames (PES) in `bytes`. */
  frames: number;
  /** Capture time of the newest frame in `bytes` (its arrival here), Unix ms. */
  newestFrameAtMs: number;
}

const TS = 188;
const VIDEO_STREAM_TYPES = new Set([0x01, 0x02, 0x10, 0x1b, 0x24]);

interface Viewer {
  sink: LiveSink;
  /**
   * Extra backlog allowed while the cached GOP it received on joining drains (bytes; 0 once its
   * backlog is back under maxBacklogBytes): a joining viewer gets up to a whole GOP at once.
   */
  allowance: number;
  /** Skipping until the next keyframe (just joined without a cache, or too far behind). */
  waiting: boolean;
  /** When it started lagging (ms), null while it keeps up. */
  lagSince: number | null;
}

interface FrameMark {
  /** Byte offset of the frame's first packet in the cache. */
  offset: number;
  atMs: number;
}

/** Parses the first PMT PID of a PAT section that starts in this packet, or null. */
function patPmtPid(p: Uint8Array, start: number): number | null {
  let i = start + 4;
  if (((p[start + 3] >> 4) & 2) !== 0) i += 1 + p[start + 4];
  i += 1 + p[i]; // pointer field
  if (i + 8 > start + TS || p[i] !== 0x00) return null;
  const sectionLength = ((p[i + 1] & 0x0f) << 8) | p[i + 2];
  const end = Math.min(start + TS, i + 3 + sectionLength - 4);
  for (let j = i + 8; j + 4 <= end; j += 4) {
    const program = (p[j] << 8) | p[j + 1];
    if (program !== 0) return ((p[j + 2] & 0x1f) << 8) | p[j + 3];
  }
  return null;
}

/** Parses the first video elementary PID of a PMT section that starts in this packet, or null. */
function pmtVideoPid(p: Uint8Array, start: number): number | null {
  let i = start + 4;
  if (((p[start + 3] >> 4) & 2) !== 0) i += 1 + p[start + 4];
  i += 1 + p[i];
  if (i + 12 > start + TS || p[i] !== 0x02) return null;
  const sectionLength = ((p[i + 1] & 0x0f) << 8) | p[i + 2];
  const end = Math.min(start + TS, i + 3 + sectionLength - 4);
  const programInfoLength = ((p[i + 10] & 0x0f) << 8) | p[i + 11];
  for (let j = i + 12 + programInfoLength; j + 5 <= end; ) {
    const type = p[j];
    const pid = ((p[j + 1] & 0x1f) << 8) | p[j + 2];
    if (VIDEO_STREAM_TYPES.has(type)) return pid;
    j += 5 + (((p[j + 3] & 0x0f) << 8) | p[j + 4]);
  }
  return null;
}

/** One camera's live hub (see the module comment). */
export class LiveHub {
  private readonly maxCacheBytes: number;
  private readonly maxBacklogBytes: number;
  private readonly maxLagMs: number;
  private readonly now: () => number;
  private readonly viewers = new Set<Viewer>();
  private partial: Uint8Array | null = null;
  private pmtPid: number | null = null;
  private videoPid: number | null = null;
  private pat: Uint8Array | null = null;
  private pmt: Uint8Array | null = null;
  /** The GOP cache (null = none: no keyframe yet, or the GOP outgrew maxCacheBytes). */
  private cache: Uint8Array[] | null = null;
  private cacheBytes = 0;
  private frames: FrameMark[] = [];
  private running = false;
  private frameWaiters = new Set<() => void>();
  /** Bytes received since the runtime started (all runs). */
  bytesIn = 0;
  /** GOPs (keyframes) started since the runtime started (all runs). */
  keyframes = 0;

  constructor(
    readonly cameraKey: string,
    options: LiveHubOptions = {},
  ) {
    this.maxCacheBytes = options.maxCacheBytes ?? 8 * 1024 * 1024;
    this.maxBacklogBytes = options.maxBacklogBytes ?? 1024 * 1024;
    this.maxLagMs = options.maxLagMs ?? 15_000;
    this.now = options.now ?? Date.now;
  }

  /** True while a recorder run feeds the hub. */
  get live(): boolean {
    return this.running;
  }

  /** Number of connected viewers. */
  get viewerCount(): number {
    return this.viewers.size;
  }

  /** A new recorder run starts feeding the hub: a new stream, nothing of the previous one is kept. */
  beginRun(): void {
    this.reset();
    this.running = true;
  }

  /**
   * The run ended (ffmpeg exited): every viewer is closed with `reason` (its player reconnects and
   * starts cleanly on the next run's stream) and the cache is dropped.
   */
  endRun(reason: string): void {
    this.running = false;
    this.reset();
    for (const v of [...this.viewers]) this.dropViewer(v, reason);
    this.wakeFrameWaiters();
  }

  private reset(): void {
    this.partial = null;
    this.pmtPid = this.videoPid = null;
    this.pat = this.pmt = null;
    this.cache = null;
    this.cacheBytes = 0;
    this.frames = [];
  }

  /**
   * Adds a viewer. It receives the cached GOP at once (PAT, PMT, keyframe, the frames since),
   * then every packet as it arrives; without a cache it waits for the next keyframe. Returns the
   * function that removes it (without closing its sink).
   */
  subscribe(sink: LiveSink): () => void {
    const viewer: Viewer = { sink, allowance: 0, waiting: true, lagSince: null };
    this.viewers.add(viewer);
    if (this.cache) {
      viewer.waiting = false;
      // the burst may sit in the viewer's queue for a while: up to that much backlog is not
      // falling behind (until it first drains below maxBacklogBytes)
      try {
        for (const chunk of this.cache) viewer.allowance = sink.write(chunk);
      } catch {
        this.viewers.delete(viewer);
      }
    }
    return () => {
      this.viewers.delete(viewer);
    };
  }

  /** Feeds bytes of the live MPEG-TS stream, as read from the recorder's pipe (any chunking). */
  push(chunk: Uint8Array, atMs = this.now()): void {
    this.bytesIn += chunk.length;
    let buf = chunk;
    if (this.partial) {
      buf = new Uint8Array(this.partial.length + chunk.length);
      buf.set(this.partial);
      buf.set(chunk, this.partial.length);
      this.partial = null;
    }
    // out: slices of buf, each either continuing the current GOP or starting a new one
    let sliceStart = -1;
    let i = 0;
    let newFrame = false;
    const flush = (end: number) => {
      if (sliceStart >= 0 && end > sliceStart) this.emit(buf.subarray(sliceStart, end), false);
      sliceStart = -1;
    };
    while (i + TS <= buf.length) {
      if (buf[i] !== 0x47) {
        // lost sync (should not happen on a pipe): skip to the next sync byte
        flush(i);
        const next = buf.indexOf(0x47, i + 1);
        i = next < 0 ? buf.length : next;
        continue;
      }
      const pid = ((buf[i + 1] & 0x1f) << 8) | buf[i + 2];
      const pusi = (buf[i + 1] & 0x40) !== 0;
      if (pid === 0 && pusi) {
        this.pat = buf.slice(i, i + TS);
        this.pmtPid = patPmtPid(buf, i) ?? this.pmtPid;
      } else if (pid === this.pmtPid && pusi) {
        this.pmt = buf.slice(i, i + TS);
        this.videoPid = pmtVideoPid(buf, i) ?? this.videoPid;
      } else if (pid === this.videoPid && pusi) {
        const hasAdaptation = ((buf[i + 3] >> 4) & 2) !== 0;
        const randomAccess = hasAdaptation && buf[i + 4] > 0 && (buf[i + 5] & 0x40) !== 0;
        if (randomAccess && this.pat && this.pmt) {
          flush(i);
          this.startGop();
        }
        if (this.cache) this.frames.push({ offset: this.cacheBytes + (sliceStart >= 0 ? i - sliceStart : 0), atMs });
        newFrame = true;
      }
      if (sliceStart < 0) sliceStart = i;
      i += TS;
    }
    flush(i);
    if (i < buf.length) this.partial = buf.slice(i);
    if (newFrame) this.wakeFrameWaiters();
  }

  /** A keyframe begins: the cache restarts with PAT + PMT, and waiting viewers may join. */
  private startGop(): void {
    const head = new Uint8Array(2 * TS);
    head.set(this.pat!, 0);
    head.set(this.pmt!, TS);
    this.cache = [];
    this.cacheBytes = 0;
    this.frames = [];
    this.keyframes++;
    this.emit(head, true);
  }

  /** Caches a slice and sends it to the viewers; `gopStart` = the slice begins a GOP. */
  private emit(slice: Uint8Array, gopStart: boolean): void {
    if (this.cache) {
      if (this.cacheBytes + slice.length > this.maxCacheBytes) {
        this.cache = null;
        this.cacheBytes = 0;
        this.frames = [];
      } else {
        // copied: `slice` may be a view of a buffer reused by the reader
        const copy = slice.slice();
        this.cache.push(copy);
        this.cacheBytes += copy.length;
        slice = copy;
      }
    }
    for (const v of [...this.viewers]) {
      if (v.waiting) {
        if (!gopStart) {
          this.checkLag(v);
          continue;
        }
        v.waiting = false;
      }
      this.send(v, slice);
    }
  }

  private send(v: Viewer, bytes: Uint8Array): void {
    let backlog: number;
    try {
      backlog = v.sink.write(bytes);
    } catch {
      this.viewers.delete(v);
      return;
    }
    if (backlog <= this.maxBacklogBytes) v.allowance = 0;
    if (backlog > this.maxBacklogBytes + v.allowance) {
      v.waiting = true;
      v.lagSince ??= this.now();
      this.checkLag(v);
    } else if (!v.waiting) {
      v.lagSince = null;
    }
  }

  private checkLag(v: Viewer): void {
    if (v.lagSince !== null && this.now() - v.lagSince > this.maxLagMs) this.dropViewer(v, "too slow: the connection cannot keep up with the live stream");
  }

  private dropViewer(v: Viewer, reason: string): void {
    this.viewers.delete(v);
    try {
      v.sink.close(reason);
    } catch {
      // already closed
    }
  }

  private wakeFrameWaiters(): void {
    const waiters = [...this.frameWaiters];
    this.frameWaiters.clear();
    for (const w of waiters) w();
  }

  /**
   * The cached GOP up to the end of its newest COMPLETE frame (a frame is complete when the next
   * one starts), or null when the hub holds no complete frame (no run, no keyframe yet, GOP too
   * long for the cache). `maxFrames` (>= 1) stops earlier: 1 = PAT, PMT and the keyframe alone.
   */
  frameInput(maxFrames = Infinity): LiveFrameInput | null {
    if (!this.cache || this.frames.length < 2) return null;
    const frames = Math.min(this.frames.length - 1, Math.max(1, maxFrames));
    const end = this.frames[frames].offset;
    const newest = this.frames[frames - 1];
    const bytes = new Uint8Array(end);
    let o = 0;
    for (const chunk of this.cache) {
      if (o >= end) break;
      const n = Math.min(chunk.length, end - o);
      bytes.set(n === chunk.length ? chunk : chunk.subarray(0, n), o);
      o += n;
    }
    return { bytes, frames, newestFrameAtMs: newest.atMs };
  }

  /**
   * Complete frames in the cached GOP (its keyframe counts; 0 while the keyframe is still
   * arriving), or null when nothing is cached (no keyframe yet, or the GOP outgrew the cache).
   * Decoding the newest frame costs this many decoded frames.
   */
  get gopFrames(): number | null {
    return this.cache ? Math.max(0, this.frames.length - 1) : null;
  }

  /**
   * Resolves true once a keyframe that starts after this call is complete in the cache (then
   * `frameInput(1)` is that keyframe alone); false after `timeoutMs`, on abort, or when the run
   * ends. A GOP too long for the cache does not count (its keyframe cannot be handed out).
   */
  async nextKeyframe(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const after = this.keyframes;
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (this.keyframes > after && this.cache && this.frames.length >= 2) return true;
      const left = end - Date.now();
      if (left <= 0 || !this.running || signal?.aborted) return false;
      if (!(await this.nextFrame(left, signal))) return false;
    }
  }

  /** Resolves at the next frame start or run end, or after `timeoutMs`; false on timeout or abort. */
  nextFrame(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.frameWaiters.delete(wake);
        signal?.removeEventListener("abort", onAbort);
        resolve(ok);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      if (signal?.aborted) return resolve(false);
      this.frameWaiters.add(wake);
      timer = setTimeout(() => done(false), Math.max(0, timeoutMs));
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** The live hubs of a runtime, one per camera key, made on first use. */
export class LiveHubs {
  private readonly hubs = new Map<string, LiveHub>();
  constructor(private readonly options: LiveHubOptions = {}) {}

  /** The hub of camera `key` (made on first use). */
  get(key: string): LiveHub {
    let hub = this.hubs.get(key);
    if (!hub) {
      hub = new LiveHub(key, this.options);
      this.hubs.set(key, hub);
    }
    return hub;
  }

  /** The hub of camera `key` when one was made, else undefined. */
  find(key: string): LiveHub | undefined {
    return this.hubs.get(key);
  }
}
