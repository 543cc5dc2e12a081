/** @jsxImportSource hono/jsx */
/**
 * Clip exports (mounted at `/exports`; jobs in ../exportJobs.ts, files in `<data_dir>/exports/`):
 *
 * - `GET /exports` — every export (running, done, failed, and finished files found on disk),
 *   newest first.
 * - `POST /exports` (form: `camera`, `from_date` + `from_time`, `to_date` + `to_time`, `tzo`) — validates the request, then starts
 *   the export in the background (src/media/export.ts `exportClip`: `-c copy`, cut at
 *   keyframes, faststart, temp + rename). Times are a date (`from_date`) and a 24 h time
 *   (`from_time`: HH:MM[:SS]) in the viewer's zone (`tzo` = `Date.getTimezoneOffset()`), or one
 *   value each: Unix ms, or ISO 8601 with a zone. Answers htmx with
 *   the job card (202; it polls `GET /exports/:id` every second), a plain post with 303 to
 *   `/exports/:id`. Bad input before anything is written: malformed/missing times 400,
 *   reversed or empty range 400, longer than 2 h 413, unknown camera 404, no footage in the
 *   range 404, too many exports waiting 429.
 * - `GET /exports/:id` — the job card (htmx fragment) or a page with it; 404 for unknown ids.
 * - `GET /exports/:id/download[?tzo=MIN]` — the finished file, streamed from disk (`Bun.file`, never
 *   read whole), `Content-Disposition: attachment` named `<camera>-YYYY-MM-DD-HHMM.<ext>`, single `Range` supported; 409 while the job
 *   is not done. The path comes from the job (a file the exporter named), never from the URL.
 * - `GET /exports/:id/thumb.jpg` — the finished file's first frame, 320 px wide, cached under
 *   `<data_dir>/thumbs/` (../thumbs.ts); 404 while the job is not done.
 * - `POST /exports/:id/delete` — cancels a queued/running export (ffmpeg is killed, nothing is
 *   left) or deletes a finished file.
 *
 * The shared request check `clipRequestOf` is also used by `POST /api/exports` (routes/api.tsx).
 */
import type { Database } from "bun:sqlite";
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { basename } from "node:path";
import { footageIn } from "../../db/views.ts";
import { cameraByKey } from "../../db/cameras.ts";
import { hasRole } from "../../db/users.ts";
import { planClip, validateRange } from "../../media/export.ts";
import { ExportCard } from "../components/Exports.tsx";
import type { WebEnv } from "../env.ts";
import { EXPORT_ID_RE, incidentMoment, isIncidentClip, type ExportJob } from "../exportJobs.ts";
import { downloadName } from "../format.ts";
import { isHtmx, toHttpError, userOf } from "../actions.ts";
import { CAMERA_KEY_RE, TzOffset, formTime, unknownCamera, valid } from "../validate.ts";
import { fileDownload, tzoOf } from "../download.ts";
import { exportThumbnail } from "../thumbs.ts";

/** A validated clip request. Times are Unix ms UTC. */
export interface ClipRequestInput {
  cameraId: number;
  cameraKey: string;
  fromUtc: number;
  toUtc: number;
}

/**
 * Checks a clip request from a form or the API: camera key syntax (400) and existence (404),
 * both times (400; a form's date + 24 h time fields, or one value each), the range (reversed/empty 400, over 2 h 413), and that the ring holds
 * footage in it (404). Reads only; throws HTTPException.
 */
export function clipRequestOf(
  db: Database,
  input: { camera?: unknown; from?: unknown; to?: unknown; from_date?: string; from_time?: string; to_date?: string; to_time?: string; tzo?: number },
): ClipRequestInput {
  const key = typeof input.camera === "string" ? input.camera : "";
  if (!CAMERA_KEY_RE.test(key)) throw new HTTPException(400, { message: `camera: ${key === "" ? "is required" : "is not a valid camera key"}` });
  const cam = cameraByKey(db, key) ?? unknownCamera(key);
  const asText = (x: unknown) => (typeof x === "number" ? String(x) : typeof x === "string" ? x : undefined);
  // a form's date + 24 h time fields, else one value (Unix ms, ISO 8601 ...)
  const fields = { ...input, from: asText(input.from), to: asText(input.to) };
  const fromUtc = formTime(fields, "from", input.tzo);
  const toUtc = formTime(fields, "to", input.tzo);
  try {
    validateRange(fromUtc, toUtc);
  } catch (err) {
    toHttpError(err, "export");
  }
  if (!planClip(footageIn(db, cam.id, fromUtc, toUtc), fromUtc, toUtc))
    throw new HTTPException(404, {
      message: `camera ${cam.key} has no footage between ${new Date(fromUtc).toISOString()} and ${new Date(toUtc).toISOString()} (not recorded, or already overwritten)`,
    });
  return { cameraId: cam.id, cameraKey: cam.key, fromUtc, toUtc };
}

const ExportForm = v.object({
  camera: v.optional(v.string()),
  from: v.optional(v.string()),
  to: v.optional(v.string()),
  from_date: v.optional(v.string()),
  from_time: v.optional(v.string()),
  to_date: v.optional(v.string()),
  to_time: v.optional(v.string()),
  tzo: v.optional(TzOffset),
});

const IdParam = v.object({ id: v.pipe(v.string(), v.regex(EXPORT_ID_RE, "is not an export id (16 hex digits)")) });

const canDelete = (c: Context<WebEnv>) => (c.var.user ? hasRole(c.var.user.role, "operator") : false);

function loadJob(c: Context<WebEnv>, id: string): ExportJob {
  const job = c.var.exports.get(id);
  if (!job) throw new HTTPException(404, { message: `no export ${id}` });
  return job;
}

const CONTENT_TYPE: Record<string, string> = { mp4: "video/mp4", jpg: "image/jpeg" };

export function exportRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/", (c) => {
    const jobs = c.var.exports.list();
    return c.render(
      <>
        <h1>Exports</h1>
        <p class="muted">Clips and snapshots made for download. Start a clip from a trip's page.</p>
        {jobs.length === 0 ? <p class="card">No exports yet.</p> : null}
        <div class="exports">
          {jobs.map((job) => (
            <ExportCard job={job} csrf={c.var.csrfToken} canDelete={canDelete(c)} />
          ))}
        </div>
      </>,
      { title: "Exports", nav: "exports" },
    );
  });

  app.post("/", valid("form", ExportForm), (c) => {
    const { db } = c.var.deps;
    const user = userOf(c);
    const req = clipRequestOf(db, c.req.valid("form"));
    let job: ExportJob;
    try {
      job = c.var.exports.startClip({ ...req, user: user.username });
    } catch (err) {
      toHttpError(err, "export");
    }
    if (!isHtmx(c)) return c.redirect(`/exports/${job.id}`, 303);
    c.status(202);
    return c.html(<ExportCard job={job} csrf={c.var.csrfToken} canDelete={canDelete(c)} />);
  });

  app.get("/:id", valid("param", IdParam), (c) => {
    const job = loadJob(c, c.req.valid("param").id);
    const card = <ExportCard job={job} csrf={c.var.csrfToken} canDelete={canDelete(c)} />;
    if (isHtmx(c)) return c.html(card);
    return c.render(
      <>
        <p class="crumbs">
          <a href="/exports">Exports</a> › {job.id}
        </p>
        <h1>Export</h1>
        {card}
      </>,
      { title: "Export", nav: "exports" },
    );
  });

  app.get("/:id/thumb.jpg", valid("param", IdParam), async (c) => {
    const job = loadJob(c, c.req.valid("param").id);
    const path = job.state === "done" ? c.var.exports.filePath(job) : null;
    if (!path) throw new HTTPException(404, { message: `export ${job.id} has no file (yet)` });
    let thumb: string;
    try {
      thumb = await exportThumbnail(c.var.deps.dataDir, job.id, path, c.var.gate);
    } catch (err) {
      if (err instanceof Error && !(err instanceof HTTPException) && err.message.startsWith("export thumbnail failed")) throw new HTTPException(404, { message: err.message });
      toHttpError(err, `thumbnail of export ${job.id}`);
    }
    return new Response(Bun.file(thumb), { headers: { "Content-Type": "image/jpeg", "Cache-Control": "private, max-age=86400" } });
  });

  app.get("/:id/download", valid("param", IdParam), async (c) => {
    const job = loadJob(c, c.req.valid("param").id);
    if (job.state !== "done") throw new HTTPException(409, { message: `export ${job.id} is ${job.state}, there is nothing to download` });
    const path = c.var.exports.filePath(job);
    if (!path) throw new HTTPException(404, { message: `the file of export ${job.id} is gone` });
    const name = basename(path);
    const ext = name.split(".").pop() ?? "";
    // offered as <camera>-YYYY-MM-DD-HHMM.<ext> (the incident's moment for an incident clip)
    const at = isIncidentClip(job) ? incidentMoment(job) : job.fromUtc;
    const offered = job.cameraKey && at !== null ? downloadName(job.cameraKey, at, ext, tzoOf(c)) : name;
    return fileDownload(c, path, offered, CONTENT_TYPE[ext] ?? "application/octet-stream");
  });

  app.post("/:id/delete", valid("param", IdParam), async (c) => {
    const id = c.req.valid("param").id;
    const user = userOf(c);
    loadJob(c, id);
    const outcome = await c.var.exports.remove(id, user.username);
    if (outcome === "unknown") throw new HTTPException(404, { message: `no export ${id}` });
    if (!isHtmx(c)) return c.redirect("/exports", 303);
    const job = c.var.exports.get(id);
    if (job) return c.html(<ExportCard job={job} csrf={c.var.csrfToken} canDelete={canDelete(c)} />);
    return c.html(<p class="notice card">{outcome === "deleted" ? "File deleted." : "Removed."}</p>);
  });

  return app;
}
