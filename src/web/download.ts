/**
 * Streams a file from disk as a download: `Bun.file` (sent with sendfile, never read whole into
 * memory), `Content-Disposition: attachment` with a sanitised name (none with `inline`), `Content-Length`, and a
 * single `bytes=` Range (206 / 416), as used by export and saved-trip downloads.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { parseRange } from "./routes/media.ts";

/**
 * The viewer's time-zone offset from `?tzo=MIN` (minutes as `Date.getTimezoneOffset()`, -840..840;
 * client.js adds it to links marked `data-tzo`), else 0 (UTC). Used for download file names.
 */
export function tzoOf(c: Context): number {
  const raw = c.req.query("tzo");
  if (raw === undefined || !/^-?\d{1,3}$/.test(raw)) return 0;
  const n = Number(raw);
  return Math.abs(n) <= 840 ? n : 0;
}

export async function fileDownload(c: Context, path: string, name: string, type: string, options: { inline?: boolean } = {}): Promise<Response> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new HTTPException(404, { message: `${name} is gone from the disk` });
  const size = file.size;
  const headers: Record<string, string> = {
    "Content-Type": type,
    // inline: for a <video> element (no attachment header), same streaming and Range handling
    ...(options.inline ? {} : { "Content-Disposition": `attachment; filename="${name.replace(/[^A-Za-z0-9._-]/g, "_")}"` }),
    "Accept-Ranges": "bytes",
    "Cache-Control": "private, no-cache",
  };
  const range = parseRange(c.req.header("Range"), size);
  if (range === "unsatisfiable") return new Response(null, { status: 416, headers: { ...headers, "Content-Range": `bytes */${size}` } });
  if (range)
    return new Response(file.slice(range.start, range.end + 1), {
      status: 206,
      headers: { ...headers, "Content-Range": `bytes ${range.start}-${range.end}/${size}`, "Content-Length": String(range.end - range.start + 1) },
    });
  return new Response(file, { status: 200, headers: { ...headers, "Content-Length": String(size) } });
}
