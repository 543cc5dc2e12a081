/** @jsxImportSource hono/jsx */
/**
 * Shares admin (mounted at `/shares`; operators and admins, see WEB_PERMISSIONS): public links
 * to timelapses, saved trips and incident clips (seed 004; the public side is sharePublic.tsx).
 *
 * - `GET /shares[?q=WORDS]` — every share, newest first, or those whose title or description
 *   matches every word (as a prefix) through the FTS5 index `shares_search`; each card has the
 *   link (copy button), its QR code (`GET /shares/:id/qr.svg`: SVG made on the server by the
 *   `qrcode` package, loaded when the card's "QR code" is opened), state,
 *   expiry, views, and Turn off / Turn on and Extend. htmx asks with `HX-Request` and gets the
 *   list fragment only (the search box searches as you type).
 * - `GET /shares/new[?batch=ID][&trip=ID][&clip=EXPORT_ID]` — the form: what to share
 *   (completed timelapses, saved trips, clip files; the ones named in the query are ticked),
 *   type, title, description, expiry, download, embed, colour, details shown.
 * - `POST /shares` (form: `item` = `batch:ID` | `trip:ID` | `clip:EXPORT_ID`, repeated, in page
 *   order; `title:<item>` per item; `type`, `title`, `description`, `expires` (`7d`, `never`,
 *   ...), `download`, `embed`, `show_metadata`, the seed's display options `show_day_counter`,
 *   `show_technical_info`, `show_generation_time`, `layout` (`grid` | `list`), `color`) — makes the share; htmx gets its card
 *   (201), a plain post a 303 to `/shares#share-<id>`. 400 bad input, 404 an unknown item, 409
 *   an item not ready (a timelapse still rendering, a trip not saved).
 * - `POST /shares/:id/active` (form `active` = `1` | `0`) — turns the link on or off.
 * - `POST /shares/:id/extend` (form `expires` = `1d`, `7d`, ..., `never`) — a new expiry from now.
 * Both answer htmx with the card, a plain post with a 303; 404 for an unknown share.
 */
import { Hono, type Context } from "hono";
import type { FC } from "hono/jsx";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import QRCode from "qrcode";
import { listShares, setShareActive, setShareExpiry, shareById, SHARE_TYPES, type NewShareItem, type ShareListRow, type ShareType } from "../../db/shares.ts";
import { listBatches } from "../../db/timelapse.ts";
import { listTripsFiltered } from "../../db/views.ts";
import { createShare, parseShareLifetime, ShareRequestError } from "../../media/shares.ts";
import { isIncidentClip, incidentMoment, EXPORT_ID_RE } from "../exportJobs.ts";
import { CsrfField } from "../auth/csrf.ts";
import { Time } from "../components/Time.tsx";
import { formatDriveLength } from "../format.ts";
import { shareStateWords } from "../words.ts";
import { isHtmx, userOf } from "../actions.ts";
import { Id, valid } from "../validate.ts";
import type { WebEnv } from "../env.ts";
import { tripEnd } from "../components/Trips.tsx";

const TYPE_WORDS: Record<ShareType, string> = { video_only: "Video", info_page: "Page of videos", gallery: "Picture gallery" };

const Flag = v.optional(v.picklist(["on", "1", "true"]));
const Lifetime = v.pipe(v.string(), v.regex(/^(never|\d{1,5}\s*[mhdwMHDW])$/, "must be like 30m, 12h, 7d, 2w or never"));
const ItemRef = v.pipe(v.string(), v.regex(/^(batch:\d{1,15}|trip:\d{1,15}|clip:[0-9a-f]{16})$/, "must be batch:ID, trip:ID or clip:ID"));

const NewShareForm = v.looseObject({
  item: v.optional(v.union([ItemRef, v.array(ItemRef)])),
  type: v.picklist(SHARE_TYPES, "must be video_only, info_page or gallery"),
  title: v.optional(v.pipe(v.string(), v.maxLength(200, "must be at most 200 characters"))),
  description: v.optional(v.pipe(v.string(), v.maxLength(2000, "must be at most 2000 characters"))),
  expires: v.optional(Lifetime, "7d"),
  download: Flag,
  embed: Flag,
  show_metadata: Flag,
  show_day_counter: Flag,
  show_technical_info: Flag,
  show_generation_time: Flag,
  layout: v.optional(v.picklist(["grid", "list"], "must be grid or list"), "grid"),
  color: v.optional(v.union([v.literal(""), v.pipe(v.string(), v.regex(/^#[0-9a-fA-F]{6}$/, "must be a colour #rrggbb"))])),
  _csrf: v.optional(v.string()),
});
const ActiveForm = v.object({ active: v.picklist(["0", "1"], "must be 0 or 1"), _csrf: v.optional(v.string()) });
const ExtendForm = v.object({ expires: Lifetime, _csrf: v.optional(v.string()) });
const IdParam = v.object({ id: Id });
const SearchQuery = v.object({ q: v.optional(v.pipe(v.string(), v.maxLength(200, "must be at most 200 characters"))) });
const NewQuery = v.object({
  batch: v.optional(Id),
  trip: v.optional(Id),
  clip: v.optional(v.pipe(v.string(), v.regex(EXPORT_ID_RE, "must be an export id (16 hex digits)"))),
});

/** The public URL of a share as this request reaches the server. */
const shareUrl = (c: Context<WebEnv>, token: string) => `${new URL(c.req.url).origin}/share/${token}`;

/** The QR code of `url` as inline SVG (error correction M, 2-module quiet zone). */
const qrSvg = (url: string) => QRCode.toString(url, { type: "svg", errorCorrectionLevel: "M", margin: 2 });

const shareError = (err: unknown): never => {
  if (err instanceof ShareRequestError) throw new HTTPException(err.status, { message: err.message });
  throw err;
};

function loadShare(c: Context<WebEnv>, id: number): ShareListRow {
  return shareById(c.var.deps.db, id) ?? (() => { throw new HTTPException(404, { message: `no share ${id}` }); })();
}

export const ShareCard: FC<{ share: ShareListRow; url: string; csrf: string }> = ({ share, url, csrf }) => {
  const state = shareStateWords(share);
  const target = `#share-${share.id}`;
  return (
    <article class="card share-card" id={`share-${share.id}`}>
      <div class="card-head">
        <h3>{share.title}</h3>
        <span class={`badge ${state.tone}`}>{state.text}</span>
      </div>
      <p class="muted">
        {TYPE_WORDS[share.share_type]} · {share.items} {share.items === 1 ? "item" : "items"} · {share.view_count} {share.view_count === 1 ? "view" : "views"}
        {share.download_enabled ? " · download on" : ""}
        {share.embed_enabled ? " · embedding on" : ""}
      </p>
      <p class="muted">
        {share.expires_at === null ? (
          "Never expires"
        ) : (
          <>
            {share.expires_at > Date.now() ? "Expires " : "Expired "}
            <Time ms={share.expires_at} fmt="when" />
          </>
        )}
      </p>
      <div class="share-link">
        <input type="text" readonly value={url} aria-label="Share link" class="share-url" />
        <button type="button" data-copy={url}>
          Copy link
        </button>
        <a class="button" href={url} target="_blank" rel="noopener noreferrer">
          Open
        </a>
      </div>
      <details class="share-qr">
        <summary>QR code</summary>
        <div class="qr">
          <img src={`/shares/${share.id}/qr.svg`} alt={`QR code of the link ${url}`} width="220" height="220" loading="lazy" />
        </div>
      </details>
      <div class="action-row">
        <form method="post" action={`/shares/${share.id}/active`} hx-post={`/shares/${share.id}/active`} hx-target={target} hx-swap="outerHTML" class="inline">
          <CsrfField token={csrf} />
          <input type="hidden" name="active" value={share.is_active ? "0" : "1"} />
          <button type="submit">{share.is_active ? "Turn off" : "Turn on"}</button>
        </form>
        <form method="post" action={`/shares/${share.id}/extend`} hx-post={`/shares/${share.id}/extend`} hx-target={target} hx-swap="outerHTML" class="inline">
          <CsrfField token={csrf} />
          <select name="expires" aria-label="New expiry">
            <option value="1d">1 day from now</option>
            <option value="7d" selected>
              7 days from now
            </option>
            <option value="30d">30 days from now</option>
            <option value="never">Never expires</option>
          </select>
          <button type="submit">Extend</button>
        </form>
      </div>
    </article>
  );
};

function card(c: Context<WebEnv>, share: ShareListRow) {
  return <ShareCard share={share} url={shareUrl(c, share.share_token)} csrf={c.var.csrfToken} />;
}

function shareList(c: Context<WebEnv>, q: string) {
  const shares = listShares(c.var.deps.db, q, 200);
  const cards = shares.map((s) => card(c, s));
  return (
    <div id="share-list">
      {shares.length === 0 ? <p class="muted">{q ? "No share matches." : "No shares yet. Share a timelapse, a saved trip or an incident clip."}</p> : cards}
    </div>
  );
}

export function shareRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/", valid("query", SearchQuery), async (c) => {
    const q = c.req.valid("query").q ?? "";
    const list = shareList(c, q);
    if (isHtmx(c)) return c.html(list);
    return c.render(
      <>
        <h1>Shares</h1>
        <p>
          <a class="button primary" href="/shares/new">
            New share
          </a>
        </p>
        <form method="get" action="/shares" class="search" role="search" hx-get="/shares" hx-target="#share-list" hx-swap="outerHTML" hx-trigger="input changed delay:300ms from:find input, submit">
          <input type="search" name="q" value={q} placeholder="Search titles and descriptions" aria-label="Search shares" />
          <button type="submit">Search</button>
        </form>
        {list}
      </>,
      { title: "Shares", nav: "shares" },
    );
  });

  app.get("/new", valid("query", NewQuery), (c) => {
    const { db } = c.var.deps;
    const pick = c.req.valid("query");
    // a batch with a video (a continuous one being re-rendered keeps its previous video)
    const batches = listBatches(db, undefined, 500).filter((b) => b.output_path !== null);
    const trips = listTripsFiltered(db, { only: "saved", limit: 200, offset: 0 }).rows.filter((t) => t.status === "saved");
    const clips = c.var.exports.list().filter((j) => j.kind === "clip" && j.state === "done" && j.relPath);
    const Row: FC<{ value: string; checked: boolean; children?: unknown }> = ({ value, checked, children }) => (
      <li class="share-pick">
        <label class="check">
          <input type="checkbox" name="item" value={value} checked={checked} /> <span>{children as never}</span>
        </label>
        <input type="text" name={`title:${value}`} maxlength={200} placeholder="Title on the page (optional)" aria-label="Title on the page" />
      </li>
    );
    return c.render(
      <>
        <p class="crumbs">
          <a href="/shares">Shares</a> › New
        </p>
        <h1>New share</h1>
        <form method="post" action="/shares" class="stack share-form">
          <CsrfField token={c.var.csrfToken} />
          <fieldset>
            <legend>What to share</legend>
            {batches.length + trips.length + clips.length === 0 ? <p class="muted">Nothing to share yet: make a timelapse, keep a drive or mark an incident first.</p> : null}
            {batches.length ? <h2 class="section">Timelapses</h2> : null}
            <ul class="share-picks">
              {batches.map((b) => (
                <Row value={`batch:${b.id}`} checked={pick.batch === b.id}>
                  {b.camera_key} · {b.batch_type} #{b.id} · {b.total_frames} frames · made <Time ms={b.completed_at} fmt="when" />
                </Row>
              ))}
            </ul>
            {trips.length ? <h2 class="section">Kept drives</h2> : null}
            <ul class="share-picks">
              {trips.map((t) => (
                <Row value={`trip:${t.id}`} checked={pick.trip === t.id}>
                  {t.camera_name} · <Time ms={t.start_time_utc} fmt="when" /> · {formatDriveLength(tripEnd(t) - t.start_time_utc)}
                </Row>
              ))}
            </ul>
            {clips.length ? <h2 class="section">Clips</h2> : null}
            <ul class="share-picks">
              {clips.map((j) => (
                <Row value={`clip:${j.id}`} checked={pick.clip === j.id}>
                  {isIncidentClip(j) ? "Incident" : "Clip"} · {j.cameraKey ?? "camera"}
                  {incidentMoment(j) !== null ? (
                    <>
                      {" · "}
                      <Time ms={incidentMoment(j)} fmt="when" />
                    </>
                  ) : null}
                </Row>
              ))}
            </ul>
          </fieldset>
          <label>
            Kind of page{" "}
            <select name="type">
              <option value="video_only">{TYPE_WORDS.video_only} (one)</option>
              <option value="info_page">{TYPE_WORDS.info_page}</option>
              <option value="gallery">{TYPE_WORDS.gallery} (one timelapse's pictures)</option>
            </select>
          </label>
          <label>
            Title <input type="text" name="title" maxlength={200} placeholder="e.g. Office construction, May" />
          </label>
          <label>
            Description <textarea name="description" maxlength={2000} rows={3}></textarea>
          </label>
          <label>
            Link works for{" "}
            <select name="expires">
              <option value="1d">1 day</option>
              <option value="7d" selected>
                7 days
              </option>
              <option value="30d">30 days</option>
              <option value="365d">1 year</option>
              <option value="never">ever (until turned off)</option>
            </select>
          </label>
          <label class="check">
            <input type="checkbox" name="download" value="on" /> Allow download
          </label>
          <label class="check">
            <input type="checkbox" name="embed" value="on" /> Allow embedding in other sites
          </label>
          <label class="check">
            <input type="checkbox" name="show_metadata" value="on" checked /> Show camera, dates and length
          </label>
          <label class="check">
            <input type="checkbox" name="show_day_counter" value="on" checked /> Show the day numbers of a timelapse
          </label>
          <label class="check">
            <input type="checkbox" name="show_technical_info" value="on" /> Show frame counts and frame rates
          </label>
          <label class="check">
            <input type="checkbox" name="show_generation_time" value="on" /> Show when each timelapse was made
          </label>
          <label>
            Pictures of a gallery{" "}
            <select name="layout">
              <option value="grid">in a grid</option>
              <option value="list">one below the other</option>
            </select>
          </label>
          <label>
            Colour <input type="color" name="color" value="#007bff" />
          </label>
          <button type="submit" class="primary">
            Make link
          </button>
        </form>
      </>,
      { title: "New share", nav: "shares" },
    );
  });

  app.post("/", valid("form", NewShareForm), async (c) => {
    const f = c.req.valid("form");
    const { db, dataDir } = c.var.deps;
    const refs = f.item === undefined ? [] : Array.isArray(f.item) ? f.item : [f.item];
    const titles = f as Record<string, unknown>;
    const items: NewShareItem[] = refs.map((r) => {
      const [kind, id] = r.split(":") as [string, string];
      const raw = titles[`title:${r}`];
      const customTitle = typeof raw === "string" && raw.trim() ? raw.trim() : null;
      if (customTitle && customTitle.length > 200) throw new HTTPException(400, { message: `title:${r}: must be at most 200 characters` });
      const common = { customTitle, showMetadata: f.show_metadata !== undefined };
      if (kind === "batch") return { ref: { kind: "batch", batchId: Number(id) }, ...common };
      if (kind === "trip") return { ref: { kind: "trip", tripId: Number(id) }, ...common };
      const job = c.var.exports.get(id);
      if (!job || job.kind !== "clip" || job.state !== "done" || !job.relPath) throw new HTTPException(404, { message: `no finished clip ${id}` });
      return { ref: { kind: "clip", clipPath: job.relPath }, ...common };
    });
    let created: { id: number };
    try {
      created = createShare(db, dataDir, {
        type: f.type,
        title: f.title,
        description: f.description,
        items,
        expiresAt: expiryFrom(f.expires),
        downloadEnabled: f.download !== undefined,
        embedEnabled: f.embed !== undefined,
        primaryColor: f.color || undefined,
        displayOptions: {
          show_camera_info: f.show_metadata !== undefined,
          show_date_range: f.show_metadata !== undefined,
          show_day_counter: f.show_day_counter !== undefined,
          show_technical_info: f.show_technical_info !== undefined,
          show_generation_time: f.show_generation_time !== undefined,
          layout: f.layout,
        },
        by: userOf(c).username,
      });
    } catch (err) {
      shareError(err);
    }
    if (!isHtmx(c)) return c.redirect(`/shares#share-${created!.id}`, 303);
    c.status(201);
    return c.html(card(c, loadShare(c, created!.id)));
  });

  // the QR code of a share's link, made when a card's "QR code" is opened (the image is lazy)
  app.get("/:id/qr.svg", valid("param", IdParam), async (c) => {
    const share = loadShare(c, c.req.valid("param").id);
    const svg = await qrSvg(shareUrl(c, share.share_token));
    return c.body(svg, 200, { "Content-Type": "image/svg+xml", "Cache-Control": "private, max-age=3600" });
  });

  app.post("/:id/active", valid("param", IdParam), valid("form", ActiveForm), async (c) => {
    const id = c.req.valid("param").id;
    loadShare(c, id);
    setShareActive(c.var.deps.db, id, c.req.valid("form").active === "1");
    if (!isHtmx(c)) return c.redirect(`/shares#share-${id}`, 303);
    return c.html(card(c, loadShare(c, id)));
  });

  app.post("/:id/extend", valid("param", IdParam), valid("form", ExtendForm), async (c) => {
    const id = c.req.valid("param").id;
    loadShare(c, id);
    let expiresAt: number | null = null;
    try {
      expiresAt = expiryFrom(c.req.valid("form").expires);
    } catch (err) {
      shareError(err);
    }
    setShareExpiry(c.var.deps.db, id, expiresAt);
    if (!isHtmx(c)) return c.redirect(`/shares#share-${id}`, 303);
    return c.html(card(c, loadShare(c, id)));
  });

  return app;
}

/** Unix ms of a lifetime from now (`7d`), or null for `never`. Throws ShareRequestError. */
function expiryFrom(text: string): number | null {
  const ms = parseShareLifetime(text);
  return ms === null ? null : Date.now() + ms;
}
