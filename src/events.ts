/**
 * In-process publish/subscribe of live state changes, for the web UI's SSE stream.
 * Publishing never throws and never blocks: a failing subscriber is dropped.
 */
import type { GpioState } from "./machines/supervisor.ts";

export type LiveEvent =
  | { type: "camera"; key: string; state: string; lastError?: string | null; reconnectCount?: number }
  | { type: "segment"; key: string; absoluteIndex: number; endUtc: number; bytes: number }
  | { type: "trip"; id: number; cameraKey: string; state: string }
  /** A camera health check was recorded (src/actors/health.ts). */
  | { type: "health"; key: string }
  | { type: "event_log"; id: number; kind: string; message: string }
  /** The GPIO save button's status changed (src/actors/gpio.ts; `reason` is one line when unavailable). */
  | ({ type: "gpio" } & GpioState)
  /** A timelapse batch changed status or made progress (src/actors/timelapseBatch.ts); frames done of total. */
  | { type: "timelapse"; batchId: number; cameraKey: string; status: string; framesDone: number; totalFrames: number }
  /** A watchlisted plate was read (ALPR). `ts` = frame time, ms UTC; `vehicleId` = vehicles.id. */
  | { type: "alert"; kind: "alpr.watchlist"; plate: string; watched: string; cameraKey: string | null; ts: number; vehicleId: number; message: string }
  /**
   * A camera's health status changed (src/actors/health.ts): `previous` -> `status`
   * (`unknown | ok | warning | critical`), the anomaly types of the check, `ts` = check time, ms UTC.
   */
  | { type: "alert"; kind: "camera.health"; cameraKey: string; status: string; previous: string; anomalies: string[]; ts: number; message: string };

type Listener = (event: LiveEvent) => void;

export class LiveBus {
  private listeners = new Set<Listener>();

  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: LiveEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        this.listeners.delete(listener);
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}
