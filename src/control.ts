/**
 * The runtime's local control channel: a small HTTP/JSON API on a Unix domain socket, for the
 * CLI (`dashcam trips save`) to reach a running runtime, and a single-instance guard.
 *
 * Why a Unix socket and not the web server: it needs no credentials (only the user that owns the
 * data directory can connect: the socket is chmod 0600 and lives in the data directory), it
 * cannot be reached over the car's Wi-Fi, and whether a runtime is running is answered exactly:
 * a socket file left by a killed runtime refuses connections (ECONNREFUSED), a missing one
 * does not exist (ENOENT).
 *
 * Path: `<data_dir>/control.sock`. When that cannot be used — a Unix socket path is limited to
 * 107 bytes, and some file systems (FAT/exFAT on a USB stick or SD card) cannot hold a socket —
 * the fallback is `$XDG_RUNTIME_DIR` (else the OS temp dir) `/dashcam-<sha256(data_dir)[0..16]>.sock`.
 * The runtime binds the first candidate that works; the CLI tries both.
 *
 * Routes (JSON bodies, errors `{ "error": "<one line>" }` with 4xx/5xx):
 * - `GET /status` -> `{ pid, url, startedAt }`
 * - `POST /trips/save` body `{ "tripId": N }` or `{ "current": true }` -> 202 `{ trips: [id...] }`;
 *   404 unknown trip, 409 cannot save it (evicted, no footage), 503 still starting
 * - `GET /trips/:id` -> `{ id, status, state, lastError, mp4Path, savedDir, endTimeUtc }` (state = the trip
 *   actor's state, null when it has none)
 * - `POST /users/unlock` body `{ "username": "..." }` -> `{ wasLocked }`: lifts that user's login
 *   lockout in the web server's rate limiter (in memory only)
 * - `POST /timelapses` body `{ camera, fromUtc, toUtc }` or `{ camera, fromDay, toDay }`, plus
 *   optional `frameRate`, `overlay` -> 202 `{ batchId, frames }`; 400 bad input or no images
 * - `GET /timelapses/:id` -> the batch row plus `framesDone` (render progress); 404 unknown
 * - `POST /optimize` body `{ camera, keepDays? }` -> `{ optimizationId }` (the stored
 *   recommendation); 400 unknown camera
 * - `POST /shares` body `{ batches: [id...], type, expiresInMs (null = never), download, embed,
 *   title?, description? }` -> 201 `{ id, token, path }`; 400 bad input, 404 unknown batch,
 *   409 a batch not completed (src/media/shares.ts)
 */
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";

/** Longest usable Unix socket path (sun_path is 108 bytes with its NUL). */
const SUN_PATH_MAX = 107;

/** Where the control socket of a data directory may be, preferred first (see the module comment). */
export function controlSocketCandidates(dataDir: string): string[] {
  const inData = join(dataDir, "control.sock");
  const hash = createHash("sha256").update(dataDir).digest("hex").slice(0, 16);
  const fallback = join(process.env.XDG_RUNTIME_DIR || tmpdir(), `dashcam-${hash}.sock`);
  return Buffer.byteLength(inData) <= SUN_PATH_MAX ? [inData, fallback] : [fallback];
}

/** The preferred control socket path of a data directory. */
export function controlSocketPath(dataDir: string): string {
  return controlSocketCandidates(dataDir)[0]!;
}

/** The socket a running runtime of `dataDir` answers on, or null when none runs. */
export async function liveControlSocket(dataDir: string): Promise<string | null> {
  for (const path of controlSocketCandidates(dataDir)) if (existsSync(path) && (await runtimeIsRunning(path))) return path;
  return null;
}

/** A JSON answer of the control API. */
export interface ControlResponse {
  status: number;
  body: Record<string, unknown>;
}

/** The socket exists but nothing answers (a killed runtime), or it does not exist. */
export class NotRunningError extends Error {}

/**
 * Sends one request to the runtime on `socketPath`. Throws NotRunningError when no runtime
 * listens there; other errors (a runtime that answers garbage) are thrown as they are.
 */
export async function controlRequest(socketPath: string, method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<ControlResponse> {
  if (!existsSync(socketPath)) throw new NotRunningError("no control socket");
  let res: Response;
  try {
    res = await fetch(`http://localhost${path}`, {
      method,
      unix: socketPath,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    } as RequestInit);
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    const msg = String((err as Error)?.message ?? err);
    if (/ECONNREFUSED|ENOENT|FailedToOpenSocket|ConnectionRefused/i.test(code + " " + msg)) throw new NotRunningError(msg);
    throw err;
  }
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { error: text.slice(0, 200) };
  }
  return { status: res.status, body: parsed };
}

/** True when a runtime answers on `socketPath`. */
export async function runtimeIsRunning(socketPath: string): Promise<boolean> {
  try {
    const r = await controlRequest(socketPath, "GET", "/status", undefined, 3_000);
    return r.status === 200;
  } catch {
    return false;
  }
}

/** Thrown by `startControlServer` when another runtime already serves this data directory. */
export class RuntimeBusyError extends Error {
  /** `socketPath` = where the other runtime answers. */
  constructor(socketPath: string) {
    super(`another dashcam runtime is already running with this data directory (it answers on ${socketPath})`);
  }
}

export interface ControlServer {
  path: string;
  stop(): void;
}

/**
 * Listens on the first usable candidate socket of `dataDir` with `handler`. Stale socket files
 * (nothing answers) are replaced; a live one means another runtime uses the data directory:
 * RuntimeBusyError. Throws the last bind error when no candidate can be bound.
 */
export async function startControlServer(dataDir: string, handler: (req: Request) => Response | Promise<Response>): Promise<ControlServer> {
  const candidates = controlSocketCandidates(dataDir);
  const live = await liveControlSocket(dataDir);
  if (live) throw new RuntimeBusyError(live);
  let lastError: unknown = null;
  for (const path of candidates) {
    try {
      if (existsSync(path)) unlinkSync(path); // stale: nothing answered on it
      return listen(path, handler);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(`cannot create the control socket: ${String(lastError)}`);
}

function listen(socketPath: string, handler: (req: Request) => Response | Promise<Response>): ControlServer {
  const server = Bun.serve({ unix: socketPath, fetch: handler });
  try {
    chmodSync(socketPath, 0o600);
  } catch {
    /* best effort: the data directory itself is private */
  }
  let stopped = false;
  return {
    path: socketPath,
    stop() {
      if (stopped) return;
      stopped = true;
      server.stop(true);
      try {
        unlinkSync(socketPath);
      } catch {
        /* gone */
      }
    },
  };
}

/** A JSON Response for the control API. */
export const controlJson = (status: number, body: Record<string, unknown>) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
