/** @jsxImportSource hono/jsx */
/**
 * An HLS `<video>` (recorded footage; the live view is components/LivePlayer.tsx). `client.js`
 * plays `data-hls` with the embedded hls.js (`data-hlsjs` of the client script, loaded on demand)
 * wherever Media Source Extensions exist, and natively only where they do not (Safari on older
 * iOS); it sets `data-mode` to "native" or "hlsjs". A failure shows its message and a Retry button. `start`: position to start from (0 = beginning, undefined = live edge).
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
    <button type="button" class="player-retry" data-player-retry hidden>
      Retry
    </button>
  </div>
);
