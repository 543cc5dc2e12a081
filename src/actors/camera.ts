/**
 * Wiring of the pure `camera` machine (src/machines/camera.ts) to the real world with
 * `.provide()`:
 *
 * - `recorder`: the ffmpeg `recorderActor` (src/actors/recorder.ts), wrapped so that each
 *   (re)start builds its input from the CURRENT configuration (the source URL never enters a
 *   snapshot), with the camera's applied encoder settings (`encoder_settings`, a camera dashcam
 *   encodes itself) over it, and reads the next absolute index from `camera_state.absolute_segments` (so a
 *   restored or restarted recorder never reuses a stale start number).
 * - `writeStatus` / `recordRunning` / `bumpReconnect` / `syncStatus`: the `camera_status` row
 *   (src/db/cameraStatus.ts) and a `camera.state` event_log row, in the journal transaction;
 *   after commit a LiveBus `camera` event. `recordRunning` (ffmpeg started) also opens the
 *   camera's trip of this boot when it has none (`openTripForRecording`), and gives it an actor.
 * - `cutOpenTrip` (entering `disk_full`, once ffmpeg has exited): marks the camera's open trip
 *   cut short (`markTripCut`) in the journal transaction.
 * - `indexSegment`: `commitSegment` in the journal transaction; in the same transaction the
 *   segment is evidence-locked when its trip is being saved or saved (`lockIfTripSaved`) or when
 *   it overlaps the window of a pending incident of this camera; after commit a LiveBus
 *   `segment` event, `ALPR.WAKE` to the ALPR service and, when the segment opened a trip,
 *   `TRIP.OPENED` to the supervisor.
 * - `reportStopped` (the camera reached `stopped` through STOP): after commit, the camera's open
 *   trip gets an actor if it has none, then `CAMERA.STOPPED` to the supervisor (which closes the
 *   trip with reason `camera_stopped` unless it is shutting down).
 * - `settleSegments` (invoked in backoff and disk_full): once no ffmpeg of this process writes the
 *   camera's ring (`waitRecorderIdle`), `salvageInterrupted` (src/actors/reconcile.ts), so
 *   the next run starts right after the last indexed segment and no unreported file is left
 *   without a row.
 * - `enforceRetention` / `recheckRetention`: `enforceRing` after the commit (it deletes files
 *   with its own garbage-row transactions); evicted trips go to the supervisor as
 *   `TRIP.EVICTED`; `blocked` sends the camera `DISK_FULL_LOCKED`; a later re-check that is no
 *   longer blocked sends `DISK.FREED`.
 */
import type { Database } from "bun:sqlite";
import { fromCallback, type AnyActorLogic, type AnyActorRef, type CallbackActorLogic } from "xstate";
import { stallTimeoutMs, type CameraConfig } from "../config.ts";
import type { LiveBus } from "../events.ts";
import {
  cameraMachine,
  cameraStateName,
  incidentsOverlapping,
  nowOf,
  type CameraContext,
  type CameraInput,
  type CameraStateName,
  type RecorderRequest,
  type SettleRequest,
} from "../machines/camera.ts";
import type { RecorderCommand, RecorderEvent } from "../machines/events.ts";
import { bumpReconnect, getCameraStatus, setRunning, setState } from "../db/cameraStatus.ts";
import { nextStartNumber } from "../db/cameraState.ts";
import { logEvent } from "../db/eventLog.ts";
import { commitSegment, type IndexResult, type SegmentInput } from "../db/segments.ts";
import { enforceRing, type RetentionResult } from "../actors/retention.ts";
import { recorderActor, STOP_GRACE_MS, waitRecorderIdle } from "../actors/recorder.ts";
import { salvageInterrupted, type SalvageResult } from "../actors/reconcile.ts";
import { openTripForRecording, openTripOf } from "../db/trips.ts";
import { lockIfTripSaved, markTripCut } from "../db/savedTrips.ts";
import { setEvidenceLocked } from "../db/locks.ts";
import { encoderSettingsOf } from "../db/optimize.ts";
import { encodesItself } from "../media/recorderArgs.ts";
import { log } from "../log.ts";
import type { Journal } from "./journal.ts";
import type { LiveHubs } from "../media/liveHub.ts";

/** Everything the real actors need. One per runtime. */
export interface ActorDeps {
  db: Database;
  /** Absolute data directory. */
  dataDir: string;
  bootId: string;
  journal: Journal;
  bus: LiveBus;
  /** Current configuration by camera key (the only place the source URL lives). */
  cameras: Map<string, CameraConfig>;
  /** Overrides for tests and benches; default: the real implementations. */
  recorder?: AnyActorLogic;
  commitSegment?: (db: Database, dataDir: string, input: SegmentInput, bootId: string) => IndexResult;
  enforceRing?: (db: Database, dataDir: string, camera: CameraConfig, cameraId: number) => RetentionResult;
  salvage?: (db: Database, dataDir: string, camera: CameraConfig, cameraId: number, bootId: string) => Promise<SalvageResult>;
  /** The cameras' live hubs: each recorder feeds its camera's hub (live view, current frames). */
  liveHubs?: LiveHubs;
}

/** Time a graceful camera stop may take before the recorder is killed (the whole power-down has 5 s). */
export const CAMERA_STOP_TIMEOUT_MS = 3_500;

/** The machine input for a configured camera (no source URL: inputs are persisted). */
export function cameraInputFor(camera: CameraConfig, cameraId: number): CameraInput {
  const stall = stallTimeoutMs(camera);
  return {
    key: camera.key,
    cameraId,
    backoffInitialMs: camera.backoff_initial_ms,
    backoffMaxMs: camera.backoff_max_ms,
    // the recorder itself stops ffmpeg one stall period after STALL; this is the safety net
    stallMs: 2 * stall + STOP_GRACE_MS,
    diskRetryMs: 60_000,
    stopTimeoutMs: CAMERA_STOP_TIMEOUT_MS,
  };
}

const RUNNING_STATES = new Set<CameraStateName>(["starting", "recording", "stalled", "stopping"]);
const ERROR_STATES = new Set<CameraStateName>(["backoff", "stalled", "disk_full"]);

/** Anything that looks actors up by systemId: an actor system, or nothing in a lone test actor. */
type SystemLike = { get(id: string): AnyActorRef | undefined } | undefined;

/** The supervisor (or, in a lone test actor, nobody). */
function supervisorOf(system: SystemLike): AnyActorRef | undefined {
  return system?.get("supervisor");
}

/**
 * Recorder logic whose input is completed at every start: `RecorderRequest` (key, cameraId) ->
 * `RecorderInput` (config, dataDir, startNumber from the database).
 */
export function wrapRecorder(deps: ActorDeps, base: AnyActorLogic = recorderActor as unknown as AnyActorLogic): AnyActorLogic {
  return {
    ...base,
    start: (state: { input: RecorderRequest }, scope: unknown) => {
      const req = state.input;
      const configured = deps.cameras.get(req.key);
      if (!configured) throw new Error(`camera ${req.key} is not configured`);
      // dashcam's own encoder settings applied to a camera it encodes itself (src/actors/applyConfig.ts)
      const enc = encodesItself(configured.source) ? encoderSettingsOf(deps.db, req.cameraId) : null;
      const camera = enc ? { ...configured, fps: enc.fps ?? configured.fps, width: enc.width ?? configured.width, height: enc.height ?? configured.height } : configured;
      const input = {
        camera,
        ...(enc ? { encoder: { bitrateKbps: enc.bitrateKbps, keyframeSeconds: enc.keyframeSeconds } } : {}),
        cameraId: req.cameraId,
        dataDir: deps.dataDir,
        startNumber: nextStartNumber(deps.db, req.cameraId),
        ...(deps.liveHubs ? { liveHub: deps.liveHubs.get(req.key) } : {}),
      };
      return (base.start as (s: unknown, sc: unknown) => void)({ ...state, input }, scope);
    },
  } as AnyActorLogic;
}

/** Writes the status row + a camera.state event (only when the state changed); publishes after commit. */
function statusOp(deps: ActorDeps, ctx: CameraContext, state: CameraStateName, at: number) {
  return (db: Database) => {
    const before = getCameraStatus(db, ctx.cameraId);
    const lastError = ERROR_STATES.has(state) ? ctx.lastError : undefined;
    setState(db, ctx.cameraId, state, lastError, at);
    // the row's reconnect_count is cumulative across actor lifetimes (the context's is not);
    // setState never changes it, and a row it creates starts at 0
    const reconnectCount = before?.reconnect_count ?? 0;
    let eventId: number | null = null;
    const message = `camera ${ctx.key}: ${state}${ERROR_STATES.has(state) && ctx.lastError ? ` (${ctx.lastError})` : ""}`;
    if (before?.state !== state) {
      eventId = logEvent(db, {
        kind: "camera.state",
        level: state === "disk_full" ? "error" : ERROR_STATES.has(state) ? "warn" : "info",
        cameraId: ctx.cameraId,
        at,
        message,
        data: { state, reconnect_count: reconnectCount, last_error: ctx.lastError },
      });
    }
    return () => {
      deps.bus.publish({ type: "camera", key: ctx.key, state, lastError: ctx.lastError, reconnectCount });
      if (eventId !== null) deps.bus.publish({ type: "event_log", id: eventId, kind: "camera.state", message });
    };
  };
}

/**
 * One retention sweep of camera `key` (after the journal commit): `enforceRing`, then
 * `TRIP.EVICTED` to the supervisor for every trip it evicted. Returns the sweep's result and
 * its time (ms, the camera's clock), or null when the camera is no longer configured.
 */
function retentionPass(deps: ActorDeps, key: string, cameraId: number, self: AnyActorRef, system: SystemLike): { r: RetentionResult; at: number } | null {
  const camera = deps.cameras.get(key);
  if (!camera) return null;
  const r = (deps.enforceRing ?? enforceRing)(deps.db, deps.dataDir, camera, cameraId);
  const at = nowOf(self);
  for (const tripId of r.evictedTripIds) supervisorOf(system)?.send({ type: "TRIP.EVICTED", tripId, cameraKey: key, at });
  return { r, at };
}

/**
 * The `settleSegments` actor: `salvageInterrupted` for the camera (files the failed ffmpeg
 * left without a row are salvaged into the index or deleted), then SEGMENTS.SETTLED. Only runs
 * in `backoff` and `disk_full`, i.e. while no recorder runs for the camera. Safe to repeat.
 */
export function settleActor(deps: ActorDeps) {
  return fromCallback<{ type: string }, SettleRequest>(({ input, sendBack, system }) => {
    const camera = deps.cameras.get(input.key);
    if (!camera) {
      sendBack({ type: "SEGMENTS.SETTLED", salvaged: 0 });
      return;
    }
    // a recorder cancelled before it exited (its stop timed out) may still be finishing a file:
    // settle only once no ffmpeg of this process writes the ring
    waitRecorderIdle(deps.dataDir, input.key)
      .then(() => (deps.salvage ?? salvageInterrupted)(deps.db, deps.dataDir, camera, input.cameraId, deps.bootId))
      .then((r) => {
        if (r.salvaged > 0) ensureTripActor(deps, system, input.key, input.cameraId);
        sendBack({ type: "SEGMENTS.SETTLED", salvaged: r.salvaged });
      })
      .catch((err) => {
        const message = (err as Error)?.message ?? String(err);
        log.warn(`camera ${input.key}: settling interrupted segments failed: ${message}`);
        sendBack({ type: "SEGMENTS.SETTLED", salvaged: 0, error: message });
      });
  });
}

/** Sends TRIP.OPENED for the camera's open trip of this boot when it has no actor. */
export function ensureTripActor(deps: ActorDeps, system: SystemLike, key: string, cameraId: number): void {
  try {
    const trip = openTripOf(deps.db, cameraId, deps.bootId);
    if (trip && !system?.get(`trip:${trip.id}`)) supervisorOf(system)?.send({ type: "TRIP.OPENED", tripId: trip.id, cameraKey: key, at: trip.last_time_utc });
  } catch (err) {
    log.warn(`camera ${key}: cannot look up its open trip: ${(err as Error).message}`);
  }
}

/** The camera machine with the real implementations. */
export function provideCamera(deps: ActorDeps) {
  const { journal } = deps;
  const commit = deps.commitSegment ?? commitSegment;
  return cameraMachine.provide({
    actors: {
      recorder: wrapRecorder(deps, deps.recorder) as unknown as CallbackActorLogic<RecorderCommand, RecorderRequest>,
      settleSegments: settleActor(deps),
    },
    actions: {
      writeStatus: ({ context, self }, params) => {
        journal.enqueue(self, statusOp(deps, context, params.state, nowOf(self)));
      },
      syncStatus: ({ context, self }) => {
        const state = cameraStateName(self.getSnapshot().value);
        journal.enqueue(self, statusOp(deps, context, state, nowOf(self)));
      },
      recordRunning: ({ context, event, self, system }) => {
        if (event.type !== "RECORDER.STARTED") return;
        const at = nowOf(self);
        const state = cameraStateName(self.getSnapshot().value);
        const { key, cameraId } = context;
        journal.enqueue(self, (db) => {
          setRunning(db, cameraId, RUNNING_STATES.has(state) ? state : "starting", event.pid, event.at, at);
          // the trip is open as soon as recording starts (also after a stop and start), so a
          // save pressed now keeps this drive
          const opened = openTripForRecording(db, cameraId, deps.bootId, at);
          return () => {
            if (opened !== null) ensureTripActor(deps, system, key, cameraId);
          };
        });
      },
      bumpReconnect: ({ context, self }) => {
        const at = nowOf(self);
        journal.enqueue(self, (db) => bumpReconnect(db, context.cameraId, context.lastError, at));
      },
      indexSegment: ({ context, event, self, system }) => {
        if (event.type !== "SEGMENT_CLOSED") return;
        const e = event as Extract<RecorderEvent, { type: "SEGMENT_CLOSED" }>;
        const key = context.key;
        const incidents = incidentsOverlapping(context.incidentWindows, e.startUtc, e.endUtc);
        journal.enqueue(self, (db) => {
          const r = commit(
            db,
            deps.dataDir,
            { ...e, cameraId: context.cameraId },
            deps.bootId,
          );
          if (!r.duplicate) {
            // a trip being saved keeps every segment until it closes; a pending incident keeps its window
            if (r.tripId) lockIfTripSaved(db, r.tripId, r.segmentId);
            for (const incidentId of incidents) setEvidenceLocked(db, [r.segmentId], true, incidentId);
          }
          return () => {
            if (r.duplicate) return;
            deps.bus.publish({ type: "segment", key, absoluteIndex: r.absoluteIndex, endUtc: e.endUtc, bytes: e.bytes });
            system.get("alpr")?.send({ type: "ALPR.WAKE" });
            // a new trip, or an open trip that has no actor yet (opened by a salvage): give it one
            if (r.tripId && (r.tripOpened || !system.get(`trip:${r.tripId}`)))
              supervisorOf(system)?.send({ type: "TRIP.OPENED", tripId: r.tripId, cameraKey: key, at: e.endUtc });
          };
        });
      },
      cutOpenTrip: ({ context, self }) => {
        // a full disk cuts the open trip short: its saved footage ends here (shown with the trip)
        journal.enqueue(self, (db) => void markTripCut(db, context.cameraId, "disk_full"));
      },
      reportStopped: ({ context, self, system }) => {
        const { key, cameraId } = context;
        const at = nowOf(self);
        journal.enqueue(self, () => () => {
          ensureTripActor(deps, system, key, cameraId);
          supervisorOf(system)?.send({ type: "CAMERA.STOPPED", cameraKey: key, at });
        });
      },
      enforceRetention: ({ context, self, system }) => {
        const { key, cameraId } = context;
        journal.enqueue(self, () => () => {
          const pass = retentionPass(deps, key, cameraId, self, system);
          if (pass?.r.blocked) {
            log.error(`camera ${key}: recording stops, disk full of locked footage: ${pass.r.blocked}`);
            self.send({ type: "DISK_FULL_LOCKED", at: pass.at, reason: pass.r.blocked });
          }
        });
      },
      recheckRetention: ({ context, self, system }) => {
        const { key, cameraId } = context;
        journal.enqueue(self, () => () => {
          const pass = retentionPass(deps, key, cameraId, self, system);
          if (pass && !pass.r.blocked) {
            log.info(`camera ${key}: disk space available again, recording resumes`);
            self.send({ type: "DISK.FREED", at: pass.at });
          }
        });
      },
    },
  });
}
