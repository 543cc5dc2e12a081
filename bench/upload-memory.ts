/**
 * Bench: runtime memory while anonymous clients push large request bodies at `/login` (no
 * session, no CSRF token: the kind of request the body limits refuse before anything reads it).
 * Starts `dashcam run` with no camera on a loopback port, then sends BENCH_CLIENTS (default 4)
 * concurrent multipart POSTs declaring BENCH_MB (default 100) MB each, plus as many chunked
 * ones without Content-Length, each pushing data as fast as the socket takes it until the
 * server answers. Prints the runtime's VmRSS and peak (VmHWM) before and its peak after, each answer's
 * status and how many body bytes the server took before it. Prints numbers, asserts nothing.
 */
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { BUN, MAIN, ROOT, makeTempDir, removeDir, terminate, writeConfig } from "../test/helpers/runtime.ts";
import { freeTcpPort, killAllStarted, spawnProc } from "../test/helpers/proc.ts";

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const MB = Number(process.env.BENCH_MB ?? 100);

const statusKb = (pid: number, key: "VmRSS" | "VmHWM") => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);

/** One POST: headers, then body chunks until the server answers or `total` bytes went out. */
function push(port: number, chunked: boolean, total: number): Promise<{ status: string; sent: number }> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    const block = Buffer.alloc(256 * 1024, 0x41);
    const frame = chunked ? Buffer.concat([Buffer.from(`${block.length.toString(16)}\r\n`), block, Buffer.from("\r\n")]) : block;
    let sent = 0;
    let answer = "";
    const done = () => {
      sock.destroy();
      resolve({ status: /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? "no answer", sent });
    };
    sock.on("data", (d) => {
      answer += d.toString("latin1");
      if (answer.includes("\r\n")) done();
    });
    sock.on("error", done);
    sock.on("close", done);
    sock.on("connect", () => {
      const head = chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${total}`;
      sock.write(`POST /login HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: multipart/form-data; boundary=x\r\n${head}\r\n\r\n`);
      const pump = () => {
        while (!answer && sent < total) {
          sent += block.length;
          if (!sock.write(frame)) return void sock.once("drain", pump);
        }
      };
      pump();
    });
  });
}

const dir = makeTempDir("dashcam-bench-upload-");
try {
  const port = freeTcpPort();
  const config = writeConfig(dir, { data_dir: join(dir, "data"), listen: `127.0.0.1:${port}`, cameras: [] });
  const proc = spawnProc([BUN, MAIN, "run", "--config", config], { cwd: ROOT, env: { NO_COLOR: "1" } });
  await proc.waitForLine(/listening on/, 30_000, "stdout");
  const before = statusKb(proc.pid, "VmRSS");
  const hwmBefore = statusKb(proc.pid, "VmHWM");
  const t0 = performance.now();
  const results = await Promise.all([
    ...Array.from({ length: CLIENTS }, () => push(port, false, MB * 1024 * 1024)),
    ...Array.from({ length: CLIENTS }, () => push(port, true, MB * 1024 * 1024)),
  ]);
  const ms = performance.now() - t0;
  const peak = statusKb(proc.pid, "VmHWM");
  console.log(
    `runtime RSS before: ${(before / 1024).toFixed(1)} MB (peak so far ${(hwmBefore / 1024).toFixed(1)} MB); ` +
      `peak after ${CLIENTS}+${CLIENTS} anonymous ${MB} MB POSTs: ${(peak / 1024).toFixed(1)} MB`,
  );
  results.forEach((r, i) =>
    console.log(`  ${i < CLIENTS ? "Content-Length" : "chunked       "} #${i % CLIENTS}: ${r.status} after ${(r.sent / 1024).toFixed(0)} KiB sent`),
  );
  console.log(`all answered in ${ms.toFixed(0)} ms`);
  await terminate(proc);
} finally {
  killAllStarted();
  removeDir(dir);
}
