/**
 * CSRF protection for every state-changing request (any method but GET, HEAD, OPTIONS).
 *
 * Two independent checks, both must pass:
 * 1. Same origin: when the browser sends `Sec-Fetch-Site`, it must be `same-origin` (or `none`,
 *    a user-initiated request); when it sends `Origin`, its host must equal the request's host
 *    (`X-Forwarded-Host`, else `Host`, else the URL's). A request with neither header (curl, old
 *    browsers) is judged by the token alone. (OWASP CSRF Prevention Cheat Sheet: "Verifying
 *    Origin with standard headers" and "Fetch Metadata headers".)
 * 2. Synchronizer token: the request carries the session's CSRF token in the `X-CSRF-Token`
 *    header (htmx sends it from `hx-headers`, see `csrfHxHeaders`) or the `_csrf` form field
 *    (see `CsrfField`). Without a session, the pre-session token of the `dashcam_csrf` cookie is
 *    expected instead (double submit), which protects the login and setup forms.
 *
 * Failures answer 403 with a one-line reason. Mount after `sessionMiddleware`.
 */
import type { Context, MiddlewareHandler } from "hono";
import { html } from "hono/html";
import { timingSafeEqual } from "node:crypto";
import { presessionToken, type AuthEnv } from "./middleware.ts";

export const CSRF_FIELD = "_csrf";
export const CSRF_HEADER = "X-CSRF-Token";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** Constant-time string equality. */
export function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The host the request was addressed to. */
function requestHost(c: Context): string {
  const fwd = c.req.header("x-forwarded-host");
  if (fwd) return fwd.split(",")[0]!.trim().toLowerCase();
  const host = c.req.header("host");
  if (host) return host.toLowerCase();
  return new URL(c.req.url).host.toLowerCase();
}

/** Null when the request is same-origin (or cannot be judged by headers), else the reason. */
export function crossSiteReason(c: Context): string | null {
  const site = c.req.header("sec-fetch-site");
  if (site && site !== "same-origin" && site !== "none") return `cross-site request refused (Sec-Fetch-Site: ${site})`;
  const origin = c.req.header("origin");
  if (origin) {
    if (origin === "null") return "cross-site request refused (Origin: null)";
    let host: string;
    try {
      host = new URL(origin).host.toLowerCase();
    } catch {
      return "cross-site request refused (malformed Origin)";
    }
    if (host !== requestHost(c)) return `cross-site request refused (Origin ${origin} is not this site)`;
  }
  return null;
}

/** Reads the submitted token: header first, then the `_csrf` field of a form body. */
async function submittedToken(c: Context): Promise<string | null> {
  const header = c.req.header(CSRF_HEADER);
  if (header) return header;
  const type = c.req.header("content-type") ?? "";
  if (type.startsWith("application/x-www-form-urlencoded") || type.startsWith("multipart/form-data")) {
    try {
      const body = await c.req.parseBody(); // cached by Hono: handlers and validators can read it again
      const v = body[CSRF_FIELD];
      return typeof v === "string" ? v : null;
    } catch {
      return null;
    }
  }
  return null;
}

/** The CSRF middleware. */
export function csrf(): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    if (SAFE.has(c.req.method)) return next();
    const cross = crossSiteReason(c);
    if (cross) return c.text(`403 Forbidden: ${cross}`, 403);
    const expected = c.get("session")?.csrfToken ?? presessionToken(c);
    const got = await submittedToken(c);
    if (!got) return c.text("403 Forbidden: missing CSRF token", 403);
    if (!expected || !tokensEqual(got, expected)) return c.text("403 Forbidden: invalid CSRF token", 403);
    await next();
  };
}

/** Value for `<body hx-headers={csrfHxHeaders(token)}>`: every htmx request then carries the token. */
export function csrfHxHeaders(token: string): string {
  return JSON.stringify({ [CSRF_HEADER]: token });
}

/** Hidden form field carrying the CSRF token, for plain (non-htmx) forms. */
export function CsrfField(props: { token: string }) {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${props.token}" />`;
}
