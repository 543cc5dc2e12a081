/** @jsxImportSource hono/jsx */
/**
 * The trip page's action cards (htmx fragments, big touch targets):
 *
 * - `TripActions` (`#trip-actions`): whether the drive is kept, the Keep button and the
 *   download; for operators an "Advanced" fold with the evidence-lock state (segments locked,
 *   incident ids) and Lock / Unlock. Each button posts with htmx and the
 *   response replaces this card; without JavaScript the form posts and the server answers 303
 *   back to the trip page. Viewers see the state only.
 * - `ExportForm` (`#export-form`): camera + from/to (datetime-local, filled with the trip's
 *   span; client.js turns the UTC values into the viewer's local time and fills `tzo`), the
 *   result (an export job card, see Exports.tsx) lands in `#export-result`.
 */
import type { FC } from "hono/jsx";
import type { TripLocks, TripSummary } from "../../db/views.ts";
import { CsrfField } from "../auth/csrf.ts";
import type { SessionUser } from "../auth/middleware.ts";
import { hasRole } from "../../db/users.ts";
import { DateTimeInput } from "./DateTime.tsx";
import { KeepBody, keepLiveAttrs } from "./Keep.tsx";
import { Time } from "./Time.tsx";
import { formatDuration } from "../format.ts";
import type { KeptFootage } from "../../db/savedTrips.ts";
import { SavedNote } from "./Kept.tsx";

export interface TripActionsProps {
  trip: TripSummary;
  locks: TripLocks;
  user: SessionUser | null;
  csrf: string;
  /** The runtime provides saving (deps.actions.saveTrip). */
  canSave: boolean;
  /** The saved trip can be downloaded as one MP4 (made on the fly): offer it. */
  savedFile?: boolean;
  /** What a saved (or saving) trip keeps; shown beside "Saved". */
  kept?: KeptFootage | null;
  /** The last save of this trip failed (not saved now): why, shown beside "Saved: no". */
  saveError?: { message: string; at: number } | null;
  notice?: string | null;
  error?: string | null;
}

/** A POST button as a small form: htmx swaps `#trip-actions`, plain posts get a 303. */
const ActionButton: FC<{ action: string; csrf: string; label: string; cls?: string; confirm?: string; children?: unknown }> = ({
  action,
  csrf,
  label,
  cls,
  confirm,
  children,
}) => (
  <form method="post" action={action} hx-post={action} hx-target="#trip-actions" hx-swap="outerHTML" hx-confirm={confirm} class="action">
    <CsrfField token={csrf} />
    {children as never}
    <button type="submit" class={`big ${cls ?? ""}`.trim()}>
      {label}
    </button>
  </form>
);

export const TripActions: FC<TripActionsProps> = ({ trip, locks, user, csrf, canSave, savedFile, kept, saveError, notice, error }) => {
  const operator = user ? hasRole(user.role, "operator") : false;
  const saved = trip.status === "saved";
  const saving = trip.status === "saving";
  const gone = trip.status === "evicted" || locks.segments === 0;
  return (
    <section class="card actions" id="trip-actions">
      <h2>Keep this drive</h2>
      {notice ? <p class="notice">{notice}</p> : null}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {/* saving -> saved -> the download, repainted live over SSE like the home screen's confirmation */}
      <div class="keep-live" {...keepLiveAttrs(trip.id)}>
        <KeepBody trip={trip} ready={Boolean(savedFile)} />
      </div>
      {kept ? (
        <p class="small-text">
          <SavedNote trip={trip} kept={kept} />
        </p>
      ) : null}
      {saveError && !saved && !saving ? (
        <p class="error-text" role="alert">
          Not kept: keeping failed at <Time ms={saveError.at} fmt="hm" /> ({saveError.message})
        </p>
      ) : null}
      {!operator ? (
        <p class="muted">Your account ({user?.role ?? "none"}) can watch footage; keeping and exporting need an operator.</p>
      ) : !saved && !saving && trip.status !== "evicted" ? (
        <div class="action-row">
          {canSave ? (
            <ActionButton action={`/trips/${trip.id}/save`} csrf={csrf} label="Keep" cls="primary" />
          ) : (
            <p class="muted">Keeping is not available yet (the recorder does not offer it).</p>
          )}
        </div>
      ) : null}
      {operator && saved ? (
        <div class="action-row">
          <ActionButton
            action={`/trips/${trip.id}/delete`}
            csrf={csrf}
            label="Delete kept drive"
            cls="danger"
            confirm="Delete this kept drive? Its footage is no longer kept and will be overwritten to make room."
          />
        </div>
      ) : null}
      {operator && !(gone && locks.locked === 0) ? (
        <details class="advanced">
          <summary>Advanced</summary>
          <dl class="facts">
            <dt>Evidence</dt>
            <dd>
              <span id="lock-count">
                {locks.locked} of {locks.segments}
              </span>{" "}
              parts of this drive locked
              {locks.incidents.length > 0 ? (
                <>
                  {" "}
                  · <code class="small">{locks.incidents.join(", ")}</code>
                </>
              ) : null}
            </dd>
          </dl>
          <div class="action-row">
            {!gone && locks.locked < locks.segments ? (
              <ActionButton action={`/trips/${trip.id}/lock`} csrf={csrf} label="Lock as evidence">
                <label class="compact">
                  Incident id (optional)
                  <input name="incident" maxlength={64} pattern="[A-Za-z0-9_.:\-]+" autocomplete="off" placeholder="new id" />
                </label>
              </ActionButton>
            ) : null}
            {locks.locked > 0 && !saving && !saved ? (
              <ActionButton
                action={`/trips/${trip.id}/unlock`}
                csrf={csrf}
                label="Unlock"
                cls="danger"
                confirm="Remove the evidence lock? The footage may then be overwritten."
              />
            ) : null}
          </div>
        </details>
      ) : null}
    </section>
  );
};

export interface ExportFormProps {
  cameraKey: string;
  from: number;
  to: number;
  csrf: string;
  /** Longest clip (ms), shown as a hint. */
  maxMs: number;
}

/** The clip export form; the job card appears in `#export-result`. */
export const ExportForm: FC<ExportFormProps> = ({ cameraKey, from, to, csrf, maxMs }) => (
  <section class="card" id="export-form">
    <h2>Export a clip</h2>
    <form method="post" action="/exports" hx-post="/exports" hx-target="#export-result" hx-swap="afterbegin" class="stack" data-tz>
      <CsrfField token={csrf} />
      <input type="hidden" name="camera" value={cameraKey} />
      <input type="hidden" name="tzo" value="0" />
      <DateTimeInput name="from" label="From" ms={from} />
      <DateTimeInput name="to" label="To" ms={to} />
      <p class="muted small-text">MP4 without re-encoding, cut at keyframes; at most {formatDuration(maxMs)} per clip.</p>
      <button type="submit" class="big primary">
        Export clip
      </button>
    </form>
    <div id="export-result"></div>
  </section>
);
