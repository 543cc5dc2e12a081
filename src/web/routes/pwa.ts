/**
 * The installable web app (public by rule in src/web/auth/permissions.ts: a browser fetches the
 * manifest without credentials):
 *
 * - `GET /manifest.webmanifest` — name, `display: standalone`, start URL `/`, theme and
 *   background colour (the UI's dark background), icons 192 and 512 px (embedded PNGs under
 *   `/assets/`, "any" and "maskable").
 * - `GET /sw.js` — the service worker client.js registers. It caches the app shell only: the
 *   embedded, content-hashed `/assets/*` files (cache first; the cache is named after their
 *   hashes, so a new build replaces it). Everything else (pages, which need a session, media,
 *   downloads, SSE) always goes to the network and is never stored; when the dashcam cannot be
 *   reached, a page navigation gets a small built-in "cannot reach the dashcam" page instead
 *   of the browser's error. No footage is ever available offline.
 */
import { Hono } from "hono";
import { ASSETS, assetUrl, type AssetName } from "../assets.ts";
import type { WebEnv } from "../env.ts";

/** The UI's background colour (style.css `--bg`), used as theme and splash colour. */
export const THEME_COLOR = "#0f1216";

/** The web app manifest (W3C Web Application Manifest). */
export function manifest(): Record<string, unknown> {
  const icon = (name: AssetName, size: number, purpose: string) => ({ src: assetUrl(name), sizes: `${size}x${size}`, type: "image/png", purpose });
  return {
    name: "dashcam",
    short_name: "dashcam",
    description: "Your dashcam: live cameras, saved drives and incidents.",
    id: "/",
    start_url: "/",
    scope: "/",
    display: "standalone",
    orientation: "any",
    background_color: THEME_COLOR,
    theme_color: THEME_COLOR,
    icons: [icon("icon-192.png", 192, "any"), icon("icon-512.png", 512, "any"), icon("icon-512.png", 512, "maskable")],
  };
}

/** The service worker's source: the shell's asset URLs and a cache name derived from their hashes. */
export function serviceWorker(): string {
  const names: AssetName[] = ["style.css", "htmx.min.js", "sse.min.js", "client.js", "icon-192.png"];
  const shell = names.map((n) => assetUrl(n));
  const version = Bun.hash([...ASSETS.values()].map((a) => a.hash).join(",")).toString(16);
  return `// dashcam service worker: app shell only (see src/web/routes/pwa.ts)
"use strict";
const CACHE = "dashcam-shell-${version}";
const SHELL = ${JSON.stringify(shell)};
const OFFLINE = '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
  '<title>Offline · dashcam</title></head><body style="font:16px system-ui;background:${THEME_COLOR};color:#e8eaed;padding:1.5rem">' +
  '<h1>Cannot reach the dashcam</h1><p>Connect the phone to the dashcam\\'s Wi-Fi, then try again.</p>' +
  '<p><a style="color:#4ea1ff" href="/">Try again</a></p></body></html>';
self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (e) => {
  e.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k.startsWith("dashcam-shell-") && k !== CACHE).map((k) => caches.delete(k)))).then(() => self.clients.claim()));
});
self.addEventListener("fetch", (e) => {
  const req = e.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/assets/")) {
    // content-hashed, immutable: cache first, stored once fetched
    e.respondWith(caches.open(CACHE).then((c) => c.match(req).then((hit) => hit || fetch(req).then((res) => {
      if (res.ok) c.put(req, res.clone());
      return res;
    }))));
    return;
  }
  if (req.mode === "navigate") {
    // pages need a session and show live state: always from the network, never stored
    e.respondWith(fetch(req).catch(() => new Response(OFFLINE, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } })));
  }
  // anything else (media, downloads, SSE, fragments): the browser's own network request
});
`;
}

export function pwaRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/manifest.webmanifest", (c) =>
    c.body(JSON.stringify(manifest()), 200, { "Content-Type": "application/manifest+json; charset=utf-8", "Cache-Control": "no-cache" }),
  );
  app.get("/sw.js", (c) =>
    c.body(serviceWorker(), 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache", "Service-Worker-Allowed": "/" }),
  );
  return app;
}
