/**
 * Judging one health check (pure): frame metrics (src/health/metrics.ts) and stream metrics in,
 * seed 003's `snapshots.health_metrics` JSON, its `anomalies` list and the `health_metrics` rows
 * (each `ok | warning | critical`) out. The same thresholds apply to every image; they come from
 * `[health]` (src/config.ts), with these defaults and sources:
 *
 * | anomaly | measure | warning | critical | source of the numbers |
 * | --- | --- | --- | --- | --- |
 * | `too_dark` | mean luma | < 40 | < 20 | exposure in stops from 18 % mid-grey (sRGB 118, IEC 61966-2-1 transfer curve): 40 is 3 stops under, 20 about 4.5 stops under |
 * | `overexposed` | mean luma | > 200 | > 220 | 1.5 and 2 stops over mid-grey on the same curve (2 stops = 72 % reflectance = sRGB 221) |
 * | `high_noise` | Immerkaer sigma, luma levels | >= 8 | >= 15 | seed 003's example row calls 12.5 a warning; clean footage measures 0.3-3 (highway clip 0.34) |
 * | `blurry` | variance of the Laplacian at 640 px | < 100 | < 30 | 100 is the common threshold for this measure on 8-bit frames (A. Rosebrock, "Blur detection with OpenCV", 2015); the highway clip measures ~310, with a Gaussian blur of sigma 4 ~12 |
 * | `obstructed` | luma standard deviation | < 8 | < 4 | a covered lens or a cap gives a nearly uniform frame (std dev ~0); the darkest real scene tested (highway at 18 % exposure) keeps 12 |
 * | `frozen` | mean abs difference of the 160 px luma thumbnail to the previous snapshot's | - | < 0.3 levels in `frozen_snapshots` (3) snapshots in a row | measured: one still image looped as H.264 differs by up to 0.21 levels between its key and predicted frames (x264), the moving highway frames by 6; a live sensor's noise of sigma 2 levels alone moves the 8x8-averaged thumbnail by ~0.3. Over the default 5 min between checks a live scene also changes light. A camera that looks at a perfectly still scene through an encoder that skips unchanged blocks cannot be told from a frozen one by the picture alone. |
 * | `low_fps` | frames per second / nominal rate | < 0.8 | < 0.5 | - |
 * | `bitrate_drop` | bitrate / mean of the last 24 h | < 0.5 | < 0.2 | a camera dropping to half its usual bitrate lost detail or scene (encoder fallback, lens covered) |
 * | `no_signal` | no frame could be had | - | always | - |
 *
 * The focus measure depends on contrast: a frame that is too dark, overexposed or uniform cannot
 * be judged for blur, so `blurry` is not raised then (its status says `ok` with the score kept).
 * Seed severities: warning = `medium`, critical = `high`.
 */
import type { FrameMetrics } from "./metrics.ts";

export type HealthStatus = "ok" | "warning" | "critical";
export type AnomalyType =
  | "too_dark"
  | "overexposed"
  | "high_noise"
  | "blurry"
  | "obstructed"
  | "frozen"
  | "low_fps"
  | "bitrate_drop"
  | "no_signal";
/** Seed 003 `anomalies[].severity`. */
export type AnomalySeverity = "medium" | "high";

/** One entry of `snapshots.anomalies` (seed 003). */
export interface Anomaly {
  type: AnomalyType;
  severity: AnomalySeverity;
  message: string;
}

/** `health_metrics.metric_type` (seed 003's CHECK list). */
export type MetricType = "brightness" | "noise_level" | "blur_score" | "bitrate_mbps" | "fps_actual" | "frame_drops" | "latency_ms";

/** One `health_metrics` row to write. */
export interface MetricValue {
  type: MetricType;
  value: number;
  status: HealthStatus;
}

/** The thresholds (see the module comment for each and its source). */
export interface HealthThresholds {
  dark_warning: number;
  dark_critical: number;
  bright_warning: number;
  bright_critical: number;
  noise_warning: number;
  noise_critical: number;
  blur_warning: number;
  blur_critical: number;
  obstructed_warning: number;
  obstructed_critical: number;
  frozen_difference: number;
  frozen_snapshots: number;
  low_fps_warning: number;
  low_fps_critical: number;
  bitrate_drop_warning: number;
  bitrate_drop_critical: number;
  latency_warning_ms: number;
  latency_critical_ms: number;
}

export const DEFAULT_THRESHOLDS: Readonly<HealthThresholds> = {
  dark_warning: 40,
  dark_critical: 20,
  bright_warning: 200,
  bright_critical: 220,
  noise_warning: 8,
  noise_critical: 15,
  blur_warning: 100,
  blur_critical: 30,
  obstructed_warning: 8,
  obstructed_critical: 4,
  frozen_difference: 0.3,
  frozen_snapshots: 3,
  low_fps_warning: 0.8,
  low_fps_critical: 0.5,
  bitrate_drop_warning: 0.5,
  bitrate_drop_critical: 0.2,
  latency_warning_ms: 2000,
  latency_critical_ms: 5000,
};

/** The thresholds in force: `overrides` (the `[health.thresholds]` table) over `DEFAULT_THRESHOLDS`. */
export function thresholdsOf(overrides: Partial<Record<keyof HealthThresholds, number | undefined>> = {}): HealthThresholds {
  const t: HealthThresholds = { ...DEFAULT_THRESHOLDS };
  for (const k of Object.keys(t) as (keyof HealthThresholds)[]) {
    const v = overrides[k];
    if (typeof v === "number") t[k] = v;
  }
  return t;
}

/** What the recorder knows of the stream (any field null when unknown, e.g. nothing recorded lately). */
export interface StreamMetrics {
  /** Mean bitrate of the segments recorded since the last check, Mbit/s. */
  bitrateMbps: number | null;
  /** Mean bitrate of the last 24 h of checks before this one, Mbit/s (the bitrate_drop baseline). */
  baselineBitrateMbps: number | null;
  /** Frames per second counted in the newest segment. */
  fpsActual: number | null;
  /** The stream's declared frame rate. */
  fpsNominal: number | null;
  /** Frames missing from the newest segment at the declared rate. */
  frameDrops: number | null;
  /** Capture time of the current frame to its availability, ms. */
  latencyMs: number | null;
}

/** Input of `assessCheck`. */
export interface CheckInput {
  /** The frame's metrics; null when no frame could be had (no_signal). */
  frame: FrameMetrics | null;
  /** Why there was no frame (shown in the no_signal message). */
  frameError?: string | null;
  /** Mean abs difference to the previous snapshot's thumbnail; null when there is none to compare. */
  frameDifference: number | null;
  /** Consecutive near-identical comparisons before this one. */
  identicalStreak: number;
  stream: StreamMetrics;
}

/** Seed 003 `snapshots.health_metrics`, plus the measures behind obstructed/frozen. */
export interface SnapshotHealth {
  exposure: { status: HealthStatus; meanBrightness: number };
  noise: { status: HealthStatus; noiseLevel: number };
  motionBlur: { status: HealthStatus; blurScore: number };
  obstruction: { status: HealthStatus; lumaStdDev: number };
  frozen: { status: HealthStatus; frameDifference: number | null; identicalSnapshots: number };
}

/** Everything one check decided. */
export interface CheckAssessment {
  /** Worst status of the check: the camera's health status. */
  status: HealthStatus;
  /** null when there was no frame. */
  healthMetrics: SnapshotHealth | null;
  anomalies: Anomaly[];
  metrics: MetricValue[];
  /** Consecutive near-identical comparisons including this one (0 when the picture changed). */
  identicalStreak: number;
}

const RANK: Record<HealthStatus, number> = { ok: 0, warning: 1, critical: 2 };

/** The worse of two statuses. */
export const worse = (a: HealthStatus, b: HealthStatus): HealthStatus => (RANK[b] > RANK[a] ? b : a);

/** Status of a value that is bad when LOW (below warning / critical). */
export const lowIsBad = (v: number, warning: number, critical: number): HealthStatus => (v < critical ? "critical" : v < warning ? "warning" : "ok");
/** Status of a value that is bad when HIGH (at or above warning / critical). */
const highIsBad = (v: number, warning: number, critical: number, inclusive = true): HealthStatus =>
  inclusive ? (v >= critical ? "critical" : v >= warning ? "warning" : "ok") : v > critical ? "critical" : v > warning ? "warning" : "ok";

const severity = (s: HealthStatus): AnomalySeverity => (s === "critical" ? "high" : "medium");
const r1 = (n: number) => Math.round(n * 10) / 10;
const r2 = (n: number) => Math.round(n * 100) / 100;

/** Judges one check (see the module comment). Pure. */
export function assessCheck(input: CheckInput, t: HealthThresholds = DEFAULT_THRESHOLDS): CheckAssessment {
  const anomalies: Anomaly[] = [];
  const metrics: MetricValue[] = [];
  const add = (type: AnomalyType, s: HealthStatus, message: string) => {
    if (s !== "ok") anomalies.push({ type, severity: severity(s), message });
  };
  let healthMetrics: SnapshotHealth | null = null;
  let streak = 0;
  const f = input.frame;
  if (!f) {
    add("no_signal", "critical", `no picture from the camera${input.frameError ? `: ${input.frameError}` : ""}`);
  } else {
    const dark = lowIsBad(f.meanBrightness, t.dark_warning, t.dark_critical);
    const bright = highIsBad(f.meanBrightness, t.bright_warning, t.bright_critical, false);
    const exposure = worse(dark, bright);
    const noise = highIsBad(f.noiseLevel, t.noise_warning, t.noise_critical);
    const obstructed = lowIsBad(f.lumaStdDev, t.obstructed_warning, t.obstructed_critical);
    const judgeable = exposure === "ok" && obstructed === "ok";
    const blur = judgeable ? lowIsBad(f.blurScore, t.blur_warning, t.blur_critical) : "ok";
    const same = input.frameDifference !== null && input.frameDifference < t.frozen_difference;
    streak = same ? input.identicalStreak + 1 : 0;
    const frozen: HealthStatus = streak + 1 >= t.frozen_snapshots ? "critical" : "ok";

    add("too_dark", dark, `picture too dark: mean brightness ${r1(f.meanBrightness)} of 255 (warning below ${t.dark_warning})`);
    add("overexposed", bright, `picture overexposed: mean brightness ${r1(f.meanBrightness)} of 255 (warning above ${t.bright_warning})`);
    add("high_noise", noise, `noise ${r2(f.noiseLevel)} levels exceeds ${noise === "critical" ? t.noise_critical : t.noise_warning}`);
    add("blurry", blur, `picture blurry: focus score ${r1(f.blurScore)} (warning below ${t.blur_warning})`);
    add("obstructed", obstructed, `picture nearly uniform (luma std dev ${r1(f.lumaStdDev)}): lens covered or obstructed?`);
    add("frozen", frozen, `picture frozen: the same frame in ${streak + 1} snapshots in a row`);

    healthMetrics = {
      exposure: { status: exposure, meanBrightness: r1(f.meanBrightness) },
      noise: { status: noise, noiseLevel: r2(f.noiseLevel) },
      motionBlur: { status: blur, blurScore: r1(f.blurScore) },
      obstruction: { status: obstructed, lumaStdDev: r1(f.lumaStdDev) },
      frozen: { status: frozen, frameDifference: input.frameDifference === null ? null : r2(input.frameDifference), identicalSnapshots: same ? streak + 1 : 1 },
    };
    metrics.push(
      { type: "brightness", value: r1(f.meanBrightness), status: exposure },
      { type: "noise_level", value: r2(f.noiseLevel), status: noise },
      { type: "blur_score", value: r1(f.blurScore), status: blur },
    );
  }

  const s = input.stream;
  if (s.bitrateMbps !== null) {
    const ratio = s.baselineBitrateMbps && s.baselineBitrateMbps > 0 ? s.bitrateMbps / s.baselineBitrateMbps : null;
    const st = ratio === null ? "ok" : lowIsBad(ratio, t.bitrate_drop_warning, t.bitrate_drop_critical);
    metrics.push({ type: "bitrate_mbps", value: Math.round(s.bitrateMbps * 1000) / 1000, status: st });
    add("bitrate_drop", st, `bitrate ${r2(s.bitrateMbps)} Mbit/s is ${Math.round((ratio ?? 1) * 100)} % of the last 24 h mean (${r2(s.baselineBitrateMbps ?? 0)} Mbit/s)`);
  }
  if (s.fpsActual !== null) {
    const ratio = s.fpsNominal && s.fpsNominal > 0 ? s.fpsActual / s.fpsNominal : null;
    const st = ratio === null ? "ok" : lowIsBad(ratio, t.low_fps_warning, t.low_fps_critical);
    metrics.push({ type: "fps_actual", value: r2(s.fpsActual), status: st });
    add("low_fps", st, `frame rate ${r1(s.fpsActual)} fps of ${r1(s.fpsNominal ?? 0)} declared`);
    // dropped frames are what lowers the counted rate: they share its status
    if (s.frameDrops !== null) metrics.push({ type: "frame_drops", value: s.frameDrops, status: s.frameDrops === 0 ? "ok" : st });
  } else if (s.frameDrops !== null) {
    metrics.push({ type: "frame_drops", value: s.frameDrops, status: "ok" });
  }
  if (s.latencyMs !== null) {
    metrics.push({ type: "latency_ms", value: Math.round(s.latencyMs), status: highIsBad(s.latencyMs, t.latency_warning_ms, t.latency_critical_ms, false) });
  }

  let status: HealthStatus = "ok";
  for (const a of anomalies) status = worse(status, a.severity === "high" ? "critical" : "warning");
  return { status, healthMetrics, anomalies, metrics, identicalStreak: streak };
}
