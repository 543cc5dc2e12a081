/**
 * `dashcam timelapse create --camera KEY (--from TIME --to TIME | --from-day N --to-day M) [--frame-rate N] [--overlay] [--no-wait] [--config FILE]`
 * `dashcam timelapse list [--json] [--config FILE]`
 *
 * `create` makes a manual batch of camera KEY's timelapse images captured between the two
 * times (Unix ms, or ISO 8601 with a zone, e.g. `2025-06-01T08:00:00Z`), or on the day numbers
 * N..M of the camera's day counter (inclusive), prints `batch <id>`
 * and, unless `--no-wait`, waits with a progress line (`rendering batch 7: 120/300 frames`) until
 * the batch ends, then prints the video's absolute path.
 * - With a runtime running on the data directory, the request goes through its control socket
 *   (src/control.ts) and the runtime's batch actor renders.
 * - With none, it runs in this process: the batch row and junction rows, then the same batch
 *   actor (journal, render) until it ends; `--no-wait` then only creates the batch, which the
 *   next `dashcam run` renders.
 * Exit codes: 0 completed (or created, with --no-wait); 1 the render failed or the runtime
 * stopped meanwhile; 2 bad usage, an unknown camera, or no images in the range.
 *
 * `list` prints one line per batch (newest first): id, camera, type, status, frames, frame
 * rate, duration, file; `--json` prints a JSON array of the rows instead.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { createActor } from "xstate";
import { UsageError, parseCommandArgs } from "../cli.ts";
import { loadConfig } from "../config.ts";
import { openDatabase } from "../db/open.ts";
import { batchById, listBatches, type BatchListRow } from "../db/timelapse.ts";
import { syncTimelapseSettings } from "../db/timelapse.ts";
import { cameraIdByKey } from "../db/cameras.ts";
import { dbPath } from "../paths.ts";
import { currentBootId } from "../bootId.ts";
import { LiveBus } from "../events.ts";
import { Journal } from "../actors/journal.ts";
import { provideTimelapseBatch } from "../actors/timelapseBatch.ts";
import { createManualBatch, TimelapseRequestError } from "../media/timelapse.ts";
import { parseUtc } from "../media/export.ts";
import { controlRequest, liveControlSocket, NotRunningError } from "../control.ts";

export const USAGE =
  "usage: dashcam timelapse create --camera KEY (--from TIME --to TIME | --from-day N --to-day M) [--frame-rate N] [--overlay] [--no-wait] [--config FILE] | dashcam timelapse list [--json] [--config FILE]";

export interface CreateArgs {
  camera: string;
  range: { fromUtc: number; toUtc: number } | { fromDay: number; toDay: number };
  frameRate: number | undefined;
  overlay: boolean;
  wait: boolean;
}

/** A time argument: Unix ms or ISO 8601 with a zone. Throws UsageError. */
function timeArg(name: string, raw: string | undefined): number {
  if (raw === undefined) throw new UsageError(`missing --${name}; ${USAGE}`);
  try {
    return parseUtc(raw, `--${name}`);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Parses `timelapse ...`; throws UsageError (exit 2) for anything malformed. */
export function parseTimelapseArgs(argv: string[]): { sub: "create"; create: CreateArgs; config?: string } | { sub: "list"; json: boolean; config?: string } {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      config: { type: "string" },
      camera: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      "from-day": { type: "string" },
      "to-day": { type: "string" },
      "frame-rate": { type: "string" },
      overlay: { type: "boolean" },
      "no-wait": { type: "boolean" },
      json: { type: "boolean" },
    },
    true,
  );
  const [sub, ...rest] = positionals;
  if (rest.length) throw new UsageError(`unexpected argument "${rest[0]!.slice(0, 40)}"; ${USAGE}`);
  if (sub === "list") return { sub, json: values.json === true, config: values.config };
  if (sub !== "create") throw new UsageError(sub === undefined ? `missing subcommand; ${USAGE}` : `unknown subcommand "${sub.slice(0, 40)}"; ${USAGE}`);
  if (!values.camera) throw new UsageError(`missing --camera; ${USAGE}`);
  let range: CreateArgs["range"];
  if (values["from-day"] !== undefined || values["to-day"] !== undefined) {
    if (values.from !== undefined || values.to !== undefined) throw new UsageError(`give --from/--to or --from-day/--to-day, not both; ${USAGE}`);
    const day = (name: string, raw: string | undefined) => {
      if (raw === undefined) throw new UsageError(`missing --${name}; ${USAGE}`);
      if (!/^\d{1,6}$/.test(raw)) throw new UsageError(`--${name} must be a day number (1, 2, ...), got "${raw.slice(0, 20)}"`);
      return Number(raw);
    };
    range = { fromDay: day("from-day", values["from-day"]), toDay: day("to-day", values["to-day"]) };
    if (range.toDay < range.fromDay) throw new UsageError("--to-day is before --from-day");
  } else {
    range = { fromUtc: timeArg("from", values.from), toUtc: timeArg("to", values.to) };
    if (range.toUtc < range.fromUtc) throw new UsageError("--to is before --from");
  }
  let frameRate: number | undefined;
  if (values["frame-rate"] !== undefined) {
    const fr = values["frame-rate"];
    if (!/^\d{1,3}$/.test(fr) || Number(fr) < 1 || Number(fr) > 120) throw new UsageError(`--frame-rate must be an integer 1..120, got "${fr.slice(0, 20)}"`);
    frameRate = Number(fr);
  }
  return {
    sub,
    create: { camera: values.camera, range, frameRate, overlay: values.overlay === true, wait: values["no-wait"] !== true },
    config: values.config,
  };
}

const out = (line: string) => process.stdout.write(line + "\n");
const err = (line: string) => process.stderr.write(`dashcam timelapse: ${line}\n`);

/** The progress line, rewritten in place on a terminal, one line per change otherwise. */
function progressWriter() {
  let last = "";
  const tty = process.stderr.isTTY === true;
  return {
    show(text: string) {
      if (text === last) return;
      last = text;
      process.stderr.write(tty ? `\r${text}\x1b[K` : `${text}\n`);
    },
    end() {
      if (tty && last) process.stderr.write("\n");
    },
  };
}

function describeDone(dataDir: string, b: Pick<BatchListRow, "id" | "output_path" | "total_frames" | "frame_rate" | "duration_seconds">): string {
  return `batch ${b.id} completed: ${b.output_path ? resolve(dataDir, b.output_path) : "(no file)"} (${b.total_frames} frames at ${b.frame_rate} fps, ${(b.duration_seconds ?? 0).toFixed(1)} s)`;
}

async function viaRuntime(socket: string, dataDir: string, a: CreateArgs): Promise<number> {
  const body = { camera: a.camera, ...a.range, frameRate: a.frameRate, overlay: a.overlay };
  let r = await controlRequest(socket, "POST", "/timelapses", body);
  for (let i = 0; r.status === 503 && i < 40 && !/powering down/.test(String(r.body.error)); i++) {
    await Bun.sleep(250);
    r = await controlRequest(socket, "POST", "/timelapses", body);
  }
  if (r.status === 400 || r.status === 404) throw new UsageError(String(r.body.error ?? `runtime answered ${r.status}`));
  if (r.status !== 202) {
    err(String(r.body.error ?? `runtime answered ${r.status}`));
    return 1;
  }
  const id = Number(r.body.batchId);
  out(`batch ${id}`);
  if (!a.wait) return 0;
  const progress = progressWriter();
  for (;;) {
    let s;
    try {
      s = await controlRequest(socket, "GET", `/timelapses/${id}`);
    } catch (e) {
      if (e instanceof NotRunningError) {
        progress.end();
        err(`the runtime stopped while rendering batch ${id}; the render resumes at its next start`);
        return 1;
      }
      throw e;
    }
    if (s.status !== 200) {
      progress.end();
      err(String(s.body.error ?? `runtime answered ${s.status}`));
      return 1;
    }
    const b = s.body as unknown as BatchListRow & { framesDone: number };
    if (b.status === "completed") {
      progress.end();
      out(describeDone(dataDir, b));
      return 0;
    }
    if (b.status === "failed") {
      progress.end();
      err(`batch ${id} failed: ${b.error_message ?? "unknown error"}`);
      return 1;
    }
    progress.show(`rendering batch ${id}: ${b.framesDone}/${b.total_frames} frames`);
    await Bun.sleep(250);
  }
}

async function inProcess(dataDir: string, config: ReturnType<typeof loadConfig>, a: CreateArgs): Promise<number> {
  const file = dbPath(dataDir);
  if (!existsSync(file)) throw new UsageError(`no database in ${dataDir}: nothing has been captured there`);
  const db = openDatabase(file);
  const journal = new Journal(db);
  try {
    const ids = new Map<string, number>();
    for (const c of config.cameras) {
      const id = cameraIdByKey(db, c.key);
      if (id !== null) ids.set(c.key, id);
    }
    syncTimelapseSettings(db, config.cameras, ids);
    let created;
    try {
      created = createManualBatch(db, { cameraKey: a.camera, range: a.range, frameRate: a.frameRate, overlay: a.overlay });
    } catch (e) {
      if (e instanceof TimelapseRequestError) throw new UsageError(e.message);
      throw e;
    }
    out(`batch ${created.batchId}`);
    if (!a.wait) return 0;
    const bus = new LiveBus();
    const progress = progressWriter();
    bus.subscribe((e) => {
      if (e.type === "timelapse" && e.batchId === created.batchId && e.status === "processing")
        progress.show(`rendering batch ${e.batchId}: ${e.framesDone}/${e.totalFrames} frames`);
    });
    const machine = provideTimelapseBatch({
      db,
      dataDir,
      bootId: currentBootId(),
      journal,
      bus,
      cameras: new Map(config.cameras.map((c) => [c.key, c])),
    });
    const actor = createActor(machine, {
      systemId: `timelapse:${created.batchId}`,
      input: { batchId: created.batchId, cameraKey: a.camera, cameraId: created.cameraId, batchType: "manual" },
      inspect: journal.inspect,
    });
    // a failed try is retried after a wait; on the command line the first failure ends it
    const ended = new Promise<void>((res) => {
      actor.subscribe({
        next: (s) => {
          if (s.status !== "active" || s.value === "retryWait") res();
        },
        error: () => res(),
        complete: () => res(),
      });
    });
    actor.start();
    await ended;
    const snap = actor.getSnapshot();
    actor.stop();
    progress.end();
    const b = batchById(db, created.batchId)!;
    if (b.status === "completed") {
      out(describeDone(dataDir, b));
      return 0;
    }
    err(`batch ${created.batchId} failed: ${snap.context.lastError ?? b.error_message ?? "unknown error"}${b.status === "pending" ? " (dashcam run retries it)" : ""}`);
    return 1;
  } finally {
    journal.close();
    db.close();
  }
}

function list(dataDir: string, json: boolean): number {
  const file = dbPath(dataDir);
  if (!existsSync(file)) throw new UsageError(`no database in ${dataDir}`);
  const db = openDatabase(file, { readonly: true });
  try {
    const rows = listBatches(db, undefined, 10_000);
    if (json) {
      out(JSON.stringify(rows));
      return 0;
    }
    if (rows.length === 0) out("no timelapse batches");
    for (const b of rows) {
      const file = b.output_path ? resolve(dataDir, b.output_path) : "-";
      out(
        `${b.id}\t${b.camera_key}\t${b.batch_type}\t${b.status}\t${b.total_frames} frames\t${b.frame_rate} fps\t${(b.duration_seconds ?? 0).toFixed(1)} s\t${file}${b.error_message ? `\t${b.error_message}` : ""}`,
      );
    }
    return 0;
  } finally {
    db.close();
  }
}

/** `dashcam timelapse ...` (see the module comment). */
export async function run(argv: string[]): Promise<number> {
  const args = parseTimelapseArgs(argv);
  const config = loadConfig(args.config ?? process.env.DASHCAM_CONFIG);
  const dataDir = resolve(config.data_dir);
  if (args.sub === "list") return list(dataDir, args.json);
  const socket = await liveControlSocket(dataDir);
  if (socket) {
    try {
      return await viaRuntime(socket, dataDir, args.create);
    } catch (e) {
      if (!(e instanceof NotRunningError)) throw e;
    }
  }
  return inProcess(dataDir, config, args.create);
}
