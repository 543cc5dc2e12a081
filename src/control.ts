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
 * Path: `<data_dir>/control.sock`. A Unix socket path is limited to 107 bytes; when that one is
 * longer, `$XDG_RUNTIME_DIR` (else the OS temp dir) `/dashcam-<sha256(data_dir)[0..16]>.sock` is
 * used instead (same rule on both sides).
 *
 * Routes (JSON bodies, errors `{ "error": "<one line>" }` with 4xx/5xx):
 * - `GET /status` -> `{ pid, url, startedAt }`
 * - `POST /trips/save` body `{ "tripId": N }` or `{ "current": true }` -> 202 `{ trips: [id...] }`;
 *   404 unknown trip, 409 cannot save it (evicted, no footage), 503 still starting
 * - `GET /trips/:id` -> `{ id, status, state, lastError, mp4Path, endTimeUtc }` (state = the trip
 *   actor's state, null when it has none)
 */
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";

/** Longest usable Unix socket path (sun_path is 108 bytes with its NUL). */
const SUN_PATH_MAX = 107;

/** The control socket's path for a data directory (see the module comment). */
export function controlSocketPath(dataDir: string): string {
  const inData = join(dataDir, "control.sock");
  if (Buffer.byteLength(inData) <= SUN_PATH_MAX) return inData;
  const hash = createHash("sha256").update(dataDir).digest("hex").slice(0, 16);
  return join(process.env.XDG_RUNTIME_DIR || tmpdir(), `dashcam-${hash}.sock`);
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
export class RuntimeBusyError extends Error {}

export interface ControlServer {
  path: string;
  stop(): void;
}

/**
 * Listens on `socketPath` with `handler`. A stale socket file (nothing answers) is replaced;
 * a live one means another runtime uses the data directory: RuntimeBusyError.
 */
export async function startControlServer(socketPath: string, handler: (req: Request) => Response | Promise<Response>): Promise<ControlServer> {
  if (existsSync(socketPath)) {
    if (await runtimeIsRunning(socketPath))
      throw new RuntimeBusyError(`another dashcam runtime is already running with this data directory (it answers on ${socketPath})`);
    try {
      unlinkSync(socketPath);
    } catch {
      /* gone meanwhile */
    }
  }
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
