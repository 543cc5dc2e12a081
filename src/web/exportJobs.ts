/**
 * Clip and snapshot exports made from the web UI: an in-memory job registry plus the files
 * under `<data_dir>/exports/` (written by src/media/export.ts and snapshot.ts).
 *
 * Why not a table: a job's only durable product is its file, and that file already is the
 * record (final names are complete by construction: src/fsx.ts writes a temp file, fsyncs and
 * renames it); progress is transient (it only matters while ffmpeg runs), and the event log
 * keeps the history (`export.start`, `export.done`, `export.fail`, `export.cancel`,
 * `export.delete`). Finished files found on disk (e.g. after a restart) are listed too, under
 * an id derived from their name (first 16 hex digits of SHA-256 of the relative path, so the
 * id is stable across restarts); a running job's id is random. Ids are always 16 lowercase hex digits.
 *
 * Jobs run one at a time (`maxRunning`, default 1: a clip is a stream copy, bounded by disk
 * speed, and the recorder must keep its share of the SD card); at most `maxPending` (8) may
 * wait, beyond that `startClip` throws `ExportBusyError` (429). At most `keep` (200) finished
 * jobs are remembered, oldest forgotten first (their files stay on disk and reappear as
 * found files).
 */
import type { Database } from "bun:sqlite";
import { existsSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { basename, join } from "node:path";
import { logEvent } from "../db/eventLog.ts";
import { EXPORTS_DIR, exportClip, type ClipRequest, type ClipResult, type Progress } from "../media/export.ts";
import { resolveInside } from "../paths.ts";
import { log } from "../log.ts";

export type ExportState = "queued" | "running" | "done" | "failed" | "cancelled";
export type ExportKind = "clip" | "snapshot";

/** One export as the UI shows it. Times are Unix ms UTC; sizes bytes. */
export interface ExportJob {
  id: string;
  kind: ExportKind;
  cameraId: number | null;
  cameraKey: string | null;
  /** Clip range (a snapshot: its instant in both). Null for a found file whose name says nothing. */
  fromUtc: number | null;
  toUtc: number | null;
  state: ExportState;
  /** Media time written so far / in total (ms), from ffmpeg's progress. */
  doneMs: number;
  totalMs: number;
  /** Relative to data_dir, once the file exists. */
  relPath: string | null;
  bytes: number | null;
  error: string | null;
  /** Username that started it (null for found files). */
  user: string | null;
  createdAt: number;
  finishedAt: number | null;
}

/** Too many exports queued (the route answers 429). */
export class ExportBusyError extends Error {}

/** An export id in a URL: 16 lowercase hex digits. */
export const EXPORT_ID_RE = /^[0-9a-f]{16}$/;

export interface RegistryOptions {
  maxRunning?: number;
  maxPending?: number;
  keep?: number;
  /** The clip exporter (default src/media/export.ts `exportClip`). */
  exportClip?: (db: Database, dataDir: string, req: ClipRequest, onProgress?: (p: Progress) => void) => Promise<ClipResult>;
  now?: () => number;
}

interface Entry {
  job: ExportJob;
  controller?: AbortController;
  request?: ClipRequest;
  done?: Promise<void>;
}

const randomId = () => Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex");
/** The stable id of a finished export file found on disk: the first 16 hex digits of SHA-256 of its path relative to data_dir. */
export const idOfPath = (rel: string): string => new Bun.CryptoHasher("sha256").update(rel).digest("hex").slice(0, 16);

/** Reads camera key and times out of an export file name (best effort; see export.ts / snapshot.ts naming). */
export function parseExportName(name: string): { kind: ExportKind; cameraKey: string | null; fromUtc: number | null; toUtc: number | null } {
  const clip = /^(.+?)-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})Z-(\d+)s(?:-.+)?\.mp4$/.exec(name);
  if (clip) {
    const [, key, y, mo, d, h, mi, s, secs] = clip;
    const from = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!);
    return { kind: "clip", cameraKey: key!, fromUtc: from, toUtc: from + Number(secs) * 1000 };
  }
  const snap = /^(.+?)-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(?:\.(\d{3}))?Z\.jpg$/.exec(name);
  if (snap) {
    const [, key, y, mo, d, h, mi, s, ms] = snap;
    const at = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!, Number(ms ?? 0));
    return { kind: "snapshot", cameraKey: key!, fromUtc: at, toUtc: at };
  }
  return { kind: name.endsWith(".jpg") ? "snapshot" : "clip", cameraKey: null, fromUtc: null, toUtc: null };
}

/**
 * The moment an incident clip is about: the UTC time in its `inc-YYYYMMDD-HHMMSS[-mmm-<camera>]` tag
 * (incidentIdFor of src/machines/incident.ts; `newIncidentId` ends in random hex instead), else the clip's start.
 */
export function incidentMoment(job: Pick<ExportJob, "relPath" | "fromUtc">): number | null {
  const m = /-inc-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(?:-(\d{3})(?=-))?/.exec(job.relPath ?? "");
  if (m) return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, Number(m[7] ?? 0));
  return job.fromUtc;
}

/** True for an export made for an incident: its file name carries a tag after the length (`...-60s-<tag>.mp4`). */
export const isIncidentClip = (job: Pick<ExportJob, "kind" | "relPath">) => job.kind === "clip" && /-\d+s-[^/]+\.mp4$/.test(job.relPath ?? "");

export class ExportRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #queue: string[] = [];
  #running = 0;
  readonly #maxRunning: number;
  readonly #maxPending: number;
  readonly #keep: number;
  readonly #exportClip: NonNullable<RegistryOptions["exportClip"]>;
  readonly #now: () => number;
  #stopped = false;

  constructor(
    private readonly db: Database,
    private readonly dataDir: string,
    options: RegistryOptions = {},
  ) {
    this.#maxRunning = options.maxRunning ?? 1;
    this.#maxPending = options.maxPending ?? 8;
    this.#keep = options.keep ?? 200;
    this.#exportClip = options.exportClip ?? exportClip;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Queues a clip export. The request must already be validated (camera exists, range valid,
   * footage present): failures from here on are job failures, shown on the job. Logs
   * `export.start`. Throws ExportBusyError when `maxPending` jobs already wait.
   */
  startClip(req: { cameraId: number; cameraKey: string; fromUtc: number; toUtc: number; user: string | null }): ExportJob {
    if (this.#stopped) throw new ExportBusyError("exports are shutting down");
    if (this.#queue.length >= this.#maxPending) throw new ExportBusyError(`too many exports waiting (${this.#queue.length}); try again when one has finished`);
    const id = randomId();
    const job: ExportJob = {
      id,
      kind: "clip",
      cameraId: req.cameraId,
      cameraKey: req.cameraKey,
      fromUtc: req.fromUtc,
      toUtc: req.toUtc,
      state: "queued",
      doneMs: 0,
      totalMs: req.toUtc - req.fromUtc,
      relPath: null,
      bytes: null,
      error: null,
      user: req.user,
      createdAt: this.#now(),
      finishedAt: null,
    };
    const controller = new AbortController();
    this.#entries.set(id, { job, controller, request: { cameraId: req.cameraId, fromUtc: req.fromUtc, toUtc: req.toUtc, signal: controller.signal } });
    logEvent(this.db, {
      kind: "export.start",
      cameraId: req.cameraId,
      message: `${req.user ?? "someone"} started clip export ${id} of ${req.cameraKey}: ${new Date(req.fromUtc).toISOString()} to ${new Date(req.toUtc).toISOString()}`,
      data: { exportId: id, user: req.user, fromUtc: req.fromUtc, toUtc: req.toUtc },
    });
    this.#queue.push(id);
    this.#pump();
    this.#trim();
    return job;
  }

  /** Records a finished file made elsewhere (a saved snapshot) as a done job. */
  addFinished(f: { kind: ExportKind; cameraId: number; cameraKey: string; atUtc: number; relPath: string; bytes: number; user: string | null }): ExportJob {
    const now = this.#now();
    const job: ExportJob = {
      id: randomId(),
      kind: f.kind,
      cameraId: f.cameraId,
      cameraKey: f.cameraKey,
      fromUtc: f.atUtc,
      toUtc: f.atUtc,
      state: "done",
      doneMs: 0,
      totalMs: 0,
      relPath: f.relPath,
      bytes: f.bytes,
      error: null,
      user: f.user,
      createdAt: now,
      finishedAt: now,
    };
    this.#entries.set(job.id, { job });
    this.#trim();
    return job;
  }

  #pump(): void {
    while (this.#running < this.#maxRunning && this.#queue.length > 0) {
      const id = this.#queue.shift()!;
      const entry = this.#entries.get(id);
      if (!entry || entry.job.state !== "queued") continue;
      this.#running++;
      entry.done = this.#run(entry).finally(() => {
        this.#running--;
        this.#pump();
      });
    }
  }

  async #run(entry: Entry): Promise<void> {
    const { job } = entry;
    job.state = "running";
    try {
      const result = await this.#exportClip(this.db, this.dataDir, entry.request!, (p) => {
        job.doneMs = p.doneMs;
        job.totalMs = p.totalMs;
      });
      job.relPath = result.relPath;
      job.bytes = result.bytes;
      job.totalMs = result.clipMs;
      job.doneMs = result.clipMs;
      job.state = "done";
      job.finishedAt = this.#now();
      logEvent(this.db, {
        kind: "export.done",
        cameraId: job.cameraId,
        message: `clip export ${job.id} of ${job.cameraKey} done: ${result.relPath} (${result.bytes} bytes${result.reused ? ", already existed" : ""})`,
        data: { exportId: job.id, relPath: result.relPath, bytes: result.bytes, user: job.user },
      });
    } catch (err) {
      const cancelled = entry.controller?.signal.aborted ?? false;
      job.state = cancelled ? "cancelled" : "failed";
      job.error = cancelled ? "cancelled" : String((err as Error)?.message ?? err).slice(0, 300);
      job.finishedAt = this.#now();
      try {
        logEvent(this.db, {
          kind: cancelled ? "export.cancel" : "export.fail",
          level: cancelled ? "info" : "warn",
          cameraId: job.cameraId,
          message: `clip export ${job.id} of ${job.cameraKey} ${cancelled ? "cancelled" : `failed: ${job.error}`}`,
          data: { exportId: job.id, user: job.user },
        });
      } catch (e) {
        log.warn(`export ${job.id}: cannot log its failure: ${(e as Error).message}`);
      }
    } finally {
      entry.controller = undefined;
      entry.request = undefined;
    }
  }

  /** Forgets the oldest finished jobs beyond `keep`. */
  #trim(): void {
    if (this.#entries.size <= this.#keep) return;
    for (const [id, e] of this.#entries) {
      if (this.#entries.size <= this.#keep) break;
      if (e.job.state !== "queued" && e.job.state !== "running") this.#entries.delete(id);
    }
  }

  /** Registers finished files of `exports/` that no job knows (found after a restart). */
  #scanDisk(): void {
    const dir = join(this.dataDir, EXPORTS_DIR);
    if (!existsSync(dir)) return;
    const known = new Set<string>();
    for (const e of this.#entries.values()) if (e.job.relPath) known.add(e.job.relPath);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith(".") || !/\.(mp4|jpg)$/.test(name)) continue;
      const rel = join(EXPORTS_DIR, name);
      if (known.has(rel)) continue;
      let st;
      try {
        st = statSync(join(dir, name));
      } catch {
        continue;
      }
      if (!st.isFile()) continue;
      const parsed = parseExportName(name);
      const id = idOfPath(rel);
      if (this.#entries.has(id)) continue;
      this.#entries.set(id, {
        job: {
          id,
          kind: parsed.kind,
          cameraId: null,
          cameraKey: parsed.cameraKey,
          fromUtc: parsed.fromUtc,
          toUtc: parsed.toUtc,
          state: "done",
          doneMs: 0,
          totalMs: 0,
          relPath: rel,
          bytes: st.size,
          error: null,
          user: null,
          createdAt: st.mtimeMs,
          finishedAt: st.mtimeMs,
        },
      });
    }
  }

  /** A job by id (finished files on disk included); null when unknown or its file is gone. */
  get(id: string): ExportJob | null {
    if (!EXPORT_ID_RE.test(id)) return null;
    if (!this.#entries.has(id)) this.#scanDisk();
    const e = this.#entries.get(id);
    if (!e) return null;
    if (e.job.state === "done" && e.job.relPath && !this.#fileExists(e.job.relPath)) {
      this.#entries.delete(id);
      return null;
    }
    return e.job;
  }

  #fileExists(rel: string): boolean {
    try {
      return existsSync(resolveInside(this.dataDir, rel));
    } catch {
      return false;
    }
  }

  /** Every known job and found file, newest first. */
  list(): ExportJob[] {
    this.#scanDisk();
    const out: ExportJob[] = [];
    for (const [id, e] of this.#entries) {
      if (e.job.state === "done" && e.job.relPath && !this.#fileExists(e.job.relPath)) {
        this.#entries.delete(id);
        continue;
      }
      out.push(e.job);
    }
    return out.sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id));
  }

  /** Absolute path of a done job's file (inside data_dir), else null. */
  filePath(job: ExportJob): string | null {
    if (job.state !== "done" || !job.relPath) return null;
    try {
      return resolveInside(join(this.dataDir, EXPORTS_DIR), basename(job.relPath));
    } catch {
      return null;
    }
  }

  /**
   * Cancels a queued/running job (ffmpeg is killed, no file is left) or deletes a finished
   * job's file. Returns what happened; logs `export.delete` for a deleted file (a cancel is
   * logged when the job ends). Unknown id: "unknown".
   */
  async remove(id: string, user: string | null): Promise<"cancelled" | "deleted" | "forgotten" | "unknown"> {
    const job = this.get(id);
    if (!job) return "unknown";
    const entry = this.#entries.get(id)!;
    if (job.state === "queued") {
      const i = this.#queue.indexOf(id);
      if (i >= 0) this.#queue.splice(i, 1);
      job.state = "cancelled";
      job.error = "cancelled";
      job.finishedAt = this.#now();
      logEvent(this.db, { kind: "export.cancel", cameraId: job.cameraId, message: `${user ?? "someone"} cancelled clip export ${id} before it started`, data: { exportId: id, user } });
      return "cancelled";
    }
    if (job.state === "running") {
      entry.controller?.abort();
      await entry.done;
      return "cancelled";
    }
    if (job.state === "done") {
      const path = this.filePath(job);
      if (path) {
        try {
          unlinkSync(path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        }
      }
      this.#entries.delete(id);
      logEvent(this.db, {
        kind: "export.delete",
        cameraId: job.cameraId,
        message: `${user ?? "someone"} deleted export ${job.relPath}`,
        data: { exportId: id, relPath: job.relPath, user },
      });
      return "deleted";
    }
    this.#entries.delete(id); // failed/cancelled: nothing on disk
    return "forgotten";
  }

  /** Resolves when no job is queued or running (tests, shutdown). */
  async whenIdle(): Promise<void> {
    for (;;) {
      const pending = [...this.#entries.values()].filter((e) => e.job.state === "queued" || e.job.state === "running");
      if (pending.length === 0) return;
      await Promise.all(pending.map((e) => e.done ?? Bun.sleep(20)));
    }
  }

  /** Cancels everything queued or running and waits for it (orderly shutdown). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const id of this.#queue.splice(0)) {
      const e = this.#entries.get(id);
      if (e) {
        e.job.state = "cancelled";
        e.job.error = "cancelled (shutdown)";
      }
    }
    for (const e of this.#entries.values()) if (e.job.state === "running") e.controller?.abort();
    await Promise.all([...this.#entries.values()].map((e) => e.done));
  }
}
