/** @jsxImportSource hono/jsx */
/**
 * The web UI: one Hono app made of one sub-app per area (src/web/routes), a single
 * `jsxRenderer` layout, htmx fragments and SSE for live state. Server-rendered, phone-first,
 * every asset embedded (no CDN). Pages read the database (src/db/views.ts); the product
 * actions (save, lock, export, snapshot, incident) are the POST routes below.
 *
 * Routes (in mount order):
 *   public:  GET /assets/:name (icons included), GET /healthz
 *   public, rate-limited per IP: GET /share/:token[/video|poster|frames/N|theme.css|download],
 *            GET /embed/:token (the only page another site may frame)       sharePublic.tsx
 *   -- security (src/web/auth): session cookie -> CSRF (every non-GET) -> permission table
 *      (`WEB_PERMISSIONS`: deny-by-default for unlisted mutating routes; any GET needs a
 *      session unless listed public), then deps.middleware --
 *   Every sub-app reads its dependencies from request variables set by `depsMiddleware`.
 *   GET /manifest.webmanifest, GET /sw.js   installable web app (public rules)      pwa.ts
 *   GET/POST /login, POST /logout, GET/POST /setup (only while no user exists)    auth.tsx
 *   GET/POST /users...              user admin, login unlock (admin only)          users.tsx
 *   GET /                           home screen; POST /home/save, /home/incident       dashboard.tsx
 *   GET /diagnostics                recorder details for operators                 diagnostics.tsx
 *   GET /my-footage                 kept drives, incident clips, pictures, exports  myFootage.tsx
 *   GET /live                       SSE stream of htmx fragments
 *   GET /cameras/:key               camera page (timeline, gaps, recent segments, live view)
 *   GET /cameras/:key/health[/snapshots/:id.jpg]  camera health: status, snapshot, charts   health.tsx
 *   GET /cameras/:key/live.m3u8     live HLS playlist (sliding window; fallback for browsers without MSE)
 *   GET /cameras/:key/live.ts       live MPEG-TS stream (WebSocket or chunked HTTP)       liveStream.ts
 *   GET /cameras/:key/frame.jpg     current frame (X-Frame-Time)                          liveStream.ts
 *   GET /cameras/:key/play?at=MS    303 to the drive holding that moment, playing from it
 *   POST /cameras/:key/stop|start   stop / start recording (runtime action)
 *   GET /trips, /trips/:id          trips list (paged), trip page with player
 *   GET /trips/:id/playlist.m3u8    trip HLS playlist
 *   GET /media/:key/:abs.ts         one segment (Range supported)
 *   GET /events                     event log (filters: kind, camera, level, text)
 *   GET /cameras/:key/snapshot.jpg  JPEG at ?at=MS or live
 *   GET /trips/:id/thumb.jpg        trip thumbnail (cached under <data_dir>/thumbs/)
 *   POST /trips/:id/save|lock|unlock                save (runtime action), evidence lock/unlock
 *   GET/POST /exports, GET /exports/:id[/download|/thumb.jpg], POST /exports/:id/delete   clip exports
 *   POST /snapshots, POST /incidents
 *   POST /api/trips/:id/save, POST /api/exports, GET /api/exports/:id, POST /api/incidents
 *   GET /plates..., POST /plates/watchlist[/:id/delete]                            plates.tsx
 *   GET/POST /timelapses..., POST /timelapses/:id/delete, .../checkpoint         timelapses.tsx
 *   POST /trips/:id/timelapse       a timelapse of a trip's footage              timelapses.tsx
 *   GET/POST /shares, GET /shares/new, GET /shares/:id/qr.svg, POST /shares/:id/active|extend   share links (operators)   shares.tsx
 *
 * Errors: an `HTTPException` (bad input 400, unknown thing 404) becomes a small HTML page, or
 * `{ "error": "..." }` for JSON clients (`/healthz`, `/api/*`, `Accept: application/json`), or
 * one plain-text line for playlists, media, assets and htmx requests (client.js shows it in the
 * page's flash area). Unexpected errors are 500 "internal error" (the detail goes to the log,
 * never to the page).
 */
import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { log } from "../log.ts";
import { Layout, renderer, sessionOf } from "./layout.tsx";
import { depsMiddleware, type WebDeps, type WebEnv } from "./env.ts";
import { PERMISSIONS, securityMiddleware, type PermissionRule } from "./auth/index.ts";
import { authRoutes } from "./routes/auth.tsx";
import { userRoutes } from "./routes/users.tsx";
import { platesRoutes } from "./routes/plates.tsx";
import { exportRoutes } from "./routes/exports.tsx";
import { snapshotRoutes } from "./routes/snapshots.tsx";
import { apiRoutes } from "./routes/api.tsx";
import { assetRoutes } from "./routes/assets.ts";
import { healthzRoutes } from "./routes/healthz.ts";
import { dashboardRoutes } from "./routes/dashboard.tsx";
import { liveRoutes } from "./routes/live.tsx";
import { cameraRoutes } from "./routes/cameras.tsx";
import { liveStreamRoutes } from "./routes/liveStream.ts";
import { tripRoutes } from "./routes/trips.tsx";
import { mediaRoutes } from "./routes/media.ts";
import { eventRoutes } from "./routes/events.tsx";
import { healthRoutes } from "./routes/health.tsx";
import { inventoryRoutes } from "./routes/inventory.tsx";
import { timelapseRoutes, tripTimelapseRoutes } from "./routes/timelapses.tsx";
import { cameraSettingsRoutes } from "./routes/cameraSettings.tsx";
import { diagnosticsRoutes } from "./routes/diagnostics.tsx";
import { myFootageRoutes } from "./routes/myFootage.tsx";
import { pwaRoutes } from "./routes/pwa.ts";
import { publicShareRoutes } from "./routes/sharePublic.tsx";
import { shareRoutes } from "./routes/shares.tsx";
import { NO_PAGE } from "./words.ts";

export type { WebActions, WebDeps, WebEnv } from "./env.ts";

/**
 * Rules for mutating routes of this app that the shared table (src/web/auth/permissions.ts)
 * does not list (none today: every route's rule lives there). A route added without a rule is
 * refused by `authorize()` (deny by default) and fails test/webapp-security.test.ts.
 */
export const EXTRA_PERMISSIONS: readonly PermissionRule[] = [
  { method: "POST", path: "/timelapses", role: "operator", what: "make a manual timelapse" },
  { method: "POST", path: "/timelapses/cameras/:key/checkpoint", role: "operator", what: "keep a copy of the continuous timelapse now" },
  { method: "POST", path: "/timelapses/:id/delete", role: "operator", what: "cancel and delete a timelapse" },
  { method: "POST", path: "/trips/:id/timelapse", role: "operator", what: "make a timelapse of a trip's footage" },
  { method: "GET", path: "/shares", role: "operator", what: "share links: list, search" },
  { method: "GET", path: "/shares/new", role: "operator", what: "the form for a new share link" },
  { method: "GET", path: "/shares/:id/qr.svg", role: "operator", what: "the QR code of a share link" },
  { method: "POST", path: "/shares", role: "operator", what: "make a public share link" },
  { method: "POST", path: "/shares/:id/active", role: "operator", what: "turn a share link off or on" },
  { method: "POST", path: "/shares/:id/extend", role: "operator", what: "give a share link a new expiry" },
  { method: "GET", path: "/share/:token/theme.css", role: "public", what: "a share page's theme colour" },
  { method: "GET", path: "/share/:token/video/:file", role: "public", what: "a share's video N (inline)" },
  { method: "GET", path: "/share/:token/poster/:file", role: "public", what: "a share's poster frame N" },
  { method: "GET", path: "/share/:token/frames/:file", role: "public", what: "a gallery share's frame N" },
];

/** The permission table this app enforces: the shared one plus `EXTRA_PERMISSIONS` not already in it. */
export const WEB_PERMISSIONS: readonly PermissionRule[] = [
  ...PERMISSIONS,
  ...EXTRA_PERMISSIONS.filter((x) => !PERMISSIONS.some((p) => p.method === x.method && p.path === x.path)),
];

/**
 * Request body limits, bytes. Checked before anything reads a body (the CSRF check parses forms),
 * by `Content-Length` when the client sends one, else by counting a chunked body as it arrives:
 * an anonymous client cannot make the runtime buffer a large upload. The login, setup and logout
 * forms are a few hundred bytes; every other form and JSON request of the UI and API is small
 * too (no route takes uploads). The server's own cap is `MAX_REQUEST_BODY_BYTES` (server.ts).
 */
export const BODY_LIMITS = { auth: 8 * 1024, default: 64 * 1024 } as const;

/** `bodyLimit` answering 413 with the limit in the reason. */
const limitBody = (maxSize: number) =>
  bodyLimit({ maxSize, onError: (c) => errorResponse(c, 413, `request body too large: at most ${maxSize / 1024} KiB here`) });

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
  if (path === "/healthz" || path.endsWith(".json") || path.startsWith("/api/")) return "json";
  if (path.endsWith(".m3u8") || path.endsWith(".jpg") || path.endsWith("/live.ts") || path.startsWith("/media/") || path.startsWith("/assets/") || path === "/live") return "text";
  if (c.req.header("HX-Request") === "true" || path.endsWith("/download")) return "text";
  const accept = c.req.header("Accept") ?? "";
  if (accept.includes("application/json") && !accept.includes("text/html")) return "json";
  return "html";
}

const TITLES: Record<number, string> = {
  400: "Bad request",
  403: "Forbidden",
  404: "Not found",
  405: "Not allowed",
  409: "Conflict",
  413: "Too large",
  416: "Range not satisfiable",
  429: "Too many requests",
  503: "Not available",
};

/** Renders an error in the form the client expects. */
export function errorResponse(c: Context, status: ContentfulStatusCode, message: string): Response | Promise<Response> {
  const kind = responseKind(c);
  c.header("Cache-Control", "no-store");
  if (kind === "json") return c.json({ error: message }, status);
  if (kind === "text") return c.text(`${status} ${message}\n`, status);
  const title = TITLES[status] ?? (status >= 500 ? "Server error" : "Error");
  const { user, csrf } = sessionOf(c);
  const page = (
    <Layout title={title} live={false} user={user} csrf={csrf}>
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
  app.use("*", depsMiddleware(deps));
  app.use("*", async (c, next) => {
    await next();
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "same-origin");
    // A page that set its own CSP keeps it: only the share embed player does (frame-ancestors *),
    // and it alone goes without X-Frame-Options; every other page refuses to be framed.
    const own = c.res.headers.get("Content-Security-Policy");
    if (!own?.includes("frame-ancestors *")) c.header("X-Frame-Options", "DENY");
    if (!own && (c.res.headers.get("Content-Type") ?? "").startsWith("text/html")) c.header("Content-Security-Policy", CSP);
  });

  // Public: no session needed (assets for the login page, health for monitoring).
  app.route("/assets", assetRoutes());
  app.route("/", healthzRoutes());
  // Public share links: no session is read and no cookie set (sharePublic.tsx).
  app.route("/", publicShareRoutes());

  // Body limits before the security middleware: the CSRF check reads form bodies.
  for (const path of ["/login", "/setup", "/logout"]) app.use(path, limitBody(BODY_LIMITS.auth));
  app.use("*", limitBody(BODY_LIMITS.default));

  // Security for everything mounted below: session -> CSRF -> permission table.
  for (const mw of securityMiddleware({ db: deps.db, table: WEB_PERMISSIONS })) app.use("*", mw);
  // Extra guards (tests, deployments): after the security middleware.
  for (const mw of deps.middleware ?? []) app.use("*", mw);

  // Public by rule (manifest, service worker): after the security middleware, before the layout.
  app.route("/", pwaRoutes());
  app.use("*", renderer);
  app.route("/", authRoutes());
  app.route("/users", userRoutes());
  app.route("/", dashboardRoutes());
  app.route("/", liveRoutes());
  app.route("/cameras", liveStreamRoutes());
  app.route("/cameras", cameraRoutes());
  app.route("/cameras", cameraSettingsRoutes());
  app.route("/cameras", healthRoutes());
  app.route("/cameras", inventoryRoutes());
  app.route("/trips", tripRoutes());
  app.route("/trips", tripTimelapseRoutes());
  app.route("/media", mediaRoutes());
  app.route("/events", eventRoutes());
  app.route("/timelapses", timelapseRoutes());
  app.route("/plates", platesRoutes());
  app.route("/exports", exportRoutes());
  app.route("/", snapshotRoutes());
  app.route("/api", apiRoutes());
  app.route("/diagnostics", diagnosticsRoutes());
  app.route("/my-footage", myFootageRoutes());
  app.route("/shares", shareRoutes());

  app.notFound((c) => errorResponse(c, 404, NO_PAGE));
  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      if (err.status === 503) log.warn(`web ${c.req.path}: ${err.message}`);
      else if (err.status >= 500) log.error(`web ${c.req.path}: ${err.message}`);
      return errorResponse(c, err.status as ContentfulStatusCode, err.message);
    }
    log.error(`web ${c.req.path} failed: ${String((err as Error)?.stack ?? err)}`);
    return errorResponse(c, 500, "internal error");
  });
  return app;
}
