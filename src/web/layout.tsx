/** @jsxImportSource hono/jsx */
/**
 * The one page layout (a `jsxRenderer`): viewport for phones, embedded CSS and scripts, a slim
 * top bar with the name, a bottom tab bar like a phone app (`TABS`: the four places a driver
 * uses most, and "More", a menu of every other place, `MORE`) that fits a 360 px screen without
 * scrolling sideways, and `<main hx-ext="sse" sse-connect="/live">` so any element of a page with
 * `sse-swap="<event>"` is refreshed by the live stream without a reload. Logged-in pages also
 * get the `#alerts` region (fixed above the tab bar): each SSE `alert` (a watchlisted plate
 * read) is prepended there as a toast until dismissed. A new place is one line in `MORE`.
 *
 * Security: `<body hx-headers='{"X-CSRF-Token": ...}'>` carries the session's CSRF token (or
 * the pre-session token on the login page) so every htmx request sends it; plain forms carry
 * a hidden `_csrf` field (`CsrfField`). The tab bar shows only with a session, "More" lists
 * only the places the user's role may open; the footer shows who is logged in and a Log out
 * button.
 *
 * Installable: the web app manifest, theme colour and icons are linked here, and client.js
 * registers the service worker named by `data-sw` (app shell only, see routes/pwa.ts).
 *
 * `c.render(content, { title, live, nav })`: `live: false` leaves the SSE connection out.
 */
import type { Child, FC } from "hono/jsx";
import type { Context } from "hono";
import { jsxRenderer } from "hono/jsx-renderer";
import { assetUrl } from "./assets.ts";
import { VERSION } from "../version.ts";
import { THEME_COLOR } from "./routes/pwa.ts";
import { csrfHxHeaders, CsrfField } from "./auth/csrf.ts";
import type { SessionUser } from "./auth/middleware.ts";
import { hasRole, type Role } from "../db/users.ts";

declare module "hono" {
  interface ContextRenderer {
    (content: string | Promise<string>, props?: { title?: string; live?: boolean; nav?: NavKey }): Response | Promise<Response>;
  }
}

/** A place in the navigation: its key (a page's `nav`), link, label and the least role that sees it. */
export interface NavItem {
  key: string;
  href: string;
  label: string;
  role?: Role;
}

/** The bottom tab bar: the places a driver uses most (the fifth tab is "More"). */
const TABS = [
  { key: "dashboard", href: "/", label: "Home" },
  { key: "trips", href: "/trips", label: "Footage" },
  { key: "mine", href: "/my-footage", label: "My footage" },
  { key: "events", href: "/events", label: "Events" },
] as const satisfies readonly NavItem[];

/** Every other place, under "More", in this order; `role`: only for users with at least that role. */
const MORE = [
  { key: "plates", href: "/plates", label: "Plates" },
  { key: "timelapses", href: "/timelapses", label: "Timelapses" },
  { key: "exports", href: "/exports", label: "Exports" },
  { key: "shares", href: "/shares", label: "Shares", role: "operator" },
  { key: "diagnostics", href: "/diagnostics", label: "Diagnostics", role: "operator" },
  { key: "users", href: "/users", label: "Users", role: "admin" },
] as const satisfies readonly NavItem[];

/** What a page passes as `nav` to mark its place: a key of `TABS` or `MORE`, or "none". */
export type NavKey = (typeof TABS)[number]["key"] | (typeof MORE)[number]["key"] | "none";

/** The tab bar and its "More" menu for `user`, marking page `nav` as the current one. */
const TabBar: FC<{ user: SessionUser; nav: NavKey }> = ({ user, nav }) => {
  const more = (MORE as readonly NavItem[]).filter((n) => !n.role || hasRole(user.role, n.role));
  const inMore = more.some((n) => n.key === nav);
  return (
    <nav class="tabs" aria-label="main">
      {(TABS as readonly NavItem[]).map((n) => (
        <a href={n.href} aria-current={n.key === nav ? "page" : undefined}>
          {n.label}
        </a>
      ))}
      <details class={inMore ? "more current" : "more"}>
        <summary>More</summary>
        <ul class="more-menu">
          {more.map((n) => (
            <li>
              <a href={n.href} aria-current={n.key === nav ? "page" : undefined}>
                {n.label}
              </a>
            </li>
          ))}
        </ul>
      </details>
    </nav>
  );
};

/**
 * htmx settings: no eval, no inline indicator styles (CSP). 4xx/5xx responses are not swapped
 * (htmx's default); client.js shows their one-line text in the page's `#flash` area instead.
 */
const HTMX_CONFIG = JSON.stringify({ includeIndicatorStyles: false, allowEval: false, allowScriptTags: false });

export interface LayoutProps {
  title: string;
  live?: boolean;
  nav?: NavKey;
  /** CSRF token for `hx-headers` and the logout form; absent on error pages made before the session was read. */
  csrf?: string;
  user?: SessionUser | null;
  children?: Child;
}

/** The whole HTML document around a page's content. */
export const Layout: FC<LayoutProps> = ({ title, live = true, nav = "none", csrf, user, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover" />
      <meta name="color-scheme" content="dark light" />
      <meta name="htmx-config" content={HTMX_CONFIG} />
      <title>{`${title} · dashcam`}</title>
      <meta name="theme-color" content={THEME_COLOR} />
      <link rel="manifest" href="/manifest.webmanifest" />
      <link rel="icon" type="image/png" href={assetUrl("icon-192.png")} />
      <link rel="apple-touch-icon" href={assetUrl("icon-192.png")} />
      <link rel="stylesheet" href={assetUrl("style.css")} />
      <script src={assetUrl("htmx.min.js")} defer></script>
      <script src={assetUrl("sse.min.js")} defer></script>
      <script src={assetUrl("client.js")} defer data-hlsjs={assetUrl("hls.min.js")} data-mpegts={assetUrl("mpegts.js")} data-sw="/sw.js"></script>
    </head>
    <body hx-headers={csrf ? csrfHxHeaders(csrf) : undefined} class={user ? "has-tabs" : undefined}>
      <header class="topbar">
        <a class="brand" href="/">
          dashcam
        </a>
      </header>
      {user ? <TabBar user={user} nav={nav} /> : null}
      {live && user ? (
        <main hx-ext="sse" sse-connect="/live">
          <div class="alerts" id="alerts" sse-swap="alert" hx-swap="afterbegin" aria-label="alerts"></div>
          <div id="flash" class="flash" role="status" aria-live="polite" hidden></div>
          {children}
        </main>
      ) : (
        <main>
          <div id="flash" class="flash" role="status" aria-live="polite" hidden></div>
          {children}
        </main>
      )}
      <footer class="foot">
        {user ? (
          <div class="account">
            <span>
              {user.username} <span class="muted">({user.role})</span>
            </span>
            {csrf ? (
              <form method="post" action="/logout" class="inline">
                <CsrfField token={csrf} />
                <button type="submit" class="plain">
                  Log out
                </button>
              </form>
            ) : null}
          </div>
        ) : null}
        <p>dashcam {VERSION}</p>
      </footer>
    </body>
  </html>
);

/** The session's user and CSRF token of a request, when the security middleware ran. */
export function sessionOf(c: Context): { user: SessionUser | null; csrf: string | undefined } {
  const vars = c.var as { user?: SessionUser | null; csrfToken?: string };
  return { user: vars.user ?? null, csrf: vars.csrfToken };
}

/** The jsxRenderer middleware every page uses. */
export const renderer = jsxRenderer(({ children, title, live, nav }, c) => {
  const { user, csrf } = sessionOf(c);
  return (
    <Layout title={title ?? "dashcam"} live={live as boolean | undefined} nav={nav as NavKey | undefined} csrf={csrf} user={user}>
      {children}
    </Layout>
  );
});
