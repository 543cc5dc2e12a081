/**
 * The ALPR video benchmark at full size: all US photos (../shared/data/alpr/us, 178) as a
 * slideshow recording (2 s per photo, 1280x720, segment muxer + indexer, like the recorder),
 * read by the ALPR service (sampler -> vision pool -> dispatcher -> tracks -> vehicles).
 *
 * Prints: photos, vehicles rows, photos with exactly one row, photos whose row has the
 * ground-truth plate (ignoring case and spaces), rows outside any photo, frames sampled and
 * skipped, wall time and frames per second of the whole pipeline, frame files left on disk.
 *
 * usage: bun bench/alpr-video.ts [--photos N] [--workers W] [--fps R] [--vehicle-model FILE] [--verbose]
 * Asserts nothing.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { startAlprService } from "../src/actors/alpr.ts";
import { alprConfig, filesUnder, indexSlideshow, makeEnv, pickPhotos, recordSlideshow, waitFor } from "../test/alpr-helpers.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    photos: { type: "string" },
    workers: { type: "string" },
    fps: { type: "string" },
    "vehicle-model": { type: "string" },
    verbose: { type: "boolean", short: "v" },
  },
});
const N = Number(values.photos ?? 1000);
const workers = Number(values.workers ?? 2);
const fps = Number(values.fps ?? 1);
const SECS = 2;

const env = makeEnv("alpr-bench-");
try {
  const photos = pickPhotos(N);
  let t = performance.now();
  const show = await recordSlideshow(env, photos, { secondsPerPhoto: SECS, segmentSeconds: 10 });
  console.log(`recorded ${photos.length} photos as ${show.segments.length} segments in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const vm = values["vehicle-model"] ? `vehicle_model = "${values["vehicle-model"]}"\n` : "";
  const config = alprConfig(env, `${vm}sample_fps = ${fps}\nworkers = ${workers}\nbackfill_segments = 1000000\nmax_queue = 100000\ntrack_flush_ms = 500\npoll_ms = 100`);
  indexSlideshow(env, show);
  t = performance.now();
  const service = startAlprService({ db: env.db, config, dataDir: env.dataDir });
  await waitFor(() => service.isIdle(), 6 * 3600_000, "idle", 500);
  const secs = (performance.now() - t) / 1000;
  const status = service.status();
  await service.stop();
  const rows = env.db.query("SELECT final_plate, ts, plate_confidence FROM vehicles ORDER BY ts").all() as { final_plate: string; ts: number; plate_confidence: number }[];
  const per = new Map<number, string[]>();
  let outside = 0;
  for (const r of rows) {
    const i = Math.floor((r.ts - show.t0) / (SECS * 1000));
    if (i < 0 || i >= photos.length) outside++;
    else per.set(i, [...(per.get(i) ?? []), r.final_plate]);
  }
  let one = 0;
  let right = 0;
  let anyRight = 0;
  photos.forEach((p, i) => {
    const got = per.get(i) ?? [];
    if (got.length === 1) one++;
    if (got.length === 1 && got[0] === p.plate) right++;
    if (got.includes(p.plate)) anyRight++;
    if (values.verbose && !(got.length === 1 && got[0] === p.plate)) console.log(`  ${p.file}: truth ${p.plate}, rows ${got.join(",") || "(none)"}`);
  });
  const pct = (a: number) => `${((100 * a) / photos.length).toFixed(1)} %`;
  console.log(`workers ${workers}, sample_fps ${fps}, vehicle model ${values["vehicle-model"] ?? "none"}`);
  console.log(`photos ${photos.length}, vehicles rows ${rows.length} (outside any photo: ${outside})`);
  console.log(`photos with exactly one row: ${one} (${pct(one)})`);
  console.log(`photos whose single row has the right plate: ${right} (${pct(right)}); with a right row among several: ${anyRight} (${pct(anyRight)})`);
  console.log(`frames sampled ${status.sampledFrames}, skipped ${status.skippedFrames}, failed tasks ${status.failedTasks}`);
  console.log(`pipeline wall time ${secs.toFixed(1)} s, ${(status.sampledFrames / secs).toFixed(2)} frames/s end to end`);
  console.log(`frame files left: ${filesUnder(join(env.dataDir, "frames")).length}`);
} finally {
  env.cleanup();
}
