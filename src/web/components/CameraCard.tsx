/** @jsxImportSource hono/jsx */
/**
 * A camera's card: state, last segment, ring use (segment rows / ring capacity, and bytes),
 * reconnects, bitrate, last error. `CameraCardBody` is also the SSE fragment `camera-<key>`
 * (the card keeps `sse-swap="camera-<key>"`, so the live stream replaces its inside).
 * Never shows the camera's source URL (the row only holds its hash and ciphertext anyway).
 */
import type { FC } from "hono/jsx";
import type { CameraSummary } from "../../db/views.ts";
import { formatBitrate, formatBytes } from "../format.ts";
import { StateBadge } from "./Badge.tsx";
import { Time } from "./Time.tsx";
import { CardFullNote } from "./Kept.tsx";

export const CameraCardBody: FC<{ cam: CameraSummary; link?: boolean }> = ({ cam, link = true }) => {
  const pct = Math.min(100, Math.round((cam.ring_segments / Math.max(1, cam.ring_capacity)) * 100));
  return (
    <>
      <div class="card-head">
        <h2>{link ? <a href={`/cameras/${cam.key}`}>{cam.name}</a> : cam.name}</h2>
        <StateBadge state={cam.enabled ? cam.state : "disabled"} />
      </div>
      {cam.enabled && cam.state === "disk_full" ? <CardFullNote cameraName={cam.name} /> : null}
      <dl class="facts">
        <dt>Last segment</dt>
        <dd>
          <Time ms={cam.last_segment_at} fmt="ago" />
        </dd>
        <dt>Ring</dt>
        <dd>
          <meter min={0} max={cam.ring_capacity} value={cam.ring_segments} title={`${pct}%`}></meter>{" "}
          <span class="ring-text">
            {cam.ring_segments} / {cam.ring_capacity} segments · {formatBytes(cam.ring_bytes)}
          </span>
        </dd>
        <dt>Recorded</dt>
        <dd>
          {cam.absolute_segments} segments total{cam.segment_generation > 0 ? ` · ring wrapped ${cam.segment_generation}×` : ""}
        </dd>
        {cam.evidence_locked > 0 ? (
          <>
            <dt>Evidence</dt>
            <dd>{cam.evidence_locked} locked segments</dd>
          </>
        ) : null}
        <dt>Bitrate</dt>
        <dd>{formatBitrate(cam.observed_bitrate)}</dd>
        <dt>Reconnects</dt>
        <dd>{cam.reconnect_count}</dd>
        {cam.last_error ? (
          <>
            <dt>Last error</dt>
            <dd class="error-text">{cam.last_error}</dd>
          </>
        ) : null}
      </dl>
    </>
  );
};

/** The whole card, subscribed to its SSE event. */
export const CameraCard: FC<{ cam: CameraSummary; link?: boolean }> = ({ cam, link }) => (
  <article class="card camera" id={`camera-${cam.key}`} sse-swap={`camera-${cam.key}`}>
    <CameraCardBody cam={cam} link={link} />
  </article>
);
