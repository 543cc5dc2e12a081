/**
 * A counting semaphore with a bounded wait queue, for on-demand ffmpeg work started by web
 * requests (snapshots, trip thumbnails): at most `max` run at once, at most `maxWaiting` wait;
 * beyond that `run` throws `GateFullError` at once (the route answers 503 "busy") instead of
 * letting a burst of phone requests start dozens of decoders on a 2-4 core device.
 */
export class GateFullError extends Error {}

export class Gate {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    readonly max: number,
    readonly maxWaiting: number,
  ) {}

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `fn` when a slot is free. Throws GateFullError when the queue is full. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running >= this.max) {
      if (this.#waiting.length >= this.maxWaiting) throw new GateFullError("busy: too many snapshots in progress, try again in a moment");
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else this.#running++;
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next(); // the slot passes to the next waiter
      else this.#running--;
    }
  }
}
