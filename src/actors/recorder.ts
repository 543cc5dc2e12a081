/**
 * The recorder actor: one ffmpeg child process recording one camera into its ring directory.
 *
 * `recorderActor` is XState callback logic (`fromCallback`). Input: `RecorderInput`. It sends its
 * parent the `RecorderEvent`s of src/machines/events.ts:
 * - `RECORDER.STARTED {pid}` once ffmpeg is spawned;
 * - `RECORDER.RECEIVING` at the first `-progress` report with `out_time_us > 0` (media flows);
 * - `SEGMENT_CLOSED` for every line of ffmpeg's CSV segment list (stdout). `startUtc`/`endUtc`
 *   are wall-clock ms anchored at the run's first closed segment
 *   (`anchor = Date.now() - endSec*1000` then, `anchor + sec*1000` for every line), so the
 *   segments of one run are contiguous; `bytes` is the file size from stat. The first segment
 *   of a run is measured with ffmpeg (its start = end - duration) because the segment muxer
 *   reports 0 as its start even when ffmpeg joined a live stream mid-GOP and dropped the packets
 *   before the first keyframe (seen with RTSP: "0,19.6" for 10 s of media). A line with no
 *   duration (end <= start: ffmpeg stopped right after it opened the file) is measured too:
 *   indexed with its measured duration when it holds media, else its file is deleted and no
 *   event is sent (`measureSegmentLine`), so no indexed segment has `end_utc = start_utc`;
 * - `STALL` when no segment closed for `camera.stall_seconds ?? 2*segment_seconds + 10` s; if
 *   still none after another such period, ffmpeg is stopped (SIGINT, SIGKILL 4 s later);
 * - `PROCESS_EXIT {code, signal, error}` after ffmpeg exited AND its stdout was drained, so every
 *   SEGMENT_CLOSED of the run is delivered before it. `error` is one redacted line (the last
 *   `[error]`/`[fatal]` line of ffmpeg's stderr, no URL ever) or null after a requested stop.
 *
 * `{type: "RECORDER.STOP"}` (and the actor's cleanup when it is stopped) sends ffmpeg SIGINT:
 * ffmpeg finalises the current segment and prints its CSV line; SIGKILL follows after 4 s.
 * After cleanup no event is sent any more (the parent is gone); the camera machine therefore
 * sends RECORDER.STOP and waits for PROCESS_EXIT when it wants the last segment indexed.
 *
 * Live view: with `input.liveHub`, ffmpeg also writes the same packets as one MPEG-TS stream to
 * its file descriptor 3 (src/media/recorderArgs.ts `liveFd`); the run reads that pipe without
 * pause into the camera's live hub (src/media/liveHub.ts: `beginRun` at spawn, `push` per read,
 * `endRun` when ffmpeg has exited, which closes the viewers so their players reconnect to the
 * next run). The hub never blocks the reader, and ffmpeg drops live packets rather than waiting
 * for the pipe, so the live copy cannot slow the recording.
 *
 * Safety against overwriting (DESIGN.md invariant 2, a file is never overwritten in place):
 * - a new run on a ring directory first waits for the previous ffmpeg of this process on the
 *   same directory to exit;
 * - the first file number is max(input.startNumber, highest file already in the ring + 1);
 * - on Linux ffmpeg runs under `setpriv --pdeathsig INT` (util-linux) so it exits when the
 *   runtime dies (even by SIGKILL) instead of recording on as an orphan. It finalises its current
 *   segment when it gets exactly one SIGINT; Linux may send the parent-death signal once per
 *   exiting thread of the runtime, and a second SIGINT makes ffmpeg abandon its output, leaving
 *   a truncated file that start-up reconciliation salvages or deletes (like a power cut).
 *
 * Bounded loss (DESIGN.md invariant 6): ffmpeg writes every packet through to the segment file
 * (src/media/recorderArgs.ts), and every `syncIntervalMs(camera)` the recorder opens the segment
 * being written read-only and fdatasyncs it (plus, once per segment, its directory, so the new
 * name survives too). A power cut then loses at most one interval plus the sync's own latency
 * and one packet of the newest footage; start-up salvage indexes what reached the disk.
 */
import { fromCallback } from "xstate";
import { mkdirSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { DEFAULT_MAX_LOSS_SECONDS, stallTimeoutMs, type CameraConfig } from "../config.ts";
import type { RecorderCommand, RecorderEvent } from "../machines/events.ts";
import { absoluteIndexOf, ringDirRel, segmentRelPath } from "../paths.ts";
import { log, redact } from "../log.ts";
import { resolveFfmpeg, ffmpegMajorVersion } from "../media/ffmpeg.ts";
import { probeCommand } from "../commandProbe.ts";
import { buildRecorderArgs, RTSP_TIMEOUT_US } from "../media/recorderArgs.ts";
import { syncPathAsync } from "../fsx.ts";
import { holdsFootage, parseVideoStreamLine, probeMedia, type StreamInfo } from "../media/probe.ts";
import type { LiveHub } from "../media/liveHub.ts";

export interface RecorderInput {
  camera: CameraConfig;
  /** cameras.id (for logs; the recorder itself does not touch the database). */
  cameraId: number;
  /** Absolute data directory; the ring is `<dataDir>/recordings/<camera key>/`. */
  dataDir: string;
  /** Absolute index of the first segment (normally camera_state.absolute_segments). */
  startNumber: number;
  /** The camera's live hub, fed with ffmpeg's live MPEG-TS copy; absent = recording only. */
  liveHub?: LiveHub;
  /** dashcam's own encoder settings (bitrate cap, keyframe interval) for the sources it encodes (src/media/recorderArgs.ts). */
  encoder?: { bitrateKbps?: number | null; keyframeSeconds?: number | null };
}

/** File descriptor of ffmpeg's live MPEG-TS output (0-2 are stdin, the segment list, stderr). */
const LIVE_FD = 3;

/** ms between SIGINT and SIGKILL when stopping ffmpeg. */
export const STOP_GRACE_MS = 4000;
/** Lines of ffmpeg stderr kept for the error message. */
const STDERR_KEEP = 20;

/**
 * Interval between two syncs of the segment being written, ms: half of `max_loss_seconds`, so
 * footage written right after one sync is on disk at the next, and the other half of the budget
 * covers the fdatasync itself (tens of ms on an SD card, more when the card is busy).
 */
export function syncIntervalMs(camera: Pick<CameraConfig, "max_loss_seconds">): number {
  return Math.max(100, Math.round(((camera.max_loss_seconds ?? DEFAULT_MAX_LOSS_SECONDS) * 1000) / 2));
}

/** Removes every URL-looking token (any scheme) after the project's `redact()`. */
export function redactLine(text: string): string {
  return redact(text).replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, "<url>");
}

/** A `-progress` key=value line (values may be padded: `speed=   1x`); log lines start with `[`. */
const PROGRESS_RE = /^[a-z0-9_]+=/;
const LEVEL_RE = /^(?:\[[^\]]*@ 0x[0-9a-f]+\] )?\[(trace|debug|verbose|info|warning|error|fatal|panic|quiet)\] ?/;
const GENERIC_RE = /^(Conversion failed!|Exiting normally.*)$/;

/** Splits `[xxx @ 0x..] [level] message` into level and message (level null when untagged). */
export function splitLevel(line: string): { level: string | null; message: string } {
  const m = LEVEL_RE.exec(line);
  if (!m) return { level: null, message: line.trim() };
  return { level: m[1], message: line.slice(m[0].length).trim() };
}

/**
 * Picks the line that best explains an ffmpeg failure from its last stderr lines: the last
 * error/fatal/panic message that is not a generic trailer ("Conversion failed!"), else the last
 * untagged line (e.g. from setpriv or the dynamic loader), else the last warning, else null.
 * The result is redacted.
 */
export function pickErrorLine(lines: string[]): string | null {
  const parsed = lines.map(splitLevel).filter((l) => l.message && !GENERIC_RE.test(l.message));
  const pick =
    parsed.findLast((l) => l.level === "error" || l.level === "fatal" || l.level === "panic") ??
    parsed.findLast((l) => l.level === null) ??
    parsed.findLast((l) => l.level === "warning");
  return pick ? redactLine(pick.message).slice(0, 400) : null;
}

/**
 * Says in words why ffmpeg could not record an RTSP camera, from its error line (`pickErrorLine`)
 * and how long the run lasted (ms). ffmpeg reports a camera that accepts the TCP connection but
 * never answers as "Invalid data found when processing input" once its socket timeout
 * (`RTSP_TIMEOUT_US`) passes, which reads like a codec problem; the same line after a quick
 * answer means the port speaks something else. ffmpeg's own words follow in parentheses.
 * Returns the line unchanged when it matches nothing known.
 */
export function describeRtspFailure(line: string, runMs: number): string {
  const timeoutS = RTSP_TIMEOUT_US / 1_000_000;
  const said = ` (ffmpeg: ${line})`;
  if (/Connection refused/i.test(line)) return `connection refused: nothing accepts connections on the camera's RTSP port${said}`;
  if (/timed out/i.test(line)) return `timed out: the camera did not answer within ${timeoutS} s${said}`;
  if (/Invalid data found when processing input/i.test(line))
    return runMs >= RTSP_TIMEOUT_US / 1000 - 500
      ? `timed out: the camera accepted the connection but sent no RTSP answer within ${timeoutS} s${said}`
      : `the camera's answer is not RTSP (wrong port or path?)${said}`;
  if (/No route to host|Network is unreachable/i.test(line)) return `camera unreachable: no route to its address${said}`;
  if (/Name or service not known|name resolution|Name does not resolve/i.test(line)) return `camera host name not found${said}`;
  if (/401|Unauthorized/i.test(line)) return `authentication failed: check the user and password in the camera URL${said}`;
  if (/404|Not Found/i.test(line)) return `stream not found: check the path in the camera URL${said}`;
  return line;
}

/** Highest absolute index among the ring's segment files, or -1. */
function highestFileIndex(ringDirAbs: string): number {
  let max = -1;
  try {
    for (const name of readdirSync(ringDirAbs)) {
      const n = absoluteIndexOf(name);
      if (n !== null && n > max) max = n;
    }
  } catch {
    // no directory yet
  }
  return max;
}

/** Exit promises of the ffmpeg processes of this process, by ring directory. */
const liveByRing = new Map<string, Promise<void>>();

/**
 * Resolves true once no ffmpeg started by this process is recording into the camera's ring
 * (immediately when none is), false after `timeoutMs`. A camera machine whose recorder was
 * stopped abruptly (actor cleanup) can await this, then `salvageInterrupted()` the segment that
 * ffmpeg finalised after the cleanup, before starting the next run.
 */
export async function waitRecorderIdle(dataDir: string, cameraKey: string, timeoutMs = STOP_GRACE_MS + 4000): Promise<boolean> {
  const ring = join(dataDir, ringDirRel(cameraKey));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = liveByRing.get(ring);
    if (!live) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await Promise.race([live, Bun.sleep(left)]);
  }
}

let setprivPath: Promise<string | null> | undefined;
/** `setpriv --pdeathsig SIG --` prefix on Linux when util-linux's setpriv exists, else []. */
async function deathSignalPrefix(sig: "INT" | "TERM"): Promise<string[]> {
  if (process.platform !== "linux") return [];
  // util-linux >= 2.33 knows --pdeathsig; try it once (asynchronously, 5 s at most) so an older
  // or stuck setpriv never blocks recording
  setprivPath ??= (async () => {
    const found = Bun.which("setpriv");
    if (!found) return null;
    try {
      const r = await probeCommand([found, "--pdeathsig", "INT", "--", "true"], { timeoutMs: 5000 });
      return r.exitCode === 0 ? found : null;
    } catch {
      return null;
    }
  })();
  const path = await setprivPath;
  return path ? [path, "--pdeathsig", sig, "--"] : [];
}

/** Calls `onLine` for each complete line of a byte stream; resolves at its end. */
async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buf = "";
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buf.search(/[\r\n]/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line) onLine(line);
    }
  }
  buf += decoder.decode();
  if (buf.trim()) onLine(buf);
}

/** A segment list line reporting less than this, s, reports no duration (one ms: `end_utc > start_utc`). */
const MIN_SEGMENT_SEC = 0.001;

/**
 * One line of ffmpeg's CSV segment list (`000000007.ts,0.000000,14.960000`, seconds since the
 * run began) measured against the file in `ringAbs`:
 * - `segment`: the file to index, with `startSec < endSec`. The segment muxer reports 0 as the
 *   start of a run's FIRST segment even when its first packet came later (with `-c copy` ffmpeg
 *   drops the packets before the first keyframe, up to one GOP after connecting), so the first
 *   segment's start is measured instead: end - its duration (src/media/probe.ts). A segment
 *   reported with no duration (end <= start, e.g. ffmpeg stopped right after opening it) that
 *   still holds media gets its measured duration as its length.
 * - `empty`: reported with no duration and holds no playable media (`holdsFootage`, the rule
 *   start-up salvage applies too): not footage, the caller deletes the file.
 * - `unmeasured`: reported with no duration and ffmpeg could not measure it (left to salvage).
 * - `invalid`: not a segment list line.
 */
export async function measureSegmentLine(
  line: string,
  ringAbs: string,
  ffmpegPath: string,
  firstOfRun: boolean,
): Promise<
  | { kind: "segment"; name: string; absoluteIndex: number; startSec: number; endSec: number }
  | { kind: "empty"; name: string; reason: string }
  | { kind: "unmeasured"; name: string }
  | { kind: "invalid" }
> {
  const [name, startText, endText] = line.trim().split(",");
  const absoluteIndex = name ? absoluteIndexOf(name) : null;
  let startSec = Number(startText);
  let endSec = Number(endText);
  if (!name || absoluteIndex === null || !Number.isFinite(startSec) || !Number.isFinite(endSec)) return { kind: "invalid" };
  const reportedEmpty = endSec - startSec < MIN_SEGMENT_SEC;
  let probe: Awaited<ReturnType<typeof probeMedia>> = null;
  let measured = false;
  if (firstOfRun || reportedEmpty) {
    try {
      probe = await probeMedia(join(ringAbs, name), ffmpegPath);
      measured = true;
    } catch {
      // keep the reported times
    }
  }
  if (reportedEmpty) {
    if (!measured) return { kind: "unmeasured", name };
    if (!probe || !holdsFootage(probe))
      return { kind: "empty", name, reason: `reported ${startText}-${endText} s, ${probe ? `${probe.frames} video frame(s)` : "no video"}` };
    endSec = startSec + probe.durationSec;
  } else if (firstOfRun && probe && probe.durationSec > 0) {
    startSec = Math.min(endSec, Math.max(startSec, endSec - probe.durationSec));
  }
  return { kind: "segment", name, absoluteIndex, startSec, endSec };
}

/** One recording run (one ffmpeg process). */
class RecorderRun {
  private proc: Subprocess | null = null;
  private source: Subprocess<"ignore", "pipe", "pipe"> | null = null;
  private stopRequested = false;
  private cancelled = false;
  private silenced = false;
  private sigkilled = false;
  private killTimer: ReturnType<typeof setTimeout> | null = null;
  private stallTimer: ReturnType<typeof setTimeout> | null = null;
  private syncTimer: ReturnType<typeof setInterval> | null = null;
  /** Absolute index of the segment ffmpeg is writing now (the one after the last closed). */
  private writingIndex = -1;
  /** Index whose directory entry was synced (once per segment). */
  private dirSyncedFor = -1;
  private syncBusy = false;
  private slowSyncWarned = false;
  private stallStage = 0;
  private stallReason: string | null = null;
  private anchor: number | null = null;
  /** Segment lines are handled one after the other (the first one awaits a probe). */
  private segmentChain: Promise<void> = Promise.resolve();
  private firstSegmentDone = false;
  private ffmpegPath = "";
  private receiving = false;
  private inOutput = false;
  private stream: StreamInfo | null = null;
  private stderrTail: string[] = [];
  private readonly ringRel: string;
  private readonly ringAbs: string;
  private readonly stallMs: number;

  constructor(
    private readonly input: RecorderInput,
    private readonly send: (event: RecorderEvent) => void,
  ) {
    this.ringRel = ringDirRel(input.camera.key);
    this.ringAbs = join(input.dataDir, this.ringRel);
    this.stallMs = stallTimeoutMs(input.camera);
  }

  private emit(event: RecorderEvent): void {
    if (this.silenced) return;
    try {
      this.send(event);
    } catch (err) {
      log.error(`camera ${this.input.camera.key}: recorder event ${event.type} failed: ${(err as Error).message}`);
    }
  }

  async start(): Promise<void> {
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const previous = liveByRing.get(this.ringAbs);
    liveByRing.set(this.ringAbs, done);
    try {
      if (previous) await Promise.race([previous, Bun.sleep(STOP_GRACE_MS + 2000)]);
      if (this.cancelled) return;
      if (this.stopRequested) {
        this.emit({ type: "PROCESS_EXIT", code: null, signal: null, error: null, at: Date.now() });
        return;
      }
      await this.spawnAndWait();
    } finally {
      resolveDone();
      if (liveByRing.get(this.ringAbs) === done) liveByRing.delete(this.ringAbs);
    }
  }

  private async spawnAndWait(): Promise<void> {
    const { camera } = this.input;
    const key = camera.key;
    let startNumber = this.input.startNumber;
    let args: string[];
    let pipeFrom: string[] | undefined;
    let ffmpeg: string;
    try {
      mkdirSync(this.ringAbs, { recursive: true, mode: 0o750 }); // footage: owner and group only
      const highest = highestFileIndex(this.ringAbs);
      if (highest >= startNumber) {
        log.warn(`camera ${key}: ring already holds file ${highest} >= start ${startNumber}; starting at ${highest + 1} so nothing is overwritten`);
        startNumber = highest + 1;
      }
      ffmpeg = this.ffmpegPath = resolveFfmpeg();
      ({ args, pipeFrom } = buildRecorderArgs(camera, {
        ringDirAbs: this.ringAbs,
        startNumber,
        ffmpegMajor: await ffmpegMajorVersion(ffmpeg),
        ...(this.input.liveHub ? { liveFd: LIVE_FD } : {}),
        ...(this.input.encoder ? { encoder: this.input.encoder } : {}),
      }));
      if (pipeFrom) {
        this.source = Bun.spawn([...(await deathSignalPrefix("TERM")), ...pipeFrom], { stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true });
        // its stderr is only drained (rpicam-vid is chatty); errors surface as ffmpeg's EOF
        void new Response(this.source.stderr).arrayBuffer().catch(() => {});
      }
      // Own session (setsid): a Ctrl-C in the terminal (SIGINT to the whole foreground process
      // group, also under `npm start`) must reach only dashcam, which then stops ffmpeg so it
      // finishes the segment; ffmpeg signalled directly dropped the segment being written
      // (0 bytes after 3 s of recording). The parent-death signal still stops it if dashcam dies.
      const prefix = await deathSignalPrefix("INT");
      const stdin = this.source ? this.source.stdout : "ignore";
      this.proc = Bun.spawn([...prefix, ffmpeg, ...args], {
        stdio: this.input.liveHub ? [stdin, "pipe", "pipe", "pipe"] : [stdin, "pipe", "pipe"],
        detached: true,
      });
    } catch (err) {
      const message = redactLine(String((err as Error)?.message ?? err).split("\n")[0]);
      log.error(`camera ${key}: cannot start ffmpeg: ${message}`);
      this.source?.kill("SIGTERM");
      this.emit({ type: "PROCESS_EXIT", code: null, signal: null, error: `cannot start ffmpeg: ${message}`, at: Date.now() });
      return;
    }
    const proc = this.proc;
    const spawnedAt = Date.now();
    log.info(`camera ${key}: ffmpeg started (pid ${proc.pid}, first segment ${startNumber})`);
    this.emit({ type: "RECORDER.STARTED", pid: proc.pid, at: Date.now() });
    this.armStall();
    this.writingIndex = startNumber;
    this.syncTimer = setInterval(() => void this.syncWriting(), syncIntervalMs(camera));
    if (this.stopRequested) this.signalStop();

    const liveDone = this.input.liveHub ? this.readLive(this.input.liveHub, proc.stdio[LIVE_FD] as number) : Promise.resolve();
    const stdoutDone = readLines(proc.stdout as ReadableStream<Uint8Array>, (line) => {
      const at = Date.now();
      // ffmpeg writes the next file as soon as it reports one closed
      const closed = absoluteIndexOf(line.split(",")[0] ?? "");
      if (closed !== null && closed >= this.writingIndex) this.writingIndex = closed + 1;
      this.segmentChain = this.segmentChain
        .then(() => this.onSegmentLine(line, at))
        .catch((err) => log.warn(`camera ${key}: segment line: ${(err as Error).message}`));
    })
      .catch((err) => log.warn(`camera ${key}: reading ffmpeg stdout: ${(err as Error).message}`))
      .then(() => this.segmentChain);
    const stderrDone = readLines(proc.stderr as ReadableStream<Uint8Array>, (line) => this.onStderrLine(line)).catch(() => {});
    await proc.exited;
    await Promise.all([stdoutDone, stderrDone, liveDone]);
    this.clearTimers();
    if (this.source) {
      this.source.kill("SIGTERM");
      await Promise.race([this.source.exited, Bun.sleep(1000)]);
      if (this.source.exitCode === null) this.source.kill("SIGKILL");
    }
    const code = proc.exitCode;
    const signal = proc.signalCode == null ? null : String(proc.signalCode);
    let error: string | null;
    const last = pickErrorLine(this.stderrTail);
    if (this.stallReason) error = last ? `${this.stallReason} (ffmpeg: ${last})` : this.stallReason;
    else if (this.stopRequested) error = this.sigkilled ? `ffmpeg did not exit within ${STOP_GRACE_MS / 1000} s of SIGINT and was killed` : null;
    else if (signal) error = `ffmpeg was killed by ${signal}`;
    else if (last) error = /^rtsps?:/i.test(camera.source) ? describeRtspFailure(last, Date.now() - spawnedAt) : last;
    else if (code === 0) error = "ffmpeg ended: the source ended";
    else error = `ffmpeg exited with code ${code}`;
    if (error) log.warn(`camera ${key}: ffmpeg exited (code ${code}, signal ${signal}): ${error}`);
    else log.info(`camera ${key}: ffmpeg stopped`);
    this.input.liveHub?.endRun(error ? "the camera's recorder stopped; reconnecting" : "the camera stopped recording");
    this.emit({ type: "PROCESS_EXIT", code, signal, error, at: Date.now() });
  }

  /** Reads ffmpeg's live MPEG-TS pipe (file descriptor `fd` of this process) into `hub` until EOF. */
  private async readLive(hub: LiveHub, fd: number): Promise<void> {
    hub.beginRun();
    try {
      const reader = Bun.file(fd).stream().getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        hub.push(value);
      }
    } catch (err) {
      log.warn(`camera ${this.input.camera.key}: reading the live stream: ${(err as Error).message}`);
    }
  }

  /**
   * Handles one CSV line (`measureSegmentLine`). `at` = when it arrived (ms). A closed segment
   * without playable media (ffmpeg stopped right after it opened the file) is deleted here, the
   * way start-up salvage deletes such an interrupted segment: it never had a row.
   */
  private async onSegmentLine(line: string, at: number): Promise<void> {
    const key = this.input.camera.key;
    const firstOfRun = !this.firstSegmentDone;
    this.firstSegmentDone = true;
    const m = await measureSegmentLine(line, this.ringAbs, this.ffmpegPath, firstOfRun);
    if (m.kind === "invalid") {
      log.warn(`camera ${key}: unexpected segment list line ignored`);
      return;
    }
    if (m.kind === "unmeasured") {
      // start-up salvage measures it again and indexes or deletes it
      log.warn(`camera ${key}: segment ${m.name} was reported without duration and could not be measured; left to salvage`);
      return;
    }
    if (m.kind === "empty") {
      try {
        unlinkSync(join(this.ringAbs, m.name));
        await syncPathAsync(this.ringAbs);
      } catch {
        // already gone
      }
      log.warn(`camera ${key}: deleted ${m.name}, a closed segment without playable media (${m.reason})`);
      return;
    }
    const { name, absoluteIndex, startSec, endSec } = m;
    let bytes: number;
    try {
      bytes = statSync(join(this.ringAbs, name)).size;
    } catch {
      log.warn(`camera ${this.input.camera.key}: closed segment ${name} is missing on disk`);
      return;
    }
    if (this.anchor === null) this.anchor = at - endSec * 1000;
    const s = this.stream;
    this.emit({
      type: "SEGMENT_CLOSED",
      relPath: join(this.ringRel, name),
      absoluteIndex,
      startSec,
      endSec,
      startUtc: Math.round(this.anchor + startSec * 1000),
      endUtc: Math.round(this.anchor + endSec * 1000),
      bytes,
      codec: s?.codec ?? null,
      width: s?.width ?? null,
      height: s?.height ?? null,
      fps: s?.fps ?? null,
    });
    this.stallStage = 0;
    this.armStall();
  }

  private onStderrLine(raw: string): void {
    const line = raw.trim();
    if (!line) return;
    if (PROGRESS_RE.test(line)) {
      if (!this.receiving && line.startsWith("out_time_us=")) {
        const us = Number(line.slice(12));
        if (Number.isFinite(us) && us > 0) {
          this.receiving = true;
          this.emit({ type: "RECORDER.RECEIVING", at: Date.now() });
        }
      }
      return;
    }
    const { message } = splitLevel(line);
    if (/^Output #0/.test(message)) this.inOutput = true;
    else if (this.inOutput && !this.stream) {
      const info = parseVideoStreamLine(message);
      if (info) this.stream = info;
    }
    this.stderrTail.push(redactLine(line));
    if (this.stderrTail.length > STDERR_KEEP) this.stderrTail.shift();
  }

  /**
   * One periodic sync of the segment being written (see the module comment). Skipped while the
   * previous one is still running; a failure is logged, recording goes on.
   */
  private async syncWriting(): Promise<void> {
    if (this.syncBusy || this.writingIndex < 0) return;
    this.syncBusy = true;
    const index = this.writingIndex;
    const t0 = performance.now();
    try {
      const path = join(this.input.dataDir, segmentRelPath(this.input.camera.key, index));
      if (!(await syncPathAsync(path, true))) return;
      if (this.dirSyncedFor !== index) {
        await syncPathAsync(this.ringAbs);
        this.dirSyncedFor = index;
      }
      const ms = performance.now() - t0;
      if (ms > syncIntervalMs(this.input.camera) && !this.slowSyncWarned) {
        this.slowSyncWarned = true;
        log.warn(`camera ${this.input.camera.key}: syncing the segment being written took ${Math.round(ms)} ms, longer than the sync interval; a power cut may lose more than max_loss_seconds`);
      }
    } catch (err) {
      log.warn(`camera ${this.input.camera.key}: cannot sync segment ${index}: ${(err as Error).message}`);
    } finally {
      this.syncBusy = false;
    }
  }

  private armStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => this.onStall(), this.stallMs);
  }

  private onStall(): void {
    this.stallTimer = null;
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode) return;
    const seconds = Math.round(this.stallMs / 1000);
    if (this.stallStage === 0) {
      this.stallStage = 1;
      this.emit({ type: "STALL", at: Date.now(), reason: `no segment closed for ${seconds} s` });
      this.armStall();
    } else {
      this.stallReason = `stalled: no segment closed for ${2 * seconds} s; ffmpeg stopped`;
      log.warn(`camera ${this.input.camera.key}: ${this.stallReason}`);
      this.signalStop();
    }
  }

  /** SIGINT now, SIGKILL after STOP_GRACE_MS. */
  private signalStop(): void {
    const proc = this.proc;
    if (!proc || this.killTimer || proc.exitCode !== null || proc.signalCode) return;
    proc.kill("SIGINT");
    this.killTimer = setTimeout(() => {
      if (proc.exitCode === null && !proc.signalCode) {
        this.sigkilled = true;
        proc.kill("SIGKILL");
      }
    }, STOP_GRACE_MS);
  }

  private clearTimers(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    if (this.killTimer) clearTimeout(this.killTimer);
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.stallTimer = this.killTimer = this.syncTimer = null;
  }

  /** RECORDER.STOP: finalise and exit; PROCESS_EXIT follows. */
  stop(): void {
    this.stopRequested = true;
    this.signalStop();
  }

  /** Actor cleanup: stop like RECORDER.STOP but send nothing more. */
  cancel(): void {
    this.cancelled = true;
    this.silenced = true;
    this.stop();
  }
}

/**
 * XState callback logic of the recorder. Use it by string `src` from the camera machine:
 * `setup({ actors: { recorder: recorderActor } })`, `invoke: { src: "recorder", input: ... }`.
 */
export const recorderActor = fromCallback<RecorderCommand, RecorderInput>(({ input, sendBack, receive }) => {
  const run = new RecorderRun(input, (event) => sendBack(event));
  receive((command) => {
    if (command.type === "RECORDER.STOP") run.stop();
  });
  run.start().catch((err) => {
    log.error(`camera ${input.camera.key}: recorder failed: ${redactLine(String((err as Error)?.message ?? err))}`);
  });
  return () => run.cancel();
});
