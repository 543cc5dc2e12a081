/**
 * Helpers shared by the routes that change state (save, lock, export, snapshot, incident):
 * who is asking, whether the request came from htmx, and the mapping of the media layer's
 * errors to HTTP statuses with a one-line reason.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ExportFailedError, MediaRequestError } from "../media/export.ts";
import { FrameUnavailableError } from "../media/currentFrame.ts";
import type { SessionUser } from "./auth/middleware.ts";
import { GateFullError } from "./gate.ts";
import { ExportBusyError } from "./exportJobs.ts";
import { log } from "../log.ts";

/** True for requests made by htmx (they get fragments; plain form posts get a 303). */
export const isHtmx = (c: Context) => c.req.header("HX-Request") === "true";

/** The logged-in user (the permission table guarantees one on every non-public route). */
export function userOf(c: Context): SessionUser {
  const user = (c.var as { user?: SessionUser | null }).user;
  if (!user) throw new HTTPException(401, { message: "log in first" });
  return user;
}

/** 503 for a runtime action the runtime did not provide. */
export function unavailable(what: string, field: string): never {
  throw new HTTPException(503, { message: `${what} is not available: the recording runtime does not provide it yet (WebDeps.actions.${field})` });
}

/** HTTP status of each reason the current-frame service gives. */
const FRAME_STATUS = { unknown_camera: 404, not_recording: 409, timeout: 504, decode_failed: 502 } as const;

/**
 * Turns an error of the media layer into an HTTPException: MediaRequestError keeps its status
 * (400/404/409/413), ExportBusyError is 429, GateFullError 503, ExportFailedError (ffmpeg
 * failed) 500 with its one-line reason (logged), FrameUnavailableError (current frame) 404
 * unknown camera, 409 not recording, 504 no frame in time, 502 not decodable. Anything else is
 * rethrown.
 */
export function toHttpError(err: unknown, what: string): never {
  if (err instanceof HTTPException) throw err;
  if (err instanceof FrameUnavailableError) throw new HTTPException(FRAME_STATUS[err.reason], { message: `${what}: ${err.message}` });
  if (err instanceof MediaRequestError) throw new HTTPException(err.status, { message: err.message });
  if (err instanceof ExportBusyError) throw new HTTPException(429, { message: err.message });
  if (err instanceof GateFullError) throw new HTTPException(503, { message: err.message });
  if (err instanceof ExportFailedError) {
    log.warn(`${what}: ${err.message}`);
    throw new HTTPException(500 as ContentfulStatusCode, { message: `${what} failed: ${err.message}` });
  }
  throw err;
}
