/**
 * Serves the web app with `Bun.serve` on `config.http.listen` ("HOST:PORT"; port 0 = an
 * ephemeral port, an empty host = all interfaces). Returns the real URL (with the port the OS
 * chose), the Bun server, and `stop()`, which closes active connections (SSE streams
 * included) and resolves when the server has stopped.
 *
 * WebSocket upgrades are made by the routes themselves (src/web/ws.ts) and served by its handlers.
 *
 * `idleTimeout` is 255 s (Bun's maximum) so slow media downloads over a car's Wi-Fi are not cut;
 * `/live` additionally turns the idle timeout off for its own request and sends heartbeats.
 *
 * At start it removes temp files a crash left in `exports/` and `thumbs/` (finished files have
 * final names, temp files never do); `stop()` cancels running exports of the registry it made
 * (their ffmpeg is killed, nothing half-written stays) before closing the server; a registry
 * passed in `deps.exports` belongs to the caller, who stops it.
 */
import type { Server } from "bun";
import { createApp, type WebDeps } from "./app.tsx";
import { cleanExportTemps } from "../media/export.ts";
import { ExportRegistry } from "./exportJobs.ts";
import { cleanThumbTemps } from "./thumbs.ts";
import { log } from "../log.ts";
import { parseListen } from "../config.ts";
import { websocketHandlers, type SocketHandlers } from "./ws.ts";

export const IDLE_TIMEOUT_S = 255;

/**
 * Largest request body the server accepts at all, bytes (Bun refuses a larger one with 413
 * before the app sees it); the app's per-route limits (`BODY_LIMITS`) are smaller.
 */
export const MAX_REQUEST_BODY_BYTES = 1024 * 1024;

export function startWebServer(deps: WebDeps): { url: string; server: Server<SocketHandlers>; exports: ExportRegistry; stop(): Promise<void> } {
  const temps = cleanExportTemps(deps.dataDir) + cleanThumbTemps(deps.dataDir);
  if (temps > 0) log.info(`web: removed ${temps} temp file(s) left by an interrupted export or thumbnail`);
  const exports = deps.exports ?? new ExportRegistry(deps.db, deps.dataDir);
  const app = createApp({ ...deps, exports });
  const { hostname, port } = parseListen(deps.config.http.listen);
  const server = Bun.serve<SocketHandlers>({
    hostname,
    port,
    idleTimeout: IDLE_TIMEOUT_S,
    maxRequestBodySize: MAX_REQUEST_BODY_BYTES,
    // never share the port with another process (SO_REUSEPORT would split connections between
    // two runtimes with different data directories)
    reusePort: false,
    development: false,
    fetch: (req, srv) => app.fetch(req, srv),
    // live view sockets (src/web/ws.ts); Bun pings idle sockets so phones keep them open
    websocket: websocketHandlers,
  });
  const shownHost = server.hostname?.includes(":") ? `[${server.hostname}]` : server.hostname;
  const url = `http://${shownHost}:${server.port}`;
  let stopped: Promise<void> | null = null;
  return {
    url,
    server,
    exports,
    stop() {
      stopped ??= (async () => {
        if (!deps.exports) await exports.stop();
        await server.stop(true);
      })();
      return stopped;
    },
  };
}
