/**
 * The one page layout (a `jsxRenderer`): viewport for phones, embedded CSS and scripts, a
 * top bar with big touch targets, and `<main hx-ext="sse" sse-connect="/live">` so any element
 * of a page with `sse-swap="<event>"` is refreshed by the live stream without a reload.
 *
 * `c.render(content, { title, live })`: `live: false` leaves the SSE connection out.
 */
import type { Child, FC } from "hono/jsx";
import { jsxRenderer } from "hono/jsx-renderer";
import { assetUrl } from "./assets.ts";
import { VERSION } from "../version.ts";

declare module "hono" {
  interface ContextRenderer {
    (content: string | Promise<string>, props?: { title?: string; live?: boolean; nav?: NavKey }): Response | Promise<Response>;
  }
}

export type NavKey = "dashboard" | "trips" | "events" | "none";

const NAV: { key: NavKey; href: string; label: string }[] = [
  { key: "dashboard", href: "/", label: "Cameras" },
  { key: "trips", href: "/trips", label: "Trips" },
  { key: "events", href: "/events", label: "Events" },
];

export interface LayoutProps {
  title: string;
  live?: boolean;
  nav?: NavKey;
  children?: Child;
}

/** The whole HTML document around a page's content. */
export const Layout: FC<LayoutProps> = ({ title, live = true, nav = "none", children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover" />
      <meta name="color-scheme" content="dark light" />
      <meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false}' />
      <title>{`${title} · dashcam`}</title>
      <link rel="icon" href="data:," />
      <link rel="stylesheet" href={assetUrl("style.css")} />
      <script src={assetUrl("htmx.min.js")} defer></script>
      <script src={assetUrl("sse.min.js")} defer></script>
      <script src={assetUrl("client.js")} defer data-hlsjs={assetUrl("hls.min.js")}></script>
    </head>
    <body>
      <header class="topbar">
        <a class="brand" href="/">
          dashcam
        </a>
        <nav>
          {NAV.map((n) => (
            <a href={n.href} aria-current={n.key === nav ? "page" : undefined}>
              {n.label}
            </a>
          ))}
        </nav>
      </header>
      {live ? (
        <main hx-ext="sse" sse-connect="/live">
          <div class="alerts" sse-swap="alert" hx-swap="afterbegin"></div>
          {children}
        </main>
      ) : (
        <main>{children}</main>
      )}
      <footer class="foot">dashcam {VERSION}</footer>
    </body>
  </html>
);

/** The jsxRenderer middleware every page uses. */
export const renderer = jsxRenderer(({ children, title, live, nav }) => (
  <Layout title={title ?? "dashcam"} live={live as boolean | undefined} nav={nav as NavKey | undefined}>
    {children}
  </Layout>
));
