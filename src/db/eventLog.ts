/**
 * The event log (seed 002 `log_event`): every state change, repair, save, lock, export, login
 * and error, as one row. `logEvent` is safe inside an open transaction (it joins it).
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";

export type EventLevel = "debug" | "info" | "warn" | "error";

export interface EventInput {
  kind: string;
  message: string;
  level?: EventLevel;
  cameraId?: number | null;
  data?: unknown;
  at?: number;
}

const statements = perDatabase((db) => ({
  insert: db.prepare(
    "INSERT INTO event_log (at, level, kind, camera_id, message, data) VALUES ($at, $level, $kind, $camera_id, $message, $data)",
  ),
}));

/** Inserts one event row; returns its id. */
export function logEvent(db: Database, e: EventInput): number {
  const r = statements(db).insert.run({
    at: e.at ?? Date.now(),
    level: e.level ?? "info",
    kind: e.kind,
    camera_id: e.cameraId ?? null,
    message: e.message,
    data: e.data === undefined ? null : JSON.stringify(e.data),
  });
  return Number(r.lastInsertRowid);
}
