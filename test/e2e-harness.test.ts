/**
 * The end-to-end harness itself: the RTSP camera stand-in (rtsp-server-perl + ffmpeg publisher
 * of the real highway clip) serves H.264 1280x720 to a UDP client, and comes back on the same
 * ports after a stop. If this fails, the other e2e tests cannot be trusted.
 */
import { afterAll, expect, test } from "bun:test";
import { RtspCamera, tcpListening } from "./helpers/rtsp.ts";
import { probe } from "./helpers/media.ts";
import { killAllStarted } from "./helpers/proc.ts";
import { configToml } from "./helpers/runtime.ts";

afterAll(() => killAllStarted());

test("TOML writer escapes strings and writes camera tables", () => {
  const text = configToml({ data_dir: '/tmp/a "b"', cameras: [{ key: "k", source: "testsrc", enabled: false, segment_seconds: 1 }] });
  const parsed = Bun.TOML.parse(text) as { data_dir: string; http: { listen: string }; cameras: { key: string; enabled: boolean; segment_seconds: number }[] };
  expect(parsed.data_dir).toBe('/tmp/a "b"');
  expect(parsed.http.listen).toBe("127.0.0.1:0");
  expect(parsed.cameras).toEqual([{ key: "k", source: "testsrc", enabled: false, segment_seconds: 1 } as never]);
});

test("RTSP stand-in serves the highway clip over UDP and restarts on the same ports", async () => {
  const cam = new RtspCamera();
  try {
    await cam.start();
    const p = await probe(cam.url, 20_000, ["-rtsp_transport", "udp"]);
    expect(p.video).toEqual({ codec: "h264", width: 1280, height: 720 });
    await cam.stop();
    expect(tcpListening(cam.clientPort)).toBe(false);
    await cam.start();
    expect(tcpListening(cam.clientPort)).toBe(true);
    const again = await probe(cam.url, 20_000, ["-rtsp_transport", "udp"]);
    expect(again.video?.codec).toBe("h264");
  } finally {
    await cam.stop();
  }
}, 90_000);
