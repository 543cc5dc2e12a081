/**
 * The actor journal: every transition of a domain actor (camera, trip, supervisor, ...) is
 * persisted in ONE SQLite transaction together with the domain rows it changes:
 *
 * - the domain writes the actor's actions queued with `journal.enqueue(self, op)` while the
 *   transition was computed (status row, trips.status, segment index ...);
 * - an append-only `actor_transitions` row (actor_id = systemId, from_state, event, to_state,
 *   at) when the state changed (states are named by their leaf: `{ online: "recording" }` ->
 *   `recording`);
 * - the actor's current persisted snapshot (`getPersistedSnapshot()`) in `actor_snapshots`.
 *
 * Mechanism: actions run synchronously while XState computes a transition; right after, the
 * actor emits an `@xstate.snapshot` inspection event, on which `journal.inspect` flushes that
 * actor's queue, the transition and the snapshot in one `db.transaction`. When it commits, the
 * callbacks the ops returned run (messages to other actors, LiveBus). When anything throws, the
 * transaction rolls back (no transition row, no snapshot, no domain row) and `onError` runs; by
 * default it logs and sends `{ type: "JOURNAL.FAILED", error }` to the actor: a camera or trip
 * then finishes in its final `failed` state (stopping its recorder/saver on the way out) and
 * the supervisor spawns a fresh one, which starts from the database's truth; the supervisor
 * itself throws (the runtime powers down with exit code 1).
 *
 * Only actors with a systemId get transition/snapshot rows; the machine name stored is the
 * systemId's prefix (`camera:front` -> `camera`). Snapshots of stopped/errored actors are not
 * stored (a stopped supervisor must not be restored as stopped).
 */
import type { Database } from "bun:sqlite";
import type { AnyActorRef, InspectionEvent, StateValue } from "xstate";
import { log } from "../log.ts";
import { nowOf } from "../machines/camera.ts";
import { logEvent, type EventInput } from "../db/eventLog.ts";
import { insertTransition, snapshotRows, snapshotStates, upsertSnapshot } from "../db/journal.ts";
import type { LiveBus } from "../events.ts";

/** A callback run after the journal transaction committed. */
export type AfterCommit = () => void;
/** A domain write run inside the journal transaction; may return an AfterCommit callback. */
export type JournalOp = (db: Database) => void | AfterCommit;

/**
 * For a JournalOp: inserts event row `e` (in the journal transaction) and returns the AfterCommit
 * that announces it on the LiveBus as `{ type: "event_log", id, kind, message: announce }`
 * (`announce` defaults to the row's message), so the UI hears only of committed rows.
 */
export function logAndAnnounce(db: Database, bus: LiveBus, e: EventInput, announce = e.message): AfterCommit {
  const id = logEvent(db, e);
  return () => bus.publish({ type: "event_log", id, kind: e.kind, message: announce });
}

export interface JournalOptions {
  /** Clock for `at` columns (ms); default: the actor's clock. */
  now?: () => number;
  /** Called after a rollback. Default: log an error and send JOURNAL.FAILED to the actor. */
  onError?: (actor: AnyActorRef, actorId: string | null, error: unknown) => void;
}

export interface StoredSnapshot {
  actorId: string;
  machine: string;
  state: unknown;
  snapshot: unknown;
  updatedAt: number;
}

/** The leaf name of a state value: `"stopped"` -> `stopped`, `{ online: "recording" }` -> `recording`. */
export function stateLeaf(value: StateValue | unknown): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object") {
    const parts = Object.entries(value as Record<string, unknown>).map(([k, v]) =>
      v && (typeof v === "string" || (typeof v === "object" && Object.keys(v as object).length)) ? stateLeaf(v) : k,
    );
    return parts.join(",");
  }
  return String(value);
}

/** The machine name stored for an actor id: `camera:front` -> `camera`, `supervisor` -> `supervisor`. */
export function machineOf(actorId: string): string {
  const i = actorId.indexOf(":");
  const prefix = i < 0 ? actorId : actorId.slice(0, i);
  return prefix === "timelapse" ? "timelapseBatch" : prefix;
}

/** Every stored snapshot, by actor id (parsed JSON). */
export function loadSnapshots(db: Database): Map<string, StoredSnapshot> {
  const out = new Map<string, StoredSnapshot>();
  for (const r of snapshotRows(db)) {
    out.set(r.actor_id, {
      actorId: r.actor_id,
      machine: r.machine,
      state: JSON.parse(r.state),
      snapshot: JSON.parse(r.snapshot),
      updatedAt: r.updated_at,
    });
  }
  return out;
}

export class Journal {
  private queues = new WeakMap<AnyActorRef, JournalOp[]>();
  /** Last persisted leaf state per actor id (seeded from the database). */
  private lastState = new Map<string, string>();
  /** Last persisted snapshot JSON per actor id (skip identical rewrites). */
  private lastJson = new Map<string, string>();
  private closed = false;

  constructor(
    readonly db: Database,
    private readonly options: JournalOptions = {},
  ) {
    for (const row of snapshotStates(db)) {
      try {
        this.lastState.set(row.actor_id, stateLeaf(JSON.parse(row.state)));
      } catch {
        // unreadable state column: treat as unknown
      }
    }
  }

  /** Queues a domain write for `actor`'s current transition. Never throws. */
  enqueue(actor: AnyActorRef, op: JournalOp): void {
    let q = this.queues.get(actor);
    if (!q) this.queues.set(actor, (q = []));
    q.push(op);
  }

  /** Inspection observer: pass as `createActor(machine, { inspect: journal.inspect })`. */
  readonly inspect = (ev: InspectionEvent): void => {
    if (ev.type !== "@xstate.snapshot") return;
    try {
      this.persist(ev.actorRef as AnyActorRef, ev.snapshot as unknown as SnapshotLike, ev.event?.type ?? "unknown");
    } catch (err) {
      // never let a journal problem unwind into XState's mailbox
      log.error(`journal: ${(err as Error).message}`);
    }
  };

  /** The state last persisted for `actorId`, or null. */
  stateOf(actorId: string): string | null {
    return this.lastState.get(actorId) ?? null;
  }

  /** Stops writing (the database is about to close); queued ops are dropped. */
  close(): void {
    this.closed = true;
  }

  /**
   * Writes `actor`'s queued ops, transition and snapshot in one transaction. Returns true when
   * committed. Public for tests; the inspection observer calls it.
   */
  persist(actor: AnyActorRef, snapshot: SnapshotLike, eventType: string): boolean {
    const ops = this.queues.get(actor) ?? [];
    this.queues.delete(actor);
    if (this.closed) return false;
    const actorId = (actor as { systemId?: string }).systemId ?? null;
    const status = snapshot?.status;
    const journaled = actorId !== null && (status === "active" || status === "done") && "value" in (snapshot ?? {});
    if (!journaled && ops.length === 0) return true;

    let to: string | null = null;
    let from: string | null = null;
    let json: string | null = null;
    let event = eventType;
    if (journaled) {
      to = stateLeaf(snapshot.value);
      from = this.lastState.get(actorId!) ?? null;
      json = JSON.stringify((actor as unknown as { getPersistedSnapshot(): unknown }).getPersistedSnapshot());
      if (event === "xstate.init" && (actor as unknown as { options?: { snapshot?: unknown } }).options?.snapshot) event = "xstate.restore";
      if (from === to && this.lastJson.get(actorId!) === json && ops.length === 0) return true;
    }
    const at = this.options.now ? this.options.now() : nowOf(actor);
    const after: AfterCommit[] = [];
    try {
      this.db.transaction(() => {
        for (const op of ops) {
          const cb = op(this.db);
          if (typeof cb === "function") after.push(cb);
        }
        if (journaled) {
          if (from !== to) {
            insertTransition(this.db, { actorId: actorId!, from, event, to: to!, at });
          }
          upsertSnapshot(this.db, {
            actor_id: actorId!,
            machine: machineOf(actorId!),
            state: JSON.stringify(snapshot.value),
            snapshot: json!,
            updated_at: at,
          });
        }
      })();
    } catch (err) {
      this.failed(actor, actorId, err);
      return false;
    }
    if (journaled) {
      this.lastState.set(actorId!, to!);
      this.lastJson.set(actorId!, json!);
    }
    for (const cb of after) {
      try {
        cb();
      } catch (err) {
        log.error(`journal: after-commit effect of ${actorId ?? "actor"} failed: ${(err as Error).message}`);
      }
    }
    return true;
  }

  private failed(actor: AnyActorRef, actorId: string | null, err: unknown): void {
    if (this.options.onError) {
      this.options.onError(actor, actorId, err);
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    log.error(`journal: transition of ${actorId ?? "actor"} rolled back: ${message}`);
    try {
      // queued by the actor's mailbox behind the event being processed
      actor.send({ type: "JOURNAL.FAILED", error: message });
    } catch {
      // actor already stopped
    }
  }
}

/** The parts of a machine snapshot the journal reads. */
export interface SnapshotLike {
  status: string;
  value?: StateValue;
}
