/**
 * Child processes for end-to-end tests: every process runs in its own process group
 * (`detached: true` = setsid) so a test can stop it together with everything it spawned
 * (ffmpeg children included), the way a power cut would. Output is collected line by line.
 *
 * Every started process is remembered; `killAllStarted()` (also run on process exit) sends
 * SIGKILL to the group of each one still alive, so a failing test never leaves ffmpeg or an
 * RTSP server running.
 */
import type { Subprocess } from "bun";
import { readdirSync, readFileSync } from "node:fs";

export interface Proc {
  /** Pid of the process (= its process group id). */
  pid: number;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Every complete stdout line so far. */
  stdout: string[];
  /** Every complete stderr line so far. */
  stderr: string[];
  /** Resolves with the exit code (or 128 + signal number) when the process ends. */
  exited: Promise<number>;
  /** Waits until a stdout/stderr line matches `re`; rejects on exit or after `timeoutMs`. */
  waitForLine(re: RegExp, timeoutMs: number, stream?: "stdout" | "stderr" | "both"): Promise<RegExpExecArray>;
  /** Sends `signal` to the whole process group (the process and its children). */
  signalGroup(signal: NodeJS.Signals): void;
  /** Sends `signal` to this process only. */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM to the group, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number>;
  alive(): boolean;
}

const started = new Set<Proc>();

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/**
 * Spawns `cmd` detached in a new process group with stdout/stderr piped and split into lines.
 * `onLine` sees every line as it arrives (for logging). Never throws on a non-zero exit.
 */
export function spawnProc(
  cmd: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; onLine?: (stream: "stdout" | "stderr", line: string) => void } = {},
): Proc {
  const proc = Bun.spawn({
    cmd,
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env } as Record<string, string>,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<{ re: RegExp; stream: string; resolve: (m: RegExpExecArray) => void }>();
  let done = false;

  const pump = async (stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr", out: string[]) => {
    const decoder = new TextDecoder();
    let buf = "";
    const push = (line: string) => {
      out.push(line);
      opts.onLine?.(name, line);
      for (const w of waiters) {
        if (w.stream !== "both" && w.stream !== name) continue;
        const m = w.re.exec(line);
        if (m) {
          waiters.delete(w);
          w.resolve(m);
        }
      }
    };
    try {
      const reader = stream.getReader();
      for (;;) {
        const { done: end, value: chunk } = await reader.read();
        if (end) break;
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          push(buf.slice(0, nl).replace(/\r$/, ""));
          buf = buf.slice(nl + 1);
        }
      }
    } catch {
      /* stream closed */
    }
    if (buf.length) push(buf);
  };
  const pumps = Promise.all([pump(proc.stdout, "stdout", stdout), pump(proc.stderr, "stderr", stderr)]);
  const exited = proc.exited.then(async (code) => {
    await pumps;
    done = true;
    started.delete(self);
    const sig = proc.signalCode ? SIGNALS[proc.signalCode] ?? 0 : 0;
    return code ?? 128 + sig;
  });

  const self: Proc = {
    pid: proc.pid,
    proc,
    stdout,
    stderr,
    exited,
    waitForLine(re, timeoutMs, stream = "both") {
      const lines = stream === "stdout" ? stdout : stream === "stderr" ? stderr : [...stdout, ...stderr];
      for (const l of lines) {
        const m = re.exec(l);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const w = { re, stream, resolve: (m: RegExpExecArray) => (clearTimeout(t), resolve(m)) };
        const t = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} from ${cmd.join(" ")}\n--- stdout:\n${stdout.slice(-20).join("\n")}\n--- stderr:\n${stderr.slice(-20).join("\n")}`));
        }, timeoutMs);
        waiters.add(w);
        exited.then((code) => {
          if (!waiters.has(w)) return;
          waiters.delete(w);
          clearTimeout(t);
          reject(new Error(`${cmd.join(" ")} exited (${code}) before printing ${re}\n--- stdout:\n${stdout.slice(-20).join("\n")}\n--- stderr:\n${stderr.slice(-20).join("\n")}`));
        });
      });
    },
    signalGroup(signal) {
      if (done) return;
      // The runtime starts ffmpeg in its own session (src/actors/recorder.ts), outside this
      // group: its descendants are signalled first, then the group.
      for (const pid of descendants(proc.pid)) {
        try {
          process.kill(pid, signal);
        } catch {
          /* gone */
        }
      }
      try {
        process.kill(-proc.pid, signal);
      } catch {
        /* already gone */
      }
    },
    signal(signal) {
      if (done) return;
      try {
        process.kill(proc.pid, signal);
      } catch {
        /* already gone */
      }
    },
    async stop(graceMs = 10_000) {
      if (done) return exited;
      self.signalGroup("SIGTERM");
      const t = setTimeout(() => self.signalGroup("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(t);
      // children that outlived their parent in the same group
      try {
        process.kill(-proc.pid, "SIGKILL");
      } catch {
        /* group empty */
      }
      return code;
    },
    alive: () => !done,
  };
  started.add(self);
  return self;
}

/** SIGKILLs the process tree and group of every process started by `spawnProc` that is still alive. */
export function killAllStarted(): void {
  for (const p of started) {
    for (const pid of descendants(p.pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    try {
      process.kill(-p.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

/** Pids of the live descendants of `root` (children, their children, ...), from the ppid in /proc/PID/stat. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (rest[0] === "Z") continue;
      const ppid = Number(rest[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}
process.on("exit", killAllStarted);

/**
 * Pids of live processes whose command line contains `marker` (e.g. a unique temp dir).
 * Used to find ffmpeg children that outlived a killed runtime.
 */
export function pidsWithArg(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (state !== "Z" && cmdline.includes(marker)) out.push(pid);
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** SIGKILLs every live process whose command line contains `marker`; returns their pids. */
export function killWithArg(marker: string): number[] {
  const pids = pidsWithArg(marker);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  return pids;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `fn` every `intervalMs` until it returns a truthy value (returned) or `timeoutMs`
 * passes (throws with `what` and the last value). Not a timing assertion: the deadline only
 * bounds how long a test waits for something that must eventually happen.
 */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs: number, intervalMs = 250): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  for (;;) {
    try {
      last = await fn();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline)
      throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}; last value ${JSON.stringify(last)}${lastErr ? `; last error ${lastErr}` : ""}`);
    await sleep(intervalMs);
  }
}

/** A free TCP port on 127.0.0.1 (bound then released; a tiny race is accepted). */
export function freeTcpPort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

/** Seeded PRNG (mulberry32) so random schedules are reproducible from a printed seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
