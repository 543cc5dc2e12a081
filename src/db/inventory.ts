/**
 * Seed 003 inventory of a camera: the `cameras` columns `ip`, `vendor`, `model`, `location`,
 * `scene_type`, `purpose`, `vms_system`, `vms_camera_id`, `capabilities` (JSON) and
 * `credentials_encrypted`.
 *
 * `credentials_encrypted` holds the camera's ONVIF address, user and password as JSON encrypted
 * with the same AES-256-GCM key as the camera URLs (src/secrets.ts); nothing here returns it
 * except `onvifCredentialsOf`, which needs the key. Rows read for pages (`inventoryOf`) only say
 * whether credentials are stored.
 *
 * `capabilities` holds `CameraCapabilities`: what the device can do (ONVIF discovery) or, for a
 * camera without ONVIF, what its recorded stream is (probe of its newest segment), with the
 * source and the time it was found.
 */
import type { Database } from "bun:sqlite";
import { decrypt, encrypt, type SecretKey } from "../secrets.ts";
import { perDatabase } from "./prepared.ts";
import type { OnvifCapabilities, OnvifStreamSettings } from "../onvif/device.ts";

/** The free-text inventory columns, in page order. */
export const INVENTORY_FIELDS = ["location", "scene_type", "purpose", "vendor", "model", "vms_system", "vms_camera_id"] as const;
export type InventoryField = (typeof INVENTORY_FIELDS)[number];
export type InventoryFields = Partial<Record<InventoryField, string | null>>;

/** A camera's ONVIF device service and login (kept only encrypted). */
export interface OnvifCredentials {
  url: string;
  user?: string;
  password?: string;
  /** Where it came from: the config file (removed again when the file drops it) or the web UI. */
  origin?: "config" | "ui";
}

/**
 * `cameras.capabilities` (JSON): the device's capabilities (ONVIF's shape, see
 * src/onvif/device.ts; from a recording only size, codec and fps), plus where they came from.
 * Pixels, fps, kbit/s, GOP frames; `checkedAt` ms UTC.
 */
export interface CameraCapabilities extends OnvifCapabilities {
  /** Device identity from ONVIF `GetDeviceInformation`. */
  firmware?: string;
  serial?: string;
  /** The main stream's settings when they were read (ONVIF encoder configuration, or the probed recording). */
  currentStream?: Omit<OnvifStreamSettings, "codec"> & { codec?: string };
  /** `onvif`: asked from the device; `recording`: measured from the newest recorded segment (what it sends, not its maximum). */
  source: "onvif" | "recording";
  checkedAt: number;
}

/** A camera's inventory for pages: no credentials, only whether some are stored. */
export interface InventoryRow extends Record<InventoryField, string | null> {
  camera_id: number;
  ip: string | null;
  capabilities: CameraCapabilities | null;
  has_credentials: boolean;
}

const statements = perDatabase((db) => ({
  get: db.prepare(
    `SELECT id AS camera_id, ip, vendor, model, location, scene_type, purpose, vms_system, vms_camera_id,
            capabilities, credentials_encrypted IS NOT NULL AS has_credentials
     FROM cameras WHERE id = $id`,
  ),
  credentials: db.prepare("SELECT credentials_encrypted FROM cameras WHERE id = $id"),
  setIp: db.prepare("UPDATE cameras SET ip = $ip WHERE id = $id AND ip IS NOT $ip"),
  setCredentials: db.prepare("UPDATE cameras SET credentials_encrypted = $c WHERE id = $id"),
  setCapabilities: db.prepare("UPDATE cameras SET capabilities = $c WHERE id = $id"),
  setCurrentStream: db.prepare(
    `UPDATE cameras SET capabilities = json_set(capabilities, '$.currentStream', json($s))
     WHERE id = $id AND json_valid(capabilities) AND json_extract(capabilities, '$.source') = $source`,
  ),
  // one statement per column: column names cannot be parameters
  setField: Object.fromEntries(
    INVENTORY_FIELDS.map((f) => [f, db.prepare(`UPDATE cameras SET ${f} = $v WHERE id = $id AND ${f} IS NOT $v`)]),
  ) as Record<InventoryField, ReturnType<Database["prepare"]>>,
}));

/**
 * The host of a camera's source URL (`rtsp://user:pass@192.168.1.20:554/x` -> `192.168.1.20`),
 * else of its ONVIF address; null for file, device and test sources.
 */
export function ipOfSource(source: string, onvifUrl?: string): string | null {
  for (const s of [source, onvifUrl]) {
    if (!s || !/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) continue;
    try {
      const host = new URL(s).hostname.replace(/^\[(.*)\]$/, "$1");
      if (host) return host;
    } catch {
      // not a URL: try the next one
    }
  }
  return null;
}

/** The inventory of camera `cameraId`; null for an unknown camera. */
export function inventoryOf(db: Database, cameraId: number): InventoryRow | null {
  const row = statements(db).get.get({ id: cameraId }) as (Omit<InventoryRow, "capabilities" | "has_credentials"> & { capabilities: string | null; has_credentials: number }) | null;
  if (!row) return null;
  let capabilities: CameraCapabilities | null = null;
  try {
    capabilities = row.capabilities ? (JSON.parse(row.capabilities) as CameraCapabilities) : null;
  } catch {
    capabilities = null;
  }
  return { ...row, capabilities, has_credentials: row.has_credentials === 1 };
}

/** One camera's part of `syncInventory`. */
export interface InventorySync {
  cameraId: number;
  ip: string | null;
  /** Fields the config file sets (others are left as they are: admins may have edited them). */
  fields: InventoryFields;
  /** ONVIF login from the config file; undefined = none there (a stored one from the file is removed, one set in the UI kept). */
  onvif?: OnvifCredentials;
}

/**
 * Writes the config file's inventory of every camera (one transaction). Credentials are stored
 * only when a key is available; without one they stay in the config file only.
 */
export function syncInventory(db: Database, secret: SecretKey | null, cameras: InventorySync[]): void {
  const s = statements(db);
  db.transaction(() => {
    for (const c of cameras) {
      s.setIp.run({ id: c.cameraId, ip: c.ip });
      for (const f of INVENTORY_FIELDS) if (c.fields[f] !== undefined) s.setField[f].run({ id: c.cameraId, v: c.fields[f] ?? null });
      if (!secret) continue;
      let stored: OnvifCredentials | null = null;
      try {
        stored = onvifCredentialsOf(db, secret, c.cameraId);
      } catch {
        stored = null; // another key's: replaced by the file's login, or left for the UI to replace
      }
      if (c.onvif) {
        const wanted = normalise({ ...c.onvif, origin: "config" });
        // re-encrypted only when it changed (a fresh IV each time would rewrite the row at every start)
        if (!stored || JSON.stringify(normalise(stored)) !== JSON.stringify(wanted)) s.setCredentials.run({ id: c.cameraId, c: encrypt(secret.key, JSON.stringify(wanted)) });
      } else if (stored?.origin === "config") {
        s.setCredentials.run({ id: c.cameraId, c: null });
      }
    }
  })();
}

/** The stored form: keys in one order, absent ones left out, origin "ui" unless said. */
const normalise = (c: OnvifCredentials): OnvifCredentials => ({
  url: c.url,
  ...(c.user !== undefined ? { user: c.user } : {}),
  ...(c.password !== undefined ? { password: c.password } : {}),
  origin: c.origin ?? "ui",
});

/** Sets inventory fields of a camera (null clears one); one transaction. */
export function updateInventory(db: Database, cameraId: number, fields: InventoryFields): void {
  const s = statements(db);
  db.transaction(() => {
    for (const f of INVENTORY_FIELDS) if (fields[f] !== undefined) s.setField[f].run({ id: cameraId, v: fields[f] ?? null });
  })();
}

/** Stores (or with null, removes) a camera's ONVIF login, encrypted with `secret`. */
export function setOnvifCredentials(db: Database, secret: SecretKey, cameraId: number, creds: OnvifCredentials | null): void {
  statements(db).setCredentials.run({ id: cameraId, c: creds ? encrypt(secret.key, JSON.stringify(normalise(creds))) : null });
}

/**
 * The stored ONVIF login of a camera; null when none is stored. Throws when the stored value
 * cannot be decrypted with `secret` (another key, or tampered).
 */
export function onvifCredentialsOf(db: Database, secret: SecretKey, cameraId: number): OnvifCredentials | null {
  const row = statements(db).credentials.get({ id: cameraId }) as { credentials_encrypted: string | null } | null;
  if (!row?.credentials_encrypted) return null;
  const parsed = JSON.parse(decrypt(secret.key, row.credentials_encrypted)) as OnvifCredentials;
  if (typeof parsed?.url !== "string") throw new Error("stored ONVIF credentials have no address");
  return parsed;
}

/**
 * Stores discovered capabilities and, for the fields given (those the config file does not set),
 * the vendor and model the device reported; one transaction.
 */
export function storeCapabilities(db: Database, cameraId: number, capabilities: CameraCapabilities, identity: InventoryFields = {}): void {
  const s = statements(db);
  db.transaction(() => {
    s.setCapabilities.run({ id: cameraId, c: JSON.stringify(capabilities) });
    for (const f of INVENTORY_FIELDS) if (identity[f] !== undefined) s.setField[f].run({ id: cameraId, v: identity[f] ?? null });
  })();
}

/**
 * Replaces the main stream's current settings in camera `cameraId`'s capabilities after a
 * settings change, so the inventory does not show the settings of its last discovery: `onvif`
 * what the device read back, `recording` what the footage recorded since measured (dashcam's own
 * encoder). Only capabilities from that same source are changed (none yet, or from the other
 * source: the next discovery fills them). One statement.
 */
export function storeCurrentStream(
  db: Database,
  cameraId: number,
  stream: NonNullable<CameraCapabilities["currentStream"]>,
  source: CameraCapabilities["source"] = "onvif",
): void {
  statements(db).setCurrentStream.run({ id: cameraId, s: JSON.stringify(stream), source });
}
