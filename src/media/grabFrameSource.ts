/**
 * TEMPORARY current-frame source: `grabFrameSource` opens the camera's own source with ffmpeg
 * at every call and encodes one frame to JPEG (`CurrentFrameSource` of src/media/currentFrame.ts).
 * The runtime uses it until the live current-frame service (a decoder fed by the running
 * recorder, cheaper and within 2 s of real time for any GOP) replaces it in src/runtime.ts; tests
 * use it as a real source of current frames.
 *
 * Per source: `rtsp://` connects (transport as configured, 5 s socket timeout) and takes the
 * first decodable frame; `file:PATH` takes the frame at (now mod the file's duration), as if the
 * file played looped since the epoch; `testsrc` renders the test pattern at the camera's size;
 * `v4l2:` reads one frame from the device. `rpicam` is not supported (FrameUnavailableError).
 * Never hangs: ffmpeg is killed after `timeoutMs` (default 5000) and the call rejects with
 * FrameUnavailableError("timeout").
 */
import type { CameraConfig } from "../config.ts";
import { FrameUnavailableError, type CurrentFrame, type CurrentFrameRequest, type CurrentFrameSource } from "./currentFrame.ts";
import { runFfmpeg } from "./ffmpeg.ts";
import { probeMedia } from "./probe.ts";
import { jpegSize } from "./timelapse.ts";

/** The TEMPORARY source over the configured cameras (see the module comment). */
export function grabFrameSource(cameras: readonly CameraConfig[]): CurrentFrameSource {
  const byKey = new Map(cameras.map((c) => [c.key, c]));
  const durations = new Map<string, number>();
  return {
    async current(cameraKey: string, request: CurrentFrameRequest = {}): Promise<CurrentFrame> {
      const cam = byKey.get(cameraKey);
      if (!cam) throw new FrameUnavailableError("unknown_camera", `no camera "${cameraKey}"`);
      if (!cam.enabled) throw new FrameUnavailableError("not_recording", `camera "${cameraKey}" is disabled`);
      const timeoutMs = request.timeoutMs ?? 5000;
      const src = cam.source;
      let input: string[];
      if (src.startsWith("rtsp")) {
        input = [...(cam.rtsp_transport ? ["-rtsp_transport", cam.rtsp_transport] : []), "-i", src];
      } else if (src.startsWith("file:")) {
        const file = src.slice(5);
        let dur = durations.get(file);
        if (dur === undefined) {
          dur = ((await probeMedia(file))?.durationSec ?? 0) || 0;
          durations.set(file, dur);
        }
        const at = dur > 0.5 ? ((Date.now() / 1000) % (dur - 0.2)) : 0;
        input = ["-ss", at.toFixed(3), "-i", file];
      } else if (src === "testsrc") {
        input = ["-f", "lavfi", "-i", `testsrc2=size=${cam.width}x${cam.height}:rate=${cam.fps}`];
      } else if (src.startsWith("v4l2:")) {
        input = ["-f", "v4l2", "-i", src.slice(5)];
      } else throw new FrameUnavailableError("not_recording", `camera "${cameraKey}": source ${src} cannot be grabbed`);
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = request.signal ? AbortSignal.any([timeout, request.signal]) : timeout;
      const capturedAtMs = Date.now();
      let run;
      try {
        run = await runFfmpeg(["-hide_banner", "-nostdin", "-v", "error", ...input, "-frames:v", "1", "-an", "-q:v", "3", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1"], {
          captureStdout: true,
          signal,
        });
      } catch (err) {
        throw new FrameUnavailableError("decode_failed", `camera "${cameraKey}": ${(err as Error).message}`);
      }
      if (run.aborted) throw new FrameUnavailableError("timeout", `camera "${cameraKey}": no frame within ${timeoutMs} ms`);
      const size = run.code === 0 ? jpegSize(run.stdout) : null;
      if (!size) throw new FrameUnavailableError("decode_failed", `camera "${cameraKey}": no frame (${run.stderr || `ffmpeg exit ${run.code}`})`);
      return { jpeg: run.stdout, capturedAtMs, width: size.width, height: size.height };
    },
  };
}
