/**
 * `dashcam run [--config FILE]`: the recording runtime.
 *
 * Config: `--config FILE`, else `$DASHCAM_CONFIG`, else `defaultConfig()`; a bad config throws
 * ConfigError (one line, exit 2) before anything is written.
 *
 * `startRuntime(config)` (in-process, for tests and benches): creates `data_dir`, opens the
 * database, loads the secret key, syncs the camera rows, reconciles disk and database, restores
 * starts the web server, then restores (or creates) the supervisor actor tree with the real
 * implementations.
 * Its `stop()` is the orderly power-down, bounded by ~5 s:
 * 1. `SHUTDOWN`: every camera is sent STOP; each recorder asks ffmpeg to finalise its current
 *    segment, which is indexed, and the camera reaches `stopped` (or is killed after 3.5 s);
 * 2. segment files a recorder left without a row are settled (salvaged or deleted, bounded);
 *    `TRIPS.CLOSE` (reason `shutdown`): open trips are closed at their last segment;
 * 3. the actor system stops, the web server stops, the database closes.
 * `run()` prints `listening on http://HOST:PORT` on stdout once the server is up, waits for
 * SIGTERM or SIGINT, powers down and returns 0 (1 when the actor tree failed).
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Database } from "bun:sqlite";
import { parseCommandArgs } from "./cli.ts";
import { defaultConfig, loadConfig, type CameraConfig, type Config } from "./config.ts";
import { openDatabase } from "./db/open.ts";
import { dbPath } from "./paths.ts";
import { loadSecretKey } from "./secrets.ts";
import { syncCameras } from "./db/cameras.ts";
import { markDisabledCameras } from "./db/cameraStatus.ts";
import { currentBootId } from "./bootId.ts";
import { reconcileAtStartup, salvageInterrupted } from "./actors/reconcile.ts";
import { ensureTripActor } from "./actors/camera.ts";
import { LiveBus } from "./events.ts";
import { Journal } from "./actors/journal.ts";
import { startSupervisor, type SupervisorActor } from "./actors/supervisor.ts";
import type { TripDeps } from "./actors/trip.ts";
import { cameraStateName } from "./machines/camera.ts";
import { log } from "./log.ts";

/** Budget for the cameras' graceful stop during power-down, ms (the whole stop has 5 s). */
export const SHUTDOWN_CAMERA_WAIT_MS = 4_000;

export interface RuntimeHandle {
  /** Base URL of the web server, e.g. `http://127.0.0.1:41234`. */
  url: string;
  db: Database;
  bus: LiveBus;
  supervisor: SupervisorActor;
  bootId: string;
  /** Orderly power-down (idempotent). */
  stop(): Promise<void>;
  /** Resolves with an error message when the actor tree fails (never resolves otherwise). */
  failed: Promise<string>;
}

export interface RuntimeOptions {
  /** Extra dependencies (issue 3's saveTrip, test overrides). */
  deps?: Partial<Pick<TripDeps, "saveTrip" | "recorder" | "commitSegment" | "enforceRing">>;
}

const ONLINE = new Set(["starting", "recording", "stalled", "stopping"]);

/**
 * Budget for settling interrupted segments during power-down, ms (within the 5 s, after the
 * cameras stopped). After a graceful stop there is normally nothing to settle; a leftover of an
 * earlier failure needs ~1.5 s (salvage waits for the file to be quiet, then probes it).
 */
export const SHUTDOWN_SETTLE_MS = 2_000;

/**
 * Salvages (or deletes) segment files the stopped recorders left without a row, so they join
 * the trip before it closes. Bounded by `budgetMs`; whatever is left is settled at next start.
 */
async function settleAll(deps: TripDeps, cameras: CameraConfig[], cameraIds: Map<string, number>, budgetMs: number): Promise<void> {
  const work = Promise.all(
    cameras.map(async (c) => {
      const id = cameraIds.get(c.key);
      if (id === undefined || !c.enabled) return;
      try {
        await (deps.salvage ?? salvageInterrupted)(deps.db, deps.dataDir, c, id, deps.bootId);
      } catch (err) {
        log.warn(`power-down: camera ${c.key}: settling interrupted segments failed: ${(err as Error).message}`);
      }
    }),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([work, new Promise((res) => (timer = setTimeout(res, budgetMs)))]);
  clearTimeout(timer);
}

/** Resolves when no camera actor is in a running state, or after `timeoutMs`. Returns the laggards. */
async function waitForCamerasStopped(supervisor: SupervisorActor, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const busy = Object.entries(supervisor.system.getAll())
      .filter(([id, ref]) => id.startsWith("camera:") && ONLINE.has(cameraStateName((ref.getSnapshot() as { value?: unknown }).value)))
      .map(([id]) => id);
    if (busy.length === 0 || Date.now() >= deadline) return busy;
    await Bun.sleep(25);
  }
}

/** Starts the runtime in this process (see the module comment). Throws on start-up failure. */
export async function startRuntime(config: Config, opts: RuntimeOptions = {}): Promise<RuntimeHandle> {
  const startedAt = Date.now();
  const dataDir = resolve(config.data_dir);
  mkdirSync(dataDir, { recursive: true });
  const db = openDatabase(dbPath(dataDir));
  let supervisor: SupervisorActor | null = null;
  let web: { url: string; stop(): Promise<void> } | null = null;
  let journal: Journal | null = null;
  try {
    const secret = loadSecretKey(dataDir);
    const cameraIds = syncCameras(db, config.cameras, secret);
    markDisabledCameras(db, Date.now());
    const bootId = currentBootId();
    const report = await reconcileAtStartup(db, dataDir, config.cameras, cameraIds, bootId);
    if (report.repairs.length > 0) log.info(`reconcile: ${report.repairs.length} repair(s) at start-up`);

    const bus = new LiveBus();
    // the web server first: a busy port fails before any camera starts. Loaded here, not at
    // module load, so `run` reports a bad config before loading the web app.
    const { startWebServer } = await import("./web/server.ts");
    web = startWebServer({ db, config, dataDir, bus, startedAt });
    const server = web;
    journal = new Journal(db);
    const cameras = new Map<string, CameraConfig>(config.cameras.map((c) => [c.key, c]));
    const deps: TripDeps = { db, dataDir, bootId, journal, bus, cameras, ...opts.deps };
    supervisor = startSupervisor(deps, config.cameras, cameraIds);

    let reportFailure: (message: string) => void = () => {};
    const failed = new Promise<string>((res) => (reportFailure = res));
    const sup = supervisor;
    sup.subscribe({
      error: (err) => {
        log.error(`supervisor failed: ${(err as Error)?.message ?? String(err)}`);
        reportFailure((err as Error)?.message ?? String(err));
      },
    });

    const j = journal;
    let stopping: Promise<void> | null = null;
    const stop = () =>
      (stopping ??= (async () => {
        const t0 = Date.now();
        try {
          if (sup.getSnapshot().status === "active") {
            sup.send({ type: "SHUTDOWN", at: Date.now() });
            const busy = await waitForCamerasStopped(sup, SHUTDOWN_CAMERA_WAIT_MS);
            if (busy.length) log.warn(`power-down: ${busy.join(", ")} still stopping; killing the recorder`);
            else await settleAll(deps, config.cameras, cameraIds, Math.min(SHUTDOWN_SETTLE_MS, 4_500 - (Date.now() - t0)));
            // every open trip of this boot gets an actor (a salvage may have opened one), then all close
            for (const c of config.cameras) {
              const id = cameraIds.get(c.key);
              if (id !== undefined) ensureTripActor(deps, sup.system, c.key, id);
            }
            sup.send({ type: "TRIPS.CLOSE", at: Date.now(), reason: "shutdown" });
          }
        } catch (err) {
          log.error(`power-down: ${(err as Error).message}`);
        }
        j.close();
        if (sup.getSnapshot().status === "active") sup.stop();
        else {
          // the root failed: its children are still running (XState does not stop them); stop
          // each one (internal _stop: a non-root actor cannot be stopped through stop())
          for (const [id, ref] of Object.entries(sup.system.getAll())) {
            if (id !== "supervisor") (ref as unknown as { _stop?: () => void })._stop?.();
          }
        }
        await server.stop();
        db.close();
        log.info(`power-down complete in ${Date.now() - t0} ms`);
      })());
    return { url: server.url, db, bus, supervisor: sup, bootId, stop, failed };
  } catch (err) {
    journal?.close();
    supervisor?.stop();
    await web?.stop();
    db.close();
    throw err;
  }
}

/** `dashcam run [--config FILE]`. */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { config: { type: "string" } });
  const path = values.config ?? process.env.DASHCAM_CONFIG;
  const config = path ? loadConfig(path) : defaultConfig();

  const handle = await startRuntime(config);
  process.stdout.write(`listening on ${handle.url}\n`);
  log.info(`dashcam running: ${config.cameras.length} camera(s), data in ${config.data_dir}, boot ${handle.bootId}`);

  const reason = await new Promise<string>((res) => {
    const onSignal = (sig: string) => () => res(sig);
    process.once("SIGTERM", onSignal("SIGTERM"));
    process.once("SIGINT", onSignal("SIGINT"));
    handle.failed.then((m) => res(`failure: ${m}`));
  });
  log.info(`${reason}: powering down`);
  await handle.stop();
  const code = reason.startsWith("failure") ? 1 : 0;
  // safety net: a straggler (a child's kill timer, a client socket) must not hold the process
  setTimeout(() => process.exit(code), 2_000).unref();
  return code;
}
