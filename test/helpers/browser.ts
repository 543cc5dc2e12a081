/**
 * Headless Chromium for browser tests: Debian's `chromium` (or `$CHROMIUM_PATH`) driven by
 * playwright-core, with the flags a sandbox-less CI container needs. Throws when the binary is
 * missing (test/system-deps.sh installs it).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

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

/** axe-core's script (injected into a page; the context needs `bypassCSP`, the app's CSP forbids inline scripts). */
const AXE = join(import.meta.dir, "..", "..", "node_modules", "axe-core", "axe.min.js");

interface AxeResult {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core on the page as it is; returns the serious and critical violations (id: help @ targets). */
export async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: AXE });
  const violations = (await page.evaluate(async () => {
    const r = await (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: unknown[] }> } }).axe.run(document, {
      resultTypes: ["violations"],
    });
    return r.violations;
  })) as AxeResult[];
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} @ ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
}
