/**
 * Camera health retention (src/actors/health.ts `enforceHealthRetention`) on a real SQLite file
 * and real files: seed 003's policy (snapshots 30 days, raw metrics 90 days, hourly aggregates a
 * year) and configured values; pictures leave through garbage rows, so a crash after the rows
 * were deleted but before the unlink is finished by start-up reconciliation; orphan pictures (a
 * crash between the file and its row) are swept once an hour old.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { syncCameras } from "../src/db/cameras.ts";
import { validateConfig } from "../src/config.ts";
import { dbPath } from "../src/paths.ts";
import { expireSnapshots, hourOf, recordHealthCheck } from "../src/db/health.ts";
import { pendingGarbage } from "../src/db/garbage.ts";
import { enforceHealthRetention, HEALTH_DIR } from "../src/actors/health.ts";
import { reconcileAtStartup } from "../src/actors/reconcile.ts";

const DAY = 24 * 3600 * 1000;
const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(health: Record<string, unknown> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "dashcam-health-retention-"));
  dirs.push(dataDir);
  const config = validateConfig({ data_dir: dataDir, cameras: [{ key: "front", source: "testsrc" }], health }, dataDir);
  const db = openDatabase(dbPath(dataDir));
  const ids = syncCameras(db, config.cameras, null);
  const cameraId = ids.get("front")!;
  mkdirSync(join(dataDir, HEALTH_DIR, "front"), { recursive: true });
  /** A check `ageDays` old with a picture on disk; returns its path relative to data_dir. */
  const check = (ageDays: number, withPicture = true) => {
    const at = NOW - ageDays * DAY;
    const rel = withPicture ? join(HEALTH_DIR, "front", `${at}.jpg`) : "";
    if (rel) writeFileSync(join(dataDir, rel), "jpeg");
    recordHealthCheck(db, {
      cameraId,
      capturedAt: at,
      checkedAt: at,
      filePath: rel,
      frameOk: withPicture,
      healthMetrics: null,
      anomalies: [],
      metrics: [{ type: "brightness", value: 100 + ageDays, status: "ok" }],
    });
    return rel;
  };
  return { dataDir, db, config, ids, cameraId, check };
}

const count = (db: ReturnType<typeof openDatabase>, sql: string) => (db.query(sql).get() as { n: number }).n;

describe("health retention", () => {
  test("seed 003 defaults: snapshots 30 d (rows and pictures), raw metrics 90 d, hourly aggregates 365 d", () => {
    const { dataDir, db, config, check } = setup();
    const keep = [check(1), check(29)];
    const gone = [check(31), check(100), check(400)];
    check(35, false); // a no_signal check: a row without a picture
    const r = enforceHealthRetention(db, dataDir, config, NOW);
    expect(r).toEqual({ snapshots: 4, files: 3, metrics: 2, hourly: 1, orphans: 0 });
    for (const p of keep) expect(existsSync(join(dataDir, p))).toBe(true);
    for (const p of gone) expect(existsSync(join(dataDir, p))).toBe(false);
    expect(count(db, "SELECT COUNT(*) AS n FROM snapshots")).toBe(2);
    // raw metrics of the 31- and 35-day-old checks stay (90 days); their snapshots are gone
    expect(db.query("SELECT value FROM health_metrics ORDER BY value").all()).toEqual([{ value: 101 }, { value: 129 }, { value: 131 }, { value: 135 }]);
    const hours = (db.query("SELECT hour_utc FROM health_metrics_hourly ORDER BY hour_utc").all() as { hour_utc: number }[]).map((h) => h.hour_utc);
    expect(hours).toEqual([100, 35, 31, 29, 1].map((d) => hourOf(NOW - d * DAY)));
    expect(pendingGarbage(db)).toEqual([]);
    expect(count(db, "SELECT COUNT(*) AS n FROM event_log WHERE kind = 'health.retention'")).toBe(1);
    db.close();
  });

  test("configured retention days apply", () => {
    const { dataDir, db, config, check } = setup({ snapshot_retention_days: 2, metrics_retention_days: 3, rollup_retention_days: 10 });
    const kept = check(1);
    const old = check(5);
    check(20);
    const r = enforceHealthRetention(db, dataDir, config, NOW);
    expect(r.snapshots).toBe(2);
    expect(existsSync(join(dataDir, kept))).toBe(true);
    expect(existsSync(join(dataDir, old))).toBe(false);
    expect(count(db, "SELECT COUNT(*) AS n FROM health_metrics")).toBe(1);
    expect(count(db, "SELECT COUNT(*) AS n FROM health_metrics_hourly")).toBe(2);
    db.close();
  });

  test("a crash after the rows left but before the unlink: garbage rows, finished by start-up reconciliation", async () => {
    const { dataDir, db, config, ids, check } = setup();
    const old = check(40);
    const expired = expireSnapshots(db, NOW - 30 * DAY, 100, NOW); // step (1) only, then "power cut"
    expect(expired).toHaveLength(1);
    expect(existsSync(join(dataDir, old))).toBe(true);
    expect(pendingGarbage(db).map((g) => g.rel_path)).toEqual([old]);
    const report = await reconcileAtStartup(db, dataDir, config.cameras, ids, "boot-test", { fullScan: false });
    expect(report.garbageFinished).toBe(1);
    expect(existsSync(join(dataDir, old))).toBe(false);
    expect(pendingGarbage(db)).toEqual([]);
    db.close();
  });

  test("an orphan picture (file written, row never committed) is deleted once an hour old; a fresh one is left", () => {
    const { dataDir, db, config, check } = setup();
    const kept = check(1);
    const orphanOld = join(dataDir, HEALTH_DIR, "front", "orphan-old.jpg");
    const orphanNew = join(dataDir, HEALTH_DIR, "front", "orphan-new.jpg");
    writeFileSync(orphanOld, "x");
    writeFileSync(orphanNew, "x");
    const t = (NOW - 2 * 3600_000) / 1000;
    utimesSync(orphanOld, t, t);
    utimesSync(orphanNew, NOW / 1000, NOW / 1000);
    const r = enforceHealthRetention(db, dataDir, config, NOW);
    expect(r.orphans).toBe(1);
    expect(existsSync(orphanOld)).toBe(false);
    expect(existsSync(orphanNew)).toBe(true);
    expect(existsSync(join(dataDir, kept))).toBe(true);
    db.close();
  });
});
