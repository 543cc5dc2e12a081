/**
 * Users, sessions and web security, through real HTTP requests
 * (`app.request`, and a real `Bun.serve` on a random loopback port for the per-IP rate limit)
 * against a small Hono app that mounts exactly the middleware and routes the product uses,
 * on a real SQLite file in a temp dir.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { Hono } from "hono";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { createSession, hashToken, lookupSession, SESSION_TTL_MS } from "../src/db/sessions.ts";
import { createUser, roleRank, verifyLogin, type Role } from "../src/db/users.ts";
import {
  CSRF_HEADER,
  LoginRateLimiter,
  PERMISSIONS,
  listMutatingRoutes,
  ruleFor,
  samplePath,
  securityMiddleware,
} from "../src/web/auth/index.ts";
import { depsMiddleware, type WebDeps, type WebEnv } from "../src/web/env.ts";
import { defaultConfig } from "../src/config.ts";
import { LiveBus } from "../src/events.ts";
import { authRoutes } from "../src/web/routes/auth.tsx";
import { userRoutes } from "../src/web/routes/users.tsx";

const dirs: string[] = [];
const dataDirOf = new WeakMap<Database, string>();
function freshDb(): Database {
  const dir = mkdtempSync(join(tmpdir(), "product-auth-"));
  dirs.push(dir);
  const db = openDatabase(join(dir, "dashcam.db"));
  dataDirOf.set(db, dir);
  return db;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * The product's dependency and security stack plus stand-ins for other areas' mutating routes
 * (handlers only echo), mounted the way `createApp` mounts them.
 */
function makeApp(db: Database, limiter = new LoginRateLimiter()) {
  const dataDir = dataDirOf.get(db)!;
  const deps: WebDeps = { db, config: defaultConfig(dataDir), dataDir, bus: new LiveBus(), startedAt: Date.now(), limiter };
  const app = new Hono<WebEnv>();
  app.use("*", depsMiddleware(deps));
  app.use("*", ...securityMiddleware({ db }));
  app.route("/", authRoutes());
  app.route("/users", userRoutes());
  app.get("/", (c) => c.text(`home of ${c.get("user")?.username}`));
  app.post("/trips/:id/save", (c) => c.text(`saved ${c.req.param("id")}`));
  app.post("/api/trips/:id/save", (c) => c.json({ saved: c.req.param("id") }));
  app.post("/exports", (c) => c.text("exported"));
  app.post("/trips/:id/lock", (c) => c.text("locked"));
  app.post("/exports/:id/delete", (c) => c.text("deleted"));
  return app;
}

/** A minimal cookie jar over Set-Cookie headers. */
class Jar {
  cookies = new Map<string, string>();
  take(res: Response) {
    for (const sc of res.headers.getSetCookie()) {
      const [pair] = sc.split(";");
      const i = pair!.indexOf("=");
      const name = pair!.slice(0, i);
      const value = pair!.slice(i + 1);
      if (/max-age=0/i.test(sc)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { "content-type": "application/x-www-form-urlencoded" };

/** GETs a page to obtain the pre-session CSRF cookie; returns the jar and the token. */
async function presession(app: Hono<WebEnv>, path = "/login") {
  const jar = new Jar();
  const res = jar.take(await app.request(path));
  const token = jar.cookies.get("dashcam_csrf");
  return { jar, token: token!, res };
}

/** Logs in through the form; returns the jar holding the session cookie and the response. */
async function login(app: Hono<WebEnv>, username: string, password: string, headers: Record<string, string> = {}) {
  const { jar, token } = await presession(app);
  const res = jar.take(
    await app.request("/login", {
      method: "POST",
      headers: { ...FORM, cookie: jar.header(), ...headers },
      body: form({ username, password, _csrf: token }),
    }),
  );
  return { jar, res };
}

/** A session made directly in the database (fast; used by the route matrix). */
function sessionHeaders(db: Database, userId: number) {
  const s = createSession(db, userId);
  return { cookie: `dashcam_session=${s.token}`, csrf: s.csrfToken };
}

describe("passwords", () => {
  test("argon2id hash, verify right/wrong/unknown, never stored in clear", async () => {
    const db = freshDb();
    const u = await createUser(db, { username: "alice", password: "correct horse", role: "operator" });
    const row = db.query("SELECT password_hash FROM users WHERE id = ?").get(u.id) as { password_hash: string };
    expect(row.password_hash.startsWith("$argon2id$")).toBe(true);
    expect(row.password_hash).not.toContain("correct horse");
    expect((await verifyLogin(db, "alice", "correct horse"))?.id).toBe(u.id);
    expect(await verifyLogin(db, "alice", "correct horsE")).toBeNull();
    expect(await verifyLogin(db, "bob", "correct horse")).toBeNull();
    const after = db.query("SELECT last_login FROM users WHERE id = ?").get(u.id) as { last_login: number | null };
    expect(after.last_login).toBeGreaterThan(0);
    await expect(createUser(db, { username: "alice", password: "another one", role: "viewer" })).rejects.toThrow(/already exists/);
    await expect(createUser(db, { username: "x y", password: "another one", role: "viewer" })).rejects.toThrow(/username/);
    await expect(createUser(db, { username: "carol", password: "short", role: "viewer" })).rejects.toThrow(/at least 8/);
    await expect(createUser(db, { username: "carol", password: "long enough", role: "root" as Role })).rejects.toThrow(/role/);
    expect((db.query("SELECT COUNT(*) AS n FROM users").get() as { n: number }).n).toBe(1);
  });
});

describe("first-run setup", () => {
  test("/setup exists only while no user exists; creates an admin and logs in", async () => {
    const db = freshDb();
    const app = makeApp(db);
    const toSetup = await app.request("/login");
    expect(toSetup.status).toBe(303);
    expect(toSetup.headers.get("location")).toBe("/setup");
    const unauth = await app.request("/", { headers: { accept: "text/html" } });
    expect(unauth.status).toBe(303);
    expect(unauth.headers.get("location")).toStartWith("/login");

    const { jar, token, res } = await presession(app, "/setup");
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('name="_csrf"');

    // no token -> 403, nothing created
    const noToken = await app.request("/setup", {
      method: "POST",
      headers: { ...FORM, cookie: jar.header() },
      body: form({ username: "root", password: "first admin pw", confirm: "first admin pw" }),
    });
    expect(noToken.status).toBe(403);
    // mismatched passwords -> 400
    const mismatch = await app.request("/setup", {
      method: "POST",
      headers: { ...FORM, cookie: jar.header() },
      body: form({ username: "root", password: "first admin pw", confirm: "other", _csrf: token }),
    });
    expect(mismatch.status).toBe(400);
    expect((db.query("SELECT COUNT(*) AS n FROM users").get() as { n: number }).n).toBe(0);

    const ok = jar.take(
      await app.request("/setup", {
        method: "POST",
        headers: { ...FORM, cookie: jar.header() },
        body: form({ username: "root", password: "first admin pw", confirm: "first admin pw", _csrf: token }),
      }),
    );
    expect(ok.status).toBe(303);
    expect(jar.cookies.has("dashcam_session")).toBe(true);
    const user = db.query("SELECT username, role FROM users").get() as { username: string; role: string };
    expect(user).toEqual({ username: "root", role: "admin" });
    const home = await app.request("/", { headers: { cookie: jar.header() } });
    expect(await home.text()).toBe("home of root");

    // gone now, for GET and POST, even with a valid token
    expect((await app.request("/setup")).status).toBe(404);
    const again = await presession(app);
    const post = await app.request("/setup", {
      method: "POST",
      headers: { ...FORM, cookie: again.jar.header() },
      body: form({ username: "evil", password: "second admin", confirm: "second admin", _csrf: again.token }),
    });
    expect(post.status).toBe(404);
    expect((db.query("SELECT COUNT(*) AS n FROM users").get() as { n: number }).n).toBe(1);
  });
});

describe("login and sessions", () => {
  let db: Database;
  let app: Hono<WebEnv>;
  beforeAll(async () => {
    db = freshDb();
    app = makeApp(db);
    await createUser(db, { username: "driver", password: "drive safely", role: "operator" });
  });

  test("success sets an HttpOnly SameSite=Strict session cookie; only its SHA-256 is stored", async () => {
    const { jar, res } = await login(app, "driver", "drive safely");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/");
    const sc = res.headers.getSetCookie().find((c) => c.startsWith("dashcam_session="))!;
    expect(sc).toContain("HttpOnly");
    expect(sc).toContain("SameSite=Strict");
    expect(sc).toContain("Path=/");
    expect(sc).toContain(`Max-Age=${SESSION_TTL_MS / 1000}`);
    expect(sc).not.toContain("Secure");
    const token = jar.cookies.get("dashcam_session")!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(db.query("SELECT COUNT(*) AS n FROM sessions WHERE token_hash = ?").get(token)).toEqual({ n: 0 });
    expect(db.query("SELECT COUNT(*) AS n FROM sessions WHERE token_hash = ?").get(hashToken(token))).toEqual({ n: 1 });
    const home = await app.request("/", { headers: { cookie: jar.header() } });
    expect(await home.text()).toBe("home of driver");
    const ev = db.query("SELECT kind FROM event_log WHERE kind = 'auth.login'").all();
    expect(ev.length).toBeGreaterThan(0);
  });

  test("Secure flag when the request came over TLS (proxy header or https URL)", async () => {
    const viaProxy = await login(app, "driver", "drive safely", { "x-forwarded-proto": "https" });
    expect(viaProxy.res.headers.getSetCookie().find((c) => c.startsWith("dashcam_session="))).toContain("Secure");
    const { jar, token } = await presession(app);
    const direct = await app.request("https://dashcam.local/login", {
      method: "POST",
      headers: { ...FORM, cookie: jar.header() },
      body: form({ username: "driver", password: "drive safely", _csrf: token }),
    });
    expect(direct.status).toBe(303);
    expect(direct.headers.getSetCookie().find((c) => c.startsWith("dashcam_session="))).toContain("Secure");
  });

  test("wrong password or unknown user: 401 with the same message, no session", async () => {
    for (const [u, p] of [
      ["driver", "wrong password"],
      ["nobody", "drive safely"],
    ]) {
      const { res } = await login(app, u!, p!);
      expect(res.status).toBe(401);
      expect(await res.text()).toContain("Wrong username or password.");
      expect(res.headers.getSetCookie().some((c) => c.startsWith("dashcam_session="))).toBe(false);
    }
  });

  test("only local redirect targets after login", async () => {
    const { jar, token } = await presession(app);
    const res = await app.request("/login", {
      method: "POST",
      headers: { ...FORM, cookie: jar.header() },
      body: form({ username: "driver", password: "drive safely", _csrf: token, next: "//evil.example/x" }),
    });
    expect(res.headers.get("location")).toBe("/");
    const res2 = await app.request("/login", {
      method: "POST",
      headers: { ...FORM, cookie: jar.header() },
      body: form({ username: "driver", password: "drive safely", _csrf: token, next: "/trips/3" }),
    });
    expect(res2.headers.get("location")).toBe("/trips/3");
  });

  test("logout ends the session server-side", async () => {
    const { jar } = await login(app, "driver", "drive safely");
    const csrf = lookupSession(db, jar.cookies.get("dashcam_session")!)!.csrfToken;
    const old = jar.header();
    const out = jar.take(await app.request("/logout", { method: "POST", headers: { cookie: old, [CSRF_HEADER]: csrf } }));
    expect(out.status).toBe(303);
    expect(jar.cookies.has("dashcam_session")).toBe(false);
    const after = await app.request("/trips/1/save", { method: "POST", headers: { cookie: old, [CSRF_HEADER]: csrf } });
    expect([401, 403]).toContain(after.status); // the old token no longer names a session (its CSRF token died with it)
    const page = await app.request("/", { headers: { cookie: old, accept: "text/html" } });
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toStartWith("/login");
  });

  test("expiry: an expired session is refused and deleted; use slides the expiry", () => {
    const u = db.query("SELECT id FROM users WHERE username = 'driver'").get() as { id: number };
    const t0 = 1_700_000_000_000;
    const s = createSession(db, u.id, t0);
    expect(lookupSession(db, s.token, t0 + 1000)?.refreshed).toBe(false);
    const later = t0 + 2 * 24 * 3600 * 1000;
    const slid = lookupSession(db, s.token, later)!;
    expect(slid.refreshed).toBe(true);
    expect(slid.expiresAt).toBe(later + SESSION_TTL_MS);
    expect(lookupSession(db, s.token, later + SESSION_TTL_MS + 1)).toBeNull();
    expect(db.query("SELECT COUNT(*) AS n FROM sessions WHERE token_hash = ?").get(hashToken(s.token))).toEqual({ n: 0 });
  });
});

describe("login rate limit", () => {
  test("per username: 5 failures then 429 with Retry-After, even for the right password; window expiry", async () => {
    const db = freshDb();
    let now = 1_700_000_000_000;
    const limiter = new LoginRateLimiter({ now: () => now });
    const app = makeApp(db, limiter);
    await createUser(db, { username: "target", password: "the real one", role: "viewer" });
    for (let i = 0; i < 5; i++) {
      now += 1000;
      expect((await login(app, "target", `guess ${i}`)).res.status).toBe(401);
    }
    now += 1000;
    const blocked = (await login(app, "target", "the real one")).res;
    expect(blocked.status).toBe(429);
    const retry = Number(blocked.headers.get("retry-after"));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(15 * 60);
    expect(blocked.headers.getSetCookie().some((c) => c.startsWith("dashcam_session="))).toBe(false);
    expect(db.query("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'auth.rate_limited'").get()).toEqual({ n: 1 });
    // after the window the right password works again
    now += retry * 1000;
    expect((await login(app, "target", "the real one")).res.status).toBe(303);
  });

  test("per client IP over a real socket: many usernames from one address", async () => {
    const db = freshDb();
    const app = makeApp(db);
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const attempt = async (username: string) => {
        const jar = new Jar();
        jar.take(await fetch(`${base}/setup`, { redirect: "manual" }));
        const token = jar.cookies.get("dashcam_csrf")!;
        return fetch(`${base}/login`, {
          method: "POST",
          redirect: "manual",
          headers: { ...FORM, cookie: jar.header() },
          body: form({ username, password: "whatever1", _csrf: token }),
        });
      };
      for (let i = 0; i < 5; i++) expect((await attempt(`user${i}`)).status).toBe(401);
      const res = await attempt("user-new");
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      const row = db.query("SELECT data FROM event_log WHERE kind = 'auth.rate_limited'").get() as { data: string };
      expect(JSON.parse(row.data).ip).toBe("127.0.0.1");
    } finally {
      server.stop(true);
    }
  });
});

describe("CSRF", () => {
  let db: Database;
  let app: Hono<WebEnv>;
  let op: { cookie: string; csrf: string };
  beforeAll(async () => {
    db = freshDb();
    app = makeApp(db);
    const u = await createUser(db, { username: "op", password: "operator pw", role: "operator" });
    op = sessionHeaders(db, u.id);
  });
  const post = (headers: Record<string, string>, body?: string) =>
    app.request("/trips/7/save", { method: "POST", headers: { cookie: op.cookie, ...headers }, body });

  test("missing or wrong token -> 403; header or form field -> allowed", async () => {
    const missing = await post({});
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain("missing CSRF token");
    const wrong = await post({ [CSRF_HEADER]: "A".repeat(43) });
    expect(wrong.status).toBe(403);
    expect(await wrong.text()).toContain("invalid CSRF token");
    const wrongForm = await post(FORM, form({ _csrf: "nope" }));
    expect(wrongForm.status).toBe(403);
    const viaHeader = await post({ [CSRF_HEADER]: op.csrf });
    expect(viaHeader.status).toBe(200);
    expect(await viaHeader.text()).toBe("saved 7");
    const viaForm = await post(FORM, form({ _csrf: op.csrf }));
    expect(viaForm.status).toBe(200);
  });

  test("another session's token is refused", async () => {
    const u2 = await createUser(db, { username: "op2", password: "operator pw", role: "operator" });
    const other = sessionHeaders(db, u2.id);
    expect((await post({ [CSRF_HEADER]: other.csrf })).status).toBe(403);
  });

  test("cross-origin requests are refused even with the right token", async () => {
    const evil = await post({ [CSRF_HEADER]: op.csrf, origin: "http://evil.example" });
    expect(evil.status).toBe(403);
    expect(await evil.text()).toContain("cross-site");
    expect((await post({ [CSRF_HEADER]: op.csrf, "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await post({ [CSRF_HEADER]: op.csrf, "sec-fetch-site": "same-site" })).status).toBe(403);
    expect((await post({ [CSRF_HEADER]: op.csrf, origin: "http://localhost", "sec-fetch-site": "same-origin" })).status).toBe(200);
    expect((await post({ [CSRF_HEADER]: op.csrf, origin: "http://dashcam.local:8080", host: "dashcam.local:8080" })).status).toBe(200);
  });

  test("the login form is CSRF-protected by the pre-session token", async () => {
    const { jar } = await presession(app);
    const res = await app.request("/login", {
      method: "POST",
      headers: { ...FORM, cookie: jar.header() },
      body: form({ username: "op", password: "operator pw", _csrf: "forged" }),
    });
    expect(res.status).toBe(403);
  });
});

describe("every mutating route (table-driven)", () => {
  const ROLE_LIST: Role[] = ["viewer", "operator", "admin"];

  test("each is in the permission table and rejects missing/wrong CSRF, no session, lower roles", async () => {
    const db = freshDb();
    const app = makeApp(db);
    const ids: Record<Role, number> = {} as Record<Role, number>;
    for (const role of ROLE_LIST) ids[role] = (await createUser(db, { username: `u-${role}`, password: "password 123", role })).id;
    const routes = listMutatingRoutes(app);
    expect(routes.length).toBeGreaterThanOrEqual(10);
    const checked: string[] = [];
    for (const r of routes) {
      const rule = ruleFor(r.method, samplePath(r.path));
      // a route missing from PERMISSIONS fails here: it cannot slip through
      expect({ route: `${r.method} ${r.path}`, rule: rule ? "listed" : "MISSING" }).toEqual({ route: `${r.method} ${r.path}`, rule: "listed" });
      const path = samplePath(r.path);
      const send = (headers: Record<string, string>) => app.request(path, { method: r.method, headers: { ...FORM, ...headers }, body: "" });
      const admin = sessionHeaders(db, ids.admin);
      // missing and wrong CSRF, with a session that has every right
      expect({ route: path, status: (await send({ cookie: admin.cookie })).status }).toEqual({ route: path, status: 403 });
      expect({ route: path, status: (await send({ cookie: admin.cookie, [CSRF_HEADER]: "x".repeat(43) })).status }).toEqual({
        route: path,
        status: 403,
      });
      if (rule!.role === "public") {
        checked.push(`${r.method} ${r.path} (public)`);
        continue;
      }
      // no session (but a valid pre-session token): 401
      const pre = await presession(app);
      const anon = await send({ cookie: pre.jar.header(), [CSRF_HEADER]: pre.token });
      expect({ route: path, status: anon.status }).toEqual({ route: path, status: 401 });
      for (const role of ROLE_LIST) {
        const s = sessionHeaders(db, ids[role]);
        const res = await send({ cookie: s.cookie, [CSRF_HEADER]: s.csrf });
        if (roleRank(role) < roleRank(rule!.role as Role)) expect({ route: path, role, status: res.status }).toEqual({ route: path, role, status: 403 });
        else expect({ route: path, role, denied: res.status === 401 || res.status === 403 }).toEqual({ route: path, role, denied: false });
      }
      checked.push(`${r.method} ${r.path} (${rule!.role})`);
    }
    expect(checked).toContain("POST /users/:id/role (admin)");
    expect(checked).toContain("POST /trips/:id/save (operator)");
    expect(checked).toContain("POST /logout (viewer)");
    expect(checked).toContain("POST /login (public)");
  });

  test("a mutating route missing from the table is listed, has no rule, and is refused (deny by default)", async () => {
    const db = freshDb();
    const app = makeApp(db);
    app.post("/brand-new/:id/wipe", (c) => c.text("wiped"));
    const admin = (await createUser(db, { username: "boss", password: "password 123", role: "admin" })).id;
    const routes = listMutatingRoutes(app).map((r) => `${r.method} ${r.path}`);
    expect(routes).toContain("POST /brand-new/:id/wipe");
    expect(ruleFor("POST", samplePath("/brand-new/:id/wipe"))).toBeNull();
    const s = sessionHeaders(db, admin);
    const res = await app.request("/brand-new/1/wipe", { method: "POST", headers: { cookie: s.cookie, [CSRF_HEADER]: s.csrf } });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("no permission rule");
  });

  test("the table covers only known roles and every rule path is a valid pattern", () => {
    for (const rule of PERMISSIONS) {
      expect(["public", "viewer", "operator", "admin"]).toContain(rule.role);
      expect(rule.path.startsWith("/")).toBe(true);
      expect(ruleFor(rule.method, samplePath(rule.path))).not.toBeNull();
    }
  });
});

describe("user management", () => {
  test("admin adds, changes role, resets password, deletes; guards last admin and self; operators cannot", async () => {
    const db = freshDb();
    const app = makeApp(db);
    const admin = await createUser(db, { username: "admin", password: "admin pass", role: "admin" });
    const op = await createUser(db, { username: "op", password: "operator pw", role: "operator" });
    const a = sessionHeaders(db, admin.id);
    const o = sessionHeaders(db, op.id);
    const as = (s: { cookie: string; csrf: string }, path: string, fields: Record<string, string>, extra: Record<string, string> = {}) =>
      app.request(path, { method: "POST", headers: { ...FORM, cookie: s.cookie, ...extra }, body: form({ ...fields, _csrf: s.csrf }) });

    expect((await app.request("/users", { headers: { cookie: o.cookie } })).status).toBe(403);
    expect((await as(o, "/users", { username: "sneaky", password: "password 1", role: "admin" })).status).toBe(403);
    const page = await app.request("/users", { headers: { cookie: a.cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("op");

    const added = await as(a, "/users", { username: "viewer1", password: "viewer pass", role: "viewer" });
    expect(added.status).toBe(303);
    expect(await verifyLogin(db, "viewer1", "viewer pass")).not.toBeNull();
    expect((await as(a, "/users", { username: "viewer1", password: "viewer pass", role: "viewer" })).status).toBe(409);
    expect((await as(a, "/users", { username: "bad", password: "viewer pass", role: "superuser" })).status).toBe(400);
    const frag = await as(a, "/users", { username: "viewer2", password: "viewer pass", role: "viewer" }, { "hx-request": "true" });
    expect(frag.status).toBe(200);
    expect(await frag.text()).toStartWith('<section id="users">');

    const v1 = db.query("SELECT id FROM users WHERE username = 'viewer1'").get() as { id: number };
    expect((await as(a, `/users/${v1.id}/role`, { role: "operator" })).status).toBe(303);
    expect(db.query("SELECT role FROM users WHERE id = ?").get(v1.id)).toEqual({ role: "operator" });
    expect((await as(a, `/users/${admin.id}/role`, { role: "viewer" })).status).toBe(409); // last admin
    expect((await as(a, `/users/abc/role`, { role: "viewer" })).status).toBe(404);
    expect((await as(a, `/users/424242/role`, { role: "viewer" })).status).toBe(404);

    const v1s = sessionHeaders(db, v1.id);
    expect((await as(a, `/users/${v1.id}/password`, { password: "fresh password" })).status).toBe(303);
    expect(await verifyLogin(db, "viewer1", "fresh password")).not.toBeNull();
    expect((await app.request("/", { headers: { cookie: v1s.cookie } })).status).not.toBe(200); // sessions ended

    expect((await as(a, `/users/${admin.id}/delete`, {})).status).toBe(409); // self
    expect((await as(a, `/users/${v1.id}/delete`, {})).status).toBe(303);
    expect(db.query("SELECT COUNT(*) AS n FROM users WHERE id = ?").get(v1.id)).toEqual({ n: 0 });
    const kinds = (db.query("SELECT kind FROM event_log WHERE kind LIKE 'user.%'").all() as { kind: string }[]).map((r) => r.kind);
    expect(kinds).toEqual(expect.arrayContaining(["user.add", "user.role", "user.password", "user.delete"]));
  });
});
