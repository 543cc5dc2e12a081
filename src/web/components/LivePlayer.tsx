/** @jsxImportSource hono/jsx */
/**
 * A camera's live view: `client.js` plays `/cameras/<key>/live.ts` over a WebSocket with the
 * embedded mpegts.js (Media Source Extensions, or ManagedMediaSource on iOS 17.1+), chasing the
 * live edge so the picture stays within ~1 s of the camera; browsers without either (older iOS)
 * fall back to the live HLS playlist (`data-fallback`), played natively. It starts as soon as the
 * page loads (muted, inline). Any failure (stream gone, no picture, decoder error) shows a message
 * with a Retry button in place of the picture, never a black box; the player also retries by
 * itself, and `data-state` says where it is: "connecting", "playing", "error".
 *
 * The player script is preloaded by the component, so the picture does not wait for its download.
 *
 * `thumbnail`: a small moving picture without controls (the home screen's camera tiles), in a
 * `.live-thumb` box; otherwise a full-width player with controls.
 */
import type { FC } from "hono/jsx";
import { assetUrl } from "../assets.ts";

export const LivePlayer: FC<{ cameraKey: string; thumbnail?: boolean; label?: string }> = ({ cameraKey, thumbnail, label }) => (
  <div class={thumbnail ? "player live-player live-thumb" : "player live-player"} data-live-player data-state="connecting">
    {/* fetched while the page loads, so the player starts without waiting for it afterwards */}
    <link rel="preload" as="script" href={assetUrl("mpegts.js")} />
    <video
      class="video"
      data-live={`/cameras/${cameraKey}/live.ts`}
      data-fallback={`/cameras/${cameraKey}/live.m3u8`}
      controls={thumbnail ? undefined : true}
      playsinline
      muted
      autoplay
      aria-label={label ?? `Live view of ${cameraKey}`}
    ></video>
    <div class="player-status" role="status">
      <p class="player-msg">Connecting…</p>
      <button type="button" class="player-retry" data-player-retry hidden>
        Retry
      </button>
    </div>
  </div>
);
