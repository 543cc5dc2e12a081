/**
 * The permission table: the minimum role of every state-changing route, in one place.
 *
 * `authorize()` (mount on `*` after `sessionMiddleware` and `csrf()`) enforces it on every
 * request: the strictest rule matching the method and path decides. A mutating request
 * (not GET/HEAD/OPTIONS) that matches NO rule is refused with 403 (deny by default), so a new
 * route cannot go live unprotected — adding it means adding a line here. A GET that matches
 * no rule needs a session of any role (`getDefault`, "viewer"); public pages (login, setup,
 * shares, assets) are listed as `public`.
 *
 * `listMutatingRoutes(app)` lists every non-GET route a Hono app has (from `app.routes`, the
 * sub-apps mounted with `app.route` included), so a table-driven test can walk them all and
 * check each against `ruleFor`: every mutating route must reject a missing or wrong CSRF token
 * and an unauthenticated or under-privileged session.
 *
 * Roles: viewers cannot save, lock, delete or export; operators cannot manage users.
 */
import type { Hono, MiddlewareHandler } from "hono";
import { PatternRouter } from "hono/router/pattern-router";
import { roleRank, type Role } from "../../db/users.ts";
import { forbidden, unauthenticated, type AuthEnv } from "./middleware.ts";

/** `public` = no session needed (still CSRF-checked). */
export type Required = Role | "public";

export interface PermissionRule {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Hono path pattern of the FULL path as mounted (`/users/:id/role`). */
  path: string;
  role: Required;
  /** What the route does, for humans reading the table. */
  what: string;
}

/**
 * Every state-changing route of the app, and no rule for a route the app does not have. A new
 * route must appear here (the app's table-driven test fails otherwise, and `authorize()`
 * refuses it until it does); a rule whose route is removed must go too (the same test lists it).
 */
export const PERMISSIONS: readonly PermissionRule[] = [
  // pages anyone may fetch (every other GET needs a session, see authorize())
  { method: "GET", path: "/login", role: "public", what: "login page" },
  { method: "GET", path: "/setup", role: "public", what: "first-run setup page (404 once any user exists)" },
  { method: "GET", path: "/share/:token", role: "public", what: "public share page (seed 004; active, unexpired shares only)" },
  { method: "GET", path: "/share/:token/download", role: "public", what: "public share download" },
  { method: "GET", path: "/embed/:token", role: "public", what: "public share embed" },
  { method: "GET", path: "/assets/*", role: "public", what: "embedded CSS/JS" },
  { method: "GET", path: "/favicon.ico", role: "public", what: "icon" },
  { method: "GET", path: "/manifest.webmanifest", role: "public", what: "web app manifest (install on a phone's home screen)" },
  { method: "GET", path: "/sw.js", role: "public", what: "service worker (caches the app shell only)" },
  // operator pages
  { method: "GET", path: "/diagnostics", role: "operator", what: "recorder diagnostics (ring, segments, boot ids)" },
  // auth (src/web/routes/auth.tsx)
  { method: "POST", path: "/login", role: "public", what: "log in (rate limited)" },
  { method: "POST", path: "/setup", role: "public", what: "create the first admin; 404 once any user exists" },
  { method: "POST", path: "/logout", role: "viewer", what: "log out" },
  // users (src/web/routes/users.tsx)
  { method: "GET", path: "/users", role: "admin", what: "user list" },
  { method: "POST", path: "/users", role: "admin", what: "add a user" },
  { method: "POST", path: "/users/:id/role", role: "admin", what: "change a user's role" },
  { method: "POST", path: "/users/:id/password", role: "admin", what: "reset a user's password" },
  { method: "POST", path: "/users/:id/delete", role: "admin", what: "delete a user" },
  { method: "POST", path: "/users/:id/unlock", role: "admin", what: "lift a user's login lockout" },
  // trips, locks, exports, incidents (src/web/routes/trips.tsx, exports.tsx, snapshots.tsx, api.tsx)
  { method: "POST", path: "/trips/:id/save", role: "operator", what: "save a trip" },
  { method: "POST", path: "/api/trips/:id/save", role: "operator", what: "save a trip (API)" },
  { method: "POST", path: "/trips/:id/lock", role: "operator", what: "evidence-lock a trip" },
  { method: "POST", path: "/trips/:id/unlock", role: "operator", what: "remove a trip's evidence lock" },
  { method: "POST", path: "/trips/:id/delete", role: "operator", what: "delete a saved trip (its footage is unlocked for the ring to reclaim)" },
  { method: "POST", path: "/exports", role: "operator", what: "export a clip" },
  { method: "POST", path: "/api/exports", role: "operator", what: "export a clip (API)" },
  { method: "POST", path: "/exports/:id/delete", role: "operator", what: "delete an export" },
  { method: "POST", path: "/snapshots", role: "operator", what: "save a snapshot" },
  { method: "POST", path: "/incidents", role: "operator", what: "mark an incident (clip before/after a moment)" },
  { method: "POST", path: "/api/incidents", role: "operator", what: "mark an incident (API)" },
  { method: "POST", path: "/home/save", role: "operator", what: "keep the current drive (home screen Save)" },
  { method: "POST", path: "/home/incident", role: "operator", what: "mark an incident now on every recording camera (home screen)" },
  // cameras (src/web/routes/cameras.tsx)
  { method: "POST", path: "/cameras/:key/stop", role: "operator", what: "stop recording a camera (its open trip closes)" },
  { method: "POST", path: "/cameras/:key/start", role: "operator", what: "start recording a stopped camera" },
  // recommended settings and their application (src/web/routes/cameraSettings.tsx)
  { method: "POST", path: "/cameras/:key/optimize", role: "operator", what: "recommend settings for a camera (stored)" },
  { method: "POST", path: "/cameras/:key/apply", role: "operator", what: "apply a recommendation to a camera" },
  { method: "POST", path: "/cameras/:key/applies/:id/confirm", role: "operator", what: "confirm a settings change made by hand" },
  { method: "POST", path: "/cameras/:key/applies/:id/cancel", role: "operator", what: "give up a settings change made by hand" },
  // camera health (src/web/routes/health.tsx)
  { method: "POST", path: "/cameras/:key/health/check", role: "operator", what: "run a camera health check now" },
  // camera inventory (src/web/routes/inventory.tsx)
  { method: "POST", path: "/cameras/:key/inventory", role: "admin", what: "change a camera's inventory and ONVIF login" },
  { method: "POST", path: "/cameras/:key/inventory/discover", role: "operator", what: "discover a camera's capabilities now" },
  // plates (src/web/routes/plates.tsx)
  { method: "POST", path: "/plates/watchlist", role: "operator", what: "add a plate to the watchlist" },
  { method: "POST", path: "/plates/watchlist/:id/delete", role: "operator", what: "remove a plate from the watchlist" },
];

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** Builds a matcher for a table; the strictest matching rule wins when several match. */
export function permissionMatcher(table: readonly PermissionRule[] = PERMISSIONS) {
  const router = new PatternRouter<PermissionRule>();
  for (const rule of table) router.add(rule.method, rule.path, rule);
  return (method: string, path: string): PermissionRule | null => {
    const m = method === "HEAD" ? "GET" : method;
    const [matches] = router.match(m, path) as unknown as [[PermissionRule, Record<string, string>][]];
    let best: PermissionRule | null = null;
    for (const [rule] of matches) {
      if (!best || rank(rule.role) > rank(best.role)) best = rule;
    }
    return best;
  };
}

const rank = (r: Required) => (r === "public" ? -1 : roleRank(r));

const defaultMatcher = permissionMatcher();

/** The rule for a request method and path (a concrete path like `/users/7/role`), or null. */
export function ruleFor(method: string, path: string): PermissionRule | null {
  return defaultMatcher(method, path);
}

export interface AuthorizeOptions {
  table?: readonly PermissionRule[];
  /** What a GET/HEAD matching no rule needs: a session of any role (default) or nothing. */
  getDefault?: Required;
}

/** Enforces the permission table (deny by default for unlisted mutating routes). */
export function authorize(options: AuthorizeOptions = {}): MiddlewareHandler<AuthEnv> {
  const table = options.table ?? PERMISSIONS;
  const getDefault = options.getDefault ?? "viewer";
  const match = table === PERMISSIONS ? defaultMatcher : permissionMatcher(table);
  return async (c, next) => {
    const method = c.req.method;
    if (method === "OPTIONS") return next();
    const path = new URL(c.req.url).pathname;
    const rule = match(method, path);
    let role: Required;
    if (rule) role = rule.role;
    else if (SAFE.has(method)) role = getDefault;
    else return c.text(`403 Forbidden: ${method} ${path} has no permission rule`, 403);
    if (role === "public") return next();
    const user = c.get("user");
    if (!user) return unauthenticated(c);
    if (roleRank(user.role) < roleRank(role)) return forbidden(c, role);
    await next();
  };
}

export interface RouteInfo {
  method: string;
  path: string;
}

/**
 * Every route of `app` whose method changes state (not GET/HEAD/OPTIONS; `ALL` entries are
 * middleware and skipped), deduplicated, sorted by path then method.
 */
// biome-ignore lint: any Hono app
export function listMutatingRoutes(app: Hono<any, any, any>): RouteInfo[] {
  const seen = new Map<string, RouteInfo>();
  for (const r of app.routes) {
    const method = r.method.toUpperCase();
    if (method === "ALL" || SAFE.has(method)) continue;
    seen.set(`${method} ${r.path}`, { method, path: r.path });
  }
  return [...seen.values()].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/** Turns a route pattern into a concrete sample path (`/users/:id/role` -> `/users/999999/role`). */
export function samplePath(pattern: string): string {
  return pattern.replace(/:(\w+)(\{[^}]*\})?\??/g, "999999").replace(/\/\*$/, "/x");
}
