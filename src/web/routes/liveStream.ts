/**
 * Live view and current frame of a camera (mounted under `/cameras`):
 *
 * - `GET /cameras/:key/live.ts` — the camera's live MPEG-TS stream from its live hub
 *   (src/media/liveHub.ts), no transcoding: the cached GOP first, then every packet as the
 *   recorder gets it. Over a WebSocket (binary messages) when the request asks for one — what the
 *   browser's player uses — else as a chunked HTTP response (`video/mp2t`, for VLC, ffplay, or
 *   mpegts.js over fetch). A viewer that cannot keep up skips to the next keyframe; one that stays
 *   behind is closed. When the camera's recorder stops, the stream ends (WebSocket close code 4000
 *   with the reason) and the player reconnects.
 * - `GET /cameras/:key/frame.jpg` — the camera's current picture as JPEG from the current-frame
 *   service (at most 2 s old), `X-Frame-Time: <capture time, Unix ms>`, never cached. 404 unknown
 *   camera, 409 not recording, 504 no frame in time, 502 the frame could not be decoded.
 *
 * Why MPEG-TS over a WebSocket into Media Source Extensions (mpegts.js in the page; iOS 17.1+
 * through ManagedMediaSource) rather than LL-HLS: a player starts from the hub's cached GOP and
 * then plays at the live edge whatever the camera's GOP, where LL-HLS waits for a keyframe and
 * adds a part duration plus a playlist round trip; the device cuts no parts and writes no
 * playlists, it forwards the packets ffmpeg already muxes; and WebSockets do not count against a
 * browser's six HTTP/1.1 connections per host, so a home screen with many moving thumbnails and
 * the SSE stream still loads. Browsers without MSE fall back to the HLS playlist (`live.m3u8`).
 *
 * An open stream re-checks its viewer's session every `LIVE_SESSION_CHECK_MS` and ends when it
 * is gone (signed out, expired, user removed; WebSocket close code 4001).
 *
 * Both need a signed-in user of any role (the permission table's default for GET) and answer 503
 * when the runtime does not provide the hubs / the service (`WebDeps.live`, `WebDeps.frames`).
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import type { Server } from "bun";
import type { Database } from "bun:sqlite";
import { getCookie } from "hono/cookie";
import { cameraByKey } from "../../db/cameras.ts";
import { lookupSession } from "../../db/sessions.ts";
import { SESSION_COOKIE } from "../auth/middleware.ts";
import type { LiveSink } from "../../media/liveHub.ts";
import type { WebEnv } from "../env.ts";
import { CameraKey, unknownCamera, valid } from "../validate.ts";
import { upgradeWebSocket, wantsWebSocket, type SocketHandlers } from "../ws.ts";
import { toHttpError } from "../actions.ts";

const KeyParam = v.object({ key: CameraKey });

/** WebSocket close code for "the stream ended" (private range 4000-4999 of RFC 6455 7.4.2). */
export const STREAM_ENDED_CODE = 4000;
/** WebSocket close code for "the viewer's session ended" (signed out, expired, user removed). */
export const SIGNED_OUT_CODE = 4001;
/** How often an open live stream re-checks its viewer's session, ms (`WebDeps.liveSessionCheckMs`). */
export const LIVE_SESSION_CHECK_MS = 30_000;

/**
 * Calls `end` once the session of cookie `token` is gone (signed out, expired, user deleted),
 * checking every `everyMs`; returns the function that stops checking. A stream outlives the
 * request that opened it, so it would otherwise keep showing the camera to a signed-out user.
 */
function watchSession(db: Database, token: string, everyMs: number, end: () => void): () => void {
  const timer = setInterval(() => {
    let valid = false;
    try {
      valid = lookupSession(db, token) !== null;
    } catch {
      valid = false; // the database closed: the runtime is stopping
    }
    if (!valid) {
      clearInterval(timer);
      end();
    }
  }, everyMs);
  return () => clearInterval(timer);
}

export function liveStreamRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/:key/live.ts", valid("param", KeyParam), (c) => {
    const { db, live } = c.var.deps;
    const { key } = c.req.valid("param");
    const cam = cameraByKey(db, key) ?? unknownCamera(key);
    if (!live) throw new HTTPException(503, { message: "the live view is not available: the recording runtime does not provide live hubs" });
    const hub = live.get(cam.key);
    const token = getCookie(c, SESSION_COOKIE) ?? "";
    const checkMs = c.var.deps.liveSessionCheckMs ?? LIVE_SESSION_CHECK_MS;
    if (wantsWebSocket(c)) {
      let unsubscribe: (() => void) | null = null;
      let unwatch: (() => void) | null = null;
      const handlers: SocketHandlers = {
        open(ws) {
          unwatch = watchSession(db, token, checkMs, () => ws.close(SIGNED_OUT_CODE, "signed out: sign in again to watch"));
          const sink: LiveSink = {
            write(bytes) {
              ws.send(bytes);
              return ws.getBufferedAmount();
            },
            close(reason) {
              ws.close(STREAM_ENDED_CODE, reason.slice(0, 120));
            },
          };
          unsubscribe = hub.subscribe(sink);
        },
        close() {
          unsubscribe?.();
          unwatch?.();
        },
      };
      return upgradeWebSocket(c, handlers);
    }
    // plain HTTP: a never-ending chunked response; the queue's size is the viewer's backlog
    let unsubscribe: (() => void) | null = null;
    let unwatch: (() => void) | null = null;
    const stop = () => {
      unsubscribe?.();
      unwatch?.();
    };
    const body = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          const end = () => {
            stop();
            try {
              controller.close();
            } catch {
              // already closed by the client
            }
          };
          unwatch = watchSession(db, token, checkMs, end);
          unsubscribe = hub.subscribe({
            write(bytes) {
              controller.enqueue(bytes);
              return Math.max(0, -(controller.desiredSize ?? 0));
            },
            close: end,
          });
        },
        cancel() {
          stop();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: 0 }),
    );
    c.req.raw.signal?.addEventListener("abort", stop);
    // no idle timeout for this long-lived response (like the SSE stream)
    (c.env as unknown as Server<undefined> | undefined)?.timeout?.(c.req.raw, 0);
    return new Response(body, { headers: { "Content-Type": "video/mp2t", "Cache-Control": "no-store" } });
  });

  app.get("/:key/frame.jpg", valid("param", KeyParam), async (c) => {
    const { db, frames } = c.var.deps;
    const { key } = c.req.valid("param");
    const cam = cameraByKey(db, key) ?? unknownCamera(key);
    if (!frames) throw new HTTPException(503, { message: "current frames are not available: the recording runtime does not provide the service" });
    let frame;
    try {
      frame = await frames.current(cam.key, { signal: c.req.raw.signal });
    } catch (err) {
      toHttpError(err, "current frame");
    }
    const stamp = new Date(frame.capturedAtMs).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
    return new Response(frame.jpeg as Uint8Array<ArrayBuffer>, {
      headers: {
        "Content-Type": "image/jpeg",
        "Content-Length": String(frame.jpeg.length),
        "Content-Disposition": `inline; filename="${cam.key}-${stamp}.jpg"`,
        "Cache-Control": "no-store",
        "X-Frame-Time": String(frame.capturedAtMs),
      },
    });
  });

  return app;
}
