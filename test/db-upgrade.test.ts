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
import { SCHEMA_VERSION } from "../src/db/upgrades.ts";

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

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});
