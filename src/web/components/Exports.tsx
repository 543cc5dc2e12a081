/** @jsxImportSource hono/jsx */
/**
 * Export job cards. `ExportCard` is also the htmx fragment of `GET /exports/:id`: while the
 * job is queued or running the card polls itself every second (`hx-trigger="every 1s"`,
 * outerHTML swap) and shows a `<progress>`; once done it shows a big Download button and the
 * polling stops because the new card no longer carries the trigger.
 */
import type { FC } from "hono/jsx";
import { CsrfField } from "../auth/csrf.ts";
import type { ExportJob } from "../exportJobs.ts";
import { formatBytes, formatDuration } from "../format.ts";
import { Time } from "./Time.tsx";

const STATE_TONE: Record<ExportJob["state"], string> = { queued: "off", running: "busy", done: "ok", failed: "bad", cancelled: "off" };

export const ExportCard: FC<{ job: ExportJob; csrf?: string; canDelete: boolean }> = ({ job, csrf, canDelete }) => {
  const active = job.state === "queued" || job.state === "running";
  const pct = job.totalMs > 0 ? Math.min(100, Math.round((job.doneMs / job.totalMs) * 100)) : 0;
  const name = job.relPath ? job.relPath.split("/").pop() : null;
  return (
    <article
      class="card export"
      id={`export-${job.id}`}
      data-state={job.state}
      {...(active ? { "hx-get": `/exports/${job.id}`, "hx-trigger": "every 1s", "hx-swap": "outerHTML" } : {})}
    >
      <div class="card-head">
        <h3>
          {job.kind === "snapshot" ? "Snapshot" : "Clip"}
          {job.cameraKey ? ` · ${job.cameraKey}` : ""}
        </h3>
        <span class={`badge ${STATE_TONE[job.state]}`}>{job.state}</span>
      </div>
      {job.fromUtc !== null ? (
        <p class="muted">
          <Time ms={job.fromUtc} />
          {job.kind === "clip" && job.toUtc !== null ? <> · {formatDuration(job.toUtc - job.fromUtc)}</> : null}
        </p>
      ) : null}
      {active ? (
        <p>
          <progress max={100} value={pct}></progress> <span class="progress-text">{job.state === "queued" ? "waiting…" : `${pct}%`}</span>
        </p>
      ) : null}
      {job.state === "done" ? (
        <p class="action-row">
          <a class="button big primary" href={`/exports/${job.id}/download`} download={name ?? undefined}>
            Download {job.kind === "snapshot" ? "JPEG" : "MP4"} ({formatBytes(job.bytes)})
          </a>
        </p>
      ) : null}
      {job.error ? <p class="error-text">{job.error}</p> : null}
      {canDelete && csrf ? (
        <form
          method="post"
          action={`/exports/${job.id}/delete`}
          hx-post={`/exports/${job.id}/delete`}
          hx-target={`#export-${job.id}`}
          hx-swap="outerHTML"
          hx-confirm={active ? "Cancel this export?" : job.state === "done" ? "Delete this file?" : undefined}
        >
          <CsrfField token={csrf} />
          <button type="submit" class="plain">
            {active ? "Cancel" : job.state === "done" ? "Delete file" : "Dismiss"}
          </button>
        </form>
      ) : null}
    </article>
  );
};
