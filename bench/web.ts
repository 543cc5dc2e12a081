/**
 * Bench: requests per second and latency (p50, p99, max, ms) of the web UI under 50 concurrent
 * clients, while the runtime records (target: >= 2,000 req/s and p99 <= 50 ms for the
 * dashboard fragment and an HLS playlist on this machine). Prints numbers, asserts nothing.
 *
 * Setup: a temp data dir with one camera recording ffmpeg's test pattern (320x240, 10 fps, 2 s
 * segments) through the real runtime process (`bun src/main.ts run`), a viewer account and a
 * session made directly in the database before the start (the requests carry its cookie, as a
 * logged-in phone does, so the session lookup is part of every request).
 *
 * Load: a loopback generator in this process: CLIENTS async loops, each sending its next request
 * when the previous response body has been read (keep-alive `fetch`), for WARMUP_MS (not
 * counted) and then DURATION_MS, at most MAX_REQUESTS per target. Targets, one after the other:
 *   card      GET /cameras/bench/card       the dashboard's camera-card fragment (htmx)
 *   live      GET /cameras/bench/live.m3u8  the live HLS playlist
 *   trip      GET /trips/<id>/playlist.m3u8 the open trip's HLS playlist (grows while recording)
 *   dashboard GET /                          the whole dashboard page
 * A request that is not 200 counts as an error (reported).
 *
 * Env: BENCH_CLIENTS (50), BENCH_DURATION_MS (5000), BENCH_WARMUP_MS (1000), BENCH_MAX (200000),
 * BENCH_KEEP=1 keeps the dir.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { createUser } from "../src/db/users.ts";
import { createSession } from "../src/db/sessions.ts";
import { makeTempDir, startRuntime, writeConfig } from "../test/helpers/runtime.ts";
import { killAllStarted } from "../test/helpers/proc.ts";

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5000);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 1000);
const MAX_REQUESTS = Number(process.env.BENCH_MAX ?? 200_000);
const KEY = "bench";

interface Result {
  requests: number;
  errors: number;
  seconds: number;
  lat: Float64Array;
}

/** CLIENTS closed-loop clients on one URL; latencies of the measured window only. */
async function load(url: string, headers: Record<string, string>): Promise<Result> {
  const lat = new Float64Array(MAX_REQUESTS);
  let n = 0;
  let errors = 0;
  let measuring = false;
  let stop = false;
  const client = async () => {
    while (!stop) {
      const t = performance.now();
      let ok = false;
      try {
        const res = await fetch(url, { headers });
        await res.arrayBuffer();
        ok = res.status === 200;
      } catch {
        ok = false;
      }
      if (!measuring) continue;
      if (!ok) errors++;
      if (n < MAX_REQUESTS) lat[n++] = performance.now() - t;
      else stop = true;
    }
  };
  const clients = Array.from({ length: CLIENTS }, client);
  await Bun.sleep(WARMUP_MS);
  measuring = true;
  const t0 = performance.now();
  await Promise.race([Bun.sleep(DURATION_MS), (async () => { while (!stop) await Bun.sleep(10); })()]);
  const seconds = (performance.now() - t0) / 1000;
  const requests = n;
  stop = true;
  await Promise.all(clients);
  return { requests, errors, seconds, lat: lat.slice(0, requests) };
}

const pct = (sorted: Float64Array, p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN);

const dir = makeTempDir("dashcam-bench-web-");
const dataDir = join(dir, "data");
let rt: Awaited<ReturnType<typeof startRuntime>> | null = null;
try {
  // the account and its session, made before the runtime opens the database
  mkdirSync(dataDir, { recursive: true });
  const db = openDatabase(join(dataDir, "dashcam.db"));
  const user = await createUser(db, { username: "bench", password: "bench-password-1", role: "viewer" });
  const session = createSession(db, user.id);
  db.close();
  const configPath = writeConfig(dir, {
    data_dir: dataDir,
    cameras: [{ key: KEY, source: "testsrc", width: 320, height: 240, fps: 10, segment_seconds: 2, ring_segments: 100 }],
  });
  rt = await startRuntime(configPath, { label: "bench-web" });
  const headers = { cookie: `dashcam_session=${session.token}` };
  // recording: wait for 3 segments and the open trip
  const until = Date.now() + 60_000;
  let tripId = 0;
  for (;;) {
    const health = (await (await fetch(`${rt.url}/healthz`)).json()) as { cameras: { segment_count: number }[] };
    if ((health.cameras[0]?.segment_count ?? 0) >= 3) {
      const page = await (await fetch(`${rt.url}/trips`, { headers })).text();
      tripId = Number(/href="\/trips\/(\d+)"/.exec(page)?.[1] ?? 0);
      if (tripId) break;
    }
    if (Date.now() > until) throw new Error("the runtime recorded no segment within 60 s");
    await Bun.sleep(200);
  }
  const targets: [string, string][] = [
    ["card", `/cameras/${KEY}/card`],
    ["live", `/cameras/${KEY}/live.m3u8`],
    ["trip", `/trips/${tripId}/playlist.m3u8`],
    ["dashboard", "/"],
  ];
  console.log(`clients ${CLIENTS}  window ${DURATION_MS} ms (after ${WARMUP_MS} ms warm-up)  runtime recording 1 camera 320x240 2 s segments`);
  console.log("target     req/s   p50_ms  p99_ms  max_ms  requests  errors");
  for (const [name, path] of targets) {
    const r = await load(`${rt.url}${path}`, headers);
    const sorted = r.lat.sort();
    console.log(
      `${name.padEnd(9)} ${(r.requests / r.seconds).toFixed(0).padStart(6)}  ${pct(sorted, 50).toFixed(2).padStart(6)}  ${pct(sorted, 99).toFixed(2).padStart(6)}  ${(sorted.at(-1) ?? NaN).toFixed(2).padStart(6)}  ${String(r.requests).padStart(8)}  ${String(r.errors).padStart(6)}`,
    );
  }
} finally {
  if (rt) await rt.terminate();
  killAllStarted();
  if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
}
