/**
 * The PostgreSQL side of the optional fleet sink (seed 001 section 3): the seed's `vehicles`
 * table (JSONB boxes, TIMESTAMPTZ) plus an idempotency key, reached through `Bun.sql`.
 *
 * `source_key` = `<instance>/<video_id>:<frame_idx>:<track_id>` (instance in base 36, see
 * `pgInstance` in src/actors/pgSync.ts) has a unique index, so re-sending a batch after a
 * crash inserts nothing. The schema statements are `IF NOT EXISTS` and also upgrade a table
 * made from the seed's DDL.
 */
import type { SQL } from "bun";
import type { VehicleRow } from "./vehicles.ts";

/** The seed's DDL plus the idempotency key (see the module comment). */
export const PG_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS vehicles (
    id SERIAL PRIMARY KEY,
    track_id INTEGER,
    video_id TEXT NOT NULL,
    frame_idx INTEGER NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    final_plate TEXT NOT NULL,
    plate_confidence FLOAT NOT NULL,
    car_bbox JSONB NOT NULL,
    plate_bbox JSONB NOT NULL,
    created_at TIMESTAMPTZ DEFAULT now()
  )`,
  "ALTER TABLE vehicles ADD COLUMN IF NOT EXISTS source_key TEXT",
  "ALTER TABLE vehicles ADD COLUMN IF NOT EXISTS camera_key TEXT",
  "CREATE UNIQUE INDEX IF NOT EXISTS vehicles_source_key_key ON vehicles (source_key)",
  "CREATE INDEX IF NOT EXISTS vehicles_final_plate_idx ON vehicles (final_plate)",
  "CREATE INDEX IF NOT EXISTS vehicles_ts_idx ON vehicles (ts)",
];

/** The unique key of a vehicles row in PostgreSQL. */
export function sourceKey(instance: number, v: Pick<VehicleRow, "video_id" | "frame_idx" | "track_id">): string {
  return `${instance.toString(36)}/${v.video_id}:${v.frame_idx}:${v.track_id ?? ""}`;
}

/** Creates (or completes) the PostgreSQL `vehicles` table and its indexes; rejects with the server's error. */
export async function applyPgSchema(client: SQL): Promise<void> {
  for (const ddl of PG_SCHEMA) await client.unsafe(ddl);
}

/**
 * Inserts final reads into PostgreSQL in one transaction; rows already there (same
 * `source_key`) are skipped. Rejects with the server's error, and then nothing was written.
 */
export async function insertPgVehicles(client: SQL, instance: number, rows: VehicleRow[]): Promise<void> {
  await client.begin(async (tx) => {
    for (const v of rows) {
      await tx`INSERT INTO vehicles (track_id, video_id, frame_idx, ts, final_plate, plate_confidence, car_bbox, plate_bbox, source_key, camera_key)
               VALUES (${v.track_id}, ${v.video_id}, ${v.frame_idx}, ${new Date(v.ts)}, ${v.final_plate}, ${v.plate_confidence},
                       ${JSON.stringify(v.car_bbox)}::text::jsonb, ${JSON.stringify(v.plate_bbox)}::text::jsonb,
                       ${sourceKey(instance, v)}, ${v.camera_key})
               ON CONFLICT (source_key) DO NOTHING`;
    }
  });
}
