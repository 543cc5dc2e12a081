/**
 * Formatting helpers shared by the pages. Server-side text is UTC (the device may not know the
 * viewer's time zone); `client.js` rewrites every element carrying `data-t` (Unix ms UTC) and
 * `data-fmt` into the viewer's local time.
 */

/** Bytes as a short human string with binary units: 1536 -> "1.5 KiB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** A duration in ms as "1 h 02 min", "3 min 05 s", "30 s", "4.2 s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 0) ms = 0;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m === 0) return `${sec} s`;
  return `${m} min ${String(sec).padStart(2, "0")} s`;
}

/** Unix ms -> ISO 8601 UTC ("2024-05-01T12:34:56.789Z"). */
export const isoUtc = (ms: number): string => new Date(ms).toISOString();

/** Unix ms -> "2024-05-01 12:34:56 UTC" (the server-side fallback text). */
export function utcText(ms: number, withDate = true): string {
  const iso = new Date(ms).toISOString();
  return withDate ? `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC` : `${iso.slice(11, 16)}`;
}

/** Bits per second as "2.4 Mbit/s". */
export function formatBitrate(bps: number | null | undefined): string {
  if (!bps) return "–";
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(1)} Mbit/s`;
  return `${Math.round(bps / 1e3)} kbit/s`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad2 = (n: number) => String(n).padStart(2, "0");

/**
 * Unix ms -> "7 Dec 08:12" in UTC shifted by `tzo` minutes (`Date.getTimezoneOffset()` of the
 * viewer, so local = UTC - tzo). The one short "when" text of the UI: 24 h clock, day and
 * month name, no year. `client.js` writes the same shape in the viewer's zone for
 * `data-fmt="when"` ("today 08:12" / "yesterday 08:12" for the two latest days).
 */
export function whenText(ms: number, tzo = 0): string {
  const d = new Date(ms - tzo * 60_000);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
}

/**
 * The file name a download is offered under: `<camera>-YYYY-MM-DD-HHMM.<ext>`, e.g.
 * `front-2026-12-07-0812.mp4`, at instant `ms` in the viewer's zone (`tzo` minutes as
 * `Date.getTimezoneOffset()`, 0 = UTC). With `seconds` (segments and pictures, several of which
 * can start within one minute) `HHMMSS`: `front-2026-12-07-081230.mp4`. Characters other than
 * `A-Za-z0-9._-` become `_`.
 */
export function downloadName(cameraKey: string, ms: number, ext: string, tzo = 0, seconds = false): string {
  const d = new Date(ms - tzo * 60_000);
  const time = `${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${seconds ? pad2(d.getUTCSeconds()) : ""}`;
  const stamp = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}-${time}`;
  return `${cameraKey}-${stamp}.${ext}`.replace(/[^A-Za-z0-9._-]/g, "_");
}

/** The calendar day (YYYY-MM-DD) of `ms` in the viewer's zone (`tzo` as `Date.getTimezoneOffset()`). */
export const dayOf = (ms: number, tzo = 0): string => new Date(ms - tzo * 60_000).toISOString().slice(0, 10);

/**
 * How full a disk is and the badge tone for it: `pct` = round(100 x used / total) where used =
 * total - available (statfs(2): blocks minus blocks available to unprivileged users), tone
 * `ok` under 80 %, `warn` under 95 %, `bad` from 95 % (thresholds of common NAS/NVR
 * dashboards: amber leaves room to act, red means the next drive may not fit).
 */
export function fullness(usedBytes: number, totalBytes: number): { pct: number; tone: "ok" | "warn" | "bad" } {
  const pct = totalBytes > 0 ? Math.min(100, Math.max(0, Math.round((usedBytes / totalBytes) * 100))) : 0;
  return { pct, tone: pct < 80 ? "ok" : pct < 95 ? "warn" : "bad" };
}

/** A drive's length for people: "45 s", "14 min", "1 h 05 min" (rounded down to the minute). */
export function formatDriveLength(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}
