/** Event log rows; `EventItem` is also the SSE fragment `event-log` (prepended to the list). */
import type { FC } from "hono/jsx";
import type { EventRow } from "../../db/views.ts";
import { LevelBadge } from "./Badge.tsx";
import { Time } from "./Time.tsx";

export const EventItem: FC<{ ev: EventRow }> = ({ ev }) => (
  <li class={`event level-${ev.level}`} id={`event-${ev.id}`}>
    <div class="event-head">
      <LevelBadge level={ev.level} />
      <code class="kind">{ev.kind}</code>
      {ev.camera_key ? <a href={`/cameras/${ev.camera_key}`}>{ev.camera_key}</a> : null}
      <Time ms={ev.at} fmt="datetime" />
    </div>
    <p class="event-msg">{ev.message}</p>
  </li>
);

/** A live alert banner (e.g. a watchlisted plate read); SSE event `alert`, prepended to the page's alert area. */
export const AlertItem: FC<{ message: string; at: number; href?: string | null }> = ({ message, at, href }) => (
  <p class="alert card" role="alert">
    <strong>Alert</strong> <Time ms={at} fmt="time" /> · {href ? <a href={href}>{message}</a> : message}
  </p>
);
