/** @jsxImportSource hono/jsx */
/**
 * The GPIO save button's status card on the dashboard (shown only when `[gpio]` is configured).
 * `GpioCardBody` is also the SSE fragment `gpio` (the card keeps `sse-swap="gpio"`, so each
 * LiveBus `gpio` event replaces its inside). A missing chip or tool is a status with its
 * one-line reason, never a silent absence: `unavailable` (red) + the reason + what still works.
 */
import type { FC } from "hono/jsx";
import type { GpioConfig } from "../../config.ts";
import type { GpioState } from "../../machines/supervisor.ts";
import { Time } from "./Time.tsx";

/** The parts of `[gpio]` the card shows (chip, line, long-press time in ms). */
type ShownGpio = Pick<GpioConfig, "chip" | "save_line" | "long_press_ms">;

const TONE: Record<GpioState["status"], string> = { ready: "ok", starting: "busy", unavailable: "bad" };

export const GpioCardBody: FC<{ gpio: GpioState | null; settings?: ShownGpio | null }> = ({ gpio, settings }) => (
  <>
    <div class="card-head">
      <h2>Save button</h2>
      <span class={`badge ${gpio ? TONE[gpio.status] : "off"}`}>{gpio ? gpio.status : "no report yet"}</span>
    </div>
    <dl class="facts">
      {settings ? (
        <>
          <dt>GPIO</dt>
          <dd>
            <code>{settings.chip}</code> line {settings.save_line}
          </dd>
        </>
      ) : null}
      {gpio?.status === "unavailable" ? (
        <>
          <dt>Problem</dt>
          <dd class="error-text">{gpio.reason ?? "unavailable"}</dd>
          <dt>Meanwhile</dt>
          <dd>Tap Save at the top of the home screen instead.</dd>
        </>
      ) : gpio?.status === "ready" ? (
        <>
          <dt>Use</dt>
          <dd>
            Press to save the current trip; hold {settings ? `${(settings.long_press_ms / 1000).toFixed(1)} s` : "longer"} to mark an incident.
          </dd>
        </>
      ) : (
        <>
          <dt>State</dt>
          <dd class="muted">Waiting for the button monitor (gpiomon) to start.</dd>
        </>
      )}
      {gpio ? (
        <>
          <dt>Since</dt>
          <dd>
            <Time ms={gpio.at} fmt="ago" />
          </dd>
        </>
      ) : null}
    </dl>
  </>
);

/** The whole card, subscribed to the SSE event `gpio`. */
export const GpioCard: FC<{ gpio: GpioState | null; settings?: ShownGpio | null }> = ({ gpio, settings }) => (
  <article class="card gpio" id="gpio" sse-swap="gpio">
    <GpioCardBody gpio={gpio} settings={settings} />
  </article>
);
