/**
 * Program version and the git commit it was built from. `bun build --compile` sets
 * `DASHCAM_COMMIT` with `--define`; from source it is read from git when available.
 */
import pkg from "../package.json" with { type: "json" };
import { probeCommand } from "./commandProbe.ts";

declare const DASHCAM_COMMIT: string | undefined;

export const VERSION: string = pkg.version;

async function commitFromGit(): Promise<string> {
  try {
    const r = await probeCommand(["git", "rev-parse", "--short", "HEAD"], { cwd: import.meta.dir, timeoutMs: 5000 });
    return r.exitCode === 0 ? r.stdout.trim() : "unknown";
  } catch {
    return "unknown";
  }
}

/** Short commit hash, or "unknown" (git is asked with a 5 s deadline when running from source). */
export async function commit(): Promise<string> {
  return typeof DASHCAM_COMMIT === "string" && DASHCAM_COMMIT ? DASHCAM_COMMIT : commitFromGit();
}
