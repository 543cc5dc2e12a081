/** @jsxImportSource hono/jsx */
/**
 * The camera page's settings parts (seed 003 `optimizations` / `applied_configs`), each an htmx
 * fragment the routes of src/web/routes/cameraSettings.tsx answer with:
 *
 * - `RetentionPlanner` (`#retention-plan`): "At the measured 1.2 Mb/s the card keeps 23 h of this
 *   camera. To keep 7 days, use at most 0.53 Mb/s", from the bitrate of the indexed segments and
 *   the ring's limits (src/optimize/retention.ts), with a days field; in the driver's words (the
 *   ring and its segments are "the card" and "recordings"; `ring_segments` is "recordings of N s
 *   in the configuration");
 * - `CameraSettingsSection` (`#camera-settings`): the newest recommendation in plain words with
 *   "Recommend settings" and, for operators, Apply (dashcam's own encoder for a camera it
 *   encodes, else "over ONVIF" and "I'll change it on the camera"), the camera's settings
 *   changes (status in words, what was measured, Confirm / Cancel for a change by hand), and the
 *   failed changes of every camera (the seed's sample query 2). While a change is under way the
 *   section refreshes itself every 3 s.
 *
 * `CameraSettings` puts both on the camera page.
 */
import type { FC } from "hono/jsx";
import type { CameraConfig } from "../../config.ts";
import { cameraIdByKey } from "../../db/cameras.ts";
import { appliesOfCamera, failedApplies, latestOptimization, type AppliedConfigRow, type OptimizationRow } from "../../db/optimize.ts";
import { encodesItself } from "../../media/recorderArgs.ts";
import type { RecommendedSettings } from "../../optimize/heuristic.ts";
import { DEFAULT_KEEP_DAYS, measuredBitrateBps, ringSpaceOf } from "../../optimize/request.ts";
import { planRetention } from "../../optimize/retention.ts";
import { CsrfField } from "../auth/csrf.ts";
import type { WebDeps } from "../env.ts";
import { Time } from "./Time.tsx";

/** "1.23 Mb/s" (bit/s in). */
export const mbps = (bps: number) => `${(bps / 1e6).toFixed(bps >= 1e7 ? 1 : 2)} Mb/s`;

/** "23 h", "6 days 4 h", "40 min" (s in). */
export function spanWords(seconds: number): string {
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} min`;
  const h = Math.floor(seconds / 3600);
  if (h < 48) return `${h} h`;
  const d = Math.floor(h / 24);
  const rest = h - d * 24;
  return `${d} days${rest ? ` ${rest} h` : ""}`;
}

const METHOD_WORDS: Record<string, string> = { self: "dashcam's encoder", onvif: "over ONVIF", manual: "by hand", vms: "through the VMS", vendor: "vendor tool" };
const STATUS_WORDS: Record<string, [string, string]> = {
  pending: ["Waiting", "busy"],
  in_progress: ["Being applied and checked", "busy"],
  success: ["Applied and checked", "ok"],
  partial: ["Applied in part", "warn"],
  failed: ["Failed", "bad"],
};

interface PlannerProps {
  cameraKey: string;
  days: number;
  measuredBps: number | null;
  plan: ReturnType<typeof planRetention>;
  segmentSeconds: number;
  ringSegments: number;
}

/** The retention planner (see the module comment). */
export const RetentionPlanner: FC<PlannerProps> = ({ cameraKey, days, measuredBps, plan, segmentSeconds, ringSegments }) => (
  <section class="card" id="retention-plan">
    <h2>Keeping footage</h2>
    {measuredBps === null || plan.holdsSeconds === null ? (
      <p class="muted">Nothing recorded yet: the planner needs a few minutes of footage to measure the bitrate.</p>
    ) : (
      <p>
        At the measured {mbps(measuredBps)} the card keeps <strong>{spanWords(plan.holdsSeconds)}</strong> of this camera
        {plan.limitedBy === "segments" ? ` (the configuration allows ${ringSegments} recordings of ${segmentSeconds} s: that is the limit, not the disk)` : ""}.
      </p>
    )}
    <p>
      To keep {days} {days === 1 ? "day" : "days"}, use at most <strong>{mbps(plan.bitrateForTargetBps)}</strong> ({(plan.capacityBytes / 1e9).toFixed(1)} GB for this
      camera)
      {plan.segmentsForTarget > ringSegments ? `, and allow at least ${plan.segmentsForTarget} recordings of ${segmentSeconds} s in the configuration` : ""}
      .
    </p>
    <form method="get" action={`/cameras/${cameraKey}/retention`} hx-get={`/cameras/${cameraKey}/retention`} hx-target="#retention-plan" hx-swap="outerHTML" class="inline-form">
      <label>
        Days to keep <input type="number" name="days" min="1" max="3650" value={String(days)} required inputmode="numeric" class="days-input" />
      </label>{" "}
      <button type="submit">Plan</button>
    </form>
  </section>
);

/** The planner's data for camera `camera` (reads the database and statfs of the data directory). */
export function plannerProps(deps: Pick<WebDeps, "db" | "dataDir" | "config">, camera: CameraConfig, cameraId: number, days: number): PlannerProps {
  const sharing = deps.config.cameras.filter((c) => c.enabled && c.record !== false).length;
  const bps = measuredBitrateBps(deps.db, cameraId);
  const plan = planRetention(ringSpaceOf(deps.db, deps.dataDir, camera, cameraId, sharing), bps, days);
  return { cameraKey: camera.key, days, measuredBps: bps, plan, segmentSeconds: camera.segment_seconds, ringSegments: camera.ring_segments };
}

const Recommendation: FC<{ o: OptimizationRow }> = ({ o }) => {
  const r = o.recommended_settings as unknown as RecommendedSettings;
  return (
    <div class="recommendation">
      <p>
        <strong>
          {r.stream.resolution} {r.stream.codec}, {r.stream.fps} frames/s, {(r.stream.bitrateKbps / 1000).toFixed(2)} Mb/s, a keyframe every {r.stream.gopSeconds} s
        </strong>
      </p>
      <ul class="settings-list">
        <li>
          Shutter {r.exposure.shutter === "auto" ? "automatic" : `${r.exposure.shutter} s`}, WDR {r.exposure.wdr}
        </li>
        <li>
          Night: day/night {r.lowLight.dayNight}, IR {r.lowLight.ir}, noise reduction {r.lowLight.noiseReduction}
        </li>
        <li>
          Picture: exposure {r.image.exposureCompensationEv > 0 ? "+" : ""}
          {r.image.exposureCompensationEv} EV, sharpening {r.image.sharpening}
        </li>
      </ul>
      {o.warnings.length ? (
        <ul class="settings-list warnings">
          {o.warnings.map((w) => (
            <li>
              <span class="badge warn">note</span> {w}
            </li>
          ))}
        </ul>
      ) : null}
      {o.explanation ? <p class="muted">{o.explanation}</p> : null}
      <p class="muted">
        Recommended <Time ms={o.created_at} fmt="when" />, confidence {Math.round((o.confidence ?? 0) * 100)} %.
      </p>
    </div>
  );
};

const ApplyRow: FC<{ a: AppliedConfigRow; cameraKey: string; operator: boolean; csrf: string }> = ({ a, cameraKey, operator, csrf }) => {
  const [words, tone] = STATUS_WORDS[a.status] ?? [a.status, "off"];
  const measured = (a.verification as { measured?: { fps?: number | null; bitrateKbps?: number | null; gopSeconds?: number | null } | null } | null)?.measured;
  const waitingForHand = a.apply_method === "manual" && a.status === "in_progress" && a.applied_at === null;
  const base = `/cameras/${cameraKey}/applies/${a.id}`;
  return (
    <li data-apply={String(a.id)} data-status={a.status}>
      <span class={`badge ${tone}`}>{words}</span> <Time ms={a.created_at} fmt="when" /> · {METHOD_WORDS[a.apply_method] ?? a.apply_method}
      {a.applied_by ? ` · ${a.applied_by}` : ""}
      {a.error_message ? <div class="muted apply-error">{a.error_message}</div> : null}
      {measured ? (
        <div class="muted">
          Measured: {measured.fps != null ? `${measured.fps} frames/s` : "–"}, {measured.bitrateKbps != null ? `${(measured.bitrateKbps / 1000).toFixed(2)} Mb/s` : "–"},{" "}
          {measured.gopSeconds != null ? `a keyframe every ${measured.gopSeconds} s` : "–"}
        </div>
      ) : null}
      {waitingForHand ? <div class="muted">Change these settings on the camera's own web page, then confirm here.</div> : null}
      {waitingForHand && operator ? (
        <div class="action-row">
          <form method="post" action={`${base}/confirm`} hx-post={`${base}/confirm`} hx-target="#camera-settings" hx-swap="outerHTML" class="action">
            <CsrfField token={csrf} />
            <button type="submit" class="primary">
              Done, I changed it
            </button>
          </form>
          <form method="post" action={`${base}/cancel`} hx-post={`${base}/cancel`} hx-target="#camera-settings" hx-swap="outerHTML" class="action">
            <CsrfField token={csrf} />
            <button type="submit" class="plain">
              Cancel
            </button>
          </form>
        </div>
      ) : null}
    </li>
  );
};

export interface SettingsSectionProps {
  cameraKey: string;
  selfEncoded: boolean;
  optimization: OptimizationRow | null;
  applies: AppliedConfigRow[];
  failed: ReturnType<typeof failedApplies>;
  operator: boolean;
  /** The runtime offers the actions (else the buttons are not shown). */
  canAct: boolean;
  csrf: string;
  notice?: string | null;
}

/** The recommendation and settings changes (see the module comment). */
export const CameraSettingsSection: FC<SettingsSectionProps> = ({ cameraKey, selfEncoded, optimization, applies, failed, operator, canAct, csrf, notice }) => {
  const base = `/cameras/${cameraKey}`;
  const busy = applies.some((a) => a.status === "pending" || (a.status === "in_progress" && !(a.apply_method === "manual" && a.applied_at === null)));
  const act = operator && canAct;
  const applyButton = (method: string, label: string, cls: string) => (
    <form method="post" action={`${base}/apply`} hx-post={`${base}/apply`} hx-target="#camera-settings" hx-swap="outerHTML" class="action">
      <CsrfField token={csrf} />
      <input type="hidden" name="optimization" value={String(optimization!.id)} />
      <input type="hidden" name="method" value={method} />
      <button type="submit" class={cls}>
        {label}
      </button>
    </form>
  );
  return (
    <section class="card" id="camera-settings" {...(busy ? { "hx-get": `${base}/settings`, "hx-trigger": "every 3s", "hx-swap": "outerHTML" } : {})}>
      <h2>Recommended settings</h2>
      {notice ? <p class="notice">{notice}</p> : null}
      {optimization ? <Recommendation o={optimization} /> : <p class="muted">No recommendation yet.</p>}
      {act ? (
        <div class="action-row">
          <form method="post" action={`${base}/optimize`} hx-post={`${base}/optimize`} hx-target="#camera-settings" hx-swap="outerHTML" class="action">
            <CsrfField token={csrf} />
            <button type="submit" class={optimization ? "plain" : "primary"}>
              {optimization ? "Recommend again" : "Recommend settings"}
            </button>
          </form>
          {optimization && selfEncoded ? applyButton("self", "Apply", "primary") : null}
          {optimization && !selfEncoded ? applyButton("onvif", "Apply over ONVIF", "primary") : null}
          {optimization && !selfEncoded ? applyButton("manual", "I'll change it on the camera", "plain") : null}
        </div>
      ) : null}
      {applies.length ? (
        <>
          <h3>Settings changes</h3>
          <ul class="settings-list applies">
            {applies.map((a) => (
              <ApplyRow a={a} cameraKey={cameraKey} operator={act} csrf={csrf} />
            ))}
          </ul>
        </>
      ) : null}
      {failed.length ? (
        <>
          <h3>Failed changes, all cameras</h3>
          <ul class="settings-list failed-applies">
            {failed.map((f) => (
              <li>
                <a href={`/cameras/${f.key}#camera-settings`}>{f.name}</a>
                {f.ip ? ` (${f.ip})` : ""} · <Time ms={f.created_at} fmt="when" /> · {METHOD_WORDS[f.apply_method] ?? f.apply_method}: {f.error_message ?? "no reason given"}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
};

/** The section's data for camera `camera` (database reads). */
export function settingsSectionProps(
  deps: Pick<WebDeps, "db" | "actions">,
  camera: CameraConfig,
  cameraId: number,
  operator: boolean,
  csrf: string,
  notice?: string | null,
): SettingsSectionProps {
  return {
    cameraKey: camera.key,
    selfEncoded: encodesItself(camera.source),
    optimization: latestOptimization(deps.db, cameraId),
    applies: appliesOfCamera(deps.db, cameraId, 10),
    failed: failedApplies(deps.db, 10),
    operator,
    canAct: Boolean(deps.actions?.optimizeCamera && deps.actions.applySettings),
    csrf,
    notice,
  };
}

/** Both parts on the camera page (nothing for a camera missing from the configuration). */
export const CameraSettings: FC<{ deps: WebDeps; cameraKey: string; operator: boolean; csrf: string }> = ({ deps, cameraKey, operator, csrf }) => {
  const camera = deps.config.cameras.find((c) => c.key === cameraKey);
  const cameraId = cameraIdByKey(deps.db, cameraKey);
  if (!camera || cameraId === null) return null;
  return (
    <>
      <h2 class="section">Settings</h2>
      <RetentionPlanner {...plannerProps(deps, camera, cameraId, DEFAULT_KEEP_DAYS)} />
      <CameraSettingsSection {...settingsSectionProps(deps, camera, cameraId, operator, csrf)} />
    </>
  );
};
