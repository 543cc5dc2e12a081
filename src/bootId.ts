/**
 * The boot identifier trips are grouped by (DESIGN.md: "a trip opens at boot").
 *
 * `currentBootId()` returns, in order: env `DASHCAM_BOOT_ID` (tests and the crash-restart
 * harness use it to simulate a reboot); the Linux kernel's per-boot UUID from
 * `/proc/sys/kernel/random/boot_id` (random(4): it changes on every boot); else a random UUID
 * made once per process. The value is cached for the life of the process, except that a
 * change of `DASHCAM_BOOT_ID` is honoured.
 */
import { readFileSync } from "node:fs";

let cached: string | null = null;

/** The current boot's id (a UUID-like string, never empty). */
export function currentBootId(): string {
  const env = process.env.DASHCAM_BOOT_ID?.trim();
  if (env) return env;
  if (cached) return cached;
  try {
    const id = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    if (id) return (cached = id);
  } catch {
    // not Linux, or /proc not mounted: fall through
  }
  return (cached = crypto.randomUUID());
}
