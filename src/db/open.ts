/**
 * The one way the program opens its SQLite database.
 *
 * `openDatabase(path)` returns a `bun:sqlite` Database with WAL, `synchronous=FULL`,
 * `foreign_keys=ON`, `temp_store=MEMORY` (seed 000's PRAGMAs, but FULL where it says NORMAL:
 * in WAL mode NORMAL does not sync a commit, so a power cut rolled back the last seconds of
 * commits, evidence locks and saves included; measured with test/vm/powercut.ts), `busy_timeout` 5000 ms and
 * `strict: true` binding (named parameters without a prefix: `{ id: 1 }` binds `$id`).
 * A new file gets `schema.sql` (the current version); an older one is upgraded one numbered
 * step at a time, each step in its own transaction (the discipline of Moonfire NVR's
 * `server/db/upgrade`). The file is created 0600.
 *
 * Throws `DatabaseVersionError` when the file is newer than this program understands.
 *
 * The statements here run once per connection (some before their table exists), so unlike the
 * other db modules they are not cached with `perDatabase`.
 */
import { Database } from "bun:sqlite";
import { chmodSync, existsSync } from "node:fs";
import schemaSql from "../../schema.sql" with { type: "text" };
import { UPGRADES, SCHEMA_VERSION } from "./upgrades.ts";

export class DatabaseVersionError extends Error {}

export interface OpenOptions {
  /** Open without creating or upgrading anything (used by `dashcam check`). */
  readonly?: boolean;
}

/** Applies the connection PRAGMAs every connection needs. */
function applyPragmas(db: Database, readonly: boolean): void {
  db.exec("PRAGMA busy_timeout = 5000");
  if (!readonly) {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = FULL");
  }
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("PRAGMA temp_store = MEMORY");
}

/** Reads the schema version: 0 for an empty file. */
export function schemaVersion(db: Database): number {
  const table = db
    .query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
    .get();
  if (!table) return 0;
  const row = db.query("SELECT MAX(version) AS v FROM schema_version").get() as { v: number | null };
  return row.v ?? 0;
}

const VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_version (
  version     INTEGER PRIMARY KEY,
  upgraded_at INTEGER NOT NULL
) STRICT`;

/** Creates the current schema in an empty database, in one transaction. */
export function createFresh(db: Database): void {
  db.transaction(() => {
    db.exec(VERSION_TABLE);
    db.exec(schemaSql);
    db.query("INSERT INTO schema_version (version, upgraded_at) VALUES (?, ?)").run(SCHEMA_VERSION, Date.now());
  })();
}

/**
 * Upgrades from `from` to `to` (default: current), one transaction per step.
 * Exposed for the upgrade test, which builds a database through every step.
 */
export function upgrade(db: Database, from: number, to = SCHEMA_VERSION): void {
  for (let v = from; v < to; v++) {
    const step = UPGRADES[v];
    if (!step) throw new DatabaseVersionError(`no upgrade from schema version ${v}`);
    db.transaction(() => {
      db.exec(VERSION_TABLE);
      db.exec(step.sql);
      db.query("INSERT INTO schema_version (version, upgraded_at) VALUES (?, ?)").run(v + 1, Date.now());
    })();
  }
}

/** Opens (creating or upgrading as needed) the database at `path`. */
export function openDatabase(path: string, options: OpenOptions = {}): Database {
  const readonly = options.readonly === true;
  const isNew = !existsSync(path);
  if (readonly && isNew) throw new Error(`database ${path} does not exist`);
  const db = readonly ? new Database(path, { readonly: true, strict: true }) : new Database(path, { create: true, strict: true });
  if (isNew && path !== ":memory:") chmodSync(path, 0o600);
  applyPragmas(db, readonly);
  const version = schemaVersion(db);
  if (version > SCHEMA_VERSION) {
    db.close();
    throw new DatabaseVersionError(`database ${path} has schema version ${version}; this program knows up to ${SCHEMA_VERSION}`);
  }
  if (!readonly) {
    if (version === 0) createFresh(db);
    else if (version < SCHEMA_VERSION) upgrade(db, version);
  }
  return db;
}

/**
 * `PRAGMA integrity_check`: SQLite's own consistency check of the whole file (pages, indexes,
 * constraints). Returns its messages, empty when the database is intact. Read-only.
 */
export function integrityProblems(db: Database): string[] {
  const rows = db.query("PRAGMA integrity_check").all() as { integrity_check: string }[];
  return rows.map((r) => r.integrity_check).filter((m) => m !== "ok");
}

/** One row of `PRAGMA foreign_key_check`: row `rowid` of `table` references a missing `parent` row. */
export interface ForeignKeyViolation {
  table: string;
  rowid: number;
  parent: string;
}

/** `PRAGMA foreign_key_check` over every table: the rows whose foreign key points nowhere. Read-only. */
export function foreignKeyViolations(db: Database): ForeignKeyViolation[] {
  return db.query("PRAGMA foreign_key_check").all() as ForeignKeyViolation[];
}
