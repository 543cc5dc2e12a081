/**
 * The `vehicles` table: final plate reads of the ALPR pipeline (seed 001), one row per closed
 * track, with the camera's key and name joined in when known. Boxes are JSON `[x, y, w, h]`
 * in pixels of the sampled frame; `ts` and `created_at` are ms UTC; `pg_synced` is 1 once the
 * row was written to PostgreSQL.
 */
import type { Database } from "bun:sqlite";
import { normalizePlate, oneEditNeighbours } from "../plateText.ts";
import { perDatabase } from "./prepared.ts";

/** A `vehicles` row (bboxes parsed), joined with its camera's key and name when known. */
export interface VehicleRow {
  id: number;
  track_id: number | null;
  video_id: string;
  frame_idx: number;
  ts: number;
  final_plate: string;
  plate_confidence: number;
  car_bbox: number[] | null;
  plate_bbox: number[] | null;
  created_at: number;
  camera_id: number | null;
  camera_key: string | null;
  camera_name: string | null;
  snapshot_path: string | null;
  pg_synced: number;
}

export interface NewVehicle {
  trackId: number | null;
  videoId: string;
  frameIdx: number;
  ts: number;
  finalPlate: string;
  plateConfidence: number;
  carBbox: number[] | null;
  plateBbox: number[] | null;
  cameraId: number | null;
  snapshotPath: string | null;
}

export type SearchMode = "exact" | "prefix" | "fuzzy";

/** Plate search: text is normalised; `from`/`to` are ms UTC (inclusive / exclusive). */
export interface VehicleQuery {
  text?: string;
  mode?: SearchMode;
  cameraId?: number | null;
  from?: number | null;
  to?: number | null;
  limit?: number;
  offset?: number;
}

const statements = perDatabase((db) => ({
  insert: db.prepare(
    `INSERT INTO vehicles (track_id, video_id, frame_idx, ts, final_plate, plate_confidence, car_bbox, plate_bbox,
                           created_at, camera_id, snapshot_path, pg_synced)
     VALUES ($track_id, $video_id, $frame_idx, $ts, $final_plate, $plate_confidence, $car_bbox, $plate_bbox,
             $created_at, $camera_id, $snapshot_path, 0)
     ON CONFLICT (video_id, frame_idx, track_id) DO NOTHING
     RETURNING id`,
  ),
  byKey: db.prepare("SELECT id FROM vehicles WHERE video_id = $video_id AND frame_idx = $frame_idx AND track_id IS $track_id"),
  byId: db.prepare(
    `SELECT v.*, c.key AS camera_key, c.name AS camera_name FROM vehicles v
     LEFT JOIN cameras c ON c.id = v.camera_id WHERE v.id = $id`,
  ),
  unsynced: db.prepare(
    `SELECT v.*, c.key AS camera_key, c.name AS camera_name FROM vehicles v
     LEFT JOIN cameras c ON c.id = v.camera_id WHERE v.pg_synced = 0 ORDER BY v.id LIMIT $limit`,
  ),
  markSynced: db.prepare("UPDATE vehicles SET pg_synced = 1 WHERE id = $id"),
  count: db.prepare("SELECT COUNT(*) AS n FROM vehicles"),
  countUnsynced: db.prepare("SELECT COUNT(*) AS n FROM vehicles WHERE pg_synced = 0"),
}));

function parseVehicle(row: Record<string, unknown>): VehicleRow {
  return {
    ...(row as unknown as VehicleRow),
    car_bbox: JSON.parse(row.car_bbox as string),
    plate_bbox: JSON.parse(row.plate_bbox as string),
    camera_key: (row.camera_key as string | null) ?? null,
    camera_name: (row.camera_name as string | null) ?? null,
  };
}

/**
 * Inserts a final read, idempotently: UNIQUE(video_id, frame_idx, track_id) makes a repeat a
 * no-op. Returns `{ id, inserted }` (`inserted` false when the row already existed).
 */
export function insertVehicleTx(db: Database, v: NewVehicle): { id: number; inserted: boolean } {
  const s = statements(db);
  const row = s.insert.get({
    track_id: v.trackId,
    video_id: v.videoId,
    frame_idx: v.frameIdx,
    ts: v.ts,
    final_plate: v.finalPlate,
    plate_confidence: v.plateConfidence,
    car_bbox: JSON.stringify(v.carBbox),
    plate_bbox: JSON.stringify(v.plateBbox),
    created_at: Date.now(),
    camera_id: v.cameraId,
    snapshot_path: v.snapshotPath,
  }) as { id: number } | null;
  if (row) return { id: row.id, inserted: true };
  const existing = s.byKey.get({ video_id: v.videoId, frame_idx: v.frameIdx, track_id: v.trackId }) as { id: number };
  return { id: existing.id, inserted: false };
}

/** One final read by id, or null. */
export function getVehicle(db: Database, id: number): VehicleRow | null {
  const row = statements(db).byId.get({ id }) as Record<string, unknown> | null;
  return row ? parseVehicle(row) : null;
}

/** Final reads not yet written to PostgreSQL, oldest first. */
export function unsyncedVehicles(db: Database, limit = 200): VehicleRow[] {
  return (statements(db).unsynced.all({ limit }) as Record<string, unknown>[]).map(parseVehicle);
}

/** Marks rows as written to PostgreSQL (one transaction). */
export function markVehiclesSynced(db: Database, ids: number[]): void {
  const s = statements(db);
  db.transaction(() => {
    for (const id of ids) s.markSynced.run({ id });
  })();
}

/** How many final reads there are, and how many of them are not yet in PostgreSQL. */
export function vehicleCounts(db: Database): { total: number; unsynced: number } {
  const s = statements(db);
  return {
    total: (s.count.get() as { n: number }).n,
    unsynced: (s.countUnsynced.get() as { n: number }).n,
  };
}

/** The upper bound of a prefix range over A-Z0-9 strings: "AB" -> "AC", "A9" -> "A:" (':' follows '9'). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/**
 * Searches final reads, newest first. Text modes (on the normalised plate):
 * - `exact`: equal;
 * - `prefix`: starts with (an index range, `final_plate >= q AND final_plate < q'`);
 * - `fuzzy`: equal or one edit away (insertion, deletion or substitution), by probing the index
 *   with every one-edit neighbour of the query (`oneEditNeighbours`).
 * An empty text matches every plate. Returns the page and the total count.
 */
export function searchVehicles(db: Database, q: VehicleQuery): { rows: VehicleRow[]; total: number } {
  const where: string[] = [];
  const params: Record<string, string | number> = {};
  const text = normalizePlate(q.text ?? "");
  const mode = q.mode ?? "exact";
  if (text) {
    if (mode === "exact") {
      where.push("v.final_plate = $text");
      params.text = text;
    } else if (mode === "prefix") {
      where.push("v.final_plate >= $lo AND v.final_plate < $hi");
      params.lo = text;
      params.hi = prefixEnd(text);
    } else {
      where.push("v.final_plate IN (SELECT value FROM json_each($cands))");
      params.cands = JSON.stringify(oneEditNeighbours(text));
    }
  }
  if (q.cameraId !== undefined && q.cameraId !== null) {
    where.push("v.camera_id = $camera_id");
    params.camera_id = q.cameraId;
  }
  if (q.from !== undefined && q.from !== null) {
    where.push("v.ts >= $from");
    params.from = q.from;
  }
  if (q.to !== undefined && q.to !== null) {
    where.push("v.ts < $to");
    params.to = q.to;
  }
  // The WHERE clause depends on the filters given, so these two are not prepared up front; Bun's
  // query cache compiles each distinct text once.
  const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const total = (db.query(`SELECT COUNT(*) AS n FROM vehicles v ${clause}`).get(params) as { n: number }).n;
  const rows = db
    .query(
      `SELECT v.*, c.key AS camera_key, c.name AS camera_name FROM vehicles v
       LEFT JOIN cameras c ON c.id = v.camera_id ${clause}
       ORDER BY v.ts DESC, v.id DESC LIMIT $limit OFFSET $offset`,
    )
    .all({ ...params, limit: q.limit ?? 50, offset: q.offset ?? 0 }) as Record<string, unknown>[];
  return { rows: rows.map(parseVehicle), total };
}
