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
