/**
 * Session middleware for the Hono app.
 *
 * `sessionMiddleware({ db })` (mount once, first, on `*`) reads the session cookie, looks the
 * session up (src/db/sessions.ts) and sets `c.var.session`, `c.var.user` and `c.var.csrfToken`:
 * the session's CSRF token, or for a visitor without a session a pre-session token kept in its
 * own cookie (double-submit, so the login and setup forms are CSRF-protected too).
 *
 * `requireAuth()` and `requireRole(role)` guard routes: no session -> 401 (a plain page
 * navigation is redirected 303 to `/login?next=...` instead; htmx requests also get
 * `HX-Redirect: /login`), a session with a lower role -> 403 with the reason.
 *
 * Cookies: `dashcam_session` (HttpOnly, SameSite=Strict, Path=/, Max-Age = session lifetime,
 * Secure when the request came over TLS: an https URL or `X-Forwarded-Proto: https` from a
 * TLS-terminating proxy) and `dashcam_csrf` (pre-session token, same flags, browser session).
 */
import type { Database } from "bun:sqlite";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { SESSION_TTL_MS, createSession, deleteSession, lookupSession, randomToken, type SessionInfo } from "../../db/sessions.ts";
import { hasRole, type Role } from "../../db/users.ts";

export const SESSION_COOKIE = "dashcam_session";
export const PRESESSION_COOKIE = "dashcam_csrf";

export interface SessionUser {
  id: number;
  username: string;
  role: Role;
}

/** Context variables set by `sessionMiddleware`. */
export interface AuthVariables {
  session: SessionInfo | null;
  user: SessionUser | null;
  /** Token a page must embed in forms (`_csrf`) and htmx headers (`X-CSRF-Token`). */
  csrfToken: string;
}
export type AuthEnv = { Variables: AuthVariables };

export interface SessionOptions {
  db: Database;
  /** Clock, ms UTC (tests). */
  now?: () => number;
}

/** True when the request arrived over TLS (directly or through a proxy that says so). */
export function isSecureRequest(c: Context): boolean {
  const proto = c.req.header("x-forwarded-proto");
  if (proto) return proto.split(",")[0]!.trim().toLowerCase() === "https";
  return new URL(c.req.url).protocol === "https:";
}

const cookieBase = (c: Context) => ({ httpOnly: true, sameSite: "Strict" as const, secure: isSecureRequest(c), path: "/" });

/** Sets the session cookie for a new or refreshed session. */
export function setSessionCookie(c: Context, token: string, expiresAt: number, now = Date.now()): void {
  setCookie(c, SESSION_COOKIE, token, { ...cookieBase(c), maxAge: Math.max(0, Math.floor((expiresAt - now) / 1000)) });
}

/** Expires the session cookie in the browser. */
export function clearSessionCookie(c: Context): void {
  setCookie(c, SESSION_COOKIE, "", { ...cookieBase(c), maxAge: 0 });
}

/**
 * Creates a session for `userId`, sets its cookie and the context variables; returns the CSRF token.
 * Takes the context of any app whose variables include the session's (`AuthEnv`).
 */
export function startSession<E extends AuthEnv>(ctx: Context<E>, db: Database, user: SessionUser, now = Date.now()): string {
  const c = ctx as unknown as Context<AuthEnv>;
  const s = createSession(db, user.id, now);
  setSessionCookie(c, s.token, s.expiresAt, now);
  c.set("user", user);
  c.set("csrfToken", s.csrfToken);
  return s.csrfToken;
}

/** Ends the request's session (if any) and clears its cookie. */
export function endSession<E extends AuthEnv>(ctx: Context<E>, db: Database): void {
  const c = ctx as unknown as Context<AuthEnv>;
  const token = getCookie(c, SESSION_COOKIE);
  if (token) deleteSession(db, token);
  clearSessionCookie(c);
  c.set("session", null);
  c.set("user", null);
}

const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

/** Loads the session (if any) and the CSRF token into the context. Mount first, on `*`. */
export function sessionMiddleware(options: SessionOptions): MiddlewareHandler<AuthEnv> {
  const now = options.now ?? Date.now;
  return async (c, next) => {
    const token = getCookie(c, SESSION_COOKIE);
    const t = now();
    const session = token && TOKEN_RE.test(token) ? lookupSession(options.db, token, t) : null;
    c.set("session", session);
    c.set("user", session ? session.user : null);
    let newPre: string | null = null;
    if (session) {
      c.set("csrfToken", session.csrfToken);
    } else {
      const pre = getCookie(c, PRESESSION_COOKIE);
      if (pre && TOKEN_RE.test(pre)) c.set("csrfToken", pre);
      else {
        newPre = randomToken();
        c.set("csrfToken", newPre);
      }
    }
    await next();
    if (session?.refreshed && token && !c.res.headers.get("set-cookie")?.includes(`${SESSION_COOKIE}=`))
      setSessionCookie(c, token, session.expiresAt, t);
    if (newPre && !c.get("session") && !c.res.headers.get("set-cookie")?.includes(`${SESSION_COOKIE}=`))
      setCookie(c, PRESESSION_COOKIE, newPre, cookieBase(c));
  };
}

/** The pre-session CSRF token the browser sent (for the login and setup forms). */
export function presessionToken(c: Context): string | undefined {
  return getCookie(c, PRESESSION_COOKIE);
}

/** True for requests made by htmx or by an API client, which get status codes, not redirects. */
function wantsStatus(c: Context): boolean {
  if (c.req.header("hx-request")) return true;
  if (c.req.method !== "GET" && c.req.method !== "HEAD") return true;
  if (new URL(c.req.url).pathname.startsWith("/api/")) return true;
  const accept = c.req.header("accept") ?? "";
  return !accept.includes("text/html");
}

/** The response for a request without a session. */
export function unauthenticated(c: Context): Response {
  if (!wantsStatus(c)) {
    const url = new URL(c.req.url);
    return c.redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
  }
  if (c.req.header("hx-request")) c.header("HX-Redirect", "/login");
  return c.text("401 Unauthorized: log in first", 401);
}

/** The response for a session whose role is too low. */
export function forbidden(c: Context, required: Role): Response {
  return c.text(`403 Forbidden: needs role ${required} or higher`, 403);
}

/** Lets the request through only with a session (any role). */
export function requireAuth(): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    if (!c.get("user")) return unauthenticated(c);
    await next();
  };
}

/** Lets the request through only with a session of at least `role` (viewer < operator < admin). */
export function requireRole(role: Role): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const user = c.get("user");
    if (!user) return unauthenticated(c);
    if (!hasRole(user.role, role)) return forbidden(c, role);
    await next();
  };
}

export { SESSION_TTL_MS };
