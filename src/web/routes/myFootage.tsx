/** @jsxImportSource hono/jsx */
/**
 * `GET /my-footage` — everything the driver has kept, each with a thumbnail and a download:
 *
 * - kept drives (trips saving or saved; the drive's first frame, Download MP4 once ready);
 * - incident clips (exports tagged with an incident id, named by camera and moment, e.g.
 *   "Front · 7 Dec 08:12");
 * - pictures (saved snapshots);
 * - other exported clips.
 * Operators get a "Share" button on kept drives and clips (a public link for an insurer, see
 * routes/shares.tsx). Export thumbnails are the files' first frames (`/exports/<id>/thumb.jpg`). Files come from the export registry (`<data_dir>/exports/`); downloads are offered under names
 * like `front-2026-12-07-0812.mp4` (see routes/exports.tsx and trips.tsx).
 */
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import { listTripsFiltered, type TripSummary } from "../../db/views.ts";
import { listCameras } from "../../db/cameras.ts";
import { incidentMoment, isIncidentClip, type ExportJob } from "../exportJobs.ts";
import { formatBytes, formatDriveLength } from "../format.ts";
import { Time } from "../components/Time.tsx";
import { tripEnd } from "../components/Trips.tsx";
import type { WebEnv } from "../env.ts";
import { savedDownloadReady } from "./trips.tsx";
import { hasRole } from "../../db/users.ts";

const Thumb: FC<{ src: string | null }> = ({ src }) => (
  <span class="item-thumb">
    {src ? <img src={src} alt="" loading="lazy" width="112" height="63" data-hide-on-error /> : null}
  </span>
);

/** "Share": a public link of it (operators; routes/shares.tsx). */
const ShareLink: FC<{ href: string | null }> = ({ href }) =>
  href ? (
    <a class="button" href={href}>
      Share
    </a>
  ) : null;

const KeptDrive: FC<{ trip: TripSummary; ready: boolean; share: boolean }> = ({ trip, ready, share }) => (
  <li class="kept-item">
    <Thumb src={trip.fully_evicted ? null : `/trips/${trip.id}/thumb.jpg`} />
    <div class="kept-text">
      <a href={`/trips/${trip.id}`} class="kept-title">
        {trip.camera_name} · <Time ms={trip.start_time_utc} fmt="when" />
      </a>
      <span class="muted">
        Drive of {formatDriveLength(tripEnd(trip) - trip.start_time_utc)}
        {trip.status === "saving" ? " · keeping…" : trip.end_time_utc === null ? " so far" : ""}
      </span>
      {ready ? (
        <a class="button primary" href={`/trips/${trip.id}/saved.mp4`} download data-tzo>
          Download MP4
        </a>
      ) : null}
      <ShareLink href={ready && share ? `/shares/new?trip=${trip.id}` : null} />
    </div>
  </li>
);

const FileItem: FC<{ job: ExportJob; name: string; at: number | null; thumb: string | null; share?: boolean }> = ({ job, name, at, thumb, share }) => (
  <li class="kept-item">
    <Thumb src={thumb} />
    <div class="kept-text">
      <span class="kept-title">
        {name}
        {at !== null ? (
          <>
            {" "}
            · <Time ms={at} fmt="when" />
          </>
        ) : null}
      </span>
      <span class="muted">{job.state === "done" ? formatBytes(job.bytes) : job.state === "failed" ? "failed" : "being made…"}</span>
      {job.state === "done" ? (
        <a class="button primary" href={`/exports/${job.id}/download`} download data-tzo>
          Download {job.kind === "snapshot" ? "JPEG" : "MP4"}
        </a>
      ) : (
        <a class="button" href={`/exports/${job.id}`}>
          Details
        </a>
      )}
      <ShareLink href={share && job.state === "done" && job.kind === "clip" ? `/shares/new?clip=${job.id}` : null} />
    </div>
  </li>
);

export function myFootageRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/", (c) => {
    const { db, dataDir } = c.var.deps;
    const names = new Map(listCameras(db).map((x) => [x.key, x.name]));
    const nameOf = (key: string | null) => (key ? (names.get(key) ?? key) : "Camera");
    const kept = listTripsFiltered(db, { only: "saved", limit: 50, offset: 0 }).rows;
    const jobs = c.var.exports.list();
    const incidents = jobs.filter(isIncidentClip);
    const pictures = jobs.filter((j) => j.kind === "snapshot");
    const clips = jobs.filter((j) => j.kind === "clip" && !isIncidentClip(j));
    const share = c.var.user ? hasRole(c.var.user.role, "operator") : false;
    const thumbOf = (job: ExportJob) => (job.state === "done" ? `/exports/${job.id}/thumb.jpg` : null);
    return c.render(
      <>
        <h1>My footage</h1>
        <section class="card" aria-labelledby="kept-h">
          <h2 id="kept-h">Kept drives</h2>
          {kept.length === 0 ? (
            <p class="muted">None yet. Tap Save on the home screen to keep the drive you are on.</p>
          ) : (
            <ul class="kept">
              {kept.map((t) => (
                <KeptDrive trip={t} ready={savedDownloadReady(db, dataDir, t)} share={share} />
              ))}
            </ul>
          )}
        </section>
        <section class="card" aria-labelledby="incidents-h">
          <h2 id="incidents-h">Incident clips</h2>
          {incidents.length === 0 ? (
            <p class="muted">None yet. Tap Incident on the home screen to keep the moments around now.</p>
          ) : (
            <ul class="kept">
              {incidents.map((j) => {
                const at = incidentMoment(j);
                return <FileItem job={j} name={nameOf(j.cameraKey)} at={at} thumb={thumbOf(j)} share={share} />;
              })}
            </ul>
          )}
        </section>
        <section class="card" aria-labelledby="pictures-h">
          <h2 id="pictures-h">Pictures</h2>
          {pictures.length === 0 ? (
            <p class="muted">None yet. Open a camera and tap Save picture.</p>
          ) : (
            <ul class="kept">
              {pictures.map((j) => (
                <FileItem job={j} name={nameOf(j.cameraKey)} at={j.fromUtc} thumb={thumbOf(j)} />
              ))}
            </ul>
          )}
        </section>
        <section class="card" aria-labelledby="clips-h">
          <h2 id="clips-h">Exported clips</h2>
          {clips.length === 0 ? (
            <p class="muted">None yet. Open a drive and use Export a clip.</p>
          ) : (
            <ul class="kept">
              {clips.map((j) => (
                <FileItem job={j} name={nameOf(j.cameraKey)} at={j.fromUtc} thumb={thumbOf(j)} share={share} />
              ))}
            </ul>
          )}
        </section>
      </>,
      { title: "My footage", nav: "mine" },
    );
  });
  return app;
}
