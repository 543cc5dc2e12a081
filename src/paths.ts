/**
 * The data directory layout. Everything the runtime writes lives under `data_dir`:
 *
 * ```
 * <data_dir>/dashcam.db            SQLite database (0600) + -wal/-shm
 * <data_dir>/secret.key            AES-256 key for camera URLs (0600), made at first start
 * <data_dir>/recordings/<camera>/  the ring: <absolute index, 9 digits>.ts MPEG-TS segments
 * <data_dir>/saved/                copies kept by the migration of trips saved by older versions
 * <data_dir>/exports/              clips and snapshots made for download
 * <data_dir>/frames/               ALPR frames waiting for their tasks
 * ```
 * `segments.rel_path` and `saved_trips.mp4_path` are relative to `data_dir`.
 */
import { join, resolve, sep } from "node:path";

export const DB_FILE = "dashcam.db";
export const KEY_FILE = "secret.key";

/** Path of the database inside a data directory. */
export const dbPath = (dataDir: string) => join(dataDir, DB_FILE);

/** Directory holding one camera's ring, relative to data_dir. */
export const ringDirRel = (cameraKey: string) => join("recordings", cameraKey);

/** Relative path of the segment with absolute index `n` (files are named by absolute index). */
export const segmentRelPath = (cameraKey: string, absoluteIndex: number) =>
  join(ringDirRel(cameraKey), `${String(absoluteIndex).padStart(9, "0")}.ts`);

/** Parses the absolute index out of a segment file name (`000000042.ts` -> 42), else null. */
export function absoluteIndexOf(fileName: string): number | null {
  const m = /^(\d{9,})\.ts$/.exec(fileName);
  return m ? Number(m[1]) : null;
}

/**
 * Resolves `rel` inside `root` and refuses anything that escapes it (path traversal).
 * Throws Error("path escapes data directory") for `../x`, absolute paths outside, etc.
 */
export function resolveInside(root: string, rel: string): string {
  const base = resolve(root);
  const full = resolve(base, rel);
  if (full !== base && !full.startsWith(base + sep)) throw new Error("path escapes data directory");
  return full;
}
