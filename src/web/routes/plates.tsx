/** @jsxImportSource hono/jsx */
/**
 * Plates (ALPR, seed 001 `vehicles`): search, snapshots, watchlist. Mounted at `/plates`.
 *
 *   GET  /plates?q=TEXT&mode=exact|prefix|fuzzy&camera=KEY&from=YYYY-MM-DD&to=YYYY-MM-DD&tzo=MIN&page=N
 *        vehicle passes, newest first, 30 per page, each with its snapshot and a link to the
 *        footage (`/cameras/<key>?at=<ts>`); pipeline counters (backlog, skipped frames,
 *        failures); the watchlist and its recent alerts. `from`/`to` are calendar days,
 *        inclusive, in the viewer's zone when `tzo` (minutes, as Date.getTimezoneOffset) is
 *        given, else UTC. Fuzzy = the plate or any plate one edit away.
 *   GET  /plates/snapshot/:id.jpg   the snapshot of vehicles row `id` (the path comes from the
 *        row, never from the request)
 *   POST /plates/watchlist          form `plate`, `note`: add (or update the note of) a plate
 *   POST /plates/watchlist/:id/delete   remove a plate
 * The POST routes answer an htmx request with the watchlist fragment and a plain form post with
 * 303 to /plates. Bad input is a 400 naming the field. Needs permission-table rules for the two
 * POST routes (operator).
 */
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { FC } from "hono/jsx";
import * as v from "valibot";
import { pipelineStatus } from "../../db/alprStatus.ts";
import { getVehicle, searchVehicles, type VehicleRow } from "../../db/vehicles.ts";
import { addWatch, listWatchlist, recentWatchAlerts, removeWatch, type WatchEntry } from "../../db/watchlist.ts";
import { cameraByKey, listCameras } from "../../db/cameras.ts";
import { resolveInside } from "../../paths.ts";
import { normalizePlate } from "../../plateText.ts";
import { Pager } from "../components/Pager.tsx";
import { Time } from "../components/Time.tsx";
import type { WebEnv } from "../env.ts";
import { CameraKey, Day, Id, Page, TzOffset, unknownCamera, valid } from "../validate.ts";
import type { SessionUser } from "../auth/middleware.ts";
import { hasRole } from "../../db/users.ts";
import { CameraSelect } from "../components/CameraSelect.tsx";

export const PLATES_PER_PAGE = 30;

const PlateText = v.pipe(
  v.string(),
  v.maxLength(32, "is too long (at most 32 characters)"),
  v.regex(/^[A-Za-z0-9 .\-]*$/, "may contain only letters, digits, spaces, dots and dashes"),
);

const SearchQuery = v.object({
  q: v.optional(PlateText),
  mode: v.optional(v.picklist(["", "exact", "prefix", "fuzzy"], "must be exact, prefix or fuzzy")),
  camera: v.optional(v.union([v.literal(""), CameraKey])),
  from: v.optional(v.union([v.literal(""), Day])),
  to: v.optional(v.union([v.literal(""), Day])),
  tzo: v.optional(TzOffset),
  page: v.optional(Page),
});

const WatchForm = v.object({
  plate: v.pipe(PlateText, v.check((s) => normalizePlate(s).length >= 2, "must have at least 2 letters or digits")),
  note: v.optional(v.pipe(v.string(), v.maxLength(200, "is too long (at most 200 characters)"))),
});

const SnapshotParam = v.object({ file: v.pipe(v.string(), v.regex(/^\d{1,15}\.jpg$/, "must be <id>.jpg")) });

/** Start of calendar day `day` (YYYY-MM-DD) in a zone `tzo` minutes behind UTC, ms UTC. */
export function dayStart(day: string, tzo = 0): number {
  return Date.parse(`${day}T00:00:00Z`) + tzo * 60_000;
}

function csrfToken(c: Context): string | undefined {
  return (c.var as { csrfToken?: string }).csrfToken;
}

/** Whether the session may change the watchlist (operator or admin). */
function canEdit(c: Context): boolean {
  const user = (c.var as { user?: SessionUser | null }).user;
  return Boolean(user && hasRole(user.role, "operator"));
}

const CsrfInput: FC<{ token?: string }> = ({ token }) => (token ? <input type="hidden" name="_csrf" value={token} /> : null);

/** One vehicle pass: snapshot, plate, confidence, camera, time, footage link. */
export const PlateItem: FC<{ v: VehicleRow }> = ({ v }) => (
  <li class="card plate-item">
    {v.snapshot_path ? (
      <a href={`/plates/snapshot/${v.id}.jpg`}>
        <img class="plate-snap" src={`/plates/snapshot/${v.id}.jpg`} alt={`vehicle with plate ${v.final_plate}`} loading="lazy" width="320" />
      </a>
    ) : (
      <p class="muted">no snapshot</p>
    )}
    <dl class="facts">
      <dt>Plate</dt>
      <dd>
        <strong class="plate-text">{v.final_plate}</strong> <span class="muted">{Math.round(v.plate_confidence * 100)} %</span>
      </dd>
      <dt>Seen</dt>
      <dd>
        <Time ms={v.ts} />
      </dd>
      <dt>Camera</dt>
      <dd>{v.camera_name ?? v.camera_key ?? "–"}</dd>
      <dt>Footage</dt>
      <dd>
        {v.camera_key ? (
          <a class="button" href={`/cameras/${v.camera_key}?at=${v.ts}`}>
            Watch
          </a>
        ) : (
          <span class="muted">camera removed</span>
        )}
      </dd>
    </dl>
  </li>
);

/**
 * The watchlist card (an htmx fragment: add/remove swap it in place). The add/remove forms are
 * shown only when `canEdit` (operators and admins; the routes refuse viewers with 403 anyway).
 */
export const Watchlist: FC<{ entries: WatchEntry[]; token?: string; message?: string; canEdit?: boolean }> = ({ entries, token, message, canEdit = false }) => (
  <section class="card" id="watchlist">
    <h2>Watchlist</h2>
    {message ? <p class="notice">{message}</p> : null}
    {entries.length === 0 ? <p class="muted">No plates watched.</p> : null}
    <ul class="watchlist">
      {entries.map((w) => (
        <li>
          <strong class="plate-text">{w.plate}</strong> {w.note ? <span class="muted">{w.note}</span> : null}
          {canEdit ? (
          <form method="post" action={`/plates/watchlist/${w.id}/delete`} hx-post={`/plates/watchlist/${w.id}/delete`} hx-target="#watchlist" hx-swap="outerHTML">
            <CsrfInput token={token} />
            <button type="submit" aria-label={`stop watching ${w.plate}`}>
              Remove
            </button>
          </form>
          ) : null}
        </li>
      ))}
    </ul>
    {canEdit ? (
    <form class="filters" method="post" action="/plates/watchlist" hx-post="/plates/watchlist" hx-target="#watchlist" hx-swap="outerHTML">
      <CsrfInput token={token} />
      <label>
        Plate
        <input name="plate" required maxlength={32} pattern="[A-Za-z0-9 .\-]+" autocomplete="off" />
      </label>
      <label>
        Note
        <input name="note" maxlength={200} />
      </label>
      <button type="submit">Watch</button>
    </form>
    ) : (
      <p class="muted">Adding or removing plates needs an operator.</p>
    )}
  </section>
);

/** The `/plates` sub-app (see the module comment). */
export function platesRoutes() {
  const app = new Hono<WebEnv>();
  const deps = (c: Context<WebEnv>) => c.var.deps;

  app.get("/", valid("query", SearchQuery), (c) => {
    const { db } = deps(c);
    const q = c.req.valid("query");
    const text = normalizePlate(q.q ?? "");
    const mode = q.mode || "exact";
    let cameraId: number | null = null;
    if (q.camera) {
      const cam = cameraByKey(db, q.camera);
      if (!cam) unknownCamera(q.camera);
      cameraId = cam.id;
    }
    const tzo = q.tzo ?? 0;
    const from = q.from ? dayStart(q.from, tzo) : null;
    const to = q.to ? dayStart(q.to, tzo) + 86_400_000 : null;
    if (from !== null && to !== null && to <= from) throw new HTTPException(400, { message: "to: must not be before from" });
    const page = q.page ?? 1;
    const { rows, total } = searchVehicles(db, { text, mode, cameraId, from, to, limit: PLATES_PER_PAGE, offset: (page - 1) * PLATES_PER_PAGE });
    const status = pipelineStatus(db);
    // absent [alpr] section or enabled = false: say so instead of showing counters that never move
    const alprOn = c.var.deps?.config?.alpr?.enabled === true;
    const cameras = listCameras(db).map(({ key, name }) => ({ key, name }));
    const params = new URLSearchParams();
    if (q.q) params.set("q", q.q);
    if (q.mode) params.set("mode", q.mode);
    if (q.camera) params.set("camera", q.camera);
    if (q.from) params.set("from", q.from);
    if (q.to) params.set("to", q.to);
    if (q.tzo !== undefined) params.set("tzo", String(q.tzo));
    const link = (p: number) => {
      const s = new URLSearchParams(params);
      if (p > 1) s.set("page", String(p));
      const str = s.toString();
      return str ? `/plates?${str}` : "/plates";
    };
    const pages = Math.max(1, Math.ceil(total / PLATES_PER_PAGE));
    const alerts = recentWatchAlerts(db);
    return c.render(
      <>
        <h1>Plates</h1>
        {alprOn ? (
          <section class="card" id="alpr-status">
            <dl class="facts">
              <dt>Vehicles seen</dt>
              <dd>{status.vehicles}</dd>
              <dt>Waiting</dt>
              <dd>
                {status.backlog} picture{status.backlog === 1 ? "" : "s"} to read{status.failed ? `, ${status.failed} to retry` : ""}
              </dd>
              <dt>Skipped</dt>
              <dd>
                {status.skippedFrames} picture{status.skippedFrames === 1 ? "" : "s"}
                {status.skippedFrames ? <span class="muted"> (plate reading fell behind; recording was not slowed)</span> : null}
              </dd>
              <dt>Failed</dt>
              <dd>{status.failedTasks}</dd>
            </dl>
          </section>
        ) : (
          <section class="card notice" id="alpr-status">
            <h2>Plate reading is off</h2>
            <p>
              The dashcam does not read number plates right now{status.vehicles > 0 ? "; the plates read earlier can still be searched below" : ""}. To
              turn it on, add this to the config file and restart the dashcam:
            </p>
            <pre class="config-snippet">
              <code>{"[alpr]\nenabled = true"}</code>
            </pre>
          </section>
        )}
        <form class="filters card" method="get" action="/plates">
          <label>
            Plate
            <input name="q" value={q.q ?? ""} maxlength={32} autocomplete="off" />
          </label>
          <label>
            Match
            <select name="mode">
              {(["exact", "prefix", "fuzzy"] as const).map((m) => (
                <option value={m} selected={m === mode}>
                  {m === "fuzzy" ? "one edit away" : m}
                </option>
              ))}
            </select>
          </label>
          <CameraSelect cameras={cameras} selected={q.camera} />
          <label>
            From
            <input type="date" name="from" value={q.from ?? ""} />
          </label>
          <label>
            To
            <input type="date" name="to" value={q.to ?? ""} />
          </label>
          <button type="submit">Search</button>
        </form>
        <p class="muted" id="plates-count">
          {total} vehicle pass{total === 1 ? "" : "es"}
          {text ? ` matching ${text} (${mode})` : ""}
        </p>
        <ul class="grid plates">
          {rows.map((row) => (
            <PlateItem v={row} />
          ))}
        </ul>
        <Pager prev={page > 1 ? link(page - 1) : null} next={page < pages ? link(page + 1) : null} label={`page ${page} of ${pages}`} />
        <Watchlist entries={listWatchlist(db)} token={csrfToken(c)} canEdit={canEdit(c)} />
        <section class="card" id="plate-alerts">
          <h2>Watchlist alerts</h2>
          {alerts.length === 0 ? <p class="muted">None yet.</p> : null}
          <ol class="events">
            {alerts.map((a) => (
              <li class="event">
                <Time ms={a.at} /> {a.message}
              </li>
            ))}
          </ol>
        </section>
      </>,
      { title: "Plates", nav: "plates" },
    );
  });

  app.get("/snapshot/:file", valid("param", SnapshotParam), async (c) => {
    const { db, dataDir } = deps(c);
    const id = Number(c.req.valid("param").file.slice(0, -4));
    const row = getVehicle(db, id);
    if (!row) throw new HTTPException(404, { message: `no vehicle ${id}` });
    if (!row.snapshot_path) throw new HTTPException(404, { message: `vehicle ${id} has no snapshot` });
    let path: string;
    try {
      path = resolveInside(dataDir, row.snapshot_path);
    } catch {
      throw new HTTPException(404, { message: `snapshot of vehicle ${id} is not in the data directory` });
    }
    const file = Bun.file(path);
    if (!(await file.exists())) throw new HTTPException(404, { message: `snapshot of vehicle ${id} is gone` });
    return new Response(file, { headers: { "Content-Type": "image/jpeg", "Cache-Control": "private, max-age=86400" } });
  });

  const answer = (c: Context<WebEnv>, message?: string) => {
    if (c.req.header("HX-Request") === "true")
      return c.html(<Watchlist entries={listWatchlist(deps(c).db)} token={csrfToken(c)} message={message} canEdit={canEdit(c)} />);
    return c.redirect("/plates", 303);
  };

  app.post("/watchlist", valid("form", WatchForm), (c) => {
    const f = c.req.valid("form");
    const plate = normalizePlate(f.plate);
    addWatch(deps(c).db, plate, f.note?.trim() || null);
    return answer(c, `Watching ${plate}.`);
  });

  app.post("/watchlist/:id/delete", valid("param", v.object({ id: Id })), (c) => {
    const id = c.req.valid("param").id;
    if (!removeWatch(deps(c).db, id)) throw new HTTPException(404, { message: `no watchlist entry ${id}` });
    return answer(c, "Removed.");
  });

  return app;
}
