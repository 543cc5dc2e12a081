/**
 * Program version and the git commit it was built from. `bun build --compile` sets
 * `DASHCAM_COMMIT` with `--define`; from source it is read from git when available.
 */
import pkg from "../package.json" with { type: "json" };

declare const DASHCAM_COMMIT: string | undefined;

export const VERSION: string = pkg.version;

function commitFromGit(): string {
  try {
    const r = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: import.meta.dir, stderr: "ignore" });
    return r.success ? r.stdout.toString().trim() : "unknown";
  } catch {
    return "unknown";
  }
}

/** Short commit hash, or "unknown". */
export function commit(): string {
  return typeof DASHCAM_COMMIT === "string" && DASHCAM_COMMIT ? DASHCAM_COMMIT : commitFromGit();
}
