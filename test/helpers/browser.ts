/**
 * Headless Chromium for browser tests: Debian's `chromium` (or `$CHROMIUM_PATH`) driven by
 * playwright-core, with the flags a sandbox-less CI container needs. Throws when the binary is
 * missing (test/system-deps.sh installs it).
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext } from "playwright-core";

/** The Chromium executable the tests drive. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Launches headless Chromium (no sandbox, no GPU, no background network). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (Debian package chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * Routes the pages' live-view WebSockets (`/cameras/<key>/live.ts`) through playwright's
 * WebSocket routing to the real server (`connectToServer`). For tests that open pages with live
 * players (the home screen's live thumbnails) but do not measure the live view: playwright-core
 * 1.65 running in-process under Bun can deliver a page WebSocket's first frames to the test before
 * the socket object itself, and then throws "Cannot find object to frameReceived" out of the
 * test. Routed sockets have no such object. Call before the context's first page.
 */
export async function routeLiveSockets(ctx: BrowserContext): Promise<void> {
  await ctx.routeWebSocket(/\/live\.ts$/, (ws) => ws.connectToServer());
}
