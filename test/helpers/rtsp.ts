/**
 * A real RTSP camera stand-in on loopback: Debian's `rtsp-server-perl` (publisher on
 * `--serverport`, clients on `--clientport`, clients over UDP only) fed by an ffmpeg publisher
 * (`-re -stream_loop -1 ... -f rtsp`). By default the publisher copies the highway clip
 * (`-c copy`, keyframe every 10 s, so recorded segments are >= 10 s); `reencode` makes it a
 * camera with a short GOP at a small size (the recorder under test still never transcodes).
 *
 * Ports are random (TCP ports found free; RTP start port a random even number), so tests can
 * run next to anything else. `stop()` then `start()` restarts on the same ports, which is how
 * the outage test simulates a camera going away and coming back.
 */
import { join } from "node:path";
import { spawnProc, freeTcpPort, sleep, type Proc } from "./proc.ts";
import { connect } from "node:net";
import { readFileSync } from "node:fs";

/** The real dashcam footage (H.264 1280x720 25 fps, 50 s, keyframe every 10 s). */
export const HIGHWAY_CLIP = join(import.meta.dir, "../../../shared/data/video/highway-720p-25fps.mp4");

export const FFMPEG = process.env.TEST_FFMPEG ?? "/usr/bin/ffmpeg";

export interface PublisherOptions {
  /** Input file (looped forever, read in real time). Default: the highway clip. */
  input?: string;
  /**
   * Re-encode instead of `-c copy`: H.264 ultrafast at this size with a GOP of `gop` frames;
   * `filter` is appended to the scale filter (e.g. src/media/timecode.ts's capture-time strip).
   */
  reencode?: {
    width: number;
    height: number;
    gop: number;
    filter?: string;
    /** Output frame rate (default: the input's). */
    fps?: number;
    /** Bitrate cap, kbit/s (`-maxrate` with a one-second buffer; default: none). */
    bitrateKbps?: number;
  };
}

/**
 * True when a socket LISTENs on TCP `port` (from /proc/net/tcp; no connection is made, so the
 * RTSP server sees nothing).
 */
export function tcpListening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 3 && cols[1].endsWith(`:${hex}`) && cols[3] === "0A") return true;
    }
  }
  return false;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export class RtspCamera {
  readonly serverPort: number;
  readonly clientPort: number;
  readonly rtpStartPort: number;
  server: Proc | null = null;
  publisher: Proc | null = null;

  constructor(readonly options: PublisherOptions = {}) {
    this.serverPort = freeTcpPort();
    do this.clientPort = freeTcpPort();
    while (this.clientPort === this.serverPort);
    this.rtpStartPort = 2 * (10_000 + Math.floor(Math.random() * 12_000)); // even, 20000..43998
  }

  /** URL a recorder reads (UDP transport). */
  get url(): string {
    return `rtsp://127.0.0.1:${this.clientPort}/cam`;
  }

  /** URL the publisher pushes to. */
  get publishUrl(): string {
    return `rtsp://127.0.0.1:${this.serverPort}/cam`;
  }

  /** Starts the server, waits for both ports, starts the publisher, waits until it sends frames. */
  async start(): Promise<void> {
    // rtsp-server-perl resets its next RTP port to the package default 20000 whenever a
    // connection closes while no stream is mounted (RTSP::Server::housekeeping), so two
    // servers on one machine collide there. The Debian script is run unchanged with that
    // package default set to this camera's own random port first.
    this.server = spawnProc([
      "perl", "-MRTSP::Server", "-e",
      '$RTSP::Server::RTP_START_PORT = shift @ARGV; do "/usr/bin/rtsp-server-perl"; die $@ if $@',
      String(this.rtpStartPort),
      "--serverport", String(this.serverPort),
      "--clientport", String(this.clientPort),
      "--client_listen_address", "127.0.0.1",
      "--source_listen_address", "127.0.0.1",
      "--rtp_start_port", String(this.rtpStartPort),
      "--loglevel", "2",
    ]);
    const deadline = Date.now() + 15_000;
    while (!(tcpListening(this.serverPort) && tcpListening(this.clientPort))) {
      if (!this.server.alive()) throw new Error(`rtsp-server-perl exited: ${this.server.stderr.join("\n")}`);
      if (Date.now() > deadline) throw new Error("rtsp-server-perl did not open its ports");
      await sleep(100);
    }
    const input = this.options.input ?? HIGHWAY_CLIP;
    const codec = this.options.reencode
      ? [
          "-an", "-vf", [`scale=${this.options.reencode.width}:${this.options.reencode.height}`, ...(this.options.reencode.filter ? [this.options.reencode.filter] : [])].join(","),
          "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
          ...(this.options.reencode.fps ? ["-r", String(this.options.reencode.fps)] : []),
          ...(this.options.reencode.bitrateKbps
            ? ["-b:v", `${this.options.reencode.bitrateKbps}k`, "-maxrate", `${this.options.reencode.bitrateKbps}k`, "-bufsize", `${this.options.reencode.bitrateKbps}k`]
            : []),
          "-g", String(this.options.reencode.gop), "-keyint_min", String(this.options.reencode.gop), "-sc_threshold", "0",
          "-threads", "1",
        ]
      : ["-an", "-c", "copy"];
    this.publisher = spawnProc([
      FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error",
      "-re", "-stream_loop", "-1", "-i", input,
      ...codec,
      "-progress", "pipe:1", "-stats_period", "1",
      "-f", "rtsp", this.publishUrl,
    ]);
    await this.publisher.waitForLine(/^frame=[1-9]\d*/, 20_000, "stdout");
  }

  /** Stops the publisher and the server (SIGTERM, SIGKILL after 3 s). */
  async stop(): Promise<void> {
    await this.publisher?.stop(3000);
    await this.server?.stop(3000);
    this.publisher = null;
    this.server = null;
  }
}

/** Starts an RTSP camera stand-in; remember to `stop()` it. */
export async function startRtspCamera(options: PublisherOptions = {}): Promise<RtspCamera> {
  const cam = new RtspCamera(options);
  await cam.start();
  return cam;
}
