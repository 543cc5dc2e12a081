/** @jsxImportSource hono/jsx */
/**
 * The camera page's Inventory section (`#inventory`, an htmx fragment: its forms' answers
 * replace it): seed 003's inventory of the camera in plain words (where it is, what it looks
 * at, what it is for, make and model, its VMS, and what it can do), with "Find out now"
 * (operators: ONVIF discovery, or a probe of the newest recording) and an edit form (admins).
 *
 * Fields the config file sets are shown but not editable (the file wins at every start). The
 * ONVIF password is never shown or sent back: the form only says whether a login is stored.
 */
import type { FC } from "hono/jsx";
import { CsrfField } from "../auth/csrf.ts";
import { Time } from "./Time.tsx";
import type { CameraCapabilities, InventoryField, InventoryRow } from "../../db/inventory.ts";

/** Plain-word labels of the inventory fields, in page order. */
export const INVENTORY_LABELS: Record<InventoryField, string> = {
  location: "Location",
  scene_type: "Scene",
  purpose: "Purpose",
  vendor: "Make",
  model: "Model",
  vms_system: "Video management system",
  vms_camera_id: "Camera id in that system",
};

/** Suggested words (seed 003's examples plus a dashcam's own); any other word is accepted. */
const SCENES = ["road", "vehicle_interior", "parking", "entrance", "hallway", "lobby", "perimeter", "outdoor", "indoor"];
const PURPOSES = ["overview", "plates", "facial", "evidence", "monitoring"];

export interface InventoryProps {
  cameraKey: string;
  inv: InventoryRow;
  /** Fields the config file sets (read-only here). */
  fromConfig: ReadonlySet<InventoryField>;
  /** The config file sets the ONVIF login. */
  onvifFromConfig: boolean;
  /** May edit (admin). */
  canEdit: boolean;
  /** May run discovery (operator). */
  canDiscover: boolean;
  csrf: string;
  notice?: string | null;
}

/** "2560×1440, H264 or JPEG, up to 30 fps" etc. */
export function capabilityWords(c: CameraCapabilities): string[] {
  const out: string[] = [];
  const res = c.maxResolution.width && c.maxResolution.height ? `${c.maxResolution.width}×${c.maxResolution.height}` : null;
  if (c.source === "onvif") {
    if (res) out.push(`Up to ${res} pixels`);
    if (c.codecs.length) out.push(`Codecs: ${c.codecs.join(", ")}`);
    if (c.maxFps) out.push(`Up to ${c.maxFps} frames per second`);
    if (c.bitrateRangeKbps) out.push(`Bitrate ${c.bitrateRangeKbps.min}–${c.bitrateRangeKbps.max} kbit/s`);
    if (c.wdr) {
      const level = c.wdr.levelRange ? `, level ${c.wdr.levelRange.min}–${c.wdr.levelRange.max}` : "";
      out.push(`Wide dynamic range: ${c.wdr.modes.join(" / ") || "reported"}${level}`);
    } else out.push("Wide dynamic range: not reported");
  } else {
    if (res) out.push(`Sends ${res} pixels`);
    if (c.codecs.length) out.push(`Codec: ${c.codecs.join(", ")}`);
    if (c.maxFps) out.push(`${Math.round(c.maxFps * 100) / 100} frames per second`);
  }
  const s = c.currentStream;
  if (s && c.source === "onvif") {
    const parts = [
      s.width && s.height ? `${s.width}×${s.height}` : null,
      s.codec ?? null,
      s.fps ? `${s.fps} fps` : null,
      s.bitrateKbps ? `${s.bitrateKbps} kbit/s` : null,
      s.gopFrames ? `keyframe every ${s.gopFrames} frames` : null,
    ].filter(Boolean);
    if (parts.length) out.push(`Main stream now: ${parts.join(", ")}`);
  } else if (s?.bitrateKbps) out.push(`About ${s.bitrateKbps} kbit/s`);
  if (c.firmware) out.push(`Firmware ${c.firmware}`);
  if (c.serial) out.push(`Serial number ${c.serial}`);
  return out;
}

export const InventorySection: FC<InventoryProps> = ({ cameraKey, inv, fromConfig, onvifFromConfig, canEdit, canDiscover, csrf, notice }) => {
  const base = `/cameras/${cameraKey}/inventory`;
  const caps = inv.capabilities;
  const field = (f: InventoryField) => inv[f];
  return (
    <section class="card inventory" id="inventory">
      <h2>Inventory</h2>
      {notice ? <p class="notice" role="status">{notice}</p> : null}
      <dl class="facts">
        <dt>Address</dt>
        <dd>{inv.ip ?? <span class="muted">none (not a network camera)</span>}</dd>
        {(Object.keys(INVENTORY_LABELS) as InventoryField[]).map((f) => (
          <>
            <dt>{INVENTORY_LABELS[f]}</dt>
            <dd>{field(f) ?? <span class="muted">not set</span>}</dd>
          </>
        ))}
        <dt>ONVIF</dt>
        <dd>{onvifFromConfig ? "login set in the config file" : inv.has_credentials ? "login stored (encrypted)" : <span class="muted">no login: capabilities come from the recording</span>}</dd>
        <dt>Can do</dt>
        <dd>
          {caps ? (
            <>
              <ul class="plain-list">
                {capabilityWords(caps).map((w) => (
                  <li>{w}</li>
                ))}
              </ul>
              <span class="muted">
                {caps.source === "onvif" ? "Asked the camera over ONVIF" : "Measured from the newest recording"} at <Time ms={caps.checkedAt} fmt="datetime" />
              </span>
            </>
          ) : (
            <span class="muted">not known yet</span>
          )}
        </dd>
      </dl>
      {canDiscover ? (
        <form method="post" action={`${base}/discover`} hx-post={`${base}/discover`} hx-target="#inventory" hx-swap="outerHTML" class="action">
          <CsrfField token={csrf} />
          <button type="submit" class="plain">
            Find out now
          </button>
        </form>
      ) : null}
      {canEdit ? (
        <details class="advanced">
          <summary>Change</summary>
          <form method="post" action={base} hx-post={base} hx-target="#inventory" hx-swap="outerHTML" class="inventory-form">
            <CsrfField token={csrf} />
            {(Object.keys(INVENTORY_LABELS) as InventoryField[]).map((f) => {
              const locked = fromConfig.has(f);
              const list = f === "scene_type" ? "inventory-scenes" : f === "purpose" ? "inventory-purposes" : undefined;
              return (
                <label class="compact">
                  {INVENTORY_LABELS[f]}
                  {locked ? " (set in the config file)" : f === "scene_type" || f === "purpose" ? " (one word)" : ""}
                  <input type="text" name={f} value={field(f) ?? ""} disabled={locked} list={list} maxlength={f === "location" ? 200 : f === "vms_camera_id" ? 128 : f === "vms_system" ? 64 : f === "vendor" || f === "model" ? 100 : 32} autocomplete="off" />
                </label>
              );
            })}
            <datalist id="inventory-scenes">
              {SCENES.map((s) => (
                <option value={s} />
              ))}
            </datalist>
            <datalist id="inventory-purposes">
              {PURPOSES.map((s) => (
                <option value={s} />
              ))}
            </datalist>
            {onvifFromConfig ? (
              <p class="muted">The ONVIF login is set in the config file.</p>
            ) : (
              <fieldset class="plain">
                <legend>ONVIF login</legend>
                <label class="compact">
                  Address (http://camera/onvif/device_service){inv.has_credentials ? "; leave empty to keep the stored one" : ""}
                  <input type="url" name="onvif_url" value="" placeholder="http://192.168.1.64/onvif/device_service" autocomplete="off" />
                </label>
                <label class="compact">
                  User
                  <input type="text" name="onvif_user" value="" autocomplete="off" />
                </label>
                <label class="compact">
                  Password{inv.has_credentials ? " (leave empty to keep the stored one)" : ""}
                  <input type="password" name="onvif_password" value="" autocomplete="new-password" />
                </label>
                {inv.has_credentials ? (
                  <label class="check">
                    <input type="checkbox" name="onvif_remove" value="on" /> Remove the stored login
                  </label>
                ) : null}
              </fieldset>
            )}
            <button type="submit" class="primary">
              Save
            </button>
          </form>
        </details>
      ) : null}
    </section>
  );
};
