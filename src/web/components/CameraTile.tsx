/** @jsxImportSource hono/jsx */
/**
 * A camera on the home screen: its picture, name, state in plain words ("Recording",
 * "Reconnecting…", "Stopped: card full", "Timelapse") and when it last recorded.
 * `CameraTileInfo` is also the SSE fragment `camera-tile-<key>` (the tile's info block keeps
 * `sse-swap`, so the live stream replaces its inside).
 *
 * The picture depends on what the camera does (`cameraUseOf`, from the configuration): a camera
 * that records shows its live view as a moving thumbnail (LivePlayer); a timelapse-only camera
 * (`record = false`) its current picture (`/cameras/<key>/frame.jpg`, refreshed every minute);
 * a camera that is off its newest recorded picture, if any (CameraThumb).
 */
import type { FC } from "hono/jsx";
import type { Config } from "../../config.ts";
import type { CameraSummary } from "../../db/views.ts";
import { cameraStateWords } from "../words.ts";
import { CameraThumb } from "./CameraThumb.tsx";
import { LivePlayer } from "./LivePlayer.tsx";
import { Time } from "./Time.tsx";

export type CameraTileData = Pick<CameraSummary, "key" | "name" | "enabled" | "state" | "last_error" | "last_segment_at">;

/**
 * What a camera does according to the configuration: records video, only takes timelapse
 * pictures (`record = false` with a capture interval, s), or nothing (disabled, or no longer
 * configured).
 */
export type CameraUse = { kind: "video" } | { kind: "timelapse"; intervalSeconds: number } | { kind: "off" };

/** The `CameraUse` of camera `key` in `config`. */
export function cameraUseOf(config: Pick<Config, "cameras">, key: string): CameraUse {
  const cam = config.cameras.find((c) => c.key === key);
  if (!cam || !cam.enabled) return { kind: "off" };
  if (cam.record !== false) return { kind: "video" };
  const every = cam.timelapse?.interval_seconds;
  return every ? { kind: "timelapse", intervalSeconds: every } : { kind: "off" };
}

/** "10 s", "5 min", "1 h 30 min": a capture interval in words. */
function everyWords(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return seconds % 60 === 0 ? `${seconds / 60} min` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  const m = Math.round((seconds % 3600) / 60);
  return `${Math.floor(seconds / 3600)} h${m ? ` ${m} min` : ""}`;
}

/** The state line under a camera's picture. */
export const CameraTileInfo: FC<{ cam: CameraTileData; use?: CameraUse }> = ({ cam, use }) => {
  const timelapse = use?.kind === "timelapse" ? use : null;
  const words = timelapse ? { text: "Timelapse", tone: "info" } : cameraStateWords(cam.state, Boolean(cam.enabled));
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
        {timelapse ? (
          `Takes a timelapse picture every ${everyWords(timelapse.intervalSeconds)}; it records no video.`
        ) : cam.last_segment_at ? (
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

/** The camera's picture as its `use` calls for (see the module comment). */
export const CameraPicture: FC<{ cam: CameraTileData; use: CameraUse }> = ({ cam, use }) =>
  use.kind === "video" ? (
    <LivePlayer cameraKey={cam.key} thumbnail label={`Live view of ${cam.name}`} />
  ) : use.kind === "timelapse" ? (
    <CameraThumb cameraKey={cam.key} name={cam.name} hasFootage src={`/cameras/${cam.key}/frame.jpg`} refreshSeconds={60} alt={`${cam.name}: current picture`} />
  ) : (
    <CameraThumb cameraKey={cam.key} name={cam.name} hasFootage={cam.last_segment_at !== null} />
  );

/** `picture: false` leaves the picture out (the camera page shows the live player above instead). */
export const CameraTile: FC<{ cam: CameraTileData; use: CameraUse; picture?: boolean }> = ({ cam, use, picture = true }) => (
  <article class="card camera-tile" id={`camera-${cam.key}`}>
    {picture ? <CameraPicture cam={cam} use={use} /> : null}
    <div class="tile-info" sse-swap={`camera-tile-${cam.key}`}>
      <CameraTileInfo cam={cam} use={use} />
    </div>
  </article>
);
