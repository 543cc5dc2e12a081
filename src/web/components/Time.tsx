/** @jsxImportSource hono/jsx */
/**
 * `<time>` for a Unix ms UTC instant: the one time formatter of the UI (24 h clock everywhere).
 * The server writes UTC text; `client.js` rewrites it to the viewer's local time:
 * "datetime" (2026-12-07 08:12:05), "time" (08:12:05), "hm" (08:12), "date" (2026-12-07),
 * "when" (today 08:12 / yesterday 08:12 / 7 Dec 08:12) or a relative age ("ago", refreshed
 * every few seconds).
 */
import type { FC } from "hono/jsx";
import { isoUtc, utcText, whenText } from "../format.ts";

export type TimeFormat = "datetime" | "time" | "hm" | "date" | "when" | "ago";

/** The server-side (UTC) text of `ms` in format `fmt`, before client.js localises it. */
export function serverTimeText(ms: number, fmt: TimeFormat): string {
  switch (fmt) {
    case "time":
      return utcText(ms).slice(11);
    case "hm":
      return `${utcText(ms, false)} UTC`;
    case "date":
      return utcText(ms).slice(0, 10);
    case "when":
      return `${whenText(ms)} UTC`;
    default:
      return utcText(ms);
  }
}

export const Time: FC<{ ms: number | null | undefined; fmt?: TimeFormat }> = ({ ms, fmt = "datetime" }) => {
  if (ms === null || ms === undefined) return <span class="muted">never</span>;
  return (
    <time datetime={isoUtc(ms)} data-t={String(ms)} data-fmt={fmt}>
      {serverTimeText(ms, fmt)}
    </time>
  );
};
