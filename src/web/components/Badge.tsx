/** @jsxImportSource hono/jsx */
/** Small coloured labels in plain words for camera states, trip statuses and event levels. */
import type { FC } from "hono/jsx";
import { cameraStateWords, LEVEL_WORDS, tripStatusWords } from "../words.ts";

/** Camera state badge in words ("Recording" green, "Reconnecting…" amber, "Stopped" grey, "Stopped: card full" red). */
export const StateBadge: FC<{ state: string }> = ({ state }) => {
  const w = cameraStateWords(state);
  return <span class={`badge ${w.tone}`} data-state={state}>{w.text}</span>;
};

/** Trip status badge in words ("Recording", "Kept", ...). */
export const TripBadge: FC<{ status: string }> = ({ status }) => {
  const w = tripStatusWords(status);
  return <span class={`badge ${w.tone}`} data-status={status}>{w.text}</span>;
};

const LEVEL_TONE: Record<string, string> = { debug: "off", info: "info", warn: "warn", error: "bad" };

/** Event level badge. */
export const LevelBadge: FC<{ level: string }> = ({ level }) => (
  <span class={`badge ${LEVEL_TONE[level] ?? "off"}`}>{LEVEL_WORDS[level] ?? level}</span>
);
