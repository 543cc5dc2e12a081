/** @jsxImportSource hono/jsx */
/**
 * The home screen, laid out like a dashcam app:
 *
 * - `GET /` — big **Save** and **Incident** buttons at the top (one tap, operators), every
 *   camera with its picture (a recording camera's live view as a moving thumbnail, a
 *   timelapse-only camera's current picture) and its state in plain words (SSE `camera-tile-<key>`; a camera
 *   stopped for a full card says so, with the way to make room: the kept drives), the save
 *   button's status when `[gpio]` is configured, how full the storage is (SSE `disk`) and the
 *   latest drives.
 * - `POST /home/save` — keeps the current drive: each camera's open trip, or the newest trip
 *   when none is open (`currentTripIds`, the same choice as the GPIO button and
 *   `dashcam trips save --current`), through `requestSave` (runtime action `saveTrip`, source
 *   "ui"). Answers htmx with one `KeepNotice` per trip (they turn into "Saved: drive of 14 min,
 *   today 08:12" with a Download MP4 button over SSE), a plain form post with 303 to `/`.
 *   409 when there is nothing to save, 503 without the runtime action.
 * - `POST /home/incident` — marks an incident now on every enabled camera that has recorded
 *   something (`requestIncident`: N s before to M s after, evidence-locked, exported when
 *   recorded). Answers htmx with one `IncidentNotice` per camera (SSE `incident-<id>` turns it
 *   into a Download MP4 button), a plain post with 303 to `/`. 409 when no camera records.
 */
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { cameraSummaries, listTrips, tripById } from "../../db/views.ts";
import { currentTripIds } from "../../db/savedTrips.ts";
import { hasRole } from "../../db/users.ts";
import { CsrfField } from "../auth/csrf.ts";
import { CameraTile, cameraUseOf } from "../components/CameraTile.tsx";
import { DiskCard, diskInfo } from "../components/DiskCard.tsx";
import { GpioCard } from "../components/GpioCard.tsx";
import { IncidentNotice, KeepNotice } from "../components/Keep.tsx";
import { TripItem } from "../components/Trips.tsx";
import { HealthWarningsCard } from "../components/Health.tsx";
import { camerasWithWarnings } from "../../db/health.ts";
import { healthSettings } from "../../config.ts";
import type { WebEnv } from "../env.ts";
import { isHtmx, userOf } from "../actions.ts";
import { keptOf, requestSave, savedDownloadReady } from "./trips.tsx";
import { CardFullNote } from "../components/Kept.tsx";
import { requestIncident } from "./snapshots.tsx";

const isOperator = (c: Context<WebEnv>) => Boolean(c.var.user && hasRole(c.var.user.role, "operator"));

export function dashboardRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/", (c) => {
    const { db, dataDir, config, actions } = c.var.deps;
    const cameras = cameraSummaries(db);
    const trips = listTrips(db, { limit: 3, offset: 0 }).rows;
    const operator = isOperator(c);
    return c.render(
      <>
        <h1 class="visually-hidden">Home</h1>
        <section class="card big-actions" aria-label="Keep footage">
          {operator ? (
            <div class="big-buttons">
              <form method="post" action="/home/save" hx-post="/home/save" hx-target="#keep-result" hx-swap="afterbegin" hx-disabled-elt="find button">
                <CsrfField token={c.var.csrfToken} />
                <button type="submit" class="huge primary" id="save-button">
                  Save
                  <span class="sub">keeps this drive</span>
                </button>
              </form>
              <form method="post" action="/home/incident" hx-post="/home/incident" hx-target="#keep-result" hx-swap="afterbegin" hx-disabled-elt="find button">
                <CsrfField token={c.var.csrfToken} />
                <button type="submit" class="huge danger" id="incident-button">
                  Incident
                  <span class="sub">keeps the moments around now</span>
                </button>
              </form>
            </div>
          ) : (
            <p class="muted">Saving footage needs an operator account; you can watch everything.</p>
          )}
          <div id="keep-result" class="keep-result" aria-live="polite"></div>
        </section>
        {cameras
          .filter((cam) => cam.enabled && cam.state === "disk_full")
          .map((cam) => (
            <CardFullNote cameraName={cam.name} />
          ))}
        {cameras.length === 0 ? <p class="card">No cameras are set up. Add a [[cameras]] section to the config file.</p> : null}
        <div class="grid">
          {cameras.map((cam) => (
            <CameraTile cam={cam} use={cameraUseOf(config, cam.key)} />
          ))}
          {config.gpio ? <GpioCard gpio={actions?.gpioStatus?.() ?? null} settings={config.gpio} /> : null}
          <DiskCard disk={diskInfo(dataDir)} />
          {healthSettings(config).enabled ? <HealthWarningsCard cameras={camerasWithWarnings(db, Date.now() - 24 * 3600_000)} /> : null}
        </div>
        <h2 class="section">Latest drives</h2>
        {trips.length === 0 ? (
          <p class="muted">No drives yet.</p>
        ) : (
          <ul class="trips">
            {trips.map((t) => (
              <TripItem trip={t} kept={keptOf(db, t)} />
            ))}
          </ul>
        )}
        <p class="action-row">
          <a class="button" href="/trips">
            All footage
          </a>
          <a class="button" href="/my-footage">
            My footage
          </a>
        </p>
      </>,
      { title: "Home", nav: "dashboard" },
    );
  });

  app.post("/home/save", async (c) => {
    const deps = c.var.deps;
    const user = userOf(c);
    const ids = currentTripIds(deps.db);
    if (ids.length === 0) throw new HTTPException(409, { message: "Nothing to save yet: no drive has been recorded." });
    const notices = [];
    for (const id of ids) {
      const trip = tripById(deps.db, id);
      if (!trip) continue;
      let error: string | null = null;
      try {
        await requestSave(deps, trip, user.username, "ui");
      } catch (err) {
        // one camera's refusal must not hide the others' confirmations; a lone refusal is the answer
        if (ids.length === 1 || !(err instanceof HTTPException) || err.status === 503) throw err;
        error = err.message;
      }
      const now = tripById(deps.db, id) ?? trip;
      notices.push(<KeepNotice trip={now} ready={savedDownloadReady(deps.db, deps.dataDir, now)} error={error} />);
    }
    if (!isHtmx(c)) return c.redirect("/", 303);
    return c.html(<>{notices}</>);
  });

  app.post("/home/incident", async (c) => {
    const deps = c.var.deps;
    const user = userOf(c);
    const cameras = cameraSummaries(deps.db).filter((cam) => cam.enabled && cam.last_segment_at !== null);
    if (cameras.length === 0) throw new HTTPException(409, { message: "No camera has recorded anything yet, so there is nothing to keep." });
    const notices = [];
    for (const cam of cameras) {
      const r = await requestIncident(deps, { camera: cam.key }, user.username);
      notices.push(<IncidentNotice inc={{ ...r, cameraName: cam.name }} advanced={isOperator(c)} />);
    }
    if (!isHtmx(c)) return c.redirect("/", 303);
    return c.html(<>{notices}</>);
  });
  return app;
}
