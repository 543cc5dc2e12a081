/**
 * Save-trip benchmark: a trip made of real dashcam footage (../shared/data/video/highway-720p-25fps.mp4,
 * 1280x720 H.264, cut with `-c copy` into MPEG-TS segments like the recorder's, repeated to the
 * wanted length) is indexed into a temp data directory, then saved with `saveTripFiles`
 * (evidence lock, copy out of the ring with fsync, concat to one MP4 with faststart).
 *
 * Prints, for the first save and for a repeat (a resumed save: copies skipped, MP4 rebuilt):
 * segments, bytes, wall time, MB/s, and the MP4's size.
 *
 * usage: bun bench/save-trip.ts [--minutes M] [--segment-seconds S]   (default 5 min, 10 s)
 * Asserts nothing.
 */
import { parseArgs } from "node:util";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { validateConfig } from "../src/config.ts";
import { commitSegment } from "../src/db/segments.ts";
import { closeTrip } from "../src/db/trips.ts";
import { dbPath, segmentRelPath, ringDirRel } from "../src/paths.ts";
import { saveTripFiles } from "../src/actors/saveTrip.ts";
import { resolveFfmpeg } from "../src/media/ffmpeg.ts";
import { probeMedia } from "../src/media/probe.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { minutes: { type: "string" }, "segment-seconds": { type: "string" } },
});
const minutes = Number(values.minutes ?? 5);
const segSeconds = Number(values["segment-seconds"] ?? 10);
const VIDEO = resolve(import.meta.dir, "../../shared/data/video/highway-720p-25fps.mp4");

const dir = mkdtempSync(join(tmpdir(), "dashcam-bench-save-"));
try {
  // cut the clip into TS segments once
  const cut = join(dir, "cut");
  mkdirSync(cut);
  const r = Bun.spawnSync([resolveFfmpeg(), "-hide_banner", "-loglevel", "error", "-i", VIDEO, "-map", "0:v:0", "-c", "copy", "-bsf:v", "h264_mp4toannexb",
    "-f", "segment", "-segment_time", String(segSeconds), "-segment_format", "mpegts", join(cut, "%03d.ts")]);
  if (r.exitCode !== 0) throw new Error(`ffmpeg cut failed: ${r.stderr.toString()}`);
  const pieces = readdirSync(cut).sort().map((n) => join(cut, n));
  const durations: number[] = [];
  for (const p of pieces) durations.push((await probeMedia(p))?.durationSec ?? segSeconds);

  const dataDir = join(dir, "data");
  const config = validateConfig({ data_dir: dataDir, cameras: [{ key: "front", source: "testsrc", ring_segments: 100000 }] }, dir);
  mkdirSync(join(dataDir, ringDirRel("front")), { recursive: true });
  const db = openDatabase(dbPath(dataDir));
  const cameraId = syncCameras(db, config.cameras, null).get("front")!;
  let t = Date.UTC(2025, 0, 1);
  let n = 0;
  let recorded = 0;
  while (recorded < minutes * 60) {
    const i = n % pieces.length;
    const rel = segmentRelPath("front", n);
    copyFileSync(pieces[i]!, join(dataDir, rel));
    const ms = Math.round(durations[i]! * 1000);
    commitSegment(db, dataDir, { cameraId, absoluteIndex: n, relPath: rel, startUtc: t, endUtc: t + ms, bytes: statSync(join(dataDir, rel)).size }, "bench");
    t += ms;
    recorded += ms / 1000;
    n++;
  }
  const tripId = (db.query("SELECT id FROM trips").get() as { id: number }).id;
  closeTrip(db, tripId, t);

  for (const label of ["first save", "repeat (resume)"]) {
    const t0 = performance.now();
    const out = await saveTripFiles(db, dataDir, tripId);
    const ms = performance.now() - t0;
    const mp4 = statSync(join(dataDir, out.mp4Path)).size;
    console.log(
      `${label}: ${out.segments} segments, ${(out.bytes / 1e6).toFixed(1)} MB, ${(out.durationMs / 60000).toFixed(1)} min of video, ` +
        `${ms.toFixed(0)} ms, ${(out.bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s, MP4 ${(mp4 / 1e6).toFixed(1)} MB`,
    );
  }
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
