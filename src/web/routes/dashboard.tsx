/** @jsxImportSource hono/jsx */
/**
 * `GET /`: every camera (state, last segment, ring use; a camera stopped for a full card says
 * so, with a link to the saved trips to delete), the GPIO save button's status (only when
 * `[gpio]` is configured; `deps.actions.gpioStatus()`), disk of data_dir, latest trips (a saved
 * one says what it keeps).
 * Live via SSE.
 */
import { Hono } from "hono";
import { cameraSummaries, listTrips } from "../../db/views.ts";
import { CameraCard } from "../components/CameraCard.tsx";
import { DiskCard, diskInfo } from "../components/DiskCard.tsx";
import { GpioCard } from "../components/GpioCard.tsx";
import { TripItem } from "../components/Trips.tsx";
import { HealthWarningsCard } from "../components/Health.tsx";
import { camerasWithWarnings } from "../../db/health.ts";
import { healthSettings } from "../../config.ts";
import { keptOf } from "./trips.tsx";
import type { WebEnv } from "../env.ts";

export function dashboardRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/", (c) => {
    const { db, dataDir, config, actions } = c.var.deps;
    const cameras = cameraSummaries(db);
    const trips = listTrips(db, { limit: 3, offset: 0 }).rows;
    return c.render(
      <>
        <h1>Cameras</h1>
        {cameras.length === 0 ? <p class="card">No cameras are configured.</p> : null}
        <div class="grid">
          {cameras.map((cam) => (
            <CameraCard cam={cam} />
          ))}
          {config.gpio ? <GpioCard gpio={actions?.gpioStatus?.() ?? null} settings={config.gpio} /> : null}
          <DiskCard disk={diskInfo(dataDir)} />
          {healthSettings(config).enabled ? <HealthWarningsCard cameras={camerasWithWarnings(db, Date.now() - 24 * 3600_000)} /> : null}
        </div>
        <h2 class="section">Latest trips</h2>
        {trips.length === 0 ? (
          <p class="muted">No trips yet.</p>
        ) : (
          <ul class="trips">
            {trips.map((t) => (
              <TripItem trip={t} kept={keptOf(db, t)} />
            ))}
          </ul>
        )}
        <p>
          <a class="button" href="/trips">
            All trips
          </a>
        </p>
      </>,
      { title: "Cameras", nav: "dashboard" },
    );
  });
  return app;
}
