/**
 * Types shared by the web app and its sub-apps, and the middleware that fills them. Dependencies
 * reach a route one way only: as request variables set by `depsMiddleware`, the first middleware
 * of the app (src/web/app.tsx):
 * `c.var.deps` (database, config, data directory, live bus, runtime actions), and the objects
 * made once per app, `c.var.exports`, `c.var.gate`, `c.var.limiter`. Sub-apps are built with
 * no arguments. Behind the security middleware (src/web/auth) the session is there too:
 * `c.var.user`, `c.var.session`, `c.var.csrfToken`.
 */
import type { Database } from "bun:sqlite";
import type { MiddlewareHandler } from "hono";
import type { Config } from "../config.ts";
import type { LiveBus } from "../events.ts";
import type { GpioState, SaveSource } from "../machines/supervisor.ts";
import type { AuthVariables } from "./auth/middleware.ts";
import { LoginRateLimiter } from "./auth/rateLimit.ts";
import { ExportRegistry } from "./exportJobs.ts";
import { Gate } from "./gate.ts";
import type { ManualBatchRequest } from "../media/timelapse.ts";
import type { RenderProgress } from "../renderProgress.ts";
import type { LiveHubs } from "../media/liveHub.ts";
import type { CurrentFrameSource } from "../media/currentFrame.ts";
import type { OptimizeOptions } from "../optimize/request.ts";
import type { ApplyRequest } from "../optimize/apply.ts";


/**
 * Product actions that belong to the recording runtime (its actors), not to the web layer.
 * The runtime passes them in `WebDeps.actions`; a route whose action is absent answers 503
 * with the reason, so the UI works (read-only for these actions) before the runtime wires them.
 */
export interface WebActions {
  /**
   * Sends SAVE to the trip's actor (`saving -> saved`: evidence-lock its segments in the ring,
   * `saved_trips` row). Resolves once the request is accepted (not when the save is finished:
   * the trip status shows that). Must be safe to repeat. Rejects with an
   * Error whose message is shown to the user (e.g. "trip 7 is evicted") when it cannot.
   */
  saveTrip?(tripId: number, source: SaveSource): Promise<void>;
  /**
   * Starts an incident clip on camera `cameraKey` at `atUtc` (ms UTC): the window
   * [at - before_seconds, at + after_seconds] of `[incident]` is evidence-locked at once and
   * exported when recorded (src/media/export.ts `beginIncident` / `exportIncident`).
   * Resolves with the new incident id.
   */
  incident?(cameraKey: string, atUtc: number): Promise<{ incidentId: string }>;
  /**
   * Stops camera `cameraKey` (its recorder finalises the current segment; its open trip closes,
   * reason `camera_stopped`). Resolves once the request is sent, not when the camera has
   * stopped (the camera card shows that). Rejects with a user-readable Error for a camera the
   * runtime does not run.
   */
  stopCamera?(cameraKey: string): Promise<void>;
  /** Starts a stopped camera again (same contract as `stopCamera`). */
  startCamera?(cameraKey: string): Promise<void>;
  /**
   * Asks camera `cameraKey`'s health monitor to check now (`CHECK.NOW`). Resolves once asked;
   * the check's result shows on the health page. Rejects with a user-readable Error when the
   * camera has no monitor (unknown, disabled, or `[health]` off).
   */
  checkHealth?(cameraKey: string): Promise<void>;
  /**
   * Discovers camera `cameraKey`'s inventory now (ONVIF, else a probe of its newest recording)
   * and stores it. Resolves when stored; rejects with a user-readable Error (the device's fault
   * string, a wrong login, nothing recorded yet).
   */
  discoverInventory?(cameraKey: string): Promise<void>;
  /**
   * The GPIO save button's last status (the supervisor keeps it; the LiveBus `gpio` event carries
   * each change); null when `[gpio]` is not configured or nothing was reported yet.
   */
  gpioStatus?(): GpioState | null;
  /** Creates a manual timelapse batch and starts its render (RuntimeActions.createTimelapse). */
  createTimelapse?(req: ManualBatchRequest): Promise<{ batchId: number; frames: number }>;
  /** Keeps a copy of a camera's continuous timelapse now. */
  checkpointTimelapse?(cameraKey: string): Promise<{ batchId: number }>;
  /** Cancels and deletes a timelapse batch with its video. */
  deleteTimelapse?(batchId: number): Promise<void>;
  /** A timelapse of a trip's footage: a frame every `everySeconds`, taken in the background (RuntimeActions.tripTimelapse). */
  tripTimelapse?(tripId: number, everySeconds: number, frameRate?: number): Promise<{ frames: number }>;
  /**
   * Space was freed (a saved trip deleted, evidence unlocked): every camera stopped for a full
   * disk runs its retention pass now instead of at its next retry, and resumes recording when the
   * ring fits again. Returns at once.
   */
  recheckDisk?(): void;
  /**
   * Deletes saved trip `tripId` while it still records (its actor stops keeping it: evidence
   * locks and the saved row go, the trip goes on unsaved). Resolves once committed; rejects with
   * a user-readable Error when the trip is not saved-and-recording.
   */
  unsaveTrip?(tripId: number, by: string): Promise<void>;
  /** Runs the heuristic optimizer for a camera and stores the recommendation (RuntimeActions.optimizeCamera). */
  optimizeCamera?(cameraKey: string, opts?: OptimizeOptions): Promise<{ optimizationId: number }>;
  /** Starts a settings change and its actor (RuntimeActions.applySettings); rejects with ApplyRequestError. */
  applySettings?(req: ApplyRequest): Promise<{ applyId: number }>;
  /** Confirms (or with `cancel`, gives up) a manual settings change (RuntimeActions.confirmApply). */
  confirmApply?(applyId: number, by: string, cancel?: boolean): Promise<void>;
}

export interface WebDeps {
  db: Database;
  config: Config;
  /** Absolute data directory; segment `rel_path`s resolve inside it. */
  dataDir: string;
  bus: LiveBus;
  /** Process start, Unix ms (for `/healthz` uptime). */
  startedAt: number;
  /**
   * Extra middleware run before every non-public route, after the security middleware (session,
   * CSRF, permission table), which `createApp` always mounts.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- guards bring their own Env (e.g. session variables)
  middleware?: MiddlewareHandler<any>[];
  /** SSE heartbeat comment interval, ms (default 15000). */
  sseHeartbeatMs?: number;
  /** Runtime actions (save trip, incident, camera stop/start, GPIO status); absent ones answer 503 (or are not shown). */
  actions?: WebActions;
  /** Login rate limiter (one per process); `depsMiddleware` makes one when absent. */
  limiter?: LoginRateLimiter;
  /** Take the client IP from X-Forwarded-For (only behind your own reverse proxy). */
  trustProxy?: boolean;
  /** Live progress of timelapse renders (frames done / total); absent = none shown. */
  renderProgress?: RenderProgress;
  /** Clip/snapshot export jobs; `depsMiddleware` makes one when absent (see exportJobs.ts). */
  exports?: ExportRegistry;
  /** The cameras' live hubs (live view streams); absent = the live stream answers 503. */
  live?: LiveHubs;
  /** The current-frame service (`frame.jpg`, "Snapshot now"); absent = `frame.jpg` answers 503. */
  frames?: CurrentFrameSource;
  /** How often an open live stream re-checks its viewer's session, ms (default 30000; tests shorten it). */
  liveSessionCheckMs?: number;
  /** Requests per client IP per minute on the public share routes (default 300; beyond it 429). */
  shareRequestsPerMinute?: number;
}

/**
 * Request variables: the app's deps, its export registry, ffmpeg gate and login rate limiter
 * (made once per app by `depsMiddleware`), and the session (src/web/auth/middleware.ts).
 */
export type WebEnv = { Variables: { deps: WebDeps; exports: ExportRegistry; gate: Gate; limiter: LoginRateLimiter } & AuthVariables };

/**
 * The one way sub-apps receive their dependencies: sets `c.var.deps` and the per-app objects
 * `c.var.exports` (clip export jobs), `c.var.gate` (at most 2 ffmpeg runs for snapshots and
 * thumbnails, 16 waiting) and `c.var.limiter` (login rate limit) on every request. Makes the
 * registry and the limiter when `deps` has none. Mount first, on `*`.
 */
export function depsMiddleware(deps: WebDeps): MiddlewareHandler<WebEnv> {
  const exports = deps.exports ?? new ExportRegistry(deps.db, deps.dataDir);
  const gate = new Gate(2, 16);
  const limiter = deps.limiter ?? new LoginRateLimiter();
  return async (c, next) => {
    c.set("deps", deps);
    c.set("exports", exports);
    c.set("gate", gate);
    c.set("limiter", limiter);
    await next();
  };
}
