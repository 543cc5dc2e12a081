/** @jsxImportSource hono/jsx */
/** Trip list items and the trip status fragment (`trip-<id>` over SSE). */
import type { FC } from "hono/jsx";
import type { TripSummary } from "../../db/views.ts";
import type { KeptFootage } from "../../db/savedTrips.ts";
import { SavedNote } from "./Kept.tsx";
import { formatDriveLength } from "../format.ts";
import { TripBadge } from "./Badge.tsx";
import { Time } from "./Time.tsx";

/** End of a trip so far: its end time once closed, else the end of its newest segment (ms). */
export const tripEnd = (t: Pick<TripSummary, "end_time_utc" | "last_time_utc">) => t.end_time_utc ?? t.last_time_utc;

/** The status badge, wrapped so SSE `trip-<id>` replaces it. */
export const LiveTripBadge: FC<{ trip: Pick<TripSummary, "id" | "status"> }> = ({ trip }) => (
  <span class="trip-status" sse-swap={`trip-${trip.id}`}>
    <TripBadge status={trip.status} />
  </span>
);

/** Whether a thumbnail can exist: some footage was in the ring (evicted trips may still have a cached one). */
const hasThumb = (t: Pick<TripSummary, "fully_evicted" | "status">) => t.status !== "evicted" && !t.fully_evicted;

/**
 * One trip as a big tappable list item, with a thumbnail (the first frame, `/trips/:id/thumb.jpg`,
 * lazy-loaded; client.js hides it when it cannot be made). A saved trip also says what it keeps
 * (`kept`, see Kept.tsx); `children` go at the end (e.g. a Delete button in the kept list).
 */
export const TripItem: FC<{ trip: TripSummary; kept?: KeptFootage | null; children?: unknown }> = ({ trip, kept, children }) => (
  <li class="trip-item">
    {hasThumb(trip) ? (
      <a href={`/trips/${trip.id}`} class="trip-thumb-link" tabindex={-1} aria-hidden="true">
        <img class="trip-thumb" src={`/trips/${trip.id}/thumb.jpg`} alt="" loading="lazy" width="112" height="63" data-hide-on-error />
      </a>
    ) : null}
    <a href={`/trips/${trip.id}`} class="trip-link">
      <span class="trip-title">
        {trip.camera_name} · <Time ms={trip.start_time_utc} fmt="when" />
      </span>
      <span class="muted">
        {formatDriveLength(tripEnd(trip) - trip.start_time_utc)}
        {trip.end_time_utc === null ? " so far" : ""}
      </span>
      {kept ? <SavedNote trip={trip} kept={kept} link={false} /> : null}
    </a>
    <LiveTripBadge trip={trip} />
    {children as never}
  </li>
);
