/**
 * `dashcam trips save [--current | ID] [--config FILE]`: keeps a trip (evidence-locks its
 * segments where they are, in the ring: a saved trip is stored once; its MP4 is made when it is
 * downloaded from `/trips/<id>/saved.mp4`).
 *
 * - `ID`: that trip. `--current`: each camera's open trip, or, when no camera has one, the
 *   newest trip that is not evicted (`currentTripIds`).
 * - When a runtime is running on the configured data directory, the request goes through it:
 *   its control socket (`<data_dir>/control.sock` or its fallback, see src/control.ts) answers, the runtime's
 *   trip actor saves, and this command waits until the trip is saved and says where it is kept.
 * - When no runtime is running (no socket, or nobody answers on it), the save runs in this
 *   process on the database directly, through the same trip actor (journal, `saveTrip`).
 * - A trip still open (recording) is saved as far as it is recorded; its new segments are kept
 *   too until it closes (by the runtime).
 *
 * Output: one line per trip, `trip <id> saved: kept in <absolute ring directory> (MP4:
 * /trips/<id>/saved.mp4)` (or `saved so far`; a legacy MP4 the migration kept is named instead).
 * Exit codes: 0 saved; 1 the save failed (reason on stderr) or the runtime stopped meanwhile;
 * 2 bad usage, an unknown trip id, or nothing to save (one line on stderr).
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { createActor } from "xstate";
import { UsageError, parseCommandArgs } from "../cli.ts";
import { loadConfig, type CameraConfig } from "../config.ts";
import { openDatabase } from "../db/open.ts";
import { tripById } from "../db/views.ts";
import { currentTripIds, savedTripOf } from "../db/savedTrips.ts";
import { dbPath } from "../paths.ts";
import { currentBootId } from "../bootId.ts";
import { LiveBus } from "../events.ts";
import { Journal } from "../actors/journal.ts";
import { provideTrip } from "../actors/trip.ts";
import { controlRequest, liveControlSocket, NotRunningError } from "../control.ts";

export const USAGE = "usage: dashcam trips save [--current | ID] [--config FILE]";

/** What `trips save` was asked for. */
export type SaveTarget = { current: true } | { tripId: number };

/** Parses `trips save ...` arguments; throws UsageError (exit 2) for anything malformed. */
export function parseTripsArgs(argv: string[]): { target: SaveTarget; config: string | undefined } {
  const { values, positionals } = parseCommandArgs(argv, { config: { type: "string" }, current: { type: "boolean" } }, true);
  const [sub, ...rest] = positionals;
  if (sub === undefined) throw new UsageError(`missing subcommand; ${USAGE}`);
  if (sub !== "save") throw new UsageError(`unknown subcommand "${sub}"; ${USAGE}`);
  if (values.current && rest.length > 0) throw new UsageError(`give either --current or a trip ID, not both; ${USAGE}`);
  if (values.current) return { target: { current: true }, config: values.config };
  if (rest.length === 0) throw new UsageError(`missing trip ID (or --current); ${USAGE}`);
  if (rest.length > 1) throw new UsageError(`expected one trip ID, got ${rest.length}; ${USAGE}`);
  const raw = rest[0]!;
  if (!/^\d{1,15}$/.test(raw) || Number(raw) <= 0) throw new UsageError(`trip ID must be a positive integer, got "${raw.slice(0, 40)}"`);
  return { target: { tripId: Number(raw) }, config: values.config };
}

const out = (line: string) => process.stdout.write(line + "\n");
const err = (line: string) => process.stderr.write(`dashcam trips save: ${line}\n`);

function describeSaved(dataDir: string, tripId: number, mp4Path: string | null, stillOpen: boolean, savedDir: string | null): string {
  const where = mp4Path ? resolve(dataDir, mp4Path) : `kept in ${resolve(dataDir, savedDir ?? "recordings")} (MP4: /trips/${tripId}/saved.mp4)`;
  return stillOpen ? `trip ${tripId} saved so far: ${where}; still recording, new segments are kept too` : `trip ${tripId} saved: ${where}`;
}

/** Through the running runtime. Returns the exit code; throws NotRunningError when none runs. */
async function viaRuntime(socket: string, dataDir: string, target: SaveTarget): Promise<number> {
  let r = await controlRequest(socket, "POST", "/trips/save", target);
  for (let i = 0; r.status === 503 && i < 40; i++) {
    if (/powering down/.test(String(r.body.error))) break;
    await Bun.sleep(250); // the runtime is still starting
    r = await controlRequest(socket, "POST", "/trips/save", target);
  }
  if (r.status === 404 || r.status === 400) throw new UsageError(String(r.body.error ?? `runtime answered ${r.status}`));
  if (r.status !== 202) {
    err(String(r.body.error ?? `runtime answered ${r.status}`));
    return 1;
  }
  const ids = (r.body.trips as number[]) ?? [];
  let code = 0;
  for (const id of ids) {
    for (;;) {
      let s;
      try {
        s = await controlRequest(socket, "GET", `/trips/${id}`);
      } catch (e) {
        if (e instanceof NotRunningError) {
          err(`the runtime stopped while saving trip ${id}; the save resumes at its next start`);
          return 1;
        }
        throw e;
      }
      if (s.status !== 200) {
        err(String(s.body.error ?? `runtime answered ${s.status}`));
        code = 1;
        break;
      }
      const state = s.body.state as string | null;
      const status = s.body.status as string;
      if (status === "saved" && state !== "saving") {
        out(describeSaved(dataDir, id, s.body.mp4Path as string | null, s.body.endTimeUtc === null, (s.body.savedDir as string | null) ?? null));
        break;
      }
      if ((state === "open" || state === "closed" || state === null) && status !== "saving") {
        err(`trip ${id}: ${String(s.body.lastError ?? `not saved (status ${status})`)}`);
        code = 1;
        break;
      }
      await Bun.sleep(250);
    }
  }
  return code;
}

/** In this process, on the database, through the trip actor. Returns the exit code. */
async function inProcess(dataDir: string, cameras: CameraConfig[], target: SaveTarget): Promise<number> {
  const file = dbPath(dataDir);
  if (!existsSync(file)) throw new UsageError(`no database in ${dataDir}: nothing has been recorded there`);
  const db = openDatabase(file);
  const journal = new Journal(db);
  try {
    const ids = "current" in target ? currentTripIds(db) : [target.tripId];
    if (ids.length === 0) throw new UsageError("there is no trip to save");
    for (const id of ids) if (!tripById(db, id)) throw new UsageError(`no trip ${id}`);
    const machine = provideTrip({
      db,
      dataDir,
      bootId: currentBootId(),
      journal,
      bus: new LiveBus(),
      cameras: new Map(cameras.map((c) => [c.key, c])),
    });
    let code = 0;
    for (const id of ids) {
      const trip = tripById(db, id)!;
      if (trip.status === "evicted" || trip.fully_evicted) {
        err(`trip ${id} is evicted: the ring no longer holds its footage`);
        code = 1;
        continue;
      }
      if (trip.status === "saved" && trip.end_time_utc !== null) {
        out(describeSaved(dataDir, id, savedTripOf(db, id)?.mp4_path ?? null, false, savedTripOf(db, id)?.saved_dir ?? null));
        continue;
      }
      const actor = createActor(machine, { systemId: `trip:${id}`, input: { tripId: id, cameraKey: "" }, inspect: journal.inspect });
      actor.start();
      actor.send({ type: "SAVE", at: Date.now(), source: "cli" });
      await new Promise<void>((res) => {
        const settled = () => {
          const s = actor.getSnapshot();
          return s.status !== "active" || s.value !== "saving";
        };
        if (settled()) return res();
        const sub = actor.subscribe({
          next: () => {
            if (settled()) {
              sub.unsubscribe();
              res();
            }
          },
          error: () => res(),
        });
      });
      const snap = actor.getSnapshot();
      actor.stop();
      if (snap.value === "saved" || snap.value === "savedOpen") {
        out(describeSaved(dataDir, id, savedTripOf(db, id)?.mp4_path ?? null, snap.value === "savedOpen", savedTripOf(db, id)?.saved_dir ?? null));
      } else {
        err(`trip ${id}: ${snap.context.lastError ?? snap.context.failure ?? `not saved (${String(snap.value)})`}`);
        code = 1;
      }
    }
    return code;
  } finally {
    journal.close();
    db.close();
  }
}

/** `dashcam trips ...` (see the module comment). */
export async function run(argv: string[]): Promise<number> {
  const { target, config: path } = parseTripsArgs(argv);
  const config = loadConfig(path ?? process.env.DASHCAM_CONFIG);
  const dataDir = resolve(config.data_dir);
  const socket = await liveControlSocket(dataDir);
  if (socket) {
    try {
      return await viaRuntime(socket, dataDir, target);
    } catch (e) {
      // it stopped between the check and the request: nothing was asked of it
      if (!(e instanceof NotRunningError)) throw e;
    }
  }
  return inProcess(dataDir, config.cameras, target);
}
