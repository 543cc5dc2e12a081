/**
 * Runs a short external command to learn something (a tool's version, whether an option works)
 * without ever blocking the event loop: asynchronous, with a deadline. A probe that does not
 * finish within `timeoutMs` is killed with its whole process group (a shell wrapper's children
 * too, which could otherwise keep the output pipes open) and reported as `timedOut`.
 *
 * Throws only what `Bun.spawn` throws synchronously (e.g. the program does not exist).
 */

export interface CommandProbeResult {
  /** Exit code; null when killed (timed out or by a signal). */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface CommandProbeOptions {
  /** Deadline, ms from the start. */
  timeoutMs: number;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** How long output is still read after the process ended (a grandchild may hold the pipe), ms. */
const DRAIN_MS = 200;

/** Reads a stream as text until it ends or `drain()` gives up on it. */
function collect(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const done = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } catch {
      /* cancelled */
    }
  })();
  return {
    async drain(ms: number): Promise<string> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([done, new Promise((res) => (timer = setTimeout(res, ms)))]);
      clearTimeout(timer);
      await reader.cancel().catch(() => {});
      return text + decoder.decode();
    },
  };
}

/** Runs `argv` (stdin closed) and resolves with its output; see the module comment. */
export async function probeCommand(argv: string[], options: CommandProbeOptions): Promise<CommandProbeResult> {
  const proc = Bun.spawn(argv, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: options.env as Record<string, string> | undefined,
    cwd: options.cwd,
    detached: true, // its own process group, so the deadline can kill all of it
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {
      proc.kill("SIGKILL");
    }
  }, options.timeoutMs);
  const out = collect(proc.stdout);
  const err = collect(proc.stderr);
  const code = await proc.exited;
  clearTimeout(timer);
  const [stdout, stderr] = await Promise.all([out.drain(DRAIN_MS), err.drain(DRAIN_MS)]);
  return { exitCode: timedOut || proc.signalCode ? null : code, stdout, stderr, timedOut };
}
