/**
 * 50 concurrent HLS readers against the real server (Bun.serve on a random loopback port)
 * while a recorder stand-in indexes real MPEG-TS segment files (ffmpeg-made, ~16 MB each: the
 * size of a one-minute segment at 2 Mbit/s; hard-linked under new absolute indexes, committed
 * with the real indexer `commitSegment`) and the retention sweeper's
 * `enforceRing` runs after every segment in the same process, with a small ring (8 segments).
 * Big files matter: the server's read-lock lasts while it streams the file, and only a file
 * larger than the socket buffers keeps a slow client's response (and its lock) open.
 *
 * Readers loop: fetch a playlist, then a segment listed in it, and check the body.
 * - 40 "players" behave like HLS players at the live edge or playing the open trip: half the
 *   live playlist, half the trip's EVENT playlist, then one of its two newest segments.
 * - 10 "tail readers" deliberately read the OLDEST deletable segment of the trip playlist, the
 *   one retention deletes next, so their reads race the sweeps. A tail segment that retention
 *   deleted before the request arrived is a clean 404 "has no segment" (the footage is gone, as
 *   in any ring); it is counted, and its row must really be gone.
 * Checked:
 * - no read fails: every player request is 200; every accepted segment body (players and tail
 *   readers) is the exact file (hash of the source it was copied from, and its length);
 * - no locked segment is deleted: before each sweep the test records every row's `locked` and
 *   `evidence_locked` (the sweep is synchronous, so nothing changes during it); no row that
 *   vanished in the sweep had either; two evidence-locked segments survive to the end;
 * - the read-locks took part: some sweeps had to leave read-locked rows (a tail reader's
 *   segment) that were older than rows they deleted;
 * - afterwards every read-lock is released (`locked` = 0 everywhere) and the ring is back
 *   within capacity.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { validateConfig, type Config } from "../src/config.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { loadSecretKey } from "../src/secrets.ts";
import { commitSegment } from "../src/db/segments.ts";
import { setEvidenceLocked } from "../src/db/locks.ts";
import { enforceRing } from "../src/actors/retention.ts";
import { ringDirRel, segmentRelPath } from "../src/paths.ts";
import { LiveBus } from "../src/events.ts";
import { startWebServer } from "../src/web/server.ts";
import { makeSessions, type SessionCreds } from "./web-fixture.ts";

const FFMPEG = "/usr/bin/ffmpeg";
const READERS = 50;
const TAIL_READERS = 10;
const RING = 8;
const SEG_MS = 2000;
const PACE_MS = 300; // one new segment per 300 ms: a segment stays in the ring >= 2.1 s
const RUN_MS = 12_000;
const POOL = 2;
const POOL_SEG_S = 2;

let dir: string;
let db: Database;
let config: Config;
let cameraId: number;
let session: SessionCreds;
const poolHash: number[] = [];
const poolFiles: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "dashcam-hls-load-"));
  config = validateConfig(
    { data_dir: dir, http: { listen: "127.0.0.1:0" }, cameras: [{ key: "cam", name: "Cam", source: "testsrc", segment_seconds: 2, ring_segments: RING }] },
    dir,
  );
  db = openDatabase(join(dir, "dashcam.db"));
  cameraId = syncCameras(db, config.cameras, loadSecretKey(dir, true)).get("cam")!;
  session = (await makeSessions(db)).viewer;
  // big segments (~16 MB, noise compresses badly): a slow reader keeps its response, and so the
  // read-lock, open (Bun + the kernel buffer about 7 MB of a response on loopback)
  const pool = join(dir, "pool");
  mkdirSync(pool);
  const r = Bun.spawnSync(
    [
      FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin",
      "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-vf", "noise=alls=60:allf=t", "-t", String(POOL * POOL_SEG_S),
      "-c:v", "libx264", "-preset", "ultrafast", "-qp", "12", "-pix_fmt", "yuv420p", "-g", "25",
      "-f", "segment", "-segment_time", String(POOL_SEG_S), "-segment_format", "mpegts", join(pool, "%03d.ts"),
    ],
    { stderr: "pipe" },
  );
  if (!r.success) throw new Error(r.stderr.toString());
  for (const name of readdirSync(pool).sort()) {
    poolFiles.push(join(pool, name));
    poolHash.push(Number(Bun.hash(readFileSync(join(pool, name)))));
  }
  expect(poolFiles.length).toBe(POOL);
}, 60_000);

afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("50 concurrent HLS readers while retention runs: no read fails, no locked segment deleted", async () => {
  const ringDir = join(dir, ringDirRel("cam"));
  mkdirSync(ringDir, { recursive: true });
  const base = Date.now() - 3_600_000;
  let abs = 0;
  const record = () => {
    const rel = segmentRelPath("cam", abs);
    linkSync(poolFiles[abs % POOL]!, join(dir, rel));
    commitSegment(db, dir, { cameraId, absoluteIndex: abs, relPath: rel, startUtc: base + abs * SEG_MS, endUtc: base + (abs + 1) * SEG_MS, bytes: statSync(join(dir, rel)).size, codec: "h264", width: 640, height: 360, fps: 25 }, "load-boot");
    abs++;
  };
  for (let i = 0; i < 6; i++) record();
  // evidence: two early segments must outlive the whole run
  expect(setEvidenceLocked(db, [1, 2].map((a) => (db.query("SELECT id FROM segments WHERE absolute_index = ?").get(a) as { id: number }).id), true, "inc-load")).toBe(2);
  const tripId = (db.query("SELECT id FROM trips WHERE camera_id = ?").get(cameraId) as { id: number }).id;

  const web = startWebServer({ db, config, dataDir: dir, bus: new LiveBus(), startedAt: Date.now() });
  const stats = { sweeps: 0, deleted: 0, lockedSkipped: 0, maxRing: 0, lockedDeleted: [] as string[] };
  const failures: string[] = [];
  let goneBeforeRequest = 0;
  let tailReads = 0;
  let reads = 0;
  let playlists = 0;
  let bytesRead = 0;
  let stop = false;

  // the recorder + retention loop (synchronous sweep: no request is handled during it)
  const recorder = (async () => {
    while (!stop) {
      record();
      const before = db.query("SELECT id, absolute_index, locked, evidence_locked FROM segments WHERE camera_id = ? ORDER BY absolute_index").all(cameraId) as {
        id: number;
        absolute_index: number;
        locked: number;
        evidence_locked: number;
      }[];
      stats.maxRing = Math.max(stats.maxRing, before.length);
      const result = enforceRing(db, dir, config.cameras[0]!, cameraId);
      stats.sweeps++;
      stats.deleted += result.deleted;
      const after = new Set((db.query("SELECT id FROM segments WHERE camera_id = ?").all(cameraId) as { id: number }[]).map((r) => r.id));
      const gone = before.filter((r) => !after.has(r.id));
      for (const g of gone) if (g.locked > 0 || g.evidence_locked > 0) stats.lockedDeleted.push(`#${g.absolute_index} locked=${g.locked} evidence=${g.evidence_locked}`);
      if (gone.length > 0) {
        const newestGone = Math.max(...gone.map((g) => g.absolute_index));
        stats.lockedSkipped += before.filter((r) => r.locked > 0 && r.evidence_locked === 0 && r.absolute_index < newestGone && after.has(r.id)).length;
      }
      await Bun.sleep(PACE_MS);
    }
  })();

  const headers = { cookie: session.cookie };
  const poolSize = poolFiles.map((p) => statSync(p).size);
  async function reader(i: number): Promise<void> {
    const tail = i < TAIL_READERS;
    while (!stop) {
      const path = !tail && i % 2 === 0 ? "/cameras/cam/live.m3u8" : `/trips/${tripId}/playlist.m3u8`;
      const pl = await fetch(`${web.url}${path}`, { headers });
      const text = await pl.text();
      playlists++;
      if (pl.status !== 200) {
        failures.push(`${path}: ${pl.status} ${text.trim()}`);
        continue;
      }
      const uris = text.split("\n").filter((l) => l && !l.startsWith("#"));
      const absOf = (u: string) => Number(/\/(\d+)\.ts$/.exec(u)![1]);
      const uri = tail ? uris.find((u) => absOf(u) > 2)! : uris[uris.length - 1 - (i % 2)]!;
      const n = absOf(uri);
      const res = await fetch(`${web.url}${uri}`, { headers });
      if (res.status !== 200) {
        const why = (await res.text()).trim();
        const rowGone = db.query("SELECT 1 FROM segments WHERE camera_id = ? AND absolute_index = ?").get(cameraId, n) === null;
        if (tail && res.status === 404 && why === `404 camera "cam" has no segment ${n}` && rowGone) goneBeforeRequest++;
        else failures.push(`${uri}: ${res.status} ${why}`);
        continue;
      }
      // read slowly: the response stays in flight while new segments arrive and retention sweeps
      const reader = res.body!.getReader();
      const chunks: Uint8Array[] = [];
      let len = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        len += value.length;
        if (tail) await Bun.sleep(15); // a slow phone at the ring's tail
      }
      const body = new Uint8Array(len);
      let o = 0;
      for (const c of chunks) {
        body.set(c, o);
        o += c.length;
      }
      reads++;
      if (tail) tailReads++;
      else await Bun.sleep(1500); // a player fetches about one segment per target duration
      bytesRead += len;
      if (len !== poolSize[n % POOL]) failures.push(`${uri}: ${len} bytes, the file has ${poolSize[n % POOL]}`);
      else if (Number(Bun.hash(body)) !== poolHash[n % POOL]) failures.push(`${uri}: body differs from the file`);
    }
  }

  try {
    const readers = Array.from({ length: READERS }, (_, i) => reader(i));
    await Bun.sleep(RUN_MS);
    stop = true;
    await Promise.all(readers);
    await recorder;
  } finally {
    await web.stop();
  }
  // one more sweep with no reader left: the ring comes back within capacity
  const final = enforceRing(db, dir, config.cameras[0]!, cameraId);
  const left = db.query("SELECT absolute_index, locked, evidence_locked FROM segments WHERE camera_id = ? ORDER BY absolute_index").all(cameraId) as {
    absolute_index: number;
    locked: number;
    evidence_locked: number;
  }[];
  console.log(
    `hls load: ${READERS} readers, ${playlists} playlists, ${reads} segment reads (${tailReads} at the ring's tail, ${goneBeforeRequest} tail segments gone before the request; ${(bytesRead / 1e6).toFixed(0)} MB), ${stats.sweeps} sweeps, ` +
      `${stats.deleted + final.deleted} deleted, ${stats.lockedSkipped} read-locked rows left by sweeps, ring max ${stats.maxRing} rows (capacity ${RING} + 2 evidence)`,
  );

  expect(failures.slice(0, 5)).toEqual([]);
  expect(reads).toBeGreaterThan(READERS);
  expect(tailReads).toBeGreaterThan(0);
  expect(stats.lockedDeleted).toEqual([]);
  expect(stats.deleted).toBeGreaterThan(3);
  // the read-locks mattered: sweeps left read-locked rows older than rows they deleted
  expect(stats.lockedSkipped).toBeGreaterThan(0);
  // everything released, evidence kept, ring within capacity
  expect(left.filter((r) => r.locked !== 0)).toEqual([]);
  expect(left.filter((r) => r.evidence_locked).map((r) => r.absolute_index)).toEqual([1, 2]);
  expect(left.filter((r) => !r.evidence_locked).length).toBe(RING);
  // files on disk = rows (nothing deleted that still has a row, nothing left behind)
  const files = readdirSync(ringDir).filter((n) => n.endsWith(".ts")).length;
  expect(files).toBe(left.length);
}, 120_000);
