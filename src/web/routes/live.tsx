/** @jsxImportSource hono/jsx */
/**
 * `GET /live` — Server-Sent Events for the htmx SSE extension. Each bus event (src/events.ts)
 * becomes one or more small rendered fragments, named after the element that swaps them in:
 *
 * | bus event  | SSE events sent                                                        |
 * | ---------- | ---------------------------------------------------------------------- |
 * | camera     | `camera-<key>` (diagnostics card body), `camera-tile-<key>` (home tile) |
 * | segment    | the two above, `segment-<key>` (a segment `<tr>`), `disk` (<= 1 per 5 s) |
 * | trip       | `trip-<id>` (status badge), `keep-<id>` (the home screen's save confirmation) |
 * | event_log  | `event-log` (an event `<li>`); for `incident.done` / `incident.failed` also |
 * |            | `incident-<id>` (the home screen's incident confirmation)             |
 * | gpio       | `gpio` (the dashboard's save-button card body)                         |
 * | health     | `health-<key>` (the health page's newest-check section)                |
 * | alert      | `alert` (a toast prepended to every page's fixed alert region: a watchlisted plate, a camera health change) |
 * | timelapse  | `timelapse-<id>` (a batch card's status and progress)                  |
 *
 * Fragments are rendered from the database rows (the bus event only says what changed), so
 * they always show committed state. A `: heartbeat` comment goes out every `sseHeartbeatMs`
 * (default 15 s) so proxies and the server's idle timeout keep the stream open; the client's
 * EventSource reconnects by itself (`retry: 3000`). A slow client keeps at most 500 pending
 * events (oldest dropped).
 */
import { Hono } from "hono";
import { streamSSE, type SSEMessage } from "hono/streaming";
import type { Server } from "bun";
import { cameraSummary, eventById, segmentByAbsolute, tripById, type EventRow } from "../../db/views.ts";
import { CameraTileInfo, cameraUseOf } from "../components/CameraTile.tsx";
import { IncidentBody, incidentEvent, KeepBody, keepEvent } from "../components/Keep.tsx";
import { idOfPath } from "../exportJobs.ts";
import { savedDownloadReady } from "./trips.tsx";
import { TECHNICAL_KINDS } from "../words.ts";
import type { LiveEvent } from "../../events.ts";
import { getVehicle } from "../../db/vehicles.ts";
import { CameraCardBody } from "../components/CameraCard.tsx";
import { DiskBody, diskInfo } from "../components/DiskCard.tsx";
import { AlertItem, EventItem, HealthAlertItem } from "../components/Events.tsx";
import { LatestSnapshot } from "../components/Health.tsx";
import { latestSnapshot, latestSnapshotWithPicture } from "../../db/health.ts";
import { cameraByKey } from "../../db/cameras.ts";
import { GpioCardBody } from "../components/GpioCard.tsx";
import { SegmentItem } from "../components/Segments.tsx";
import { TripBadge } from "../components/Badge.tsx";
import type { WebDeps, WebEnv } from "../env.ts";
import { batchById } from "../../db/timelapse.ts";
import { BatchStatus } from "../components/Timelapse.tsx";

const MAX_PENDING = 500;
const DISK_EVERY_MS = 5000;

/** Renders the SSE messages for one bus event (empty when the row is gone). */
export async function fragmentsFor(deps: WebDeps, ev: LiveEvent, state: { lastDisk: number }): Promise<SSEMessage[]> {
  const out: SSEMessage[] = [];
  const html = async (node: unknown) => String(await (node as { toString(): string | Promise<string> }).toString());
  switch (ev.type) {
    case "camera":
    case "segment": {
      const cam = cameraSummary(deps.db, ev.key);
      if (!cam) break;
      out.push({ event: `camera-${cam.key}`, data: await html(<CameraCardBody cam={cam} />) });
      out.push({ event: `camera-tile-${cam.key}`, data: await html(<CameraTileInfo cam={cam} use={cameraUseOf(deps.config, cam.key)} />) });
      if (ev.type === "segment") {
        const seg = segmentByAbsolute(deps.db, cam.key, ev.absoluteIndex);
        if (seg) out.push({ event: `segment-${cam.key}`, data: await html(<SegmentItem seg={seg} cameraKey={cam.key} />) });
        const now = Date.now();
        if (now - state.lastDisk >= DISK_EVERY_MS) {
          state.lastDisk = now;
          out.push({ event: "disk", data: await html(<DiskBody disk={diskInfo(deps.dataDir)} />) });
        }
      }
      break;
    }
    case "trip": {
      const trip = tripById(deps.db, ev.id);
      if (trip) {
        out.push({ event: `trip-${trip.id}`, data: await html(<TripBadge status={trip.status} />) });
        out.push({ event: keepEvent(trip.id), data: await html(<KeepBody trip={trip} ready={savedDownloadReady(deps.db, deps.dataDir, trip)} />) });
      }
      break;
    }
    case "event_log": {
      const row = eventById(deps.db, ev.id);
      if (row) {
        const cameraName = row.camera_key === null ? null : (cameraByKey(deps.db, row.camera_key)?.name ?? null);
        // the live list is the driver's view: no debug rows, no bookkeeping kinds
        if (row.level !== "debug" && !TECHNICAL_KINDS.includes(row.kind))
          out.push({ event: "event-log", data: await html(<EventItem ev={row} cameraName={cameraName} />) });
        const incident = incidentFragment(row, cameraName);
        if (incident) out.push({ event: incidentEvent(incident.id), data: await html(incident.body) });
      }
      break;
    }
    case "gpio": {
      const gpio = { status: ev.status, reason: ev.reason, at: ev.at };
      out.push({ event: "gpio", data: await html(<GpioCardBody gpio={gpio} settings={deps.config.gpio} />) });
      break;
    }
    case "health": {
      const cam = cameraByKey(deps.db, ev.key);
      if (!cam) break;
      const snap = latestSnapshot(deps.db, cam.id);
      const picture = snap?.file_path ? snap : latestSnapshotWithPicture(deps.db, cam.id);
      out.push({ event: `health-${cam.key}`, data: await html(<LatestSnapshot cameraKey={cam.key} snap={snap} picture={picture} />) });
      break;
    }
    case "timelapse": {
      const b = batchById(deps.db, ev.batchId);
      if (b) {
        const framesDone = b.status === "completed" ? b.total_frames : b.status === "processing" ? ev.framesDone : null;
        out.push({ event: `timelapse-${b.id}`, data: await html(<BatchStatus batch={b} framesDone={framesDone} />) });
      }
      break;
    }
    case "alert": {
      if (ev.kind === "camera.health") {
        out.push({ event: "alert", data: await html(<HealthAlertItem alert={ev} />) });
        break;
      }
      const snapshot = Boolean(getVehicle(deps.db, ev.vehicleId)?.snapshot_path);
      out.push({ event: "alert", data: await html(<AlertItem alert={ev} snapshot={snapshot} />) });
      break;
    }
  }
  return out;
}

/** The home screen's incident confirmation for an `incident.done` / `incident.failed` row, else null. */
function incidentFragment(row: EventRow, cameraName: string | null): { id: string; body: unknown } | null {
  if (row.kind !== "incident.done" && row.kind !== "incident.failed") return null;
  let d: Record<string, unknown>;
  try {
    d = JSON.parse(row.data ?? "{}") as Record<string, unknown>;
  } catch {
    return null;
  }
  const id = typeof d.incidentId === "string" ? d.incidentId : null;
  const [at, from, to] = [d.atUtc, d.fromUtc, d.toUtc].map((x) => (typeof x === "number" ? x : row.at));
  if (!id) return null;
  const inc = { incidentId: id, cameraKey: row.camera_key ?? "", cameraName: cameraName ?? row.camera_key ?? "Camera", atUtc: at!, fromUtc: from!, toUtc: to! };
  const relPath = typeof d.relPath === "string" ? d.relPath : null;
  const download = row.kind === "incident.done" && relPath ? `/exports/${idOfPath(relPath)}/download` : null;
  const failed = row.kind === "incident.failed" ? (typeof d.lastError === "string" ? d.lastError : "export failed") : null;
  return { id, body: <IncidentBody inc={inc} download={download} failed={failed} /> };
}

export function liveRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/live", (c) => {
    const deps = c.var.deps;
    const heartbeatMs = deps.sseHeartbeatMs ?? 15_000;
    // Under Bun.serve, c.env is the Server: no idle timeout for this long-lived response.
    (c.env as unknown as Server<undefined> | undefined)?.timeout?.(c.req.raw, 0);
    return streamSSE(c, async (stream) => {
      const queue: LiveEvent[] = [];
      let wake: (() => void) | null = null;
      const unsubscribe = deps.bus.subscribe((ev) => {
        queue.push(ev);
        if (queue.length > MAX_PENDING) queue.shift();
        wake?.();
      });
      const done = () => {
        unsubscribe();
        wake?.();
      };
      stream.onAbort(done);
      c.req.raw.signal?.addEventListener("abort", done);
      const state = { lastDisk: 0 };
      try {
        await stream.write("retry: 3000\n: connected\n\n");
        while (!stream.aborted && !stream.closed && !c.req.raw.signal?.aborted) {
          if (queue.length === 0) {
            let timer: ReturnType<typeof setTimeout> | undefined;
            await new Promise<void>((resolve) => {
              wake = resolve;
              timer = setTimeout(resolve, heartbeatMs);
            });
            clearTimeout(timer);
            wake = null;
            if (stream.aborted || stream.closed) break;
            if (queue.length === 0) {
              await stream.write(": heartbeat\n\n");
              continue;
            }
          }
          const ev = queue.shift()!;
          let messages: SSEMessage[] = [];
          try {
            messages = await fragmentsFor(deps, ev, state);
          } catch {
            // a row vanished or the database is busy: skip this update, the next one repaints
          }
          for (const m of messages) await stream.writeSSE(m);
        }
      } finally {
        unsubscribe();
      }
    });
  });
  return app;
}
