/**
 * The retention planner (pure): how long a camera's ring holds footage at a bitrate, and what
 * bitrate keeps a wanted number of days. A ring is bounded three ways (src/actors/retention.ts):
 * `ring_segments` (a duration: segments x segment length, whatever the bitrate), `ring_bytes`,
 * and the disk's free space above `min_free_bytes`; the tightest bound wins. Bytes, bit/s, s.
 */

/** The space a camera's ring may use. */
export interface RingSpace {
  ringSegments: number;
  segmentSeconds: number;
  /** `ring_bytes` (null: not set). */
  ringBytes: number | null;
  /** Bytes of the camera's ring now (unlocked segments). */
  usedBytes: number;
  /** Free bytes of the data disk available to this camera (shared free space divided among the recording cameras). */
  freeBytes: number;
  /** `min_free_bytes` for this camera's share (0: not set). */
  minFreeBytes: number;
}

export interface RetentionPlan {
  /** Bytes the ring may fill: min(ring_bytes, used + free - min_free). */
  capacityBytes: number;
  /** How long the ring holds at the measured bitrate, s (null without a bitrate). */
  holdsSeconds: number | null;
  /** What bounds it: the segment count or the bytes. */
  limitedBy: "segments" | "bytes" | null;
  /** Bitrate that keeps `targetDays` on `capacityBytes`, bit/s. */
  bitrateForTargetBps: number;
  /** `ring_segments` needed for `targetDays` (when the segment count is the tighter bound). */
  segmentsForTarget: number;
  targetDays: number;
}

/** Bytes the ring may fill (see `RetentionPlan.capacityBytes`). */
export function ringCapacityBytes(s: RingSpace): number {
  const disk = Math.max(0, s.usedBytes + s.freeBytes - s.minFreeBytes);
  return s.ringBytes === null ? disk : Math.min(s.ringBytes, disk);
}

/**
 * Plans retention: at `measuredBps` (bit/s, null when nothing is recorded yet) the ring holds
 * min(segments x segment length, capacity x 8 / bitrate) seconds; keeping `targetDays` needs at
 * most capacity x 8 / (days x 86 400) bit/s and `ring_segments` >= days x 86 400 / segment length.
 */
export function planRetention(s: RingSpace, measuredBps: number | null, targetDays: number): RetentionPlan {
  const capacityBytes = ringCapacityBytes(s);
  const bySegments = s.ringSegments * s.segmentSeconds;
  let holdsSeconds: number | null = null;
  let limitedBy: RetentionPlan["limitedBy"] = null;
  if (measuredBps && measuredBps > 0) {
    const byBytes = (capacityBytes * 8) / measuredBps;
    holdsSeconds = Math.min(bySegments, byBytes);
    limitedBy = bySegments <= byBytes ? "segments" : "bytes";
  }
  const targetSeconds = targetDays * 86_400;
  return {
    capacityBytes,
    holdsSeconds,
    limitedBy,
    bitrateForTargetBps: Math.floor((capacityBytes * 8) / targetSeconds),
    segmentsForTarget: Math.ceil(targetSeconds / s.segmentSeconds),
    targetDays,
  };
}
