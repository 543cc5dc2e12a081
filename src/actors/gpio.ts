/**
 * The GPIO save button: a service actor (XState `fromCallback`) that runs libgpiod's `gpiomon`
 * on `[gpio] chip` / `save_line` and turns its edge events into button presses.
 *
 * - `gpiomon` is found through env `GPIOMON` (a path), else on PATH. Both command-line
 *   generations are supported; `gpiomon --version` tells which:
 *   libgpiod 1.x (Debian bookworm, 1.6.3): `gpiomon -b [-l] <chip> <offset>`, lines like
 *   `event:  RISING EDGE offset: 17 timestamp: [    1234.567890123]`;
 *   libgpiod 2.x: `gpiomon [-l] -c <chip> <offset>`, lines like
 *   `1234.567890123<TAB>rising<TAB>gpiochip0 17` (tools/gpiomon.c `event_print_human_readable`).
 *   With `active_low` the tool is given `-l`, so pressing is a RISING edge in both.
 * - Debounce (in the actor, from gpiomon's own event timestamps): an edge that comes less than
 *   `debounce_ms` after the previous edge is contact bounce and ignored, so a bouncing press
 *   is ONE press; an edge in the direction the button already is in is ignored too.
 * - Short press (released before `long_press_ms`): `{ type: "SAVE", at, source: "button" }` to
 *   the parent, sent on release. Long press (held `long_press_ms` or longer): `{ type:
 *   "INCIDENT", at, source: "button" }`, sent as soon as the hold reaches `long_press_ms` (a
 *   wall-clock timer) or on release, whichever comes first, once. `at` is the press time (ms UTC).
 * - Status: `{ type: "GPIO.STATUS", status, reason, at }` to the parent — `starting` at spawn,
 *   `ready` once gpiomon has run for READY_AFTER_MS (1.x prints nothing until an edge) or
 *   printed an event, `unavailable` with a one-line reason when gpiomon is missing or exits
 *   (chip missing, permission denied, line busy...). An `unavailable` status is also written to
 *   the event log (`gpio.unavailable`, once per distinct reason). Never a crash: the actor stays
 *   alive and, except when the tool itself is missing, starts gpiomon again after `retry_ms`
 *   (a chip that appears later, a line freed by another program).
 *
 * Wiring (supervisor): `createGpioButton({ db })` is the logic to `.provide()` under a string
 * `src`; the input is the validated `[gpio]` table. The parent forwards SAVE to the current
 * trip (the event has the trip's `SAVE` shape) and starts an incident clip on INCIDENT.
 */
import type { Database } from "bun:sqlite";
import { fromCallback } from "xstate";
import { logEvent } from "../db/eventLog.ts";
import { log } from "../log.ts";
import type { GpioEvent, GpioStatus } from "../machines/events.ts";
import type { GpioConfig } from "../machines/supervisor.ts";
import { probeCommand } from "../commandProbe.ts";

export type { GpioEvent, GpioStatus };

/** One edge reported by gpiomon. `tsMs` is gpiomon's event timestamp (kernel clock) in ms. */
export interface GpioEdge {
  edge: "rising" | "falling";
  offset: number | null;
  tsMs: number;
}

const V1_RE = /event:\s*(RISING|FALLING)\s+EDGE\s+offset:\s*(\d+)\s+timestamp:\s*\[\s*(\d+)\.(\d+)\s*\]/;
const V2_RE = /^\s*(\d+)\.(\d+)\s+(rising|falling)\b\s*(.*)$/;

const toMs = (sec: string, frac: string) => Number(sec) * 1000 + Number(`0.${frac}`) * 1000;

/** Parses one line of gpiomon output (1.x or 2.x default format); null for anything else. */
export function parseGpiomonLine(line: string): GpioEdge | null {
  const v1 = V1_RE.exec(line);
  if (v1) return { edge: v1[1] === "RISING" ? "rising" : "falling", offset: Number(v1[2]), tsMs: toMs(v1[3]!, v1[4]!) };
  const v2 = V2_RE.exec(line);
  if (v2) {
    const tail = /(\d+)\s*$/.exec(v2[4] ?? "");
    return { edge: v2[3] as "rising" | "falling", offset: tail ? Number(tail[1]) : null, tsMs: toMs(v2[1]!, v2[2]!) };
  }
  return null;
}

/** What the decoder concludes from an edge or the long-press timer. */
export type ButtonAction = { kind: "press" } | { kind: "short"; heldMs: number } | { kind: "long"; heldMs: number };

/**
 * Pure press decoder (debounce + short/long classification) over gpiomon timestamps.
 * `edge()` takes edges in order; `holdTimeout()` is called by the actor's long-press timer.
 */
export class ButtonDecoder {
  private pressed = false;
  private pressTs = 0;
  private lastEdgeTs: number | null = null;
  private longSent = false;
  constructor(
    private readonly debounceMs: number,
    private readonly longPressMs: number,
  ) {}

  get isPressed(): boolean {
    return this.pressed;
  }

  edge(e: GpioEdge): ButtonAction | null {
    const bounce = this.lastEdgeTs !== null && e.tsMs - this.lastEdgeTs < this.debounceMs;
    this.lastEdgeTs = e.tsMs;
    if (bounce) return null;
    if (e.edge === "rising" && !this.pressed) {
      this.pressed = true;
      this.pressTs = e.tsMs;
      this.longSent = false;
      return { kind: "press" };
    }
    if (e.edge === "falling" && this.pressed) {
      this.pressed = false;
      const heldMs = e.tsMs - this.pressTs;
      if (this.longSent) return null;
      return heldMs >= this.longPressMs ? { kind: "long", heldMs } : { kind: "short", heldMs };
    }
    return null;
  }

  /** The hold reached long_press_ms by the wall clock: a long press, once. */
  holdTimeout(): { kind: "long"; heldMs: number } | null {
    if (!this.pressed || this.longSent) return null;
    this.longSent = true;
    return { kind: "long", heldMs: this.longPressMs };
  }

  /** Marks the current press as already reported long (when reported on release). */
  markLong(): void {
    this.longSent = true;
  }
}

/** libgpiod major version from `gpiomon --version` output (`gpiomon (libgpiod) v1.6.3`); 0 if unknown. */
export function parseGpiomonVersion(text: string): number {
  const m = /\bv(\d+)\.\d+/.exec(text);
  return m ? Number(m[1]) : 0;
}

/** gpiomon arguments for a libgpiod major version. */
export function gpiomonArgs(major: number, s: GpioConfig): string[] {
  const low = s.active_low ? ["-l"] : [];
  if (major >= 2) return [...low, "-e", "both", "-c", s.chip, String(s.save_line)];
  // 1.x: -b = line-buffered stdout (it is a pipe here); chip and offset are positional
  return ["-b", ...low, s.chip, String(s.save_line)];
}

/** A one-line reason for a gpiomon exit, from its stderr and exit code. */
export function describeGpiomonFailure(stderr: string, code: number | null, s: GpioConfig): string {
  const last = stderr.trim().split("\n").filter(Boolean).pop()?.trim() ?? "";
  const detail = last ? ` (${last.slice(0, 200)})` : "";
  if (/cannot find GPIO chip|unable to open chip|No such file or directory|No such device/i.test(stderr))
    return `GPIO chip "${s.chip}" not found${detail}`;
  if (/Permission denied|Operation not permitted/i.test(stderr))
    return `no permission to open GPIO chip "${s.chip}": add the service user to the gpio group${detail}`;
  if (/Device or resource busy|busy/i.test(stderr)) return `GPIO line ${s.save_line} on "${s.chip}" is used by another program${detail}`;
  if (/offset \d+ is out of range|Invalid argument|cannot find line/i.test(stderr)) return `GPIO line ${s.save_line} does not exist on "${s.chip}"${detail}`;
  return `gpiomon exited with code ${code}${detail}`;
}

/** Where gpiomon is: env GPIOMON, else PATH. Null when neither has it. */
export function findGpiomon(env: Record<string, string | undefined> = process.env): string | null {
  if (env.GPIOMON) return env.GPIOMON;
  return Bun.which("gpiomon", { PATH: env.PATH ?? "" });
}

export interface GpioDeps {
  /** Database for the event log (optional: tests of the parser may run without one). */
  db?: Database | null;
  /** Environment used to find gpiomon (default process.env). */
  env?: Record<string, string | undefined>;
  /** Wait before starting gpiomon again after it exited (ms, default 60 000). */
  retryMs?: number;
  /** gpiomon alive this long without complaint = ready (ms, default 1000). */
  readyAfterMs?: number;
  /** Deadline of `gpiomon --version` (ms, default PROBE_TIMEOUT_MS); a wedged tool is retried later. */
  probeTimeoutMs?: number;
}

/** Deadline of `gpiomon --version`, ms: it answers at once unless the tool or its driver is stuck. */
export const PROBE_TIMEOUT_MS = 5000;

export const READY_AFTER_MS = 1000;

/**
 * The GPIO button actor logic. Input: the `[gpio]` settings. Sends GpioEvent to its parent.
 * Stopping the actor kills gpiomon.
 */
export function createGpioButton(deps: GpioDeps = {}) {
  return fromCallback<{ type: string }, GpioConfig>(({ input, sendBack }) => {
    const s = input;
    const env = deps.env ?? process.env;
    const retryMs = deps.retryMs ?? 60_000;
    const readyAfterMs = deps.readyAfterMs ?? READY_AFTER_MS;
    const probeTimeoutMs = deps.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
    let stopped = false;
    let proc: ReturnType<typeof Bun.spawn> | null = null;
    const timers = new Set<ReturnType<typeof setTimeout>>();
    let lastLogged: string | null = null;
    let status: GpioStatus | null = null;

    const later = (ms: number, fn: () => void) => {
      const t = setTimeout(() => {
        timers.delete(t);
        if (!stopped) fn();
      }, ms);
      timers.add(t);
      return t;
    };
    const report = (next: GpioStatus, reason: string | null) => {
      if (stopped || (status === next && next !== "unavailable")) return;
      status = next;
      sendBack({ type: "GPIO.STATUS", status: next, reason, at: Date.now() } satisfies GpioEvent);
      if (next === "unavailable" && reason && reason !== lastLogged) {
        lastLogged = reason;
        log.warn(`gpio: ${reason}`);
        try {
          deps.db && logEvent(deps.db, { kind: "gpio.unavailable", level: "error", message: `save button unavailable: ${reason}`, data: { chip: s.chip, line: s.save_line } });
        } catch (err) {
          log.warn(`gpio: cannot write the event log: ${(err as Error).message}`);
        }
      }
      if (next === "ready") {
        lastLogged = null;
        try {
          deps.db && logEvent(deps.db, { kind: "gpio.ready", message: `save button ready on ${s.chip} line ${s.save_line}`, data: { chip: s.chip, line: s.save_line } });
        } catch {
          /* logged elsewhere */
        }
      }
    };

    const decoder = new ButtonDecoder(s.debounce_ms, s.long_press_ms);
    let pressWall = 0;
    let longTimer: ReturnType<typeof setTimeout> | null = null;
    const emit = (type: "SAVE" | "INCIDENT", at: number, heldMs: number) => {
      sendBack({ type, at, source: "button" } satisfies GpioEvent);
      try {
        deps.db &&
          logEvent(deps.db, {
            kind: "gpio.button",
            message: `button ${type === "SAVE" ? "short press: save trip" : "long press: incident clip"} (held ${Math.round(heldMs)} ms)`,
            data: { action: type, heldMs: Math.round(heldMs), at },
          });
      } catch {
        /* the event itself went out */
      }
    };
    const onEdge = (e: GpioEdge) => {
      if (e.offset !== null && e.offset !== s.save_line) return;
      const action = decoder.edge(e);
      if (!action) return;
      if (action.kind === "press") {
        pressWall = Date.now();
        if (longTimer) clearTimeout(longTimer);
        longTimer = later(s.long_press_ms, () => {
          const a = decoder.holdTimeout();
          if (a) emit("INCIDENT", pressWall, a.heldMs);
        });
        return;
      }
      if (longTimer) {
        clearTimeout(longTimer);
        timers.delete(longTimer);
        longTimer = null;
      }
      // released now: the press happened heldMs ago (gpiomon's clock measures the hold)
      const at = Math.min(pressWall, Date.now() - action.heldMs);
      if (action.kind === "short") emit("SAVE", at, action.heldMs);
      else {
        decoder.markLong();
        emit("INCIDENT", at, action.heldMs);
      }
    };

    const start = async () => {
      if (stopped) return;
      const bin = findGpiomon(env);
      if (!bin) {
        report("unavailable", "gpiomon not found: install the Debian package gpiod (or set GPIOMON to its path)");
        return; // no retry: needs an install and a restart
      }
      let major = 1;
      try {
        const v = await probeCommand([bin, "--version"], { timeoutMs: probeTimeoutMs, env });
        if (stopped) return;
        if (v.timedOut) {
          report("unavailable", `${bin} --version did not answer within ${probeTimeoutMs / 1000} s (gpiomon or the GPIO driver is stuck)`);
          later(retryMs, start);
          return;
        }
        major = parseGpiomonVersion(v.stdout + v.stderr) || 1;
      } catch (err) {
        report("unavailable", `cannot run ${bin}: ${(err as Error).message}`);
        later(retryMs, start);
        return;
      }
      report("starting", null);
      let child: ReturnType<typeof Bun.spawn>;
      try {
        child = Bun.spawn([bin, ...gpiomonArgs(major, s)], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: env as Record<string, string> });
      } catch (err) {
        report("unavailable", `cannot run ${bin}: ${(err as Error).message}`);
        later(retryMs, start);
        return;
      }
      proc = child;
      const readyTimer = later(readyAfterMs, () => proc === child && report("ready", null));
      const stdout = (async () => {
        const decoderText = new TextDecoder();
        let buf = "";
        for await (const chunk of child.stdout as ReadableStream<Uint8Array>) {
          buf += decoderText.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (stopped) continue;
            const edge = parseGpiomonLine(line);
            if (edge) {
              report("ready", null);
              onEdge(edge);
            } else if (/Monitoring line/.test(line)) report("ready", null);
          }
        }
      })();
      const stderr = new Response(child.stderr as ReadableStream<Uint8Array>).text();
      void (async () => {
        const [code, , err] = await Promise.all([child.exited, stdout.catch(() => {}), stderr.catch(() => "")]);
        clearTimeout(readyTimer);
        timers.delete(readyTimer);
        if (proc === child) proc = null;
        if (stopped) return;
        report("unavailable", describeGpiomonFailure(err, code, s));
        later(retryMs, start);
      })();
    };

    void start();
    return () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      proc?.kill("SIGTERM");
      proc = null;
    };
  });
}
