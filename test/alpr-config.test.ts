/** `[alpr]` and `[postgres]` in the TOML config: defaults, backward compatibility, errors naming the key. */
import { expect, test } from "bun:test";
import { ConfigError, parseConfigText } from "../src/config.ts";

test("no [alpr] section: ALPR is off (older configs keep working)", () => {
  const c = parseConfigText(`[[cameras]]\nkey = "a"\nsource = "testsrc"\n`, "/etc/dashcam");
  expect(c.alpr).toBeUndefined();
  expect(c.postgres).toBeUndefined();
});

test("an empty [alpr] section enables ALPR with the defaults", () => {
  const c = parseConfigText(`[alpr]\n`, "/etc/dashcam");
  expect(c.alpr).toEqual({
    enabled: true,
    sample_fps: 1,
    workers: 1,
    detector_side: 960,
    max_queue: 200,
    backfill_segments: 0,
    track_gap_ms: 2000,
    track_iou: 0.3,
    track_flush_ms: 30000,
    min_confidence: 0.5,
    watchlist_max_edits: 0,
    poll_ms: 500,
  });
});

test("values, a relative vehicle model path resolved against the config file, postgres url", () => {
  const c = parseConfigText(
    `[alpr]\nenabled = false\nsample_fps = 2.5\nworkers = 2\nvehicle_model = "models/yolox_nano.onnx"\ndetector_side = 800\nmax_queue = 50\n[postgres]\nurl = "postgres://u@db.example/fleet"\n`,
    "/etc/dashcam",
  );
  expect(c.alpr).toMatchObject({ enabled: false, sample_fps: 2.5, workers: 2, vehicle_model: "/etc/dashcam/models/yolox_nano.onnx", detector_side: 800, max_queue: 50 });
  expect(c.postgres).toEqual({ url: "postgres://u@db.example/fleet" });
});

test("det/rec models and the dictionary: relative paths resolve against the config folder, absolute ones stay", () => {
  const c = parseConfigText(`[alpr]\ndet_model = "m/det.onnx"\nrec_model = "/models/plates.onnx"\nrec_dict = "m/plates.txt"\n`, "/etc/dashcam");
  expect(c.alpr).toMatchObject({ det_model: "/etc/dashcam/m/det.onnx", rec_model: "/models/plates.onnx", rec_dict: "/etc/dashcam/m/plates.txt" });
});

test("bad values are one ConfigError naming the key", () => {
  const cases: [string, RegExp][] = [
    ["[alpr]\nsample_fps = 0", /^alpr\.sample_fps: /],
    ["[alpr]\nsample_fps = 100", /^alpr\.sample_fps: /],
    ["[alpr]\nworkers = 0", /^alpr\.workers: /],
    ["[alpr]\nworkers = 1.5", /^alpr\.workers: /],
    ["[alpr]\nmax_queue = -1", /^alpr\.max_queue: /],
    ["[alpr]\ntrack_iou = 2", /^alpr\.track_iou: /],
    ["[alpr]\nwatchlist_max_edits = 2", /^alpr\.watchlist_max_edits: /],
    ["[alpr]\nvehicle_model = \"\"", /^alpr\.vehicle_model: /],
    ["[alpr]\ndetector_side = 810", /^alpr\.detector_side: must be a multiple of 32/],
    ["[alpr]\ndetector_side = 160", /^alpr\.detector_side: /],
    ["[alpr]\nrec_dict = \"\"", /^alpr\.rec_dict: /],
    ["[alpr]\nsampel_fps = 1", /^alpr\.sampel_fps: unknown key \(did you mean "sample_fps"\?\)$/],
    ["[alpr]\nenabled = \"yes\"", /^alpr\.enabled: /],
    ["[postgres]\nurl = \"\"", /^postgres\.url: /],
  ];
  for (const [text, re] of cases) {
    let err: unknown = null;
    try {
      parseConfigText(text, "/etc/dashcam");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect({ text, message: (err as Error).message }).toEqual({ text, message: expect.stringMatching(re) });
  }
});
