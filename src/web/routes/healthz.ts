/**
 * `GET /healthz`: `{ ok, version, uptime_ms, cameras: [{ key, state, last_segment_at,
 * segment_count, ok, problem }], disk: { free_bytes, total_bytes } }` for monitoring.
 *
 * HTTP 200 with `ok: true` only while every enabled camera records: 503 with `ok: false` when
 * the data directory cannot be stat'ed, or when an enabled camera has closed no segment for
 * longer than its stall time (`stall_seconds`, default 2 x segment + 10 s; counted from this
 * process's start when its last segment is older: backoff, stalled, stopped), or when it is
 * stopped for a full disk (`disk_full`: only evidence is left). That camera's `problem` says
 * which; disabled and timelapse-only (`record = false`) cameras never count. Cheap by
 * construction: it reads only `cameras` + `camera_status` (counters the indexer keeps) and one
 * statfs(2), never the segments table, so it stays fast with 100,000+ segment rows.
 */
import { Hono } from "hono";
import { VERSION } from "../../version.ts";
import { stallTimeoutMs, type CameraConfig } from "../../config.ts";
import { healthCameras, type HealthCamera } from "../../db/views.ts";
import { diskInfo } from "../components/DiskCard.tsx";
import type { WebEnv } from "../env.ts";

/** Why an enabled camera is not healthy at `now` (ms UTC), or null when it records. */
export function cameraProblem(camera: CameraConfig, row: HealthCamera, now: number, startedAt: number): string | null {
  if (row.state === "disk_full") return "stopped: disk full (only evidence-locked footage is left)";
  const since = Math.max(row.last_segment_at ?? 0, startedAt);
  const quietMs = now - since;
  if (quietMs <= stallTimeoutMs(camera)) return null;
  return `${row.state}: no segment for ${Math.round(quietMs / 1000)} s (stall time ${Math.round(stallTimeoutMs(camera) / 1000)} s)`;
}

export function healthzRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/healthz", (c) => {
    const { db, dataDir, startedAt, config } = c.var.deps;
    const now = Date.now();
    const disk = diskInfo(dataDir);
    // a timelapse-only camera (`record = false`) closes no segments by design: never a problem here
    const enabled = new Map(config.cameras.filter((cam) => cam.enabled && cam.record !== false).map((cam) => [cam.key, cam]));
    const cameras = healthCameras(db).map((row) => {
      const cam = enabled.get(row.key);
      const problem = cam ? cameraProblem(cam, row, now, startedAt) : null;
      return { ...row, ok: problem === null, problem };
    });
    const ok = disk !== null && cameras.every((cam) => cam.ok);
    c.header("Cache-Control", "no-store");
    return c.json(
      {
        ok,
        version: VERSION,
        uptime_ms: now - startedAt,
        cameras,
        disk: { free_bytes: disk?.free_bytes ?? null, total_bytes: disk?.total_bytes ?? null },
      },
      ok ? 200 : 503,
    );
  });
  return app;
}
