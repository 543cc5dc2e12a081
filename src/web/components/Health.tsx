/** @jsxImportSource hono/jsx */
/**
 * Camera health pieces: the status badge, one badge per anomaly of a snapshot, the health
 * page's newest-check section, and the dashboard card listing the cameras with anomalies in the
 * last 24 h (the seed's sample query 4).
 */
import type { FC } from "hono/jsx";
import type { CameraWithWarnings, SnapshotRow } from "../../db/health.ts";
import { Time } from "./Time.tsx";

const TONE: Record<string, string> = { ok: "ok", warning: "warn", critical: "bad", unknown: "off" };

/** A check's status: the worst severity among its anomalies (`high` = critical). */
export function snapshotStatus(snap: Pick<SnapshotRow, "anomalies">): "ok" | "warning" | "critical" {
  if (snap.anomalies.some((a) => a.severity === "high")) return "critical";
  return snap.anomalies.length > 0 ? "warning" : "ok";
}

/** Health status badge (ok green, warning amber, critical red). */
export const HealthBadge: FC<{ status: string }> = ({ status }) => <span class={`badge ${TONE[status] ?? "off"}`}>{status}</span>;

/** One badge per anomaly (amber medium, red high), with the message as its title. */
export const AnomalyBadges: FC<{ anomalies: SnapshotRow["anomalies"] }> = ({ anomalies }) =>
  anomalies.length === 0 ? null : (
    <ul class="anomalies">
      {anomalies.map((a) => (
        <li>
          <span class={`badge ${a.severity === "high" ? "bad" : "warn"}`} title={a.message} data-anomaly={a.type}>
            {a.type.replaceAll("_", " ")}
          </span>{" "}
          <span class="muted anomaly-msg">{a.message}</span>
        </li>
      ))}
    </ul>
  );

/** Dashboard card: cameras whose snapshots had anomalies in the last 24 h, each linking to its health page. */
export const HealthWarningsCard: FC<{ cameras: CameraWithWarnings[] }> = ({ cameras }) => (
  <section class="card health-card" id="health-warnings">
    <h2>Camera health, last 24 h</h2>
    {cameras.length === 0 ? (
      <p class="muted">No warnings.</p>
    ) : (
      <ul class="health-list">
        {cameras.map((c) => (
          <li>
            <a href={`/cameras/${c.key}/health`}>{c.name}</a>{" "}
            {[...new Set(c.anomalies.map((a) => a.type))].map((t) => (
              <span class={`badge ${c.anomalies.some((a) => a.type === t && a.severity === "high") ? "bad" : "warn"}`}>{t.replaceAll("_", " ")}</span>
            ))}{" "}
            <span class="muted">
              {c.snapshots} check(s), last <Time ms={c.last_at} fmt="time" />
            </span>
          </li>
        ))}
      </ul>
    )}
  </section>
);

/**
 * The health page's newest check (`#health-now`): status, anomaly badges, the newest picture and
 * a tile per measure. Also the SSE fragment `health-<key>` (src/web/routes/live.tsx) that
 * replaces it after every check.
 */
export const LatestSnapshot: FC<{ cameraKey: string; snap: SnapshotRow | null; picture: SnapshotRow | null }> = ({ cameraKey, snap, picture }) => {
  const m = picture?.health_metrics as Record<string, { status: string; [k: string]: unknown }> | null | undefined;
  const tile = (label: string, part: string, field: string, digits: number) => {
    const x = m?.[part];
    if (!x) return null;
    const value = x[field];
    return (
      <li class={`tile tone-${x.status}`}>
        <span class="tile-label">{label}</span>
        <strong>{typeof value === "number" ? value.toFixed(digits) : "–"}</strong>
      </li>
    );
  };
  return (
    <section class="card health-now" id="health-now" sse-swap={`health-${cameraKey}`} hx-swap="outerHTML">
      {snap ? (
        <p class="health-status">
          <HealthBadge status={snapshotStatus(snap)} /> checked <Time ms={snap.captured_at} fmt="datetime" />
        </p>
      ) : (
        <p class="muted">No health check yet.</p>
      )}
      {snap ? <AnomalyBadges anomalies={snap.anomalies} /> : null}
      {picture ? (
        <figure class="health-snap">
          <img src={`/cameras/${cameraKey}/health/snapshots/${picture.id}.jpg`} alt={`newest health snapshot of ${cameraKey}`} width="640" height="360" />
          <figcaption>
            Picture of <Time ms={picture.captured_at} fmt="datetime" />
            {picture.id !== snap?.id ? " (the newest check had no picture)" : ""}
          </figcaption>
        </figure>
      ) : null}
      {m ? (
        <ul class="tiles">
          {tile("Brightness", "exposure", "meanBrightness", 0)}
          {tile("Noise", "noise", "noiseLevel", 2)}
          {tile("Sharpness", "motionBlur", "blurScore", 0)}
          {tile("Contrast", "obstruction", "lumaStdDev", 1)}
        </ul>
      ) : null}
    </section>
  );
};
