/** @jsxImportSource hono/jsx */
/**
 * A camera on the home screen: its picture (CameraThumb), name, state in plain words
 * ("Recording", "Reconnecting…", "Stopped: card full") and when it last recorded.
 * `CameraTileInfo` is also the SSE fragment `camera-tile-<key>` (the tile's info block keeps
 * `sse-swap`, so the live stream replaces its inside).
 */
import type { FC } from "hono/jsx";
import type { CameraSummary } from "../../db/views.ts";
import { cameraStateWords } from "../words.ts";
import { CameraThumb } from "./CameraThumb.tsx";
import { Time } from "./Time.tsx";

export type CameraTileData = Pick<CameraSummary, "key" | "name" | "enabled" | "state" | "last_error" | "last_segment_at">;

/** The state line under a camera's picture. */
export const CameraTileInfo: FC<{ cam: CameraTileData }> = ({ cam }) => {
  const words = cameraStateWords(cam.state, Boolean(cam.enabled));
  const trouble = words.tone === "warn" || words.tone === "bad";
  return (
    <>
      <div class="card-head">
        <h2>
          <a href={`/cameras/${cam.key}`}>{cam.name}</a>
        </h2>
        <span class={`badge ${words.tone}`}>{words.text}</span>
      </div>
      <p class="tile-line muted">
        {cam.last_segment_at ? (
          <>
            Last recorded <Time ms={cam.last_segment_at} fmt="ago" />
          </>
        ) : (
          "Nothing recorded yet"
        )}
        {trouble && cam.last_error ? <span class="error-text"> · {cam.last_error}</span> : null}
      </p>
    </>
  );
};

/** `picture: false` leaves the picture out (the camera page shows the live player above instead). */
export const CameraTile: FC<{ cam: CameraTileData; picture?: boolean }> = ({ cam, picture = true }) => (
  <article class="card camera-tile" id={`camera-${cam.key}`}>
    {picture ? <CameraThumb cameraKey={cam.key} name={cam.name} hasFootage={cam.last_segment_at !== null} /> : null}
    <div class="tile-info" sse-swap={`camera-tile-${cam.key}`}>
      <CameraTileInfo cam={cam} />
    </div>
  </article>
);
