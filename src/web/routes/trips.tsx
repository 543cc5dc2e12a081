/** @jsxImportSource hono/jsx */
/**
 * Trips:
 * - `GET /trips?day=YYYY-MM-DD&tzo=MIN&show=all|saved|incidents&camera=KEY&page=N` — the
 *   "Footage" page: drives newest first, 20 per page, grouped by day (in the viewer's zone when
 *   `tzo` is given, as `Date.getTimezoneOffset()`), each with its thumbnail; a date picker
 *   (`day`: only drives overlapping that day, and each camera's recordings that day as a
 *   timeline whose spans play from their start) and filters: all, kept (`saved`: saving or
 *   saved), incidents (drives holding footage tagged with an incident). `kept=1` (where the
 *   "card full" message sends the driver) is the kept list with a Delete button on each.
 * - `GET /trips/:id?t=SECONDS` — metadata and an HLS player over the trip's segments, starting
 *   at media time `t` (default 0; the camera page's "play from this moment" links set it).
 * - `GET /trips/:id/playlist.m3u8` — the trip's HLS playlist (see ../hls.ts): VOD with
 *   ENDLIST once the trip has ended, EVENT without ENDLIST while it is open. Segment URIs are
 *   `/media/<camera>/<absolute index>.ts` (the media route read-locks each segment while it
 *   streams it). 404 when the ring no longer holds any of its segments.
 * - `GET /trips/:id/thumb.jpg` — the trip's thumbnail (first frame, cached under
 *   `<data_dir>/thumbs/`, see ../thumbs.ts); 404 when no footage is left and none is cached.
 * - `GET /trips/:id/keep[?requested=1]` — the drive's keep state (`KeepBody`: saving, saved with
 *   the download, not kept) as an htmx fragment; the live confirmation fetches it once when it
 *   appears, SSE `keep-<id>` does the rest.
 * - `GET /trips/:id/saved.mp4` — the saved trip as one MP4, remuxed from its segments while it is
 *   sent (src/media/tripMp4.ts: fragmented MP4 streamed from ffmpeg's stdout, no Range, ffmpeg
 *   killed when the client goes), as an attachment named like `front-2026-12-07-0812.mp4` (`?tzo=` for the viewer's zone); a
 *   legacy MP4 the migration kept (`saved_trips.mp4_path`) is sent from disk with Range. 404
 *   until the trip is saved or when none of its footage is left; 503 while `MAX_TRIP_STREAMS`
 *   downloads run.
 * - `POST /trips/:id/save` — asks the runtime to save the trip (`WebDeps.actions.saveTrip`,
 *   source "ui"); 503 when the runtime does not provide it, 409 when the trip has no footage
 *   left; already saved/saving is a 200 with a notice (safe to repeat). Logs `trip.save`.
 * - `POST /trips/:id/lock` (form `incident`, optional, else a new id) — evidence-locks every
 *   segment of the trip still in the ring (seed 002, `setEvidenceLocked`), logs
 *   `evidence.lock`; 409 when nothing is left to lock.
 * - `POST /trips/:id/unlock` — removes those evidence locks (incident tags stay, COALESCE);
 *   refused (409) while the trip is being saved or saved (Delete does that for a saved trip).
 *   Logs `evidence.unlock`.
 * - `POST /trips/:id/delete` — deletes a saved trip to make room, through the runtime
 *   (`actions.unsaveTrip`: the trip's actor drops its `trip-<id>` evidence locks and its
 *   `saved_trips` row, deletes legacy kept copies, and writes the status `closed`, or `open` for a
 *   trip still recording, which goes on unsaved; the journal records it); 409 unless saved, 503
 *   without the runtime action. Both this and unlock ask the runtime to re-check a full disk at once
 *   (`actions.recheckDisk`), so a camera stopped for a full card resumes by itself.
 * The POST routes answer htmx with the `#trip-actions` fragment and plain form posts with 303
 * back to the trip page. Non-numeric ids are 400, unknown ids 404.
 */
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { cameraSummaries, cameraSummary, gapEndsBetween, gapsInWindow, listTripsFiltered, segmentsInWindow, tripById, tripLocks, tripSegments, tripSegmentStats, type TripSummary } from "../../db/views.ts";
import { cameraByKey, listCameras } from "../../db/cameras.ts";
import { Timeline } from "../components/Timeline.tsx";
import { logEvent } from "../../db/eventLog.ts";
import { newIncidentId, setEvidenceLocked } from "../../db/locks.ts";
import { MAX_CLIP_MS } from "../../media/export.ts";
import { LiveTripBadge, TripItem, tripEnd } from "../components/Trips.tsx";
import { ExportForm, TripActions } from "../components/TripActions.tsx";
import { KeepBody } from "../components/Keep.tsx";
import { isHtmx, toHttpError, unavailable, userOf } from "../actions.ts";
import { tripThumbnail } from "../thumbs.ts";
import { fileDownload } from "../download.ts";
import { isAbsolute } from "node:path";
import { existsSync } from "node:fs";
import { keptFootage, lastSaveError, type KeptFootage } from "../../db/savedTrips.ts";
import { streamTripMp4, TripStreamsBusyError } from "../../media/tripMp4.ts";
import { CardFullNote } from "../components/Kept.tsx";
import { log } from "../../log.ts";
import { resolveInside } from "../../paths.ts";
import type { WebDeps } from "../env.ts";
import type { SaveSource } from "../../machines/supervisor.ts";
import { Player } from "../components/Player.tsx";
import { Pager } from "../components/Pager.tsx";
import { Time } from "../components/Time.tsx";
import { TripTimelapseForm } from "../components/Timelapse.tsx";
import { CsrfField } from "../auth/csrf.ts";
import { hasRole } from "../../db/users.ts";
import type { WebEnv } from "../env.ts";
import { dayOf, downloadName, formatBytes, formatDuration } from "../format.ts";
import { tzoOf } from "../download.ts";
import { buildPlaylist, PLAYLIST_TYPE } from "../hls.ts";
import { CameraKey, Day, Id, Page, TzOffset, unknownCamera, valid } from "../validate.ts";

export const TRIPS_PER_PAGE = 20;

/**
 * A trip is still growing until it has an end time, whatever its status: a trip saved while
 * recording is `saving`/`saved` with `end_time_utc` NULL (its new segments keep being locked and
 * it is checked again when it closes), so it gets an EVENT playlist without ENDLIST.
 */
export const tripIsOpen = (t: Pick<TripSummary, "end_time_utc">) => t.end_time_utc === null;

const IdParam = v.object({ id: Id });

const FootageQuery = v.object({
  page: v.optional(Page),
  camera: v.optional(v.union([v.literal(""), CameraKey])),
  day: v.optional(v.union([v.literal(""), Day])),
  tzo: v.optional(TzOffset),
  show: v.optional(v.picklist(["", "all", "saved", "incidents"], "must be all, saved or incidents")),
  kept: v.optional(v.picklist(["1"], "must be 1")),
});

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** "Mon 7 Dec 2026" for a YYYY-MM-DD day. */
const dayHeading = (day: string) => {
  const d = new Date(`${day}T12:00:00Z`);
  return `${WEEKDAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTH_NAMES[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
};

/** An incident id typed by a user: 1-64 of letters, digits, `_ . : -`. */
export const IncidentId = v.pipe(v.string(), v.trim(), v.regex(/^[A-Za-z0-9_.:-]{0,64}$/, "may contain only letters, digits and _ . : - (at most 64)"));
const LockForm = v.object({ incident: v.optional(IncidentId) });

function loadTrip(c: { var: WebEnv["Variables"] }, id: number): TripSummary {
  const trip = tripById(c.var.deps.db, id);
  if (!trip) throw new HTTPException(404, { message: `no trip ${id}` });
  return trip;
}

/**
 * Asks the runtime to save `trip` (shared by the page and the JSON API). Returns the notice to
 * show; throws 409 (no footage left, or the runtime refused), 503 (no saveTrip action).
 */
export async function requestSave(deps: WebDeps, trip: TripSummary, username: string, source: SaveSource): Promise<{ notice: string; accepted: boolean }> {
  if (trip.status === "saved") return { notice: "This drive is already kept.", accepted: false };
  if (trip.status === "saving") return { notice: "This drive is being kept.", accepted: false };
  if (trip.status === "evicted" || tripSegmentStats(deps.db, trip).n === 0)
    throw new HTTPException(409, { message: `trip ${trip.id} has no footage left (overwritten); there is nothing to keep` });
  const save = deps.actions?.saveTrip;
  if (!save) unavailable("Saving a trip", "saveTrip");
  try {
    await save(trip.id, source);
  } catch (err) {
    const reason = String((err as Error)?.message ?? err).slice(0, 300);
    logEvent(deps.db, {
      kind: "trip.save_failed",
      level: "warn",
      cameraId: trip.camera_id,
      message: `saving trip ${trip.id} (asked by ${username}) was refused: ${reason}`,
      data: { tripId: trip.id, user: username, source },
    });
    throw new HTTPException(409, { message: `cannot save trip ${trip.id}: ${reason}` });
  }
  logEvent(deps.db, {
    kind: "trip.save",
    cameraId: trip.camera_id,
    message: `${username} asked to save trip ${trip.id} (${source})`,
    data: { tripId: trip.id, user: username, source },
  });
  return { notice: "Keeping this drive: its footage is locked, so it is never overwritten until you delete it.", accepted: true };
}

/**
 * Absolute path of a legacy MP4 the migration kept for a saved trip, or null (the usual case:
 * the MP4 is made on the fly). A relative `mp4_path` must stay inside data_dir.
 */
export function savedMp4Path(dataDir: string, trip: Pick<TripSummary, "status" | "saved_mp4">): string | null {
  if (trip.status !== "saved" || !trip.saved_mp4 || !trip.saved_mp4.endsWith(".mp4")) return null;
  try {
    return isAbsolute(trip.saved_mp4) ? trip.saved_mp4 : resolveInside(dataDir, trip.saved_mp4);
  } catch {
    return null;
  }
}

/** What a saved (or saving) trip keeps, else null. */
export const keptOf = (db: WebDeps["db"], trip: TripSummary): KeptFootage | null =>
  trip.status === "saved" || trip.status === "saving" ? keptFootage(db, trip) : null;

/** True when a saved trip can be downloaded: something is kept (or a legacy MP4 is on disk). */
const hasSavedFile = (dataDir: string, trip: TripSummary, kept: KeptFootage | null) => {
  if (trip.status !== "saved") return false;
  const legacy = savedMp4Path(dataDir, trip);
  return (legacy !== null && existsSync(legacy)) || (kept !== null && kept.kept > 0);
};

/** True when a saved trip can be downloaded (`GET /trips/:id/saved.mp4`): what `hasSavedFile` says, with its kept footage looked up. */
export const savedDownloadReady = (db: WebDeps["db"], dataDir: string, trip: TripSummary): boolean => hasSavedFile(dataDir, trip, keptOf(db, trip));

/** The answer to a trip action: the `#trip-actions` fragment for htmx, else 303 to the trip page. */
function answer(c: Context<WebEnv>, tripId: number, extra: { notice?: string; error?: string } = {}) {
  if (!isHtmx(c)) return c.redirect(`/trips/${tripId}`, 303);
  const { db, actions } = c.var.deps;
  const trip = loadTrip(c, tripId);
  const kept = keptOf(db, trip);
  return c.html(
    <TripActions
      trip={trip}
      locks={tripLocks(db, trip)}
      user={c.var.user}
      csrf={c.var.csrfToken}
      canSave={Boolean(actions?.saveTrip)}
      savedFile={hasSavedFile(c.var.deps.dataDir, trip, kept)}
      kept={kept}
      saveError={kept ? null : lastSaveError(db, trip)}
      {...extra}
    />,
  );
}

export function tripRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/", valid("query", FootageQuery), (c) => {
    const { db } = c.var.deps;
    const q = c.req.valid("query");
    const page = q.page ?? 1;
    const tzo = q.tzo ?? 0;
    // kept=1: the kept list with Delete buttons (the "card full" message links here)
    const show = q.kept === "1" ? "saved" : q.show || "all";
    const operator = c.var.user ? hasRole(c.var.user.role, "operator") : false;
    const full = cameraSummaries(db).filter((s) => s.enabled && s.state === "disk_full");
    const cam = q.camera ? (cameraByKey(db, q.camera) ?? unknownCamera(q.camera)) : null;
    const dayFrom = q.day ? Date.parse(`${q.day}T00:00:00Z`) + tzo * 60_000 : undefined;
    const { rows, total } = listTripsFiltered(db, {
      cameraId: cam?.id,
      from: dayFrom,
      to: dayFrom === undefined ? undefined : dayFrom + 86_400_000,
      only: show === "all" ? undefined : show,
      limit: TRIPS_PER_PAGE,
      offset: (page - 1) * TRIPS_PER_PAGE,
    });
    const pages = Math.max(1, Math.ceil(total / TRIPS_PER_PAGE));
    const link = (over: { page?: number; show?: string; day?: string | null }) => {
      const p = new URLSearchParams();
      const day = over.day === undefined ? q.day : over.day;
      if (day) p.set("day", day);
      if (q.tzo !== undefined) p.set("tzo", String(q.tzo));
      const sh = over.show ?? show;
      if (sh !== "all") p.set("show", sh);
      if (cam) p.set("camera", cam.key);
      if (over.page && over.page > 1) p.set("page", String(over.page));
      const str = p.toString();
      return str ? `/trips?${str}` : "/trips";
    };
    const groups = new Map<string, TripSummary[]>();
    for (const t of rows) {
      const d = dayOf(t.start_time_utc, tzo);
      if (!groups.has(d)) groups.set(d, []);
      groups.get(d)!.push(t);
    }
    const SHOW_LABEL = { all: "All", saved: "Kept", incidents: "Incidents" } as const;
    // a chosen day also shows each camera's recordings as a timeline (spans play from their start)
    const dayTimelines =
      dayFrom === undefined
        ? []
        : (cam ? [cam] : listCameras(db))
            .map((x) => ({ cam: x, segments: segmentsInWindow(db, x.id, dayFrom, dayFrom + 86_400_000), gaps: gapsInWindow(db, x.id, dayFrom, dayFrom + 86_400_000) }))
            .filter((t) => t.segments.length > 0);
    return c.render(
      <>
        <h1>Footage{cam ? ` · ${cam.name}` : ""}</h1>
        {full.map((s) => (
          <CardFullNote cameraName={s.name} />
        ))}
        <form class="filters card" method="get" action="/trips" data-tz>
          <label>
            Day
            <input type="date" name="day" value={q.day ?? ""} />
          </label>
          <input type="hidden" name="tzo" value={String(tzo)} />
          {show !== "all" ? <input type="hidden" name="show" value={show} /> : null}
          {cam ? <input type="hidden" name="camera" value={cam.key} /> : null}
          <button type="submit">Show day</button>
          {q.day ? (
            <a class="button" href={link({ day: null })}>
              All days
            </a>
          ) : null}
        </form>
        <nav class="chips" aria-label="Which footage">
          {(["all", "saved", "incidents"] as const).map((k) => (
            <a class="button chip" href={link({ show: k, page: 1 })} aria-current={k === show ? "page" : undefined}>
              {SHOW_LABEL[k]}
            </a>
          ))}
        </nav>
        {dayFrom !== undefined
          ? dayTimelines.map((t) => (
              <section aria-label={`${t.cam.name} on this day`}>
                <h2 class="section">{t.cam.name}</h2>
                <Timeline from={dayFrom} to={dayFrom + 86_400_000} segments={t.segments} gaps={t.gaps} cameraKey={t.cam.key} />
              </section>
            ))
          : null}
        {show === "saved" ? (
          <p class="muted">Kept drives stay on the card until you delete them. Deleting one lets its footage be overwritten to make room.</p>
        ) : null}
        {rows.length === 0 ? (
          <p class="card">
            {total > 0
              ? `Nothing on page ${page} (there are ${pages}).`
              : show === "saved"
                ? "No kept drives" + (q.day ? " on this day." : " yet. Tap Save on the home screen to keep the current drive.")
                : show === "incidents"
                  ? "No incidents" + (q.day ? " on this day." : " yet.")
                  : "Nothing recorded" + (q.day ? " on this day." : " yet.")}
          </p>
        ) : null}
        {[...groups].map(([day, trips]) => (
          <section class="day" aria-label={dayHeading(day)}>
            <h2 class="section">{dayHeading(day)}</h2>
            <ul class="trips">
              {trips.map((t) => (
                <TripItem trip={t} kept={keptOf(db, t)}>
                  {show === "saved" && operator && t.status === "saved" ? (
                    <form
                      method="post"
                      action={`/trips/${t.id}/delete`}
                      class="action"
                      hx-post={`/trips/${t.id}/delete`}
                      hx-confirm="Delete this kept drive? Its footage is no longer kept and will be overwritten to make room."
                      hx-target="closest li"
                      hx-swap="outerHTML"
                    >
                      <CsrfField token={c.var.csrfToken} />
                      <input type="hidden" name="back" value="kept" />
                      <button type="submit" class="danger">
                        Delete
                      </button>
                    </form>
                  ) : null}
                </TripItem>
              ))}
            </ul>
          </section>
        ))}
        <Pager
          prev={page > 1 ? link({ page: Math.min(page - 1, pages) }) : null}
          next={page < pages ? link({ page: page + 1 }) : null}
          label={`page ${page} of ${pages} · ${total} drive${total === 1 ? "" : "s"}`}
        />
      </>,
      { title: "Footage", nav: "trips" },
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
    const kept = keptOf(db, trip);
    const camera = cameraSummary(db, trip.camera_key);
    return c.render(
      <>
        <p class="crumbs">
          <a href="/trips">Footage</a> › Drive
        </p>
        <div class="title-row">
          <h1>
            {trip.camera_name} · <Time ms={trip.start_time_utc} fmt="when" />
          </h1>
          <LiveTripBadge trip={trip} />
        </div>
        {camera && camera.enabled && camera.state === "disk_full" ? <CardFullNote cameraName={camera.name} /> : null}
        {stats.n > 0 ? (
          <Player src={`/trips/${trip.id}/playlist.m3u8`} start={c.req.valid("query").t ?? 0} player={c.req.valid("query").player} />
        ) : (
          <p class="card notice">All footage of this drive has been overwritten to make room for newer recordings.</p>
        )}
        <TripActions
          trip={trip}
          locks={tripLocks(db, trip)}
          user={c.var.user}
          csrf={c.var.csrfToken}
          canSave={Boolean(c.var.deps.actions?.saveTrip)}
          savedFile={hasSavedFile(c.var.deps.dataDir, trip, kept)}
          kept={kept}
          saveError={kept ? null : lastSaveError(db, trip)}
        />
        {stats.n > 0 && c.var.user && c.var.user.role !== "viewer" ? (
          <ExportForm
            cameraKey={trip.camera_key}
            from={trip.start_time_utc}
            to={Math.min(tripEnd(trip), trip.start_time_utc + MAX_CLIP_MS)}
            csrf={c.var.csrfToken}
            maxMs={MAX_CLIP_MS}
          />
        ) : null}
        {stats.n > 0 && c.var.user && c.var.user.role !== "viewer" && c.var.csrfToken ? <TripTimelapseForm tripId={trip.id} csrf={c.var.csrfToken} /> : null}
        <dl class="facts card">
          <dt>Camera</dt>
          <dd>
            <a href={`/cameras/${trip.camera_key}`}>{trip.camera_name}</a>
          </dd>
          <dt>Started</dt>
          <dd>
            <Time ms={trip.start_time_utc} />
          </dd>
          <dt>{open ? "Recorded until" : "Ended"}</dt>
          <dd>
            <Time ms={tripEnd(trip)} />
          </dd>
          <dt>Length</dt>
          <dd>
            {formatDuration(tripEnd(trip) - trip.start_time_utc)}
            {open ? " so far" : ""}
          </dd>
          <dt>Footage left</dt>
          <dd>
            {stats.n === expected ? "all of it" : stats.n === 0 ? "none" : `${Math.round((stats.n / Math.max(1, expected)) * 100)} %`} ·{" "}
            {formatBytes(stats.bytes)}
          </dd>
          {trip.saved_at_utc !== null ? (
            <>
              <dt>Kept</dt>
              <dd>
                <Time ms={trip.saved_at_utc} />
              </dd>
            </>
          ) : null}
          {trip.evicted_at_utc !== null ? (
            <>
              <dt>Overwritten</dt>
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
        </dl>
        {stats.n > 0 ? (
          <p class="action-row">
            <a class="button" href={`/cameras/${trip.camera_key}/snapshot.jpg?at=${trip.start_time_utc}`} target="_blank">
              Picture of the start (JPEG)
            </a>
          </p>
        ) : null}
      </>,
      { title: `Drive ${trip.id}`, nav: "trips" },
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

  app.get("/:id/thumb.jpg", valid("param", IdParam), async (c) => {
    const { db, dataDir } = c.var.deps;
    const id = c.req.valid("param").id;
    loadTrip(c, id);
    let path: string | null;
    try {
      path = await tripThumbnail(db, dataDir, id, c.var.gate);
    } catch (err) {
      toHttpError(err, `thumbnail of trip ${id}`);
    }
    if (!path) throw new HTTPException(404, { message: `trip ${id} has no footage left for a thumbnail` });
    return new Response(Bun.file(path), { headers: { "Content-Type": "image/jpeg", "Cache-Control": "private, max-age=86400" } });
  });

  app.get("/:id/keep", valid("param", IdParam), valid("query", v.object({ requested: v.optional(v.picklist(["1"], "must be 1")) })), (c) => {
    const trip = loadTrip(c, c.req.valid("param").id);
    c.header("Cache-Control", "no-store");
    return c.html(<KeepBody trip={trip} ready={savedDownloadReady(c.var.deps.db, c.var.deps.dataDir, trip)} requested={c.req.valid("query").requested === "1"} />);
  });

  app.get("/:id/saved.mp4", valid("param", IdParam), async (c) => {
    const { db, dataDir } = c.var.deps;
    const trip = loadTrip(c, c.req.valid("param").id);
    if (trip.status !== "saved") throw new HTTPException(404, { message: `trip ${trip.id} is not saved (yet)` });
    const name = downloadName(trip.camera_key, trip.start_time_utc, "mp4", tzoOf(c));
    const legacy = savedMp4Path(dataDir, trip);
    if (legacy && existsSync(legacy)) return fileDownload(c, legacy, name, "video/mp4");
    const headers = { "Content-Type": "video/mp4", "Content-Disposition": `attachment; filename="${name}"`, "Accept-Ranges": "none", "Cache-Control": "private, no-cache" };
    // HEAD runs this handler too and drops the body: answer without starting ffmpeg
    if (c.req.method === "HEAD") return new Response(null, { status: 200, headers });
    let mp4;
    try {
      mp4 = streamTripMp4(db, dataDir, trip);
    } catch (err) {
      if (err instanceof TripStreamsBusyError) throw new HTTPException(503, { message: err.message });
      toHttpError(err, `MP4 of trip ${trip.id}`);
    }
    if (!mp4) throw new HTTPException(404, { message: `trip ${trip.id} has no footage left` });
    log.info(`trip ${trip.id}: streaming its MP4 (${mp4.parts} segments, ${(mp4.durationMs / 1000).toFixed(1)} s) to ${userOf(c).username}`);
    return new Response(mp4.body, { status: 200, headers: { ...headers, "X-Content-Duration": (mp4.durationMs / 1000).toFixed(3) } });
  });

  app.post("/:id/save", valid("param", IdParam), async (c) => {
    const trip = loadTrip(c, c.req.valid("param").id);
    const { notice } = await requestSave(c.var.deps, trip, userOf(c).username, "ui");
    return answer(c, trip.id, { notice });
  });

  app.post("/:id/lock", valid("param", IdParam), valid("form", LockForm), (c) => {
    const { db } = c.var.deps;
    const trip = loadTrip(c, c.req.valid("param").id);
    const user = userOf(c);
    const incidentId = c.req.valid("form").incident || newIncidentId();
    const ids = tripSegments(db, trip).map((s) => s.id);
    if (ids.length === 0) throw new HTTPException(409, { message: `trip ${trip.id} has no footage left in the ring to lock` });
    const n = db.transaction(() => {
      const changed = setEvidenceLocked(db, ids, true, incidentId);
      logEvent(db, {
        kind: "evidence.lock",
        cameraId: trip.camera_id,
        message: `${user.username} evidence-locked trip ${trip.id} (${ids.length} segments, incident ${incidentId})`,
        data: { tripId: trip.id, incidentId, segments: ids.length, user: user.username },
      });
      return changed;
    })();
    return answer(c, trip.id, { notice: `Locked ${n} part${n === 1 ? "" : "s"} of this drive as evidence (incident ${incidentId}).` });
  });

  app.post("/:id/unlock", valid("param", IdParam), (c) => {
    const { db } = c.var.deps;
    const trip = loadTrip(c, c.req.valid("param").id);
    const user = userOf(c);
    if (trip.status === "saving") throw new HTTPException(409, { message: `trip ${trip.id} is being saved; its footage stays locked until the save is done` });
    // a saved trip's locks are what keeps it: "Delete saved trip" removes them and the saved row together
    if (trip.status === "saved") throw new HTTPException(409, { message: `trip ${trip.id} is saved; delete the saved trip to let the ring reclaim its footage` });
    const ids = tripSegments(db, trip)
      .filter((s) => s.evidence_locked)
      .map((s) => s.id);
    if (ids.length === 0) throw new HTTPException(409, { message: `trip ${trip.id} has no evidence-locked footage` });
    db.transaction(() => {
      setEvidenceLocked(db, ids, false);
      logEvent(db, {
        kind: "evidence.unlock",
        cameraId: trip.camera_id,
        message: `${user.username} removed the evidence lock of trip ${trip.id} (${ids.length} segments)`,
        data: { tripId: trip.id, segments: ids.length, user: user.username },
      });
    })();
    c.var.deps.actions?.recheckDisk?.();
    return answer(c, trip.id, { notice: `Unlocked ${ids.length} part${ids.length === 1 ? "" : "s"} of this drive; they may be overwritten again.` });
  });

  app.post("/:id/delete", valid("param", IdParam), valid("form", v.object({ back: v.optional(v.picklist(["kept"], "must be kept")) })), async (c) => {
    const { actions } = c.var.deps;
    const trip = loadTrip(c, c.req.valid("param").id);
    const user = userOf(c);
    if (trip.status !== "saved") throw new HTTPException(409, { message: `trip ${trip.id} is not saved (it is ${trip.status})` });
    // through the trip's actor, so its journal stays the record of the trip's status
    if (!actions?.unsaveTrip) unavailable("Deleting a saved trip", "unsaveTrip");
    try {
      await actions.unsaveTrip(trip.id, user.username);
    } catch (err) {
      if (err instanceof HTTPException) throw err;
      throw new HTTPException(409, { message: `cannot delete saved trip ${trip.id}: ${(err as Error).message}` });
    }
    c.var.deps.actions?.recheckDisk?.();
    const notice = tripIsOpen(trip)
      ? "Deleted this kept drive: it is no longer kept. It goes on recording, and its footage will be overwritten to make room."
      : "Deleted this kept drive: its footage is no longer kept and will be overwritten to make room.";
    if (c.req.valid("form").back === "kept") {
      if (isHtmx(c)) return c.html(<li class="trip-item notice">{notice}</li>);
      return c.redirect("/trips?kept=1", 303);
    }
    return answer(c, trip.id, { notice });
  });

  return app;
}
