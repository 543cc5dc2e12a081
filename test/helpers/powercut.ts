/**
 * The SIGKILL soak of bounded loss (DESIGN.md invariant 6), shared by
 * test/e2e-powercut-loss.test.ts (a few kills, asserted) and bench/powercut-loss.ts (many kills,
 * numbers printed).
 *
 * `dashcam run` records two cameras: the highway clip as a looped `file:` source (stream-copied,
 * a keyframe every 10 s, so 10 s segments) and ffmpeg's test pattern (320x240, 10 frames/s,
 * 2 s segments). Each run is killed with SIGKILL of its whole process tree (bun and every
 * ffmpeg, as a power cut would: nothing gets to flush) at a random moment 2.5-14 s after its
 * recorders started; some runs ask for a save of the current trips over the control socket
 * (right after start-up, or at a random moment). Then the next run starts, with its own boot id.
 *
 * Loss of one camera at one kill (ms), measured after the restart's salvage, from the rows of
 * the killed run (start_utc after that run was spawned):
 * - when a segment of the run was indexed before the kill: kill time - (that segment's end +
 *   the durations of the run's segments after it, i.e. the salvaged ones); segment ends are
 *   anchored on wall-clock by the recorder when ffmpeg reports a segment closed;
 * - otherwise (killed inside the run's first segment): kill time - (the recorder's spawn time
 *   from camera_status.last_started_at + the durations of the run's segments). This counts
 *   ffmpeg's start-up (spawn to first packet) as loss too, so it is an upper bound.
 * A segment's duration is what ffmpeg measures in the file (reconcile salvage, src/media/probe.ts)
 * or ffmpeg's own segment times.
 *
 * Problems (returned as lines, empty when all holds): `dashcam check` not clean after a restart,
 * a row seen before a kill (evidence-locked or not) gone or changed, a save that picked a trip
 * of an earlier boot, a saved trip not `saved` at the end or whose MP4 ffprobe cannot read.
 */
import { rmSync, statSync, writeFileSync } from "node:fs";
import { openDatabase } from "../../src/db/open.ts";
import { tripById } from "../../src/db/views.ts";
import { streamTripMp4 } from "../../src/media/tripMp4.ts";
import { join } from "node:path";
import { controlRequest, controlSocketPath } from "../../src/control.ts";
import { probe } from "./media.ts";
import { HIGHWAY_CLIP } from "./rtsp.ts";
import { killWithArg, rng, sleep, waitFor } from "./proc.ts";
import { cameraStatusOf, dbFile, readDb, runCli, segmentsOf, startRuntime, tripsOf, writeConfig, type Runtime } from "./runtime.ts";

export interface SoakOptions {
  /** Temp directory (config and data_dir inside). */
  dir: string;
  kills: number;
  seed: number;
  /** `max_loss_seconds` of the config (default 2). */
  maxLossSeconds?: number;
  log?: (line: string) => void;
}

export interface LossSample {
  kill: number;
  camera: string;
  lossMs: number;
  /** "anchored" (a segment of the run was indexed before the kill) or "upper" (see the module comment). */
  kind: "anchored" | "upper";
  /** Duration of the salvaged segments of this camera at this restart, ms. */
  salvagedMs: number;
  salvagedBytes: number;
}

export interface SoakResult {
  losses: LossSample[];
  problems: string[];
  saves: number;
  savedTrips: number[];
  segments: number;
  seconds: number;
}

/** The two cameras and their frame duration (one packet), ms. */
export const SOAK_CAMERAS = [
  { key: "hwy", source: `file:${HIGHWAY_CLIP}`, segment_seconds: 10, packetMs: 40 },
  { key: "pat", source: "testsrc", segment_seconds: 2, width: 320, height: 240, fps: 10, packetMs: 100 },
] as const;

/** Runs the soak (see the module comment). Never throws for a broken invariant: it is a problem line. */
export async function runPowercutSoak(opts: SoakOptions): Promise<SoakResult> {
  const t0 = Date.now();
  const random = rng(opts.seed);
  const log = opts.log ?? (() => {});
  const dataDir = join(opts.dir, "data");
  const configPath = writeConfig(opts.dir, {
    data_dir: dataDir,
    cameras: SOAK_CAMERAS.map(({ packetMs: _, ...c }) => ({ ...c, ring_segments: 100_000, ...(opts.maxLossSeconds ? { max_loss_seconds: opts.maxLossSeconds } : {}) })),
  });
  const problems: string[] = [];
  const losses: LossSample[] = [];
  const savedTrips = new Set<number>();
  let saves = 0;
  /** `${key}/${abs}` -> bytes of every row seen before a kill */
  const seen = new Map<string, number>();
  let runtime: Runtime | null = null;

  const rowsOf = () => new Map(SOAK_CAMERAS.map((c) => [c.key, segmentsOf(dataDir, c.key)]));

  try {
    let previous: { spawnedAt: number; killedAt: number; startedAt: Map<string, number>; indexedBefore: Map<string, Set<number>> } | null = null;
    for (let i = 0; i <= opts.kills; i++) {
      const boot = `soak-${opts.seed}-${i}`;
      const spawnedAt = Date.now();
      runtime = await startRuntime(configPath, { env: { DASHCAM_BOOT_ID: boot }, timeoutMs: 60_000, label: `boot ${i}` });

      // a save right after start-up (the drive of THIS boot must be saved)
      const saveMode = random();
      const save = async (when: string) => {
        saves++;
        const r = await controlRequest(controlSocketPath(dataDir), "POST", "/trips/save", { current: true })
          .catch((e: Error) => ({ status: 0, body: { error: e.message } as Record<string, unknown> }));
        if (r.status !== 202) {
          problems.push(`run ${i}: save (${when}) answered ${r.status} ${JSON.stringify(r.body)}`);
          return;
        }
        const ids = r.body.trips as number[];
        const boots = readDb(dataDir, (db) => ids.map((id) => (db.query("SELECT boot_id FROM trips WHERE id = ?").get(id) as { boot_id: string } | null)?.boot_id)) ?? [];
        if (ids.length !== SOAK_CAMERAS.length || boots.some((b) => b !== boot))
          problems.push(`run ${i}: save (${when}) picked trips ${JSON.stringify(ids)} of boots ${JSON.stringify(boots)}, not this boot's ${boot}`);
        for (const id of ids) savedTrips.add(id);
      };
      if (i < opts.kills && saveMode < 0.3) await save("right after start-up");

      // the previous kill: measure its loss from what the salvage indexed, then the invariants
      if (previous) {
        const p = previous;
        const rows = rowsOf();
        for (const c of SOAK_CAMERAS) {
          const run = (rows.get(c.key) ?? []).filter((r) => r.start_utc > p.spawnedAt && r.start_utc < p.killedAt);
          const before = p.indexedBefore.get(c.key)!;
          const salvaged = run.filter((r) => !before.has(r.absolute_index));
          const salvagedMs = salvaged.reduce((a, r) => a + (r.end_utc - r.start_utc), 0);
          const salvagedBytes = salvaged.reduce((a, r) => a + (r.bytes ?? 0), 0);
          const lastIndexed = run.filter((r) => before.has(r.absolute_index)).at(-1);
          let lossMs: number;
          let kind: LossSample["kind"];
          if (lastIndexed) {
            const after = run.filter((r) => r.absolute_index > lastIndexed.absolute_index);
            lossMs = p.killedAt - (lastIndexed.end_utc + after.reduce((a, r) => a + (r.end_utc - r.start_utc), 0));
            kind = "anchored";
          } else {
            lossMs = p.killedAt - (p.startedAt.get(c.key)! + run.reduce((a, r) => a + (r.end_utc - r.start_utc), 0));
            kind = "upper";
          }
          losses.push({ kill: i - 1, camera: c.key, lossMs, kind, salvagedMs, salvagedBytes });
          log(`kill ${i - 1} ${c.key}: loss ${lossMs} ms (${kind}), salvaged ${salvaged.length} segment(s), ${(salvagedMs / 1000).toFixed(2)} s, ${salvagedBytes} bytes`);
        }
        const check = await runCli(["check", "--config", configPath], { env: { DASHCAM_BOOT_ID: boot } });
        if (check.code !== 0) problems.push(`run ${i}: dashcam check exit ${check.code}: ${check.stdout} ${check.stderr}`.trim());
        for (const c of SOAK_CAMERAS) {
          const now = new Map((rows.get(c.key) ?? []).map((r) => [r.absolute_index, r]));
          for (const [k, bytes] of seen) {
            const [key, abs] = k.split("/");
            if (key !== c.key) continue;
            const r = now.get(Number(abs));
            let size = -1;
            try {
              size = r ? statSync(join(dataDir, r.rel_path)).size : -1;
            } catch {
              /* missing */
            }
            if (!r || r.bytes !== bytes || size !== bytes) problems.push(`run ${i}: ${k} (${bytes} bytes) is now ${r ? `${r.bytes} bytes, file ${size}` : "gone"}`);
          }
        }
      }
      if (i === opts.kills) break;

      // the recorders' spawn times (the journal writes them within moments of start-up)
      const startedAt = await waitFor(`run ${i}: both recorders started`, () => {
        const m = new Map<string, number>();
        for (const c of SOAK_CAMERAS) {
          const s = cameraStatusOf(dataDir, c.key);
          if (s?.last_started_at && s.last_started_at >= spawnedAt) m.set(c.key, s.last_started_at);
        }
        return m.size === SOAK_CAMERAS.length ? m : null;
      }, 30_000, 50);
      const recStart = Math.max(...startedAt.values());
      const killAt = recStart + 2500 + Math.floor(random() * 11_500);
      if (saveMode >= 0.3 && saveMode < 0.7) {
        await sleep(Math.max(0, recStart + Math.floor(random() * (killAt - recStart)) - Date.now()));
        await save("while recording");
      }
      await sleep(Math.max(0, killAt - Date.now()));
      // what the database holds right before the cut
      const indexedBefore = new Map<string, Set<number>>();
      for (const [key, rows] of rowsOf()) {
        indexedBefore.set(key, new Set(rows.map((r) => r.absolute_index)));
        for (const r of rows) if (r.bytes !== null) seen.set(`${key}/${r.absolute_index}`, r.bytes);
      }
      const killedAt = Date.now();
      await runtime.kill();
      runtime = null;
      // an ffmpeg that escaped the process tree would keep writing, which after a power cut it cannot
      await sleep(200);
      const orphans = killWithArg(dataDir);
      if (orphans.length) problems.push(`run ${i}: ${orphans.length} ffmpeg process(es) outlived the kill`);
      log(`run ${i}: killed ${killedAt - recStart} ms after the recorders started`);
      previous = { spawnedAt, killedAt, startedAt, indexedBefore };
    }

    // the last run stops in order: every saved trip closes and its MP4 (made on the fly from the
    // kept segments, as `GET /trips/<id>/saved.mp4` makes it) plays
    const code = await runtime!.terminate();
    runtime = null;
    if (code !== 0) problems.push(`the last run exited ${code} on SIGTERM`);
    const db = openDatabase(dbFile(dataDir));
    try {
      for (const id of savedTrips) {
        const trip = tripById(db, id);
        if (trip?.status !== "saved") {
          problems.push(`saved trip ${id}: status ${trip?.status}`);
          continue;
        }
        const mp4 = join(opts.dir, `saved-trip-${id}.mp4`);
        try {
          const stream = streamTripMp4(db, dataDir, trip);
          if (!stream) {
            problems.push(`saved trip ${id}: no footage kept`);
            continue;
          }
          writeFileSync(mp4, new Uint8Array(await new Response(stream.body).arrayBuffer()));
          const p = await probe(mp4);
          if (p.video?.codec !== "h264" || !(p.duration > 0)) problems.push(`saved trip ${id}: its MP4 has ${JSON.stringify(p)}`);
        } catch (err) {
          problems.push(`saved trip ${id}: its MP4 cannot be made or read: ${(err as Error).message.split("\n")[0]}`);
        } finally {
          rmSync(mp4, { force: true });
        }
      }
    } finally {
      db.close();
    }
    const segments = SOAK_CAMERAS.reduce((a, c) => a + segmentsOf(dataDir, c.key).length, 0);
    const openTrips = SOAK_CAMERAS.reduce((a, c) => a + tripsOf(dataDir, c.key).filter((t) => t.end_time_utc === null).length, 0);
    if (openTrips) problems.push(`${openTrips} trip(s) still open after the orderly stop`);
    return { losses, problems, saves, savedTrips: [...savedTrips], segments, seconds: (Date.now() - t0) / 1000 };
  } finally {
    if (runtime) await runtime.kill();
    killWithArg(dataDir);
  }
}

/** Median of numbers (0 for none). */
export function median(values: number[]): number {
  if (!values.length) return 0;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
