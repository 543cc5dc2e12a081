/**
 * Types shared by the web app and its sub-apps. Every request carries the app's dependencies
 * in `c.var.deps` (set by the first middleware in `createApp`).
 */
import type { Database } from "bun:sqlite";
import type { MiddlewareHandler } from "hono";
import type { Config } from "../config.ts";
import type { LiveBus } from "../events.ts";

export interface WebDeps {
  db: Database;
  config: Config;
  /** Absolute data directory; segment `rel_path`s resolve inside it. */
  dataDir: string;
  bus: LiveBus;
  /** Process start, Unix ms (for `/healthz` uptime). */
  startedAt: number;
  /**
   * Optional middleware run before every non-public route (after `/assets/*` and `/healthz`):
   * the one place issue 3's session/auth and CSRF checks plug in.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- guards bring their own Env (e.g. session variables)
  middleware?: MiddlewareHandler<any>[];
  /** SSE heartbeat comment interval, ms (default 15000). */
  sseHeartbeatMs?: number;
}

export type WebEnv = { Variables: { deps: WebDeps } };
