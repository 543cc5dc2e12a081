/**
 * Share-link fixture: the web fixture (test/web-fixture.ts: real SQLite, real ffmpeg-made ring
 * segments, users and sessions) plus what a share can hold, all made for real:
 * - 12 timelapse images of camera "front" (ffmpeg test pattern JPEGs, `images` rows with their
 *   SHA-256) and two timelapse batches (ids from 90001) rendered by `renderTimelapse` (real ffmpeg, H.264 MP4):
 *   `batchA` (frames 1-8 at 4 frames/s) and `batchB` (frames 5-12, the "other batch"); plus
 *   `pending`, a batch not rendered yet;
 * - trip 2 of the fixture saved (status `saved`, its segments evidence-locked in the ring: its
 *   MP4 is made on the fly);
 * - an incident clip file under exports/ (ffmpeg, 3 s H.264 MP4, named as export.ts names it).
 * Everything lives in the fixture's own temp directory.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createBatch, insertCapture, markBatchCompleted } from "../../src/db/timelapse.ts";
import { lockTripSegments, upsertSavedTrip } from "../../src/db/savedTrips.ts";
import { renderTimelapse } from "../../src/media/timelapse.ts";
import { makeFixture, T0, type WebFixture } from "../web-fixture.ts";

const FFMPEG = process.env.FFMPEG_PATH ?? "/usr/bin/ffmpeg";

export interface ShareFixture extends WebFixture {
  batchA: number;
  batchB: number;
  pending: number;
  savedTrip: number;
  /** The incident clip, relative to data_dir. */
  clip: string;
  /** Image SHA-256 hashes (must never reach a share page). */
  hashes: string[];
}

function ffmpeg(args: string[]): void {
  const r = Bun.spawnSync([FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", ...args], { stderr: "pipe" });
  if (!r.success) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
}

export async function makeShareFixture(): Promise<ShareFixture> {
  const f = await makeFixture();
  const rel = "timelapse/images/front/2024-05-01";
  mkdirSync(join(f.dir, rel), { recursive: true });
  ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=1", "-frames:v", "12", "-q:v", "4", join(f.dir, rel, "%02d.jpg")]);
  const ids: number[] = [];
  const hashes: string[] = [];
  for (let i = 1; i <= 12; i++) {
    const filePath = `${rel}/${String(i).padStart(2, "0")}.jpg`;
    const bytes = await Bun.file(join(f.dir, filePath)).bytes();
    const hash = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
    hashes.push(hash);
    const at = T0 + i * 60_000;
    ids.push(
      insertCapture(f.db, {
        cameraId: f.front.id, filename: `${i}.jpg`, filePath, bytes: bytes.length, width: 320, height: 240, format: "jpeg",
        fileHash: hash, capturedAt: at, attemptedAt: at, durationMs: 50, retryCount: 0,
      }).imageId,
    );
  }
  // batch ids of five digits above any port number, so "no other batch id on the page" is a real check
  f.db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('timelapse_batches', 90000)").run();
  const render = async (imageIds: number[]) => {
    const id = createBatch(f.db, { cameraId: f.front.id, cameraKey: "front", type: "manual", generationMode: "manual_only", frameRate: 4, overlay: false, now: T0 }, imageIds);
    const frames = imageIds.map((imageId) => {
      const i = ids.indexOf(imageId) + 1;
      return { image_id: imageId, file_path: `${rel}/${String(i).padStart(2, "0")}.jpg`, day_number: null, width: 320, height: 240, captured_at: T0 + i * 60_000 };
    });
    const relPath = `timelapse/videos/front/batch-${id}.mp4`;
    const r = await renderTimelapse({ dataDir: f.dir, relPath, frames, frameRate: 4, overlay: null, preset: "ultrafast" });
    markBatchCompleted(f.db, id, { at: T0 + 3_600_000, relPath, bytes: r.bytes, frames: r.frames, durationSeconds: r.durationSeconds });
    return id;
  };
  const batchA = await render(ids.slice(0, 8));
  const batchB = await render(ids.slice(4, 12));
  const pending = createBatch(f.db, { cameraId: f.front.id, cameraKey: "front", type: "manual", generationMode: "manual_only", frameRate: 4, overlay: false, now: T0 }, ids.slice(0, 3));

  // trip 2 saved: its ring segments evidence-locked, a saved_trips row, status saved
  const savedTrip = f.trips.closed;
  lockTripSegments(f.db, savedTrip, T0);
  upsertSavedTrip(f.db, { tripId: savedTrip, savedDir: "recordings/front", savedAtUtc: T0, mp4Path: null });
  f.db.prepare("UPDATE trips SET status = 'saved' WHERE id = ?").run(savedTrip);

  // an incident clip as export.ts names it: <camera>-<from>Z-<seconds>s-<incident id>.mp4
  mkdirSync(join(f.dir, "exports"), { recursive: true });
  const clip = "exports/front-20240501-080000Z-3s-inc-20240501-080001-000-front.mp4";
  ffmpeg(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", join(f.dir, clip)]);
  return Object.assign(f, { batchA, batchB, pending, savedTrip, clip, hashes });
}
