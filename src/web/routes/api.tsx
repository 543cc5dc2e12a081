/** @jsxImportSource hono/jsx */
/**
 * JSON API (mounted at `/api`), for scripts and the car's other gadgets. Same session cookie
 * and CSRF token as the UI (send the token in `X-CSRF-Token`), same permission table; every
 * error is `{ "error": "<one line>" }` with a 4xx/5xx status.
 *
 * - `POST /api/trips/:id/save` → 202 `{ tripId, accepted: true, notice }` (or 200 with
 *   `accepted: false` when already saved/saving); 409 no footage left, 503 the runtime does
 *   not provide saving.
 * - `POST /api/exports` body `{ camera, from, to }` (Unix ms or ISO 8601 with a zone) → 202
 *   `{ id, state, status, download }`; errors as `POST /exports`.
 * - `GET /api/exports/:id` → the job: `{ id, kind, state, camera, fromUtc, toUtc, doneMs,
 *   totalMs, bytes, error, download }`.
 * - `POST /api/incidents` body `{ camera, at? }` → 202 `{ incidentId, camera, atUtc, fromUtc, toUtc }`.
 */
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { tripById } from "../../db/views.ts";
import type { WebEnv } from "../env.ts";
import { EXPORT_ID_RE, type ExportJob } from "../exportJobs.ts";
import { toHttpError, userOf } from "../actions.ts";
import { Id, valid } from "../validate.ts";
import { requestSave } from "./trips.tsx";
import { clipRequestOf } from "./exports.tsx";
import { requestIncident } from "./snapshots.tsx";

/** Reads a JSON object body; 400 when the body is not one (at most 16 KiB). */
async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  const type = c.req.header("content-type") ?? "";
  if (!type.startsWith("application/json")) throw new HTTPException(415, { message: "send the body as application/json" });
  const text = await c.req.text();
  if (text.length > 16_384) throw new HTTPException(413, { message: "body is too large" });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HTTPException(400, { message: "body is not valid JSON" });
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new HTTPException(400, { message: "body must be a JSON object" });
  return body as Record<string, unknown>;
}

export const jobJson = (job: ExportJob) => ({
  id: job.id,
  kind: job.kind,
  state: job.state,
  camera: job.cameraKey,
  fromUtc: job.fromUtc,
  toUtc: job.toUtc,
  doneMs: job.doneMs,
  totalMs: job.totalMs,
  bytes: job.bytes,
  error: job.error,
  status: `/api/exports/${job.id}`,
  download: job.state === "done" ? `/exports/${job.id}/download` : null,
});

export function apiRoutes() {
  const app = new Hono<WebEnv>();

  app.post("/trips/:id/save", valid("param", v.object({ id: Id })), async (c) => {
    const id = c.req.valid("param").id;
    const trip = tripById(c.var.deps.db, id);
    if (!trip) throw new HTTPException(404, { message: `no trip ${id}` });
    const r = await requestSave(c.var.deps, trip, userOf(c).username, "api");
    return c.json({ tripId: id, accepted: r.accepted, notice: r.notice }, r.accepted ? 202 : 200);
  });

  app.post("/exports", async (c) => {
    const user = userOf(c);
    const body = await jsonBody(c);
    const req = clipRequestOf(c.var.deps.db, { camera: body.camera, from: body.from, to: body.to });
    let job: ExportJob;
    try {
      job = c.var.exports.startClip({ ...req, user: user.username });
    } catch (err) {
      toHttpError(err, "export");
    }
    return c.json(jobJson(job), 202);
  });

  app.get("/exports/:id", valid("param", v.object({ id: v.pipe(v.string(), v.regex(EXPORT_ID_RE, "is not an export id (16 hex digits)")) })), (c) => {
    const job = c.var.exports.get(c.req.valid("param").id);
    if (!job) throw new HTTPException(404, { message: `no export ${c.req.valid("param").id}` });
    return c.json(jobJson(job));
  });

  app.post("/incidents", async (c) => {
    const user = userOf(c);
    const body = await jsonBody(c);
    const r = await requestIncident(c.var.deps, { camera: body.camera, at: body.at }, user.username);
    return c.json({ incidentId: r.incidentId, camera: r.cameraKey, atUtc: r.atUtc, fromUtc: r.fromUtc, toUtc: r.toUtc }, 202);
  });

  return app;
}
