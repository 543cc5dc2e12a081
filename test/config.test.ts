/**
 * Config: defaults that run anywhere, every documented key, and one clear line naming the key
 * for each kind of mistake (the CLI turns it into exit code 2 before writing anything).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, defaultConfig, loadConfig, parseConfigText } from "../src/config.ts";

const dir = mkdtempSync(join(tmpdir(), "dashcam-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VIDEO = join(import.meta.dir, "../../shared/data/video/highway-720p-25fps.mp4");

describe("config", () => {
  test("no file: one camera 'dashcam' on /dev/video0 or the test pattern", () => {
    const c = defaultConfig(dir);
    expect(c.cameras).toHaveLength(1);
    expect(c.cameras[0].key).toBe("dashcam");
    expect(c.cameras[0].source).toBe(existsSync("/dev/video0") ? "v4l2:/dev/video0" : "testsrc");
    expect(c.data_dir).toBe(join(dir, "data"));
    expect(c.http.listen).toBe("127.0.0.1:8080");
    expect(c.path).toBeNull();
  });

  test("a full file keeps every key's meaning; relative paths resolve against the file", () => {
    const path = join(dir, "full.toml");
    writeFileSync(
      path,
      `data_dir = "rec"
[http]
listen = "0.0.0.0:9000"
[[cameras]]
key = "front"
name = "Front"
source = "rtsp://user:pw@10.0.0.2/stream"
segment_seconds = 10
ring_segments = 100
ring_bytes = 5000000
min_free_bytes = 1000
rtsp_transport = "udp"
[[cameras]]
key = "file-cam"
source = "file:${VIDEO}"
enabled = false
`,
    );
    const c = loadConfig(path);
    expect(c.data_dir).toBe(join(dir, "rec"));
    expect(c.http.listen).toBe("0.0.0.0:9000");
    expect(c.cameras.map((x) => x.key)).toEqual(["front", "file-cam"]);
    expect(c.cameras[0]).toMatchObject({ segment_seconds: 10, ring_segments: 100, ring_bytes: 5000000, min_free_bytes: 1000, rtsp_transport: "udp", enabled: true });
    expect(c.cameras[1]).toMatchObject({ name: "file-cam", enabled: false, segment_seconds: 60 });
  });

  const bad: [string, string, RegExp][] = [
    ["syntax error", "a = [", /^TOML syntax error at line 1, column \d+: /],
    ["unknown top-level key", "bogus = 1", /^bogus: unknown key$/],
    ["unknown camera key", '[[cameras]]\nkey = "a"\nsource = "testsrc"\nsegmnt_seconds = 3', /^cameras\[0\]\.segmnt_seconds: unknown key \(did you mean "segment_seconds"\?\)$/],
    ["wrong type", '[[cameras]]\nkey = "a"\nsource = "testsrc"\nsegment_seconds = "ten"', /^cameras\[0\]\.segment_seconds: /],
    ["out of range", '[[cameras]]\nkey = "a"\nsource = "testsrc"\nring_segments = 0', /^cameras\[0\]\.ring_segments: /],
    ["bad source", '[[cameras]]\nkey = "a"\nsource = "ftp://x"', /^cameras\[0\]\.source: must be rtsp/],
    ["bad key", '[[cameras]]\nkey = "A B"\nsource = "testsrc"', /^cameras\[0\]\.key: /],
    ["duplicate key", '[[cameras]]\nkey = "a"\nsource = "testsrc"\n[[cameras]]\nkey = "a"\nsource = "testsrc"', /^cameras\[1\]\.key: duplicate camera key "a"$/],
    ["missing file source", '[[cameras]]\nkey = "a"\nsource = "file:/nonexistent/clip.mp4"', /^cameras\[0\]\.source: file \/nonexistent\/clip\.mp4 does not exist$/],
    ["bad listen", '[http]\nlisten = "8080"', /^http\.listen: must be HOST:PORT$/],
    ["max_loss_seconds too small", '[[cameras]]\nkey = "a"\nsource = "testsrc"\nmax_loss_seconds = 0.1', /^cameras\[0\]\.max_loss_seconds: must be at least 0\.5$/],
    ["global max_loss_seconds too large", 'max_loss_seconds = 600', /^max_loss_seconds: must be at most 60$/],
    ["max_loss_seconds not a number", 'max_loss_seconds = "2"', /^max_loss_seconds: /],
    ["backoff cap below start", '[[cameras]]\nkey = "a"\nsource = "testsrc"\nbackoff_initial_ms = 5000\nbackoff_max_ms = 10', /^cameras\[0\]\.backoff_max_ms: /],
  ];
  test("max_loss_seconds: default 2, a global value, a camera's own value", () => {
    const cams = '[[cameras]]\nkey = "a"\nsource = "testsrc"\n[[cameras]]\nkey = "b"\nsource = "testsrc"\nmax_loss_seconds = 0.5\n';
    expect(parseConfigText(cams, dir).cameras.map((c) => c.max_loss_seconds)).toEqual([2, 0.5]);
    expect(parseConfigText(`max_loss_seconds = 5\n${cams}`, dir).cameras.map((c) => c.max_loss_seconds)).toEqual([5, 0.5]);
  });

  for (const [name, text, message] of bad) {
    test(`bad config: ${name} -> one line naming the key`, () => {
      let error: unknown;
      try {
        parseConfigText(text, dir);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const msg = (error as Error).message;
      expect(msg).toMatch(message);
      expect(msg).not.toContain("\n");
    });
  }

  test("an unreadable file is a ConfigError", () => {
    expect(() => loadConfig(join(dir, "nope.toml"))).toThrow(ConfigError);
  });

  test("[health]: defaults when absent, every key, a per-camera interval, one line per mistake", () => {
    const absent = parseConfigText('[[cameras]]\nkey = "a"\nsource = "testsrc"\n', dir);
    expect(absent.health).toEqual({
      enabled: true,
      interval_seconds: 300,
      frame_timeout_seconds: 15,
      snapshot_retention_days: 30,
      metrics_retention_days: 90,
      rollup_retention_days: 365,
      thresholds: {},
    });
    expect(absent.cameras[0].health_interval_seconds).toBeUndefined();
    const full = parseConfigText(
      [
        "[health]",
        "enabled = false",
        "interval_seconds = 60",
        "frame_timeout_seconds = 5",
        "snapshot_retention_days = 7",
        "metrics_retention_days = 14",
        "rollup_retention_days = 100",
        "[health.thresholds]",
        "dark_warning = 50",
        "dark_critical = 30",
        "noise_warning = 6",
        "frozen_snapshots = 4",
        "[[cameras]]",
        'key = "a"',
        'source = "testsrc"',
        "health_interval_seconds = 30",
      ].join("\n"),
      dir,
    );
    expect(full.health).toEqual({
      enabled: false,
      interval_seconds: 60,
      frame_timeout_seconds: 5,
      snapshot_retention_days: 7,
      metrics_retention_days: 14,
      rollup_retention_days: 100,
      thresholds: { dark_warning: 50, dark_critical: 30, noise_warning: 6, frozen_snapshots: 4 },
    });
    expect(full.cameras[0].health_interval_seconds).toBe(30);
    const bad = (text: string) => {
      try {
        parseConfigText(text, dir);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error("no ConfigError");
    };
    expect(bad("[health]\ninterval = 5")).toBe("health.interval: unknown key");
    expect(bad("[health]\ninterval_seconds = 0")).toStartWith("health.interval_seconds:");
    expect(bad("[health.thresholds]\nsharpness = 3")).toBe("health.thresholds.sharpness: unknown key");
    expect(bad("[health.thresholds]\nlow_fps_warning = 1.5")).toStartWith("health.thresholds.low_fps_warning:");
    expect(bad("[health.thresholds]\ndark_warning = 20\ndark_critical = 40")).toBe("health.thresholds.dark_critical: must be at most dark_warning (20)");
    expect(bad("[health.thresholds]\nnoise_warning = 20\nnoise_critical = 10")).toBe("health.thresholds.noise_critical: must be at least noise_warning (20)");
  });
});
