/** @jsxImportSource hono/jsx */
/** Small coloured state labels for camera states, trip statuses and event levels. */
import type { FC } from "hono/jsx";

const CAMERA_TONE: Record<string, string> = {
  recording: "ok",
  starting: "busy",
  stalled: "warn",
  backoff: "warn",
  stopped: "off",
  disabled: "off",
  error: "bad",
  disk_full: "bad",
};

/** Camera state badge (recording = green, stalled/backoff = amber, stopped = grey, anything else = red). */
export const StateBadge: FC<{ state: string }> = ({ state }) => (
  <span class={`badge ${CAMERA_TONE[state] ?? "bad"}`}>{state}</span>
);

const TRIP_TONE: Record<string, string> = { open: "ok", closed: "off", saving: "busy", saved: "saved", evicted: "bad" };

/** Trip status badge. */
export const TripBadge: FC<{ status: string }> = ({ status }) => (
  <span class={`badge ${TRIP_TONE[status] ?? "off"}`}>{status}</span>
);

const LEVEL_TONE: Record<string, string> = { debug: "off", info: "info", warn: "warn", error: "bad" };

/** Event level badge. */
export const LevelBadge: FC<{ level: string }> = ({ level }) => (
  <span class={`badge ${LEVEL_TONE[level] ?? "off"}`}>{level}</span>
);
