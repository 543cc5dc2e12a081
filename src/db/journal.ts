/**
 * The actor journal's tables: `actor_transitions`, an append-only log of state changes
 * (actor_id = systemId, from_state, event, to_state, at in Unix ms UTC), and `actor_snapshots`,
 * one row per actor with its current persisted snapshot (JSON text in `state` and `snapshot`).
 *
 * Written by `Journal.persist` (src/actors/journal.ts) inside the transaction that also writes
 * the domain rows of the transition; read at start-up to restore the actors.
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";

/** One `actor_snapshots` row; `state` and `snapshot` are JSON text, `updated_at` Unix ms UTC. */
export interface ActorSnapshotRow {
  actor_id: string;
  machine: string;
  state: string;
  snapshot: string;
  updated_at: number;
}

/** One `actor_transitions` row to append; `from` is null for an actor's first transition. */
export interface TransitionInput {
  actorId: string;
  from: string | null;
  event: string;
  to: string;
  at: number;
}

const statements = perDatabase((db) => ({
  transition: db.prepare(
    "INSERT INTO actor_transitions (actor_id, from_state, event, to_state, at) VALUES ($actor_id, $from_state, $event, $to_state, $at)",
  ),
  snapshot: db.prepare(
    `INSERT INTO actor_snapshots (actor_id, machine, state, snapshot, updated_at)
     VALUES ($actor_id, $machine, $state, $snapshot, $updated_at)
     ON CONFLICT(actor_id) DO UPDATE SET machine = excluded.machine, state = excluded.state,
       snapshot = excluded.snapshot, updated_at = excluded.updated_at`,
  ),
  snapshots: db.prepare("SELECT actor_id, machine, state, snapshot, updated_at FROM actor_snapshots"),
  states: db.prepare("SELECT actor_id, state FROM actor_snapshots"),
}));

/** Appends one `actor_transitions` row. */
export function insertTransition(db: Database, t: TransitionInput): void {
  statements(db).transition.run({ actor_id: t.actorId, from_state: t.from, event: t.event, to_state: t.to, at: t.at });
}

/** Writes the actor's current snapshot, replacing the row it had. */
export function upsertSnapshot(db: Database, row: ActorSnapshotRow): void {
  const { actor_id, machine, state, snapshot, updated_at } = row;
  statements(db).snapshot.run({ actor_id, machine, state, snapshot, updated_at });
}

/** Every `actor_snapshots` row (JSON columns unparsed). */
export function snapshotRows(db: Database): ActorSnapshotRow[] {
  return statements(db).snapshots.all() as ActorSnapshotRow[];
}

/** Actor id and persisted state value (JSON text) of every stored snapshot, without the snapshots themselves. */
export function snapshotStates(db: Database): { actor_id: string; state: string }[] {
  return statements(db).states.all() as { actor_id: string; state: string }[];
}
