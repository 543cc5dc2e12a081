/** @jsxImportSource hono/jsx */
/**
 * What a saved trip keeps and what failed, shown wherever a trip shows as saved (trip page, trip
 * lists, home), and the "card full" message with its one-tap way out (the list of kept trips,
 * `/trips?kept=1`, where each has a Delete button).
 *
 * - `SavedNote`: "Saved: all 14 min kept", or what is missing and why: "Saved 14 min · recording
 *   stopped at 08:26: the card is full" (the camera went disk_full while the trip was recorded,
 *   `trips.cut_reason`), "Saved 12 min: 60 of 420 segments were gone before the save" (the ring
 *   had overwritten them; a trip's length also holds recording gaps, so it is not compared).
 * - `CardFullNote`: a camera stopped because only kept footage is left on a full card.
 */
import type { FC } from "hono/jsx";
import type { KeptFootage } from "../../db/savedTrips.ts";
import type { TripSummary } from "../../db/views.ts";
import { formatDuration } from "../format.ts";
import { Time } from "./Time.tsx";

/** Where the driver makes room: the kept trips, each with a Delete button. */
export const KEPT_TRIPS_URL = "/trips?kept=1";

/** Why a trip's recording stopped early, in words (`trips.cut_reason`). */
export const cutReasonText = (reason: string) => (reason === "disk_full" ? "the card is full" : reason);

/** Recording of a cut trip went on later (space was freed): the cut is a hole, not the end. */
const resumedAfterCut = (t: Pick<TripSummary, "cut_at_utc" | "last_time_utc">) => t.cut_at_utc !== null && t.last_time_utc > t.cut_at_utc;

/** True when a saved trip's kept footage does not cover the trip (segments missing, or recording cut). */
export const keptIsIncomplete = (trip: Pick<TripSummary, "cut_reason">, kept: KeptFootage) => kept.kept < kept.expected || trip.cut_reason !== null;

/** `link`: add the "make room" link (not inside another link, e.g. a list item's). */
export const SavedNote: FC<{ trip: Pick<TripSummary, "status" | "cut_reason" | "cut_at_utc" | "end_time_utc" | "last_time_utc">; kept: KeptFootage; link?: boolean }> = ({
  trip,
  kept,
  link = true,
}) => {
  const missing = kept.expected - kept.kept;
  const verb = trip.status === "saving" ? "Saving" : "Saved";
  const incomplete = keptIsIncomplete(trip, kept);
  return (
    <span class={`saved-note${incomplete ? " incomplete" : ""}`} role={incomplete ? "status" : undefined}>
      {missing > 0 ? `${verb} ${formatDuration(kept.keptMs)}` : `${verb}: ${kept.expected === kept.kept && !trip.cut_reason ? "all " : ""}${formatDuration(kept.keptMs)} kept`}
      {missing > 0 ? `: ${missing} of ${kept.expected} segments were gone before the save` : null}
      {trip.cut_reason ? (
        <>
          {" "}
          {resumedAfterCut(trip) ? (
            <>
              · recording paused at <Time ms={trip.cut_at_utc} fmt="time" />: {cutReasonText(trip.cut_reason).replace(" is ", " was ")}, part of the drive was not recorded
            </>
          ) : (
            <>
              · recording stopped at <Time ms={trip.cut_at_utc} fmt="time" />: {cutReasonText(trip.cut_reason)}, the rest of the drive is not recorded
            </>
          )}
          {link ? (
            <>
              {" "}
              · <a href={KEPT_TRIPS_URL}>make room</a>
            </>
          ) : null}
        </>
      ) : null}
    </span>
  );
};

export const CardFullNote: FC<{ cameraName: string }> = ({ cameraName }) => (
  <p class="error card-full" role="alert">
    The card is full: {cameraName} stopped recording, because only saved trips and evidence are left on it. It resumes by itself once there is room.{" "}
    <a class="button" href={KEPT_TRIPS_URL}>
      Make room: delete saved trips
    </a>
  </p>
);
