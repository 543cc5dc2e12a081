/**
 * Indexer throughput (target: >= 2,000 segments/s): indexes a synthetic run of
 * segments (default 20,000; `bun bench/indexer.ts N`) into a temp SQLite FILE opened with
 * `openDatabase()` (WAL, synchronous=NORMAL), one `indexSegment` transaction per segment as
 * the runtime does, over 4 cameras with a 1,000-segment ring, a gap every 500 segments and a
 * new boot (trip) every 5,000. Files are not fsynced (commitSegment's fsync is the disk's
 * cost, not the indexer's). Prints numbers; asserts nothing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { indexSegment } from "../src/db/segments.ts";
import { segmentRelPath } from "../src/paths.ts";
import { validateConfig } from "../src/config.ts";

const total = Number(process.argv[2] ?? 20_000);
const dir = mkdtempSync(join(tmpdir(), "dashcam-bench-indexer-"));
try {
  const db = openDatabase(join(dir, "dashcam.db"));
  const cameras = validateConfig(
    { cameras: [0, 1, 2, 3].map((i) => ({ key: `cam${i}`, source: "testsrc", ring_segments: 1000 })) },
    dir,
  ).cameras;
  const ids = syncCameras(db, cameras, null);
  const camIds = cameras.map((c) => ids.get(c.key)!);
  const t0 = Date.UTC(2026, 0, 1);
  const next = new Map<number, number>();
  let gaps = 0;
  let trips = 0;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const cam = i % camIds.length;
    const cameraId = camIds[cam];
    const abs = next.get(cameraId) ?? 0;
    next.set(cameraId, abs + 1);
    const startUtc = t0 + abs * 60_000 + Math.floor(abs / 500) * 20_000;
    const r = indexSegment(
      db,
      {
        cameraId,
        absoluteIndex: abs,
        relPath: segmentRelPath(cameras[cam].key, abs),
        startUtc,
        endUtc: startUtc + 60_000,
        bytes: 30_000_000 + (abs % 97) * 1000,
        codec: "H264",
        width: 1920,
        height: 1080,
        fps: 25,
      },
      `boot-${Math.floor(i / 5000)}`,
    );
    if (r.gap) gaps++;
    if (r.tripOpened) trips++;
  }
  const ms = performance.now() - start;
  const perSec = (total / ms) * 1000;
  console.log(`indexer: ${total} segments in ${ms.toFixed(0)} ms = ${perSec.toFixed(0)} segments/s (target >= 2000)`);
  console.log(`indexer: ${gaps} gaps, ${trips} trips opened, ${(ms * 1000 / total).toFixed(1)} µs per segment transaction`);
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
