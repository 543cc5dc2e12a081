/** @jsxImportSource hono/jsx */
/**
 * An HLS `<video>`. `client.js` plays `data-hls` natively when the browser can
 * (`canPlayType('application/vnd.apple.mpegurl')`, e.g. Safari on iOS) and otherwise loads the
 * embedded hls.js (`data-hlsjs` of the client script) on demand; it sets `data-mode` to
 * "native" or "hlsjs". `start`: position to start from (0 = beginning, undefined = live edge).
 * `player="hlsjs"` forces hls.js (for testing the fallback on a browser with native HLS).
 */
import type { FC } from "hono/jsx";

export const Player: FC<{ src: string; start?: number; autoplay?: boolean; player?: "hlsjs" | "auto" }> = ({
  src,
  start,
  autoplay,
  player,
}) => (
  <div class="player">
    <video
      class="video"
      data-hls={src}
      data-start={start === undefined ? undefined : String(start)}
      data-player={player === "hlsjs" ? "hlsjs" : undefined}
      controls
      playsinline
      muted
      autoplay={autoplay ? true : undefined}
      preload="metadata"
    ></video>
    <p class="player-msg muted" hidden></p>
  </div>
);
