/** Trip list items and the trip status fragment (`trip-<id>` over SSE). */
import type { FC } from "hono/jsx";
import type { TripRow } from "../../db/views.ts";
import { formatDuration } from "../format.ts";
import { TripBadge } from "./Badge.tsx";
import { Time } from "./Time.tsx";

/** End of a trip so far: its end time once closed, else the end of its newest segment (ms). */
export const tripEnd = (t: Pick<TripRow, "end_time_utc" | "last_time_utc">) => t.end_time_utc ?? t.last_time_utc;

/** The status badge, wrapped so SSE `trip-<id>` replaces it. */
export const TripStatus: FC<{ trip: Pick<TripRow, "id" | "status"> }> = ({ trip }) => (
  <span class="trip-status" sse-swap={`trip-${trip.id}`}>
    <TripBadge status={trip.status} />
  </span>
);

/** One trip as a big tappable list item. */
export const TripItem: FC<{ trip: TripRow }> = ({ trip }) => (
  <li class="trip-item">
    <a href={`/trips/${trip.id}`} class="trip-link">
      <span class="trip-title">
        Trip {trip.id} · {trip.camera_name}
      </span>
      <span class="trip-when">
        <Time ms={trip.start_time_utc} fmt="datetime" />
      </span>
      <span class="muted">
        {formatDuration(tripEnd(trip) - trip.start_time_utc)} · {trip.last_absolute - trip.start_absolute + 1} segments
      </span>
    </a>
    <TripStatus trip={trip} />
  </li>
);
