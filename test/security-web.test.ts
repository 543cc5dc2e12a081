/**
 * Web security defects found by probing, against the real app (`createApp`) on a real SQLite file,
 * and against the real server (`startWebServer`, Bun.serve on a loopback port) where the socket
 * matters (request bodies):
 * - the login redirect target must be a same-origin path (`/\t/evil.example` is not);
 * - an anonymous request with a huge or endless body is refused (413) before it is read;
 * - changing a password ends every other session of that user, the current one stays;
 * - an admin can lift a login lockout from the users page (CSRF-protected htmx button);
 * - `/healthz` answers 503 `ok: false` while an enabled camera is not recording.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { validateConfig } from "../src/config.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { loadSecretKey } from "../src/secrets.ts";
import { createSession } from "../src/db/sessions.ts";
import { LiveBus } from "../src/events.ts";
import { createApp, type WebDeps } from "../src/web/app.tsx";
import { LoginRateLimiter } from "../src/web/auth/rateLimit.ts";
import { safeNext } from "../src/web/routes/auth.tsx";
import { startWebServer } from "../src/web/server.ts";
import { makeSessions, withSession, USERS } from "./web-fixture.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A data directory with a database, one camera "front" (segment 2 s: stall 14 s) and the three fixture users. */
async function setup(opts: { limiter?: LoginRateLimiter; cameras?: Record<string, unknown>[] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "security-web-"));
  dirs.push(dir);
  const db = openDatabase(join(dir, "dashcam.db"));
  const config = validateConfig(
    { data_dir: dir, http: { listen: "127.0.0.1:0" }, cameras: opts.cameras ?? [{ key: "front", source: "testsrc", segment_seconds: 2 }] },
    dir,
  );
  const cameraIds = syncCameras(db, config.cameras, loadSecretKey(dir));
  const sessions = await makeSessions(db);
  const limiter = opts.limiter ?? new LoginRateLimiter();
  const deps: WebDeps = { db, config, dataDir: dir, bus: new LiveBus(), startedAt: Date.now() - 60_000, limiter };
  return { dir, db, config, cameraIds, sessions, limiter, deps, app: createApp(deps) };
}

const FORM = { "content-type": "application/x-www-form-urlencoded" };

/** The pre-session cookie and CSRF token a visitor gets from the login page. */
async function presession(app: { request(p: string, i?: RequestInit): Response | Promise<Response> }) {
  const res = await app.request("/login");
  const cookie = res.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const token = /name="_csrf" value="([^"]+)"/.exec(await res.text())![1]!;
  return { cookie, token };
}

async function login(app: ReturnType<typeof createApp>, username: string, password: string, next?: string) {
  const { cookie, token } = await presession(app);
  const body = new URLSearchParams({ username, password, _csrf: token, ...(next === undefined ? {} : { next }) });
  return app.request("/login", { method: "POST", headers: { ...FORM, cookie }, body });
}

describe("login redirect target", () => {
  test("only same-origin paths: a tab, backslash, scheme or protocol-relative target redirects to /", async () => {
    const { app } = await setup();
    const hostile = ["/\t/evil.example", "/\n/evil.example", "/\\evil.example", "\\/evil.example", "//evil.example", "https://evil.example/", "/\u0000/evil.example", "javascript:alert(1)", " /x"];
    for (const next of hostile) {
      const res = await login(app, USERS.viewer.username, USERS.viewer.password, next);
      expect({ next, status: res.status, location: res.headers.get("location") }).toEqual({ next, status: 303, location: "/" });
    }
    for (const next of ["/trips/3", "/events?kind=auth.login&level=warn", "/cameras/front#live"]) {
      const res = await login(app, USERS.viewer.username, USERS.viewer.password, next);
      expect(res.headers.get("location")).toBe(next);
    }
    // the query string form of the probe, as a browser sends it
    expect(safeNext(new URL("http://x/login?next=/%09/evil.example").searchParams.get("next"))).toBe("/");
  });
});

/** Sends raw HTTP and returns what the server answered (status line) and how many body bytes it took. */
function rawPost(port: number, head: string, body: () => Buffer | null, opts: { timeoutMs?: number } = {}): Promise<{ status: number; text: string; sentBytes: number }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    let answer = "";
    let sentBytes = 0;
    let done = false;
    let timer: ReturnType<typeof setInterval> | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(timer);
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      if (!m) reject(new Error(`no HTTP answer after ${sentBytes} body bytes: ${JSON.stringify(answer.slice(0, 200))}`));
      else resolve({ status: Number(m[1]), text: answer, sentBytes });
    };
    const deadline = setTimeout(finish, opts.timeoutMs ?? 10_000);
    sock.on("data", (d) => {
      answer += d.toString();
      if (/\r\n\r\n/.test(answer)) setTimeout(() => { clearTimeout(deadline); finish(); }, 100);
    });
    sock.on("error", () => { clearTimeout(deadline); finish(); });
    sock.on("close", () => { clearTimeout(deadline); finish(); });
    sock.on("connect", () => {
      sock.write(head);
      // keep sending body chunks until the server answers (or the deadline)
      timer = setInterval(() => {
        if (done || answer) return;
        const chunk = body();
        if (!chunk) return;
        sentBytes += chunk.length;
        sock.write(chunk);
      }, 5);
    });
  });
}

describe("request body limits", () => {
  test("an anonymous 100 MB multipart login is refused by Content-Length before its body is read", async () => {
    const { deps } = await setup();
    const web = startWebServer(deps);
    try {
      const port = Number(new URL(web.url).port);
      const boundary = "----x";
      const head =
        `POST /login HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\n` +
        `Content-Length: ${100 * 1024 * 1024}\r\n\r\n`;
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      const r = await rawPost(port, head, () => chunk);
      expect(r.status).toBe(413);
      expect(r.sentBytes).toBeLessThan(20 * 1024 * 1024);
    } finally {
      await web.stop();
    }
  });

  test("a chunked body without Content-Length is cut at the route's limit (413 with the reason)", async () => {
    const { deps } = await setup();
    const web = startWebServer(deps);
    try {
      const port = Number(new URL(web.url).port);
      const head = `POST /login HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n`;
      const data = Buffer.alloc(4096, 0x61);
      const chunk = Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from("\r\n")]);
      const r = await rawPost(port, head, () => chunk);
      expect(r.status).toBe(413);
      expect(r.text).toMatch(/too large.*KiB/i);
      expect(r.sentBytes).toBeLessThan(1024 * 1024);
    } finally {
      await web.stop();
    }
  });

  test("app level: a logged-in form over the limit is 413 by Content-Length; a normal login still works", async () => {
    const { app, sessions } = await setup();
    const big = "x".repeat(200 * 1024);
    const res = await app.request("/users", withSession(sessions.admin, { method: "POST", headers: FORM, body: new URLSearchParams({ username: "big", password: big, role: "viewer" }) }));
    expect(res.status).toBe(413);
    expect(await res.text()).toMatch(/too large/i);
    const ok = await login(app, USERS.viewer.username, USERS.viewer.password, "/");
    expect(ok.status).toBe(303);
  });
});

describe("password change ends the user's other sessions", () => {
  test("changing your own password keeps this session and ends the others; another user's change ends all of theirs", async () => {
    const { app, db, sessions } = await setup();
    const admin = sessions.admin;
    const other = createSession(db, admin.userId); // the admin's phone
    const otherCookie = `dashcam_session=${other.token}`;
    const page = (cookie: string) => app.request("/users", { headers: { cookie, accept: "text/html" }, redirect: "manual" });
    expect((await page(otherCookie)).status).toBe(200);

    const res = await app.request(`/users/${admin.userId}/password`, withSession(admin, { method: "POST", headers: { ...FORM, "hx-request": "true" }, body: new URLSearchParams({ password: "a-new-admin-password" }) }));
    expect(res.status).toBe(200);
    expect((await page(admin.cookie)).status).toBe(200); // this session stays
    expect((await page(otherCookie)).status).toBe(303); // the phone is logged out

    const viewerSecond = createSession(db, sessions.viewer.userId);
    await app.request(`/users/${sessions.viewer.userId}/password`, withSession(admin, { method: "POST", headers: { ...FORM, "hx-request": "true" }, body: new URLSearchParams({ password: "another-new-password" }) }));
    for (const cookie of [sessions.viewer.cookie, `dashcam_session=${viewerSecond.token}`]) {
      const r = await app.request("/", { headers: { cookie, accept: "text/html" }, redirect: "manual" });
      expect(r.status).toBe(303);
    }
  });
});

describe("login lockout", () => {
  test("an admin unlocks a locked-out user from the users page (htmx, CSRF-checked, admin only)", async () => {
    const { app, sessions } = await setup();
    for (let i = 0; i < 5; i++) expect((await login(app, USERS.viewer.username, "wrong-password-x")).status).toBe(401);
    expect((await login(app, USERS.viewer.username, USERS.viewer.password)).status).toBe(429);

    const list = await (await app.request("/users", withSession(sessions.admin))).text();
    expect(list).toContain(`hx-post="/users/${sessions.viewer.userId}/unlock"`);
    expect(list).toMatch(/locked out/i);

    const unlock = (init: RequestInit) => app.request(`/users/${sessions.viewer.userId}/unlock`, { method: "POST", ...init });
    const noToken = await unlock({ headers: { cookie: sessions.admin.cookie, "hx-request": "true" } });
    expect(noToken.status).toBe(403);
    expect((await unlock(withSession(sessions.operator, { method: "POST", headers: { "hx-request": "true" } }))).status).toBe(403);
    expect((await login(app, USERS.viewer.username, USERS.viewer.password)).status).toBe(429);

    const ok = await unlock(withSession(sessions.admin, { method: "POST", headers: { "hx-request": "true" } }));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("unlocked");
    expect((await login(app, USERS.viewer.username, USERS.viewer.password)).status).toBe(303);
  });

  test("unlocking a user also frees the addresses that failed for that user", () => {
    const limiter = new LoginRateLimiter();
    for (let i = 0; i < 5; i++) limiter.fail(["ip:192.0.2.9", "user:vera"]);
    expect(limiter.check(["ip:192.0.2.9", "user:otto"]).allowed).toBe(false);
    expect(limiter.isLocked("vera")).toBe(true);
    expect(limiter.unlockUser("vera")).toBe(true);
    expect(limiter.check(["ip:192.0.2.9", "user:otto"]).allowed).toBe(true);
    expect(limiter.check(["ip:192.0.2.9", "user:vera"]).allowed).toBe(true);
    expect(limiter.unlockUser("vera")).toBe(false);
  });
});

describe("/healthz", () => {
  function setStatus(db: Database, cameraId: number, state: string, lastSegmentAt: number | null, lastStartedAt: number | null) {
    db.query(
      `INSERT INTO camera_status (camera_id, state, last_segment_at, last_started_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT(camera_id) DO UPDATE SET state = ?2, last_segment_at = ?3, last_started_at = ?4, updated_at = ?5`,
    ).run(cameraId, state, lastSegmentAt, lastStartedAt, Date.now());
  }
  const health = async (app: ReturnType<typeof createApp>) => {
    const res = await app.request("/healthz");
    return { status: res.status, body: (await res.json()) as { ok: boolean; cameras: { key: string; ok: boolean; problem: string | null }[] } };
  };

  test("503 ok:false while an enabled camera has not recorded for longer than its stall time, or is stopped for a full disk", async () => {
    const { app, db, cameraIds } = await setup({
      cameras: [
        { key: "front", source: "testsrc", segment_seconds: 2 },
        { key: "spare", source: "testsrc", enabled: false },
      ],
    });
    const id = cameraIds.get("front")!;
    const now = Date.now();
    setStatus(db, id, "recording", now - 1_000, now - 50_000);
    expect((await health(app)).status).toBe(200);
    expect((await health(app)).body.ok).toBe(true);

    setStatus(db, id, "backoff", now - 40_000, now - 50_000); // stall time 2 x 2 + 10 = 14 s
    const down = await health(app);
    expect(down.status).toBe(503);
    expect(down.body.ok).toBe(false);
    expect(down.body.cameras.find((c) => c.key === "front")!.problem).toMatch(/no segment for 40 s/);

    setStatus(db, id, "disk_full", now - 1_000, now - 50_000);
    const full = await health(app);
    expect(full.status).toBe(503);
    expect(full.body.cameras.find((c) => c.key === "front")!.problem).toMatch(/disk full/);

    // never recorded since this process started a minute ago
    setStatus(db, id, "backoff", null, null);
    expect((await health(app)).status).toBe(503);
    // the disabled camera never counts
    setStatus(db, id, "recording", now - 500, now - 50_000);
    expect((await health(app)).body.ok).toBe(true);
  });
});
