/** @jsxImportSource hono/jsx */
/**
 * `<time>` for a Unix ms UTC instant. The server writes UTC text; `client.js` rewrites it to the
 * viewer's local time (`fmt`: "datetime", "time", "date") or a relative age ("ago", refreshed
 * every few seconds).
 */
import type { FC } from "hono/jsx";
import { isoUtc, utcText } from "../format.ts";

export type TimeFormat = "datetime" | "time" | "date" | "ago";

export const Time: FC<{ ms: number | null | undefined; fmt?: TimeFormat }> = ({ ms, fmt = "datetime" }) => {
  if (ms === null || ms === undefined) return <span class="muted">never</span>;
  const text = fmt === "time" ? utcText(ms).slice(11) : fmt === "date" ? utcText(ms).slice(0, 10) : utcText(ms);
  return (
    <time datetime={isoUtc(ms)} data-t={String(ms)} data-fmt={fmt}>
      {text}
    </time>
  );
};
