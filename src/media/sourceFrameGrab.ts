/**
 * `SourceGrabFrameSource`: a STAND-IN `CurrentFrameSource` (src/media/currentFrame.ts) that
 * grabs one frame straight from the camera's configured source with ffmpeg at call time. The
 * real current-frame service (a decoder attached to the recorder's stream) replaces it in
 * `runtime.ts`, the one place it is created; until then camera health checks use this.
 *
 * Per source:
 * - `rtsp://` / `rtsps://`: a second short RTSP session (the configured `rtsp_transport`),
 *   the first decodable frame (at the next keyframe: the GOP decides how long that takes);
 * - `file:PATH` (a file "played in real time and looped" by the recorder): the frame at the
 *   wall-clock position in the loop, `(now / 1000) mod duration`;
 * - `testsrc`: ffmpeg's moving test pattern at the wall-clock second (mod 60);
 * - `v4l2:` / `rpicam`: the recorder holds the device, so there is no second reader: a plain
 *   `Error` (not `FrameUnavailableError`: the camera is fine, this stand-in cannot serve it).
 *
 * `capturedAtMs` is when ffmpeg delivered the frame (the grab decodes nothing older), so the
 * contract's `maxAgeMs` holds. Errors: `FrameUnavailableError` (`unknown_camera`,
 * `not_recording` for a disabled camera or a source ffmpeg cannot open, `timeout`,
 * `decode_failed`).
 */
import type { CameraConfig } from "../config.ts";
import { FrameUnavailableError, type CurrentFrame, type CurrentFrameRequest, type CurrentFrameSource } from "./currentFrame.ts";
import { runFfmpeg } from "./ffmpeg.ts";
import { parseVideoStreamLine, probeMedia } from "./probe.ts";

const isJpeg = (b: Uint8Array) => b.length > 4 && b[0] === 0xff && b[1] === 0xd8 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9;

export class SourceGrabFrameSource implements CurrentFrameSource {
  private durations = new Map<string, number>();

  /** `cameras`: the current configuration by key (the only place source URLs live). */
  constructor(private readonly cameras: Map<string, CameraConfig>) {}

  /** The ffmpeg input arguments for `camera` now, or throws FrameUnavailableError. */
  private async inputArgs(camera: CameraConfig, now: number): Promise<string[]> {
    const src = camera.source;
    if (src.startsWith("rtsp://") || src.startsWith("rtsps://")) {
      return [...(camera.rtsp_transport ? ["-rtsp_transport", camera.rtsp_transport] : []), "-i", src];
    }
    if (src.startsWith("file:")) {
      const path = src.slice(5);
      let duration = this.durations.get(path);
      if (duration === undefined) {
        const probe = await probeMedia(path).catch(() => null);
        duration = probe && probe.durationSec > 0 ? probe.durationSec : 0;
        this.durations.set(path, duration);
      }
      const at = duration > 0.1 ? ((now / 1000) % duration) : 0;
      return ["-ss", Math.max(0, Math.min(at, duration - 0.1)).toFixed(3), "-i", path];
    }
    if (src === "testsrc") {
      // lavfi cannot seek its input: the pattern's frame of this second is picked by an output -ss
      return ["-f", "lavfi", "-i", `testsrc2=size=${camera.width}x${camera.height}:rate=1`, "-ss", String(Math.floor(now / 1000) % 60)];
    }
    throw new Error(`camera ${camera.key}: the stand-in frame source cannot read ${src} while the recorder holds it`);
  }

  async current(cameraKey: string, request: CurrentFrameRequest = {}): Promise<CurrentFrame> {
    const camera = this.cameras.get(cameraKey);
    if (!camera) throw new FrameUnavailableError("unknown_camera", `no camera "${cameraKey}"`);
    if (!camera.enabled) throw new FrameUnavailableError("not_recording", `camera ${cameraKey} is disabled`);
    const timeoutMs = request.timeoutMs ?? 5000;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    const onAbort = () => abort.abort();
    request.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const input = await this.inputArgs(camera, Date.now());
      const run = await runFfmpeg(
        ["-hide_banner", "-nostdin", "-loglevel", "info", ...input, "-map", "0:v:0", "-an", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-f", "image2pipe", "pipe:1"],
        { signal: abort.signal, captureStdout: true },
      );
      const capturedAtMs = Date.now();
      if (run.aborted) throw new FrameUnavailableError("timeout", `camera ${cameraKey}: no frame within ${timeoutMs} ms`);
      if (run.code !== 0) throw new FrameUnavailableError("not_recording", `camera ${cameraKey}: source not delivering video (${run.stderr || `ffmpeg exit ${run.code}`})`);
      if (!isJpeg(run.stdout)) throw new FrameUnavailableError("decode_failed", `camera ${cameraKey}: no picture decoded`);
      // the input's stream line gives the size (the output keeps it)
      const stream = run.stderrText.split("\n").map(parseVideoStreamLine).find((x) => x !== null);
      return { jpeg: run.stdout, capturedAtMs, width: stream?.width ?? 0, height: stream?.height ?? 0 };
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
    }
  }
}
