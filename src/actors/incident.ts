/**
 * Wiring of the pure `incident` machine (src/machines/incident.ts) with `.provide()`:
 *
 * - `beginIncident`: `beginIncident` of src/media/export.ts (evidence-locks what is already
 *   recorded in the window, `incident.begin` event row) in the journal transaction that writes
 *   the new actor's first snapshot;
 * - `exportClip`: `exportIncident`. While the camera still records but the window's end is not
 *   indexed yet it fails with a retryable error (the machine re-arms its deadline, for at most
 *   three segment lengths + 30 s after the window); when the camera stopped it exports what
 *   exists (`partial`). Evidence-locked, tagged with the incident id. Safe to repeat: export
 *   names are deterministic and a finished file is reused;
 * - `logExported` / `logGaveUp`: `incident.done` / `incident.failed` event rows (announced on
 *   the LiveBus after the commit).
 */
import type { Database } from "bun:sqlite";
import { fromPromise, type AnyActorLogic, type PromiseActorLogic } from "xstate";
import { incidentMachine, recordOf, type IncidentExportInput } from "../machines/incident.ts";
import { beginIncident, exportIncident, ExportFailedError, isRecordedUntil } from "../media/export.ts";
import type { ActorDeps } from "./camera.ts";
import { logAndAnnounce } from "./journal.ts";

export interface IncidentDeps extends ActorDeps {
  /** Replaces the real export (tests). */
  incidentExport?: AnyActorLogic;
}

/** What an incident export produced (the `incident.done` event row). */
export interface IncidentExportOutput {
  relPath: string;
  bytes: number;
  durationMs: number;
  partial: boolean;
}

/** An export failure the incident machine retries (it re-arms the deadline). */
class RetryableError extends Error {
  readonly retryable = true;
}

/** The `exportClip` actor: exports one incident clip (see the module comment). */
export function createIncidentExport(deps: { db: Database; dataDir: string }) {
  return fromPromise<IncidentExportOutput, IncidentExportInput>(async ({ input, signal }) => {
    await new Promise((r) => setTimeout(r, 0));
    const recorded = isRecordedUntil(deps.db, input.cameraId, input.toUtc);
    // the camera still records: wait for the window's end to be indexed (bounded)
    if (!recorded && input.cameraRecording && Date.now() < input.toUtc + 3 * input.segmentMs + 30_000)
      throw new RetryableError(`footage until ${new Date(input.toUtc).toISOString()} is not recorded yet`);
    try {
      const r = await exportIncident(
        deps.db,
        deps.dataDir,
        { incidentId: input.incidentId, cameraId: input.cameraId, atUtc: input.atUtc, fromUtc: input.fromUtc, toUtc: input.toUtc, readyAtUtc: input.readyAtUtc },
        { partial: !recorded, signal },
      );
      return { relPath: r.relPath, bytes: r.bytes, durationMs: r.durationMs, partial: !recorded };
    } catch (err) {
      if (err instanceof ExportFailedError && !err.cancelled) throw Object.assign(err, { retryable: true });
      throw err;
    }
  });
}

/** The incident machine with the real implementations. */
export function provideIncident(deps: IncidentDeps) {
  const { journal } = deps;
  return incidentMachine.provide({
    actors: {
      exportClip: (deps.incidentExport ?? createIncidentExport(deps)) as unknown as PromiseActorLogic<unknown, IncidentExportInput>,
    },
    actions: {
      beginIncident: ({ context, self }) => {
        const rec = recordOf(context);
        journal.enqueue(self, (d) => {
          beginIncident(d, rec.cameraId, rec.atUtc, {
            settings: { before_seconds: (rec.atUtc - rec.fromUtc) / 1000, after_seconds: (rec.toUtc - rec.atUtc) / 1000 },
            segmentSeconds: rec.segmentMs / 1000,
            incidentId: rec.incidentId,
          });
        });
      },
      logExported: ({ context, self }) => {
        const incident = recordOf(context);
        const o = context.output as Partial<IncidentExportOutput> | undefined;
        journal.enqueue(self, (d) => {
          const message = `incident ${incident.incidentId}: clip ${o?.relPath ?? "?"} exported (${((o?.durationMs ?? 0) / 1000).toFixed(1)} s${o?.partial ? ", partial: the camera stopped" : ""}), evidence-locked`;
          return logAndAnnounce(d, deps.bus, { kind: "incident.done", cameraId: incident.cameraId, message, data: { ...incident, ...o } });
        });
      },
      logGaveUp: ({ context, self }) => {
        const incident = recordOf(context);
        const error = incident.lastError ?? "export failed";
        journal.enqueue(self, (d) => {
          const message = `incident ${incident.incidentId}: clip export failed after ${incident.attempts} attempt(s): ${error}; its footage stays evidence-locked`;
          return logAndAnnounce(d, deps.bus, { kind: "incident.failed", level: "error", cameraId: incident.cameraId, message, data: incident });
        });
      },
    },
  });
}
