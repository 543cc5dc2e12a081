/**
 * Segment locks (seed 002). Two kinds, both honoured by retention (it deletes only rows with
 * `locked = 0 AND evidence_locked = 0`):
 *
 * - Read-lock, transient: `segments.locked` is a COUNT of readers (export, snapshot, HLS
 *   read) using the segment right now. `acquireReadLock` increments it for a set of segments
 *   and returns a `ReadLock` that decrements it exactly once (never below 0) when disposed:
 *   `using lock = acquireReadLock(db, ids)` releases it when the block exits, also by a throw.
 *   Overlapping readers each hold their own increment. A crash can leave counts behind;
 *   start-up reconciliation (`clearReadLocks`) resets every `locked` to 0 before anything reads —
 *   that is the backstop the seed describes for a release that could not run.
 * - Evidence lock, durable: `evidence_locked = 1` with an optional `incident_id`.
 *   `setEvidenceLocked` follows the seed's COALESCE rule: a missing incident id keeps the tag
 *   a segment already has, so unlocking (or re-locking without a tag) never erases the case
 *   the segment belongs to.
 *
 * `acquireRangeReadLock` selects the segments of a time range and locks them in one
 * transaction, closing the gap between choosing segments and ffmpeg opening their files.
 * `lockedStream` hands a lock to a streaming HTTP body: released when the body ends, errors
 * or the client disconnects (the stream is cancelled).
 */
import type { Database } from "bun:sqlite";
import { perDatabase } from "./prepared.ts";
import { log } from "../log.ts";
import { logEvent } from "./eventLog.ts";
import type { SegmentRow } from "./segments.ts";

/** The columns of a segment row a reader needs (see `SegmentRow`). Times are Unix ms UTC; rel_path is relative to data_dir. */
export type SegmentRef = Pick<SegmentRow, "id" | "camera_id" | "absolute_index" | "start_utc" | "end_utc" | "rel_path" | "bytes">;

const SEG_COLS = "id, camera_id, absolute_index, start_utc, end_utc, rel_path, bytes";

const stmts = perDatabase((db) => ({
  inc: db.prepare("UPDATE segments SET locked = locked + 1 WHERE id IN (SELECT value FROM json_each($ids)) RETURNING id"),
  dec: db.prepare("UPDATE segments SET locked = MAX(locked - 1, 0) WHERE id IN (SELECT value FROM json_each($ids))"),
  range: db.prepare(
    `SELECT ${SEG_COLS} FROM segments
     WHERE camera_id = $camera_id AND start_utc < $to AND end_utc > $from
     ORDER BY start_utc, absolute_index`,
  ),
  evidenceIds: db.prepare(
    `UPDATE segments SET evidence_locked = $locked, incident_id = COALESCE($incident_id, incident_id)
     WHERE id IN (SELECT value FROM json_each($ids))`,
  ),
  evidenceRange: db.prepare(
    `UPDATE segments SET evidence_locked = $locked, incident_id = COALESCE($incident_id, incident_id)
     WHERE camera_id = $camera_id AND start_utc < $to AND end_utc > $from`,
  ),
  clearRead: db.prepare("UPDATE segments SET locked = 0 WHERE locked <> 0"),
  countRead: db.prepare("SELECT COUNT(*) AS n FROM segments WHERE locked <> 0"),
}));

/**
 * A held read-lock: one increment of `segments.locked` on each of `segmentIds` (the ids that
 * existed when it was taken). `release()` is idempotent and never throws (a failure is logged;
 * start-up reconcile clears what is left), so it is safe in `finally`, `using` and stream
 * cancel callbacks.
 */
export class ReadLock implements Disposable, AsyncDisposable {
  #released = false;
  constructor(
    private readonly db: Database,
    readonly segmentIds: readonly number[],
  ) {}

  get released(): boolean {
    return this.#released;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.segmentIds.length === 0) return;
    try {
      stmts(this.db).dec.run({ ids: JSON.stringify(this.segmentIds) });
    } catch (err) {
      log.warn(`read-lock release failed for ${this.segmentIds.length} segments: ${(err as Error).message}`);
    }
  }

  [Symbol.dispose](): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}

/** A read-lock over the segments of a time range, with the rows it locked (oldest first). */
export class RangeReadLock extends ReadLock {
  constructor(
    db: Database,
    readonly segments: readonly SegmentRef[],
  ) {
    super(
      db,
      segments.map((s) => s.id),
    );
  }
}

const uniqueIds = (ids: Iterable<number>) => [...new Set([...ids].filter((n) => Number.isSafeInteger(n)))];

/**
 * Increments the read-lock count of each existing segment in `segmentIds` (one statement, so
 * atomic). Unknown ids are skipped; `lock.segmentIds` lists the ones locked. Throws only on a
 * database error (the caller then must not read: nothing protects the files).
 */
export function acquireReadLock(db: Database, segmentIds: Iterable<number>): ReadLock {
  const ids = uniqueIds(segmentIds);
  if (ids.length === 0) return new ReadLock(db, []);
  const locked = (stmts(db).inc.all({ ids: JSON.stringify(ids) }) as { id: number }[]).map((r) => r.id);
  return new ReadLock(db, locked);
}

/**
 * Selects the segments of camera `cameraId` overlapping [fromUtc, toUtc) (ms UTC) and
 * read-locks them, in one transaction. An empty range gives an empty (no-op) lock.
 */
export function acquireRangeReadLock(db: Database, cameraId: number, fromUtc: number, toUtc: number): RangeReadLock {
  const s = stmts(db);
  return db.transaction(() => {
    const rows = s.range.all({ camera_id: cameraId, from: fromUtc, to: toUtc }) as SegmentRef[];
    if (rows.length > 0) s.inc.run({ ids: JSON.stringify(rows.map((r) => r.id)) });
    return new RangeReadLock(db, rows);
  })();
}

/** What `setEvidenceLocked` changes: explicit segment ids, or every segment of a camera overlapping [fromUtc, toUtc). */
export type EvidenceTarget = readonly number[] | { cameraId: number; fromUtc: number; toUtc: number };

/**
 * Sets (`locked = true`) or clears the durable evidence lock (seed 002 `set_evidence_locked`,
 * extended to many segments in one statement). `incidentId` is recorded when given; null or
 * undefined keeps any existing tag (COALESCE). Returns the number of rows affected (0 = no
 * such segment). Writes one `event_log` row (`segment.evidence_lock` / `segment.evidence_unlock`)
 * in the same transaction when anything changed.
 */
export function setEvidenceLocked(db: Database, target: EvidenceTarget, locked: boolean, incidentId?: string | null): number {
  const s = stmts(db);
  return db.transaction(() => {
    let changes: number;
    let cameraId: number | null = null;
    if (Array.isArray(target)) {
      const ids = uniqueIds(target as number[]);
      if (ids.length === 0) return 0;
      changes = s.evidenceIds.run({ ids: JSON.stringify(ids), locked: locked ? 1 : 0, incident_id: incidentId ?? null }).changes;
    } else {
      const t = target as { cameraId: number; fromUtc: number; toUtc: number };
      cameraId = t.cameraId;
      changes = s.evidenceRange.run({
        camera_id: t.cameraId,
        from: t.fromUtc,
        to: t.toUtc,
        locked: locked ? 1 : 0,
        incident_id: incidentId ?? null,
      }).changes;
    }
    if (changes > 0) {
      logEvent(db, {
        kind: locked ? "segment.evidence_lock" : "segment.evidence_unlock",
        cameraId,
        message: `${locked ? "evidence-locked" : "evidence-unlocked"} ${changes} segment${changes === 1 ? "" : "s"}${incidentId ? ` (incident ${incidentId})` : ""}`,
        data: { segments: changes, incidentId: incidentId ?? null, target: Array.isArray(target) ? { ids: target.length } : target },
      });
    }
    return changes;
  })();
}

/**
 * A new incident id: `inc-YYYYMMDD-HHMMSS-xxxxxx` (UTC time of the moment, 6 random hex digits),
 * readable on a phone and unique in practice.
 */
export function newIncidentId(atUtc = Date.now()): string {
  const iso = new Date(atUtc).toISOString(); // 2025-01-02T03:04:05.678Z
  const stamp = `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}`;
  const rand = Buffer.from(crypto.getRandomValues(new Uint8Array(3))).toString("hex");
  return `inc-${stamp}-${rand}`;
}

/**
 * Wraps a byte stream so that `lock` is released when the stream finishes, fails, or is
 * cancelled (an HTTP client that disconnects cancels the response body). The lock then
 * belongs to the stream: do not also `using` it in the handler that returns the Response
 * (that would release it before the body is sent). Pull-based: one chunk is read from
 * `source` per chunk the consumer asks for, so memory stays at one chunk.
 */
export function lockedStream(lock: ReadLock, source: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            lock.release();
            controller.close();
          } else controller.enqueue(value);
        } catch (err) {
          lock.release();
          controller.error(err);
        }
      },
      async cancel(reason) {
        lock.release();
        await reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Clears every transient read-lock (`locked = 0` on all segments): at start-up no reader of an
 * earlier run is alive, so counts left by a crash are stale. Returns the segments changed.
 */
export function clearReadLocks(db: Database): number {
  return stmts(db).clearRead.run().changes;
}

/** The number of segments holding a transient read-lock right now. */
export function readLockedCount(db: Database): number {
  return (stmts(db).countRead.get() as { n: number }).n;
}
