/**
 * Read-locks, evidence locks, clip export, snapshots and incident clips with real ffmpeg on
 * small generated MPEG-TS segments (320x240, 25 fps, one keyframe per second, 2 s segments cut
 * by ffmpeg's segment muxer as the recorder does), a real SQLite file,
 * real HTTP for the streaming read-lock, and ffprobe to check the results.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { parseConfigText } from "../src/config.ts";
import { openDatabase } from "../src/db/open.ts";
import { acquireRangeReadLock, acquireReadLock, newIncidentId, setEvidenceLocked } from "../src/db/locks.ts";
import {
  ExportFailedError,
  MediaRequestError,
  beginIncident,
  exportClip,
  exportIncident,
  incidentReadyAt,
  incidentWindow,
  parseUtc,
  planClip,
  segmentResponse,
  validateRange,
  type Progress,
} from "../src/media/export.ts";
import { saveSnapshot, snapshotAt, snapshotLive } from "../src/media/snapshot.ts";

const FFMPEG = "/usr/bin/ffmpeg";
const FFPROBE = "/usr/bin/ffprobe";
const T0 = Date.UTC(2025, 5, 1, 8, 0, 0);
const SEG_MS = 2000;
const NSEG = 4;

let dir: string;
let db: Database;
let cam: number;
let segIds: number[] = [];

function ffprobeJson(path: string): { format: { duration: string }; streams: { codec_name: string; codec_type: string; width?: number }[] } {
  const r = Bun.spawnSync([FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", path]);
  if (r.exitCode !== 0) throw new Error(`ffprobe failed: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString());
}

/** MD5 of the first decoded frame (gray), to compare pictures across files. */
function firstFrameHash(path: string): string {
  const r = Bun.spawnSync([FFMPEG, "-v", "error", "-i", path, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"]);
  if (r.exitCode !== 0 || r.stdout.length !== 320 * 240) throw new Error(`decode failed: ${r.stderr.toString()}`);
  return new Bun.CryptoHasher("md5").update(r.stdout).digest("hex");
}


const lockCounts = () => (db.query("SELECT locked FROM segments WHERE camera_id = ? ORDER BY absolute_index").all(cam) as { locked: number }[]).map((r) => r.locked);
const exportFiles = () => (existsSync(join(dir, "exports")) ? readdirSync(join(dir, "exports")) : []);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "product-media-"));
  db = openDatabase(join(dir, "dashcam.db"));
  cam = Number(db.query("INSERT INTO cameras (key, name) VALUES ('front', 'Front') RETURNING id").get() ? (db.query("SELECT id FROM cameras WHERE key='front'").get() as { id: number }).id : 0);
  const ring = join(dir, "recordings", "front");
  mkdirSync(ring, { recursive: true });
  // like the recorder: one ffmpeg run, segment muxer, timestamps continue across segments
  const r = Bun.spawnSync([
    FFMPEG, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", `testsrc2=size=320x240:rate=25:duration=${(NSEG * SEG_MS) / 1000}`,
    "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
    "-f", "segment", "-segment_time", String(SEG_MS / 1000), "-segment_format", "mpegts", join(ring, "%09d.ts"),
  ]);
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  const ins = db.prepare(
    `INSERT INTO segments (camera_id, segment_index, segment_gen, absolute_index, start_utc, end_utc, rel_path, bytes)
     VALUES ($cam, $i, 0, $i, $start, $end, $rel, $bytes) RETURNING id`,
  );
  for (let i = 0; i < NSEG; i++) {
    const rel = join("recordings", "front", `${String(i).padStart(9, "0")}.ts`);
    const row = ins.get({ cam, i, start: T0 + i * SEG_MS, end: T0 + (i + 1) * SEG_MS, rel, bytes: statSync(join(dir, rel)).size }) as { id: number };
    segIds.push(row.id);
  }
});
afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("read-locks", () => {
  test("a count: overlapping readers stack, each release takes one, never below 0, idempotent", () => {
    const a = acquireReadLock(db, [segIds[0]!, segIds[1]!]);
    const b = acquireReadLock(db, [segIds[1]!, segIds[2]!, 999_999]);
    expect(b.segmentIds).toEqual([segIds[1]!, segIds[2]!]); // unknown id skipped
    expect(lockCounts()).toEqual([1, 2, 1, 0]);
    a.release();
    a.release();
    expect(lockCounts()).toEqual([0, 1, 1, 0]);
    db.query("UPDATE segments SET locked = 0").run(); // start-up reconcile cleared the counts
    b[Symbol.dispose]();
    expect(lockCounts()).toEqual([0, 0, 0, 0]);
  });

  test("`using` releases when the block throws; `await using` too", async () => {
    expect(() => {
      using lock = acquireRangeReadLock(db, cam, T0, T0 + 3000);
      expect(lock.segments.map((s) => s.id)).toEqual([segIds[0]!, segIds[1]!]);
      expect(lockCounts()).toEqual([1, 1, 0, 0]);
      throw new Error("export blew up");
    }).toThrow("export blew up");
    expect(lockCounts()).toEqual([0, 0, 0, 0]);
    await expect(
      (async () => {
        await using lock = acquireReadLock(db, [segIds[3]!]);
        expect(lockCounts()).toEqual([0, 0, 0, 1]);
        await Bun.sleep(1);
        throw new Error("async failure");
      })(),
    ).rejects.toThrow("async failure");
    expect(lockCounts()).toEqual([0, 0, 0, 0]);
  });

  test("a streaming HTTP response holds the lock until the client disconnects mid-body", async () => {
    // a big 'segment' so the body cannot be sent in one go
    const rel = join("recordings", "front", "big.ts");
    writeFileSync(join(dir, rel), crypto.getRandomValues(new Uint8Array(8 * 1024 * 1024)).map((x) => x));
    const big = (db.query(
      "INSERT INTO segments (camera_id, segment_index, segment_gen, absolute_index, start_utc, end_utc, rel_path) VALUES (?, 99, 0, 99, ?, ?, ?) RETURNING id",
    ).get(cam, T0 - 100_000, T0 - 98_000, rel) as { id: number }).id;
    const lockedOf = (id: number) => (db.query("SELECT locked FROM segments WHERE id = ?").get(id) as { locked: number }).locked;
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: async (req) => (await segmentResponse(db, dir, Number(new URL(req.url).pathname.slice(1)))) ?? new Response("no", { status: 404 }),
    });
    try {
      // 1. the client goes away after the first chunk
      const ac = new AbortController();
      const res = await fetch(`http://127.0.0.1:${server.port}/${big}`, { signal: ac.signal });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(first.value!.length).toBeGreaterThan(0);
      expect(lockedOf(big)).toBe(1); // held while the body is being sent
      ac.abort();
      await reader.cancel().catch(() => {});
      for (let i = 0; i < 500 && lockedOf(big) !== 0; i++) await Bun.sleep(10);
      expect(lockedOf(big)).toBe(0);
      // 2. a complete read releases it too, and the bytes are the file's
      const full = await fetch(`http://127.0.0.1:${server.port}/${segIds[0]}`);
      const body = new Uint8Array(await full.arrayBuffer());
      expect(body.length).toBe(statSync(join(dir, "recordings", "front", "000000000.ts")).size);
      for (let i = 0; i < 100 && lockedOf(segIds[0]!) !== 0; i++) await Bun.sleep(10);
      expect(lockedOf(segIds[0]!)).toBe(0);
      expect((await fetch(`http://127.0.0.1:${server.port}/424242`)).status).toBe(404);
    } finally {
      server.stop(true);
      db.query("DELETE FROM segments WHERE id = ?").run(big);
    }
  });
});

describe("evidence locks (seed 002 COALESCE semantics)", () => {
  const row = (id: number) => db.query("SELECT evidence_locked AS e, incident_id AS i FROM segments WHERE id = ?").get(id) as { e: number; i: string | null };

  test("tag kept when none is given; replaced when one is; rows affected", () => {
    const [s0, s1] = [segIds[0]!, segIds[1]!];
    expect(setEvidenceLocked(db, [s0, s1], true, "inc-A")).toBe(2);
    expect(row(s0)).toEqual({ e: 1, i: "inc-A" });
    expect(setEvidenceLocked(db, [s0], true)).toBe(1); // re-lock without a tag: tag kept
    expect(row(s0)).toEqual({ e: 1, i: "inc-A" });
    expect(setEvidenceLocked(db, [s0, s1], false, null)).toBe(2); // unlock: tag kept
    expect(row(s0)).toEqual({ e: 0, i: "inc-A" });
    expect(row(s1)).toEqual({ e: 0, i: "inc-A" });
    expect(setEvidenceLocked(db, [s1], true, "inc-B")).toBe(1);
    expect(row(s1)).toEqual({ e: 1, i: "inc-B" });
    expect(setEvidenceLocked(db, [987_654], true, "inc-C")).toBe(0);
    // range form: segments overlapping [T0+4000, T0+4001) = segment 2 only
    expect(setEvidenceLocked(db, { cameraId: cam, fromUtc: T0 + 4000, toUtc: T0 + 4001 }, true, "inc-R")).toBe(1);
    expect(row(segIds[2]!)).toEqual({ e: 1, i: "inc-R" });
    const logged = db.query("SELECT COUNT(*) AS n FROM event_log WHERE kind LIKE 'segment.evidence_%'").get() as { n: number };
    expect(logged.n).toBe(5);
    // leave clean for the rest
    db.query("UPDATE segments SET evidence_locked = 0, incident_id = NULL").run();
  });

  test("incident ids are unique and readable", () => {
    const a = newIncidentId(T0);
    expect(a).toMatch(/^inc-20250601-080000-[0-9a-f]{6}$/);
    expect(newIncidentId(T0)).not.toBe(a);
  });
});

describe("validation", () => {
  test("times, ranges, unknown camera, no footage: typed 4xx, nothing written", async () => {
    const err = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as MediaRequestError;
      }
      throw new Error("did not throw");
    };
    expect(parseUtc("1717228800000")).toBe(1717228800000);
    expect(parseUtc("2025-06-01T08:00:02.5Z")).toBe(T0 + 2500);
    expect(parseUtc("2025-06-01T10:00:00+02:00")).toBe(T0);
    for (const bad of ["yesterday", "2025-06-01T08:00:00", "2025-13-45T99:00:00Z", "", "-5", "1e9", null])
      expect({ bad, status: err(() => parseUtc(bad)).status }).toEqual({ bad, status: 400 });
    expect(err(() => validateRange(T0 + 5000, T0)).code).toBe("bad_range");
    expect(err(() => validateRange(T0, T0)).code).toBe("bad_range");
    const huge = err(() => validateRange(T0, T0 + 3 * 3600 * 1000));
    expect([huge.code, huge.status]).toEqual(["too_long", 413]);

    const cases: [Parameters<typeof exportClip>[2], string, number][] = [
      [{ cameraId: cam, fromUtc: T0 + 4000, toUtc: T0 + 1000 }, "bad_range", 400],
      [{ cameraId: cam, fromUtc: T0, toUtc: T0 + 3 * 3600 * 1000 }, "too_long", 413],
      [{ cameraId: 4242, fromUtc: T0, toUtc: T0 + 1000 }, "unknown_camera", 404],
      [{ cameraId: cam, fromUtc: T0 - 60_000, toUtc: T0 - 30_000 }, "no_footage", 404],
      [{ cameraId: cam, fromUtc: T0 + 3_600_000, toUtc: T0 + 3_700_000 }, "no_footage", 404],
    ];
    for (const [req, code, status] of cases) {
      const e = await exportClip(db, dir, req).catch((x) => x);
      expect(e).toBeInstanceOf(MediaRequestError);
      expect({ code: e.code, status: e.status }).toEqual({ code, status });
    }
    expect(exportFiles()).toEqual([]);
    expect(lockCounts()).toEqual([0, 0, 0, 0]);
    const snapErr = await snapshotAt(db, dir, { cameraId: cam, atUtc: T0 - 1 }).catch((x) => x);
    expect([snapErr.code, snapErr.status]).toEqual(["no_footage", 404]);
  });

  test("planClip skips holes and clamps to the recording", () => {
    const segs = [
      { start_utc: 0, end_utc: 2000 },
      { start_utc: 2000, end_utc: 4000 },
      { start_utc: 10_000, end_utc: 12_000 },
    ];
    expect(planClip(segs, 1000, 11_000)).toEqual({ offsetMs: 1000, durationMs: 1000 + 2000 + 1000, coveredFrom: 1000, coveredTo: 11_000 });
    expect(planClip(segs, -5000, 1000)).toEqual({ offsetMs: 0, durationMs: 1000, coveredFrom: 0, coveredTo: 1000 });
    expect(planClip([], 0, 1000)).toBeNull();
  });
});

describe("clip export", () => {
  test("MP4 (-c copy, faststart) whose duration matches the range within a GOP; lock held during, released after", async () => {
    const progress: Progress[] = [];
    const locksDuring: number[][] = [];
    const res = await exportClip(db, dir, { cameraId: cam, fromUtc: T0 + 2500, toUtc: T0 + 6500 }, (p) => {
      progress.push(p);
      locksDuring.push(lockCounts());
    });
    expect(res.reused).toBe(false);
    expect(res.segments).toBe(3);
    expect(res.durationMs).toBe(4000);
    // starts at the keyframe at or before T0+2.5 s: keyframes every 1 s -> T0+2 s
    expect(res.startUtc).toBe(T0 + 2000);
    expect(res.clipMs).toBe(4500);
    const file = join(dir, res.relPath);
    expect(res.relPath).toStartWith("exports/front-20250601-080002Z-4s");
    expect(statSync(file).size).toBe(res.bytes);
    const info = ffprobeJson(file);
    const dur = Number(info.format.duration);
    expect(Math.abs(dur - 4)).toBeLessThanOrEqual(1.04); // within one GOP (1 s) + one frame of the range
    expect(Math.abs(dur - res.clipMs / 1000)).toBeLessThanOrEqual(0.05);
    // the first frame is the keyframe at T0+2 s: the first frame of segment 1, decoded from the ring
    expect(firstFrameHash(file)).toBe(firstFrameHash(join(dir, "recordings", "front", "000000001.ts")));
    expect(info.streams.find((s) => s.codec_type === "video")?.codec_name).toBe("h264");
    expect(info.streams.find((s) => s.codec_type === "video")?.width).toBe(320);
    const bytes = readFileSync(file);
    expect(bytes.indexOf("moov")).toBeLessThan(bytes.indexOf("mdat")); // faststart: index first
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toEqual({ doneMs: 4500, totalMs: 4500 });
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.doneMs).toBeGreaterThanOrEqual(progress[i - 1]!.doneMs);
    expect(locksDuring[0]).toEqual([0, 1, 1, 1]);
    expect(lockCounts()).toEqual([0, 0, 0, 0]);
    expect(exportFiles().filter((f) => f.startsWith(".tmp-"))).toEqual([]);
    expect(db.query("SELECT COUNT(*) AS n FROM event_log WHERE kind = 'export.clip'").get()).toEqual({ n: 1 });
    // the same request again returns the finished file (safe to repeat)
    const again = await exportClip(db, dir, { cameraId: cam, fromUtc: T0 + 2500, toUtc: T0 + 6500 });
    expect(again.reused).toBe(true);
    expect(again.relPath).toBe(res.relPath);
  });

  test("ffmpeg SIGKILLed mid-way: no file under the final name, temp removed, locks released", async () => {
    const req = { cameraId: cam, fromUtc: T0, toUtc: T0 + 8000 };
    // 1. killed right after spawn
    const e1 = await exportClip(db, dir, { ...req, onSpawn: (pid) => process.kill(pid, "SIGKILL") }).catch((x) => x);
    expect(e1).toBeInstanceOf(ExportFailedError);
    expect(exportFiles().filter((f) => f.includes("080000Z-8s"))).toEqual([]);
    expect(lockCounts()).toEqual([0, 0, 0, 0]);
    // 2. killed once its temp file exists: ffmpeg runs in ~1 ms steps (SIGCONT ... SIGSTOP) and
    //    the exports directory is inspected between steps
    let sawTemp = -1;
    let sawFinalEarly = false;
    const e2 = await exportClip(db, dir, {
      ...req,
      onSpawn: (pid) => {
        process.kill(pid, "SIGSTOP");
        (async () => {
          const deadline = Date.now() + 60_000;
          while (Date.now() < deadline) {
            const files = exportFiles();
            if (files.some((f) => f.endsWith(".mp4") && f.includes("080000Z-8s"))) sawFinalEarly = true;
            const tmp = files.find((f) => f.startsWith(".tmp-") && f.endsWith(".part"));
            if (tmp) {
              sawTemp = statSync(join(dir, "exports", tmp)).size;
              break;
            }
            process.kill(pid, "SIGCONT");
            await Bun.sleep(1);
            process.kill(pid, "SIGSTOP");
          }
          process.kill(pid, "SIGKILL");
        })().catch(() => {});
      },
    }).catch((x) => x);
    expect(e2).toBeInstanceOf(ExportFailedError);
    expect(sawTemp).toBeGreaterThanOrEqual(0); // the temp file existed when ffmpeg was killed
    expect(sawFinalEarly).toBe(false);
    expect(exportFiles().filter((f) => f.includes("080000Z-8s"))).toEqual([]);
    expect(lockCounts()).toEqual([0, 0, 0, 0]);
    // 3. cancelled through an AbortSignal
    const ac = new AbortController();
    const e3 = await exportClip(db, dir, { ...req, signal: ac.signal, onSpawn: (pid) => (process.kill(pid, "SIGSTOP"), ac.abort()) }).catch((x) => x);
    expect(e3).toBeInstanceOf(ExportFailedError);
    expect(e3.cancelled).toBe(true);
    expect(exportFiles().filter((f) => f.includes("080000Z-8s"))).toEqual([]);
    expect(lockCounts()).toEqual([0, 0, 0, 0]);
    // and it still works afterwards
    const ok = await exportClip(db, dir, req);
    expect(Math.abs(Number(ffprobeJson(join(dir, ok.relPath)).format.duration) - 8)).toBeLessThanOrEqual(1.04);
  });
});

describe("snapshots", () => {
  test("at a time: a decodable 320x240 JPEG of that moment; frames at different times differ", async () => {
    const a = await snapshotAt(db, dir, { cameraId: cam, atUtc: T0 + 1000 });
    const b = await snapshotAt(db, dir, { cameraId: cam, atUtc: T0 + 5300 });
    expect(a.segmentId).toBe(segIds[0]!);
    expect(b.segmentId).toBe(segIds[2]!);
    const img = jpeg.decode(a.jpeg, { useTArray: true });
    expect([img.width, img.height]).toEqual([320, 240]);
    expect(Buffer.compare(Buffer.from(a.jpeg), Buffer.from(b.jpeg))).not.toBe(0);
    // b is the exact frame at 1.3 s into segment 2 (mid-GOP): decode the JPEG and the reference frame
    // to gray and compare (JPEG is lossy: mean absolute difference small, and far from a neighbour frame)
    const gray = (p: string, args: string[]) => Bun.spawnSync([FFMPEG, "-v", "error", ...args, "-i", p, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"]).stdout;
    const snapFile = join(dir, "snap-b.jpg");
    writeFileSync(snapFile, b.jpeg);
    const fromJpeg = gray(snapFile, []);
    const seg2 = join(dir, "recordings", "front", "000000002.ts");
    const exact = Bun.spawnSync([FFMPEG, "-v", "error", "-i", seg2, "-ss", "1.300", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"]).stdout;
    const other = Bun.spawnSync([FFMPEG, "-v", "error", "-i", seg2, "-ss", "1.000", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"]).stdout;
    const mad = (x: Uint8Array, y: Uint8Array) => x.reduce((acc, v, i) => acc + Math.abs(v - y[i]!), 0) / x.length;
    expect(fromJpeg.length).toBe(320 * 240);
    expect(mad(fromJpeg, exact)).toBeLessThan(3);
    expect(mad(fromJpeg, other)).toBeGreaterThan(mad(fromJpeg, exact) * 2);
    expect(lockCounts()).toEqual([0, 0, 0, 0]);
    const rel = saveSnapshot(db, dir, b);
    expect(rel).toMatch(/^exports\/front-20250601-080005\.300Z\.jpg$/);
    expect(readFileSync(join(dir, rel)).equals(Buffer.from(b.jpeg))).toBe(true);
  });

  test("live: the newest segment's last keyframe", async () => {
    const s = await snapshotLive(db, dir, { cameraId: cam });
    expect(s.segmentId).toBe(segIds[NSEG - 1]!);
    const img = jpeg.decode(s.jpeg, { useTArray: true });
    expect([img.width, img.height]).toEqual([320, 240]);
    // keyframes every 1 s in a 2 s segment: the last is 1 s after the segment start
    expect(s.atUtc).toBe(T0 + (NSEG - 1) * SEG_MS + 1000);
    expect(lockCounts()).toEqual([0, 0, 0, 0]);
    expect(exportFiles().filter((f) => f.startsWith(".tmp-"))).toEqual([]);
  });
});

describe("incident clips", () => {
  test("[incident] config: defaults 30/30, bounds, unknown keys", () => {
    expect(parseConfigText("", tmpdir()).incident).toEqual({ before_seconds: 30, after_seconds: 30 });
    expect(parseConfigText("[incident]\nbefore_seconds = 10\n", tmpdir()).incident).toEqual({ before_seconds: 10, after_seconds: 30 });
    expect(() => parseConfigText("[incident]\nafter_seconds = -1\n", tmpdir())).toThrow(/^incident\.after_seconds:/);
    expect(() => parseConfigText("[incident]\nafter = 5\n", tmpdir())).toThrow("incident.after: unknown key");
    expect(incidentWindow(T0, parseConfigText("", tmpdir()).incident)).toEqual({ fromUtc: T0 - 30_000, toUtc: T0 + 30_000 });
  });

  test("window before/after a moment, evidence-locked and tagged; waits for the 'after' part", async () => {
    const at = T0 + 4000;
    const inc = beginIncident(db, cam, at, { settings: { before_seconds: 2, after_seconds: 2 }, segmentSeconds: 2 });
    expect([inc.fromUtc, inc.toUtc]).toEqual([T0 + 2000, T0 + 6000]);
    expect(inc.readyAtUtc).toBe(incidentReadyAt(T0 + 6000, 2));
    expect(inc.readyAtUtc).toBe(T0 + 6000 + 2000 + 2000);
    const tagged = db.query("SELECT absolute_index AS a FROM segments WHERE incident_id = ? AND evidence_locked = 1 ORDER BY 1").all(inc.incidentId);
    expect(tagged).toEqual([{ a: 1 }, { a: 2 }]);
    const res = await exportIncident(db, dir, inc);
    expect(res.relPath).toContain(inc.incidentId);
    expect(Math.abs(Number(ffprobeJson(join(dir, res.relPath)).format.duration) - 4)).toBeLessThanOrEqual(1.04);
    expect(lockCounts()).toEqual([0, 0, 0, 0]);

    // the 'after' part is not recorded yet (recording ends at T0 + 8 s)
    const late = beginIncident(db, cam, T0 + 7000, { settings: { before_seconds: 2, after_seconds: 5 }, segmentSeconds: 2 });
    const e = await exportIncident(db, dir, late).catch((x) => x);
    expect(e).toBeInstanceOf(MediaRequestError);
    expect([e.code, e.status]).toEqual(["not_recorded_yet", 409]);
    const partial = await exportIncident(db, dir, late, { partial: true });
    expect(partial.durationMs).toBe(3000); // T0+5 s .. T0+8 s
    const lockedRows = db.query("SELECT absolute_index AS a FROM segments WHERE incident_id = ? AND evidence_locked = 1 ORDER BY 1").all(late.incidentId);
    expect(lockedRows).toEqual([{ a: 2 }, { a: 3 }]);
    db.query("UPDATE segments SET evidence_locked = 0, incident_id = NULL").run();
  });
});
