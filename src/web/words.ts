/**
 * Plain words for the driver's views: camera states, trip statuses and event-log rows as
 * sentences. The storage and recording jargon (ring, segment, boot, event kind names) stays in
 * the Diagnostics page for operators; these functions never put it in their output for the
 * states and event kinds they know. Unknown event kinds fall back to the row's own message.
 */
import type { EventRow } from "../db/views.ts";
import { formatDuration } from "./format.ts";

export type Tone = "ok" | "warn" | "bad" | "off" | "busy" | "saved" | "info";

/**
 * A camera's state in plain words and a badge tone: "Recording" (green), "Starting…",
 * "Reconnecting…" (stalled or waiting to retry; amber), "Stopped", "Off" (disabled in the
 * config), "Stopped: card full" (only evidence-locked footage left and the disk is full; red),
 * anything else "Stopped: <state>" (red).
 */
export function cameraStateWords(state: string, enabled = true): { text: string; tone: Tone } {
  if (!enabled || state === "disabled") return { text: "Off", tone: "off" };
  switch (state) {
    case "recording":
      return { text: "Recording", tone: "ok" };
    case "starting":
      return { text: "Starting…", tone: "busy" };
    case "stalled":
    case "backoff":
      return { text: "Reconnecting…", tone: "warn" };
    case "stopping":
      return { text: "Stopping…", tone: "busy" };
    case "stopped":
      return { text: "Stopped", tone: "off" };
    case "disk_full":
      return { text: "Stopped: card full", tone: "bad" };
    default:
      return { text: `Stopped: ${state.replace(/_/g, " ")}`, tone: "bad" };
  }
}

/** A trip's status in plain words: "Recording", "Ended", "Keeping…", "Kept", "Overwritten". */
export function tripStatusWords(status: string): { text: string; tone: Tone } {
  switch (status) {
    case "open":
      return { text: "Recording", tone: "ok" };
    case "closed":
      return { text: "Ended", tone: "off" };
    case "saving":
      return { text: "Keeping…", tone: "busy" };
    case "saved":
      return { text: "Kept", tone: "saved" };
    case "evicted":
      return { text: "Overwritten", tone: "bad" };
    default:
      return { text: status, tone: "off" };
  }
}

/**
 * Event kinds that are the recorder's bookkeeping rather than something that happened to the
 * driver (one row per locked segment, partial ALPR samples, start-up repairs, retention
 * sweeps, routine clean-up): the Events page shows them only with "technical details".
 */
export const TECHNICAL_KINDS: readonly string[] = [
  "segment.evidence_lock",
  "segment.evidence_unlock",
  "alpr.segment_partial",
  "alpr.task_failed",
  "reconcile",
  "retention",
  "maintenance",
  "timelapse.cleanup",
  "health.retention",
  "saved.migrated",
];

/** An event's level in plain words. */
export const LEVEL_WORDS: Record<string, string> = { debug: "Detail", info: "Info", warn: "Warning", error: "Problem" };

function dataOf(ev: EventRow): Record<string, unknown> {
  if (!ev.data) return {};
  try {
    const d = JSON.parse(ev.data);
    return d && typeof d === "object" ? (d as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const str = (x: unknown): string | null => (typeof x === "string" && x !== "" ? x : null);
const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);

/**
 * One event-log row as a sentence for the driver, e.g. "Recording interrupted for 30 s",
 * "Front camera: Reconnecting… (Connection refused)", "A drive was kept". `cameraName` is the
 * camera's display name (the row only carries its key).
 */
export function eventSentence(ev: EventRow, cameraName?: string | null): string {
  const d = dataOf(ev);
  const cam = cameraName ?? (ev.camera_key ? ev.camera_key.charAt(0).toUpperCase() + ev.camera_key.slice(1) : null);
  const on = (s: string) => (cam ? `${cam}: ${s}` : s);
  const user = str(d.user);
  const by = user ? ` (by ${user})` : "";
  switch (ev.kind) {
    case "camera.state": {
      const state = str(d.state);
      if (!state) return ev.message;
      const words = cameraStateWords(state).text;
      const why = str(d.last_error);
      return on(state === "recording" || state === "starting" || state === "stopped" || !why ? words : `${words} (${why})`);
    }
    case "segment.gap": {
      const start = num(d.gap_start);
      const end = num(d.gap_end);
      const secs = start !== null && end !== null ? (end - start) / 1000 : Number(/([\d.]+) s/.exec(ev.message)?.[1] ?? NaN);
      return on(Number.isFinite(secs) ? `recording interrupted for ${formatDuration(secs * 1000)}` : "recording was interrupted");
    }
    case "trip.open":
      return on("a new drive started");
    case "trip.close":
      return on("the drive ended");
    case "trip.save":
    case "trip.saving":
      return on(`keeping a drive${by}`);
    case "trip.saved":
      return on("a drive was kept");
    case "trip.save_failed":
    case "trip.save_error":
      return on("a drive could not be kept");
    case "trip.unsaved": {
      const who = str(d.by);
      return on(`a kept drive was deleted${who ? ` (by ${who})` : ""}; its footage may be overwritten`);
    }
    case "saved.migrated":
      return on("a drive kept by an older version now takes less space");
    case "saved.migrate_failed":
      return "A drive kept by an older version could not be moved; it is kept as it was";
    case "timelapse.done":
      return on("a timelapse is ready");
    case "timelapse.retry":
      return on("making a timelapse failed; trying again");
    case "timelapse.failed":
      return on("a timelapse could not be made");
    case "timelapse.cancelled":
      return on("a timelapse was cancelled");
    case "incident.mark":
    case "incident.begin":
      return on(`incident marked${by}`);
    case "incident.done":
      return on("incident clip ready");
    case "incident.failed":
      return on("the incident clip could not be made; its footage is kept");
    case "export.start":
      return on(`clip export started${by}`);
    case "export.done":
    case "export.clip":
      return on("clip ready to download");
    case "export.failed":
      return on("a clip export failed");
    case "export.cancel":
      return on("a clip export was cancelled");
    case "export.delete":
      return on(`a downloaded file was deleted${by}`);
    case "export.snapshot":
    case "snapshot":
      return on(`snapshot${ev.level === "debug" ? " viewed" : " saved"}${by}`);
    case "evidence.lock":
    case "segment.evidence_lock":
      return on(`footage locked as evidence${by}`);
    case "segment.evidence_unlock":
      return on(`evidence lock removed${by}`);
    case "evidence.unlock":
      return on(`evidence lock removed${by}`);
    case "camera.stop":
      return on(`recording stopped${by}`);
    case "camera.start":
      return on(`recording started${by}`);
    case "camera.optimize":
      return on(`settings recommended${by}`);
    case "camera.apply": {
      const error = str(d.error);
      if (d.status === "success") return on("new settings applied and checked");
      if (d.status === "partial") return on(`new settings applied in part${error ? ` (${error})` : ""}`);
      return on(`settings change failed${error ? ` (${error})` : ""}`);
    }
    case "gpio.button":
      return /long/.test(ev.message) ? "Save button held: incident marked" : "Save button pressed: keeping the drive";
    case "gpio.ready":
      return "Save button ready";
    case "gpio.unavailable":
      return "The save button is not available";
    case "auth.login_failed":
      return "A login failed (wrong username or password)";
    case "auth.rate_limited":
      return "Too many failed logins: login paused for a while";
    case "alpr.start":
      return "Plate reading started";
    case "alpr.stop":
      return "Plate reading stopped";
    case "alpr.error":
      return `Plate reading problem: ${ev.message.replace(/^ALPR\s*/, "")}`;
    case "retention":
      return "Oldest footage overwritten to make room";
    case "maintenance":
      return "Routine clean-up";
    case "inventory.discovered":
      return on(`camera details read ${d.source === "onvif" ? "from the camera" : "from its recording"}`);
    case "inventory.failed":
      return on(`camera details could not be read (${ev.message.replace(/^.*?discovery failed: /, "")})`);
    case "inventory.edit":
      return on(`camera details changed${by}`);
    default:
      return ev.message;
  }
}

/**
 * The one message of a 404 for a page that does not exist. It names no path, so an unknown,
 * inactive or expired share link gets a byte-identical answer to any other missing page of its
 * kind (a share link reveals nothing about whether it once existed).
 */
export const NO_PAGE = "there is no page at this address";

/** A share's state in words for its admin card: "Live", "Off" or "Expired 7 Dec 08:12". */
export function shareStateWords(s: { is_active: number; expires_at: number | null }, now = Date.now()): { text: string; tone: Tone } {
  if (!s.is_active) return { text: "Off", tone: "off" };
  if (s.expires_at !== null && s.expires_at <= now) return { text: "Expired", tone: "warn" };
  return { text: "Live", tone: "ok" };
}
