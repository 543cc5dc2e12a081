/**
 * `GET /healthz`: `{ ok, version, uptime_ms, cameras: [{ key, state, last_segment_at,
 * segment_count }], disk: { free_bytes, total_bytes } }`, always 200 while the process answers.
 * `ok` is false when the data directory cannot be stat'ed. Cheap by construction: it reads
 * only `cameras` + `camera_status` (counters the indexer keeps) and one statfs(2), never the
 * segments table, so it stays fast with 100,000+ segment rows.
 */
import { Hono } from "hono";
import { VERSION } from "../../version.ts";
import { healthCameras } from "../../db/views.ts";
import { diskInfo } from "../components/DiskCard.tsx";
import type { WebEnv } from "../env.ts";

export function healthzRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/healthz", (c) => {
    const { db, dataDir, startedAt } = c.var.deps;
    const disk = diskInfo(dataDir);
    c.header("Cache-Control", "no-store");
    return c.json({
      ok: disk !== null,
      version: VERSION,
      uptime_ms: Date.now() - startedAt,
      cameras: healthCameras(db),
      disk: { free_bytes: disk?.free_bytes ?? null, total_bytes: disk?.total_bytes ?? null },
    });
  });
  return app;
}
