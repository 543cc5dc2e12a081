/**
 * `GET /media/:key/:absoluteIndex.ts` — one ring segment, streamed from disk (what the HLS
 * players read).
 *
 * `GET /media/:key/:absoluteIndex.mp4[?tzo=MIN]` — the same segment as an MP4 a phone plays, the
 * download the pages offer: remuxed while it is sent (`-c copy`, fragmented MP4 from ffmpeg's
 * stdout, src/media/tripMp4.ts `streamSegmentMp4`, read-locked likewise, no Range, ffmpeg killed
 * when the client goes), as an attachment named like `front-2026-12-07-0812.mp4` (the segment's
 * start in the viewer's zone, `tzo` as `Date.getTimezoneOffset()`). 503 while
 * `MAX_TRIP_STREAMS` MP4 downloads run.
 *
 * The file is found only through its `segments` row (camera key + absolute index); no path is
 * ever built from the URL. The row's `rel_path` is then resolved with `resolveInside(dataDir)`
 * as a second guard against a bad row. The body is a `Bun.file` slice (sent with sendfile where
 * the OS allows, never buffered whole), `Content-Type: video/mp2t`, with single-range `Range`
 * support (206 + Content-Range; 416 when unsatisfiable; a multi-range request gets the whole
 * file, which RFC 9110 14.2 allows). Segments are immutable (named by absolute index, never
 * rewritten), so they carry a long private cache lifetime and a strong ETag.
 *
 * Read-lock (seed 002): while a segment is streamed (HLS players of trips and the live
 * view, downloads) it holds one increment of `segments.locked` (`acquireReadLock` of src/db/locks.ts), so
 * retention cannot delete it mid-read. The lock is taken before the file is opened and belongs
 * to the response body (`lockedStream`): released when the body has been sent, fails, or the
 * client disconnects (Bun cancels the stream). Responses without a body (HEAD, 416) and every
 * error path release it at once; a crash leaves counts that start-up reconcile clears.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";
import { segmentByAbsolute } from "../../db/views.ts";
import { cameraByKey } from "../../db/cameras.ts";
import { acquireReadLock, lockedStream } from "../../db/locks.ts";
import { resolveInside } from "../../paths.ts";
import { streamSegmentMp4, TripStreamsBusyError } from "../../media/tripMp4.ts";
import { downloadName } from "../format.ts";
import { tzoOf } from "../download.ts";
import type { WebEnv } from "../env.ts";
import { CameraKey, unknownCamera, valid } from "../validate.ts";

const MediaParam = v.object({
  key: CameraKey,
  file: v.pipe(
    v.string(),
    v.regex(/^\d{1,15}\.(ts|mp4)$/, "must be <absolute index>.ts or <absolute index>.mp4"),
    v.transform((s) => ({ abs: Number(s.slice(0, s.lastIndexOf("."))), mp4: s.endsWith(".mp4") })),
  ),
});

/** Parses a single `bytes=` range against `size`: the inclusive byte span, "unsatisfiable", or null (ignore the header). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const [, a, b] = m;
  if (a === "" && b === "") return null;
  if (a === "") {
    const n = Number(b);
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || (b !== "" && Number(b) < start)) return "unsatisfiable";
  return { start, end };
}

export function mediaRoutes() {
  const app = new Hono<WebEnv>();
  app.get("/:key/:file", valid("param", MediaParam), async (c) => {
    const { db, dataDir } = c.var.deps;
    const { key, file } = c.req.valid("param");
    const abs = file.abs;
    const row = segmentByAbsolute(db, key, abs);
    if (!row) {
      if (!cameraByKey(db, key)) unknownCamera(key);
      throw new HTTPException(404, { message: `camera "${key}" has no segment ${abs}` });
    }
    if (file.mp4) {
      const headers = {
        "Content-Type": "video/mp4",
        "Content-Disposition": `attachment; filename="${downloadName(key, row.start_utc, "mp4", tzoOf(c), true)}"`,
        "Accept-Ranges": "none",
        "Cache-Control": "private, no-cache",
      };
      // HEAD runs this handler too and drops the body: answer without starting ffmpeg
      if (c.req.method === "HEAD") return new Response(null, { status: 200, headers });
      try {
        resolveInside(dataDir, row.rel_path);
      } catch {
        throw new HTTPException(404, { message: `segment ${abs} has a path outside the data directory` });
      }
      let mp4;
      try {
        mp4 = streamSegmentMp4(db, dataDir, row);
      } catch (err) {
        if (err instanceof TripStreamsBusyError) throw new HTTPException(503, { message: err.message });
        throw err;
      }
      if (!mp4) throw new HTTPException(404, { message: `segment ${abs} file is missing on disk` });
      return new Response(mp4.body, { status: 200, headers: { ...headers, "X-Content-Duration": (mp4.durationMs / 1000).toFixed(3) } });
    }
    // lock first, then open: retention skips locked rows (its DELETE re-checks `locked = 0`)
    // `using`: every exit of this handler releases the lock, except the one that hands it to the body
    using owner = new DisposableStack();
    const lock = owner.use(acquireReadLock(db, [row.id]));
    if (lock.segmentIds.length === 0) throw new HTTPException(404, { message: `camera "${key}" has no segment ${abs}` });
    let full: string;
    try {
      full = resolveInside(dataDir, row.rel_path);
    } catch {
      throw new HTTPException(404, { message: `segment ${abs} has a path outside the data directory` });
    }
    const f = Bun.file(full);
    if (!(await f.exists())) throw new HTTPException(404, { message: `segment ${abs} file is missing on disk` });
    const size = f.size;
    const headers: Record<string, string> = {
      "Content-Type": "video/mp2t",
      "Accept-Ranges": "bytes",
      "Cache-Control": "private, max-age=86400, immutable",
      ETag: `"${key}-${abs}-${size}"`,
      "Content-Disposition": `inline; filename="${key}-${abs}.ts"`,
    };
    const range = parseRange(c.req.header("Range"), size);
    if (range === "unsatisfiable") {
      return new Response(null, { status: 416, headers: { ...headers, "Content-Range": `bytes */${size}` } });
    }
    const part = range ? f.slice(range.start, range.end + 1) : f;
    const length = range ? range.end - range.start + 1 : size;
    const h = range ? { ...headers, "Content-Range": `bytes ${range.start}-${range.end}/${size}` } : headers;
    h["Content-Length"] = String(length);
    if (c.req.method === "HEAD") return new Response(null, { status: range ? 206 : 200, headers: h });
    const body = lockedStream(lock, part.stream());
    owner.move(); // the body owns the lock now: released when it ends or the client goes
    return new Response(body, { status: range ? 206 : 200, headers: h });
  });
  return app;
}
