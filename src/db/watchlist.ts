/**
 * The `watchlist` table: plates (normal form, src/plateText.ts) whose reads raise an
 * `alpr.watchlist` event and a live alert, with an optional note. Times are ms UTC.
 */
import type { Database } from "bun:sqlite";
import { editDistance, normalizePlate } from "../plateText.ts";
import { perDatabase } from "./prepared.ts";

export interface WatchEntry {
  id: number;
  plate: string;
  note: string | null;
  created_at: number;
}

/** One watchlist alert as logged in `event_log` (kind `alpr.watchlist`). */
export interface WatchAlert {
  id: number;
  /** ms UTC */
  at: number;
  message: string;
}

const statements = perDatabase((db) => ({
  all: db.prepare("SELECT id, plate, note, created_at FROM watchlist ORDER BY plate"),
  add: db.prepare(
    `INSERT INTO watchlist (plate, note, created_at) VALUES ($plate, $note, $created_at)
     ON CONFLICT(plate) DO UPDATE SET note = excluded.note RETURNING id`,
  ),
  remove: db.prepare("DELETE FROM watchlist WHERE id = $id"),
  recentAlerts: db.prepare(
    "SELECT id, at, message FROM event_log WHERE kind = 'alpr.watchlist' ORDER BY at DESC, id DESC LIMIT $limit",
  ),
}));

/** Every watched plate, by plate. */
export function listWatchlist(db: Database): WatchEntry[] {
  return statements(db).all.all() as WatchEntry[];
}

/**
 * Adds (or updates the note of) a watched plate; the plate is normalised. Returns its id.
 * Throws when the plate has no letter or digit.
 */
export function addWatch(db: Database, plate: string, note: string | null): number {
  const p = normalizePlate(plate);
  if (!p) throw new Error("plate must contain at least one letter or digit");
  return (statements(db).add.get({ plate: p, note, created_at: Date.now() }) as { id: number }).id;
}

/** Removes a watched plate; returns false when there was no such id. */
export function removeWatch(db: Database, id: number): boolean {
  return statements(db).remove.run({ id }).changes > 0;
}

/** Watchlist entries a read plate matches: equal, or within `maxEdits` (0 or 1) edits. */
export function matchWatchlist(db: Database, plate: string, maxEdits = 0): WatchEntry[] {
  const p = normalizePlate(plate);
  if (!p) return [];
  return listWatchlist(db).filter((w) => editDistance(w.plate, p, maxEdits) <= maxEdits);
}

/** The newest `limit` watchlist alerts (events of kind `alpr.watchlist`), newest first. */
export function recentWatchAlerts(db: Database, limit = 10): WatchAlert[] {
  return statements(db).recentAlerts.all({ limit }) as WatchAlert[];
}
