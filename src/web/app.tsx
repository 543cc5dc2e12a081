/**
 * The web UI: one Hono app made of one sub-app per area (src/web/routes), a single
 * `jsxRenderer` layout, htmx fragments and SSE for live state. Server-rendered, phone-first,
 * every asset embedded (no CDN). It only reads the database (src/db/views.ts); issue 3 adds
 * state-changing actions behind the middleware slot below.
 *
 * Routes (in mount order):
 *   public:  GET /assets/:name, GET /healthz
 *   -- deps.middleware (auth, CSRF: issue 3) --
 *   GET /                           dashboard
 *   GET /live                       SSE stream of htmx fragments
 *   GET /cameras/:key               camera page (timeline, gaps, recent segments, live view)
 *   GET /cameras/:key/live.m3u8     live HLS playlist (sliding window)
 *   GET /trips, /trips/:id          trips list (paged), trip page with player
 *   GET /trips/:id/playlist.m3u8    trip HLS playlist
 *   GET /media/:key/:abs.ts         one segment (Range supported)
 *   GET /events                     event log (filters: kind, camera, level)
 *
 * Errors: an `HTTPException` (bad input 400, unknown thing 404) becomes a small HTML page, or
 * `{ "error": "..." }` for JSON clients (`/healthz`, `Accept: application/json`), or one
 * plain-text line for playlists, media and assets. Unexpected errors are 500 "internal error"
 * (the detail goes to the log, never to the page).
 */
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { log } from "../log.ts";
import { Layout, renderer } from "./layout.tsx";
import type { WebDeps, WebEnv } from "./env.ts";
import { assetRoutes } from "./routes/assets.ts";
import { healthRoutes } from "./routes/health.ts";
import { dashboardRoutes } from "./routes/dashboard.tsx";
import { liveRoutes } from "./routes/live.tsx";
import { cameraRoutes } from "./routes/cameras.tsx";
import { tripRoutes } from "./routes/trips.tsx";
import { mediaRoutes } from "./routes/media.ts";
import { eventRoutes } from "./routes/events.tsx";

export type { WebDeps, WebEnv } from "./env.ts";

/**
 * Content-Security-Policy: only this origin. `blob:` for media/workers because hls.js feeds
 * Media Source Extensions through blob URLs and may start a worker from one.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

type Kind = "json" | "text" | "html";

function responseKind(c: Context): Kind {
  const path = c.req.path;
  if (path === "/healthz" || path.endsWith(".json")) return "json";
  if (path.endsWith(".m3u8") || path.startsWith("/media/") || path.startsWith("/assets/") || path === "/live") return "text";
  const accept = c.req.header("Accept") ?? "";
  if (accept.includes("application/json") && !accept.includes("text/html")) return "json";
  return "html";
}

const TITLES: Record<number, string> = { 400: "Bad request", 404: "Not found", 405: "Not allowed", 416: "Range not satisfiable" };

/** Renders an error in the form the client expects. */
export function errorResponse(c: Context, status: ContentfulStatusCode, message: string): Response | Promise<Response> {
  const kind = responseKind(c);
  c.header("Cache-Control", "no-store");
  if (kind === "json") return c.json({ error: message }, status);
  if (kind === "text") return c.text(`${status} ${message}\n`, status);
  const title = TITLES[status] ?? (status >= 500 ? "Server error" : "Error");
  const page = (
    <Layout title={title} live={false}>
      <section class="card error-page">
        <h1>
          {status} · {title}
        </h1>
        <p class="error-text">{message}</p>
        <p>
          <a class="button" href="/">
            Back to cameras
          </a>
        </p>
      </section>
    </Layout>
  );
  return c.html(`<!DOCTYPE html>${page}`, status);
}

/** Builds the web app. Pure: no listening socket (see server.ts), usable with `app.request()`. */
export function createApp(deps: WebDeps): Hono<WebEnv> {
  const app = new Hono<WebEnv>();

  app.use("*", async (c, next) => {
    c.set("deps", deps);
    await next();
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "same-origin");
    c.header("X-Frame-Options", "DENY");
    if ((c.res.headers.get("Content-Type") ?? "").startsWith("text/html")) c.header("Content-Security-Policy", CSP);
  });

  // Public: no session needed (issue 3 keeps these outside auth).
  app.route("/assets", assetRoutes());
  app.route("/", healthRoutes());

  // The one place for guards: everything mounted below passes through them.
  for (const mw of deps.middleware ?? []) app.use("*", mw);

  app.use("*", renderer);
  app.route("/", dashboardRoutes());
  app.route("/", liveRoutes());
  app.route("/cameras", cameraRoutes());
  app.route("/trips", tripRoutes());
  app.route("/media", mediaRoutes());
  app.route("/events", eventRoutes());

  app.notFound((c) => errorResponse(c, 404, `no page at ${c.req.path}`));
  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      if (err.status >= 500) log.error(`web ${c.req.path}: ${err.message}`);
      return errorResponse(c, err.status as ContentfulStatusCode, err.message);
    }
    log.error(`web ${c.req.path} failed: ${String((err as Error)?.stack ?? err)}`);
    return errorResponse(c, 500, "internal error");
  });
  return app;
}
