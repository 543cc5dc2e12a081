/**
 * The live stream and current-frame routes (src/web/routes/liveStream.ts) on a real Bun server
 * (`startWebServer` over the web fixture's database, with live hubs but no recorder): a hub is
 * fed with a real MPEG-TS segment of the fixture's ring, and clients connect the way a browser
 * and a media player do.
 * - WebSocket `GET /cameras/front/live.ts`: needs a session; a handshake from another origin is
 *   refused (403, cross-site WebSocket hijacking); a viewer gets the cached GOP starting with PAT,
 *   then live packets; when the recorder's run ends the socket closes with code 4000 and the
 *   reason; when the viewer signs out an open stream ends (WebSocket code 4001, HTTP body ends);
 * - plain HTTP `GET /cameras/front/live.ts`: a `video/mp2t` stream of the same packets;
 * - unknown camera 404; `frame.jpg` without the runtime's service 503, for an unknown camera 404;
 * - the LivePlayer component: a full player with controls, or a moving thumbnail without them.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startWebServer } from "../src/web/server.ts";
import { makeFixture, type WebFixture } from "./web-fixture.ts";
import type { LiveHub } from "../src/media/liveHub.ts";
import { LivePlayer } from "../src/web/components/LivePlayer.tsx";
import { createSession, deleteSession } from "../src/db/sessions.ts";
import { waitUntil } from "./helpers/wait.ts";

const waitFor = (check: () => boolean) => waitUntil("the stream", check, 5000, 20);

let f: WebFixture;
let web: ReturnType<typeof startWebServer>;
let hub: LiveHub;
let ts: Uint8Array;

beforeAll(async () => {
  f = await makeFixture();
  f.deps.liveSessionCheckMs = 100; // a signed-out viewer's stream ends within 0.1 s here (30 s by default)
  web = startWebServer(f.deps);
  hub = f.deps.live!.get("front");
  const ring = join(f.dir, "recordings", "front");
  ts = new Uint8Array(readFileSync(join(ring, readdirSync(ring).filter((n) => n.endsWith(".ts")).sort()[0])));
});

afterAll(async () => {
  await web?.stop();
  f?.cleanup();
});

const wsUrl = (path: string) => `${web.url.replace(/^http/, "ws")}${path}`;
const cookieOf = (who: "viewer" | "admin" = "viewer") => new Headers(f.as(who).headers).get("cookie") ?? "";

/** Opens a WebSocket with `headers` (Bun's client lets a test set Cookie and Origin); resolves when it opens or fails. */
function connect(path: string, headers: Record<string, string>): Promise<{ ws: WebSocket; opened: boolean; received: Uint8Array[]; closed: Promise<{ code: number; reason: string }> }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl(path), { headers } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    const received: Uint8Array[] = [];
    let closeResolve!: (v: { code: number; reason: string }) => void;
    const closed = new Promise<{ code: number; reason: string }>((r) => (closeResolve = r));
    ws.onmessage = (e) => received.push(new Uint8Array(e.data as ArrayBuffer));
    ws.onopen = () => resolve({ ws, opened: true, received, closed });
    ws.onerror = () => resolve({ ws, opened: false, received, closed });
    ws.onclose = (e) => {
      closeResolve({ code: e.code, reason: e.reason });
      resolve({ ws, opened: false, received, closed });
    };
  });
}

test("the WebSocket needs a session and the page's own origin", async () => {
  const anonymous = await connect("/cameras/front/live.ts", {});
  expect(anonymous.opened).toBe(false);
  const foreign = await connect("/cameras/front/live.ts", { cookie: cookieOf(), origin: "http://evil.example" });
  expect(foreign.opened).toBe(false);
  // the same refusals as plain requests show their status
  const r = await fetch(`${web.url}/cameras/front/live.ts`, { headers: { cookie: cookieOf(), origin: "http://evil.example", upgrade: "websocket", connection: "Upgrade", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } });
  expect(r.status).toBe(403);
  expect(await r.text()).toContain("another origin");
  const unknown = await fetch(`${web.url}/cameras/nope/live.ts`, { headers: { cookie: cookieOf() } });
  expect(unknown.status).toBe(404);
});

test("a viewer gets the cached GOP from PAT, then live packets, and a close with the reason when the run ends", async () => {
  hub.beginRun();
  hub.push(ts.subarray(0, Math.floor(ts.length / 2)));
  const v = await connect("/cameras/front/live.ts", { cookie: cookieOf(), origin: web.url });
  expect(v.opened).toBe(true);
  await waitFor(() => v.received.length > 0);
  expect(v.received[0][0]).toBe(0x47);
  expect(((v.received[0][1] & 0x1f) << 8) | v.received[0][2]).toBe(0); // PAT first
  const before = v.received.reduce((n, c) => n + c.length, 0);
  hub.push(ts.subarray(Math.floor(ts.length / 2)));
  await waitFor(() => v.received.reduce((n, c) => n + c.length, 0) > before);
  expect(hub.viewerCount).toBe(1);
  hub.endRun("the camera stopped recording");
  const closed = await v.closed;
  expect(closed).toEqual({ code: 4000, reason: "the camera stopped recording" });
  await waitFor(() => hub.viewerCount === 0);
});

test("plain HTTP: a video/mp2t stream of the same packets", async () => {
  hub.beginRun();
  hub.push(ts);
  const res = await fetch(`${web.url}/cameras/front/live.ts`, { headers: { cookie: cookieOf() } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("video/mp2t");
  const reader = res.body!.getReader();
  const first = await reader.read();
  expect(first.done).toBe(false);
  expect(first.value![0]).toBe(0x47);
  await reader.cancel();
  await waitFor(() => hub.viewerCount === 0);
  hub.endRun("done");
});

test("signing out ends the viewer's open streams (WebSocket and HTTP)", async () => {
  hub.beginRun();
  hub.push(ts);
  const session = createSession(f.db, f.sessions.viewer.userId);
  const cookie = `dashcam_session=${session.token}`;
  const v = await connect("/cameras/front/live.ts", { cookie, origin: web.url });
  expect(v.opened).toBe(true);
  const res = await fetch(`${web.url}/cameras/front/live.ts`, { headers: { cookie } });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  expect((await reader.read()).done).toBe(false);
  await waitFor(() => hub.viewerCount === 2);
  deleteSession(f.db, session.token);
  expect(await v.closed).toEqual({ code: 4001, reason: "signed out: sign in again to watch" });
  for (;;) if ((await reader.read()).done) break; // the HTTP stream ends too
  await waitFor(() => hub.viewerCount === 0);
  hub.endRun("done");
});

test("frame.jpg: 503 without the runtime's current-frame service, 404 for an unknown camera", async () => {
  const r = await fetch(`${web.url}/cameras/front/frame.jpg`, { headers: { cookie: cookieOf() } });
  expect(r.status).toBe(503);
  expect(await r.text()).toContain("current frames are not available");
  expect((await fetch(`${web.url}/cameras/nope/frame.jpg`, { headers: { cookie: cookieOf() } })).status).toBe(404);
});

test("LivePlayer: a player with controls, or a thumbnail without; both start connecting with a hidden Retry", async () => {
  const html = async (node: unknown) => String(await (node as { toString(): string | Promise<string> }).toString());
  const full = await html(LivePlayer({ cameraKey: "front" }));
  const thumb = await html(LivePlayer({ cameraKey: "front", thumbnail: true, label: "Front" }));
  for (const h of [full, thumb]) {
    expect(h).toContain('data-live="/cameras/front/live.ts"');
    expect(h).toContain('data-fallback="/cameras/front/live.m3u8"');
    expect(h).toContain('data-state="connecting"');
    expect(h).toMatch(/<button[^>]*data-player-retry[^>]*hidden/);
    expect(h).toContain('rel="preload" as="script" href="/assets/mpegts.js?v=');
  }
  expect(full).toContain("controls");
  expect(thumb).not.toContain("controls");
  expect(thumb).toContain("live-thumb");
  expect(thumb).toContain('aria-label="Front"');
});
