/**
 * Security of the REAL web app (createApp with every sub-app mounted), table-driven over the
 * routes the app actually has (`listMutatingRoutes` over `app.routes`), so a route added
 * later is covered without touching this file:
 *
 * - every mutating route has a rule in the app's permission table;
 * - each one refuses a missing and a wrong CSRF token (403), a cross-site Origin (403), a
 *   request without a session (401), and a session whose role is below its rule (403);
 * - a session with the required role and the right token gets past the guards (positive
 *   control: the status is not one of the guards' 401/403);
 * - no refused request writes anything (database rows and data directory unchanged);
 * - every GET page except the public ones needs a session (401 for API/htmx, 303 to /login for
 *   a browser navigation).
 *
 * Real SQLite file, real ffmpeg-made segments (test/web-fixture.ts), real users and sessions.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp, WEB_PERMISSIONS } from "../src/web/app.tsx";
import { listMutatingRoutes, permissionMatcher, samplePath, CSRF_HEADER, type Required } from "../src/web/auth/index.ts";
import { createSession, randomToken } from "../src/db/sessions.ts";
import { roleRank, ROLES, type Role } from "../src/db/users.ts";
import { dbFingerprint, fileListing, makeFixture, type WebFixture, type Who } from "./web-fixture.ts";

let f: WebFixture;
let app: ReturnType<typeof createApp>;
const match = permissionMatcher(WEB_PERMISSIONS);
const FORM = { "content-type": "application/x-www-form-urlencoded" };
const WHO: Record<Role, Who> = { admin: "admin", operator: "operator", viewer: "viewer" };

beforeAll(async () => {
  f = await makeFixture();
  app = createApp(f.deps);
});
afterAll(() => f?.cleanup());

const routes = () => listMutatingRoutes(app);

/** A request with the given cookie/token parts (form body `x=1`, no `_csrf` field). */
function send(method: string, path: string, opts: { cookie?: string; token?: string | null; origin?: string } = {}) {
  const headers: Record<string, string> = { ...FORM };
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.token) headers[CSRF_HEADER] = opts.token;
  if (opts.origin) headers.origin = opts.origin;
  return app.request(`http://dashcam.local${path}`, { method, headers, body: "x=1" });
}

describe("permission table covers the real app", () => {
  test("the app has the product's mutating routes, and every one has a rule", () => {
    const list = routes();
    const keys = list.map((r) => `${r.method} ${r.path}`);
    for (const expected of [
      "POST /login",
      "POST /logout",
      "POST /setup",
      "POST /users",
      "POST /users/:id/delete",
      "POST /trips/:id/save",
      "POST /trips/:id/lock",
      "POST /trips/:id/unlock",
      "POST /exports",
      "POST /exports/:id/delete",
      "POST /snapshots",
      "POST /incidents",
      "POST /api/trips/:id/save",
      "POST /api/exports",
      "POST /api/incidents",
      "POST /plates/watchlist",
      "POST /plates/watchlist/:id/delete",
      "POST /cameras/:key/stop",
      "POST /cameras/:key/start",
    ])
      expect(keys).toContain(expected);
    const missing = list.filter((r) => !match(r.method, samplePath(r.path))).map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
  });

  test("every mutating rule of the table names a route the app has (no rules for routes that do not exist)", () => {
    const keys = new Set(routes().map((r) => `${r.method} ${r.path}`));
    const stale = WEB_PERMISSIONS.filter((rule) => rule.method !== "GET" && !keys.has(`${rule.method} ${rule.path}`)).map((r) => `${r.method} ${r.path}`);
    expect(stale).toEqual([]);
  });
});

describe("every mutating route", () => {
  const cases = () => routes().map((r) => ({ ...r, sample: samplePath(r.path), role: match(r.method, samplePath(r.path))!.role as Required }));

  test("refuses a missing CSRF token, a wrong one and a cross-site Origin (403), writing nothing", async () => {
    const before = dbFingerprint(f.db);
    const files = fileListing(f.dir);
    const admin = f.sessions.admin;
    const checked: string[] = [];
    for (const r of cases()) {
      const missing = await send(r.method, r.sample, { cookie: admin.cookie });
      expect({ route: `${r.method} ${r.path}`, status: missing.status }).toEqual({ route: `${r.method} ${r.path}`, status: 403 });
      expect(await missing.text()).toContain("missing CSRF token");
      const wrong = await send(r.method, r.sample, { cookie: admin.cookie, token: randomToken() });
      expect({ route: `${r.method} ${r.path}`, status: wrong.status }).toEqual({ route: `${r.method} ${r.path}`, status: 403 });
      expect(await wrong.text()).toContain("invalid CSRF token");
      // another user's valid token is still wrong for this session
      const others = await send(r.method, r.sample, { cookie: admin.cookie, token: f.sessions.viewer.csrf });
      expect(others.status).toBe(403);
      const cross = await send(r.method, r.sample, { cookie: admin.cookie, token: admin.csrf, origin: "http://evil.example" });
      expect({ route: `${r.method} ${r.path}`, status: cross.status }).toEqual({ route: `${r.method} ${r.path}`, status: 403 });
      checked.push(`${r.method} ${r.path}`);
    }
    expect(checked.length).toBeGreaterThanOrEqual(16);
    expect(dbFingerprint(f.db)).toBe(before);
    expect(fileListing(f.dir)).toEqual(files);
  });

  test("refuses a request without a session (401) unless the route is public, writing nothing", async () => {
    const before = dbFingerprint(f.db);
    const files = fileListing(f.dir);
    const pre = randomToken(); // a valid pre-session double-submit pair: the CSRF check passes
    let refused = 0;
    for (const r of cases()) {
      if (r.role === "public") continue;
      const res = await send(r.method, r.sample, { cookie: `dashcam_csrf=${pre}`, token: pre });
      expect({ route: `${r.method} ${r.path}`, status: res.status }).toEqual({ route: `${r.method} ${r.path}`, status: 401 });
      refused++;
      // a stale or forged session cookie is no session either
      const forged = await send(r.method, r.sample, { cookie: `dashcam_csrf=${pre}; dashcam_session=${randomToken()}`, token: pre });
      expect(forged.status).toBe(401);
    }
    expect(refused).toBeGreaterThanOrEqual(14);
    expect(dbFingerprint(f.db)).toBe(before);
    expect(fileListing(f.dir)).toEqual(files);
  });

  test("refuses every session whose role is below the route's rule (403), writing nothing", async () => {
    const before = dbFingerprint(f.db);
    const files = fileListing(f.dir);
    const seen: string[] = [];
    for (const r of cases()) {
      if (r.role === "public") continue;
      for (const role of ROLES) {
        if (roleRank(role) >= roleRank(r.role as Role)) continue;
        const s = f.sessions[WHO[role]];
        const res = await send(r.method, r.sample, { cookie: s.cookie, token: s.csrf });
        expect({ route: `${r.method} ${r.path}`, role, status: res.status }).toEqual({ route: `${r.method} ${r.path}`, role, status: 403 });
        expect(await res.text()).toContain(`needs role ${r.role}`);
        seen.push(`${r.method} ${r.path} as ${role}`);
      }
    }
    // viewers cannot save, lock, export, snapshot, mark incidents; operators cannot manage users
    expect(seen).toContain("POST /trips/:id/save as viewer");
    expect(seen).toContain("POST /trips/:id/lock as viewer");
    expect(seen).toContain("POST /exports as viewer");
    expect(seen).toContain("POST /api/exports as viewer");
    expect(seen).toContain("POST /exports/:id/delete as viewer");
    expect(seen).toContain("POST /cameras/:key/stop as viewer");
    expect(seen).toContain("POST /cameras/:key/start as viewer");
    expect(seen).toContain("POST /plates/watchlist as viewer");
    expect(seen).toContain("POST /users as operator");
    expect(seen).toContain("POST /users/:id/role as operator");
    expect(dbFingerprint(f.db)).toBe(before);
    expect(fileListing(f.dir)).toEqual(files);
  });

  test("positive control: the required role with the right token gets past the guards", async () => {
    for (const r of cases()) {
      // a throwaway session of exactly the required role (POST /logout ends it)
      const role: Role = r.role === "public" ? "viewer" : (r.role as Role);
      const s = createSession(f.db, f.sessions[WHO[role]].userId);
      const res = await send(r.method, r.sample, { cookie: `dashcam_session=${s.token}`, token: s.csrfToken });
      const text = await res.text();
      const guard = (res.status === 401 || res.status === 403) && /CSRF|needs role|log in first|permission rule|cross-site/.test(text);
      if (process.env.VERBOSE) console.log(r.method, r.path, res.status, text.slice(0, 80).replace(/\s+/g, " "));
      expect({ route: `${r.method} ${r.path}`, status: res.status, guard }).toEqual({ route: `${r.method} ${r.path}`, status: res.status, guard: false });
    }
  });
});

describe("pages need a session", () => {
  // the public share routes answer without a session (an unknown token: 404, see share-web.test.ts)
  const SHARE = ["/share/:token", "/share/:token/theme.css", "/share/:token/video/:file", "/share/:token/poster/:file", "/share/:token/frames/:file", "/share/:token/download", "/embed/:token"];
  const PUBLIC = new Set(["/login", "/setup", "/healthz", "/assets/:name", "/manifest.webmanifest", "/sw.js", ...SHARE]);

  test("every GET route except login, setup, healthz and assets refuses a visitor without a session", async () => {
    const gets = [...new Set(app.routes.filter((r) => r.method === "GET").map((r) => r.path))];
    const checked: string[] = [];
    for (const path of gets) {
      if (PUBLIC.has(path) || path.includes("*")) continue;
      const sample = samplePath(path);
      const api = await app.request(sample);
      expect({ path, status: api.status }).toEqual({ path, status: 401 });
      const nav = await app.request(sample, { headers: { accept: "text/html" } });
      // a browser navigation is sent to the login page; the JSON API always answers 401
      const want = path.startsWith("/api/") ? 401 : 303;
      expect({ path, status: nav.status }).toEqual({ path, status: want });
      if (want === 303) expect(nav.headers.get("location")).toStartWith("/login?next=");
      checked.push(path);
    }
    for (const p of ["/", "/trips/:id", "/trips/:id/thumb.jpg", "/exports/:id/download", "/cameras/:key/snapshot.jpg", "/cameras/:key/frame.jpg", "/cameras/:key/live.ts", "/media/:key/:file", "/live", "/users", "/plates"])
      expect(checked).toContain(p);
    expect((await app.request("/healthz")).status).toBe(200);
    for (const p of SHARE) expect({ p, status: (await app.request(samplePath(p))).status }).toEqual({ p, status: 404 });
    // the installable app's manifest and service worker are public (a browser fetches the manifest without cookies)
    expect((await app.request("/manifest.webmanifest")).status).toBe(200);
    expect((await app.request("/sw.js")).status).toBe(200);
    expect((await app.request("/login")).status).toBe(200); // users exist: the login form
    expect((await app.request("/setup")).status).toBe(404); // only while no user exists
  });

  test("a viewer may watch but not reach the admin pages", async () => {
    expect((await f.request(app, "/trips/2", undefined, "viewer")).status).toBe(200);
    expect((await f.request(app, "/users", undefined, "viewer")).status).toBe(403);
    expect((await f.request(app, "/users", undefined, "operator")).status).toBe(403);
    expect((await f.request(app, "/users", undefined, "admin")).status).toBe(200);
  });
});
