/** @jsxImportSource hono/jsx */
/**
 * How full the storage holding the recordings is; also the SSE fragment `disk`.
 *
 * The numbers come from `statfs(2)` of data_dir (the file system the recordings are on):
 * total = blocks x block size, available = blocks available to unprivileged users x block size,
 * used = total - available. The badge ("69 % full") and the bar show the same percentage;
 * colour: green under 80 %, amber under 95 %, red from 95 % (`fullness` in ../format.ts).
 * A full card is expected on a dashcam (the oldest unkept footage is overwritten), so the text
 * says what happens next rather than only alarming.
 */
import type { FC } from "hono/jsx";
import { statfsSync } from "node:fs";
import { formatBytes, fullness } from "../format.ts";

export interface DiskInfo {
  free_bytes: number;
  total_bytes: number;
}

/**
 * `statfs(2)` of `dir`: free = blocks available to unprivileged users x block size, total =
 * blocks x block size (bytes). Null when the directory cannot be read.
 */
export function diskInfo(dir: string): DiskInfo | null {
  try {
    const s = statfsSync(dir);
    return { free_bytes: Number(s.bavail) * Number(s.bsize), total_bytes: Number(s.blocks) * Number(s.bsize) };
  } catch {
    return null;
  }
}

export const DiskBody: FC<{ disk: DiskInfo | null }> = ({ disk }) => {
  if (!disk) return <p class="error-text">The storage for recordings cannot be read.</p>;
  const used = Math.max(0, disk.total_bytes - disk.free_bytes);
  const { pct, tone } = fullness(used, disk.total_bytes);
  return (
    <>
      <div class="card-head">
        <h2>Storage</h2>
        <span class={`badge ${tone}`}>{pct} % full</span>
      </div>
      {/* the meter's own colours follow the same thresholds: optimum 0, low 80, high 95 */}
      <meter class="disk-meter" min={0} max={100} value={pct} low={80} high={95} optimum={0} aria-label={`Storage ${pct} % full`}>
        {pct} %
      </meter>
      <p class="disk-text">
        {formatBytes(used)} used, {formatBytes(disk.free_bytes)} free of {formatBytes(disk.total_bytes)}.{" "}
        <span class="muted">
          {tone === "bad"
            ? "Nearly full: footage you have not kept will be overwritten first; kept drives and incidents are never overwritten."
            : "When it fills up, the oldest footage you have not kept is overwritten."}{" "}
          Measured on the storage that holds the recordings.
        </span>
      </p>
    </>
  );
};

export const DiskCard: FC<{ disk: DiskInfo | null }> = ({ disk }) => (
  <article class="card disk" id="disk" sse-swap="disk">
    <DiskBody disk={disk} />
  </article>
);
