/**
 * Trips:
 * - `GET /trips?page=N&camera=KEY` — newest first, 20 per page.
 * - `GET /trips/:id?t=SECONDS` — metadata and an HLS player over the trip's segments, starting
 *   at media time `t` (default 0; the camera page's "play from this moment" links set it).
 * - `GET /trips/:id/playlist.m3u8` — the trip's HLS playlist (see ../hls.ts): VOD with
 *   ENDLIST once the trip has ended, EVENT without ENDLIST while it is open. Segment URIs are
 *   `/media/<camera>/<absolute index>.ts`. 404 when the ring no longer holds any of its segments.
 * Non-numeric ids are 400, unknown ids 404.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { findCamera, gapEndsBetween, listTrips, tripById, tripSegments, tripSegmentStats, type TripRow } from "../../db/views.ts";
import { TripStatus, TripItem, tripEnd } from "../components/Trips.tsx";
import { Player } from "../components/Player.tsx";
import { Pager } from "../components/Pager.tsx";
import { Time } from "../components/Time.tsx";
import type { WebEnv } from "../env.ts";
import { formatBytes, formatDuration } from "../format.ts";
import { buildPlaylist, PLAYLIST_TYPE } from "../hls.ts";
import { CameraKey, Id, Page, unknownCamera, valid } from "../validate.ts";

export const TRIPS_PER_PAGE = 20;

/** A trip is still growing while open (or being saved before it was closed). */
export const tripIsOpen = (t: Pick<TripRow, "status" | "end_time_utc">) =>
  t.status === "open" || (t.status === "saving" && t.end_time_utc === null);

const IdParam = v.object({ id: Id });

function loadTrip(c: { var: WebEnv["Variables"] }, id: number): TripRow {
  const trip = tripById(c.var.deps.db, id);
  if (!trip) throw new HTTPException(404, { message: `no trip ${id}` });
  return trip;
}

export function tripRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/", valid("query", v.object({ page: v.optional(Page), camera: v.optional(CameraKey) })), (c) => {
    const { db } = c.var.deps;
    const q = c.req.valid("query");
    const page = q.page ?? 1;
    const cam = q.camera === undefined ? null : (findCamera(db, q.camera) ?? unknownCamera(q.camera));
    const { rows, total } = listTrips(db, {
      limit: TRIPS_PER_PAGE,
      offset: (page - 1) * TRIPS_PER_PAGE,
      cameraId: cam?.id,
    });
    const pages = Math.max(1, Math.ceil(total / TRIPS_PER_PAGE));
    const link = (p: number) => `/trips?page=${p}${cam ? `&camera=${cam.key}` : ""}`;
    return c.render(
      <>
        <h1>Trips{cam ? ` · ${cam.name}` : ""}</h1>
        {rows.length === 0 ? (
          <p class="card">{total === 0 ? "No trips recorded yet." : `No trips on page ${page} (there are ${pages}).`}</p>
        ) : (
          <ul class="trips">
            {rows.map((t) => (
              <TripItem trip={t} />
            ))}
          </ul>
        )}
        <Pager
          prev={page > 1 ? link(Math.min(page - 1, pages)) : null}
          next={page < pages ? link(page + 1) : null}
          label={`page ${page} of ${pages} · ${total} trips`}
        />
      </>,
      { title: "Trips", nav: "trips" },
    );
  });

  const TripQuery = v.object({
    player: v.optional(v.picklist(["hlsjs", "auto"], "must be hlsjs or auto")),
    t: v.optional(v.pipe(v.string(), v.regex(/^\d{1,7}(\.\d{1,3})?$/, "must be seconds, e.g. 12.5"), v.transform(Number))),
  });

  app.get("/:id", valid("param", IdParam), valid("query", TripQuery), (c) => {
    const { db } = c.var.deps;
    const trip = loadTrip(c, c.req.valid("param").id);
    const stats = tripSegmentStats(db, trip);
    const open = tripIsOpen(trip);
    const expected = trip.last_absolute - trip.start_absolute + 1;
    return c.render(
      <>
        <p class="crumbs">
          <a href="/trips">Trips</a> › Trip {trip.id}
        </p>
        <div class="title-row">
          <h1>Trip {trip.id}</h1>
          <TripStatus trip={trip} />
        </div>
        {stats.n > 0 ? (
          <Player src={`/trips/${trip.id}/playlist.m3u8`} start={c.req.valid("query").t ?? 0} player={c.req.valid("query").player} />
        ) : (
          <p class="card notice">All footage of this trip has been overwritten by the ring.</p>
        )}
        <dl class="facts card">
          <dt>Camera</dt>
          <dd>
            <a href={`/cameras/${trip.camera_key}`}>{trip.camera_name}</a>
          </dd>
          <dt>Started</dt>
          <dd>
            <Time ms={trip.start_time_utc} />
          </dd>
          <dt>{open ? "Last segment" : "Ended"}</dt>
          <dd>
            <Time ms={tripEnd(trip)} />
          </dd>
          <dt>Length</dt>
          <dd>
            {formatDuration(tripEnd(trip) - trip.start_time_utc)}
            {open ? " so far" : ""}
          </dd>
          <dt>Segments</dt>
          <dd>
            {stats.n} of {expected} in the ring · {formatBytes(stats.bytes)} (#{trip.start_absolute}–#{trip.last_absolute})
          </dd>
          {trip.saved_at_utc !== null ? (
            <>
              <dt>Saved</dt>
              <dd>
                <Time ms={trip.saved_at_utc} />
              </dd>
            </>
          ) : null}
          {trip.evicted_at_utc !== null ? (
            <>
              <dt>Evicted</dt>
              <dd>
                <Time ms={trip.evicted_at_utc} />
              </dd>
            </>
          ) : null}
          {trip.note ? (
            <>
              <dt>Note</dt>
              <dd>{trip.note}</dd>
            </>
          ) : null}
          <dt>Boot</dt>
          <dd>
            <code class="small">{trip.boot_id}</code>
          </dd>
        </dl>
        {stats.n > 0 ? (
          <p>
            <a class="button" href={`/trips/${trip.id}/playlist.m3u8`}>
              Playlist (.m3u8)
            </a>
          </p>
        ) : null}
      </>,
      { title: `Trip ${trip.id}`, nav: "trips" },
    );
  });

  app.get("/:id/playlist.m3u8", valid("param", IdParam), (c) => {
    const { db } = c.var.deps;
    const trip = loadTrip(c, c.req.valid("param").id);
    const segments = tripSegments(db, trip);
    if (segments.length === 0) throw new HTTPException(404, { message: `trip ${trip.id} has no segments left in the ring` });
    const body = buildPlaylist({
      kind: tripIsOpen(trip) ? "event" : "vod",
      segments,
      uri: (s) => `/media/${trip.camera_key}/${s.absolute_index}.ts`,
      gapEnds: gapEndsBetween(db, trip.camera_id, segments[0].start_utc + 1, segments[segments.length - 1].start_utc),
    });
    return c.body(body, 200, { "Content-Type": PLAYLIST_TYPE, "Cache-Control": "no-cache" });
  });

  return app;
}
