/**
 * Share links through `app.request()` on the real app (createApp with every sub-app), a real
 * SQLite file, real ffmpeg-made timelapse videos, a saved trip whose MP4 is made on the fly and
 * an incident clip file (test/helpers/shares.ts):
 * - the shares admin: create (every share type, batches, a saved trip, a clip; custom titles),
 *   bad input (4xx with the reason, nothing written), roles and CSRF, FTS5 search, QR code,
 *   turn off / on, extend; the Timelapses page's Share link;
 * - the public routes without a session: page, videos (Range), posters, gallery frames, theme,
 *   download only when on, embed only when on (and the only page another site may frame),
 *   OpenGraph tags, view_count, nothing else exposed; unknown, inactive, expired and
 *   malformed tokens all get one byte-identical 404; the per-IP rate limit (429 + Retry-After);
 * - the CLI `dashcam share create` in-process (no runtime) and its bad input.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { createApp } from "../src/web/app.tsx";
import { SHARE_TOKEN_RE, type ShareRow } from "../src/db/shares.ts";
import { makeShareFixture, type ShareFixture } from "./helpers/shares.ts";
import { SECRET_SOURCE } from "./web-fixture.ts";

let f: ShareFixture;
let app: ReturnType<typeof createApp>;
const HTMX = { "content-type": "application/x-www-form-urlencoded", "HX-Request": "true" };
const BASE = "http://dashcam.local";

beforeAll(async () => {
  f = await makeShareFixture();
  app = createApp(f.deps);
}, 60_000);
afterAll(() => f?.cleanup());

const shares = () => f.db.prepare("SELECT * FROM shares ORDER BY id").all() as ShareRow[];
const anon = (path: string, init?: RequestInit) => app.request(`${BASE}${path}`, init);

/** Creates a share through the admin form (htmx, operator); returns the response and the new row. */
async function create(fields: [string, string][], who: "operator" | "admin" | "viewer" = "operator") {
  const before = shares().length;
  const res = await f.request(app, `${BASE}/shares`, { method: "POST", headers: HTMX, body: new URLSearchParams(fields).toString() }, who);
  const rows = shares();
  return { res, row: rows.length > before ? rows.at(-1)! : null };
}

describe("shares admin", () => {
  test("an operator shares a timelapse: 201 card with the link, a QR code made on the server, a UUID v4 token", async () => {
    const { res, row } = await create([["item", `batch:${f.batchA}`], ["type", "video_only"], ["title", "Garden in spring"], ["expires", "7d"]]);
    expect(res.status).toBe(201);
    const html = await res.text();
    expect(row).not.toBeNull();
    expect(row!.share_token).toMatch(SHARE_TOKEN_RE);
    expect(html).toContain(`${BASE}/share/${row!.share_token}`);
    expect(html).toContain(`<img src="/shares/${row!.id}/qr.svg"`);
    const qr = await f.request(app, `${BASE}/shares/${row!.id}/qr.svg`, undefined, "operator");
    expect(qr.headers.get("content-type")).toBe("image/svg+xml");
    expect(await qr.text()).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 (\d+) \1"/);
    expect((await f.request(app, `${BASE}/shares/${row!.id}/qr.svg`, undefined, "viewer")).status).toBe(403);
    expect((await f.request(app, `${BASE}/shares/999999/qr.svg`, undefined, "operator")).status).toBe(404);
    expect(html).toContain("Copy link");
    expect(row!.expires_at! - Date.now()).toBeGreaterThan(7 * 86_400_000 - 60_000);
    expect(row!.expires_at! - Date.now()).toBeLessThanOrEqual(7 * 86_400_000);
    expect(f.db.prepare("SELECT timelapse_batch_id, display_order FROM share_batches WHERE share_id = ?").all(row!.id)).toEqual([{ timelapse_batch_id: f.batchA, display_order: 1 }]);
    expect(f.db.prepare("SELECT json_extract(theme_config, '$.primary_color') AS c FROM share_customization WHERE share_id = ?").get(row!.id)).toEqual({ c: "#007bff" });
    const ev = f.db.prepare("SELECT message, data FROM event_log WHERE kind = 'share.create' ORDER BY id DESC LIMIT 1").get() as { message: string; data: string };
    expect(ev.message).toBe('otto made the share link "Garden in spring" (video only, 1 item)');
    expect(ev.message + ev.data).not.toContain(row!.share_token);
  });

  test("bad input is a 4xx with the reason and writes nothing", async () => {
    const cases: [[string, string][], number, RegExp][] = [
      [[["type", "video_only"]], 400, /at least one/],
      [[["item", `batch:${f.batchA}`], ["item", `batch:${f.batchB}`], ["type", "video_only"]], 400, /exactly one item/],
      [[["item", `batch:${f.pending}`], ["type", "video_only"]], 409, /pending: it can be shared once its video is made/],
      [[["item", "batch:999999"], ["type", "video_only"]], 404, /no timelapse 999999/],
      [[["item", `trip:${f.trips.open}`], ["type", "video_only"]], 409, /is not saved/],
      [[["item", `trip:${f.savedTrip}`], ["type", "gallery"]], 400, /gallery shows a timelapse's frames/],
      [[["item", "clip:0123456789abcdef"], ["type", "video_only"]], 404, /no finished clip/],
      [[["item", "segment:3"], ["type", "video_only"]], 400, /item: must be batch:ID, trip:ID or clip:ID/],
      [[["item", `batch:${f.batchA}`], ["type", "movie"]], 400, /type: must be video_only, info_page or gallery/],
      [[["item", `batch:${f.batchA}`], ["type", "video_only"], ["expires", "soon"]], 400, /expires: must be like 30m/],
      [[["item", `batch:${f.batchA}`], ["type", "video_only"], ["expires", "99999w"]], 400, /at most 10 years/],
      [[["item", `batch:${f.batchA}`], ["type", "video_only"], ["color", "red"]], 400, /color: must be a colour/],
      [[["item", `batch:${f.batchA}`], ["type", "gallery"], ["layout", "masonry"]], 400, /layout: must be grid or list/],
      [[["item", `batch:${f.batchA}`], ["type", "video_only"], ["title", "x".repeat(201)]], 400, /title: must be at most 200/],
      [[["item", `batch:${f.batchA}`], ["item", `batch:${f.batchA}`], ["type", "info_page"]], 400, /listed twice/],
    ];
    const before = shares().length;
    for (const [fields, status, reason] of cases) {
      const { res, row } = await create(fields);
      const text = await res.text();
      expect({ fields, status: res.status, reason: reason.test(text) }).toEqual({ fields, status, reason: true });
      expect(row).toBeNull();
    }
    expect(shares().length).toBe(before);
    expect(f.db.prepare("SELECT COUNT(*) AS n FROM share_footage").get()).toEqual({ n: 0 });
  });

  test("a viewer cannot make or list shares; a missing CSRF token is refused", async () => {
    const { res, row } = await create([["item", `batch:${f.batchA}`], ["type", "video_only"]], "viewer");
    expect(res.status).toBe(403);
    expect(row).toBeNull();
    expect((await f.request(app, `${BASE}/shares`, undefined, "viewer")).status).toBe(403);
    expect((await f.request(app, `${BASE}/shares/new`, undefined, "viewer")).status).toBe(403);
    const noCsrf = await app.request(`${BASE}/shares`, {
      method: "POST",
      headers: { ...HTMX, cookie: f.sessions.operator.cookie },
      body: new URLSearchParams({ item: `batch:${f.batchA}`, type: "video_only" }).toString(),
    });
    expect(noCsrf.status).toBe(403);
    expect((await app.request(`${BASE}/shares`)).status).toBe(401);
  });

  test("the new-share form lists completed timelapses, kept drives and clips; the Timelapses page links to it", async () => {
    const res = await f.request(app, `${BASE}/shares/new?batch=${f.batchA}`, undefined, "operator");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`value="batch:${f.batchA}" checked`);
    expect(html).toContain(`value="batch:${f.batchB}"`);
    expect(html).not.toContain(`value="batch:${f.pending}"`);
    expect(html).toContain(`value="trip:${f.savedTrip}"`);
    expect(html).not.toContain(`value="trip:${f.trips.open}"`);
    expect(html).toMatch(/value="clip:[0-9a-f]{16}"/);
    expect((await f.request(app, `${BASE}/shares/new?batch=abc`, undefined, "operator")).status).toBe(400);
    const tl = await (await f.request(app, `${BASE}/timelapses`, undefined, "operator")).text();
    expect(tl).toContain(`href="/shares/new?batch=${f.batchA}"`);
    expect(tl).not.toContain(`href="/shares/new?batch=${f.pending}"`);
    // a shared timelapse says so, and its delete confirmation warns (live links only)
    const shared = /in (\d+) share links?/.exec(tl.slice(tl.indexOf(`id="batch-${f.batchA}"`)));
    expect(Number(shared![1])).toBeGreaterThanOrEqual(1);
    expect(tl).toMatch(/hx-confirm="Delete this timelapse and its video\? The (\d+ )?share links? that shows? it will no longer show it\."/);
    expect(tl.slice(tl.indexOf(`id="batch-${f.pending}"`)).split("</article>")[0]).not.toContain("share link");
    const tlViewer = await (await f.request(app, `${BASE}/timelapses`, undefined, "viewer")).text();
    expect(tlViewer).not.toContain("/shares/new");
    // My footage: Share on the kept drive and the incident clip, for operators only
    const mine = await (await f.request(app, `${BASE}/my-footage`, undefined, "operator")).text();
    expect(mine).toContain(`href="/shares/new?trip=${f.savedTrip}"`);
    expect(mine).toMatch(/href="\/shares\/new\?clip=[0-9a-f]{16}"/);
    expect(await (await f.request(app, `${BASE}/my-footage`, undefined, "viewer")).text()).not.toContain("/shares/new");
  });

  test("search uses the FTS5 index: every word as a prefix, operators in the input are plain text", async () => {
    await create([["item", `batch:${f.batchB}`], ["type", "video_only"], ["title", "Office construction"], ["description", "Foundation and framing, May"]]);
    await create([["item", `batch:${f.batchB}`], ["type", "video_only"], ["title", "Parking at night"]]);
    const titles = async (q: string) => {
      const res = await f.request(app, `${BASE}/shares?q=${encodeURIComponent(q)}`, { headers: { "HX-Request": "true" } }, "operator");
      expect(res.status).toBe(200);
      return [...(await res.text()).matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => m[1]);
    };
    expect(await titles("constr")).toEqual(["Office construction"]);
    expect(await titles("framing may")).toEqual(["Office construction"]);
    expect(await titles("night")).toEqual(["Parking at night"]);
    expect(await titles("nothing-like-this")).toEqual([]);
    expect(await titles('" OR * NEAR( title:')).toEqual([]);
    expect((await titles("")).length).toBeGreaterThanOrEqual(3);
  });

  test("turn off, turn on and extend (an expired link comes back), 404 for an unknown share, 400 for bad input", async () => {
    const { row } = await create([["item", `batch:${f.batchA}`], ["type", "video_only"], ["title", "Toggle me"]]);
    const post = (path: string, body: Record<string, string>) =>
      f.request(app, `${BASE}${path}`, { method: "POST", headers: HTMX, body: new URLSearchParams(body).toString() }, "operator");
    const page = `/share/${row!.share_token}`;
    expect((await anon(page)).status).toBe(200);
    const off = await post(`/shares/${row!.id}/active`, { active: "0" });
    expect(off.status).toBe(200);
    expect(await off.text()).toContain("Turn on");
    expect((await anon(page)).status).toBe(404);
    expect((await post(`/shares/${row!.id}/active`, { active: "1" })).status).toBe(200);
    expect((await anon(page)).status).toBe(200);
    f.db.prepare("UPDATE shares SET expires_at = ? WHERE id = ?").run(Date.now() - 1000, row!.id);
    expect((await anon(page)).status).toBe(404);
    const ext = await post(`/shares/${row!.id}/extend`, { expires: "30d" });
    expect(ext.status).toBe(200);
    expect((f.db.prepare("SELECT expires_at FROM shares WHERE id = ?").get(row!.id) as { expires_at: number }).expires_at).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect((await anon(page)).status).toBe(200);
    expect((await post(`/shares/${row!.id}/extend`, { expires: "never" })).status).toBe(200);
    expect(f.db.prepare("SELECT expires_at FROM shares WHERE id = ?").get(row!.id)).toEqual({ expires_at: null });
    expect((await post("/shares/999999/active", { active: "0" })).status).toBe(404);
    const bad = await post(`/shares/${row!.id}/active`, { active: "maybe" });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("active: must be 0 or 1");
    expect((await post(`/shares/${row!.id}/extend`, { expires: "0d" })).status).toBe(400);
    const badId = await post("/shares/abc/active", { active: "0" });
    expect(badId.status).toBe(400);
    expect(await badId.text()).toContain("id: must be a whole number");
    const longQ = await f.request(app, `${BASE}/shares?q=${"x".repeat(201)}`, { headers: { "HX-Request": "true" } }, "operator");
    expect(longQ.status).toBe(400);
    expect(await longQ.text()).toContain("q: must be at most 200 characters");
    expect((await f.request(app, `${BASE}/shares/abc/qr.svg`, undefined, "operator")).status).toBe(400);
  });
});

describe("public share routes", () => {
  test("the page plays the video without a session: OpenGraph tags, no cookie, a view counted, nothing else exposed", async () => {
    const { row } = await create([["item", `batch:${f.batchA}`], ["type", "video_only"], ["title", "Front garden"], ["description", "Spring, day by day"]]);
    const t = row!.share_token;
    const res = await anon(`/share/${t}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    const html = await res.text();
    expect(html).toContain(`<video class="share-video" controls="" playsinline="" preload="metadata" src="/share/${t}/video/1.mp4"`);
    expect(html).toContain(`<meta property="og:title" content="Front garden"/>`);
    expect(html).toContain(`<meta property="og:description" content="Spring, day by day"/>`);
    expect(html).toContain(`<meta property="og:image" content="${BASE}/share/${t}/poster/1.jpg"/>`);
    expect(html).toContain(`<meta property="og:video" content="${BASE}/share/${t}/video/1.mp4"/>`);
    // nothing else of the system: no camera URL or hash, no other batch, no link into the app
    expect(html).not.toContain(SECRET_SOURCE);
    expect(html).not.toContain("192.0.2.7");
    const urlHash = (f.db.prepare("SELECT url_hash FROM cameras WHERE key = 'front'").get() as { url_hash: string }).url_hash;
    expect(urlHash).toMatch(/^[0-9a-f]{64}$/);
    expect(html).not.toContain(urlHash);
    for (const h of f.hashes) expect(html).not.toContain(h);
    expect(html).not.toMatch(new RegExp(`\\b${f.batchB}\\b`));
    expect(html).not.toContain("/timelapses");
    const links = [...html.matchAll(/(?:href|src|content)="([^"]+)"/g)].map((m) => m[1]!).filter((u) => u.startsWith("/") || u.startsWith("http"));
    for (const u of links) expect({ u, ok: u.startsWith(`/share/${t}`) || u.startsWith(`${BASE}/share/${t}`) || u.startsWith("/assets/") }).toEqual({ u, ok: true });
    expect(shares().find((s) => s.id === row!.id)!.view_count).toBe(1);
    await anon(`/share/${t}`);
    expect(shares().find((s) => s.id === row!.id)!.view_count).toBe(2);

    const video = await anon(`/share/${t}/video/1.mp4`, { headers: { Range: "bytes=0-99" } });
    expect(video.status).toBe(206);
    expect(video.headers.get("content-type")).toBe("video/mp4");
    expect(video.headers.get("content-disposition")).toBeNull();
    const head = new Uint8Array(await video.arrayBuffer());
    expect(head.length).toBe(100);
    expect(new TextDecoder().decode(head.slice(4, 8))).toBe("ftyp");
    const poster = await anon(`/share/${t}/poster/1.jpg`);
    expect(poster.status).toBe(200);
    expect([...new Uint8Array(await poster.arrayBuffer()).slice(0, 2)]).toEqual([0xff, 0xd8]);
    const css = await anon(`/share/${t}/theme.css`);
    expect(await css.text()).toContain("--share-accent: #007bff");
    expect((await anon(`/share/${t}/video/2.mp4`)).status).toBe(404);
    expect((await anon(`/share/${t}/video/0.mp4`)).status).toBe(404);
    expect((await anon(`/share/${t}/frames/1.jpg`)).status).toBe(404); // not a gallery
    // a timelapse being re-rendered (a continuous one after a capture) keeps playing its video
    f.db.prepare("UPDATE timelapse_batches SET status = 'processing' WHERE id = ?").run(f.batchA);
    try {
      expect((await anon(`/share/${t}`)).status).toBe(200);
      expect((await anon(`/share/${t}/video/1.mp4`, { headers: { Range: "bytes=0-9" } })).status).toBe(206);
    } finally {
      f.db.prepare("UPDATE timelapse_batches SET status = 'completed' WHERE id = ?").run(f.batchA);
    }
  });

  test("download and embed only when switched on; only the embed player may be framed", async () => {
    const off = (await create([["item", `batch:${f.batchA}`], ["type", "video_only"]])).row!.share_token;
    const on = (await create([["item", `batch:${f.batchA}`], ["type", "video_only"], ["download", "on"], ["embed", "on"], ["color", "#FF6B35"]])).row!.share_token;
    expect((await anon(`/share/${off}/download`)).status).toBe(404);
    expect((await anon(`/embed/${off}`)).status).toBe(404);
    expect(await (await anon(`/share/${off}`)).text()).not.toContain("/download");

    const dl = await anon(`/share/${on}/download`);
    expect(dl.status).toBe(200);
    expect(dl.headers.get("content-disposition")).toMatch(/^attachment; filename="front-timelapse-\d{4}-\d{2}-\d{2}-\d{4}\.mp4"$/);
    const size = Number(dl.headers.get("content-length"));
    expect(size).toBeGreaterThan(1000);
    expect((await dl.arrayBuffer()).byteLength).toBe(size);
    const part = await anon(`/share/${on}/download`, { headers: { Range: `bytes=${size - 10}-` } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes ${size - 10}-${size - 1}/${size}`);
    expect((await anon(`/share/${on}/download`, { headers: { Range: `bytes=${size + 5}-` } })).status).toBe(416);
    expect((await anon(`/share/${on}/download?item=2`)).status).toBe(404);
    expect((await anon(`/share/${on}/download?item=x`)).status).toBe(404);
    expect(await (await anon(`/share/${on}`)).text()).toContain(`href="/share/${on}/download"`);

    const embed = await anon(`/embed/${on}`);
    expect(embed.status).toBe(200);
    expect(embed.headers.get("content-security-policy")).toContain("frame-ancestors *");
    expect(embed.headers.get("x-frame-options")).toBeNull();
    expect(await embed.text()).toContain(`src="/share/${on}/video/1.mp4"`);
    expect(await (await anon(`/share/${on}/theme.css`)).text()).toBe(":root { --share-accent: #ff6b35; --share-accent-text: #000000; }\n");
    // every other page still refuses frames
    for (const path of [`/share/${on}`, "/login", `/embed/${off}`]) {
      const r = await anon(path);
      expect({ path, xfo: r.headers.get("x-frame-options") }).toEqual({ path, xfo: "DENY" });
    }
    const home = await f.request(app, `${BASE}/`, undefined, "viewer");
    expect(home.headers.get("x-frame-options")).toBe("DENY");
    expect(home.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  });

  test("unknown, inactive, expired and malformed tokens get one byte-identical 404, like any missing share path", async () => {
    const inactive = (await create([["item", `batch:${f.batchA}`], ["type", "video_only"], ["download", "on"], ["embed", "on"]])).row!;
    f.db.prepare("UPDATE shares SET is_active = 0 WHERE id = ?").run(inactive.id);
    const expired = (await create([["item", `batch:${f.batchA}`], ["type", "video_only"], ["download", "on"], ["embed", "on"]])).row!;
    f.db.prepare("UPDATE shares SET expires_at = ? WHERE id = ?").run(Date.now() - 1, expired.id);
    const unknown = crypto.randomUUID();
    for (const suffix of ["", "/download", "/video/1.mp4", "/poster/1.jpg", "/theme.css"]) {
      const answers = [];
      for (const token of [unknown, inactive.share_token, expired.share_token, "not-a-token", unknown.toUpperCase(), `${unknown}x`]) {
        const r = await anon(`/share/${token}${suffix}`);
        answers.push({ status: r.status, type: r.headers.get("content-type"), cookie: r.headers.get("set-cookie"), body: await r.text() });
      }
      expect(answers[0]!.status).toBe(404);
      for (const a of answers) expect({ suffix, ...a }).toEqual({ suffix, ...answers[0]! });
    }
    const embeds = [];
    for (const token of [unknown, inactive.share_token, expired.share_token]) embeds.push(await (await anon(`/embed/${token}`)).text());
    expect(new Set(embeds).size).toBe(1);
    const other = await anon(`/share/${unknown}/nothing/here`);
    expect(other.status).toBe(404);
    expect(await other.text()).toBe(embeds[0]!);
    expect(embeds[0]).toContain("there is no page at this address");
    expect(embeds[0]).not.toContain(unknown);
  });

  test("an info page holds a timelapse, a saved trip (MP4 made on the fly) and an incident clip, in order with their titles", async () => {
    const form = await (await f.request(app, `${BASE}/shares/new`, undefined, "operator")).text();
    const clipRef = /value="(clip:[0-9a-f]{16})"/.exec(form)![1]!;
    const { res, row } = await create([
      ["item", `trip:${f.savedTrip}`],
      ["item", clipRef],
      ["item", `batch:${f.batchA}`],
      [`title:trip:${f.savedTrip}`, "The drive"],
      [`title:${clipRef}`, "The moment"],
      ["type", "info_page"],
      ["title", "For the insurer"],
      ["show_metadata", "on"],
      ["show_technical_info", "on"],
      ["download", "on"],
    ]);
    expect(res.status).toBe(201);
    expect(f.db.prepare("SELECT trip_id, clip_path, display_order, custom_title FROM share_footage WHERE share_id = ? ORDER BY display_order").all(row!.id)).toEqual([
      { trip_id: f.savedTrip, clip_path: null, display_order: 1, custom_title: "The drive" },
      { trip_id: null, clip_path: f.clip, display_order: 2, custom_title: "The moment" },
    ]);
    const t = row!.share_token;
    const html = await (await anon(`/share/${t}`)).text();
    const h2 = [...html.matchAll(/<h2>([^<]+)<\/h2>/g)].map((m) => m[1]);
    expect(h2).toEqual(["The drive", "The moment", "Front camera timelapse"]);
    // details when shown: a drive's start (24 h, UTC) and length; a timelapse's capture range and length
    expect(html).toContain("Front camera · 1 May 08:00 UTC · 40 s");
    expect(html).toContain("Front camera · 1 May 08:01 – 1 May 08:08 UTC · 2.0 s · 8 frames at 4 frames/s");
    expect(JSON.parse((f.db.prepare("SELECT display_options FROM share_customization WHERE share_id = ?").get(row!.id) as { display_options: string }).display_options)).toEqual({
      show_camera_info: true, show_date_range: true, show_day_counter: false, show_technical_info: true, show_generation_time: false, layout: "grid",
    });
    for (const n of [1, 2, 3]) expect(html).toContain(`src="/share/${t}/video/${n}.mp4"`);
    expect(html).not.toContain("inc-20240501");
    // the saved trip: a fragmented MP4 remuxed while it is sent (no Range)
    const trip = await anon(`/share/${t}/video/1.mp4`);
    expect(trip.status).toBe(200);
    expect(trip.headers.get("accept-ranges")).toBe("none");
    const bytes = new Uint8Array(await trip.arrayBuffer());
    expect(new TextDecoder().decode(bytes.slice(4, 8))).toBe("ftyp");
    expect(bytes.length).toBeGreaterThan(10_000);
    const tripDl = await anon(`/share/${t}/download`);
    expect(tripDl.headers.get("content-disposition")).toMatch(/^attachment; filename="front-\d{4}-\d{2}-\d{2}-\d{4}\.mp4"$/);
    await tripDl.arrayBuffer();
    const clip = await anon(`/share/${t}/download?item=2`, { headers: { Range: "bytes=0-9" } });
    expect(clip.status).toBe(206);
    expect(clip.headers.get("content-disposition")).toContain("front-20240501-080000Z-3s-inc-20240501-080001-000-front.mp4");
    for (const n of [1, 2, 3]) {
      const p = await anon(`/share/${t}/poster/${n}.jpg`);
      expect({ n, status: p.status, type: p.headers.get("content-type") }).toEqual({ n, status: 200, type: "image/jpeg" });
      await p.arrayBuffer();
    }
    // a saved trip deleted later drops out of the share
    f.db.prepare("UPDATE trips SET status = 'closed' WHERE id = ?").run(f.savedTrip);
    try {
      const after = await (await anon(`/share/${t}`)).text();
      expect([...after.matchAll(/<h2>([^<]+)<\/h2>/g)].map((m) => m[1])).toEqual(["The moment", "Front camera timelapse"]);
    } finally {
      f.db.prepare("UPDATE trips SET status = 'saved' WHERE id = ?").run(f.savedTrip);
    }
  });

  test("a gallery shows the batch's frames in order", async () => {
    const { row } = await create([["item", `batch:${f.batchA}`], ["type", "gallery"], ["title", "Frames"]]);
    const t = row!.share_token;
    const html = await (await anon(`/share/${t}`)).text();
    const imgs = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]);
    expect(imgs).toEqual(Array.from({ length: 8 }, (_, i) => `/share/${t}/frames/${i + 1}.jpg`));
    const first = new Uint8Array(await (await anon(`/share/${t}/frames/1.jpg`)).arrayBuffer());
    const stored = await Bun.file(join(f.dir, "timelapse/images/front/2024-05-01/01.jpg")).bytes();
    expect(Buffer.from(first).equals(Buffer.from(stored))).toBe(true);
    expect((await anon(`/share/${t}/frames/9.jpg`)).status).toBe(404);
    expect((await anon(`/share/${t}/frames/x.jpg`)).status).toBe(404);
    expect(html).toContain('<div class="share-gallery">');
    const list = (await create([["item", `batch:${f.batchB}`], ["type", "gallery"], ["layout", "list"]])).row!.share_token;
    expect(await (await anon(`/share/${list}`)).text()).toContain('<div class="share-gallery list">');
  });

  test("share routes are rate-limited per IP: 429 with Retry-After", async () => {
    const limited = createApp({ ...f.deps, shareRequestsPerMinute: 5 });
    const token = shares()[0]!.share_token;
    const statuses: number[] = [];
    let last: Response | null = null;
    for (let i = 0; i < 7; i++) {
      last = await limited.request(`${BASE}/share/${i % 2 ? crypto.randomUUID() : token}`);
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 5).every((s) => s === 200 || s === 404)).toBe(true);
    expect(statuses.slice(5)).toEqual([429, 429]);
    const wait = Number(last!.headers.get("retry-after"));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    expect(await last!.text()).toContain("too many requests");
    // the rest of the app is not limited by it
    expect((await limited.request(`${BASE}/login`)).status).toBe(200);
  });
});

describe("dashcam share create (no runtime: in-process)", () => {
  const cli = (args: string[]) => {
    const cfg = join(f.dir, "share-cli.toml");
    writeFileSync(cfg, `data_dir = ${JSON.stringify(f.dir)}\n[[cameras]]\nkey = "front"\nsource = "testsrc"\n`);
    const r = Bun.spawnSync([process.execPath, join(import.meta.dir, "../src/main.ts"), "share", ...args, "--config", cfg], { stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };

  test("prints /share/<token> of a new share with the options given", () => {
    const r = cli(["create", "--batch", String(f.batchB), "--expires", "2d", "--download", "--embed"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const m = /^\/share\/([0-9a-f-]{36})\n$/.exec(r.out);
    expect(m).not.toBeNull();
    const row = f.db.prepare("SELECT * FROM shares WHERE share_token = ?").get(m![1]!) as ShareRow;
    expect(row).toMatchObject({ share_type: "video_only", download_enabled: 1, embed_enabled: 1, is_active: 1, title: "Front camera timelapse" });
    expect(Math.abs(row.expires_at! - (Date.now() + 2 * 86_400_000))).toBeLessThan(60_000);
    const info = cli(["create", "--batch", String(f.batchA), "--batch", String(f.batchB), "--type", "info_page", "--expires", "never"]);
    expect(info.code).toBe(0);
    const id = (f.db.prepare("SELECT id, expires_at FROM shares WHERE share_token = ?").get(info.out.trim().slice(7)) as { id: number; expires_at: number | null });
    expect(id.expires_at).toBeNull();
    expect(JSON.parse((f.db.prepare("SELECT data FROM event_log WHERE kind = 'share.create' ORDER BY id DESC LIMIT 1").get() as { data: string }).data).by).toBe("cli");
    expect(f.db.prepare("SELECT timelapse_batch_id AS b, display_order AS o FROM share_batches WHERE share_id = ? ORDER BY o").all(id.id)).toEqual([
      { b: f.batchA, o: 1 },
      { b: f.batchB, o: 2 },
    ]);
  });

  test("bad input: one line, exit 2, nothing written", () => {
    const before = shares().length;
    for (const [args, reason] of [
      [["create"], /missing --batch/],
      [["create", "--batch", "abc"], /--batch must be a batch id/],
      [["create", "--batch", "999999"], /no timelapse 999999/],
      [["create", "--batch", String(f.pending)], /is pending/],
      [["create", "--batch", String(f.batchA), "--type", "poster"], /--type must be/],
      [["create", "--batch", String(f.batchA), "--expires", "tomorrow"], /--expires: expiry must be like/],
      [["create", "--batch", String(f.batchA), "--batch", String(f.batchB)], /exactly one item/],
      [["delete"], /unknown subcommand/],
    ] as [string[], RegExp][]) {
      const r = cli(args);
      expect({ args, code: r.code, lines: r.err.trim().split("\n").length, reason: reason.test(r.err) }).toEqual({ args, code: 2, lines: 1, reason: true });
    }
    expect(shares().length).toBe(before);
  });
});

describe("share theme", () => {
  test("text on the share's colour is black or white, whichever contrasts more (WCAG)", async () => {
    const { textColorOn } = await import("../src/web/routes/sharePublic.tsx");
    expect(textColorOn("#007bff")).toBe("#000000"); // seed 004's blue: white on it is only 3.98:1
    expect(textColorOn("#0b5cc4")).toBe("#ffffff");
    expect(textColorOn("#ff6b35")).toBe("#000000");
    expect(textColorOn("#ffff00")).toBe("#000000");
    expect(textColorOn("#000080")).toBe("#ffffff");
    expect(textColorOn("#777777")).toBe("#000000");
  });
});

describe("gallery pictures", () => {
  test("at most GALLERY_MAX_FRAMES, evenly spread, first and last included", async () => {
    const { galleryPositions, GALLERY_MAX_FRAMES } = await import("../src/web/routes/sharePublic.tsx");
    expect(galleryPositions(8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const p = galleryPositions(1000);
    expect(p.length).toBe(GALLERY_MAX_FRAMES);
    expect(p[0]).toBe(1);
    expect(p.at(-1)).toBe(1000);
    expect(new Set(p).size).toBe(p.length);
    expect(p.every((x, i) => i === 0 || x > p[i - 1]!)).toBe(true);
    expect(galleryPositions(5, 3)).toEqual([1, 3, 5]);
  });
});
