/**
 * WebSockets on `Bun.serve`: a route upgrades its own request with `upgradeWebSocket(c, handlers)`
 * after the security middleware has let it through (session cookie, permission table), and the
 * server's one `websocket` handler object (`websocketHandlers`, given to Bun.serve in server.ts)
 * calls that connection's handlers, which travel in the socket's `data`.
 *
 * Cross-site WebSocket hijacking: a browser sends cookies with a WebSocket handshake from any
 * page, so an upgrade whose `Origin` names another host is refused (403) before it happens.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Server, ServerWebSocket } from "bun";

/** What one connection does; `open` gets the socket, the rest are optional. */
export interface SocketHandlers {
  open(ws: ServerWebSocket<SocketHandlers>): void;
  close?(code: number, reason: string): void;
  /** The socket's send buffer drained (Bun's backpressure signal). */
  drain?(ws: ServerWebSocket<SocketHandlers>): void;
}

/** The `websocket` option of Bun.serve: dispatches to each connection's own handlers. */
export const websocketHandlers = {
  open(ws: ServerWebSocket<SocketHandlers>) {
    ws.data.open(ws);
  },
  close(ws: ServerWebSocket<SocketHandlers>, code: number, reason: string) {
    ws.data.close?.(code, reason);
  },
  drain(ws: ServerWebSocket<SocketHandlers>) {
    ws.data.drain?.(ws);
  },
  message() {
    // clients of these sockets only listen
  },
};

/** True when the request asks for a WebSocket (`Upgrade: websocket`). */
export const wantsWebSocket = (c: Context) => (c.req.header("upgrade") ?? "").toLowerCase() === "websocket";

/**
 * Upgrades the request to a WebSocket served by `handlers`. Throws HTTPException 403 for a
 * cross-origin handshake, 400 when Bun refuses the upgrade (not a valid handshake), 503 when
 * the app does not run under Bun.serve (e.g. `app.request()` in tests).
 */
export function upgradeWebSocket(c: Context, handlers: SocketHandlers): Response {
  const origin = c.req.header("origin");
  if (origin) {
    let host: string | null = null;
    try {
      host = new URL(origin).host;
    } catch {
      host = null;
    }
    if (host !== c.req.header("host")) throw new HTTPException(403, { message: "WebSocket from another origin refused" });
  }
  const server = c.env as unknown as Server<SocketHandlers> | undefined;
  if (!server || typeof server.upgrade !== "function") throw new HTTPException(503, { message: "WebSockets need the server (Bun.serve)" });
  if (!server.upgrade(c.req.raw, { data: handlers })) throw new HTTPException(400, { message: "not a valid WebSocket handshake" });
  // Bun answers the handshake itself once upgraded; this response is not sent
  return new Response(null);
}
