/** @jsxImportSource hono/jsx */
/**
 * JPEG snapshots and incidents (mounted at `/`):
 *
 * - `GET /cameras/:key/snapshot.jpg?at=MS` (registered by routes/cameras.tsx through
 *   `snapshotResponse`): the frame at `at` (exact frame, `snapshotAt` of src/media/snapshot.ts) or, without `at`,
 *   the current frame (`WebDeps.frames`, at most 2 s old; without the service the newest keyframe
 *   of the newest closed segment, `snapshotLive`); `Content-Disposition: inline` named
 *   `<camera>-YYYY-MM-DD-HHMM.jpg` (`?tzo=` for the viewer's zone). Logs `snapshot`.
 * - `POST /snapshots` (form or JSON: `camera`, optional `at`, `tzo`): the same picture saved to
 *   `<data_dir>/exports/` (`saveSnapshot`: temp + fsync + rename) and listed with the
 *   exports; answers htmx with the export card, a plain post with 303 to `/exports/:id`.
 * - `POST /incidents` (form: `camera`, optional `at` = now): asks the runtime to start an
 *   incident clip (`WebDeps.actions.incident`: N s before to M s after, evidence-locked,
 *   tagged with a new incident id); 503 when the runtime does not provide it. Logs
 *   `incident.mark`. The JSON twin is `POST /api/incidents` (routes/api.tsx).
 *
 * Every snapshot holds a read-lock on its segment while ffmpeg reads it (taken inside src/media/snapshot.ts)
 * and goes through the app's ffmpeg gate (at most 2 at once, 16 waiting, else 503 busy).
 * Errors: bad key/time 400, unknown camera 404, no footage at that time 404, time in the
 * future 400.
 */
import type { Database } from "bun:sqlite";
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { logEvent } from "../../db/eventLog.ts";
import { footageIn } from "../../db/views.ts";
import { cameraByKey, cameraKeyById } from "../../db/cameras.ts";
import { hasRole } from "../../db/users.ts";
import { saveSnapshot, snapshotAt, snapshotLive, type Snapshot } from "../../media/snapshot.ts";
import { ExportCard } from "../components/Exports.tsx";
import { downloadName } from "../format.ts";
import { tzoOf } from "../download.ts";
import { IncidentNotice } from "../components/Keep.tsx";
import type { WebDeps, WebEnv } from "../env.ts";
import type { Gate } from "../gate.ts";
import { isHtmx, toHttpError, unavailable, userOf } from "../actions.ts";
import { CAMERA_KEY_RE, TzOffset, parseClientTime, unknownCamera, valid } from "../validate.ts";

/** How far in the future an instant may be (clock skew between phone and device), ms. */
const FUTURE_SLACK_MS = 10_000;

function cameraOf(db: Database, key: unknown): { id: number; key: string; name: string } {
  const k = typeof key === "string" ? key : "";
  if (!CAMERA_KEY_RE.test(k)) throw new HTTPException(400, { message: `camera: ${k === "" ? "is required" : "is not a valid camera key"}` });
  return cameraByKey(db, k) ?? unknownCamera(k);
}

/** Parses an optional instant (absent or empty = null); refuses one in the future. */
function instantOf(value: unknown, tzo: number | undefined, now: number): number | null {
  if (value === undefined || value === null || value === "") return null;
  const at = parseClientTime(typeof value === "number" ? String(value) : typeof value === "string" ? value : "?", "at", tzo);
  if (at > now + FUTURE_SLACK_MS) throw new HTTPException(400, { message: "at: is in the future" });
  return at;
}

/**
 * Takes a snapshot of camera `cameraId` at `at` (ms UTC) through the gate, or, with `at` null, the
 * current frame from the runtime's current-frame service (`WebDeps.frames`; without one, the
 * newest keyframe of the newest closed segment).
 */
export async function takeSnapshot(deps: WebDeps, gate: Gate, cameraId: number, at: number | null, signal?: AbortSignal): Promise<Snapshot> {
  try {
    const key = at === null && deps.frames ? cameraKeyById(deps.db, cameraId) : null;
    if (key !== null && deps.frames) {
      const frame = await deps.frames.current(key, { signal });
      return { jpeg: frame.jpeg, atUtc: frame.capturedAtMs, cameraId, segmentId: null };
    }
    return await gate.run(() =>
      at === null ? snapshotLive(deps.db, deps.dataDir, { cameraId, signal }) : snapshotAt(deps.db, deps.dataDir, { cameraId, atUtc: at, signal }),
    );
  } catch (err) {
    toHttpError(err, "snapshot");
  }
}

/** The response of `GET /cameras/:key/snapshot.jpg?at=MS`. */
export async function snapshotResponse(c: Context<WebEnv>, key: string, atParam: number | undefined): Promise<Response> {
  const { db } = c.var.deps;
  const cam = cameraByKey(db, key) ?? unknownCamera(key);
  const at = atParam === undefined ? null : instantOf(String(atParam), 0, Date.now());
  const snap = await takeSnapshot(c.var.deps, c.var.gate, cam.id, at, c.req.raw.signal);
  const user = c.var.user?.username ?? "someone";
  logEvent(db, {
    kind: "snapshot",
    level: "debug",
    cameraId: cam.id,
    message: `${user} viewed a snapshot of ${cam.key} at ${new Date(snap.atUtc).toISOString()}${at === null ? " (live)" : ""}`,
    data: { atUtc: snap.atUtc, live: at === null, user, bytes: snap.jpeg.length },
  });
  return new Response(snap.jpeg as Uint8Array<ArrayBuffer>, {
    headers: {
      "Content-Type": "image/jpeg",
      "Content-Length": String(snap.jpeg.length),
      "Content-Disposition": `inline; filename="${downloadName(cam.key, snap.atUtc, "jpg", tzoOf(c), true)}"`,
      "Cache-Control": at === null ? "no-store" : "private, max-age=3600",
      "X-Frame-Time": String(snap.atUtc),
    },
  });
}

const SnapshotForm = v.object({ camera: v.optional(v.string()), at: v.optional(v.string()), tzo: v.optional(TzOffset) });
const IncidentForm = SnapshotForm;

/**
 * Asks the runtime for an incident clip (shared by the form and the JSON API). `at` null = now.
 * An instant long past must have footage around it (404 otherwise). Logs `incident.mark`.
 */
export async function requestIncident(
  deps: WebDeps,
  input: { camera?: unknown; at?: unknown; tzo?: number },
  username: string,
): Promise<{ incidentId: string; cameraKey: string; atUtc: number; fromUtc: number; toUtc: number }> {
  const { db, config } = deps;
  const cam = cameraOf(db, input.camera);
  const now = Date.now();
  const atUtc = instantOf(input.at, input.tzo, now) ?? now;
  const fromUtc = atUtc - config.incident.before_seconds * 1000;
  const toUtc = atUtc + config.incident.after_seconds * 1000;
  // a moment whose "after" part is already recorded must have footage in its window
  if (toUtc + 120_000 < now && footageIn(db, cam.id, fromUtc, toUtc).length === 0)
    throw new HTTPException(404, { message: `camera ${cam.key} has no footage around ${new Date(atUtc).toISOString()}` });
  const incident = deps.actions?.incident;
  if (!incident) unavailable("Incident clips", "incident");
  let incidentId: string;
  try {
    ({ incidentId } = await incident(cam.key, atUtc));
  } catch (err) {
    throw new HTTPException(409, { message: `cannot start the incident clip: ${String((err as Error)?.message ?? err).slice(0, 300)}` });
  }
  logEvent(db, {
    kind: "incident.mark",
    cameraId: cam.id,
    message: `${username} marked incident ${incidentId} on ${cam.key} at ${new Date(atUtc).toISOString()}`,
    data: { incidentId, atUtc, fromUtc, toUtc, user: username },
  });
  return { incidentId, cameraKey: cam.key, atUtc, fromUtc, toUtc };
}

export function snapshotRoutes() {
  const app = new Hono<WebEnv>();

  app.post("/snapshots", valid("form", SnapshotForm), async (c) => {
    const { db, dataDir } = c.var.deps;
    const user = userOf(c);
    const form = c.req.valid("form");
    const cam = cameraOf(db, form.camera);
    const at = instantOf(form.at, form.tzo, Date.now());
    const snap = await takeSnapshot(c.var.deps, c.var.gate, cam.id, at);
    const rel = saveSnapshot(db, dataDir, snap);
    logEvent(db, {
      kind: "snapshot",
      cameraId: cam.id,
      message: `${user.username} saved a snapshot of ${cam.key} at ${new Date(snap.atUtc).toISOString()}: ${rel}`,
      data: { atUtc: snap.atUtc, relPath: rel, user: user.username },
    });
    const job = c.var.exports.addFinished({ kind: "snapshot", cameraId: cam.id, cameraKey: cam.key, atUtc: snap.atUtc, relPath: rel, bytes: snap.jpeg.length, user: user.username });
    if (!isHtmx(c)) return c.redirect(`/exports/${job.id}`, 303);
    return c.html(<ExportCard job={job} csrf={c.var.csrfToken} canDelete={hasRole(user.role, "operator")} />);
  });

  app.post("/incidents", valid("form", IncidentForm), async (c) => {
    const user = userOf(c);
    const r = await requestIncident(c.var.deps, c.req.valid("form"), user.username);
    if (!isHtmx(c)) return c.redirect(`/cameras/${r.cameraKey}`, 303);
    const name = cameraByKey(c.var.deps.db, r.cameraKey)?.name ?? r.cameraKey;
    return c.html(<IncidentNotice inc={{ ...r, cameraName: name }} advanced={hasRole(user.role, "operator")} />);
  });

  return app;
}
