/**
 * The `counters` table: named integer values kept across restarts (the ALPR sampler's
 * per-camera watermarks and totals, the PostgreSQL instance id). Names are free text; the
 * ALPR names are listed in `COUNTERS` (src/db/alprTasks.ts). A counter never set reads as null.
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";

const statements = perDatabase((db) => ({
  get: db.prepare("SELECT value FROM counters WHERE name = $name"),
  add: db.prepare(
    "INSERT INTO counters (name, value) VALUES ($name, $delta) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
  ),
  set: db.prepare(
    "INSERT INTO counters (name, value) VALUES ($name, $value) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
  ),
}));

/** The value of counter `name`, or null when it was never set. */
export function getCounter(db: Database, name: string): number | null {
  const row = statements(db).get.get({ name }) as { value: number } | null;
  return row ? row.value : null;
}

/** Adds `delta` to counter `name` (a missing counter starts at 0). */
export function addCounter(db: Database, name: string, delta: number): void {
  statements(db).add.run({ name, delta });
}

/** Sets counter `name` to `value`. */
export function setCounter(db: Database, name: string, value: number): void {
  statements(db).set.run({ name, value });
}
