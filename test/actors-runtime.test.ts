/**
 * The runtime end to end with real components: ffmpeg recording its built-in test pattern
 * (320x240, 2 s segments), a real SQLite file in a temp dir, the real web server on an ephemeral
 * loopback port, and the orderly power-down (in-process `stop()` and SIGTERM to a real
 * `bun src/main.ts run` process).
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { dbPath } from "../src/paths.ts";
import { RuntimeFixture, queryDb } from "./helpers/inprocess.ts";
import { TEST_CAMERA, writeConfig } from "./helpers/runtime.ts";
import { waitUntil } from "./helpers/wait.ts";

const ROOT = resolve(import.meta.dir, "..");
const fx = new RuntimeFixture("dashcam-actors-runtime-");
const procs: ReturnType<typeof Bun.spawn>[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill("SIGKILL");
  await fx.cleanup();
});

/** Segment rows vs files in the ring directory: same set of files, same sizes. */
function ringMatches(db: Database, dataDir: string) {
  const rows = db.query("SELECT rel_path, bytes FROM segments ORDER BY absolute_index").all() as { rel_path: string; bytes: number }[];
  const ring = join(dataDir, "recordings", "front");
  const files = existsSync(ring) ? readdirSync(ring).filter((f) => f.endsWith(".ts")).sort() : [];
  return {
    rows: rows.map((r) => r.rel_path.split("/").pop()).sort(),
    files,
    sizeMismatch: rows.filter((r) => statSync(join(dataDir, r.rel_path)).size !== r.bytes).map((r) => r.rel_path),
  };
}

describe("runtime", () => {
  test("startRuntime records, and stop() finalises the last segment, closes the trip and stops the camera", async () => {
    const dataDir = fx.tempDir();
    const config = fx.config(dataDir);
    const h = await fx.start(config);
    expect(h.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${h.url}/healthz`);
    expect(health.status).toBe(200);

    await waitUntil("2 segment rows", () => (h.db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 2);
    const before = (h.db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n;
    await h.stop();

    queryDb(dataDir, (db) => {
      const m = ringMatches(db, dataDir);
      // the segment being written at stop was finalised by ffmpeg and indexed
      expect(m.rows.length).toBeGreaterThan(before);
      expect(m.files).toEqual(m.rows as string[]);
      expect(m.sizeMismatch).toEqual([]);
      const trips = db.query("SELECT status, end_time_utc, last_absolute FROM trips").all() as { status: string; end_time_utc: number | null; last_absolute: number }[];
      expect(trips.length).toBe(1);
      expect(trips[0].status).toBe("closed");
      expect(trips[0].end_time_utc).not.toBeNull();
      const maxAbs = (db.query("SELECT MAX(absolute_index) AS n FROM segments").get() as { n: number }).n;
      expect(trips[0].last_absolute).toBe(maxAbs);
      const status = db.query("SELECT state, pid FROM camera_status").get() as { state: string; pid: number | null };
      expect(status).toEqual({ state: "stopped", pid: null });
      const path = (db.query("SELECT to_state FROM actor_transitions WHERE actor_id = 'camera:front' ORDER BY id").all() as { to_state: string }[]).map((r) => r.to_state);
      expect(path).toEqual(["stopped", "starting", "recording", "stopping", "stopped"]);
      const tripPath = (db.query("SELECT event, to_state FROM actor_transitions WHERE actor_id LIKE 'trip:%' ORDER BY id").all() as { event: string; to_state: string }[]);
      expect(tripPath).toEqual([{ event: "xstate.init", to_state: "open" }, { event: "CLOSE", to_state: "closed" }]);
      const sup = db.query("SELECT state FROM actor_snapshots WHERE actor_id = 'supervisor'").get() as { state: string };
      expect(JSON.parse(sup.state)).toBe("down");
    });

    // a second start restores the tree from the journal and records again
    const h2 = await fx.start(config);
    await waitUntil("a segment of the second run", () => (h2.db.query("SELECT COUNT(*) AS n FROM trips").get() as { n: number }).n >= 2);
    await h2.stop();
    queryDb(dataDir, (db) => {
      expect((db.query("SELECT COUNT(*) AS n FROM trips WHERE end_time_utc IS NULL").get() as { n: number }).n).toBe(0);
      const m = ringMatches(db, dataDir);
      expect(m.files).toEqual(m.rows as string[]);
      const restored = db.query("SELECT COUNT(*) AS n FROM actor_transitions WHERE actor_id = 'supervisor' AND event = 'BOOT'").get() as { n: number };
      expect(restored.n).toBe(2);
    });
  }, 90_000);

  test("`dashcam run` exits 0 on SIGTERM and leaves no open trip", async () => {
    const dir = fx.tempDir();
    const dataDir = join(dir, "data");
    const cfg = writeConfig(dir, { data_dir: dataDir, cameras: [TEST_CAMERA] });
    const proc = Bun.spawn([process.execPath, join(ROOT, "src/main.ts"), "run", "--config", cfg], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, DASHCAM_CONFIG: undefined },
    });
    procs.push(proc);
    // collect stdout; the runtime prints its URL once the server is up
    const reader = proc.stdout.getReader();
    let out = "";
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
    })();
    const listening = await waitUntil("the listening line", () => /listening on (http:\/\/\S+)/.exec(out)?.[1], 30_000);
    expect(listening).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await waitUntil("a segment row", () => existsSync(dbPath(dataDir)) && queryDb(dataDir, (db) => (db.query("SELECT COUNT(*) AS n FROM segments").get() as { n: number }).n >= 1), 30_000);

    proc.kill("SIGTERM");
    const code = await Promise.race([proc.exited, Bun.sleep(15_000).then(() => "timeout" as const)]);
    expect(code).toBe(0);
    queryDb(dataDir, (db) => {
      expect((db.query("SELECT COUNT(*) AS n FROM trips WHERE end_time_utc IS NULL").get() as { n: number }).n).toBe(0);
      expect((db.query("SELECT COUNT(*) AS n FROM trips").get() as { n: number }).n).toBe(1);
      expect((db.query("SELECT state FROM camera_status").get() as { state: string }).state).toBe("stopped");
      const m = ringMatches(db, dataDir);
      expect(m.files).toEqual(m.rows as string[]);
    });
  }, 90_000);

  test("a camera that cannot connect cycles starting -> backoff -> starting with real ffmpeg, and stops from there", async () => {
    // a loopback port nobody listens on
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    const dataDir = fx.tempDir();
    const config = fx.config(dataDir, {
      cameras: [{ key: "gone", source: `rtsp://user:secret@127.0.0.1:${port}/cam`, rtsp_transport: "tcp", backoff_initial_ms: 200, backoff_max_ms: 400 }],
    });
    const h = await fx.start(config);
    const row = () => h.db.query("SELECT state, reconnect_count, last_error FROM camera_status").get() as { state: string; reconnect_count: number; last_error: string | null };
    await waitUntil("3 reconnects", () => row().reconnect_count >= 3);
    const r = row();
    expect(r.last_error).toBeTruthy();
    expect(r.last_error).not.toContain("secret");
    await h.stop();
    queryDb(dataDir, (db) => {
      const path = (db.query("SELECT from_state, event, to_state FROM actor_transitions WHERE actor_id = 'camera:gone' ORDER BY id").all() as { from_state: string; event: string; to_state: string }[]);
      const failures = path.filter((t) => t.from_state === "starting" && t.to_state === "backoff");
      const retries = path.filter((t) => t.from_state === "backoff" && t.to_state === "starting");
      expect(failures.length).toBeGreaterThanOrEqual(3);
      expect(retries.length).toBeGreaterThanOrEqual(2);
      expect(failures.every((t) => t.event === "PROCESS_EXIT")).toBe(true);
      expect(path.at(-1)!.to_state).toBe("stopped");
      const st = db.query("SELECT state, reconnect_count FROM camera_status").get() as { state: string; reconnect_count: number };
      expect(st.state).toBe("stopped");
      expect(st.reconnect_count).toBe(failures.length);
      // no segment, no trip
      expect((db.query("SELECT COUNT(*) AS n FROM trips").get() as { n: number }).n).toBe(0);
      // the URL with its password is nowhere in the journal or the event log
      const leaks = db.query("SELECT (SELECT COUNT(*) FROM actor_snapshots WHERE snapshot LIKE '%secret%') + (SELECT COUNT(*) FROM event_log WHERE message LIKE '%secret%' OR data LIKE '%secret%') AS n").get() as { n: number };
      expect(leaks.n).toBe(0);
    });
  }, 60_000);
});
