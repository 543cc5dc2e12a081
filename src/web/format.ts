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
