/**
 * Headless Chromium for browser tests: Debian's `chromium` (or `$CHROMIUM_PATH`) driven by
 * playwright-core, with the flags a sandbox-less CI container needs. Throws when the binary is
 * missing (test/system-deps.sh installs it).
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

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
