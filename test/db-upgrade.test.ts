/**
 * Schema discipline (Moonfire NVR's server/db/upgrade): a database taken through every numbered
 * upgrade must equal a fresh one made from schema.sql — same tables, columns (type, NOT NULL,
 * default, primary key), indexes (columns, uniqueness, partial), foreign keys and triggers.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFresh, openDatabase, schemaVersion, upgrade, DatabaseVersionError } from "../src/db/open.ts";
import { SCHEMA_VERSION, UPGRADES } from "../src/db/upgrades.ts";

/** A comparable description of every schema object. */
function describeSchema(db: Database) {
  const objects = db
    .query("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
    .all() as { type: string; name: string; tbl_name: string }[];
  const out: Record<string, unknown> = {};
  for (const o of objects) {
    if (o.type === "table") {
      out[`table:${o.name}`] = {
        columns: db.query(`PRAGMA table_xinfo("${o.name}")`).all(),
        foreignKeys: db.query(`PRAGMA foreign_key_list("${o.name}")`).all(),
        indexes: (db.query(`PRAGMA index_list("${o.name}")`).all() as { name: string }[])
          .map((ix) => ({ ...ix, columns: db.query(`PRAGMA index_xinfo("${ix.name}")`).all() }))
          .sort((a, b) => a.name.localeCompare(b.name)),
      };
    } else if (o.type === "trigger" || o.type === "view") {
      const sql = (db.query("SELECT sql FROM sqlite_master WHERE name = ?").get(o.name) as { sql: string }).sql;
      out[`${o.type}:${o.name}`] = sql.replace(/--[^\n]*/g, "").replace(/\s+/g, " ").trim();
    } else {
      out[`${o.type}:${o.name}`] = o.tbl_name;
    }
  }
  return out;
}

describe("schema upgrades", () => {
  const dir = mkdtempSync(join(tmpdir(), "dashcam-upgrade-"));

  test("a database upgraded through every step equals a fresh one", () => {
    const fresh = new Database(join(dir, "fresh.db"), { create: true, strict: true });
    createFresh(fresh);
    const upgraded = new Database(join(dir, "upgraded.db"), { create: true, strict: true });
    upgrade(upgraded, 0);
    expect(schemaVersion(fresh)).toBe(SCHEMA_VERSION);
    expect(schemaVersion(upgraded)).toBe(SCHEMA_VERSION);
    const a = describeSchema(fresh);
    const b = describeSchema(upgraded);
    expect(Object.keys(a).length).toBeGreaterThan(30);
    expect(b).toEqual(a);
    fresh.close();
    upgraded.close();
  });

  test("each intermediate version opens and upgrades to the current one", () => {
    for (let v = 1; v < SCHEMA_VERSION; v++) {
      const path = join(dir, `v${v}.db`);
      const old = new Database(path, { create: true, strict: true });
      upgrade(old, 0, v);
      expect(schemaVersion(old)).toBe(v);
      old.close();
      const db = openDatabase(path);
      expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
      db.close();
    }
  });

  test("openDatabase sets WAL, foreign keys and 0600 on a new file", () => {
    const path = join(dir, "new.db");
    const db = openDatabase(path);
    expect((db.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    expect((db.query("PRAGMA foreign_keys").get() as { foreign_keys: number }).foreign_keys).toBe(1);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    db.close();
  });

  test("a database newer than the program is refused, not touched", () => {
    const path = join(dir, "future.db");
    const db = openDatabase(path);
    db.query("INSERT INTO schema_version (version, upgraded_at) VALUES (?, ?)").run(SCHEMA_VERSION + 1, 0);
    db.close();
    const before = statSync(path).mtimeMs;
    expect(() => openDatabase(path)).toThrow(DatabaseVersionError);
    expect(statSync(path).mtimeMs).toBe(before);
  });

  test("a failing upgrade step leaves the database at its previous version", () => {
    const path = join(dir, "partial.db");
    const db = new Database(path, { create: true, strict: true });
    upgrade(db, 0, 1);
    // make step 2 fail half-way: a table it creates already exists
    db.exec("CREATE TABLE tasks (x INTEGER)");
    expect(() => upgrade(db, 1)).toThrow();
    expect(schemaVersion(db)).toBe(1);
    expect(db.query("SELECT name FROM sqlite_master WHERE name = 'vehicles'").get()).toBeNull();
    db.close();
  });

  test("the health rollup upgrade carries cameras, snapshots and raw health metrics through", () => {
    const step = UPGRADES.findIndex((u) => u.sql.includes("CREATE TABLE health_metrics_hourly"));
    expect(step).toBeGreaterThan(0);
    const path = join(dir, "health.db");
    const old = new Database(path, { create: true, strict: true });
    upgrade(old, 0, step);
    old.exec(`INSERT INTO cameras (id, key, name, last_health_check, connection_failures) VALUES (7, 'front', 'Front', 1700000000000, 2)`);
    old.exec(`INSERT INTO snapshots (camera_id, file_path, captured_at, health_metrics, anomalies)
      VALUES (7, 'health/front/a.jpg', 1700000000000, '{"exposure":{"status":"ok","meanBrightness":118}}', '[{"type":"high_noise","severity":"medium","message":"m"}]')`);
    old.exec(`INSERT INTO health_metrics (camera_id, metric_type, value, status, created_at) VALUES (7, 'brightness', 118, 'ok', 1700000000000)`);
    old.close();
    const db = openDatabase(path);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(db.query("SELECT key, last_health_check, connection_failures FROM cameras").all()).toEqual([{ key: "front", last_health_check: 1700000000000, connection_failures: 2 }]);
    expect(db.query("SELECT file_path, json_extract(anomalies, '$[0].type') AS t FROM snapshots").all()).toEqual([{ file_path: "health/front/a.jpg", t: "high_noise" }]);
    expect(db.query("SELECT metric_type, value FROM health_metrics").all()).toEqual([{ metric_type: "brightness", value: 118 }]);
    db.exec("INSERT INTO health_metrics_hourly (camera_id, metric_type, hour_utc, samples, sum_value, min_value, max_value) VALUES (7, 'brightness', 1699999200000, 1, 118, 118, 118)");
    expect(() => db.exec("INSERT INTO health_metrics_hourly (camera_id, metric_type, hour_utc, samples, sum_value, min_value, max_value) VALUES (7, 'colour', 0, 1, 1, 1, 1)")).toThrow();
    db.close();
  });

  test("the apply-settings upgrade carries optimizations and applied_configs through; 'self' and verification are allowed after it", () => {
    const step = UPGRADES.findIndex((u) => u.sql.includes("CREATE TABLE encoder_settings"));
    expect(step).toBeGreaterThan(0);
    const path = join(dir, "apply.db");
    const old = new Database(path, { create: true, strict: true });
    upgrade(old, 0, step);
    old.exec(`INSERT INTO cameras (id, key, name) VALUES (4, 'gate', 'Gate')`);
    old.exec(`INSERT INTO optimizations (id, camera_id, request_data, recommended_settings, confidence, warnings, explanation, ai_provider, processing_time_ms, created_at)
      VALUES (9, 4, '{"camera":{"id":"gate"}}', '{"stream":{"fps":15}}', 0.8, '["w"]', 'e', 'heuristic', 3, 1700000000000)`);
    old.exec(`INSERT INTO applied_configs (id, camera_id, optimization_id, settings, apply_method, status, applied_at, applied_by, error_message, created_at)
      VALUES (2, 4, 9, '{"stream":{"fps":15}}', 'manual', 'failed', NULL, 'admin', 'nobody confirmed', 1700000001000)`);
    // before the upgrade 'self' is refused by the seed's CHECK
    expect(() => old.exec(`INSERT INTO applied_configs (camera_id, settings, apply_method) VALUES (4, '{}', 'self')`)).toThrow();
    old.close();
    const db = openDatabase(path);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(db.query("SELECT id, camera_id, confidence, json_extract(recommended_settings, '$.stream.fps') AS fps FROM optimizations").all()).toEqual([{ id: 9, camera_id: 4, confidence: 0.8, fps: 15 }]);
    expect(db.query("SELECT id, optimization_id, apply_method, status, applied_by, error_message, created_at, verification FROM applied_configs").all()).toEqual([
      { id: 2, optimization_id: 9, apply_method: "manual", status: "failed", applied_by: "admin", error_message: "nobody confirmed", created_at: 1700000001000, verification: null },
    ]);
    db.exec(`INSERT INTO applied_configs (camera_id, settings, apply_method, verification) VALUES (4, '{}', 'self', '{"measured":{}}')`);
    expect(() => db.exec(`INSERT INTO applied_configs (camera_id, settings, apply_method) VALUES (4, '{}', 'ftp')`)).toThrow();
    db.exec(`INSERT INTO encoder_settings (camera_id, fps, bitrate_kbps, keyframe_seconds, applied_config_id, updated_at) VALUES (4, 10, 500, 2, 2, 1)`);
    // deleting the optimization keeps the apply (ON DELETE SET NULL survives the rebuild)
    db.exec("DELETE FROM optimizations WHERE id = 9");
    expect(db.query("SELECT optimization_id FROM applied_configs WHERE id = 2").get()).toEqual({ optimization_id: null });
    db.close();
  });

  test("upgrade 3 carries saved trips through: rows kept, marked for the start-up migration (layout copies); trips get no cut", () => {
    const path = join(dir, "v2-data.db");
    const old = new Database(path, { create: true, strict: true });
    upgrade(old, 0, 2);
    old.exec("INSERT INTO cameras (id, key, name) VALUES (1, 'front', 'Front')");
    old.exec(
      `INSERT INTO trips (id, camera_id, boot_id, start_time_utc, end_time_utc, start_segment, final_segment, start_absolute, last_absolute, last_time_utc, status)
       VALUES (1, 1, 'b', 1000, 9000, 0, 3, 0, 3, 9000, 'saved'), (2, 1, 'b', 9000, NULL, 4, NULL, 4, 6, 15000, 'open')`,
    );
    old.exec("INSERT INTO saved_trips (trip_id, saved_dir, saved_at_utc, mp4_path) VALUES (1, 'saved/trip-1', 5000, 'saved/trip-1/trip-1.mp4')");
    old.close();
    const db = openDatabase(path);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(db.query("SELECT * FROM saved_trips").all()).toEqual([
      { trip_id: 1, saved_dir: "saved/trip-1", saved_at_utc: 5000, mp4_path: "saved/trip-1/trip-1.mp4", layout: "copies" },
    ]);
    expect(db.query("SELECT id, status, end_time_utc, last_absolute, cut_reason, cut_at_utc FROM trips ORDER BY id").all()).toEqual([
      { id: 1, status: "saved", end_time_utc: 9000, last_absolute: 3, cut_reason: null, cut_at_utc: null },
      { id: 2, status: "open", end_time_utc: null, last_absolute: 6, cut_reason: null, cut_at_utc: null },
    ]);
    expect(db.query("SELECT COUNT(*) AS n FROM saved_trip_files").get()).toEqual({ n: 0 });
    // a row written after the upgrade is in the new layout by default, as in a fresh database
    db.exec("INSERT INTO saved_trips (trip_id, saved_dir, saved_at_utc) VALUES (2, 'recordings/front', 6000)");
    expect(db.query("SELECT layout FROM saved_trips WHERE trip_id = 2").get()).toEqual({ layout: "ring" });
    expect(() => db.exec("UPDATE saved_trips SET layout = 'elsewhere' WHERE trip_id = 2")).toThrow();
    db.close();
  });

  test("upgrade 5 carries shares, their batches, customization and search index through; a share can then hold a saved trip or a clip", () => {
    const step = UPGRADES.findIndex((u) => u.sql.includes("CREATE TABLE share_footage"));
    expect(step).toBeGreaterThan(0);
    const path = join(dir, "shares.db");
    const old = new Database(path, { create: true, strict: true });
    upgrade(old, 0, step);
    old.exec("INSERT INTO cameras (id, key, name) VALUES (1, 'front', 'Front')");
    old.exec(
      `INSERT INTO trips (id, camera_id, boot_id, start_time_utc, end_time_utc, start_segment, final_segment, start_absolute, last_absolute, last_time_utc, status)
       VALUES (1, 1, 'b', 1000, 9000, 0, 3, 0, 3, 9000, 'saved')`,
    );
    old.exec("INSERT INTO timelapse_batches (id, camera_id, batch_type, status, generation_mode, output_path) VALUES (4, 1, 'manual', 'completed', 'manual_only', 'timelapse/videos/front/batch-4.mp4')");
    old.exec(`INSERT INTO shares (id, share_token, title, description, share_type, download_enabled, expires_at, view_count)
      VALUES (2, '0b7c6f0e-1a2b-4c3d-8e9f-0123456789ab', 'Office construction', 'Foundation work', 'info_page', 1, 1800000000000, 5)`);
    old.exec("INSERT INTO share_batches (share_id, timelapse_batch_id, display_order, custom_title) VALUES (2, 4, 1, 'Foundation')");
    old.exec(`INSERT INTO share_customization (share_id, theme_config) VALUES (2, '{"primary_color": "#ff6b35"}')`);
    old.close();
    const db = openDatabase(path);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(db.query("SELECT id, share_token, title, share_type, download_enabled, expires_at, view_count FROM shares").all()).toEqual([
      { id: 2, share_token: "0b7c6f0e-1a2b-4c3d-8e9f-0123456789ab", title: "Office construction", share_type: "info_page", download_enabled: 1, expires_at: 1800000000000, view_count: 5 },
    ]);
    expect(db.query("SELECT share_id, timelapse_batch_id, display_order, custom_title FROM share_batches").all()).toEqual([{ share_id: 2, timelapse_batch_id: 4, display_order: 1, custom_title: "Foundation" }]);
    expect(db.query("SELECT json_extract(theme_config, '$.primary_color') AS c FROM share_customization").all()).toEqual([{ c: "#ff6b35" }]);
    expect(db.query("SELECT rowid FROM shares_search WHERE shares_search MATCH 'foundation'").all()).toEqual([{ rowid: 2 }]);
    db.exec("INSERT INTO share_footage (share_id, trip_id, display_order, custom_title) VALUES (2, 1, 2, 'The drive')");
    db.exec("INSERT INTO share_footage (share_id, clip_path, display_order) VALUES (2, 'exports/front-20240501-080000Z-60s-inc-x.mp4', 3)");
    expect(() => db.exec("INSERT INTO share_footage (share_id, display_order) VALUES (2, 4)")).toThrow(); // neither a trip nor a clip
    expect(() => db.exec("INSERT INTO share_footage (share_id, trip_id, clip_path) VALUES (2, 1, 'exports/a.mp4')")).toThrow(); // both
    expect(() => db.exec("INSERT INTO share_footage (share_id, clip_path) VALUES (2, '../secret.key')")).toThrow();
    expect(() => db.exec("INSERT INTO share_footage (share_id, trip_id) VALUES (2, 99)")).toThrow(); // no such trip
    db.exec("DELETE FROM shares WHERE id = 2");
    expect(db.query("SELECT (SELECT COUNT(*) FROM share_footage) + (SELECT COUNT(*) FROM share_batches) + (SELECT COUNT(*) FROM share_customization) AS n").get()).toEqual({ n: 0 });
    db.close();
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});
