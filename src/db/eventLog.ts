/**
 * The event log (seed 002 `log_event`): every state change, repair, save, lock, export, login
 * and error, as one row. `logEvent` is safe inside an open transaction (it joins it).
 */
import type { Database, Statement } from "bun:sqlite";

export type EventLevel = "debug" | "info" | "warn" | "error";

export interface EventInput {
  kind: string;
  message: string;
  level?: EventLevel;
  cameraId?: number | null;
  data?: unknown;
  at?: number;
}

const statements = new WeakMap<Database, Statement>();

/** Inserts one event row; returns its id. */
export function logEvent(db: Database, e: EventInput): number {
  let stmt = statements.get(db);
  if (!stmt) {
    stmt = db.prepare(
      "INSERT INTO event_log (at, level, kind, camera_id, message, data) VALUES ($at, $level, $kind, $camera_id, $message, $data)",
    );
    statements.set(db, stmt);
  }
  const r = stmt.run({
    at: e.at ?? Date.now(),
    level: e.level ?? "info",
    kind: e.kind,
    camera_id: e.cameraId ?? null,
    message: e.message,
    data: e.data === undefined ? null : JSON.stringify(e.data),
  });
  return Number(r.lastInsertRowid);
}
