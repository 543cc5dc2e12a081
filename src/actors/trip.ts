/**
 * Wiring of the pure `trip` machine (src/machines/trip.ts) with `.provide()`:
 *
 * - `loadStatus`: reads the trip row, so a trip actor created for an existing trip starts in
 *   the state its `trips.status` says (a missing row counts as evicted);
 * - `writeStatus`: `trips.status` in the journal transaction, then a LiveBus `trip` event;
 * - `closeTrip`: `closeTrip(db, id, at)` (src/db/trips.ts: end at the last segment) in the same
 *   transaction;
 * - `markEvicted`: `markTripEvicted` (fully_evicted, evicted_at_utc) in the same transaction.
 *
 * `saveTrip` stays the machine's default (fails with "not implemented") until issue 3 provides
 * it through `ActorDeps.saveTrip`.
 */
import type { Database, Statement } from "bun:sqlite";
import { assign, type AnyActorLogic, type PromiseActorLogic } from "xstate";
import { tripMachine, type SaveTripInput, type TripStatus } from "../machines/trip.ts";
import { nowOf } from "../machines/camera.ts";
import { closeTrip, markTripEvicted, tripById } from "../db/trips.ts";
import type { ActorDeps } from "./camera.ts";

export interface TripDeps extends ActorDeps {
  /** Issue 3: copies a trip out of the ring; must be safe to repeat. */
  saveTrip?: AnyActorLogic;
}

const cache = new WeakMap<Database, { setStatus: Statement; cameraKey: Statement }>();
function statements(db: Database) {
  let s = cache.get(db);
  if (!s) {
    s = {
      setStatus: db.prepare("UPDATE trips SET status = $status WHERE id = $id AND status <> $status"),
      cameraKey: db.prepare("SELECT c.key FROM trips t JOIN cameras c ON c.id = t.camera_id WHERE t.id = $id"),
    };
    cache.set(db, s);
  }
  return s;
}

/** Sets `trips.status` (no-op when unchanged); returns true when the row changed. */
export function setTripStatus(db: Database, tripId: number, status: TripStatus): boolean {
  return statements(db).setStatus.run({ id: tripId, status }).changes > 0;
}

/** The trip machine with the real implementations. */
export function provideTrip(deps: TripDeps) {
  const { journal, db } = deps;
  return tripMachine.provide({
    actors: deps.saveTrip ? { saveTrip: deps.saveTrip as unknown as PromiseActorLogic<unknown, SaveTripInput> } : {},
    actions: {
      loadStatus: assign(({ context }) => {
        const row = tripById(db, context.tripId);
        if (!row) return { status: "evicted" as TripStatus };
        const key = context.cameraKey || ((statements(db).cameraKey.get({ id: context.tripId }) as { key: string } | null)?.key ?? "");
        // an open row (end_time_utc NULL) is open whatever its status column says, unless saving
        const status: TripStatus = row.end_time_utc === null && row.status !== "saving" ? "open" : row.status;
        return { status, cameraKey: key, isClosed: row.end_time_utc !== null, closedAt: row.end_time_utc };
      }),
      writeStatus: ({ context, self }, params) => {
        const { tripId, cameraKey } = context;
        journal.enqueue(self, (d) => {
          setTripStatus(d, tripId, params.status);
          return () => deps.bus.publish({ type: "trip", id: tripId, cameraKey, state: params.status });
        });
      },
      closeTrip: ({ context, event, self }) => {
        const tripId = context.tripId;
        const at = event.type === "CLOSE" ? event.at : nowOf(self);
        journal.enqueue(self, (d) => closeTrip(d, tripId, at));
      },
      markEvicted: ({ context, self }) => {
        const tripId = context.tripId;
        const at = context.evictedAt ?? nowOf(self);
        journal.enqueue(self, (d) => {
          markTripEvicted(d, tripId, at);
        });
      },
    },
  });
}
