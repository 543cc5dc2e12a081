/**
 * Recording invariants of DESIGN.md checked from the outside (the SQLite file and the ring
 * directory), independent of the code under test. Each function returns a list of problems
 * (empty = fine) so a test failure names every violation at once.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { readDb, type SegmentRow, type CameraStateRow } from "./runtime.ts";

/** Segment files (`NNNNNNNNN.ts`) in `<data_dir>/recordings/<key>`, by absolute index. */
export function ringFiles(dataDir: string, key: string): Map<number, { path: string; bytes: number }> {
  const dir = join(dataDir, "recordings", key);
  const out = new Map<number, { path: string; bytes: number }>();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const m = /^(\d{9,})\.ts$/.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    try {
      out.set(Number(m[1]), { path, bytes: statSync(path).size });
    } catch {
      /* deleted meanwhile */
    }
  }
  return out;
}

/**
 * Every row has its file with the same size; `rel_path` names the file by absolute index.
 * With `strictFiles`, every file also has a row (only when nothing is recording, since the
 * segment ffmpeg is writing has no row yet).
 */
export function rowsMatchFiles(dataDir: string, key: string, rows: SegmentRow[], strictFiles: boolean): string[] {
  const problems: string[] = [];
  const files = ringFiles(dataDir, key);
  for (const r of rows) {
    const expectedRel = join("recordings", key, `${String(r.absolute_index).padStart(9, "0")}.ts`);
    if (r.rel_path !== expectedRel) problems.push(`abs ${r.absolute_index}: rel_path ${r.rel_path}, expected ${expectedRel}`);
    const f = files.get(r.absolute_index);
    if (!f) problems.push(`abs ${r.absolute_index}: row without file`);
    else if (f.bytes !== r.bytes) problems.push(`abs ${r.absolute_index}: row bytes ${r.bytes} != file ${f.bytes}`);
    if (!(r.end_utc > r.start_utc)) problems.push(`abs ${r.absolute_index}: end_utc ${r.end_utc} <= start_utc ${r.start_utc}`);
  }
  if (strictFiles) {
    const have = new Set(rows.map((r) => r.absolute_index));
    for (const abs of files.keys()) if (!have.has(abs)) problems.push(`abs ${abs}: file without row`);
  }
  return problems;
}

/**
 * Ring counters (seed 000): `absolute_segments` = max absolute index + 1; the next slot is
 * `absolute_segments % ring_capacity` with generation `floor(absolute_segments / capacity)`;
 * each row's `segment_index`/`segment_gen` are its absolute index's slot and generation;
 * absolute indexes are unique and times do not go backwards.
 */
export function ringCounters(state: CameraStateRow, rows: SegmentRow[], capacity: number): string[] {
  const problems: string[] = [];
  if (state.ring_capacity !== capacity) problems.push(`ring_capacity ${state.ring_capacity} != configured ${capacity}`);
  const maxAbs = rows.reduce((m, r) => Math.max(m, r.absolute_index), -1);
  if (rows.length && state.absolute_segments !== maxAbs + 1)
    problems.push(`absolute_segments ${state.absolute_segments} != max absolute_index + 1 = ${maxAbs + 1}`);
  if (state.segment_index !== state.absolute_segments % capacity)
    problems.push(`segment_index ${state.segment_index} != absolute_segments % capacity = ${state.absolute_segments % capacity}`);
  if (state.segment_generation !== Math.floor(state.absolute_segments / capacity))
    problems.push(`segment_generation ${state.segment_generation} != floor(absolute_segments / capacity) = ${Math.floor(state.absolute_segments / capacity)}`);
  let prev: SegmentRow | null = null;
  for (const r of rows) {
    if (r.segment_index !== r.absolute_index % capacity) problems.push(`abs ${r.absolute_index}: segment_index ${r.segment_index}`);
    if (r.segment_gen !== Math.floor(r.absolute_index / capacity)) problems.push(`abs ${r.absolute_index}: segment_gen ${r.segment_gen}`);
    if (prev && r.absolute_index === prev.absolute_index) problems.push(`abs ${r.absolute_index}: duplicate`);
    if (prev && r.start_utc < prev.end_utc - 1000) problems.push(`abs ${r.absolute_index}: starts ${prev.end_utc - r.start_utc} ms before the previous segment ends`);
    prev = r;
  }
  return problems;
}

/** Table row counts and max ids of every table, to prove a request wrote nothing. */
export function databaseFingerprint(dataDir: string): Record<string, string> {
  return (
    readDb(dataDir, (db) => {
      const out: Record<string, string> = {};
      const tables = db
        .query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%search%' ORDER BY name")
        .all() as { name: string }[];
      for (const { name } of tables) {
        let row: { n: number; m: number };
        try {
          row = db.query(`SELECT COUNT(*) AS n, COALESCE(MAX(rowid), 0) AS m FROM "${name}"`).get() as { n: number; m: number };
        } catch {
          row = { ...(db.query(`SELECT COUNT(*) AS n FROM "${name}"`).get() as { n: number }), m: 0 }; // WITHOUT ROWID
        }
        out[name] = `${row.n}/${row.m}`;
      }
      return out;
    }) ?? {}
  );
}

/** Every file under `dir` (recursively) with its size, except SQLite's -wal/-shm. */
export function fileListing(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p, r);
      else if (!/-(wal|shm|journal)$/.test(e.name)) out[r] = statSync(p).size;
    }
  };
  if (existsSync(dir)) walk(dir, "");
  return out;
}

/** DESIGN.md invariant 5: more than this between consecutive segments is a recording gap. */
export const GAP_THRESHOLD_MS = 3000;

/**
 * Invariant 5 over a camera's rows (oldest first, none deleted by retention in between):
 * the recording_gaps rows are exactly the holes of more than 3 s between consecutive segments,
 * each with gap_start = the earlier segment's end_utc and gap_end = the later one's start_utc.
 */
export function gapRowsMatch(dataDir: string, key: string, rows: SegmentRow[]): string[] {
  const gaps =
    readDb(dataDir, (db) =>
      db
        .query("SELECT g.gap_start, g.gap_end FROM recording_gaps g JOIN cameras c ON c.id = g.camera_id WHERE c.key = ? ORDER BY g.gap_start")
        .all(key) as { gap_start: number; gap_end: number }[],
    ) ?? [];
  const expected: string[] = [];
  for (let i = 1; i < rows.length; i++) {
    if (rows[i].start_utc - rows[i - 1].end_utc > GAP_THRESHOLD_MS) expected.push(`${rows[i - 1].end_utc}..${rows[i].start_utc}`);
  }
  const actual = gaps.map((g) => `${g.gap_start}..${g.gap_end}`);
  const problems: string[] = [];
  for (const e of expected) if (!actual.includes(e)) problems.push(`hole ${e} (${describeHole(e)}) has no recording_gaps row`);
  for (const a of actual) if (!expected.includes(a)) problems.push(`recording_gaps row ${a} (${describeHole(a)}) is not a hole of more than 3 s between consecutive segments`);
  return problems;
}

function describeHole(span: string): string {
  const [a, b] = span.split("..").map(Number);
  return `${b - a} ms`;
}
