/**
 * The ALPR service (seed 001 pipeline): sampler, workers, dispatcher, tracks, summaries and the
 * optional PostgreSQL sink, as one long-running service the supervisor starts when
 * `[alpr] enabled` (its `alprService` actor, `createAlprActor` in src/actors/supervisor.ts, wraps
 * `startAlprService`).
 *
 * One loop, woken by task completions or every `poll_ms`:
 *   1. start queued frame tasks on the vision pool (runner.ts, Bun Workers);
 *   2. handle unhandled results (dispatcher.ts), deleting released frames;
 *   3. close tracks no reading can join any more (plate_smooth) and queue their summaries;
 *   4. run one summary at a time (summary.ts: snapshot, vehicles row, watchlist alert);
 *   5. read the next closed segment into frames (sampler.ts, one nice'd ffmpeg at a time);
 *   6. every 30 s requeue `failed` tasks; every 10 min prune old finished tasks.
 * Start-up repair: tasks left `running` go back to `queued`, frame files no task depends on are
 * deleted. Everything it does is safe to repeat after a crash.
 */
import type { Database } from "bun:sqlite";
import { pipelineStatus, type PipelineStatus } from "../db/alprStatus.ts";
import { claimTasks, frameBacklog, pruneTasks, requeueFailed, requeueRunning, unfinishedWork } from "../db/alprTasks.ts";
import { logEvent } from "../db/eventLog.ts";
import type { AlprConfig, Config } from "../config.ts";
import type { LiveBus } from "../events.ts";
import { log } from "../log.ts";
import { resolveFfmpeg } from "../media/ffmpeg.ts";
import { Dispatcher } from "../alpr/dispatcher.ts";
import { TaskRunner, type StagePool } from "../alpr/runner.ts";
import { FrameSampler, sweepFrames } from "../alpr/sampler.ts";
import { runSummary } from "../alpr/summary.ts";
import { startPgSync, type PgSync } from "./pgSync.ts";

export interface AlprServiceDeps {
  db: Database;
  config: Config;
  dataDir: string;
  bus?: LiveBus | null;
  /** The vision stages; default: `createVisionPool({ workers, vehicleModelPath })`. */
  pool?: StagePool;
  ffmpegPath?: string;
}

export interface AlprService {
  /** Stops sampling and dispatching, lets running tasks finish and be recorded, closes the pool. */
  stop(): Promise<void>;
  /** Runs the loop now (e.g. after a segment was indexed). */
  wake(): void;
  /** Nothing left to do: no segment waiting, no unfinished task, no open track, no unhandled result. */
  isIdle(): boolean;
  status(): PipelineStatus & { pendingSegments: number; pgError: string | null };
  /** The last error the loop caught and logged (it keeps running); null when none. */
  readonly lastError: string | null;
}

const RETRY_MS = 30_000;
const PRUNE_MS = 10 * 60_000;

/** Defaults of `[alpr]` when the section exists but omits keys (mirrors config.ts). */
function alprOptions(config: Config): AlprConfig {
  const a = config.alpr;
  if (!a) throw new Error("[alpr] is not configured");
  return a;
}

/** Starts the ALPR service (see the module comment). */
export function startAlprService(deps: AlprServiceDeps): AlprService {
  const { db, dataDir } = deps;
  const a = alprOptions(deps.config);
  const ffmpegPath = deps.ffmpegPath ?? resolveFfmpeg();
  let pool: StagePool | null = deps.pool ?? null;
  let poolPromise: Promise<StagePool> | null = pool ? Promise.resolve(pool) : null;
  const getPool = () => {
    if (!poolPromise) {
      poolPromise = import("../vision/pool.ts").then((m) => {
        pool = m.createVisionPool({
          workers: a.workers,
          vehicleModelPath: a.vehicle_model ?? null,
          detModelPath: a.det_model ?? null,
          recModelPath: a.rec_model ?? null,
          recKeysPath: a.rec_dict ?? null,
          detectorSide: a.detector_side,
          region: a.region ?? null,
        });
        return pool;
      });
      poolPromise.catch(() => (poolPromise = null)); // retried on the next tick
    }
    return poolPromise;
  };

  requeueRunning(db);
  const swept = sweepFrames(db, dataDir);
  if (swept > 0) log.info(`alpr: deleted ${swept} leftover frame file(s) at start-up`);

  let stopped = false;
  let lastError: string | null = null;
  let wakeUp: (() => void) | null = null;
  let sampling: Promise<unknown> | null = null;
  let summarising: Promise<unknown> | null = null;
  let lastRetry = Date.now();
  let lastPrune = 0;
  let runner: TaskRunner | null = null;

  const wake = () => wakeUp?.();
  const dispatcher = new Dispatcher({
    db,
    dataDir,
    trackGapMs: a.track_gap_ms,
    trackIou: a.track_iou,
    trackFlushMs: a.track_flush_ms,
    minConfidence: a.min_confidence,
  });
  const sampler = new FrameSampler({
    db,
    dataDir,
    ffmpegPath,
    sampleFps: a.sample_fps,
    maxQueue: a.max_queue,
    backfillSegments: a.backfill_segments,
    onActivity: (cam) => dispatcher.touch(cam),
  });
  const pg: PgSync | null = deps.config.postgres?.url ? startPgSync({ db, url: deps.config.postgres.url }) : null;

  const fail = (where: string, err: unknown) => {
    const msg = `${where}: ${String((err as Error)?.message ?? err).split("\n")[0]}`;
    if (msg !== lastError) {
      log.error(`alpr ${msg}`);
      logEvent(db, { kind: "alpr.error", level: "error", message: `ALPR ${msg}` });
    }
    lastError = msg;
  };

  const tick = async () => {
    if (!runner) runner = new TaskRunner({ db, dataDir, pool: await getPool(), onComplete: wake });
    runner.pump();
    dispatcher.handleResults();
    if (dispatcher.closeTracks(sampler.busy) > 0) dispatcher.handleResults();
    runner.pump();
    if (!summarising) {
      const [task] = claimTasks(db, ["summary"], 1);
      if (task)
        summarising = runSummary({ db, dataDir, ffmpegPath, bus: deps.bus, watchlistMaxEdits: a.watchlist_max_edits }, task)
          .then((r) => {
            if (r.inserted) pg?.wake();
          })
          .catch((err) => fail("summary", err))
          .finally(() => {
            summarising = null;
            wake();
          });
    }
    if (!sampling) {
      sampling = sampler
        .step()
        .then((out) => {
          if (out?.frames) wake();
        })
        .catch((err) => fail("sampler", err))
        .finally(() => {
          sampling = null;
        });
    }
    const now = Date.now();
    if (now - lastRetry >= RETRY_MS) {
      lastRetry = now;
      if (requeueFailed(db) > 0) runner.pump();
    }
    if (now - lastPrune >= PRUNE_MS) {
      lastPrune = now;
      pruneTasks(db);
    }
  };

  const loop = (async () => {
    while (!stopped) {
      try {
        await tick();
      } catch (err) {
        fail("loop", err);
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          wakeUp = null;
          resolve();
        }, a.poll_ms);
        wakeUp = () => {
          clearTimeout(t);
          wakeUp = null;
          resolve();
        };
      });
    }
  })();

  logEvent(db, { kind: "alpr.start", message: `ALPR started: ${a.sample_fps} frame(s)/s, ${a.workers} worker(s), ${a.vehicle_model ? "vehicle model " + a.vehicle_model : "no vehicle model"}` });

  return {
    wake,
    get lastError() {
      return lastError;
    },
    isIdle() {
      if (summarising || (runner?.active ?? 0) > 0 || sampler.busy.size > 0) return false;
      if (sampler.pendingSegments() > 0) return false;
      return unfinishedWork(db) === 0;
    },
    status() {
      return { ...pipelineStatus(db), pendingSegments: sampler.pendingSegments(), pgError: pg?.lastError ?? null };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      wake();
      await loop;
      await sampling;
      await summarising;
      await runner?.stop();
      if (pool && !deps.pool) await pool.close();
      await pg?.stop();
      logEvent(db, { kind: "alpr.stop", message: `ALPR stopped (${frameBacklog(db)} frame task(s) waiting)` });
    },
  };
}
