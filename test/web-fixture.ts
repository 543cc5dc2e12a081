/**
 * Test fixture for the web UI tests: a real SQLite database (openDatabase) in a temp dir, with
 * the rows the recorder/indexer would write, and REAL MPEG-TS segment files made by ffmpeg's
 * segment muxer (three separate ffmpeg runs, so timestamps restart between runs as they do
 * after a reconnect). Nothing here is a fake of the code under test.
 *
 * Camera "front": segments abs 10-12 (run A), 30 s gap, 13-14 (run B), 60 s gap, 15-16 (run C).
 *   Trip 2 (closed) = abs 10-14 (contains the first gap), trip 3 (open) = abs 15-16,
 *   trip 1 (evicted) = abs 0-9 (no rows left). Source URL has credentials (must never show).
 * Camera "rear": no segments, state backoff with an error, 3 reconnects.
 *
 * Users (every page needs a session): "ada" (admin), "otto" (operator), "vera"
 * (viewer), each with a session made directly through src/db/users.ts + sessions.ts.
 * `f.as(who)` gives the Cookie and CSRF headers of one of them; `f.request(app, path, init, who)`
 * and `f.fetch(url, init, who)` send a request with them (default: the admin; the CSRF header
 * only on non-GET requests).
 */
import { LiveHubs } from "../src/media/liveHub.ts";
import { mkdtempSync, mkdirSync, rmSync, statSync, readdirSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import { openDatabase } from "../src/db/open.ts";
import { validateConfig, type Config } from "../src/config.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { loadSecretKey } from "../src/secrets.ts";
import { logEvent } from "../src/db/eventLog.ts";
import { segmentRelPath, ringDirRel } from "../src/paths.ts";
import { LiveBus } from "../src/events.ts";
import type { WebDeps } from "../src/web/app.tsx";
import { createUser, type Role } from "../src/db/users.ts";
import { createSession } from "../src/db/sessions.ts";

export type Who = "admin" | "operator" | "viewer";
export const USERS: Record<Who, { username: string; password: string; role: Role }> = {
  admin: { username: "ada", password: "ada-secret-pass", role: "admin" },
  operator: { username: "otto", password: "otto-secret-pass", role: "operator" },
  viewer: { username: "vera", password: "vera-secret-pass", role: "viewer" },
};

export interface SessionCreds {
  userId: number;
  token: string;
  csrf: string;
  cookie: string;
}

/** Creates the three fixture users and one session each (real argon2 hashes, real session rows). */
export async function makeSessions(db: Database): Promise<Record<Who, SessionCreds>> {
  const out = {} as Record<Who, SessionCreds>;
  for (const who of Object.keys(USERS) as Who[]) {
    const u = USERS[who];
    const user = await createUser(db, u);
    const s = createSession(db, user.id);
    out[who] = { userId: user.id, token: s.token, csrf: s.csrfToken, cookie: `dashcam_session=${s.token}` };
  }
  return out;
}

/** Merges a session's cookie (and, for non-GET requests, its CSRF header) into `init`. */
export function withSession(creds: SessionCreds, init: RequestInit = {}): RequestInit {
  const headers = new Headers(init.headers);
  const cookie = headers.get("cookie");
  headers.set("cookie", cookie ? `${cookie}; ${creds.cookie}` : creds.cookie);
  const method = (init.method ?? "GET").toUpperCase();
  if (method !== "GET" && method !== "HEAD" && !headers.has("x-csrf-token")) headers.set("X-CSRF-Token", creds.csrf);
  return { ...init, headers };
}

export const T0 = Date.UTC(2024, 4, 1, 8, 0, 0); // 2024-05-01 08:00:00 UTC
export const SECRET_SOURCE = "rtsp://admin:Hunter2Secret@192.0.2.7:554/stream1";
export const SEG_MS = 2000;

export interface SegSpec {
  abs: number;
  start: number;
  end: number;
  rel: string;
  bytes: number;
}

export interface WebFixture {
  dir: string;
  db: Database;
  config: Config;
  bus: LiveBus;
  deps: WebDeps;
  front: { id: number; segments: SegSpec[] };
  rear: { id: number };
  trips: { evicted: number; closed: number; open: number };
  gap: { start: number; end: number };
  sessions: Record<Who, SessionCreds>;
  /** Cookie + CSRF headers of a fixture user, merged into `init`. */
  as(who?: Who, init?: RequestInit): RequestInit;
  /** `app.request` with a session (default admin). */
  request(app: { request(path: string, init?: RequestInit): Response | Promise<Response> }, path: string, init?: RequestInit, who?: Who): Promise<Response>;
  /** `fetch` with a session (default admin), for tests against a real server. */
  fetch(url: string, init?: RequestInit, who?: Who): Promise<Response>;
  cleanup(): void;
}

const FFMPEG = process.env.FFMPEG_PATH ?? "/usr/bin/ffmpeg";

/**
 * One ffmpeg run writing `count` segments of 2 s (10 fps, GOP 10 = a keyframe every second)
 * named by absolute index from `firstAbs`, like the recorder's segment muxer does.
 */
export function recordRun(ringDir: string, firstAbs: number, count: number, pattern = "testsrc2"): void {
  const tmp = join(ringDir, `run-${firstAbs}`);
  mkdirSync(tmp, { recursive: true });
  const r = Bun.spawnSync(
    [
      FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin",
      "-f", "lavfi", "-i", `${pattern}=size=320x240:rate=10`,
      "-t", String((count * SEG_MS) / 1000),
      "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10", "-keyint_min", "10", "-sc_threshold", "0",
      "-f", "segment", "-segment_time", "2", "-segment_format", "mpegts", "-segment_start_number", String(firstAbs),
      join(tmp, "%09d.ts"),
    ],
    { stderr: "pipe" },
  );
  if (!r.success) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
  const files = readdirSync(tmp).sort();
  if (files.length !== count) throw new Error(`ffmpeg wrote ${files.length} segments, wanted ${count}: ${files}`);
  for (const f of files) renameSync(join(tmp, f), join(ringDir, f));
  rmSync(tmp, { recursive: true });
}

export async function makeFixture(opts: { sseHeartbeatMs?: number } = {}): Promise<WebFixture> {
  const dir = mkdtempSync(join(tmpdir(), "dashcam-web-"));
  const config = validateConfig(
    {
      data_dir: dir,
      http: { listen: "127.0.0.1:0" },
      cameras: [
        { key: "front", name: "Front camera", source: SECRET_SOURCE, segment_seconds: 2, ring_segments: 10 },
        { key: "rear", name: "Rear", source: "testsrc", ring_segments: 20 },
      ],
    },
    dir,
  );
  const db = openDatabase(join(dir, "dashcam.db"));
  const ids = syncCameras(db, config.cameras, loadSecretKey(dir, true));
  const frontId = ids.get("front")!;
  const rearId = ids.get("rear")!;

  const ringDir = join(dir, ringDirRel("front"));
  mkdirSync(ringDir, { recursive: true });
  recordRun(ringDir, 10, 3);
  recordRun(ringDir, 13, 2, "smptebars");
  recordRun(ringDir, 15, 2, "testsrc");

  // times: run A 10-12 from T0; 30 s hole; run B 13-14; 60 s hole; run C 15-16
  const starts: Record<number, number> = {};
  let t = T0;
  for (let abs = 10; abs <= 16; abs++) {
    if (abs === 13) t += 30_000;
    if (abs === 15) t += 60_000;
    starts[abs] = t;
    t += SEG_MS;
  }
  const segments: SegSpec[] = [];
  const gap = { start: starts[12] + SEG_MS, end: starts[13] };
  db.transaction(() => {
    const ins = db.prepare(
      `INSERT INTO segments (camera_id, segment_index, segment_gen, absolute_index, start_utc, end_utc, rel_path, codec, width, height, fps, bytes)
       VALUES ($camera_id, $idx, $gen, $abs, $start, $end, $rel, 'h264', 320, 240, 10, $bytes)`,
    );
    for (let abs = 10; abs <= 16; abs++) {
      const rel = segmentRelPath("front", abs);
      const bytes = statSync(join(dir, rel)).size;
      const spec = { abs, start: starts[abs], end: starts[abs] + SEG_MS, rel, bytes };
      segments.push(spec);
      ins.run({ camera_id: frontId, idx: abs % 10, gen: Math.floor(abs / 10), abs, start: spec.start, end: spec.end, rel, bytes });
    }
    const gapIns = db.prepare(
      "INSERT INTO recording_gaps (camera_id, gap_start, gap_end, detected_at) VALUES ($camera_id, $gap_start, $gap_end, $at)",
    );
    gapIns.run({ camera_id: frontId, gap_start: gap.start, gap_end: gap.end, at: gap.end });
    gapIns.run({ camera_id: frontId, gap_start: starts[14] + SEG_MS, gap_end: starts[15], at: starts[15] });
    db.prepare(
      "UPDATE camera_state SET segment_index = 7, segment_generation = 1, absolute_segments = 17 WHERE camera_id = $id",
    ).run({ id: frontId });
    db.prepare(
      `UPDATE camera_status SET state = 'recording', pid = 4242, reconnect_count = 2, segment_count = 17,
         last_segment_at = $last, last_started_at = $started, observed_bitrate = 350000, updated_at = $last WHERE camera_id = $id`,
    ).run({ id: frontId, last: starts[16] + SEG_MS, started: starts[15] });
    db.prepare(
      `UPDATE camera_status SET state = 'backoff', reconnect_count = 3, last_error = 'Connection refused (camera unreachable)',
         updated_at = $t WHERE camera_id = $id`,
    ).run({ id: rearId, t: T0 });
    const trip = db.prepare(
      `INSERT INTO trips (camera_id, boot_id, start_time_utc, end_time_utc, start_segment, final_segment, start_gen, end_gen,
         fully_evicted, evicted_at_utc, start_absolute, last_absolute, last_time_utc, status, note)
       VALUES ($camera_id, $boot, $start, $end, $ss, $fs, $sg, $eg, $fe, $ev, $sa, $la, $lt, $status, $note) RETURNING id`,
    );
    trip.get({
      camera_id: frontId, boot: "boot-old", start: T0 - 3_600_000, end: T0 - 3_580_000, ss: 0, fs: 9, sg: 0, eg: 0,
      fe: 1, ev: T0, sa: 0, la: 9, lt: T0 - 3_580_000, status: "evicted", note: null,
    });
    trip.get({
      camera_id: frontId, boot: "boot-a", start: starts[10], end: starts[14] + SEG_MS, ss: 0, fs: 4, sg: 1, eg: 1,
      fe: 0, ev: null, sa: 10, la: 14, lt: starts[14] + SEG_MS, status: "closed", note: "morning drive",
    });
    trip.get({
      camera_id: frontId, boot: "boot-b", start: starts[15], end: null, ss: 5, fs: null, sg: 1, eg: null,
      fe: 0, ev: null, sa: 15, la: 16, lt: starts[16] + SEG_MS, status: "open", note: null,
    });
    logEvent(db, { kind: "camera.state", message: "front: starting -> recording", cameraId: frontId, at: T0 });
    logEvent(db, { kind: "segment.gap", level: "warn", message: "front: 30.0 s gap", cameraId: frontId, at: gap.end });
    logEvent(db, { kind: "camera.state", level: "error", message: "rear: connection refused", cameraId: rearId, at: T0 + 1 });
    logEvent(db, { kind: "trip.open", message: "trip 3 opened", cameraId: frontId, at: starts[15] });
  })();

  const sessions = await makeSessions(db);
  const bus = new LiveBus();
  // live hubs without recorders: the live view connects and waits for a picture
  const deps: WebDeps = { db, config, dataDir: dir, bus, startedAt: Date.now() - 5000, sseHeartbeatMs: opts.sseHeartbeatMs, live: new LiveHubs() };
  return {
    dir,
    db,
    config,
    bus,
    deps,
    front: { id: frontId, segments },
    rear: { id: rearId },
    trips: { evicted: 1, closed: 2, open: 3 },
    gap,
    sessions,
    as: (who: Who = "admin", init?: RequestInit) => withSession(sessions[who], init),
    request: async (app, path, init, who: Who = "admin") => app.request(path, withSession(sessions[who], init)),
    fetch: (url, init, who: Who = "admin") => fetch(url, withSession(sessions[who], init)),
    cleanup() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every row of every table, as text: equal before/after means nothing was written. */
export function dbFingerprint(db: Database): string {
  const tables = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as {
    name: string;
  }[];
  const parts: string[] = [];
  for (const { name } of tables) {
    if (name.includes("fts")) continue;
    parts.push(name, JSON.stringify(db.query(`SELECT * FROM "${name}"`).all()));
  }
  return parts.join("\n");
}

/** Sorted list of every path under `dir` with its size (a snapshot of the data directory). */
export function fileListing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!/dashcam\.db-(wal|shm)$/.test(e.name)) out.push(`${p.slice(dir.length)} ${statSync(p).size}`);
    }
  };
  walk(dir);
  return out.sort();
}
