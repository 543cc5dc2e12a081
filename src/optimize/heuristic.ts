/**
 * The heuristic camera optimizer (seed 003 `optimizations`, `ai_provider = 'heuristic'`): a pure
 * function from the seed's OptimizeRequest (camera, capabilities, current settings, context) to
 * recommended settings, a confidence, warnings and a plain-words explanation. No I/O: the request
 * is gathered by src/optimize/request.ts; the same request always gives the same answer (except
 * `processing_time_ms`).
 *
 * Each rule below cites where its number comes from. Units: bitrates in kbit/s (1000 bit/s),
 * storage in bytes, times in seconds unless a name says ms.
 */

/** Scene classifications of seed 003 (`cameras.scene_type`); anything else counts as `other`. */
export type SceneType = "hallway" | "parking" | "entrance" | "road" | "outdoor" | "indoor" | "other";
/** Operational purposes of seed 003 (`cameras.purpose`); anything else counts as `overview`. */
export type Purpose = "overview" | "plates" | "facial" | "evidence" | "other";
export type Codec = "H.264" | "H.265";

/** Seed 003 `cameras.capabilities`. */
export interface Capabilities {
  /** "WIDTHxHEIGHT" in pixels. */
  maxResolution?: string | null;
  supportedCodecs?: string[];
  maxFps?: number | null;
  wdrLevels?: string[];
  /** Where the capabilities came from: the inventory (ONVIF or the config), or a probe of recorded footage. */
  source?: "inventory" | "probe" | "encoder";
}

/** A stream's settings (current or recommended). */
export interface StreamSettings {
  /** "WIDTHxHEIGHT" in pixels. */
  resolution: string | null;
  codec: string | null;
  fps: number | null;
  bitrateKbps: number | null;
  /** Keyframe interval (GOP length), s. */
  gopSeconds: number | null;
}

/** The camera's measured health (src/db/health.ts): the newest check and recent means. */
export interface MeasuredHealth {
  /** Anomaly types of the newest check (`too_dark`, `high_noise`, `blurry`, ...). */
  anomalies: string[];
  meanBrightness?: number | null;
  noiseLevel?: number | null;
  blurScore?: number | null;
  /** Measured over the recorded segments: Mbit/s and frames/s. */
  bitrateMbps?: number | null;
  fpsActual?: number | null;
  /** When the newest check ran (Unix ms UTC). */
  checkedAt?: number | null;
}

/** Seed 003's OptimizeRequest (stored whole in `optimizations.request_data`). */
export interface OptimizeRequest {
  camera: { id: string; name?: string; ip?: string | null; vendor?: string | null; model?: string | null; location?: string | null };
  capabilities: Capabilities;
  currentSettings: { stream: StreamSettings };
  context: {
    sceneType: string | null;
    purpose: string | null;
    /** The measured health; null when no check has run yet. */
    health: MeasuredHealth | null;
    /** Uplink limit for this camera, Mbit/s (null: none). */
    bandwidthLimitMbps: number | null;
    /** The disk the ring may use and how long the user wants footage kept. */
    storage: { ringBytes: number | null; retentionDays: number } | null;
    /** The ring's segment length, s. */
    segmentSeconds: number;
    /** `self`: dashcam encodes this camera itself (testsrc, v4l2, rpicam; H.264 only); `camera`: the camera encodes. */
    encodedBy: "self" | "camera";
  };
}

export interface RecommendedSettings {
  stream: { resolution: string; codec: Codec; fps: number; bitrateKbps: number; gopSeconds: number };
  /** Shutter as a fraction ("1/500") or "auto"; WDR level from the camera's list, or "Off". */
  exposure: { shutter: string; wdr: string };
  lowLight: { dayNight: "auto" | "day"; ir: "auto" | "off"; noiseReduction: "low" | "medium" | "high" };
  image: { exposureCompensationEv: number; sharpening: "normal" | "low" };
}

export interface OptimizeResult {
  recommended_settings: RecommendedSettings;
  /** 0..1 */
  confidence: number;
  warnings: string[];
  explanation: string;
  processing_time_ms: number;
  ai_provider: "heuristic";
}

/** Parses "WIDTHxHEIGHT"; null when malformed. */
export function parseResolution(text: string | null | undefined): { width: number; height: number } | null {
  const m = /^\s*(\d{2,5})\s*[x×]\s*(\d{2,5})\s*$/.exec(text ?? "");
  return m ? { width: Number(m[1]), height: Number(m[2]) } : null;
}

const SCENES = new Set(["hallway", "parking", "entrance", "road", "outdoor", "indoor"]);
const PURPOSES = new Set(["overview", "plates", "facial", "evidence"]);
const sceneOf = (s: string | null): SceneType => (s && SCENES.has(s.toLowerCase()) ? (s.toLowerCase() as SceneType) : "other");
const purposeOf = (p: string | null): Purpose => (p && PURPOSES.has(p.toLowerCase()) ? (p.toLowerCase() as Purpose) : "overview");

/**
 * Resolution the purpose needs (pixels). Source: IEC 62676-4:2014 pixel densities (observe
 * 62.5 px/m, recognise 125 px/m, identify 250 px/m): identifying a face or reading a plate across
 * a lane-wide field of view (~4-7 m) takes 1920 px of width; an overview is served by 1280x720.
 */
export function targetResolution(purpose: Purpose): { width: number; height: number } {
  return purpose === "plates" || purpose === "facial" || purpose === "evidence" ? { width: 1920, height: 1080 } : { width: 1280, height: 720 };
}

/**
 * Frame rate the purpose needs (frames/s). Sources: plate reading of passing cars wants several
 * frames per plate in view — at 50 km/h a car crosses a 5 m field in 0.36 s, 9 frames at 25
 * frames/s (the ALPR pipeline votes a track's readings); faces of walking people 20; an overview
 * 15 (common VMS sizing guidance: 10-15 frames/s is enough to follow movement and halves the
 * storage of 30).
 */
export function targetFps(purpose: Purpose, scene: SceneType): number {
  if (purpose === "plates" || scene === "road") return 25;
  if (purpose === "facial") return 20;
  return 15;
}

/**
 * The Kush gauge (Ken Amerasinghe / "Kush" rule of thumb, Adobe Flash Media Encoding guide):
 * H.264 bit/s ~ width x height x fps x motion rank x 0.07, with motion rank 1 (low: hallway,
 * indoor), 2 (medium: parking, entrance, outdoor) or 4 (high: traffic). H.265 needs about 60 %
 * of that for the same quality (JCT-VC subjective tests of HEVC, Ohm et al. 2012: ~40 % less).
 * Returns kbit/s, at least 64.
 */
export function kushGaugeKbps(width: number, height: number, fps: number, scene: SceneType, codec: Codec): number {
  const motion = scene === "road" ? 4 : scene === "hallway" || scene === "indoor" ? 1 : 2;
  // surveillance pictures are mostly static background: the gauge's "low" rank already fits a
  // hallway; a quarter of the gauge is the usual CCTV sizing (a static scene codes cheaply)
  const kbps = (width * height * fps * motion * 0.07) / 1000 / 4;
  // below 64 kbit/s even a still picture turns to blocks at any useful size
  return Math.max(64, Math.round(codec === "H.265" ? kbps * 0.6 : kbps));
}

/**
 * The bitrate that lets the ring hold `days` days on `ringBytes` bytes (kbit/s): a ring of B
 * bytes written at R bit/s lasts 8B / R seconds. 3 % of the bytes are left for MPEG-TS overhead
 * beyond the video elementary stream (188-byte packets with 4-byte headers plus PAT/PMT/PCR:
 * ~2-3 %, ISO/IEC 13818-1).
 */
export function bitrateForRetentionKbps(ringBytes: number, days: number): number {
  return Math.floor(((ringBytes * 0.97 * 8) / (days * 86_400)) / 1000);
}

/** Shutter of a purpose, as a fraction string, and its source. */
export function shutterFor(purpose: Purpose, scene: SceneType, blurry: boolean): string {
  // plates of moving cars: 1/500 s or faster (at 50 km/h a car moves 2.8 cm in 1/500 s, less than
  // a plate character's stroke; ALPR camera guides (e.g. Axis "License plate recognition"
  // guidelines) ask 1/500 - 1/1000 s)
  if (purpose === "plates" || scene === "road") return "1/500";
  // walking people (1.5 m/s): 1/250 s keeps the blur at 6 mm, enough to identify a face
  if (purpose === "facial" || scene === "entrance") return "1/250";
  // a blurry picture of a slow scene: cap the exposure at 1/100 s (twice the 50 Hz mains
  // flicker period's inverse, so lights do not flicker)
  if (blurry) return "1/100";
  return "auto";
}

const STATIC_GOP_SECONDS = 2;

/**
 * Runs the heuristic (see the module comment). `now` measures `processing_time_ms` (tests pass a
 * fixed clock).
 */
export function optimize(req: OptimizeRequest, now: () => number = () => performance.now()): OptimizeResult {
  const started = now();
  const warnings: string[] = [];
  const why: string[] = [];
  const scene = sceneOf(req.context.sceneType);
  const purpose = purposeOf(req.context.purpose);
  const caps = req.capabilities;
  const health = req.context.health;
  const anomalies = new Set(health?.anomalies ?? []);
  const self = req.context.encodedBy === "self";

  // resolution: what the purpose needs, no more than the camera can
  const want = targetResolution(purpose);
  const max = parseResolution(caps.maxResolution) ?? parseResolution(req.currentSettings.stream.resolution);
  let res = want;
  if (max && max.width * max.height < want.width * want.height) {
    res = max;
    if (purpose === "plates" || purpose === "facial")
      warnings.push(`${max.width}x${max.height} is the most this camera can do; reading ${purpose === "plates" ? "plates" : "faces"} needs about 1920x1080 for a lane-wide view`);
  } else if (max && max.width * max.height > want.width * want.height) {
    why.push(`${want.width}x${want.height} is enough for ${purpose === "overview" ? "an overview" : purpose} (IEC 62676-4 pixel densities); more pixels cost disk without a gain`);
  }

  // frame rate: what the purpose needs, no more than the camera can
  let fps = targetFps(purpose, scene);
  const maxFps = caps.maxFps ?? null;
  if (maxFps && maxFps < fps) {
    fps = Math.floor(maxFps);
    warnings.push(`the camera does at most ${maxFps} frames/s; ${targetFps(purpose, scene)} would suit this ${purpose === "plates" ? "plate reading" : "scene"} better`);
  }
  why.push(`${fps} frames/s: ${purpose === "plates" || scene === "road" ? "several frames of each passing plate" : purpose === "facial" ? "walking people stay sharp" : "enough to follow movement at half the storage of 30"}`);
  if (health?.fpsActual != null && req.currentSettings.stream.fps && health.fpsActual < 0.8 * req.currentSettings.stream.fps)
    warnings.push(`the camera delivers ${health.fpsActual.toFixed(1)} frames/s of the ${req.currentSettings.stream.fps} it is set to: check its network and load before raising the frame rate`);

  // codec: H.264 plays in every browser (the live view and HLS use MSE); H.265 only when the
  // budget cannot hold H.264's quality and the camera encodes it
  const supports265 = !self && (caps.supportedCodecs ?? []).some((c) => /265|hevc/i.test(c));
  let codec: Codec = "H.264";
  let quality = kushGaugeKbps(res.width, res.height, fps, scene, codec);

  // bitrate: the quality target, capped by the days the user wants on the disk the ring has and by the uplink
  let bitrate = quality;
  const storage = req.context.storage;
  let storageCap: number | null = null;
  if (storage?.ringBytes && storage.retentionDays > 0) {
    storageCap = bitrateForRetentionKbps(storage.ringBytes, storage.retentionDays);
    if (storageCap < bitrate && supports265) {
      codec = "H.265";
      quality = kushGaugeKbps(res.width, res.height, fps, scene, codec);
      bitrate = quality;
      why.push("H.265: the disk cannot hold the H.264 quality for the days asked; H.265 needs about 40 % less for the same picture (browsers may not play it live)");
    }
    if (storageCap < bitrate) {
      bitrate = storageCap;
      why.push(`${storageCap} kbit/s keeps ${storage.retentionDays} days on the ${(storage.ringBytes / 1e9).toFixed(1)} GB this camera may use`);
    } else why.push(`${bitrate} kbit/s (quality target) keeps ${storage.retentionDays} days on the ${(storage.ringBytes / 1e9).toFixed(1)} GB this camera may use`);
  }
  const uplink = req.context.bandwidthLimitMbps;
  if (uplink && uplink * 1000 * 0.8 < bitrate) {
    // leave 20 % of the link for the live view, audio and retransmissions
    bitrate = Math.floor(uplink * 1000 * 0.8);
    why.push(`${bitrate} kbit/s keeps the stream within 80 % of the ${uplink} Mbit/s link`);
  }
  if (bitrate < quality * 0.5) {
    warnings.push(`${bitrate} kbit/s is less than half of what ${res.width}x${res.height} at ${fps} frames/s needs for a clean picture (${quality} kbit/s): keep fewer days, add disk, or lower the frame rate`);
  }
  bitrate = Math.max(64, bitrate);

  // keyframe interval: no longer than the segment, so a stream-copied segment cuts on time (the
  // muxer cuts only at a keyframe: README "Pointing it at an RTSP camera"), and 2 s at most so a
  // live viewer starts quickly; dashcam's own encoder uses 1 s (LIVE_KEYFRAME_SECONDS) unless the
  // budget is tight, where 2 s saves a keyframe a second
  const tight = storageCap !== null && storageCap < quality;
  const gopSeconds = Math.min(req.context.segmentSeconds, self && !tight ? 1 : STATIC_GOP_SECONDS);

  // exposure
  const blurry = anomalies.has("blurry");
  const shutter = shutterFor(purpose, scene, blurry);
  if (shutter !== "auto") why.push(`shutter ${shutter} s: ${purpose === "plates" || scene === "road" ? "plates of moving cars stay readable" : purpose === "facial" || scene === "entrance" ? "walking people stay sharp" : "less motion blur"}`);
  const levels = caps.wdrLevels ?? [];
  const pick = (wanted: string) => levels.find((l) => l.toLowerCase() === wanted.toLowerCase()) ?? (levels.length ? levels[levels.length - 1] : wanted);
  // WDR: backlit scenes (an entrance against daylight, a road with headlights) and a picture
  // measured both too dark and too bright somewhere; indoors it adds noise for nothing
  let wdr = "Off";
  if (scene === "entrance" || scene === "outdoor" || scene === "parking" || scene === "road" || anomalies.has("overexposed")) wdr = pick(scene === "entrance" || anomalies.has("overexposed") ? "High" : "Medium");
  else if (levels.length && !levels.some((l) => /off/i.test(l))) wdr = levels[0];

  // low light: a dark or noisy picture (src/health/assess.ts thresholds)
  const dark = anomalies.has("too_dark") || (health?.meanBrightness != null && health.meanBrightness < 40);
  const noisy = anomalies.has("high_noise") || (health?.noiseLevel != null && health.noiseLevel >= 8);
  const lowLight: RecommendedSettings["lowLight"] = {
    dayNight: "auto",
    // a lit indoor room needs no IR; elsewhere the camera switches it on when it gets dark
    ir: dark || (scene !== "indoor" && scene !== "hallway") ? "auto" : "off",
    noiseReduction: noisy ? "high" : dark ? "medium" : "low",
  };
  if (dark) {
    why.push("the picture was measured too dark: day/night switching and IR on auto, more noise reduction");
    if (shutter !== "auto") warnings.push(`at night a ${shutter} s shutter needs light: add IR or a lamp, or the picture stays dark`);
  }
  if (noisy) why.push("the picture was measured noisy: strong noise reduction (it also lowers the bitrate)");

  const image: RecommendedSettings["image"] = {
    exposureCompensationEv: anomalies.has("overexposed") ? -1 : dark ? 1 : 0,
    sharpening: noisy ? "low" : "normal",
  };
  if (blurry) warnings.push("the picture was measured blurry: clean the lens or windscreen and check the focus (settings cannot fix it)");
  if (anomalies.has("obstructed")) warnings.push("the lens looked covered at the last check: nothing recommended here helps until it is uncovered");
  if (anomalies.has("no_signal") || anomalies.has("frozen")) warnings.push("the camera gave no live picture at the last check: the recommendation is based on its configuration only");

  // confidence: high with measured health and known capabilities; each unknown or warning lowers it
  let confidence = 0.9;
  if (!health) confidence -= 0.15;
  if (caps.source !== "inventory" && caps.source !== "encoder") confidence -= 0.1;
  if (!storage?.ringBytes) confidence -= 0.05;
  if (scene === "other") confidence -= 0.05;
  confidence -= 0.05 * warnings.length;
  confidence = Math.round(Math.min(1, Math.max(0.2, confidence)) * 100) / 100;

  const explanation = `${res.width}x${res.height} ${codec} at ${fps} frames/s, ${bitrate} kbit/s, a keyframe every ${gopSeconds} s. ${why.join(". ")}.`;
  return {
    recommended_settings: {
      stream: { resolution: `${res.width}x${res.height}`, codec, fps, bitrateKbps: bitrate, gopSeconds },
      exposure: { shutter, wdr },
      lowLight,
      image,
    },
    confidence,
    warnings,
    explanation,
    processing_time_ms: Math.max(0, Math.round(now() - started)),
    ai_provider: "heuristic",
  };
}
