/**
 * Numbered schema upgrades. `UPGRADES[v]` takes a database from version `v` to `v + 1`.
 * A fresh database is made from `schema.sql` instead; `test/db-upgrade.test.ts` checks that
 * a database built through every upgrade equals a fresh one (tables, columns, indexes,
 * triggers). Each upgrade file is frozen once released: a change is a new upgrade plus the
 * same change in `schema.sql`.
 */
import v1 from "./upgrades/0001_recording.sql" with { type: "text" };
import v2 from "./upgrades/0002_alpr_health_timelapse.sql" with { type: "text" };
import v3 from "./upgrades/0003_saved_once.sql" with { type: "text" };
import v4 from "./upgrades/0004_health_rollup.sql" with { type: "text" };
import v5 from "./upgrades/0005_share_footage.sql" with { type: "text" };
import v6 from "./upgrades/0006_apply_settings.sql" with { type: "text" };

export interface Upgrade {
  description: string;
  sql: string;
}

export const UPGRADES: Upgrade[] = [
  { description: "recording core: cameras, ring, trips, segments, status, gaps, garbage, actor journal", sql: v1 },
  { description: "ALPR pipeline, camera optimisation and health, users, timelapse and shares", sql: v2 },
  { description: "a saved trip is stored once: layout of saved_trips, saved_trip_files, trips cut short by a full disk", sql: v3 },
  { description: "camera health: hourly aggregates of health_metrics, index of snapshots with anomalies", sql: v4 },
  { description: "shares: a saved trip or a clip file in a share (share_footage)", sql: v5 },
  { description: "applying settings: applied_configs allows 'self' and keeps its verification; dashcam's own encoder_settings", sql: v6 },
];

/** The version `schema.sql` describes. */
export const SCHEMA_VERSION = UPGRADES.length;
