/**
 * Shared by the runtime benches: the cameras they record (the highway clip as `file:` sources)
 * and /proc sampling: VmRSS and VmHWM from /proc/<pid>/status, utime + stime
 * from /proc/<pid>/stat (fields 14 and 15, clock ticks; CLK_TCK = 100 on Linux x86-64/arm64,
 * see proc(5)), cutime + cstime (fields 16 and 17: the children it has waited for), and the
 * children of a pid (field 4, ppid).
 */
import { readFileSync, readdirSync } from "node:fs";
import { HIGHWAY_CLIP } from "../../test/helpers/rtsp.ts";

/** `n` cameras `cam1..camN` recording the highway clip (1280x720 H.264, real time, looped) in 10 s segments, with `extra` keys each. */
export function highwayCameras(n: number, extra: Record<string, string | number | boolean> = {}) {
  return [...Array(n)].map((_, i) => ({ key: `cam${i + 1}`, source: `file:${HIGHWAY_CLIP}`, segment_seconds: 10, ring_segments: 1000, ...extra }));
}

/** Clock ticks per second of /proc/<pid>/stat times. */
export const CLK_TCK = 100;

export interface ProcSample {
  rssKb: number;
  hwmKb: number;
  ticks: number;
  /** cutime + cstime: CPU of the children it has waited for (short runs, e.g. frame decodes), ticks. */
  reapedTicks: number;
}

/** RSS/HWM (kB) and utime+stime (ticks) of one pid, or null when it is gone. */
export function sample(pid: number): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3 (state)
    return {
      rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0),
      hwmKb: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0),
      ticks: Number(fields[11]) + Number(fields[12]), // utime (14), stime (15)
      reapedTicks: Number(fields[13]) + Number(fields[14]), // cutime (16), cstime (17)
    };
  } catch {
    return null;
  }
}

/** Pids whose parent is `ppid`. */
export function children(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === ppid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}
