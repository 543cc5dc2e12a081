/** @jsxImportSource hono/jsx */
/**
 * The camera page's Stop / Start recording control for operators (`#camera-power`, an htmx
 * fragment: the POST answer replaces it). It offers Start when the camera is `stopped`, Stop
 * otherwise (starting, recording, stalled, backoff, disk_full...), nothing for a disabled
 * camera (config `enabled = false`) or while it is `stopping`. Stopping asks for confirmation:
 * the camera's open trip closes.
 */
import type { FC } from "hono/jsx";
import { CsrfField } from "../auth/csrf.ts";

export interface CameraPowerProps {
  cameraKey: string;
  /** The camera state to offer an action for (after a request: the state it was asked to reach). */
  state: string;
  enabled: boolean;
  csrf: string;
  notice?: string | null;
}

/** Whether a camera in `state` is offered Start (else Stop). */
export const canStart = (state: string) => state === "stopped";

export const CameraPower: FC<CameraPowerProps> = ({ cameraKey, state, enabled, csrf, notice }) => {
  const base = `/cameras/${cameraKey}`;
  const start = canStart(state);
  const offer = enabled && state !== "stopping" && state !== "disabled";
  return (
    <div id="camera-power" class="power">
      {notice ? <p class="notice">{notice}</p> : null}
      {offer ? (
        <form
          method="post"
          action={`${base}/${start ? "start" : "stop"}`}
          hx-post={`${base}/${start ? "start" : "stop"}`}
          hx-target="#camera-power"
          hx-swap="outerHTML"
          hx-confirm={start ? undefined : "Stop recording this camera? Its open trip closes; nothing is recorded until you start it again."}
          class="action"
        >
          <CsrfField token={csrf} />
          <button type="submit" class={start ? "big primary" : "big plain"}>
            {start ? "Start recording" : "Stop recording"}
          </button>
        </form>
      ) : null}
    </div>
  );
};
