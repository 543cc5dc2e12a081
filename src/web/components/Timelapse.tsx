/** @jsxImportSource hono/jsx */
/**
 * Timelapse batch cards (the Timelapses page, src/web/routes/timelapses.tsx). `BatchCard` is
 * also the htmx fragment of `GET /timelapses/:id`; its `BatchStatus` part is what the SSE stream
 * swaps in as a render progresses (event `timelapse-<id>`, src/web/routes/live.tsx). A card of
 * a batch still to render also polls itself every 2 s until it ends.
 */
import type { FC } from "hono/jsx";
import { CsrfField } from "../auth/csrf.ts";
import type { BatchListRow } from "../../db/timelapse.ts";
import { formatBytes } from "../format.ts";
import { Time } from "./Time.tsx";

const TONE: Record<string, string> = { pending: "off", processing: "busy", completed: "ok", failed: "bad" };

/** Status badge, progress bar (frames done / total) while rendering, error when failed. */
export const BatchStatus: FC<{ batch: Pick<BatchListRow, "id" | "status" | "total_frames" | "error_message">; framesDone: number | null }> = ({ batch, framesDone }) => {
  const active = batch.status === "pending" || batch.status === "processing";
  const done = framesDone ?? 0;
  return (
    <div class="batch-status">
      <span class={`badge ${TONE[batch.status] ?? "off"}`}>{batch.status}</span>
      {active ? (
        <span>
          {" "}
          <progress max={Math.max(1, batch.total_frames)} value={done}></progress>{" "}
          <span class="progress-text">
            {batch.status === "pending" ? "waiting…" : `${done}/${batch.total_frames} frames`}
          </span>
        </span>
      ) : null}
      {batch.status === "failed" && batch.error_message ? <p class="error-text">{batch.error_message}</p> : null}
    </div>
  );
};

export const BatchCard: FC<{ batch: BatchListRow; framesDone: number | null; csrf?: string; canEdit: boolean; liveShares?: number }> = ({
  batch,
  framesDone,
  csrf,
  canEdit,
  liveShares = 0,
}) => {
  const hasPoster = batch.total_frames > 0;
  const playable = batch.status === "completed" && batch.output_path !== null;
  const active = batch.status === "pending" || batch.status === "processing";
  // live progress comes over SSE; while the batch runs the card also re-reads itself every 2 s
  // (a render may end before the card reaches the page), and stops once it ends
  return (
    <article
      class="card batch"
      id={`batch-${batch.id}`}
      data-status={batch.status}
      {...(active ? { "hx-get": `/timelapses/${batch.id}`, "hx-trigger": "every 2s", "hx-swap": "outerHTML" } : {})}
    >
      <div class="card-head">
        <h3>
          {batch.batch_type === "continuous" ? "Continuous" : batch.batch_type === "checkpoint" ? "Checkpoint" : "Manual"} #{batch.id}
        </h3>
        <div sse-swap={`timelapse-${batch.id}`}>
          <BatchStatus batch={batch} framesDone={framesDone} />
        </div>
      </div>
      {playable ? (
        <video class="batch-video" controls preload="none" playsinline src={`/timelapses/${batch.id}/video.mp4`} poster={hasPoster ? `/timelapses/${batch.id}/poster.jpg` : undefined}></video>
      ) : hasPoster ? (
        <img class="batch-poster" loading="lazy" alt={`last image of batch ${batch.id}`} src={`/timelapses/${batch.id}/poster.jpg`} />
      ) : null}
      <p class="muted">
        {batch.total_frames} frames at {batch.frame_rate} fps
        {batch.duration_seconds !== null ? ` · ${batch.duration_seconds.toFixed(1)} s` : ""}
        {batch.day_range_start !== null ? ` · day ${batch.day_range_start}–${batch.day_range_end}` : ""}
        {batch.day_overlay_applied ? " · day counter" : ""}
        {batch.file_size_bytes ? ` · ${formatBytes(batch.file_size_bytes)}` : ""}
        {" · "}
        <Time ms={batch.created_at} />
        {liveShares > 0 ? ` · in ${liveShares} share link${liveShares === 1 ? "" : "s"}` : ""}
      </p>
      <div class="action-row">
        {playable ? (
          <a class="button" href={`/timelapses/${batch.id}/video.mp4?download=1`} download={batch.output_filename ?? undefined}>
            Download
          </a>
        ) : null}
        {canEdit && playable ? (
          <a class="button" href={`/shares/new?batch=${batch.id}`}>
            Share
          </a>
        ) : null}
        {canEdit && csrf ? (
          <form
            method="post"
            action={`/timelapses/${batch.id}/delete`}
            hx-post={`/timelapses/${batch.id}/delete`}
            hx-target={`#batch-${batch.id}`}
            hx-swap="outerHTML"
            hx-confirm={
              liveShares > 0
                ? `Delete this timelapse and its video? ${liveShares === 1 ? "The share link that shows it" : `The ${liveShares} share links that show it`} will no longer show it.`
                : "Delete this timelapse and its video?"
            }
          >
            <CsrfField token={csrf} />
            <button type="submit" class="plain">
              {batch.status === "pending" || batch.status === "processing" ? "Cancel and delete" : "Delete"}
            </button>
          </form>
        ) : null}
      </div>
    </article>
  );
};

/** The trip page's "Make a timelapse" form: one frame every N seconds of the trip. */
export const TripTimelapseForm: FC<{ tripId: number; csrf: string }> = ({ tripId, csrf }) => (
  <details class="card">
    <summary>Make a timelapse</summary>
    <form method="post" action={`/trips/${tripId}/timelapse`} hx-post={`/trips/${tripId}/timelapse`} hx-target={`#trip-timelapse-${tripId}`} class="stack">
      <CsrfField token={csrf} />
      <label>
        One frame every <input type="number" name="every_seconds" min="1" max="3600" value="5" inputmode="numeric" /> s
      </label>
      <label>
        Frame rate <input type="number" name="frame_rate" min="1" max="120" value="30" inputmode="numeric" />
      </label>
      <button type="submit" class="primary">
        Make a timelapse
      </button>
    </form>
    <div id={`trip-timelapse-${tripId}`}></div>
  </details>
);
