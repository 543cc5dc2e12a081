/** @jsxImportSource hono/jsx */
/**
 * Event log rows; `EventItem` is also the SSE fragment `event-log` (prepended to the list).
 * A row reads as a sentence in plain words (../words.ts `eventSentence`); `details` adds the
 * technical kind name and the raw message (the Events page's "technical details" toggle).
 */
import type { FC } from "hono/jsx";
import type { EventRow } from "../../db/views.ts";
import type { LiveEvent } from "../../events.ts";
import { LevelBadge } from "./Badge.tsx";
import { Time } from "./Time.tsx";
import { eventSentence } from "../words.ts";

export const EventItem: FC<{ ev: EventRow; cameraName?: string | null; details?: boolean }> = ({ ev, cameraName, details = false }) => (
  <li class={`event level-${ev.level}`} id={`event-${ev.id}`}>
    <div class="event-head">
      <LevelBadge level={ev.level} />
      <Time ms={ev.at} fmt="when" />
    </div>
    <p class="event-msg">{eventSentence(ev, cameraName)}</p>
    {details ? (
      <p class="event-detail small-text muted">
        <code class="kind">{ev.kind}</code> {ev.message}
      </p>
    ) : null}
  </li>
);

/** The LiveBus `alert` event (src/events.ts): a watchlisted plate was read. */
export type AlertEvent = Extract<LiveEvent, { type: "alert"; kind: "alpr.watchlist" }>;

/** The LiveBus `alert` event of a camera health status change (src/actors/health.ts). */
export type HealthAlertEvent = Extract<LiveEvent, { type: "alert"; kind: "camera.health" }>;

/**
 * A live toast of a camera health status change (SSE `alert`, same region and Dismiss button as
 * the watchlist toast): the camera, old -> new status, the anomalies, a link to its health page.
 */
export const HealthAlertItem: FC<{ alert: HealthAlertEvent }> = ({ alert }) => (
  <div class={`alert card health-alert health-${alert.status}`} role="alert" data-camera={alert.cameraKey}>
    <div class="alert-top">
      <div class="alert-body">
        <p class="alert-title">
          Camera <strong>{alert.cameraKey}</strong>: {alert.status === "ok" ? "healthy again" : alert.status}
        </p>
        <p class="alert-text">
          <Time ms={alert.ts} fmt="time" />
          {alert.anomalies.length ? ` · ${alert.anomalies.join(", ").replaceAll("_", " ")}` : ""}
        </p>
      </div>
      <button type="button" class="alert-close plain" data-dismiss aria-label="Dismiss alert">
        ×
      </button>
    </div>
    <p class="alert-links">
      <a class="button" href={`/cameras/${encodeURIComponent(alert.cameraKey)}/health`}>
        Health
      </a>
    </p>
  </div>
);

/**
 * A live alert toast (a watchlisted plate read); SSE event `alert`, prepended to the layout's
 * fixed `.alerts` region on every page of a logged-in user. Shows the vehicle's snapshot (when
 * its row has one; client.js hides it if it cannot load), the watched plate, what was read, camera and frame time,
 * links to the footage at that moment and to the plate's passes, and a Dismiss button
 * (client.js removes the toast; at most 3 are kept).
 */
export const AlertItem: FC<{ alert: AlertEvent; snapshot?: boolean }> = ({ alert, snapshot = false }) => (
  <div class="alert card" role="alert" data-vehicle={String(alert.vehicleId)}>
    <div class="alert-top">
      {snapshot ? <img class="alert-snap" src={`/plates/snapshot/${alert.vehicleId}.jpg`} alt="" width="80" height="45" data-hide-on-error /> : null}
      <div class="alert-body">
        <p class="alert-title">
          Watchlist <strong class="plate-text">{alert.watched}</strong>
        </p>
        <p class="alert-text">
          <Time ms={alert.ts} fmt="time" />
          {alert.cameraKey ? ` · ${alert.cameraKey}` : ""}
          {alert.plate !== alert.watched ? ` · read ${alert.plate}` : ""}
        </p>
      </div>
      <button type="button" class="alert-close plain" data-dismiss aria-label="Dismiss alert">
        ×
      </button>
    </div>
    <p class="alert-msg">{alert.message}</p>
    <p class="alert-links">
      {alert.cameraKey ? (
        <a class="button" href={`/cameras/${encodeURIComponent(alert.cameraKey)}?at=${alert.ts}`}>
          Footage
        </a>
      ) : null}
      <a class="button" href={`/plates?q=${encodeURIComponent(alert.plate)}`}>
        Passes
      </a>
    </p>
  </div>
);
