/** @jsxImportSource hono/jsx */
/**
 * Public share links (seed 004), no login: mounted before the security middleware, so these
 * routes read no session and set no cookie. The token (a UUID v4) is the only secret.
 *
 * - `GET /share/:token` — the share page: `video_only` the video; `info_page` its videos in
 *   display order, each with its own title and, when `show_metadata`, camera, dates and length;
 *   `gallery` the frames of a timelapse (at most `GALLERY_MAX_FRAMES`, evenly spread). OpenGraph tags (og:title, og:description, og:image =
 *   the poster frame under this token, og:video) so a link previews in a chat app. Counts a view.
 * - `GET /share/:token/video/:n` (`N.mp4`, N = position 1..) — item N's video, inline, with
 *   Range for files; a saved trip's MP4 is made while it is sent (no Range).
 * - `GET /share/:token/poster/:n` (`N.jpg`) — item N's poster frame (a timelapse's last image,
 *   a trip's first frame, a clip's first frame).
 * - `GET /share/:token/frames/:n` (`N.jpg`, N = 1..frames) — a gallery's frame N.
 * - `GET /share/:token/theme.css` — the share's theme colour as `--share-accent` (pages allow no
 *   inline styles; style.css falls back to seed 004's #007bff).
 * - `GET /share/:token/download[?item=N]` — only when `download_enabled`: item N's video
 *   (default 1) as an attachment, Range for files, the on-the-fly MP4 for a saved trip.
 * - `GET /embed/:token` — only when `embed_enabled`: a bare player of the first video. The one
 *   page allowed in a frame of another site (`Content-Security-Policy: frame-ancestors *` and no
 *   X-Frame-Options); every other page keeps `frame-ancestors 'none'` and `X-Frame-Options: DENY`.
 *
 * Unknown, inactive and expired tokens, a malformed token, a switched-off download or embed and
 * any other path under `/share/` or `/embed/` all get the same 404 (`NO_PAGE`, the message of
 * every missing page): a link reveals nothing about whether it once worked. Every request under
 * `/share/` and `/embed/` counts against a per-IP limit (`shareRequestsPerMinute`, default 300
 * a minute; hono-rate-limiter); beyond it 429 with Retry-After. A share page shows nothing else
 * of the system: no camera URL or hash, no ids, no link into the app.
 */
import { Hono, type Context } from "hono";
import type { FC } from "hono/jsx";
import { HTTPException } from "hono/http-exception";
import { rateLimiter } from "hono-rate-limiter";
import { activeShareByToken, countShareView, shareCustomization, shareItems, SHARE_TOKEN_RE, type ShareItem, type ShareRow } from "../../db/shares.ts";
import { batchPosterImage } from "../../db/timelapse.ts";
import { galleryFrames, shareVideo, type ShareVideo } from "../../media/shares.ts";
import { streamTripMp4, TripStreamsBusyError } from "../../media/tripMp4.ts";
import { idOfPath } from "../exportJobs.ts";
import { exportThumbnail, tripThumbnail } from "../thumbs.ts";
import { fileDownload } from "../download.ts";
import { assetUrl } from "../assets.ts";
import { formatDuration, whenText } from "../format.ts";
import { clientIp } from "../auth/rateLimit.ts";
import { NO_PAGE } from "../words.ts";
import { resolveInside } from "../../paths.ts";
import type { WebEnv } from "../env.ts";

/**
 * Requests per IP per minute on share routes unless `WebDeps.shareRequestsPerMinute` says
 * otherwise: a page, its posters, a gallery's pictures and a player's range requests fit many
 * times over; guessing tokens does not (122 random bits).
 */
export const SHARE_REQUESTS_PER_MINUTE = 300;

/** Pictures a gallery page shows at most, spread evenly over the timelapse (the rest stay in the video). */
export const GALLERY_MAX_FRAMES = 120;

/** Positions (1-based) of at most `max` of `n` frames, evenly spread, first and last included. */
export function galleryPositions(n: number, max = GALLERY_MAX_FRAMES): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i + 1);
  return Array.from({ length: max }, (_, i) => 1 + Math.round((i * (n - 1)) / (max - 1)));
}

/** CSP of the embed player: its own media and styles, and any site may frame it. */
export const EMBED_CSP = "default-src 'none'; media-src 'self'; img-src 'self'; style-src 'self'; frame-ancestors *; base-uri 'none'; form-action 'none'";

const notFound = (): never => {
  throw new HTTPException(404, { message: NO_PAGE });
};

/** The active, unexpired share of the request's token, else the 404. */
function loadShare(c: Context<WebEnv>): ShareRow {
  const token = c.req.param("token") ?? "";
  if (!SHARE_TOKEN_RE.test(token)) notFound();
  return activeShareByToken(c.var.deps.db, token) ?? notFound();
}

/** `N.ext` (N = 1..999999) -> N, else the 404. */
function position(file: string | undefined, ext: string): number {
  const m = new RegExp(`^([1-9]\\d{0,5})\\.${ext}$`).exec(file ?? "");
  return m ? Number(m[1]) : notFound();
}

/** Items of a share that have something to show, with their videos (all for a gallery). */
function playable(c: Context<WebEnv>, share: ShareRow): { item: ShareItem; video: ShareVideo | null }[] {
  const { db, dataDir } = c.var.deps;
  const items = shareItems(db, share.id).map((item) => ({ item, video: shareVideo(db, dataDir, item) }));
  return share.share_type === "gallery" ? items : items.filter((x) => x.video !== null);
}

/** The title of an item on an info page: its own, else camera and kind. */
function itemTitle(item: ShareItem): string {
  if (item.custom_title) return item.custom_title;
  const cam = item.camera_name ?? "";
  if (item.kind === "batch") return `${cam} timelapse`.trim();
  if (item.kind === "trip") return `${cam} drive`.trim();
  return /-\d+s-[^/]+\.mp4$/.test(item.clip_path ?? "") ? "Incident clip" : "Video clip";
}

/** One line about an item: camera, when (24 h, UTC), day counter, length. */
function itemFacts(item: ShareItem, options: ReturnType<typeof shareCustomization>["display_options"]): string {
  const parts: string[] = [];
  if (options.show_camera_info && item.camera_name) parts.push(item.camera_name);
  if (options.show_date_range && item.start_utc !== null) {
    const end = item.end_utc;
    // a drive: when it started and how long it was; a timelapse: the span of its pictures
    if (item.kind === "trip") parts.push(`${whenText(item.start_utc)} UTC${end !== null ? ` · ${formatDuration(end - item.start_utc)}` : ""}`);
    else parts.push(end !== null && whenText(end) !== whenText(item.start_utc) ? `${whenText(item.start_utc)} – ${whenText(end)} UTC` : `${whenText(item.start_utc)} UTC`);
  }
  if (options.show_day_counter && item.day_range_start !== null)
    parts.push(item.day_range_end !== null && item.day_range_end !== item.day_range_start ? `days ${item.day_range_start}–${item.day_range_end}` : `day ${item.day_range_start}`);
  if (item.duration_seconds !== null) parts.push(formatDuration(item.duration_seconds * 1000));
  if (options.show_technical_info && item.total_frames !== null) parts.push(`${item.total_frames} frames at ${item.frame_rate} frames/s`);
  if (options.show_generation_time && item.made_at !== null) parts.push(`made ${whenText(item.made_at)} UTC`);
  return parts.join(" · ");
}

/**
 * Black or white, whichever contrasts more with `hex` (#rrggbb): WCAG 2.x relative luminance
 * and contrast ratio (https://www.w3.org/TR/WCAG21/#dfn-relative-luminance), so text on a
 * share's own colour stays readable.
 */
export function textColorOn(hex: string): "#000000" | "#ffffff" {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? "#000000" : "#ffffff";
}

const ogText = (s: string) => s.replace(/\s+/g, " ").trim().slice(0, 300);

const ShareHead: FC<{ share: ShareRow; base: string; origin: string; video: boolean; poster: boolean }> = ({ share, base, origin, video, poster }) => (
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover" />
    <meta name="color-scheme" content="dark light" />
    <meta name="robots" content="noindex, nofollow" />
    <meta name="referrer" content="no-referrer" />
    <title>{share.title}</title>
    <meta property="og:type" content={video ? "video.other" : "website"} />
    <meta property="og:title" content={ogText(share.title)} />
    <meta property="og:description" content={ogText(share.description ?? share.title)} />
    <meta property="og:url" content={`${origin}${base}`} />
    {poster ? <meta property="og:image" content={`${origin}${base}/poster/1.jpg`} /> : null}
    {video ? <meta property="og:video" content={`${origin}${base}/video/1.mp4`} /> : null}
    {video ? <meta property="og:video:type" content="video/mp4" /> : null}
    <meta name="twitter:card" content={video || poster ? "summary_large_image" : "summary"} />
    {/* an icon named here keeps the browser from asking for /favicon.ico (an app path, which would set a cookie) */}
    <link rel="icon" type="image/png" href={assetUrl("icon-192.png")} />
    <link rel="stylesheet" href={assetUrl("style.css")} />
    <link rel="stylesheet" href={`${base}/theme.css`} />
  </head>
);

/** The request's origin for absolute OpenGraph URLs (`X-Forwarded-Proto`/`-Host` only with `trustProxy`). */
function originOf(c: Context<WebEnv>): string {
  const url = new URL(c.req.url);
  if (c.var.deps.trustProxy) {
    const proto = c.req.header("x-forwarded-proto")?.split(",")[0]?.trim();
    const host = c.req.header("x-forwarded-host")?.split(",")[0]?.trim();
    if (host && /^[A-Za-z0-9.:[\]-]+$/.test(host)) return `${proto === "https" ? "https" : "http"}://${host}`;
  }
  return url.origin;
}

const html = (c: Context<WebEnv>, body: string) => {
  c.header("Cache-Control", "no-store");
  return c.html(`<!DOCTYPE html>${body}`);
};

/** Serves a share video inline or as a download (`attachment`). */
async function sendVideo(c: Context<WebEnv>, video: ShareVideo, attachment: boolean): Promise<Response> {
  if (video.kind === "file") return fileDownload(c, video.path, video.name, "video/mp4", { inline: !attachment });
  const headers: Record<string, string> = {
    "Content-Type": "video/mp4",
    ...(attachment ? { "Content-Disposition": `attachment; filename="${video.name}"` } : {}),
    "Accept-Ranges": "none",
    "Cache-Control": "private, no-cache",
  };
  // HEAD runs this handler too and drops the body: answer without starting ffmpeg
  if (c.req.method === "HEAD") return new Response(null, { status: 200, headers });
  let mp4;
  try {
    mp4 = streamTripMp4(c.var.deps.db, c.var.deps.dataDir, video.trip);
  } catch (err) {
    if (err instanceof TripStreamsBusyError) throw new HTTPException(503, { message: err.message });
    throw err;
  }
  if (!mp4) notFound();
  return new Response(mp4!.body, { status: 200, headers });
}

export function publicShareRoutes() {
  const app = new Hono<WebEnv>();

  const limit = rateLimiter<WebEnv>({
    windowMs: 60_000,
    limit: (c) => c.var.deps.shareRequestsPerMinute ?? SHARE_REQUESTS_PER_MINUTE,
    standardHeaders: false,
    keyGenerator: (c) => clientIp(c, c.var.deps.trustProxy),
    handler: (c) => {
      const info = c.get("rateLimit" as never) as { resetTime?: Date } | undefined;
      const wait = info?.resetTime ? Math.max(1, Math.ceil((info.resetTime.getTime() - Date.now()) / 1000)) : 60;
      c.header("Retry-After", String(wait));
      throw new HTTPException(429, { message: `too many requests from this address: try again in ${wait} s` });
    },
  });
  app.use("/share/*", limit);
  app.use("/embed/*", limit);

  app.get("/share/:token", (c) => {
    const share = loadShare(c);
    const { db, dataDir } = c.var.deps;
    const items = playable(c, share);
    if (items.length === 0) notFound();
    const custom = shareCustomization(db, share.id);
    const base = `/share/${share.share_token}`;
    const options = custom.display_options;
    if (c.req.method === "GET") countShareView(db, share.id); // a HEAD is no view
    const first = items[0]!;
    const hasVideo = first.video !== null;
    const gallery = share.share_type === "gallery" ? galleryFrames(db, dataDir, first.item) : [];
    if (share.share_type === "gallery" && gallery.length === 0) notFound();
    const download = (n: number) =>
      share.download_enabled ? (
        <a class="button primary" href={n === 1 ? `${base}/download` : `${base}/download?item=${n}`} download>
          Download video
        </a>
      ) : null;
    const page = (
      <html lang="en">
        <ShareHead share={share} base={base} origin={originOf(c)} video={hasVideo} poster={true} />
        <body class="share-page">
          <main class="share">
            <h1>{share.title}</h1>
            {share.description ? <p class="share-description">{share.description}</p> : null}
            {share.share_type === "gallery" ? (
              <>
                {first.item.show_metadata ? <p class="muted">{itemFacts(first.item, options)}</p> : null}
                <div class={options.layout === "list" ? "share-gallery list" : "share-gallery"}>
                  {galleryPositions(gallery.length).map((n) => (
                    <a href={`${base}/frames/${n}.jpg`}>
                      <img src={`${base}/frames/${n}.jpg`} alt={`Frame ${n}`} loading="lazy" />
                    </a>
                  ))}
                </div>
                {hasVideo ? download(1) : null}
              </>
            ) : (
              items.map(({ item }, i) => (
                <section class="share-item">
                  {share.share_type === "info_page" ? <h2>{itemTitle(item)}</h2> : null}
                  <video class="share-video" controls playsinline preload="metadata" src={`${base}/video/${i + 1}.mp4`} poster={`${base}/poster/${i + 1}.jpg`}></video>
                  {item.show_metadata ? <p class="muted">{itemFacts(item, options)}</p> : null}
                  {download(i + 1)}
                </section>
              ))
            )}
          </main>
        </body>
      </html>
    );
    return html(c, page.toString());
  });

  app.get("/share/:token/theme.css", (c) => {
    const share = loadShare(c);
    const color = shareCustomization(c.var.deps.db, share.id).primary_color;
    const safe = /^#[0-9a-fA-F]{6}$/.test(color) ? color : "#007bff";
    return c.body(`:root { --share-accent: ${safe}; --share-accent-text: ${textColorOn(safe)}; }\n`, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": "no-store" });
  });

  app.get("/share/:token/video/:file", async (c) => {
    const share = loadShare(c);
    const n = position(c.req.param("file"), "mp4");
    const video = playable(c, share)[n - 1]?.video ?? notFound();
    return sendVideo(c, video, false);
  });

  app.get("/share/:token/poster/:file", async (c) => {
    const share = loadShare(c);
    const n = position(c.req.param("file"), "jpg");
    const entry = playable(c, share)[n - 1] ?? notFound();
    const { db, dataDir } = c.var.deps;
    const item = entry.item;
    let path: string | null = null;
    try {
      if (item.kind === "batch" && item.ref_id !== null) {
        const img = batchPosterImage(db, item.ref_id);
        path = img ? resolveInside(dataDir, img.file_path) : null;
      } else if (item.kind === "trip" && item.ref_id !== null) {
        path = await tripThumbnail(db, dataDir, item.ref_id, c.var.gate);
      } else if (entry.video?.kind === "file" && item.clip_path) {
        path = await exportThumbnail(dataDir, idOfPath(item.clip_path), entry.video.path, c.var.gate);
      }
    } catch {
      path = null;
    }
    if (!path) notFound();
    const file = Bun.file(path!);
    if (!(await file.exists())) notFound();
    return new Response(file, { headers: { "Content-Type": "image/jpeg", "Cache-Control": "private, max-age=300" } });
  });

  app.get("/share/:token/frames/:file", async (c) => {
    const share = loadShare(c);
    if (share.share_type !== "gallery") notFound();
    const n = position(c.req.param("file"), "jpg");
    const item = shareItems(c.var.deps.db, share.id)[0] ?? notFound();
    const frame = galleryFrames(c.var.deps.db, c.var.deps.dataDir, item)[n - 1] ?? notFound();
    return new Response(Bun.file(resolveInside(c.var.deps.dataDir, frame.file_path)), {
      headers: { "Content-Type": "image/jpeg", "Cache-Control": "private, max-age=300" },
    });
  });

  app.get("/share/:token/download", async (c) => {
    const share = loadShare(c);
    if (!share.download_enabled) notFound();
    const raw = c.req.query("item") ?? "1";
    const n = /^[1-9]\d{0,5}$/.test(raw) ? Number(raw) : notFound();
    const video = playable(c, share)[n - 1]?.video ?? notFound();
    return sendVideo(c, video, true);
  });

  app.get("/embed/:token", (c) => {
    const share = loadShare(c);
    if (!share.embed_enabled) notFound();
    const items = playable(c, share);
    const first = items[0] ?? notFound();
    if (!first.video) notFound();
    if (c.req.method === "GET") countShareView(c.var.deps.db, share.id);
    const base = `/share/${share.share_token}`;
    const page = (
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="robots" content="noindex, nofollow" />
          <meta name="referrer" content="no-referrer" />
          <title>{share.title}</title>
          <link rel="icon" type="image/png" href={assetUrl("icon-192.png")} />
          <link rel="stylesheet" href={assetUrl("style.css")} />
        </head>
        <body class="share-embed">
          <video class="share-video" controls playsinline preload="metadata" src={`${base}/video/1.mp4`} poster={`${base}/poster/1.jpg`} title={share.title}></video>
        </body>
      </html>
    );
    c.header("Content-Security-Policy", EMBED_CSP);
    return html(c, page.toString());
  });

  // any other path under /share/ or /embed/: the same 404 as an unknown token
  app.all("/share/*", () => notFound());
  app.all("/embed/*", () => notFound());
  return app;
}
