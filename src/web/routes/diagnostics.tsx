/** @jsxImportSource hono/jsx */
/**
 * `GET /diagnostics` (operators and admins): the recorder's view of things, in its own terms,
 * kept off the driver's pages. Per camera: the status card with ring use (segment rows / ring
 * capacity, bytes, wraps, evidence-locked segments, bitrate, reconnects, last error; live over
 * SSE `camera-<key>`), the newest segments (new ones prepended over SSE `segment-<key>`, each
 * a download of the raw MPEG-TS file), and the latest trips with their boot ids and absolute
 * segment ranges. Links to the event log with technical details (kind names, debug events).
 */
import { Hono } from "hono";
import { cameraSummaries, listTrips, recentSegments } from "../../db/views.ts";
import { CameraCard } from "../components/CameraCard.tsx";
import { SegmentTable } from "../components/Segments.tsx";
import { TripBadge } from "../components/Badge.tsx";
import { Time } from "../components/Time.tsx";
import type { WebEnv } from "../env.ts";

export function diagnosticsRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/", (c) => {
    const { db } = c.var.deps;
    const cameras = cameraSummaries(db);
    const trips = listTrips(db, { limit: 10, offset: 0 }).rows;
    return c.render(
      <>
        <h1>Diagnostics</h1>
        <p class="muted">
          Recorder details for operators. The event log with kind names and debug events:{" "}
          <a href="/events?details=1">technical event log</a>.
        </p>
        {cameras.map((cam) => {
          const recent = recentSegments(db, cam.id, 20);
          return (
            <section class="diag-camera" aria-label={`${cam.name} diagnostics`}>
              <CameraCard cam={cam} />
              <details class="card">
                <summary>Newest segments of {cam.name}</summary>
                {recent.length === 0 ? (
                  <p class="muted">No segments in the ring.</p>
                ) : (
                  <>
                    <SegmentTable segments={recent} cameraKey={cam.key} live />
                    <p>
                      <a class="button" href={`/cameras/${cam.key}/live.m3u8`}>
                        Live playlist (.m3u8)
                      </a>
                    </p>
                  </>
                )}
              </details>
            </section>
          );
        })}
        <section class="card">
          <h2>Latest trips</h2>
          <div class="table-wrap">
            <table class="list">
              <thead>
                <tr>
                  <th>Trip</th>
                  <th>Camera</th>
                  <th>Start</th>
                  <th>Segments</th>
                  <th>Boot</th>
                  <th>Status</th>
                </tr>
              </thead>
              <tbody>
                {trips.map((t) => (
                  <tr>
                    <td>
                      <a href={`/trips/${t.id}`}>{t.id}</a>
                    </td>
                    <td>{t.camera_key}</td>
                    <td>
                      <Time ms={t.start_time_utc} fmt="when" />
                    </td>
                    <td>
                      #{t.start_absolute}–#{t.last_absolute}
                    </td>
                    <td>
                      <code class="small">{t.boot_id}</code>
                    </td>
                    <td>
                      <TripBadge status={t.status} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      </>,
      { title: "Diagnostics", nav: "diagnostics" },
    );
  });
  return app;
}
