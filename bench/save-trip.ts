/**
 * Save-trip benchmark: a trip made of real dashcam footage (../shared/data/video/highway-720p-25fps.mp4,
 * 1280x720 H.264, cut with `-c copy` into MPEG-TS segments like the recorder's, repeated to the
 * wanted length) is indexed into a temp data directory, then saved with `saveTripInRing`
 * (evidence lock in the ring, files checked: nothing is copied), then downloaded as the
 * on-the-fly MP4 (`streamTripMp4`: ffmpeg concat -> fragmented MP4 on stdout), read to the end.
 *
 * Prints: the save's wall time (first and repeated), and for the MP4: seconds to the first byte,
 * total seconds, bytes, MB/s, and the bytes of the segments it was made from.
 *
 * usage: bun bench/save-trip.ts [--minutes M] [--segment-seconds S] [--mbps R]   (default 20 min, 2 s)
 * `--mbps R`: instead of the highway clip (about 0.15 Mb/s), a 10 s 1280x720 clip of ffmpeg's
 * noisy test pattern encoded at R Mb/s (a dashcam's bitrate, e.g. 8) is repeated.
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
import { saveTripInRing } from "../src/actors/saveTrip.ts";
import { streamTripMp4 } from "../src/media/tripMp4.ts";
import { tripById } from "../src/db/views.ts";
import { resolveFfmpeg } from "../src/media/ffmpeg.ts";
import { probeMedia } from "../src/media/probe.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { minutes: { type: "string" }, "segment-seconds": { type: "string" }, mbps: { type: "string" } },
});
const minutes = Number(values.minutes ?? 20);
const segSeconds = Number(values["segment-seconds"] ?? 2);
const mbps = values.mbps === undefined ? null : Number(values.mbps);
const HIGHWAY = resolve(import.meta.dir, "../../shared/data/video/highway-720p-25fps.mp4");

const dir = mkdtempSync(join(tmpdir(), "dashcam-bench-save-"));
try {
  let VIDEO = HIGHWAY;
  if (mbps !== null) {
    VIDEO = join(dir, "noisy.mp4");
    const g = Bun.spawnSync([resolveFfmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-vf", "noise=alls=30:allf=t",
      "-t", "10", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", `${mbps}M`, "-maxrate", `${mbps}M`, "-bufsize", `${mbps}M`, "-g", String(25 * segSeconds), VIDEO]);
    if (g.exitCode !== 0) throw new Error(`ffmpeg could not make the clip: ${g.stderr.toString()}`);
  }
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

  for (const label of ["save", "save again (resume)"]) {
    const t0 = performance.now();
    const out = await saveTripInRing(db, dataDir, tripId);
    const ms = performance.now() - t0;
    console.log(`${label}: ${out.segments} segments, ${(out.bytes / 1e6).toFixed(1)} MB, ${(out.durationMs / 60000).toFixed(1)} min of video kept in the ring, ${ms.toFixed(0)} ms`);
  }
  for (const label of ["MP4 on the fly", "MP4 on the fly (warm cache)"]) {
    const t0 = performance.now();
    const mp4 = streamTripMp4(db, dataDir, tripById(db, tripId)!)!;
    const reader = mp4.body.getReader();
    let first = 0;
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (bytes === 0) first = performance.now() - t0;
      bytes += value.byteLength;
    }
    const total = performance.now() - t0;
    console.log(
      `${label}: ${mp4.parts} segments (${(mp4.bytes / 1e6).toFixed(1)} MB, ${(mp4.durationMs / 60000).toFixed(1)} min): ` +
        `first byte ${(first / 1000).toFixed(3)} s, total ${(total / 1000).toFixed(2)} s, MP4 ${(bytes / 1e6).toFixed(1)} MB, ${(bytes / 1e6 / (total / 1000)).toFixed(0)} MB/s`,
    );
  }
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
