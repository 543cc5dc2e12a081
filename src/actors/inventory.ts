/**
 * Inventory discovery of one camera (seed 003 `cameras.capabilities`, vendor, model): over ONVIF
 * when the camera has an ONVIF login (config `[cameras.inventory] onvif`, else one stored from
 * the UI), otherwise by probing its newest recorded segment (src/media/probe.ts), which tells
 * what the camera sends (codec, size, frame rate, bitrate), not its maximum.
 *
 * Run for every enabled camera at start-up (in the background) and by the camera page's
 * "Discover" button. The outcome is one event-log row (`inventory.discovered` or
 * `inventory.failed`, whose message is the device's fault string or the transport problem; the
 * password never appears). Safe to repeat.
 */
import type { Database } from "bun:sqlite";
import type { CameraConfig } from "../config.ts";
import { inventoryOf, ipOfSource, onvifCredentialsOf, storeCapabilities, syncInventory, type CameraCapabilities, type InventoryFields, type InventorySync, type OnvifCredentials } from "../db/inventory.ts";
import { latestSegment } from "../db/segments.ts";
import { logEvent } from "../db/eventLog.ts";
import { probeMedia } from "../media/probe.ts";
import { discoverOnvifInventory, OnvifError, type OnvifTarget } from "../onvif/device.ts";
import { resolveInside } from "../paths.ts";
import type { SecretKey } from "../secrets.ts";
import type { LiveBus } from "../events.ts";

/** What the config file sets of each camera's inventory, for `syncInventory` at start-up. */
export function inventoryFromConfig(cameras: CameraConfig[], ids: Map<string, number>): InventorySync[] {
  const out: InventorySync[] = [];
  for (const c of cameras) {
    const cameraId = ids.get(c.key);
    if (cameraId === undefined) continue;
    const { onvif, ...fields } = c.inventory ?? {};
    out.push({ cameraId, ip: ipOfSource(c.source, onvif?.url), fields: fields as InventoryFields, ...(onvif ? { onvif } : {}) });
  }
  return out;
}

/** The ONVIF login to use for a camera: the config file's, else the one stored from the UI. */
export function onvifLoginFor(db: Database, secret: SecretKey | null, camera: CameraConfig, cameraId: number): OnvifCredentials | null {
  if (camera.inventory?.onvif) return camera.inventory.onvif;
  return secret ? onvifCredentialsOf(db, secret, cameraId) : null;
}

/**
 * The ONVIF target of a camera by key, for settings changes (src/actors/applyConfig.ts
 * `onvifTargetOf`): its login from `onvifLoginFor` (config file, else stored from the UI), read
 * when asked so a login entered on the page counts at once; null for an unknown camera or one
 * without a login. Throws a one-line Error when the stored login cannot be decrypted.
 */
export function onvifTargetsOf(db: Database, secret: SecretKey | null, cameras: CameraConfig[], ids: Map<string, number>, timeoutMs?: number) {
  return (cameraKey: string): OnvifTarget | null => {
    const camera = cameras.find((c) => c.key === cameraKey);
    const cameraId = ids.get(cameraKey);
    if (!camera || cameraId === undefined) return null;
    let login: OnvifCredentials | null;
    try {
      login = onvifLoginFor(db, secret, camera, cameraId);
    } catch {
      throw new Error(UNDECRYPTABLE_LOGIN);
    }
    return login ? { url: login.url, user: login.user, password: login.password, timeoutMs } : null;
  };
}

const UNDECRYPTABLE_LOGIN = "the stored ONVIF login cannot be decrypted with this data directory's key; enter it again";

export interface DiscoveryDeps {
  db: Database;
  dataDir: string;
  secret: SecretKey | null;
  /** ONVIF request timeout, ms (default 10 000). */
  onvifTimeoutMs?: number;
}

/**
 * Discovers camera `camera`'s capabilities and stores them (vendor and model too, unless the
 * config file sets them). Resolves with what was stored. Rejects with an Error whose message is
 * one line for the user (OnvifError for ONVIF problems; "nothing recorded yet" without ONVIF).
 */
export async function discoverInventory(deps: DiscoveryDeps, camera: CameraConfig, cameraId: number): Promise<CameraCapabilities> {
  const { db } = deps;
  try {
    let login: OnvifCredentials | null;
    try {
      login = onvifLoginFor(db, deps.secret, camera, cameraId);
    } catch {
      throw new Error(UNDECRYPTABLE_LOGIN);
    }
    let caps: CameraCapabilities;
    const identity: InventoryFields = {};
    if (login) {
      const found = await discoverOnvifInventory({ url: login.url, user: login.user, password: login.password, timeoutMs: deps.onvifTimeoutMs });
      // what a device reports is stored within the config file's limits
      const clip = (s: string) => s.replace(/[\u0000-\u001f\u007f]/g, " ").trim().slice(0, 100);
      caps = {
        ...found.capabilities,
        ...(found.firmware !== undefined ? { firmware: clip(found.firmware) } : {}),
        ...(found.serial !== undefined ? { serial: clip(found.serial) } : {}),
        currentStream: found.current,
        source: "onvif",
        checkedAt: Date.now(),
      };
      if (camera.inventory?.vendor === undefined && clip(found.vendor)) identity.vendor = clip(found.vendor);
      if (camera.inventory?.model === undefined && clip(found.model)) identity.model = clip(found.model);
    } else {
      caps = await capabilitiesFromRecording(deps, cameraId);
    }
    storeCapabilities(db, cameraId, caps, identity);
    const summary = `${caps.maxResolution.width}x${caps.maxResolution.height}, ${caps.codecs.join("/") || "unknown codec"}, ${caps.maxFps} fps`;
    logEvent(db, {
      kind: "inventory.discovered",
      cameraId,
      message: `${camera.key}: ${caps.source === "onvif" ? "ONVIF" : "recording"} reports ${summary}`,
      data: { source: caps.source },
    });
    return caps;
  } catch (err) {
    const message = String((err as Error)?.message ?? err).split("\n")[0]!.slice(0, 300);
    logEvent(db, {
      kind: "inventory.failed",
      level: "warn",
      cameraId,
      message: `${camera.key}: discovery failed: ${message}`,
      data: err instanceof OnvifError ? { faultCodes: err.faultCodes } : undefined,
    });
    throw err instanceof Error ? err : new Error(message);
  }
}

/** Capabilities as the newest recorded segment shows them (codec, size, fps, bitrate). */
async function capabilitiesFromRecording(deps: DiscoveryDeps, cameraId: number): Promise<CameraCapabilities> {
  const seg = latestSegment(deps.db, cameraId);
  if (!seg) throw new Error("nothing recorded yet and no ONVIF address: capabilities are measured from the first segment");
  const info = await probeMedia(resolveInside(deps.dataDir, seg.rel_path));
  if (!info || !info.width || !info.height) throw new Error(`the newest segment (${seg.rel_path}) has no readable video`);
  const fps = info.fps ?? 0;
  const bytes = seg.bytes ?? Bun.file(resolveInside(deps.dataDir, seg.rel_path)).size;
  const bitrateKbps = info.durationSec > 0 ? Math.round((bytes * 8) / info.durationSec / 1000) : undefined;
  return {
    maxResolution: { width: info.width, height: info.height },
    codecs: info.codec ? [info.codec] : [],
    maxFps: fps,
    currentStream: {
      width: info.width,
      height: info.height,
      ...(info.codec ? { codec: info.codec } : {}),
      ...(fps ? { fps } : {}),
      ...(bitrateKbps ? { bitrateKbps } : {}),
    },
    source: "recording",
    checkedAt: Date.now(),
  };
}

/**
 * Start-up discovery: every enabled camera with an ONVIF login or recorded footage is discovered
 * now (through `run`, the runtime's background tasks, aborted at power-down); one with neither
 * is discovered at its first closed segment (`segment` on the live bus). Failures are
 * `inventory.failed` events, never start-up errors. Returns the function that stops waiting.
 */
export function startInventoryDiscovery(
  deps: DiscoveryDeps & { bus: LiveBus },
  cameras: CameraConfig[],
  ids: Map<string, number>,
  run: (work: (signal: AbortSignal) => Promise<unknown>) => void,
): () => void {
  const discover = (camera: CameraConfig, id: number) =>
    run((signal) =>
      Promise.race([
        discoverInventory(deps, camera, id).catch(() => {}),
        new Promise<void>((res) => signal.addEventListener("abort", () => res(), { once: true })),
      ]),
    );
  const waiting = new Map<string, { camera: CameraConfig; id: number }>();
  for (const c of cameras) {
    const id = ids.get(c.key);
    if (!c.enabled || id === undefined) continue;
    let onvif: boolean;
    try {
      onvif = onvifLoginFor(deps.db, deps.secret, c, id) !== null;
    } catch {
      onvif = true; // a login this key cannot decrypt: discovery reports it
    }
    if (onvif || latestSegment(deps.db, id)) discover(c, id);
    else if (c.record !== false) waiting.set(c.key, { camera: c, id });
  }
  if (waiting.size === 0) return () => {};
  const unsubscribe = deps.bus.subscribe((ev) => {
    if (ev.type !== "segment") return;
    const w = waiting.get(ev.key);
    if (!w) return;
    waiting.delete(ev.key);
    discover(w.camera, w.id);
    if (waiting.size === 0) unsubscribe();
  });
  return unsubscribe;
}

/** Writes the config's inventory of every camera (start-up); see `syncInventory`. */
export function syncConfigInventory(db: Database, secret: SecretKey | null, cameras: CameraConfig[], ids: Map<string, number>): void {
  syncInventory(db, secret, inventoryFromConfig(cameras, ids));
}

/** Whether camera `cameraId` has capabilities stored already. */
export const hasCapabilities = (db: Database, cameraId: number) => inventoryOf(db, cameraId)?.capabilities != null;
