/**
 * The one crash-safe way to make a final file, used by every writer of one (exports, snapshots,
 * thumbnails, saved trips, ALPR frames, timelapse videos ...).
 *
 * The protocol (the classic "write temp, fsync, rename, fsync the directory", as in Moonfire
 * NVR and SQLite's own journal handling): the bytes go to a temp name in the same directory
 * (`.tmp-<final name>.<random>`), the temp file is fsynced, renamed over the final name (rename
 * is atomic within one file system), and the directory is fsynced so the new name itself
 * survives a power cut. A reader of the final name therefore sees either nothing (or the old
 * file) or the complete new file, never a partial one. Temp names start with `.tmp-` so a
 * start-up sweep (`removeTempFiles`) can delete what a crash left behind.
 *
 * All functions are synchronous except those that stream (`writeFileAtomicFrom`), and throw the
 * underlying `NodeJS.ErrnoException` (ENOSPC, EACCES, ENOENT ...) after removing their temp file.
 */
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** Eight random hex characters, for temp and unique file names. */
export const randomTag = (): string => Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString("hex");

/** Prefix of every temp file this module makes; `removeTempFiles` deletes files that start with it. */
export const TEMP_PREFIX = ".tmp-";

/** fsync(2) of a file or directory by path. Throws when it cannot be opened (ENOENT ...). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsync(2) of a directory that may be gone (a ring never created, removed meanwhile): errors are ignored, there is nothing left to sync. */
export function fsyncDirIfPresent(dir: string): void {
  try {
    fsyncPath(dir);
  } catch {
    // directory gone: nothing to sync
  }
}

/**
 * A fresh temp path beside `finalPath`: `<dir>/.tmp-<name>.<random><suffix>`. `suffix` lets a
 * tool that picks its format by extension (ffmpeg) see the right one, e.g. `".mp4"`.
 */
export function tempPathFor(finalPath: string, suffix = ""): string {
  return join(dirname(finalPath), `${TEMP_PREFIX}${basename(finalPath)}.${randomTag()}${suffix}`);
}

/** Best-effort unlink of a temp file (already gone is fine). */
export function discardTemp(tmpPath: string): void {
  try {
    unlinkSync(tmpPath);
  } catch {
    /* never made, or already gone */
  }
}

/**
 * Makes a finished temp file final: fsync it, rename it to `finalPath` (replacing any file
 * there), fsync the directory. Use it when another program (ffmpeg) wrote `tmpPath`, which must
 * come from `tempPathFor(finalPath)` (same directory). On error the temp file is removed and the
 * error rethrown; `finalPath` is then unchanged.
 */
export function commitTempFile(tmpPath: string, finalPath: string): void {
  try {
    fsyncPath(tmpPath);
    renameSync(tmpPath, finalPath);
  } catch (err) {
    discardTemp(tmpPath);
    throw err;
  }
  fsyncPath(dirname(finalPath));
}

/**
 * Writes `data` to `finalPath` crash-safely (see the module comment). The directory must exist.
 * `mode` (e.g. 0o600) applies to the new file. Throws the write/rename error (ENOSPC ...) after
 * removing the temp file; `finalPath` is then unchanged.
 */
export function writeFileAtomic(finalPath: string, data: string | Uint8Array, mode?: number): void {
  const tmp = tempPathFor(finalPath);
  try {
    writeFileSync(tmp, data, mode === undefined ? undefined : { mode });
  } catch (err) {
    discardTemp(tmp);
    throw err;
  }
  commitTempFile(tmp, finalPath);
}

/**
 * Copies the file `src` (or any `Bun.file`/`Blob`/`Response` body) to `finalPath` crash-safely.
 * The bytes are streamed by `Bun.write` (copy_file_range/sendfile for files), never loaded whole.
 * Returns the bytes written. Throws like `writeFileAtomic`.
 */
export async function writeFileAtomicFrom(finalPath: string, src: string | Blob | Response): Promise<number> {
  const tmp = tempPathFor(finalPath);
  let n: number;
  try {
    n = src instanceof Response ? await Bun.write(tmp, src) : await Bun.write(tmp, typeof src === "string" ? Bun.file(src) : src);
  } catch (err) {
    discardTemp(tmp);
    throw err;
  }
  commitTempFile(tmp, finalPath);
  return n;
}

/**
 * Deletes temp files (`.tmp-*`) in `dir` older than `olderThanMs` (by mtime), left by a crash
 * mid-write. Returns how many were removed; a missing directory counts as 0.
 */
export function removeTempFiles(dir: string, olderThanMs = 0, now = Date.now()): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let n = 0;
  for (const name of names) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const p = join(dir, name);
    try {
      if (now - statSync(p).mtimeMs < olderThanMs) continue;
      unlinkSync(p);
      n++;
    } catch {
      /* raced with another sweep */
    }
  }
  return n;
}
