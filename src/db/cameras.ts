/**
 * Camera rows: `syncCameras` makes the `cameras`, `camera_state` and `camera_status` rows match
 * the config (one transaction). Camera keys are stable; a camera removed from the config keeps
 * its rows and footage and is marked `enabled = 0`. The source URL is stored only as
 * `url_hash` + `url_encrypted` (never in clear).
 *
 * The one place that maps a camera key to its id and back (`cameraByKey`, `cameraIdByKey`,
 * `cameraKeyById`): URLs and file names use the key, every other table the id.
 */
import type { Database } from "bun:sqlite";
import type { CameraConfig } from "../config.ts";
import { encrypt, urlHash, type SecretKey } from "../secrets.ts";
import { perDatabase } from "./prepared.ts";

export interface CameraRow {
  id: number;
  key: string;
  name: string;
  enabled: number;
}

const statements = perDatabase((db) => ({
  upsert: db.prepare(
    `INSERT INTO cameras (key, name, enabled, url_hash, url_encrypted, encryption_key_ref)
     VALUES ($key, $name, $enabled, $url_hash, $url_encrypted, $key_ref)
     ON CONFLICT(key) DO UPDATE SET name = excluded.name, enabled = excluded.enabled,
       url_hash = excluded.url_hash,
       url_encrypted = CASE WHEN cameras.url_hash IS excluded.url_hash THEN cameras.url_encrypted ELSE excluded.url_encrypted END,
       encryption_key_ref = excluded.encryption_key_ref
     RETURNING id`,
  ),
  state: db.prepare(
    `INSERT INTO camera_state (camera_id, segment_index, segment_generation, absolute_segments, ring_capacity)
     VALUES ($id, 0, 0, 0, $cap)
     ON CONFLICT(camera_id) DO UPDATE SET ring_capacity = excluded.ring_capacity,
       segment_index = camera_state.absolute_segments % excluded.ring_capacity,
       segment_generation = camera_state.absolute_segments / excluded.ring_capacity`,
  ),
  status: db.prepare(
    "INSERT INTO camera_status (camera_id, state, updated_at) VALUES ($id, 'stopped', $now) ON CONFLICT(camera_id) DO NOTHING",
  ),
  keys: db.prepare("SELECT id, key FROM cameras"),
  disable: db.prepare("UPDATE cameras SET enabled = 0 WHERE id = $id"),
  list: db.prepare("SELECT id, key, name, enabled FROM cameras ORDER BY key"),
  byKey: db.prepare("SELECT id, key, name, enabled FROM cameras WHERE key = $key"),
  keyById: db.prepare("SELECT key FROM cameras WHERE id = $id"),
}));

/** Upserts every configured camera; returns key -> camera id. */
export function syncCameras(db: Database, cameras: CameraConfig[], secret: SecretKey | null): Map<string, number> {
  const ids = new Map<string, number>();
  const s = statements(db);
  db.transaction(() => {
    const keys = new Set(cameras.map((c) => c.key));
    for (const c of cameras) {
      // only network sources are secrets; file/device/test sources are stored hashed too (unique per camera)
      const source = c.source;
      const row = s.upsert.get({
        key: c.key,
        name: c.name,
        enabled: c.enabled ? 1 : 0,
        url_hash: urlHash(`${c.key}\n${source}`),
        url_encrypted: secret ? encrypt(secret.key, source) : null,
        key_ref: secret ? secret.keyRef : null,
      }) as { id: number };
      s.state.run({ id: row.id, cap: c.ring_segments });
      s.status.run({ id: row.id, now: Date.now() });
      ids.set(c.key, row.id);
    }
    for (const row of s.keys.all() as { id: number; key: string }[]) {
      if (!keys.has(row.key)) s.disable.run({ id: row.id });
    }
  })();
  return ids;
}

/** All camera rows, by key order. */
export function listCameras(db: Database): CameraRow[] {
  return statements(db).list.all() as CameraRow[];
}

/** Looks a camera up by key; null when unknown. */
export function cameraByKey(db: Database, key: string): CameraRow | null {
  return (statements(db).byKey.get({ key }) as CameraRow | null) ?? null;
}

/** The id of the camera with key `key`; null when unknown. */
export function cameraIdByKey(db: Database, key: string): number | null {
  return cameraByKey(db, key)?.id ?? null;
}

/** The key of camera `cameraId`; null when unknown. */
export function cameraKeyById(db: Database, cameraId: number): string | null {
  return (statements(db).keyById.get({ id: cameraId }) as { key: string } | null)?.key ?? null;
}
