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
import { closeSync, fsyncSync, linkSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
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

/** Options of the final-file writers. */
export interface AtomicWriteOptions {
  /** Permission bits of the new file (e.g. 0o600); default 0o666 minus the umask. */
  mode?: number;
  /**
   * fsync the directory after the rename (default true). Pass false only when writing several
   * files into one directory and calling `fsyncPath(dir)` once after the last of them: until
   * then a power cut may lose the new names (never expose a partial file).
   */
  syncDir?: boolean;
}

/**
 * Makes a finished temp file final: fsync it, rename it to `finalPath` (replacing any file
 * there), fsync the directory (unless `syncDir: false`). Use it when another program (ffmpeg)
 * wrote `tmpPath`, which must come from `tempPathFor(finalPath)` (same directory). On error the
 * temp file is removed and the error rethrown; `finalPath` is then unchanged.
 */
export function commitTempFile(tmpPath: string, finalPath: string, options: Pick<AtomicWriteOptions, "syncDir"> = {}): void {
  try {
    fsyncPath(tmpPath);
    renameSync(tmpPath, finalPath);
  } catch (err) {
    discardTemp(tmpPath);
    throw err;
  }
  if (options.syncDir !== false) fsyncPath(dirname(finalPath));
}

/**
 * Creates `finalPath` with `data` crash-safely, only if it does not exist yet (like
 * `open(O_CREAT|O_EXCL)`, but never leaving a partial file under the name): temp file, fsync,
 * `link(2)` to the final name (fails with EEXIST when another writer got there first), unlink
 * the temp, fsync the directory. For files that must never be replaced once made, such as an
 * encryption key. Throws EEXIST (the existing file is untouched) or the write error.
 */
export function createFileAtomic(finalPath: string, data: string | Uint8Array, options: Pick<AtomicWriteOptions, "mode"> = {}): void {
  const tmp = tempPathFor(finalPath);
  try {
    writeFileSync(tmp, data, options.mode === undefined ? undefined : { mode: options.mode });
    fsyncPath(tmp);
    linkSync(tmp, finalPath);
  } finally {
    discardTemp(tmp);
  }
  fsyncPath(dirname(finalPath));
}

/**
 * Writes `data` to `finalPath` crash-safely (see the module comment). The directory must exist.
 * Throws the write/rename error (ENOSPC ...) after removing the temp file; `finalPath` is then
 * unchanged.
 */
export function writeFileAtomic(finalPath: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const tmp = tempPathFor(finalPath);
  try {
    writeFileSync(tmp, data, options.mode === undefined ? undefined : { mode: options.mode });
  } catch (err) {
    discardTemp(tmp);
    throw err;
  }
  commitTempFile(tmp, finalPath, options);
}

/**
 * Copies the file `src` (a path, or any `Bun.file`/`Blob`/`Response` body) to `finalPath`
 * crash-safely. The bytes are streamed by `Bun.write` (copy_file_range/sendfile for files),
 * never loaded whole. Returns the bytes written. Throws like `writeFileAtomic`.
 */
export async function writeFileAtomicFrom(finalPath: string, src: string | Blob | Response, options: Pick<AtomicWriteOptions, "syncDir"> = {}): Promise<number> {
  const tmp = tempPathFor(finalPath);
  let n: number;
  try {
    n = src instanceof Response ? await Bun.write(tmp, src) : await Bun.write(tmp, typeof src === "string" ? Bun.file(src) : src);
  } catch (err) {
    discardTemp(tmp);
    throw err;
  }
  commitTempFile(tmp, finalPath, options);
  return n;
}

/**
 * Deletes the temp files (`.tmp-*`) directly in `dir`, left by a crash mid-write: all of them
 * (`olderThanMs` 0, at start-up), or only those last modified at least `olderThanMs` ago (a
 * periodic sweep while writers may be running). Returns how many it removed; a missing
 * directory or a file that vanished meanwhile is not an error.
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
      if (olderThanMs > 0 && now - statSync(p).mtimeMs < olderThanMs) continue;
      unlinkSync(p);
      n++;
    } catch {
      /* raced with another sweep */
    }
  }
  return n;
}

/**
 * fsync(2) (or, with `dataOnly`, fdatasync(2)) of a file or directory by path, through a
 * read-only descriptor of its own: the kernel flushes the file's dirty pages whichever
 * descriptor asks, so this also syncs a file another process is writing (the recorder syncs
 * ffmpeg's segment in progress this way). Asynchronous: it runs on libuv's thread pool, so a slow
 * card does not stall the event loop. Resolves false when the path does not exist (yet); other
 * errors are thrown.
 */
export async function syncPathAsync(path: string, dataOnly = false): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
  try {
    await (dataOnly ? handle.datasync() : handle.sync());
  } finally {
    await handle.close();
  }
  return true;
}
