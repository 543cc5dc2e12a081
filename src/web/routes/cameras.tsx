/** @jsxImportSource hono/jsx */
/**
 * Camera pages:
 * - `GET /cameras/:key` — the live view (on by default: the live MPEG-TS stream of
 *   routes/liveStream.ts, components/LivePlayer.tsx; a timelapse-only camera's current picture
 *   instead), the camera's state in words (live via SSE
 *   `camera-tile-<key>`), its actions, and the recordings of a window as a timeline with
 *   interruptions whose spans play from their start; "Later" never passes now. The recorder's
 *   details (ring use, newest segments) are on /diagnostics.
 *   Window: `?from=MS&to=MS` (at most 7 days), or `?day=YYYY-MM-DD[&tzo=MIN]` (a calendar
 *   day in the viewer's zone; `tzo` is `Date.getTimezoneOffset()`, default 0 = UTC), or
 *   `?at=MS` (the hour around that instant, marked on the timeline, with a link that plays the
 *   footage from that moment in its trip), else the 24 h up to now (or up to the camera's last
 *   segment when it is older than that).
 * - `GET /cameras/:key/play?at=MS` — 303 to the drive holding that moment, playing from it
 *   (`/trips/<id>?t=<seconds>`); 404 when nothing was recorded then.
 * - `GET /cameras/:key/live.m3u8` — sliding-window live HLS playlist of the newest segments (the
 *   live view's fallback for browsers without Media Source Extensions; minutes behind).
 * - "Snapshot now" opens `GET /cameras/:key/frame.jpg` (routes/liveStream.ts), the current frame.
 * - `GET /cameras/:key/card` — the camera card's body as an htmx fragment (the same markup the
 *   SSE stream pushes as `camera-<key>`), for a refresh after the live stream reconnects.
 * - `GET /cameras/:key/snapshot.jpg[?at=MS]` — a JPEG of the frame at `at`, or the newest
 *   keyframe (see routes/snapshots.tsx).
 * - `POST /cameras/:key/stop`, `POST /cameras/:key/start` (operator) — asks the runtime to stop
 *   the camera (its recorder finalises the current segment, its open trip closes with reason
 *   `camera_stopped`) or to start it again (`WebDeps.actions.stopCamera/startCamera`); 503 when
 *   the runtime does not provide them, 409 with the reason when it refuses (a disabled camera
 *   too). Logs `camera.stop` / `camera.start` with the user. htmx gets the `#camera-power`
 *   fragment, a plain form post 303 back to the camera page; the state itself arrives on the
 *   camera card over SSE.
 * The page also has the camera's actions for operators: save a snapshot (POST /snapshots),
 * mark an incident (POST /incidents), stop/start recording.
 * Unknown keys are 404, malformed ones 400.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import {
  cameraSummary,
  gapEndsBetween,
  gapsBefore,
  gapsInWindow,
  recentSegments,
  segmentAt,
  segmentsInWindow,
  tripPosition,
} from "../../db/views.ts";
import { cameraByKey } from "../../db/cameras.ts";
import { Time } from "../components/Time.tsx";
import { CameraCardBody } from "../components/CameraCard.tsx";
import { CameraPicture, CameraTile, cameraUseOf } from "../components/CameraTile.tsx";
import { LivePlayer } from "../components/LivePlayer.tsx";
import { Timeline } from "../components/Timeline.tsx";
import type { WebEnv } from "../env.ts";
import { buildPlaylist, PLAYLIST_TYPE } from "../hls.ts";
import { CameraKey, Day, Millis, TzOffset, unknownCamera, valid } from "../validate.ts";
import { CsrfField } from "../auth/csrf.ts";
import { hasRole } from "../../db/users.ts";
import { logEvent } from "../../db/eventLog.ts";
import { snapshotResponse } from "./snapshots.tsx";
import { CameraPower } from "../components/CameraPower.tsx";
import { CameraSettings } from "../components/CameraSettings.tsx";
import { isHtmx, unavailable, userOf } from "../actions.ts";
import { CameraInventory } from "./inventory.tsx";

const DAY_MS = 86_400_000;
const AT_HALF_WINDOW_MS = 30 * 60_000;
const MAX_WINDOW_MS = 7 * DAY_MS;
/** Segments in the live playlist (RFC 8216 6.2.2 asks for at least three target durations). */
export const LIVE_WINDOW = 6;

const KeyParam = v.object({ key: CameraKey });
const WindowQuery = v.object({
  day: v.optional(Day),
  tzo: v.optional(TzOffset),
  from: v.optional(Millis),
  to: v.optional(Millis),
  at: v.optional(Millis),
});

/** Resolves the requested window to [from, to) ms; throws 400 on an impossible one. */
export function resolveWindow(
  q: v.InferOutput<typeof WindowQuery>,
  lastSegmentAt: number | null,
  now = Date.now(),
): { from: number; to: number; day: string | null } {
  if (q.from !== undefined || q.to !== undefined) {
    if (q.from === undefined || q.to === undefined) throw new HTTPException(400, { message: "from, to: give both or neither" });
    if (q.to <= q.from) throw new HTTPException(400, { message: "to: must be after from" });
    if (q.to - q.from > MAX_WINDOW_MS) throw new HTTPException(400, { message: "to: window is longer than 7 days" });
    return { from: q.from, to: q.to, day: null };
  }
  if (q.at !== undefined) return { from: q.at - AT_HALF_WINDOW_MS, to: q.at + AT_HALF_WINDOW_MS, day: null };
  if (q.day !== undefined) {
    const from = Date.parse(`${q.day}T00:00:00Z`) + (q.tzo ?? 0) * 60_000;
    return { from, to: from + DAY_MS, day: q.day };
  }
  const to = lastSegmentAt !== null && lastSegmentAt < now - DAY_MS ? lastSegmentAt + 60_000 : now;
  return { from: to - DAY_MS, to, day: null };
}

export function cameraRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/", (c) => c.redirect("/", 302));

  app.get("/:key", valid("param", KeyParam), valid("query", WindowQuery), (c) => {
    const { db } = c.var.deps;
    const { key } = c.req.valid("param");
    const cam = cameraSummary(db, key) ?? unknownCamera(key);
    const query = c.req.valid("query");
    const win = resolveWindow(query, cam.last_segment_at);
    const at = query.at;
    const atSeg = at === undefined ? null : segmentAt(db, cam.id, at);
    const atTrip = atSeg ? tripPosition(db, atSeg) : null;
    const span = win.to - win.from;
    const segments = segmentsInWindow(db, cam.id, win.from, win.to);
    const gaps = gapsInWindow(db, cam.id, win.from, win.to);
    const hasFootage = cam.last_segment_at !== null;
    const use = cameraUseOf(c.var.deps.config, cam.key);
    const base = `/cameras/${cam.key}`;
    const operator = Boolean(c.var.user && hasRole(c.var.user.role, "operator"));
    const now = Date.now();
    // "Later" never goes past now (a window ending within the last minute is the newest)
    const later = win.to < now - 60_000 ? { from: win.to, to: Math.min(win.to + span, now) } : null;
    return c.render(
      <>
        <p class="crumbs">
          <a href="/">Home</a> › {cam.name}
        </p>
        <h1>{cam.name}</h1>
        {use.kind === "video" ? (
          <section class="card live" id="live-view">
            <LivePlayer cameraKey={cam.key} label={`Live view of ${cam.name}`} />
          </section>
        ) : use.kind === "timelapse" ? (
          <section class="card live" id="current-picture">
            <CameraPicture cam={cam} use={use} />
          </section>
        ) : null}
        <CameraTile cam={cam} use={use} picture={false} />
        {cam.enabled || hasFootage || operator ? (
          <section class="card actions" id="camera-actions">
            <div class="action-row">
              {cam.enabled ? (
                <a class="button big" href={`${base}/frame.jpg`} target="_blank">
                  Picture now
                </a>
              ) : null}
              {operator && hasFootage ? (
                <>
                  <form method="post" action="/snapshots" hx-post="/snapshots" hx-target="#camera-action-result" hx-swap="afterbegin" class="action">
                    <CsrfField token={c.var.csrfToken} />
                    <input type="hidden" name="camera" value={cam.key} />
                    <button type="submit" class="big">
                      Save picture
                    </button>
                  </form>
                  <form method="post" action="/incidents" hx-post="/incidents" hx-target="#camera-action-result" hx-swap="afterbegin" class="action">
                    <CsrfField token={c.var.csrfToken} />
                    <input type="hidden" name="camera" value={cam.key} />
                    <button type="submit" class="big danger">
                      Incident
                    </button>
                  </form>
                </>
              ) : null}
            </div>
            {operator && c.var.deps.actions?.stopCamera ? (
              <CameraPower cameraKey={cam.key} state={cam.enabled ? cam.state : "disabled"} enabled={Boolean(cam.enabled)} csrf={c.var.csrfToken} />
            ) : null}
            <div id="camera-action-result"></div>
          </section>
        ) : null}
        {use.kind === "timelapse" && !hasFootage ? (
          // a timelapse-only camera has no video to browse: say where its pictures are instead
          <section class="card" id="timelapse-pictures">
            <h2>Pictures</h2>
            <p>This camera records no video. Its pictures and timelapse videos are on the Timelapses page.</p>
            <p>
              <a class="button primary" href={`/timelapses#timelapse-camera-${cam.key}`}>
                Timelapses
              </a>
            </p>
          </section>
        ) : (
          <>
            <h2 class="section">Recordings</h2>
            <form class="window-form" method="get" action={base} data-tz>
              <label>
                Day <input type="date" name="day" value={win.day ?? new Date(win.to - 1).toISOString().slice(0, 10)} required />
              </label>
              <input type="hidden" name="tzo" value="0" />
              <button type="submit">Show</button>
            </form>
            <nav class="pager" aria-label="Move in time">
              <a class="button" href={`${base}?from=${win.from - span}&to=${win.from}`}>
                ← Earlier
              </a>
              <a class="button" href={base}>
                Last 24 h
              </a>
              {later ? (
                <a class="button" href={`${base}?from=${later.from}&to=${later.to}`}>
                  Later →
                </a>
              ) : (
                <span class="button disabled" aria-disabled="true">
                  Later →
                </span>
              )}
            </nav>
            {at !== undefined ? (
              <section class="card at" id="at">
                <h2>
                  Footage at <Time ms={at} />
                </h2>
                {atSeg ? (
                  <p>
                    {atTrip ? (
                      <a class="button primary" href={`/trips/${atTrip.tripId}?t=${((atTrip.offsetMs + at - atSeg.start_utc) / 1000).toFixed(1)}`}>
                        Play from this moment
                      </a>
                    ) : null}{" "}
                    <a class="button" href={`${base}/snapshot.jpg?at=${at}`} target="_blank">
                      Picture (JPEG)
                    </a>
                  </p>
                ) : (
                  <p class="muted">Nothing recorded at this moment (not recorded, or already overwritten).</p>
                )}
              </section>
            ) : null}
            <Timeline from={win.from} to={win.to} segments={segments} gaps={gaps} cameraKey={cam.key} marker={at} />
          </>
        )}
        <CameraSettings deps={c.var.deps} cameraKey={cam.key} operator={operator} csrf={c.var.csrfToken} />
        <p class="action-row">
          <a class="button" href={`/trips?camera=${cam.key}`}>
            Drives of this camera
          </a>
          <a class="button" href={`/events?camera=${cam.key}`}>
            Events
          </a>{" "}
          <a class="button" href={`/cameras/${cam.key}/health`}>
            Health
          </a>
        </p>
        <CameraInventory c={c} cameraId={cam.id} cameraKey={cam.key} />
      </>,
      { title: cam.name, nav: "dashboard" },
    );
  });

  /** Stop / start recording (see the module comment). */
  for (const verb of ["stop", "start"] as const) {
    app.post(`/:key/${verb}`, valid("param", KeyParam), async (c) => {
      const { db, actions } = c.var.deps;
      const { key } = c.req.valid("param");
      const cam = cameraSummary(db, key) ?? unknownCamera(key);
      const user = userOf(c);
      if (!cam.enabled) throw new HTTPException(409, { message: `camera "${key}" is disabled in the configuration; enable it there to record` });
      const act = verb === "stop" ? actions?.stopCamera : actions?.startCamera;
      if (!act) unavailable(verb === "stop" ? "Stopping a camera" : "Starting a camera", verb === "stop" ? "stopCamera" : "startCamera");
      try {
        await act(cam.key);
      } catch (err) {
        throw new HTTPException(409, { message: `cannot ${verb} camera "${key}": ${String((err as Error)?.message ?? err).slice(0, 300)}` });
      }
      logEvent(db, {
        kind: `camera.${verb}`,
        cameraId: cam.id,
        message: `${user.username} ${verb === "stop" ? "stopped" : "started"} camera ${cam.key}`,
        data: { user: user.username },
      });
      if (!isHtmx(c)) return c.redirect(`/cameras/${cam.key}`, 303);
      const notice =
        verb === "stop"
          ? "Stopping: the current segment is finished and the open trip closes. The card above shows when it has stopped."
          : "Starting: the card above shows when it records again.";
      return c.html(
        <CameraPower cameraKey={cam.key} state={verb === "stop" ? "stopped" : "starting"} enabled csrf={c.var.csrfToken} notice={notice} />,
      );
    });
  }

  /** `GET /cameras/:key/play?at=MS`: 303 to the drive holding that moment, playing from it (404 when nothing is recorded then). */
  app.get("/:key/play", valid("param", KeyParam), valid("query", v.object({ at: Millis })), (c) => {
    const { db } = c.var.deps;
    const { key } = c.req.valid("param");
    const cam = cameraByKey(db, key) ?? unknownCamera(key);
    const at = c.req.valid("query").at;
    const seg = segmentAt(db, cam.id, at);
    const pos = seg ? tripPosition(db, seg) : null;
    if (!seg || !pos) throw new HTTPException(404, { message: `nothing recorded on ${cam.name} at ${new Date(at).toISOString()}` });
    const t = (pos.offsetMs + Math.max(0, Math.min(at, seg.end_utc) - seg.start_utc)) / 1000;
    return c.redirect(`/trips/${pos.tripId}?t=${t.toFixed(1)}`, 303);
  });

  app.get("/:key/card", valid("param", KeyParam), (c) => {
    const { key } = c.req.valid("param");
    const cam = cameraSummary(c.var.deps.db, key) ?? unknownCamera(key);
    c.header("Cache-Control", "no-store");
    return c.html(<CameraCardBody cam={cam} />);
  });

  app.get("/:key/snapshot.jpg", valid("param", KeyParam), valid("query", v.object({ at: v.optional(Millis) })), (c) =>
    snapshotResponse(c, c.req.valid("param").key, c.req.valid("query").at),
  );

  app.get("/:key/live.m3u8", valid("param", KeyParam), (c) => {
    const { db } = c.var.deps;
    const { key } = c.req.valid("param");
    const cam = cameraByKey(db, key) ?? unknownCamera(key);
    const segments = recentSegments(db, cam.id, LIVE_WINDOW).reverse();
    if (segments.length === 0) throw new HTTPException(404, { message: `camera "${key}" has no segments yet` });
    const first = segments[0];
    const body = buildPlaylist({
      kind: "live",
      segments,
      uri: (s) => `/media/${cam.key}/${s.absolute_index}.ts`,
      gapEnds: gapEndsBetween(db, cam.id, first.start_utc + 1, segments[segments.length - 1].start_utc),
      discontinuitySequence: gapsBefore(db, cam.id, first.start_utc),
    });
    return c.body(body, 200, { "Content-Type": PLAYLIST_TYPE, "Cache-Control": "no-cache" });
  });

  return app;
}
