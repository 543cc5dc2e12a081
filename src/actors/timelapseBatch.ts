/**
 * Wiring of the pure `timelapseBatch` machine (src/machines/timelapseBatch.ts) with `.provide()`:
 *
 * - `render`: `renderTimelapse` (src/media/timelapse.ts) over the batch's junction rows, one
 *   render at a time per process (a render uses both cores of a Pi; others wait their turn),
 *   progress (frames done / total) kept in `RenderProgress` and published on the LiveBus at most
 *   every 250 ms. Safe to repeat: the video is written to a temp name and committed whole.
 *   A batch without images, or whose row is gone, fails without retries;
 * - `startRender` / `recordRetry` / `recordCompleted` / `recordFailed` / `recordCancelled`: the
 *   batch row (src/db/timelapse.ts) and `timelapse.*` event rows, in the journal transaction of
 *   the transition, announced on the LiveBus after the commit.
 */
import { fromPromise, type AnyActorLogic, type PromiseActorLogic } from "xstate";
import { timelapseBatchMachine, type RenderInput, type RenderOutput, type TimelapseBatchContext } from "../machines/timelapseBatch.ts";
import { nowOf } from "../machines/camera.ts";
import {
  batchById,
  batchFrames,
  cameraTimelapseSettings,
  batchOutputPath,
  markBatchCompleted,
  markBatchFailed,
  markBatchPending,
  markBatchProcessing,
  resnapshotContinuous,
} from "../db/timelapse.ts";
import { overlayStyleOf, renderTimelapse, RenderError } from "../media/timelapse.ts";
import type { RenderProgress } from "../renderProgress.ts";
import type { ActorDeps } from "./camera.ts";
import { logAndAnnounce } from "./journal.ts";

export interface TimelapseDeps extends ActorDeps {
  /** Where render progress is kept for the web page (default: not kept). */
  renderProgress?: RenderProgress;
  /** Replaces the real render (tests). */
  timelapseRender?: AnyActorLogic;
  /** x264 preset of renders (default DEFAULT_RENDER_PRESET of src/media/timelapse.ts). */
  timelapsePreset?: string;
  /** ffmpeg's pid of each render as it starts (tests). */
  onRenderSpawn?: (batchId: number, pid: number) => void;
}

/** A failure the machine must not retry (nothing would change). */
class PermanentRenderError extends Error {
  readonly retryable = false;
}

/** One render at a time: each waits for the previous one to settle. */
let renderChain: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  const next = renderChain.then(work, work);
  renderChain = next.catch(() => {});
  return next;
}

/** The `render` actor: renders batch `input.batchId` (see the module comment). */
export function createTimelapseRender(deps: Pick<TimelapseDeps, "db" | "dataDir" | "bus" | "renderProgress" | "timelapsePreset" | "onRenderSpawn">) {
  return fromPromise<RenderOutput, RenderInput>(async ({ input, signal }) => {
    // let the journal commit the `processing` transition (and a continuous batch's new image list) first
    await new Promise((r) => setTimeout(r, 0));
    return oneAtATime(async () => {
      if (signal.aborted) throw new RenderError("rendering was cancelled", true);
      const batch = batchById(deps.db, input.batchId);
      if (!batch) throw new PermanentRenderError(`batch ${input.batchId} no longer exists`);
      const frames = batchFrames(deps.db, input.batchId);
      if (frames.length === 0) throw new PermanentRenderError("the batch has no images");
      const settings = cameraTimelapseSettings(deps.db, batch.camera_id);
      const overlay = batch.day_overlay_applied && settings ? overlayStyleOf(settings) : null;
      const publish = (done: number, total: number) => {
        deps.renderProgress?.set({ batchId: input.batchId, cameraKey: input.cameraKey, framesDone: done, totalFrames: total, at: Date.now() });
        deps.bus.publish({ type: "timelapse", batchId: input.batchId, cameraKey: input.cameraKey, status: "processing", framesDone: done, totalFrames: total });
      };
      publish(0, frames.length);
      try {
        const r = await renderTimelapse({
          dataDir: deps.dataDir,
          relPath: batch.output_path ?? batchOutputPath(input.cameraKey, input.batchId),
          frames,
          frameRate: batch.frame_rate,
          overlay,
          preset: deps.timelapsePreset,
          signal,
          onProgress: publish,
          onSpawn: (pid) => deps.onRenderSpawn?.(input.batchId, pid),
        });
        return r;
      } catch (err) {
        if (err instanceof RenderError && /has no images|is missing/.test(err.message)) throw new PermanentRenderError(err.message);
        throw err;
      } finally {
        deps.renderProgress?.delete(input.batchId);
      }
    });
  });
}

/** The timelapseBatch machine with the real implementations. */
export function provideTimelapseBatch(deps: TimelapseDeps) {
  const { journal, bus } = deps;
  const announce = (c: TimelapseBatchContext, status: string, frames = 0, total = 0) => () =>
    bus.publish({ type: "timelapse", batchId: c.batchId, cameraKey: c.cameraKey, status, framesDone: frames, totalFrames: total });
  return timelapseBatchMachine.provide({
    actors: {
      render: (deps.timelapseRender ?? createTimelapseRender(deps)) as unknown as PromiseActorLogic<RenderOutput, RenderInput>,
    },
    actions: {
      startRender: ({ context, self }) => {
        const at = nowOf(self);
        journal.enqueue(self, (d) => {
          if (context.batchType === "continuous") resnapshotContinuous(d, context.batchId, at);
          markBatchProcessing(d, context.batchId, at);
          return announce(context, "processing");
        });
      },
      recordRetry: ({ context, self }) => {
        journal.enqueue(self, (d) => {
          markBatchPending(d, context.batchId, context.lastError);
          const when = new Date(context.retryAtUtc ?? 0).toISOString();
          const cb = logAndAnnounce(d, bus, {
            kind: "timelapse.retry",
            level: "warn",
            cameraId: context.cameraId,
            message: `timelapse batch ${context.batchId}: render failed (${context.lastError}); retry ${context.attempts + 1} at ${when}`,
            data: { batchId: context.batchId, attempts: context.attempts },
          });
          return () => {
            cb();
            announce(context, "pending")();
          };
        });
      },
      recordCompleted: ({ context, self }) => {
        const r = context.result;
        if (!r) return;
        const at = nowOf(self);
        journal.enqueue(self, (d) => {
          markBatchCompleted(d, context.batchId, { at, relPath: r.relPath, bytes: r.bytes, frames: r.frames, durationSeconds: r.durationSeconds });
          const cb = logAndAnnounce(d, bus, {
            kind: "timelapse.done",
            cameraId: context.cameraId,
            message: `timelapse batch ${context.batchId}: ${r.relPath} rendered (${r.frames} frames, ${r.durationSeconds.toFixed(1)} s, ${r.bytes} bytes)`,
            data: { batchId: context.batchId, ...r },
          });
          return () => {
            cb();
            announce(context, "completed", r.frames, r.frames)();
          };
        });
      },
      recordFailed: ({ context, self }) => {
        const error = context.lastError ?? "render failed";
        const at = nowOf(self);
        journal.enqueue(self, (d) => {
          markBatchFailed(d, context.batchId, error, at);
          const cb = logAndAnnounce(d, bus, {
            kind: "timelapse.failed",
            level: "error",
            cameraId: context.cameraId,
            message: `timelapse batch ${context.batchId}: failed after ${context.attempts} attempt(s): ${error}`,
            data: { batchId: context.batchId, attempts: context.attempts },
          });
          return () => {
            cb();
            announce(context, "failed")();
          };
        });
      },
      recordCancelled: ({ context, self }) => {
        const at = nowOf(self);
        journal.enqueue(self, (d) => {
          markBatchFailed(d, context.batchId, "cancelled", at);
          const cb = logAndAnnounce(d, bus, {
            kind: "timelapse.cancelled",
            cameraId: context.cameraId,
            message: `timelapse batch ${context.batchId}: cancelled`,
            data: { batchId: context.batchId },
          });
          return () => {
            cb();
            announce(context, "failed")();
          };
        });
      },
    },
  });
}
