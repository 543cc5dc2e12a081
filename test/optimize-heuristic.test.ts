/**
 * The heuristic optimizer (src/optimize/heuristic.ts), one block per rule, and the retention
 * planner (src/optimize/retention.ts). Pure functions: no I/O.
 */
import { describe, expect, test } from "bun:test";
import { bitrateForRetentionKbps, kushGaugeKbps, optimize, parseResolution, type OptimizeRequest } from "../src/optimize/heuristic.ts";
import { planRetention, ringCapacityBytes } from "../src/optimize/retention.ts";
import { capabilitiesFromInventory } from "../src/optimize/request.ts";

const GB = 1e9;

/** A request for an RTSP camera with a generous disk; tests override parts of it. */
function request(over: Partial<OptimizeRequest["context"]> = {}, caps: OptimizeRequest["capabilities"] = {}): OptimizeRequest {
  return {
    camera: { id: "gate" },
    capabilities: { maxResolution: "3840x2160", supportedCodecs: ["H.264", "H.265"], maxFps: 30, wdrLevels: ["Off", "Low", "Medium", "High"], source: "inventory", ...caps },
    currentSettings: { stream: { resolution: "3840x2160", codec: "H.264", fps: 30, bitrateKbps: 8000, gopSeconds: 4 } },
    context: {
      sceneType: "parking",
      purpose: "overview",
      health: { anomalies: [], meanBrightness: 120, noiseLevel: 3, blurScore: 400 },
      bandwidthLimitMbps: null,
      storage: { ringBytes: 1000 * GB, retentionDays: 7 },
      segmentSeconds: 60,
      encodedBy: "camera",
      ...over,
    },
  };
}

describe("heuristic optimizer", () => {
  test("plates of moving cars: shutter 1/500 s, 25 frames/s, 1920x1080", () => {
    const r = optimize(request({ purpose: "plates", sceneType: "road" }));
    expect(r.recommended_settings.exposure.shutter).toBe("1/500");
    expect(r.recommended_settings.stream.fps).toBe(25);
    expect(r.recommended_settings.stream.resolution).toBe("1920x1080");
    expect(r.ai_provider).toBe("heuristic");
    expect(r.explanation).toContain("plates of moving cars");
    // an overview of a parking lot needs neither
    const o = optimize(request());
    expect(o.recommended_settings.exposure.shutter).toBe("auto");
    expect(o.recommended_settings.stream.fps).toBe(15);
    expect(o.recommended_settings.stream.resolution).toBe("1280x720");
  });

  test("faces at an entrance: 1/250 s and the camera's highest WDR level", () => {
    const r = optimize(request({ purpose: "facial", sceneType: "entrance" }));
    expect(r.recommended_settings.exposure.shutter).toBe("1/250");
    expect(r.recommended_settings.exposure.wdr).toBe("High");
    expect(optimize(request({ sceneType: "indoor" })).recommended_settings.exposure.wdr).toBe("Off");
  });

  test("keyframe interval no longer than the segment (segments cut on time), at most 2 s", () => {
    expect(optimize(request({ segmentSeconds: 60 })).recommended_settings.stream.gopSeconds).toBe(2);
    expect(optimize(request({ segmentSeconds: 1 })).recommended_settings.stream.gopSeconds).toBe(1);
    // dashcam's own encoder keeps a keyframe a second (quick live start) while the disk is ample
    expect(optimize(request({ encodedBy: "self" })).recommended_settings.stream.gopSeconds).toBe(1);
  });

  test("a bitrate that lets the ring hold the days asked for on the disk it has", () => {
    const ring = 20 * GB;
    const r = optimize(request({ purpose: "plates", storage: { ringBytes: ring, retentionDays: 14 } }, { supportedCodecs: ["H.264"] }));
    const cap = bitrateForRetentionKbps(ring, 14);
    expect(r.recommended_settings.stream.bitrateKbps).toBe(cap);
    // the ring then really holds 14 days: bytes written in 14 days fit
    expect((cap * 1000 * 14 * 86_400) / 8).toBeLessThanOrEqual(ring);
    expect(r.explanation).toContain(`${cap} kbit/s keeps 14 days on the 20.0 GB this camera may use`);
    // a large disk: the quality target, not the disk, sets it
    const big = optimize(request({ purpose: "plates" }, { supportedCodecs: ["H.264"] }));
    expect(big.recommended_settings.stream.bitrateKbps).toBe(kushGaugeKbps(1920, 1080, 25, "parking", "H.264"));
  });

  test("too tight for H.264: H.265 when the camera has it; dashcam's own encoder stays H.264 with a warning", () => {
    const tight = { storage: { ringBytes: 2 * GB, retentionDays: 7 } };
    const r = optimize(request({ ...tight, purpose: "plates" }));
    expect(r.recommended_settings.stream.codec).toBe("H.265");
    const self = optimize(request({ ...tight, purpose: "plates", encodedBy: "self" }));
    expect(self.recommended_settings.stream.codec).toBe("H.264");
    expect(self.warnings.some((w) => w.includes("less than half"))).toBe(true);
    // with a tight budget dashcam's own encoder spends less on keyframes
    expect(self.recommended_settings.stream.gopSeconds).toBe(2);
  });

  test("an uplink limit keeps the stream within 80 % of it", () => {
    const r = optimize(request({ bandwidthLimitMbps: 1, purpose: "plates" }));
    expect(r.recommended_settings.stream.bitrateKbps).toBe(800);
  });

  test("a camera that cannot do what the purpose needs: its maximum, with a warning", () => {
    const r = optimize(request({ purpose: "plates" }, { maxResolution: "1280x720", maxFps: 12 }));
    expect(r.recommended_settings.stream.resolution).toBe("1280x720");
    expect(r.recommended_settings.stream.fps).toBe(12);
    expect(r.warnings.length).toBe(2);
    expect(r.warnings[0]).toContain("1280x720 is the most this camera can do");
    expect(r.warnings[1]).toContain("at most 12 frames/s");
  });

  test("too dark / noisy -> low-light settings; overexposed -> less exposure; blurry or covered -> a warning", () => {
    const dark = optimize(request({ sceneType: "indoor", health: { anomalies: ["too_dark", "high_noise"], meanBrightness: 18, noiseLevel: 16 } }));
    expect(dark.recommended_settings.lowLight).toEqual({ dayNight: "auto", ir: "auto", noiseReduction: "high" });
    expect(dark.recommended_settings.image.exposureCompensationEv).toBe(1);
    expect(dark.recommended_settings.image.sharpening).toBe("low");
    const fine = optimize(request({ sceneType: "indoor" }));
    expect(fine.recommended_settings.lowLight).toEqual({ dayNight: "auto", ir: "off", noiseReduction: "low" });
    expect(fine.recommended_settings.image.exposureCompensationEv).toBe(0);
    const bright = optimize(request({ health: { anomalies: ["overexposed"] } }));
    expect(bright.recommended_settings.image.exposureCompensationEv).toBe(-1);
    expect(bright.recommended_settings.exposure.wdr).toBe("High");
    const blurry = optimize(request({ health: { anomalies: ["blurry", "obstructed"] } }));
    expect(blurry.warnings.some((w) => w.includes("clean the lens"))).toBe(true);
    expect(blurry.warnings.some((w) => w.includes("covered"))).toBe(true);
    expect(blurry.recommended_settings.exposure.shutter).toBe("1/100");
  });

  test("confidence: lower without measured health or known capabilities; always within 0..1", () => {
    const full = optimize(request());
    const noHealth = optimize(request({ health: null }));
    const probed = optimize(request({}, { source: "probe" }));
    expect(full.confidence).toBeGreaterThan(noHealth.confidence);
    expect(full.confidence).toBeGreaterThan(probed.confidence);
    for (const r of [full, noHealth, probed]) {
      expect(r.confidence).toBeGreaterThanOrEqual(0);
      expect(r.confidence).toBeLessThanOrEqual(1);
    }
  });

  test("the same request gives the same answer", () => {
    const a = optimize(request({ purpose: "plates" }), () => 0);
    const b = optimize(request({ purpose: "plates" }), () => 0);
    expect(a).toEqual(b);
    expect(a.processing_time_ms).toBe(0);
  });

  test("parseResolution", () => {
    expect(parseResolution("1920x1080")).toEqual({ width: 1920, height: 1080 });
    expect(parseResolution("big")).toBeNull();
  });
});

describe("retention planner", () => {
  const space = { ringSegments: 1440, segmentSeconds: 60, ringBytes: 32 * GB, usedBytes: 10 * GB, freeBytes: 100 * GB, minFreeBytes: 1 * GB };

  test("capacity is the tightest of ring_bytes and the disk above min_free_bytes", () => {
    expect(ringCapacityBytes(space)).toBe(32 * GB);
    expect(ringCapacityBytes({ ...space, freeBytes: 5 * GB })).toBe(14 * GB);
    expect(ringCapacityBytes({ ...space, ringBytes: null })).toBe(109 * GB);
  });

  test("hours held at the measured bitrate and the bitrate for 7 days", () => {
    const p = planRetention({ ...space, ringSegments: 1_000_000 }, 4e6, 7);
    // 32 GB at 4 Mbit/s: 64 000 s
    expect(p.holdsSeconds).toBe(64_000);
    expect(p.limitedBy).toBe("bytes");
    expect(p.bitrateForTargetBps).toBe(Math.floor((32 * GB * 8) / (7 * 86_400)));
    // 1440 one-minute segments hold 24 h whatever the bitrate
    const s = planRetention(space, 1e5, 7);
    expect(s.holdsSeconds).toBe(86_400);
    expect(s.limitedBy).toBe("segments");
    expect(s.segmentsForTarget).toBe(7 * 1440);
    expect(planRetention(space, null, 7).holdsSeconds).toBeNull();
  });
});

describe("capabilities from the inventory", () => {
  test("seed 003's shape and ONVIF discovery's shape read the same; a recording's is a probe", () => {
    expect(capabilitiesFromInventory({ maxResolution: "3840x2160", supportedCodecs: ["H.264", "H.265"], maxFps: 30, wdrLevels: ["Off", "High"] })).toEqual({
      maxResolution: "3840x2160",
      supportedCodecs: ["H.264", "H.265"],
      maxFps: 30,
      wdrLevels: ["Off", "High"],
      source: "inventory",
    });
    expect(capabilitiesFromInventory({ maxResolution: { width: 2560, height: 1440 }, codecs: ["H264", "JPEG"], maxFps: 25, wdr: { modes: ["OFF", "ON"] }, source: "onvif" })).toEqual({
      maxResolution: "2560x1440",
      supportedCodecs: ["H.264", "JPEG"],
      maxFps: 25,
      wdrLevels: ["OFF", "ON"],
      source: "inventory",
    });
    expect(capabilitiesFromInventory({ maxResolution: { width: 1280, height: 720 }, codecs: ["H264"], maxFps: 10, source: "recording" })?.source).toBe("probe");
    expect(capabilitiesFromInventory({})).toBeNull();
  });

  test("a camera whose WDR is only OFF/ON gets ON for a backlit entrance", () => {
    const caps = capabilitiesFromInventory({ maxResolution: { width: 1920, height: 1080 }, codecs: ["H264"], maxFps: 30, wdr: { modes: ["OFF", "ON"] }, source: "onvif" })!;
    expect(optimize(request({ sceneType: "entrance" }, caps)).recommended_settings.exposure.wdr).toBe("ON");
  });
});
