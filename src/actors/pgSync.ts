/**
 * Optional PostgreSQL sink (seed 001 section 3): final `vehicles` rows are copied to the seed's
 * PostgreSQL `vehicles` table (JSONB boxes, TIMESTAMPTZ) through `Bun.sql`.
 *
 * - Idempotent: the table gets a `source_key` column with a unique index, `<instance>/<video_id>:
 *   <frame_idx>:<track_id>` (`instance` = a random id of this SQLite database, kept in
 *   `counters` as `pg.instance`, so two dashcams or a re-created database never collide), and
 *   rows are inserted with `ON CONFLICT (source_key) DO NOTHING`. A batch is one PostgreSQL
 *   transaction; the SQLite rows are marked `pg_synced = 1` only after it committed. A crash in
 *   between re-sends the batch, which then inserts nothing: never a duplicate.
 * - Buffering: rows with `pg_synced = 0` are simply the queue. While the server is unreachable
 *   each attempt fails, the client is dropped and the next attempt waits with exponential backoff
 *   (1 s doubling to 60 s by default); nothing is lost, recording and ALPR do not wait.
 * - Schema (src/db/pgVehicles.ts): `CREATE TABLE IF NOT EXISTS` with the seed's columns, then `ADD COLUMN IF NOT EXISTS`
 *   `source_key` and `camera_key`, and the unique index; works on a table made from the seed.
 */
import type { Database } from "bun:sqlite";
import { SQL } from "bun";
import { getCounter, setCounter } from "../db/counters.ts";
import { applyPgSchema, insertPgVehicles } from "../db/pgVehicles.ts";
import { markVehiclesSynced, unsyncedVehicles } from "../db/vehicles.ts";
import { logEvent } from "../db/eventLog.ts";
import { log, redact } from "../log.ts";

export interface PgSyncOptions {
  db: Database;
  /** postgres://user:pass@host:port/db */
  url: string;
  /** Rows per PostgreSQL transaction (default 200). */
  batch?: number;
  /** Poll interval when idle, ms (default 2000). */
  pollMs?: number;
  /** Backoff after a failure: first delay and cap, ms (default 1000 and 60000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** One attempt (connect + insert) is abandoned after this long, ms (default 30000). */
  attemptTimeoutMs?: number;
}

export interface PgSync {
  /** Runs one attempt now: returns rows written, or throws the server's error. */
  syncNow(): Promise<number>;
  /** Asks the loop to try soon (new rows were written). */
  wake(): void;
  /** Last error (redacted, one line), null after a success. */
  readonly lastError: string | null;
  /** Stops the loop and closes the connection. */
  stop(): Promise<void>;
}

/** This database's instance id for source keys (made once, random 48-bit). */
export function pgInstance(db: Database): number {
  const v = getCounter(db, "pg.instance");
  if (v !== null) return v;
  const id = Math.floor(Math.random() * 2 ** 48);
  setCounter(db, "pg.instance", id);
  return id;
}

function oneLine(err: unknown): string {
  return redact(String((err as Error)?.message ?? err).split("\n")[0]);
}

/** Starts the sync loop (see the module comment). */
export function startPgSync(o: PgSyncOptions): PgSync {
  const batch = o.batch ?? 200;
  const pollMs = o.pollMs ?? 2000;
  const base = o.backoffMs ?? 1000;
  const cap = o.maxBackoffMs ?? 60_000;
  const attemptTimeout = o.attemptTimeoutMs ?? 30_000;
  let sql: SQL | null = null;
  let schemaReady = false;
  let stopped = false;
  let lastError: string | null = null;
  let failures = 0;
  let wakeUp: (() => void) | null = null;
  let running: Promise<number> | null = null;
  const instance = pgInstance(o.db);

  const drop = async () => {
    const s = sql;
    sql = null;
    schemaReady = false;
    if (s) await s.close().catch(() => undefined);
  };

  const attempt = async (): Promise<number> => {
    const rows = unsyncedVehicles(o.db, batch);
    if (rows.length === 0) return 0;
    sql ??= new SQL({ url: o.url, max: 1, idleTimeout: 60, connectionTimeout: Math.ceil(attemptTimeout / 1000) });
    const client = sql;
    if (!schemaReady) {
      await applyPgSchema(client);
      schemaReady = true;
    }
    await insertPgVehicles(client, instance, rows);
    markVehiclesSynced(
      o.db,
      rows.map((r) => r.id),
    );
    return rows.length;
  };

  const syncNow = async (): Promise<number> => {
    if (running) return running;
    running = (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const n = await Promise.race([
          attempt(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`PostgreSQL attempt timed out after ${attemptTimeout} ms`)), attemptTimeout);
          }),
        ]);
        if (lastError !== null) {
          log.info(`pg sync: PostgreSQL reachable again`);
          logEvent(o.db, { kind: "pg.sync", level: "info", message: "PostgreSQL sink reachable again; buffered rows are being sent" });
        }
        lastError = null;
        failures = 0;
        return n;
      } catch (err) {
        const msg = oneLine(err);
        if (lastError === null) {
          log.warn(`pg sync: ${msg} (buffering in SQLite, retrying with backoff)`);
          logEvent(o.db, { kind: "pg.sync", level: "warn", message: `PostgreSQL sink unreachable: ${msg}; rows are buffered and retried` });
        }
        lastError = msg;
        failures++;
        await drop();
        throw err;
      } finally {
        clearTimeout(timer);
        running = null;
      }
    })();
    return running;
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        wakeUp = null;
        resolve();
      }, ms);
      wakeUp = () => {
        clearTimeout(t);
        wakeUp = null;
        resolve();
      };
    });

  const loop = (async () => {
    while (!stopped) {
      let wrote = 0;
      try {
        wrote = await syncNow();
      } catch {
        // logged in syncNow
      }
      if (stopped) break;
      if (failures > 0) await sleep(Math.min(cap, base * 2 ** Math.min(20, failures - 1)));
      else if (wrote < batch) await sleep(pollMs);
    }
  })();

  return {
    syncNow,
    wake: () => {
      if (failures === 0) wakeUp?.();
    },
    get lastError() {
      return lastError;
    },
    async stop() {
      stopped = true;
      wakeUp?.();
      await loop;
      if (running) await running.catch(() => undefined);
      await drop();
    },
  };
}
