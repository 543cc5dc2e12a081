/**
 * Statements prepared once per Database (the codebase rule: each module prepares its statements
 * once, not per call). A module declares
 *
 *   const statements = perDatabase((db) => ({ byId: db.prepare("SELECT ... WHERE id = $id") }));
 *
 * and calls `statements(db).byId.get({ id })`. `build` runs at the first call for each Database;
 * the cache is a WeakMap keyed by the Database, so a dropped connection frees its statements.
 */
import type { Database } from "bun:sqlite";

/** Memoises `build(db)` per Database (see the module comment). */
export function perDatabase<T>(build: (db: Database) => T): (db: Database) => T {
  const cache = new WeakMap<Database, T>();
  return (db) => {
    let s = cache.get(db);
    if (s === undefined) {
      s = build(db);
      cache.set(db, s);
    }
    return s;
  };
}
