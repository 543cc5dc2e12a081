/** @jsxImportSource hono/jsx */
/**
 * The confirmations shown after the home screen's Save and Incident buttons. Each one is a
 * box that keeps `sse-swap`, so the live stream (routes/live.tsx) replaces its inside as the
 * work progresses, without a reload:
 *
 * - `KeepNotice` / `KeepBody` (SSE `keep-<tripId>`, sent on every `trip` bus event; the drive
 *   page's "Keep this drive" card shows the same body):
 *   "Saving…" -> "Saved: drive of 14 min, today 08:12" with a Download MP4 button once the
 *   saved trip's MP4 can be downloaded.
 * - `IncidentNotice` / `IncidentBody` (SSE `incident-<id>`, sent on the `incident.done` /
 *   `incident.failed` event-log rows): "Incident: Front · 7 Dec 08:12, keeping 30 s before and
 *   30 s after" -> a Download MP4 button when the clip is exported.
 * The incident id (used by operators to tag evidence) sits under an "Advanced" fold.
 */
import type { FC } from "hono/jsx";
import type { TripSummary } from "../../db/views.ts";
import { formatDriveLength } from "../format.ts";
import { tripEnd } from "./Trips.tsx";
import { Time } from "./Time.tsx";

/** `keep-<id>`: the SSE event name of a trip's save confirmation. */
export const keepEvent = (tripId: number) => `keep-${tripId}`;
/** `incident-<id>`: the SSE event name of an incident's confirmation (ids are `[A-Za-z0-9_.:-]`). */
export const incidentEvent = (incidentId: string) => `incident-${incidentId.replace(/[^A-Za-z0-9_.:-]/g, "_")}`;

export type KeepTrip = Pick<TripSummary, "id" | "status" | "camera_key" | "camera_name" | "start_time_utc" | "end_time_utc" | "last_time_utc">;

/**
 * What is known about keeping `trip`: saving, saved (with the download once `ready`), not kept,
 * or overwritten. `requested`: a save was just asked for (the home screen's confirmation says
 * "Saving…" even before the trip's status has changed).
 */
export const KeepBody: FC<{ trip: KeepTrip; ready: boolean; error?: string | null; requested?: boolean }> = ({ trip, ready, error, requested = false }) => {
  const length = formatDriveLength(tripEnd(trip) - trip.start_time_utc);
  const what = (
    <>
      drive of {length}
      {trip.end_time_utc === null ? " so far" : ""}, <Time ms={trip.start_time_utc} fmt="when" /> · {trip.camera_name}
    </>
  );
  if (error)
    return (
      <p class="keep-text error-text" role="alert">
        Not saved: {error}
      </p>
    );
  if (trip.status === "saved")
    return (
      <>
        <p class="keep-text">
          <strong>Saved:</strong> {what}
        </p>
        {trip.end_time_utc === null ? <p class="muted small-text">Still recording: the rest of this drive is kept too.</p> : null}
        {ready ? (
          <p class="action-row">
            <a class="button big primary" href={`/trips/${trip.id}/saved.mp4`} download data-tzo>
              Download MP4
            </a>
          </p>
        ) : (
          <p class="muted small-text">The MP4 is being prepared…</p>
        )}
      </>
    );
  if (trip.status === "evicted")
    return <p class="keep-text error-text">Not saved: this drive has already been overwritten.</p>;
  if (trip.status === "saving" || requested)
    return (
      <p class="keep-text">
        <strong>Saving…</strong> {what}
      </p>
    );
  return <p class="keep-text">Not kept: it will be overwritten when the storage fills up.</p>;
};

/**
 * Attributes of an element showing `KeepBody` live: SSE `keep-<id>` repaints it, and one
 * `GET /trips/<id>/keep` as soon as it is in the page closes the gap between the server
 * rendering it and the SSE listener being attached (a short drive is saved in well under a
 * second, so its "saved" event could otherwise pass unseen).
 */
export const keepLiveAttrs = (tripId: number, requested = false) => ({
  "sse-swap": keepEvent(tripId),
  "hx-get": `/trips/${tripId}/keep${requested ? "?requested=1" : ""}`,
  "hx-trigger": "load",
});

export const KeepNotice: FC<{ trip: KeepTrip; ready: boolean; error?: string | null }> = ({ trip, ready, error }) => (
  <div class="card keep" id={keepEvent(trip.id)} {...(error ? { "sse-swap": keepEvent(trip.id) } : keepLiveAttrs(trip.id, true))}>
    <KeepBody trip={trip} ready={ready} error={error} requested />
  </div>
);

export interface IncidentInfo {
  incidentId: string;
  cameraKey: string;
  cameraName: string;
  atUtc: number;
  fromUtc: number;
  toUtc: number;
}

export const IncidentBody: FC<{ inc: IncidentInfo; download?: string | null; failed?: string | null }> = ({ inc, download, failed }) => (
  <>
    <p class="keep-text">
      <strong>Incident:</strong> {inc.cameraName} · <Time ms={inc.atUtc} fmt="when" />
    </p>
    {failed ? (
      <p class="error-text small-text">The clip could not be made ({failed}); the footage around it is kept.</p>
    ) : download ? (
      <p class="action-row">
        <a class="button big primary" href={download} download data-tzo>
          Download MP4
        </a>
      </p>
    ) : (
      <p class="muted small-text">
        Keeping {Math.round((inc.atUtc - inc.fromUtc) / 1000)} s before and {Math.round((inc.toUtc - inc.atUtc) / 1000)} s after.
        The clip is ready once that has been recorded.
      </p>
    )}
  </>
);

/** The incident confirmation; `advanced` (operators) adds the incident id under a fold the live updates leave alone. */
export const IncidentNotice: FC<{ inc: IncidentInfo; advanced?: boolean }> = ({ inc, advanced }) => (
  <div class="card keep incident" id={incidentEvent(inc.incidentId)}>
    <div sse-swap={incidentEvent(inc.incidentId)}>
      <IncidentBody inc={inc} />
    </div>
    {advanced ? (
      <details class="advanced">
        <summary>Advanced</summary>
        <p class="small-text">
          Incident id <code>{inc.incidentId}</code>
        </p>
      </details>
    ) : null}
  </div>
);
