/** @jsxImportSource hono/jsx */
/**
 * Timelapses (mounted at `/timelapses`; seed 004 batches, rendered by the runtime's batch actors):
 *
 * - `GET /timelapses` — per camera that captures timelapse images or has batches: its image
 *   count and newest capture, "Checkpoint now", a form for a new manual batch (time range,
 *   frame rate, day counter on/off), and its batches newest first (poster, status, live
 *   progress over SSE, player, download, delete).
 * - `POST /timelapses` (form: `camera`, `from_date` + `from_time`, `to_date` + `to_time` (24 h;
 *   or one `from`/`to` value each), `tzo` or `from_day`, `to_day` (day numbers,
 *   used when both are given), `frame_rate`, `overlay`) — a manual batch (RuntimeActions.createTimelapse); htmx gets the new card (201), a plain post a 303.
 *   400 for bad input or a range without images, 404 for an unknown camera.
 * - `POST /timelapses/cameras/:key/checkpoint` — keeps a copy of the continuous video now.
 * - `GET /timelapses/:id` — the batch card (htmx fragment) or a page with it.
 * - `GET /timelapses/:id/video.mp4` — the video (Range supported; `?download=1` as attachment).
 * - `GET /timelapses/:id/poster.jpg` — the batch's last image.
 * - `POST /timelapses/:id/delete` — cancels a render under way and deletes the batch and video.
 *
 * `tripTimelapseRoutes` (mounted at `/trips` beside the trips sub-app):
 * - `POST /trips/:id/timelapse` (form: `every_seconds`, `frame_rate`) — "Make a timelapse" of a
 *   trip's footage in the ring (RuntimeActions.tripTimelapse): checked at once (400 bad step or
 *   too many frames, 404 unknown trip, 409 no footage left), the frames are taken in the
 *   background; answers 202 with a note linking the Timelapses page (htmx) or a 303 to it.
 */
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { join } from "node:path";
import { cameraByKey, listCameras } from "../../db/cameras.ts";
import { hasRole } from "../../db/users.ts";
import { batchById, batchPosterImage, imageCount, latestImage, listBatches, type BatchListRow } from "../../db/timelapse.ts";
import { TimelapseRequestError } from "../../media/timelapse.ts";
import { BatchCard } from "../components/Timelapse.tsx";
import { liveSharesOfBatches } from "../../db/shares.ts";
import { Time } from "../components/Time.tsx";
import { DateTimeInput } from "../components/DateTime.tsx";
import { CsrfField } from "../auth/csrf.ts";
import type { WebEnv } from "../env.ts";
import { isHtmx, unavailable } from "../actions.ts";
import { CameraKey, Id, TzOffset, formTime, unknownCamera, valid } from "../validate.ts";
import { fileDownload } from "../download.ts";

const DayNumber = v.pipe(v.string(), v.regex(/^\d{1,6}$/, "must be a day number"), v.transform(Number), v.minValue(1));
const NewBatchForm = v.object({
  camera: CameraKey,
  from: v.optional(v.string()),
  to: v.optional(v.string()),
  from_date: v.optional(v.string()),
  from_time: v.optional(v.string()),
  to_date: v.optional(v.string()),
  to_time: v.optional(v.string()),
  from_day: v.optional(v.union([v.literal(""), DayNumber])),
  to_day: v.optional(v.union([v.literal(""), DayNumber])),
  tzo: v.optional(TzOffset),
  frame_rate: v.optional(v.pipe(v.string(), v.regex(/^\d{1,3}$/, "must be a whole number"), v.transform(Number), v.minValue(1), v.maxValue(120)), "30"),
  overlay: v.optional(v.picklist(["on", "1", "true"])),
  _csrf: v.optional(v.string()),
});

const IdParam = v.object({ id: Id });
const KeyParam = v.object({ key: CameraKey });

const canEdit = (c: Context<WebEnv>) => (c.var.user ? hasRole(c.var.user.role, "operator") : false);

function loadBatch(c: Context<WebEnv>, id: number): BatchListRow {
  const b = batchById(c.var.deps.db, id);
  if (!b) throw new HTTPException(404, { message: `no timelapse ${id}` });
  return b;
}

/** Frames done of a batch: its progress while rendering, all when completed. */
function framesDoneOf(c: Context<WebEnv>, b: BatchListRow): number | null {
  if (b.status === "completed") return b.total_frames;
  return c.var.deps.renderProgress?.get(b.id)?.framesDone ?? null;
}

const requestError = (err: unknown): never => {
  if (err instanceof TimelapseRequestError) throw new HTTPException(/^no camera/.test(err.message) ? 404 : 400, { message: err.message });
  throw err;
};

export function timelapseRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/", (c) => {
    const { db, config } = c.var.deps;
    const configured = new Map(config.cameras.map((cam) => [cam.key, cam]));
    const batches = listBatches(db, undefined, 500);
    const shared = liveSharesOfBatches(db);
    const edit = canEdit(c);
    const csrf = c.var.csrfToken;
    const cams = listCameras(db).filter((cam) => configured.get(cam.key)?.timelapse?.interval_seconds || batches.some((b) => b.camera_id === cam.id) || imageCount(db, cam.id) > 0);
    const now = Date.now();
    return c.render(
      <>
        <h1>Timelapses</h1>
        {cams.length === 0 ? <p class="card">No camera captures timelapse images. Add a [cameras.timelapse] table with interval_seconds to the config.</p> : null}
        {cams.map((cam) => {
          const tl = configured.get(cam.key)?.timelapse;
          const latest = latestImage(db, cam.id);
          const mine = batches.filter((b) => b.camera_id === cam.id);
          return (
            <section class="timelapse-camera" id={`timelapse-camera-${cam.key}`}>
              <h2 class="section">{cam.name}</h2>
              <p class="muted">
                {imageCount(db, cam.id)} images
                {tl?.interval_seconds ? ` · every ${tl.interval_seconds} s` : " · not capturing"}
                {tl ? ` · ${tl.generation_mode.replace("_", " ")}` : ""}
                {latest ? (
                  <>
                    {" · newest "}
                    <Time ms={latest.captured_at} />
                  </>
                ) : null}
              </p>
              {edit && csrf ? (
                <details class="card">
                  <summary>New timelapse</summary>
                  <form method="post" action="/timelapses" hx-post="/timelapses" hx-target={`#batches-${cam.key}`} hx-swap="afterbegin" data-tz class="stack">
                    <CsrfField token={csrf} />
                    <input type="hidden" name="camera" value={cam.key} />
                    <input type="hidden" name="tzo" value="0" />
                    <DateTimeInput name="from" label="From" ms={now - 86_400_000} required={false} />
                    <DateTimeInput name="to" label="To" ms={now} required={false} />
                    {tl?.day_counter_start ? (
                      <label>
                        or days <input type="number" name="from_day" min="1" inputmode="numeric" placeholder="first" /> to{" "}
                        <input type="number" name="to_day" min="1" inputmode="numeric" placeholder="last" />
                      </label>
                    ) : null}
                    <label>
                      Frame rate <input type="number" name="frame_rate" min="1" max="120" value={String(tl?.frame_rate ?? 30)} inputmode="numeric" />
                    </label>
                    <label>
                      <input type="checkbox" name="overlay" value="on" checked={tl?.day_counter_start !== undefined} /> Day counter
                    </label>
                    <button type="submit" class="primary">
                      Make timelapse
                    </button>
                  </form>
                </details>
              ) : null}
              {edit && csrf && mine.some((b) => b.batch_type === "continuous" && b.output_path) ? (
                <form method="post" action={`/timelapses/cameras/${cam.key}/checkpoint`} hx-post={`/timelapses/cameras/${cam.key}/checkpoint`} hx-target={`#batches-${cam.key}`} hx-swap="afterbegin" class="action-row">
                  <CsrfField token={csrf} />
                  <button type="submit">Checkpoint now</button>
                </form>
              ) : null}
              <div class="batches" id={`batches-${cam.key}`}>
                {mine.length === 0 ? <p class="muted">No timelapses yet.</p> : null}
                {mine.map((b) => (
                  <BatchCard batch={b} framesDone={framesDoneOf(c, b)} csrf={csrf} canEdit={edit} liveShares={shared.get(b.id)} />
                ))}
              </div>
            </section>
          );
        })}
      </>,
      { title: "Timelapses", nav: "timelapses" },
    );
  });

  app.post("/", valid("form", NewBatchForm), async (c) => {
    const { db, actions } = c.var.deps;
    const f = c.req.valid("form");
    if (!cameraByKey(db, f.camera)) unknownCamera(f.camera);
    const byDay = typeof f.from_day === "number" && typeof f.to_day === "number";
    const range = byDay
      ? { fromDay: f.from_day as number, toDay: f.to_day as number }
      : { fromUtc: formTime(f, "from", f.tzo), toUtc: formTime(f, "to", f.tzo) };
    if (!actions?.createTimelapse) unavailable("Making a timelapse", "createTimelapse");
    let r: { batchId: number };
    try {
      r = await actions.createTimelapse({ cameraKey: f.camera, range, frameRate: Number(f.frame_rate), overlay: f.overlay !== undefined });
    } catch (err) {
      requestError(err);
    }
    if (!isHtmx(c)) return c.redirect("/timelapses", 303);
    const b = loadBatch(c, r!.batchId);
    c.status(201);
    return c.html(<BatchCard batch={b} framesDone={framesDoneOf(c, b)} csrf={c.var.csrfToken} canEdit />);
  });

  app.post("/cameras/:key/checkpoint", valid("param", KeyParam), async (c) => {
    const { db, actions } = c.var.deps;
    const key = c.req.valid("param").key;
    if (!cameraByKey(db, key)) unknownCamera(key);
    if (!actions?.checkpointTimelapse) unavailable("A checkpoint", "checkpointTimelapse");
    let r: { batchId: number };
    try {
      r = await actions.checkpointTimelapse(key);
    } catch (err) {
      requestError(err);
    }
    if (!isHtmx(c)) return c.redirect("/timelapses", 303);
    const b = loadBatch(c, r!.batchId);
    c.status(201);
    return c.html(<BatchCard batch={b} framesDone={b.total_frames} csrf={c.var.csrfToken} canEdit />);
  });

  app.get("/:id", valid("param", IdParam), (c) => {
    const b = loadBatch(c, c.req.valid("param").id);
    const card = <BatchCard batch={b} framesDone={framesDoneOf(c, b)} csrf={c.var.csrfToken} canEdit={canEdit(c)} liveShares={liveSharesOfBatches(c.var.deps.db).get(b.id)} />;
    if (isHtmx(c)) return c.html(card);
    return c.render(
      <>
        <p class="crumbs">
          <a href="/timelapses">Timelapses</a> › {b.camera_key} › #{b.id}
        </p>
        {card}
      </>,
      { title: `Timelapse #${b.id}`, nav: "timelapses" },
    );
  });

  app.get("/:id/video.mp4", valid("param", IdParam), async (c) => {
    const b = loadBatch(c, c.req.valid("param").id);
    if (b.status !== "completed" || !b.output_path) throw new HTTPException(409, { message: `timelapse ${b.id} is ${b.status}, it has no video yet` });
    const path = join(c.var.deps.dataDir, b.output_path);
    const name = b.output_filename ?? `timelapse-${b.id}.mp4`;
    return fileDownload(c, path, name, "video/mp4", { inline: !c.req.query("download") });
  });

  app.get("/:id/poster.jpg", valid("param", IdParam), async (c) => {
    const b = loadBatch(c, c.req.valid("param").id);
    const img = batchPosterImage(c.var.deps.db, b.id);
    if (!img) throw new HTTPException(404, { message: `timelapse ${b.id} has no images` });
    const file = Bun.file(join(c.var.deps.dataDir, img.file_path));
    if (!(await file.exists())) throw new HTTPException(404, { message: `the poster image of timelapse ${b.id} is gone` });
    return new Response(file, { headers: { "Content-Type": "image/jpeg", "Cache-Control": "private, max-age=3600" } });
  });

  app.post("/:id/delete", valid("param", IdParam), async (c) => {
    const { actions } = c.var.deps;
    const b = loadBatch(c, c.req.valid("param").id);
    if (!actions?.deleteTimelapse) unavailable("Deleting a timelapse", "deleteTimelapse");
    try {
      await actions.deleteTimelapse(b.id);
    } catch (err) {
      requestError(err);
    }
    if (!isHtmx(c)) return c.redirect("/timelapses", 303);
    return c.html(<p class="notice card">Timelapse #{b.id} deleted.</p>);
  });

  return app;
}

const TripTimelapseForm = v.object({
  every_seconds: v.pipe(v.string(), v.regex(/^\d{1,4}$/, "must be whole seconds"), v.transform(Number), v.minValue(1), v.maxValue(3600)),
  frame_rate: v.optional(v.pipe(v.string(), v.regex(/^\d{1,3}$/, "must be a whole number"), v.transform(Number), v.minValue(1), v.maxValue(120)), "30"),
  _csrf: v.optional(v.string()),
});

export function tripTimelapseRoutes() {
  const app = new Hono<WebEnv>();
  app.post("/:id/timelapse", valid("param", IdParam), valid("form", TripTimelapseForm), async (c) => {
    const { actions } = c.var.deps;
    const id = c.req.valid("param").id;
    const f = c.req.valid("form");
    if (!actions?.tripTimelapse) unavailable("A trip timelapse", "tripTimelapse");
    let r: { frames: number };
    try {
      r = await actions.tripTimelapse(id, f.every_seconds, Number(f.frame_rate));
    } catch (err) {
      if (err instanceof TimelapseRequestError && /^no trip/.test(err.message)) throw new HTTPException(404, { message: err.message });
      if (err instanceof TimelapseRequestError && /no footage left/.test(err.message)) throw new HTTPException(409, { message: err.message });
      requestError(err);
    }
    if (!isHtmx(c)) return c.redirect("/timelapses", 303);
    c.status(202);
    return c.html(
      <p class="notice card">
        Taking {r!.frames} frames from trip {id}; the timelapse appears on the <a href="/timelapses">Timelapses</a> page.
      </p>,
    );
  });
  return app;
}
