/**
 * Wiring of the pure `trip` machine (src/machines/trip.ts) with `.provide()`:
 *
 * - `loadStatus`: reads the trip row, so a trip actor created for an existing trip starts in
 *   the state its `trips.status` says (a missing row counts as evicted);
 * - `writeStatus`: `trips.status` in the journal transaction, then a LiveBus `trip` event;
 * - `closeTrip`: `closeTrip(db, id, at)` (src/db/trips.ts: end at the last segment) in the same
 *   transaction;
 * - `markEvicted`: `markTripEvicted` (fully_evicted, evicted_at_utc) in the same transaction;
 * - `lockSegments` (entering `saving`): every segment of the trip evidence-locked
 *   (`lockTripSegments`, tag `trip-<id>`) and a `trip.saving` event row, in the transaction that
 *   writes the status `saving`;
 * - `recordSaved`: the `saved_trips` row (`upsertSavedTrip`) and a `trip.saved` event row, in
 *   the transaction of the transition out of `saving`;
 * - `logSaveError`: a `trip.save_error` event row;
 * - `unsave` (UNSAVE in `savedOpen`, or `input.unsave` of an actor spawned for a saved, closed
 *   trip): `unsaveTrip` (evidence locks and `saved_trips` row gone, `trip.unsaved` event row) in
 *   the transaction of the status `open` / `closed`; kept copies and a legacy MP4 the trip had
 *   are deleted after the commit;
 * - `saveTrip`: `deps.saveTrip` when given (tests), else the real one (src/actors/saveTrip.ts).
 */
import type { Database } from "bun:sqlite";
import { assign, type AnyActorLogic, type PromiseActorLogic } from "xstate";
import { tripMachine, type SaveTripInput, type TripStatus } from "../machines/trip.ts";
import { nowOf } from "../machines/camera.ts";
import { closeTrip, markTripEvicted, setTripStatus, tripCamera } from "../db/trips.ts";
import { tripById } from "../db/views.ts";
import { lockTripSegments, tripIncidentId, unsaveTrip, upsertSavedTrip } from "../db/savedTrips.ts";
import { unlinkSync } from "node:fs";
import { isAbsolute } from "node:path";
import { resolveInside } from "../paths.ts";
import type { ActorDeps } from "./camera.ts";
import { logAndAnnounce } from "./journal.ts";
import { createSaveTrip } from "./saveTrip.ts";

export interface TripDeps extends ActorDeps {
  /** Copies a trip out of the ring (must be safe to repeat); default: `createSaveTrip`. */
  saveTrip?: AnyActorLogic;
}

/**
 * The status a trip actor starts in for a row: an open row (end_time_utc NULL) is `open` whatever
 * its status column says, unless it is being saved or saved (`saved` + open = `savedOpen`).
 */
export function liveStatusOf(row: { end_time_utc: number | null; status: TripStatus }): TripStatus {
  return row.end_time_utc === null && row.status !== "saving" && row.status !== "saved" ? "open" : row.status;
}

const cameraIdOf = (db: Database, tripId: number) => tripCamera(db, tripId)?.camera_id ?? null;

/** The trip machine with the real implementations. */
export function provideTrip(deps: TripDeps) {
  const { journal, db } = deps;
  const saveTrip = deps.saveTrip ?? createSaveTrip({ db, dataDir: deps.dataDir });
  return tripMachine.provide({
    actors: { saveTrip: saveTrip as unknown as PromiseActorLogic<unknown, SaveTripInput> },
    actions: {
      loadStatus: assign(({ context }) => {
        const row = tripById(db, context.tripId);
        if (!row) return { status: "evicted" as TripStatus };
        const key = context.cameraKey || (tripCamera(db, context.tripId)?.key ?? "");
        return { status: liveStatusOf(row), cameraKey: key, isClosed: row.end_time_utc !== null, closedAt: row.end_time_utc };
      }),
      lockSegments: ({ context, self }) => {
        const { tripId } = context;
        const source = context.saveRequest?.source ?? "api";
        const rebuild = context.saved !== null;
        const at = nowOf(self);
        journal.enqueue(self, (d) => {
          const locked = lockTripSegments(d, tripId, at);
          return logAndAnnounce(
            d,
            deps.bus,
            {
              kind: "trip.saving",
              cameraId: cameraIdOf(d, tripId),
              at,
              message: rebuild
                ? `trip ${tripId} closed: checking its saved footage with every segment`
                : `saving trip ${tripId} (${source}): ${locked} segment${locked === 1 ? "" : "s"} evidence-locked as ${tripIncidentId(tripId)}`,
              data: { tripId, source, locked, rebuild },
            },
            `saving trip ${tripId}`,
          );
        });
      },
      recordSaved: ({ context, self }) => {
        const { tripId, saved } = context;
        if (!saved) return;
        const at = nowOf(self);
        journal.enqueue(self, (d) => {
          upsertSavedTrip(d, { tripId, savedDir: saved.savedDir, savedAtUtc: at, mp4Path: saved.mp4Path });
          const secs = ((saved.durationMs ?? 0) / 1000).toFixed(1);
          const message = saved.complete
            ? `trip ${tripId} saved: ${saved.segments ?? "?"} segments, ${secs} s kept in ${saved.savedDir}`
            : `trip ${tripId} saved so far: ${saved.segments ?? "?"} segments, ${secs} s kept in ${saved.savedDir}; still recording, new segments are kept too`;
          return logAndAnnounce(
            d,
            deps.bus,
            {
              kind: "trip.saved",
              cameraId: cameraIdOf(d, tripId),
              at,
              message: saved.missing ? `${message}; ${saved.missing} segment file(s) were missing` : message,
              data: { tripId, ...saved },
            },
            message,
          );
        });
      },
      logSaveError: ({ context, self }) => {
        const { tripId, lastError } = context;
        const at = nowOf(self);
        journal.enqueue(self, (d) => {
          const message = `trip ${tripId}: ${lastError ?? "save failed"}`;
          return logAndAnnounce(d, deps.bus, { kind: "trip.save_error", level: "error", cameraId: cameraIdOf(d, tripId), at, message, data: { tripId } });
        });
      },
      unsave: ({ context, self }, params) => {
        const { tripId } = context;
        journal.enqueue(self, (d) => {
          const { files } = unsaveTrip(d, tripId, params.by, params.at, true);
          return () => {
            for (const rel of files) {
              try {
                unlinkSync(isAbsolute(rel) ? rel : resolveInside(deps.dataDir, rel));
              } catch {
                /* already gone */
              }
            }
          };
        });
      },
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
