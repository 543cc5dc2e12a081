/** @jsxImportSource hono/jsx */
/** Free/total space of the file system holding data_dir; also the SSE fragment `disk`. */
import type { FC } from "hono/jsx";
import { statfsSync } from "node:fs";
import { formatBytes } from "../format.ts";

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
  if (!disk) return <p class="error-text">Data directory is not readable.</p>;
  const used = disk.total_bytes - disk.free_bytes;
  const freePct = disk.total_bytes > 0 ? Math.round((disk.free_bytes / disk.total_bytes) * 100) : 0;
  return (
    <>
      <div class="card-head">
        <h2>Storage</h2>
        <span class={`badge ${freePct < 5 ? "bad" : freePct < 15 ? "warn" : "ok"}`}>{freePct}% free</span>
      </div>
      <meter min={0} max={disk.total_bytes} value={used} low={disk.total_bytes * 0.85} high={disk.total_bytes * 0.95} optimum={0}></meter>
      <p class="disk-text">
        {formatBytes(disk.free_bytes)} free of {formatBytes(disk.total_bytes)}
      </p>
    </>
  );
};

export const DiskCard: FC<{ disk: DiskInfo | null }> = ({ disk }) => (
  <article class="card disk" id="disk" sse-swap="disk">
    <DiskBody disk={disk} />
  </article>
);
