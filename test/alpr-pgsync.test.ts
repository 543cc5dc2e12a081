/**
 * The PostgreSQL sink against a real PostgreSQL 15 server the test starts itself (initdb into
 * a temp dir, pg_ctl on a random loopback port, run as the `postgres` OS user when the tests
 * run as root). The server is stopped mid-way: rows are buffered in SQLite and sent after it
 * is back; a restart and a forced re-send never duplicate a row. The table first exists in the
 * seed's exact form (no idempotency key), as a fleet database made from seed 001 would.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SQL } from "bun";
import { insertVehicleTx } from "../src/db/vehicles.ts";
import { pgInstance, startPgSync, type PgSync } from "../src/actors/pgSync.ts";
import { sourceKey } from "../src/db/pgVehicles.ts";
import { makeEnv, makePostgres, waitFor, type PgServer, type TestEnv } from "./alpr-helpers.ts";

let pg: PgServer;
let env: TestEnv;
const T = Date.UTC(2026, 0, 15, 12, 0, 0);

beforeAll(async () => {
  pg = await makePostgres();
  await pg.start();
  env = makeEnv("alpr-pg-");
}, 120_000);

afterAll(async () => {
  env?.cleanup();
  await pg?.destroy();
}, 60_000);

let next = 0;
function addVehicles(n: number): void {
  env.db.transaction(() => {
    for (let i = 0; i < n; i++, next++)
      insertVehicleTx(env.db, {
        trackId: 100 + next,
        videoId: `cam1:${Math.floor(next / 3)}`,
        frameIdx: next % 3,
        ts: T + next * 1000,
        finalPlate: `PLT${String(next).padStart(3, "0")}`,
        plateConfidence: 0.5 + next / 100,
        carBbox: next % 2 ? [10, 20, 300, 200] : null,
        plateBbox: [40 + next, 50, 80, 30],
        cameraId: env.cameraId,
        snapshotPath: null,
      });
  })();
}

const unsynced = () => (env.db.query("SELECT COUNT(*) AS n FROM vehicles WHERE pg_synced = 0").get() as { n: number }).n;

async function pgRows(): Promise<{ final_plate: string; source_key: string; ts: Date; car_bbox: unknown; plate_bbox: unknown; car_type: string; plate_type: string; frame_idx: number; track_id: number; video_id: string; plate_confidence: number; camera_key: string }[]> {
  const sql = new SQL({ url: pg.url, max: 1 });
  try {
    return await sql`SELECT final_plate, source_key, ts, car_bbox, plate_bbox, jsonb_typeof(car_bbox) AS car_type, jsonb_typeof(plate_bbox) AS plate_type,
                            frame_idx, track_id, video_id, plate_confidence, camera_key FROM vehicles ORDER BY final_plate`;
  } finally {
    await sql.close();
  }
}

test("rows reach PostgreSQL typed, are buffered while it is down, and are never duplicated", async () => {
  // the seed's table, verbatim, made before the sink ever ran
  const admin = new SQL({ url: pg.url, max: 1 });
  await admin.unsafe(`CREATE TABLE vehicles (
    id SERIAL PRIMARY KEY, track_id INTEGER, video_id TEXT NOT NULL, frame_idx INTEGER NOT NULL,
    ts TIMESTAMPTZ NOT NULL, final_plate TEXT NOT NULL, plate_confidence FLOAT NOT NULL,
    car_bbox JSONB NOT NULL, plate_bbox JSONB NOT NULL, created_at TIMESTAMPTZ DEFAULT now())`);
  await admin.close();

  addVehicles(5);
  let sync: PgSync = startPgSync({ db: env.db, url: pg.url, pollMs: 100, backoffMs: 100, maxBackoffMs: 400, attemptTimeoutMs: 10_000 });
  try {
    await waitFor(() => unsynced() === 0, 30_000, "the first rows to be sent");
    let rows = await pgRows();
    expect(rows.map((r) => r.final_plate)).toEqual(["PLT000", "PLT001", "PLT002", "PLT003", "PLT004"]);
    // typed columns: JSONB arrays / JSON null, TIMESTAMPTZ at the frame time, the key
    expect(rows[0].plate_type).toBe("array");
    expect(rows[0].plate_bbox).toEqual([40, 50, 80, 30]);
    expect(rows[0].car_type).toBe("null");
    expect(rows[1].car_bbox).toEqual([10, 20, 300, 200]);
    expect(rows[3].ts.getTime()).toBe(T + 3000);
    expect(rows[3]).toMatchObject({ video_id: "cam1:1", frame_idx: 0, track_id: 103, camera_key: "cam1" });
    expect(rows[3].plate_confidence).toBeCloseTo(0.53, 9);
    const inst = pgInstance(env.db);
    expect(rows[3].source_key).toBe(sourceKey(inst, { video_id: "cam1:1", frame_idx: 0, track_id: 103 }));

    // the server goes away: new rows are buffered, the sink reports the error and backs off
    await pg.stop();
    addVehicles(4);
    sync.wake();
    await waitFor(() => sync.lastError !== null, 30_000, "the sink to notice the outage");
    expect(unsynced()).toBe(4);
    const warn = env.db.query("SELECT message FROM event_log WHERE kind = 'pg.sync' AND level = 'warn'").all() as { message: string }[];
    expect(warn).toHaveLength(1);
    expect(warn[0].message).not.toContain("postgres://"); // never the URL
    await Bun.sleep(500);
    expect(unsynced()).toBe(4); // still buffered, nothing lost

    // back up: the buffer drains by itself
    await pg.start();
    await waitFor(() => unsynced() === 0, 30_000, "the buffer to drain");
    expect(sync.lastError).toBeNull();
    rows = await pgRows();
    expect(rows).toHaveLength(9);

    // a restart that re-sends everything (as after a crash between the PostgreSQL commit and
    // marking the SQLite rows): nothing is duplicated
    await sync.stop();
    env.db.query("UPDATE vehicles SET pg_synced = 0").run();
    addVehicles(1);
    sync = startPgSync({ db: env.db, url: pg.url, pollMs: 100, backoffMs: 100, maxBackoffMs: 400 });
    await waitFor(() => unsynced() === 0, 30_000, "the re-send");
    rows = await pgRows();
    expect(rows).toHaveLength(10);
    expect(new Set(rows.map((r) => r.source_key)).size).toBe(10);
    expect(rows.map((r) => r.final_plate)).toEqual(Array.from({ length: 10 }, (_, i) => `PLT${String(i).padStart(3, "0")}`));
    expect(await sync.syncNow()).toBe(0);
  } finally {
    await sync.stop();
  }
}, 120_000);
