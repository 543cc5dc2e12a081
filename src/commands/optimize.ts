/**
 * `dashcam optimize --camera KEY [--keep-days N] [--json] [--config FILE]`
 *
 * Runs the heuristic optimizer for camera KEY (src/optimize/request.ts: capabilities, current
 * stream, measured health, the ring's disk and the days to keep, default 7), stores the
 * `optimizations` row and prints the recommendation: the stream (size, codec, frame rate,
 * bitrate, keyframe interval), exposure, low light and image settings, the confidence, the
 * warnings and why. `--json` prints the stored row as one JSON object instead.
 * - With a runtime running on the data directory, it asks it over the control socket
 *   (src/control.ts); with none, it runs in this process on the database.
 * Exit codes: 0 done; 2 bad usage, an unknown camera, or a camera that never recorded here.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { UsageError, parseCommandArgs } from "../cli.ts";
import { loadConfig } from "../config.ts";
import { openDatabase } from "../db/open.ts";
import { cameraIdByKey } from "../db/cameras.ts";
import { optimizationById, type OptimizationRow } from "../db/optimize.ts";
import { dbPath } from "../paths.ts";
import { controlRequest, liveControlSocket } from "../control.ts";
import { DEFAULT_KEEP_DAYS, runOptimization } from "../optimize/request.ts";
import type { RecommendedSettings } from "../optimize/heuristic.ts";

export const USAGE = "usage: dashcam optimize --camera KEY [--keep-days N] [--json] [--config FILE]";

export interface OptimizeArgs {
  camera: string;
  keepDays: number;
  json: boolean;
  config?: string;
}

/** Parses `optimize ...`; throws UsageError (exit 2) for anything malformed. */
export function parseOptimizeArgs(argv: string[]): OptimizeArgs {
  const { values, positionals } = parseCommandArgs(argv, { config: { type: "string" }, camera: { type: "string" }, "keep-days": { type: "string" }, json: { type: "boolean" } }, true);
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]!.slice(0, 40)}"; ${USAGE}`);
  if (!values.camera) throw new UsageError(`missing --camera; ${USAGE}`);
  let keepDays = DEFAULT_KEEP_DAYS;
  if (values["keep-days"] !== undefined) {
    const raw = values["keep-days"];
    if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 3650) throw new UsageError(`--keep-days must be a whole number of days 1..3650, got "${raw.slice(0, 20)}"`);
    keepDays = Number(raw);
  }
  return { camera: values.camera, keepDays, json: values.json === true, config: values.config };
}

/** The recommendation in plain lines (what the command prints without --json). */
export function describeOptimization(cameraKey: string, o: OptimizationRow): string[] {
  const r = o.recommended_settings as unknown as RecommendedSettings;
  const s = r.stream;
  const lines = [
    `recommendation ${o.id} for camera ${cameraKey} (${o.ai_provider}, confidence ${o.confidence?.toFixed(2)}, ${o.processing_time_ms} ms)`,
    `stream: ${s.resolution} ${s.codec}, ${s.fps} frames/s, ${s.bitrateKbps} kbit/s, a keyframe every ${s.gopSeconds} s`,
    `exposure: shutter ${r.exposure.shutter}${r.exposure.shutter === "auto" ? "" : " s"}, WDR ${r.exposure.wdr}`,
    `low light: day/night ${r.lowLight.dayNight}, IR ${r.lowLight.ir}, noise reduction ${r.lowLight.noiseReduction}`,
    `image: exposure compensation ${r.image.exposureCompensationEv > 0 ? "+" : ""}${r.image.exposureCompensationEv} EV, sharpening ${r.image.sharpening}`,
  ];
  for (const w of o.warnings) lines.push(`warning: ${w}`);
  if (o.explanation) lines.push(`why: ${o.explanation}`);
  return lines;
}

function print(cameraKey: string, o: OptimizationRow, json: boolean): void {
  const text = json ? JSON.stringify({ ...o, camera: cameraKey }) : describeOptimization(cameraKey, o).join("\n");
  process.stdout.write(text + "\n");
}

/** `dashcam optimize ...` (see the module comment). */
export async function run(argv: string[]): Promise<number> {
  const args = parseOptimizeArgs(argv);
  const config = loadConfig(args.config ?? process.env.DASHCAM_CONFIG);
  const dataDir = resolve(config.data_dir);
  const camera = config.cameras.find((c) => c.key === args.camera);
  if (!camera) throw new UsageError(`no camera "${args.camera.slice(0, 40)}" in the configuration`);
  const file = dbPath(dataDir);
  const socket = await liveControlSocket(dataDir);
  if (socket) {
    const r = await controlRequest(socket, "POST", "/optimize", { camera: args.camera, keepDays: args.keepDays }, 120_000);
    if (r.status === 400) throw new UsageError(String(r.body.error ?? "bad request"));
    if (r.status !== 200) {
      process.stderr.write(`dashcam optimize: ${String(r.body.error ?? `runtime answered ${r.status}`)}\n`);
      return 1;
    }
    const db = openDatabase(file, { readonly: true });
    try {
      print(args.camera, optimizationById(db, Number(r.body.optimizationId))!, args.json);
    } finally {
      db.close();
    }
    return 0;
  }
  if (!existsSync(file)) throw new UsageError(`no database in ${dataDir}: camera "${args.camera}" has never recorded there`);
  const db = openDatabase(file);
  try {
    const cameraId = cameraIdByKey(db, args.camera);
    if (cameraId === null) throw new UsageError(`camera "${args.camera}" has never recorded in ${dataDir}`);
    const sharing = config.cameras.filter((c) => c.enabled && c.record !== false).length;
    const r = await runOptimization(db, dataDir, camera, cameraId, { keepDays: args.keepDays, sharingCameras: sharing });
    print(args.camera, optimizationById(db, r.id)!, args.json);
    return 0;
  } finally {
    db.close();
  }
}
