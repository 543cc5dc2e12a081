/**
 * Web security in one import. Mount once, before every route:
 *
 * ```ts
 * app.use("*", depsMiddleware(deps));               // c.var.deps, c.var.limiter (src/web/app.tsx)
 * app.use("*", ...securityMiddleware({ db }));      // session -> CSRF -> permission table
 * app.route("/", authRoutes());                      // /login, /logout, /setup
 * app.route("/users", userRoutes());                 // admin user management
 * ```
 * In the layout: `<body hx-headers={csrfHxHeaders(c.get("csrfToken"))}>` so every htmx request
 * carries the token, and `<CsrfField token={c.get("csrfToken")} />` inside plain forms.
 */
import type { Database } from "bun:sqlite";
import type { MiddlewareHandler } from "hono";
import { csrf } from "./csrf.ts";
import { sessionMiddleware, type AuthEnv } from "./middleware.ts";
import { authorize, type AuthorizeOptions } from "./permissions.ts";

export * from "./csrf.ts";
export * from "./middleware.ts";
export * from "./permissions.ts";
export * from "./rateLimit.ts";

/** The three middlewares in their required order: session, CSRF, permission table. */
export function securityMiddleware(options: { db: Database; now?: () => number } & AuthorizeOptions): MiddlewareHandler<AuthEnv>[] {
  return [sessionMiddleware(options), csrf(), authorize(options)];
}
