/**
 * Live progress of timelapse renders (frames done / total), kept in memory by the render actors
 * and read by the Timelapses page for its first paint; each change is also published on the
 * LiveBus as a `timelapse` event (SSE). Not persisted: after a restart a render starts again
 * from frame 0.
 */
export interface RenderProgressEntry {
  batchId: number;
  cameraKey: string;
  framesDone: number;
  totalFrames: number;
  /** Unix ms of the last update. */
  at: number;
}

export class RenderProgress {
  private entries = new Map<number, RenderProgressEntry>();

  set(entry: RenderProgressEntry): void {
    this.entries.set(entry.batchId, entry);
  }

  get(batchId: number): RenderProgressEntry | null {
    return this.entries.get(batchId) ?? null;
  }

  delete(batchId: number): void {
    this.entries.delete(batchId);
  }
}
