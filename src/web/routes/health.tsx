/** @jsxImportSource hono/jsx */
/**
 * Camera health pages (seed 003 snapshots and health_metrics). Mounted at `/cameras`:
 *
 * - `GET /cameras/:key/health[?range=24h|7d|30d]`: the camera's health status (its newest
 *   check), the newest snapshot picture with a badge per anomaly and a tile per measure, the
 *   last check time and consecutive connection failures, and time-series charts (brightness,
 *   noise, blur, bitrate, frame rate) of the range from the hourly aggregates (the seed's sample
 *   query 5 over `health_metrics_hourly`), drawn in the browser by the embedded uPlot
 *   (`/assets/health.js`; data in `#health-data`'s `data-json`, no inline script).
 * - `GET /cameras/:key/health/snapshots/:id.jpg`: one snapshot picture of that camera.
 * - `POST /cameras/:key/health/check` (operator): asks the camera's monitor to check now
 *   (`WebDeps.actions.checkHealth`; 503 without it, 409 when refused). htmx gets a one-line
 *   notice, a plain form post 303 back to the health page.
 *
 * Unknown cameras and snapshots are 404, malformed keys, ids and ranges 400.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { cameraByKey } from "../../db/cameras.ts";
import { cameraHealthColumns, hourlySeries, latestSnapshot, latestSnapshotWithPicture, snapshotById } from "../../db/health.ts";
import { healthSettings } from "../../config.ts";
import { thresholdsOf, type HealthThresholds } from "../../health/assess.ts";
import { resolveInside } from "../../paths.ts";
import { assetUrl } from "../assets.ts";
import { Time } from "../components/Time.tsx";
import { LatestSnapshot } from "../components/Health.tsx";
import type { WebEnv } from "../env.ts";
import { CameraKey, unknownCamera, valid } from "../validate.ts";
import { CsrfField } from "../auth/csrf.ts";
import { hasRole } from "../../db/users.ts";
import { isHtmx, unavailable } from "../actions.ts";

const HOUR_MS = 3_600_000;
/** The chart ranges the page offers. */
export const RANGES = { "24h": 24 * HOUR_MS, "7d": 7 * 24 * HOUR_MS, "30d": 30 * 24 * HOUR_MS } as const;
type RangeKey = keyof typeof RANGES;

/** The charts, in page order: metric type, title, unit, threshold lines. */
const CHARTS: { metric: string; title: string; unit: string; limits: (t: HealthThresholds) => { label: string; value: number }[] }[] = [
  { metric: "brightness", title: "Brightness", unit: "mean luma, 0-255", limits: (t) => [{ label: "too dark", value: t.dark_warning }, { label: "overexposed", value: t.bright_warning }] },
  { metric: "noise_level", title: "Noise", unit: "sigma, luma levels", limits: (t) => [{ label: "noisy", value: t.noise_warning }] },
  { metric: "blur_score", title: "Sharpness", unit: "variance of the Laplacian (higher = sharper)", limits: (t) => [{ label: "blurry", value: t.blur_warning }] },
  { metric: "bitrate_mbps", title: "Bitrate", unit: "Mbit/s", limits: () => [] },
  { metric: "fps_actual", title: "Frame rate", unit: "frames/s", limits: () => [] },
];

/** Chart data for health.js: per metric, hour centres (s) and avg/min/max columns. */
export function chartData(points: ReturnType<typeof hourlySeries>, from: number, to: number, t: HealthThresholds) {
  const series: Record<string, { t: number[]; avg: number[]; min: number[]; max: number[]; limits: { label: string; value: number }[] }> = {};
  for (const c of CHARTS) series[c.metric] = { t: [], avg: [], min: [], max: [], limits: c.limits(t) };
  for (const p of points) {
    const s = series[p.metric_type];
    if (!s) continue;
    s.t.push((p.hour_utc + HOUR_MS / 2) / 1000);
    s.avg.push(Math.round(p.avg * 1000) / 1000);
    s.min.push(p.min);
    s.max.push(p.max);
  }
  return { from, to, series };
}

export function healthRoutes() {
  const app = new Hono<WebEnv>();
  const KeyParam = v.object({ key: CameraKey });

  app.get("/:key/health", valid("param", KeyParam), valid("query", v.object({ range: v.optional(v.picklist(["24h", "7d", "30d"])) })), (c) => {
    const { db, config } = c.var.deps;
    const { key } = c.req.valid("param");
    const range: RangeKey = c.req.valid("query").range ?? "24h";
    const cam = cameraByKey(db, key) ?? unknownCamera(key);
    const now = Date.now();
    const from = now - RANGES[range];
    const thresholds = thresholdsOf(healthSettings(config).thresholds);
    const data = chartData(hourlySeries(db, cam.id, from), from, now, thresholds);
    const snap = latestSnapshot(db, cam.id);
    const picture = snap?.file_path ? snap : latestSnapshotWithPicture(db, cam.id);
    const cols = cameraHealthColumns(db, cam.id);
    const base = `/cameras/${cam.key}/health`;
    return c.render(
      <>
        <link rel="stylesheet" href={assetUrl("uplot.min.css")} />
        <h1>{cam.name}: health</h1>
        <p class="muted">
          <a href={`/cameras/${cam.key}`}>Camera page</a>
          {cols?.last_health_check ? (
            <>
              {" "}· last check <Time ms={cols.last_health_check} fmt="time" />
            </>
          ) : null}
          {cols && cols.connection_failures > 0 ? ` · ${cols.connection_failures} check(s) in a row without a picture` : ""}
        </p>
        <LatestSnapshot cameraKey={cam.key} snap={snap} picture={picture} />
        {c.var.user && hasRole(c.var.user.role, "operator") ? (
          <form method="post" action={`${base}/check`} hx-post={`${base}/check`} hx-target="#health-check-result" hx-swap="innerHTML" class="action">
            <CsrfField token={c.var.csrfToken} />
            <button type="submit" class="plain">
              Check now
            </button>
            <span id="health-check-result" role="status"></span>
          </form>
        ) : null}
        <nav class="pager" aria-label="chart range">
          {(Object.keys(RANGES) as RangeKey[]).map((r) => (
            <a class="button" href={`${base}?range=${r}`} aria-current={r === range ? "page" : undefined}>
              {r === "24h" ? "24 h" : r === "7d" ? "7 days" : "30 days"}
            </a>
          ))}
        </nav>
        <div class="health-charts">
          {CHARTS.map((ch) => (
            <section class="card chart">
              <h2>
                {ch.title} <span class="muted">{ch.unit}</span>
              </h2>
              <div class="chart-box" data-health-chart={ch.metric}></div>
            </section>
          ))}
        </div>
        <div id="health-data" hidden data-json={JSON.stringify(data)}></div>
        <script src={assetUrl("uplot.min.js")} defer></script>
        <script src={assetUrl("health.js")} defer></script>
      </>,
      { title: `${cam.name} health`, nav: "dashboard" },
    );
  });

  app.post("/:key/health/check", valid("param", KeyParam), async (c) => {
    const { db, actions } = c.var.deps;
    const { key } = c.req.valid("param");
    const cam = cameraByKey(db, key) ?? unknownCamera(key);
    if (!actions?.checkHealth) unavailable("A health check", "checkHealth");
    try {
      await actions.checkHealth(cam.key);
    } catch (err) {
      throw new HTTPException(409, { message: String((err as Error)?.message ?? err).slice(0, 300) });
    }
    if (!isHtmx(c)) return c.redirect(`/cameras/${cam.key}/health`, 303);
    return c.html(<span class="muted">Checking; the result replaces the section above.</span>);
  });

  app.get(
    "/:key/health/snapshots/:file",
    valid("param", v.object({ key: CameraKey, file: v.pipe(v.string(), v.regex(/^\d{1,15}\.jpg$/, "must be <id>.jpg")) })),
    async (c) => {
      const { db, dataDir } = c.var.deps;
      const { key, file } = c.req.valid("param");
      const cam = cameraByKey(db, key) ?? unknownCamera(key);
      const id = Number(file.slice(0, -4));
      const snap = snapshotById(db, id);
      if (!snap || snap.camera_id !== cam.id || !snap.file_path) throw new HTTPException(404, { message: `camera ${key} has no snapshot picture ${id}` });
      let path: string;
      try {
        path = resolveInside(dataDir, snap.file_path);
      } catch {
        throw new HTTPException(404, { message: `snapshot ${id} is not in the data directory` });
      }
      const f = Bun.file(path);
      if (!(await f.exists())) throw new HTTPException(404, { message: `snapshot ${id} is gone (retention)` });
      return new Response(f, { headers: { "Content-Type": "image/jpeg", "Cache-Control": "private, max-age=86400" } });
    },
  );
  return app;
}
